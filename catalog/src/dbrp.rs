//! v1 database + retention policy → bucket: resolution in the spec's order (`resolve_v1`) and
//! the explicit mappings.

use crate::buckets::now_ns;
use crate::state::{State, StoredDbrp};
use crate::{validate_part, Bucket, BucketId, Catalog, CatalogError, Dbrp, DbrpId, Record, Result};

/// Default retention policy name of v1.
pub const DEFAULT_RP: &str = "autogen";

impl State {
    fn stored_dbrp(&self, id: DbrpId, d: &StoredDbrp) -> Dbrp {
        Dbrp {
            id: Some(id),
            database: d.database.clone(),
            retention_policy: d.retention_policy.clone(),
            bucket: d.bucket,
            default: d.default,
            is_virtual: false,
        }
    }

    /// The default retention policy of `db`: a default mapping's, else `autogen`.
    fn default_rp(&self, db: &str) -> String {
        self.dbrps
            .values()
            .find(|d| d.database == db && d.default)
            .map_or_else(|| DEFAULT_RP.to_owned(), |d| d.retention_policy.clone())
    }

    /// Steps 1–3 of v1 resolution.
    fn resolve(&self, db: &str, rp: &str) -> Option<BucketId> {
        if let Some(d) = self
            .dbrps
            .values()
            .find(|d| d.database == db && d.retention_policy == rp)
        {
            return Some(d.bucket);
        }
        if let Some(id) = self.by_name.get(&format!("{db}/{rp}")) {
            return Some(*id);
        }
        if rp == DEFAULT_RP {
            return self.by_name.get(db).copied();
        }
        None
    }

    /// Whether anything (a mapping or a bucket named `db` or `db/…`) serves database `db`.
    fn knows_database(&self, db: &str) -> bool {
        self.dbrps.values().any(|d| d.database == db)
            || self.by_name.contains_key(db)
            || self
                .by_name
                .keys()
                .any(|n| n.split_once('/').is_some_and(|(d, _)| d == db))
    }

    /// Every mapping, stored and virtual, sorted by database then retention policy.
    fn all_dbrps(&self) -> Vec<Dbrp> {
        let mut out: Vec<Dbrp> = self
            .dbrps
            .iter()
            .map(|(id, d)| self.stored_dbrp(*id, d))
            .collect();
        for b in self.buckets.values() {
            let (db, rp) = match b.name.split_once('/') {
                Some((db, rp)) => (db.to_owned(), rp.to_owned()),
                None => (b.name.clone(), DEFAULT_RP.to_owned()),
            };
            if out
                .iter()
                .any(|d| d.database == db && d.retention_policy == rp)
            {
                continue;
            }
            let default = !self.dbrps.values().any(|d| d.database == db && d.default)
                && rp == self.default_rp(&db);
            out.push(Dbrp {
                id: None,
                database: db,
                retention_policy: rp,
                bucket: b.id,
                default,
                is_virtual: true,
            });
        }
        out.sort_by(|a, b| {
            (&a.database, &a.retention_policy).cmp(&(&b.database, &b.retention_policy))
        });
        out
    }
}

impl Catalog {
    /// Resolves a v1 database + retention policy to a bucket, in the spec's order:
    ///
    /// 1. an explicit mapping for (db, rp);
    /// 2. a bucket named `db/rp`;
    /// 3. for the default retention policy `autogen`, a bucket named `db`;
    /// 4. if `may_create`, a new bucket `db/rp` and its mapping (the database's default if it is
    ///    its first);
    /// 5. otherwise [`CatalogError::RetentionPolicyNotFound`] when the database is known, else
    ///    [`CatalogError::DatabaseNotFound`].
    ///
    /// An empty `rp` means the database's default. Creation is race-free: concurrent first
    /// writes create one bucket and one mapping.
    pub async fn resolve_v1(&self, db: &str, rp: &str, may_create: bool) -> Result<Bucket> {
        validate_part(db)?;
        let rp = if rp.is_empty() {
            self.state.read().default_rp(db)
        } else {
            rp.to_owned()
        };
        validate_part(&rp)?;
        if let Some(b) = self.resolved(db, &rp) {
            return Ok(b);
        }
        if !may_create {
            return Err(self.not_found(db, &rp));
        }
        let _guard = self.write_lock.lock().await;
        // Someone may have created it while we waited.
        if let Some(b) = self.resolved(db, &rp) {
            return Ok(b);
        }
        let id = BucketId(self.state.read().next_bucket.max(1));
        let name = format!("{db}/{rp}");
        self.commit(Record::CreateBucket {
            id,
            name: name.clone(),
            retention_ns: None,
            created_ns: Some(now_ns()),
        })
        .await?;
        let first = !self.state.read().dbrps.values().any(|d| d.database == db);
        let dbrp = DbrpId(self.state.read().next_dbrp.max(1));
        self.commit(Record::CreateDbrp {
            id: dbrp,
            database: db.to_owned(),
            retention_policy: rp.clone(),
            bucket: id,
            default: first,
        })
        .await?;
        tracing::info!(bucket = %name, id = %id, "created bucket and DBRP mapping on first write");
        self.bucket(id).ok_or_else(|| self.not_found(db, &rp))
    }

    fn resolved(&self, db: &str, rp: &str) -> Option<Bucket> {
        let state = self.state.read();
        let id = state.resolve(db, rp)?;
        state.buckets.get(&id).cloned()
    }

    fn not_found(&self, db: &str, rp: &str) -> CatalogError {
        if self.state.read().knows_database(db) {
            CatalogError::RetentionPolicyNotFound { rp: rp.to_owned() }
        } else {
            CatalogError::DatabaseNotFound { db: db.to_owned() }
        }
    }

    /// Every DBRP mapping, stored and virtual.
    pub fn dbrps(&self) -> Vec<Dbrp> {
        self.state.read().all_dbrps()
    }

    /// Creates an explicit mapping. Fails if (db, rp) is already mapped explicitly.
    pub async fn create_dbrp(
        &self,
        database: &str,
        retention_policy: &str,
        bucket: BucketId,
        default: bool,
    ) -> Result<Dbrp> {
        validate_part(database)?;
        validate_part(retention_policy)?;
        let _guard = self.write_lock.lock().await;
        if self.bucket(bucket).is_none() {
            return Err(CatalogError::NotFound {
                kind: "bucket",
                id: bucket.to_string(),
            });
        }
        if self
            .state
            .read()
            .dbrps
            .values()
            .any(|d| d.database == database && d.retention_policy == retention_policy)
        {
            return Err(CatalogError::Conflict(format!(
                "a mapping for database {database:?} and retention policy {retention_policy:?} already exists"
            )));
        }
        let first = !self
            .state
            .read()
            .dbrps
            .values()
            .any(|d| d.database == database);
        let id = DbrpId(self.state.read().next_dbrp.max(1));
        self.commit(Record::CreateDbrp {
            id,
            database: database.to_owned(),
            retention_policy: retention_policy.to_owned(),
            bucket,
            default: default || first,
        })
        .await?;
        self.dbrp(id)
    }

    fn dbrp(&self, id: DbrpId) -> Result<Dbrp> {
        let state = self.state.read();
        state
            .dbrps
            .get(&id)
            .map(|d| state.stored_dbrp(id, d))
            .ok_or(CatalogError::NotFound {
                kind: "dbrp",
                id: id.to_string(),
            })
    }

    /// Makes a mapping its database's default (or not).
    pub async fn set_dbrp_default(&self, id: DbrpId, default: bool) -> Result<Dbrp> {
        let _guard = self.write_lock.lock().await;
        self.dbrp(id)?;
        self.commit(Record::SetDbrpDefault { id, default }).await?;
        self.dbrp(id)
    }

    /// Deletes a mapping (not its bucket).
    pub async fn delete_dbrp(&self, id: DbrpId) -> Result<()> {
        let _guard = self.write_lock.lock().await;
        self.dbrp(id)?;
        self.commit(Record::DeleteDbrp { id }).await
    }
}
