//! `catalog` owns every name and id in Strata: buckets, and per-measurement schemas (which column
//! is a tag, which field has which type). It persists them through `object_store` as an
//! append-only log of versioned, checksummed records.
//!
//! It is not: a store of points (that is `engine`), an HTTP layer, or a query planner.
//!
//! # Overview
//! - [`Catalog::open`] replays the record log under `catalog/log/` and serves lookups from memory.
//! - [`Catalog::resolve_bucket_for_write`] maps a v1 database + retention policy to a bucket,
//!   creating `db/rp` on first use.
//! - [`Catalog::table`] returns a measurement's [`TableSchema`] (cheap `Arc` clone) for write-path
//!   validation; [`Catalog::add_columns`] extends it durably, first type wins.
//! - Every change is one record file written with a create-only put: a second process on the same
//!   data dir fails on its first change instead of interleaving with ours.
#![deny(missing_docs)]

pub mod influxql;
mod record;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

pub use record::{Record, Snapshot, SnapshotTable, RECORD_VERSION};

/// Errors of the catalog. Client faults (bad names, conflicts) and server faults (storage,
/// corruption) are separate variants so the HTTP layer can map them without guessing.
///
/// Deliberately not `#[non_exhaustive]`: the server's status mapping matches it exhaustively, so
/// a new variant cannot compile until someone decides its status code.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// A database, retention policy or bucket name breaks a naming rule.
    #[error("invalid name {name:?}: {rule}")]
    InvalidName {
        /// The offending name.
        name: String,
        /// The rule it breaks.
        rule: &'static str,
    },
    /// No bucket or mapping serves this v1 database, and the caller may not create one.
    #[error("database not found: {db:?}")]
    DatabaseNotFound {
        /// The database.
        db: String,
    },
    /// The database is known but not this retention policy.
    #[error("retention policy not found: {rp}")]
    RetentionPolicyNotFound {
        /// The retention policy.
        rp: String,
    },
    /// A bucket, mapping or token id that does not exist.
    #[error("{kind} not found: {id}")]
    NotFound {
        /// What was looked for.
        kind: &'static str,
        /// Its id or name.
        id: String,
    },
    /// The request conflicts with what exists (e.g. a mapping for that db/rp already exists).
    #[error("{0}")]
    Conflict(String),
    /// The object store failed.
    #[error("catalog storage error: {0}")]
    Storage(#[from] object_store::Error),
    /// A record file is damaged; the catalog refuses to guess.
    #[error("catalog record {path} is corrupt: {reason}")]
    Corrupt {
        /// The record's path.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Another process appended to the catalog log of this data dir.
    #[error(
        "catalog record {path} already exists: is another strata process using this data dir?"
    )]
    ConcurrentWriter {
        /// The record path that was taken.
        path: String,
    },
}

/// Crate result type.
pub type Result<T, E = CatalogError> = std::result::Result<T, E>;

/// A bucket's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BucketId(pub u64);

impl fmt::Display for BucketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // InfluxDB ids are 16 hex digits; keep the habit.
        write!(f, "{:016x}", self.0)
    }
}

/// A DBRP mapping's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DbrpId(pub u64);

impl fmt::Display for DbrpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// A token's id (not the token itself, which is never stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TokenId(pub u64);

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Permission {
    /// Everything: read and write every bucket, create buckets, mappings and tokens.
    All,
    /// Read one bucket.
    Read(BucketId),
    /// Write one bucket.
    Write(BucketId),
}

/// A token as the catalog knows it: never the secret, only who it is and what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// Id.
    pub id: TokenId,
    /// What it is for.
    pub description: String,
    /// What it may do.
    pub permissions: Vec<Permission>,
}

impl Token {
    /// Whether it may do everything (create buckets and mappings on the fly, manage tokens).
    pub fn is_operator(&self) -> bool {
        self.permissions.contains(&Permission::All)
    }

    /// Whether it may write to `bucket`.
    pub fn can_write(&self, bucket: BucketId) -> bool {
        self.is_operator() || self.permissions.contains(&Permission::Write(bucket))
    }

    /// Whether it may read `bucket`.
    pub fn can_read(&self, bucket: BucketId) -> bool {
        self.is_operator()
            || self.permissions.contains(&Permission::Read(bucket))
            || self.permissions.contains(&Permission::Write(bucket))
    }
}

/// A v1 database + retention policy → bucket mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dbrp {
    /// Id (virtual mappings have none).
    pub id: Option<DbrpId>,
    /// v1 database.
    pub database: String,
    /// v1 retention policy.
    pub retention_policy: String,
    /// Target bucket.
    pub bucket: BucketId,
    /// Whether it is the database's default retention policy.
    pub default: bool,
    /// True for a mapping implied by a bucket's name (`db/rp`, or `db` for `autogen`) rather
    /// than stored.
    pub is_virtual: bool,
}

/// A bucket: where points live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    /// Id.
    pub id: BucketId,
    /// Name, e.g. `telegraf/autogen`.
    pub name: String,
    /// Retention period in nanoseconds; `None` keeps data forever.
    pub retention_ns: Option<i64>,
    /// When it was created (ns since the epoch); `None` for buckets of builds that did not
    /// record it.
    pub created_ns: Option<i64>,
}

/// The type of a field column; fixed by the first write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FieldType {
    /// f64
    Float,
    /// i64
    Integer,
    /// u64
    Unsigned,
    /// UTF-8 string
    String,
    /// bool
    Boolean,
}

impl FieldType {
    /// The name InfluxDB 1.x uses in error messages.
    pub fn name(self) -> &'static str {
        match self {
            FieldType::Float => "float",
            FieldType::Integer => "integer",
            FieldType::Unsigned => "unsigned",
            FieldType::String => "string",
            FieldType::Boolean => "boolean",
        }
    }
}

/// What a column of a measurement is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ColumnType {
    /// A tag (dictionary-encoded string).
    Tag,
    /// A field of a fixed type.
    Field(FieldType),
}

/// A measurement's columns (besides `time`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableSchema {
    columns: BTreeMap<String, ColumnType>,
}

impl TableSchema {
    /// The column's type, if it exists.
    pub fn column(&self, name: &str) -> Option<ColumnType> {
        self.columns.get(name).copied()
    }

    /// All columns by name.
    pub fn columns(&self) -> impl Iterator<Item = (&str, ColumnType)> {
        self.columns.iter().map(|(k, v)| (k.as_str(), *v))
    }
}

#[derive(Debug)]
struct StoredDbrp {
    database: String,
    retention_policy: String,
    bucket: BucketId,
    default: bool,
}

#[derive(Debug, Default)]
struct State {
    buckets: BTreeMap<BucketId, Bucket>,
    by_name: HashMap<String, BucketId>,
    tables: HashMap<(BucketId, String), Arc<TableSchema>>,
    dbrps: BTreeMap<DbrpId, StoredDbrp>,
    tokens: BTreeMap<TokenId, Token>,
    token_hashes: HashMap<String, TokenId>,
    pepper: Option<Vec<u8>>,
    next_bucket: u64,
    next_dbrp: u64,
    next_token: u64,
    next_record: u64,
}

impl State {
    fn apply(&mut self, record: Record) {
        match record {
            Record::CreateBucket {
                id,
                name,
                retention_ns,
                created_ns,
            } => {
                self.next_bucket = self.next_bucket.max(id.0 + 1);
                self.by_name.insert(name.clone(), id);
                self.buckets.insert(
                    id,
                    Bucket {
                        id,
                        name,
                        retention_ns,
                        created_ns,
                    },
                );
            }
            Record::AddColumns {
                bucket,
                measurement,
                columns,
            } => {
                let table = self.tables.entry((bucket, measurement)).or_default();
                let mut schema = TableSchema::clone(table);
                for (name, ty) in columns {
                    schema.columns.entry(name).or_insert(ty);
                }
                *table = Arc::new(schema);
            }
            Record::Init { pepper } => {
                self.pepper = decode_hex(&pepper);
            }
            Record::UpdateBucket { id, retention_ns } => {
                if let Some(b) = self.buckets.get_mut(&id) {
                    b.retention_ns = retention_ns;
                }
            }
            Record::DeleteBucket { id } => {
                if let Some(b) = self.buckets.remove(&id) {
                    self.by_name.remove(&b.name);
                }
                self.tables.retain(|(bucket, _), _| *bucket != id);
                self.dbrps.retain(|_, d| d.bucket != id);
            }
            Record::CreateDbrp {
                id,
                database,
                retention_policy,
                bucket,
                default,
            } => {
                self.next_dbrp = self.next_dbrp.max(id.0 + 1);
                if default {
                    self.clear_defaults(&database);
                }
                self.dbrps.insert(
                    id,
                    StoredDbrp {
                        database,
                        retention_policy,
                        bucket,
                        default,
                    },
                );
            }
            Record::SetDbrpDefault { id, default } => {
                let db = self.dbrps.get(&id).map(|d| d.database.clone());
                if let (Some(db), true) = (db, default) {
                    self.clear_defaults(&db);
                }
                if let Some(d) = self.dbrps.get_mut(&id) {
                    d.default = default;
                }
            }
            Record::DeleteDbrp { id } => {
                self.dbrps.remove(&id);
            }
            Record::CreateToken {
                id,
                description,
                permissions,
                hash,
            } => {
                self.next_token = self.next_token.max(id.0 + 1);
                self.token_hashes.insert(hash, id);
                self.tokens.insert(
                    id,
                    Token {
                        id,
                        description,
                        permissions,
                    },
                );
            }
            Record::DeleteToken { id } => {
                self.tokens.remove(&id);
                self.token_hashes.retain(|_, t| *t != id);
            }
        }
    }

    fn to_snapshot(&self, through: u64) -> Snapshot {
        let hash_of: HashMap<TokenId, &String> =
            self.token_hashes.iter().map(|(h, id)| (*id, h)).collect();
        Snapshot {
            through,
            pepper: self.pepper.as_deref().map(encode_hex),
            buckets: self
                .buckets
                .values()
                .map(|b| (b.id, b.name.clone(), b.retention_ns, b.created_ns))
                .collect(),
            dbrps: self
                .dbrps
                .iter()
                .map(|(id, d)| {
                    (
                        *id,
                        d.database.clone(),
                        d.retention_policy.clone(),
                        d.bucket,
                        d.default,
                    )
                })
                .collect(),
            tokens: self
                .tokens
                .values()
                .filter_map(|t| {
                    Some((
                        t.id,
                        t.description.clone(),
                        t.permissions.clone(),
                        (*hash_of.get(&t.id)?).clone(),
                    ))
                })
                .collect(),
            tables: self
                .tables
                .iter()
                .map(|((b, m), t)| {
                    (
                        *b,
                        m.clone(),
                        t.columns().map(|(n, ty)| (n.to_owned(), ty)).collect(),
                    )
                })
                .collect(),
            next: (self.next_bucket, self.next_dbrp, self.next_token),
        }
    }

    fn from_snapshot(s: Snapshot) -> State {
        let mut state = State {
            pepper: s.pepper.as_deref().and_then(decode_hex),
            next_bucket: s.next.0,
            next_dbrp: s.next.1,
            next_token: s.next.2,
            next_record: s.through + 1,
            ..State::default()
        };
        for (id, name, retention_ns, created_ns) in s.buckets {
            state.by_name.insert(name.clone(), id);
            state.buckets.insert(
                id,
                Bucket {
                    id,
                    name,
                    retention_ns,
                    created_ns,
                },
            );
        }
        for (id, database, retention_policy, bucket, default) in s.dbrps {
            state.dbrps.insert(
                id,
                StoredDbrp {
                    database,
                    retention_policy,
                    bucket,
                    default,
                },
            );
        }
        for (id, description, permissions, hash) in s.tokens {
            state.token_hashes.insert(hash, id);
            state.tokens.insert(
                id,
                Token {
                    id,
                    description,
                    permissions,
                },
            );
        }
        for (bucket, measurement, columns) in s.tables {
            state.tables.insert(
                (bucket, measurement),
                Arc::new(TableSchema {
                    columns: columns.into_iter().collect(),
                }),
            );
        }
        state
    }

    fn clear_defaults(&mut self, database: &str) {
        for d in self.dbrps.values_mut() {
            if d.database == database {
                d.default = false;
            }
        }
    }

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

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}

fn encode_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Configuration of the catalog.
#[derive(Debug, Clone)]
pub struct CatalogConfig {
    /// Prefix under which the catalog lives in the object store.
    pub prefix: Path,
    /// Write a snapshot (and drop the records it covers) every this many records.
    pub snapshot_every: u64,
}

/// The catalog. Cheap reads from memory; changes are serialised and persisted before they are
/// visible.
#[derive(Debug)]
pub struct Catalog {
    store: Arc<dyn ObjectStore>,
    log_prefix: Path,
    snapshot_prefix: Path,
    snapshot_every: u64,
    state: RwLock<State>,
    /// Serialises changes so record numbers are dense and each change sees the one before.
    write_lock: tokio::sync::Mutex<()>,
}

/// Default retention policy name of v1.
pub const DEFAULT_RP: &str = "autogen";

impl Catalog {
    /// Opens (or starts) the catalog under `config.prefix`, replaying its log.
    pub async fn open(store: Arc<dyn ObjectStore>, config: CatalogConfig) -> Result<Self> {
        let log_prefix = config.prefix.clone().join("log");
        let snapshot_prefix = config.prefix.clone().join("snapshot");
        let snapshot = record::read_latest_snapshot(store.as_ref(), &snapshot_prefix).await?;
        let after = snapshot.as_ref().map(|s| s.through);
        let mut state = snapshot.map(State::from_snapshot).unwrap_or_default();
        let records = record::read_log(store.as_ref(), &log_prefix, after).await?;
        let count = records.len();
        for (seq, rec) in records {
            state.next_record = seq + 1;
            state.apply(rec);
        }
        tracing::info!(
            snapshot_through = ?after,
            records = count,
            buckets = state.buckets.len(),
            "catalog loaded"
        );
        Ok(Catalog {
            store,
            log_prefix,
            snapshot_prefix,
            snapshot_every: config.snapshot_every.max(1),
            state: RwLock::new(state),
            write_lock: tokio::sync::Mutex::new(()),
        })
    }

    async fn commit(&self, record: Record) -> Result<()> {
        // Caller holds write_lock.
        let seq = self.state.read().next_record;
        let path = self
            .log_prefix
            .clone()
            .join(format!("{seq:020}.rec").as_str());
        let bytes = record::encode(&record);
        let opts = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        match self
            .store
            .put_opts(&path, PutPayload::from(bytes), opts)
            .await
        {
            Ok(_) => {}
            Err(object_store::Error::AlreadyExists { .. }) => {
                return Err(CatalogError::ConcurrentWriter {
                    path: path.to_string(),
                })
            }
            Err(e) => return Err(e.into()),
        }
        let snapshot = {
            let mut state = self.state.write();
            state.next_record = seq + 1;
            state.apply(record);
            (seq + 1)
                .is_multiple_of(self.snapshot_every)
                .then(|| state.to_snapshot(seq))
        };
        if let Some(snapshot) = snapshot {
            // Best effort: the log alone is complete, so a failed snapshot only costs start-up
            // time. The records it covers are deleted only once it is durable.
            if let Err(e) = self.write_snapshot(&snapshot).await {
                tracing::warn!(error = %e, "catalog snapshot failed; the log stays complete");
            }
        }
        Ok(())
    }

    async fn write_snapshot(&self, snapshot: &Snapshot) -> Result<()> {
        let path = self
            .snapshot_prefix
            .clone()
            .join(format!("{:020}.snap", snapshot.through).as_str());
        let opts = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        self.store
            .put_opts(&path, PutPayload::from(record::encode(snapshot)), opts)
            .await?;
        for seq in 0..=snapshot.through {
            let rec = self
                .log_prefix
                .clone()
                .join(format!("{seq:020}.rec").as_str());
            match self.store.delete(&rec).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        tracing::info!(through = snapshot.through, "catalog snapshot written");
        Ok(())
    }

    /// All buckets.
    pub fn buckets(&self) -> Vec<Bucket> {
        self.state.read().buckets.values().cloned().collect()
    }

    /// A bucket by id.
    pub fn bucket(&self, id: BucketId) -> Option<Bucket> {
        self.state.read().buckets.get(&id).cloned()
    }

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

    /// A bucket by name.
    pub fn bucket_by_name(&self, name: &str) -> Option<Bucket> {
        let state = self.state.read();
        state
            .by_name
            .get(name)
            .and_then(|id| state.buckets.get(id).cloned())
    }

    /// Changes a bucket's retention.
    pub async fn update_bucket_retention(
        &self,
        id: BucketId,
        retention_ns: Option<i64>,
    ) -> Result<Bucket> {
        let _guard = self.write_lock.lock().await;
        if self.bucket(id).is_none() {
            return Err(CatalogError::NotFound {
                kind: "bucket",
                id: id.to_string(),
            });
        }
        self.commit(Record::UpdateBucket { id, retention_ns })
            .await?;
        self.bucket(id).ok_or(CatalogError::NotFound {
            kind: "bucket",
            id: id.to_string(),
        })
    }

    /// Deletes a bucket, its schemas and the mappings to it. (Its Parquet files are left for the
    /// engine's retention to remove; nothing new can reach them.)
    pub async fn delete_bucket(&self, id: BucketId) -> Result<()> {
        let _guard = self.write_lock.lock().await;
        if self.bucket(id).is_none() {
            return Err(CatalogError::NotFound {
                kind: "bucket",
                id: id.to_string(),
            });
        }
        self.commit(Record::DeleteBucket { id }).await
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

    /// Every token (without secrets).
    pub fn tokens(&self) -> Vec<Token> {
        self.state.read().tokens.values().cloned().collect()
    }

    /// Creates a token. `value` sets the secret (for `--admin-token`); otherwise a random one is
    /// generated. The secret is returned once and only its peppered hash is stored.
    pub async fn create_token(
        &self,
        description: &str,
        permissions: Vec<Permission>,
        value: Option<&str>,
    ) -> Result<(Token, String)> {
        let _guard = self.write_lock.lock().await;
        self.ensure_pepper().await?;
        let secret = match value {
            Some(v) if !v.is_empty() => v.to_owned(),
            Some(_) => {
                return Err(CatalogError::InvalidName {
                    name: String::new(),
                    rule: "a token must not be empty",
                })
            }
            None => format!("strata_{}", encode_hex(&random_bytes::<32>()?)),
        };
        let hash = self.hash_token(&secret);
        if let Some(existing) = self.state.read().token_hashes.get(&hash) {
            return Err(CatalogError::Conflict(format!(
                "that token already exists (id {existing})"
            )));
        }
        let id = TokenId(self.state.read().next_token.max(1));
        self.commit(Record::CreateToken {
            id,
            description: description.to_owned(),
            permissions,
            hash,
        })
        .await?;
        let token = self.state.read().tokens.get(&id).cloned();
        token.map(|t| (t, secret)).ok_or(CatalogError::NotFound {
            kind: "token",
            id: id.to_string(),
        })
    }

    /// Deletes a token.
    pub async fn delete_token(&self, id: TokenId) -> Result<()> {
        let _guard = self.write_lock.lock().await;
        if !self.state.read().tokens.contains_key(&id) {
            return Err(CatalogError::NotFound {
                kind: "token",
                id: id.to_string(),
            });
        }
        self.commit(Record::DeleteToken { id }).await
    }

    /// The token a presented secret belongs to. As InfluxDB 1.8's v2-compatibility mode, a
    /// `user:password` string that is not itself a token is tried by its password part.
    pub fn authenticate(&self, presented: &str) -> Option<Token> {
        let state = self.state.read();
        let lookup = |secret: &str| {
            let hash = hash_with(state.pepper.as_deref()?, secret);
            let id = state.token_hashes.get(&hash)?;
            state.tokens.get(id).cloned()
        };
        lookup(presented).or_else(|| presented.split_once(':').and_then(|(_, p)| lookup(p)))
    }

    async fn ensure_pepper(&self) -> Result<()> {
        // Caller holds write_lock.
        if self.state.read().pepper.is_some() {
            return Ok(());
        }
        self.commit(Record::Init {
            pepper: encode_hex(&random_bytes::<32>()?),
        })
        .await
    }

    fn hash_token(&self, secret: &str) -> String {
        hash_with(
            self.state.read().pepper.as_deref().unwrap_or_default(),
            secret,
        )
    }

    /// Creates a bucket with a retention period (`None`: keep forever). Returns the existing
    /// bucket unchanged if one with that name exists.
    pub async fn create_bucket(&self, name: &str, retention_ns: Option<i64>) -> Result<Bucket> {
        validate_bucket_name(name)?;
        let _guard = self.write_lock.lock().await;
        if let Some(id) = self.state.read().by_name.get(name) {
            if let Some(b) = self.bucket(*id) {
                return Ok(b);
            }
        }
        let id = BucketId(self.state.read().next_bucket.max(1));
        self.commit(Record::CreateBucket {
            id,
            name: name.to_owned(),
            retention_ns,
            created_ns: Some(now_ns()),
        })
        .await?;
        tracing::info!(bucket = %name, id = %id, ?retention_ns, "created bucket");
        self.bucket(id).ok_or(CatalogError::Corrupt {
            path: self.log_prefix.to_string(),
            reason: "bucket vanished after creation".into(),
        })
    }

    /// A measurement's schema (empty if none was written yet).
    pub fn table(&self, bucket: BucketId, measurement: &str) -> Arc<TableSchema> {
        // The key is a tuple with an owned String; a lookup allocates only on this slow-ish path,
        // which the engine calls once per measurement per request.
        self.state
            .read()
            .tables
            .get(&(bucket, measurement.to_owned()))
            .cloned()
            .unwrap_or_default()
    }

    /// Adds columns to a measurement, durably. Columns that already exist keep their type (first
    /// write wins); the returned schema is the authority the caller validates against.
    pub async fn add_columns(
        &self,
        bucket: BucketId,
        measurement: &str,
        columns: Vec<(String, ColumnType)>,
    ) -> Result<Arc<TableSchema>> {
        let _guard = self.write_lock.lock().await;
        let current = self.table(bucket, measurement);
        let mut new: Vec<(String, ColumnType)> = Vec::new();
        for (name, ty) in columns {
            if current.column(&name).is_none() && !new.iter().any(|(n, _)| *n == name) {
                new.push((name, ty));
            }
        }
        if !new.is_empty() {
            self.commit(Record::AddColumns {
                bucket,
                measurement: measurement.to_owned(),
                columns: new,
            })
            .await?;
        }
        Ok(self.table(bucket, measurement))
    }
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

fn hash_with(pepper: &[u8], secret: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(pepper);
    h.update(secret.as_bytes());
    encode_hex(&h.finalize())
}

fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|e| CatalogError::Corrupt {
        path: "getrandom".into(),
        reason: format!("no randomness available: {e}"),
    })?;
    Ok(buf)
}

/// Checks a bucket name: one part, or `db/rp` (exactly one `/`).
pub fn validate_bucket_name(name: &str) -> Result<()> {
    let mut parts = name.splitn(2, '/');
    let first = parts.next().unwrap_or_default();
    validate_part(first)?;
    if let Some(second) = parts.next() {
        validate_part(second).map_err(|e| match e {
            CatalogError::InvalidName { rule, .. } => CatalogError::InvalidName {
                name: name.to_owned(),
                rule: if rule == "must not contain '/'" {
                    "must contain at most one '/'"
                } else {
                    rule
                },
            },
            other => other,
        })?;
    }
    Ok(())
}

/// Checks one part of a v1 name (database or retention policy).
pub fn validate_part(part: &str) -> Result<()> {
    let rule = if part.is_empty() {
        "must not be empty"
    } else if part.len() > 255 {
        "must be at most 255 bytes"
    } else if part.contains('/') {
        "must not contain '/'"
    } else if part.chars().any(char::is_control) {
        "must not contain control characters"
    } else {
        return Ok(());
    };
    Err(CatalogError::InvalidName {
        name: part.to_owned(),
        rule,
    })
}

#[cfg(test)]
mod tests;
