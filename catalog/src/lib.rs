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

mod record;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use object_store::path::Path;
use object_store::{ObjectStore, PutMode, PutOptions, PutPayload};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};

pub use record::{Record, RECORD_VERSION};

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

/// A bucket: where points live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    /// Id.
    pub id: BucketId,
    /// Name, e.g. `telegraf/autogen`.
    pub name: String,
    /// Retention period in nanoseconds; `None` keeps data forever.
    pub retention_ns: Option<i64>,
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

#[derive(Debug, Default)]
struct State {
    buckets: BTreeMap<BucketId, Bucket>,
    by_name: HashMap<String, BucketId>,
    tables: HashMap<(BucketId, String), Arc<TableSchema>>,
    next_bucket: u64,
    next_record: u64,
}

impl State {
    fn apply(&mut self, record: Record) {
        match record {
            Record::CreateBucket {
                id,
                name,
                retention_ns,
            } => {
                self.next_bucket = self.next_bucket.max(id.0 + 1);
                self.by_name.insert(name.clone(), id);
                self.buckets.insert(
                    id,
                    Bucket {
                        id,
                        name,
                        retention_ns,
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
        }
    }
}

/// Configuration of the catalog.
#[derive(Debug, Clone)]
pub struct CatalogConfig {
    /// Prefix under which the catalog lives in the object store.
    pub prefix: Path,
}

/// The catalog. Cheap reads from memory; changes are serialised and persisted before they are
/// visible.
#[derive(Debug)]
pub struct Catalog {
    store: Arc<dyn ObjectStore>,
    log_prefix: Path,
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
        let mut state = State::default();
        let records = record::read_log(store.as_ref(), &log_prefix).await?;
        let count = records.len();
        for (seq, rec) in records {
            state.next_record = seq + 1;
            state.apply(rec);
        }
        tracing::info!(
            records = count,
            buckets = state.buckets.len(),
            "catalog loaded"
        );
        Ok(Catalog {
            store,
            log_prefix,
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
        let mut state = self.state.write();
        state.next_record = seq + 1;
        state.apply(record);
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

    /// Finds the bucket a v1 write to (`db`, `rp`) goes to, creating `db/rp` if none exists.
    /// An empty `rp` means [`DEFAULT_RP`].
    pub async fn resolve_bucket_for_write(&self, db: &str, rp: &str) -> Result<Bucket> {
        let rp = if rp.is_empty() { DEFAULT_RP } else { rp };
        validate_part(db)?;
        validate_part(rp)?;
        let name = format!("{db}/{rp}");
        if let Some(b) = self.lookup_v1(db, rp, &name) {
            return Ok(b);
        }
        let _guard = self.write_lock.lock().await;
        // Someone may have created it while we waited.
        if let Some(b) = self.lookup_v1(db, rp, &name) {
            return Ok(b);
        }
        let id = BucketId(self.state.read().next_bucket.max(1));
        self.commit(Record::CreateBucket {
            id,
            name: name.clone(),
            retention_ns: None,
        })
        .await?;
        tracing::info!(bucket = %name, id = %id, "created bucket");
        self.bucket(id).ok_or(CatalogError::Corrupt {
            path: self.log_prefix.to_string(),
            reason: "bucket vanished after creation".into(),
        })
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
        })
        .await?;
        tracing::info!(bucket = %name, id = %id, ?retention_ns, "created bucket");
        self.bucket(id).ok_or(CatalogError::Corrupt {
            path: self.log_prefix.to_string(),
            reason: "bucket vanished after creation".into(),
        })
    }

    fn lookup_v1(&self, db: &str, rp: &str, name: &str) -> Option<Bucket> {
        let state = self.state.read();
        let id = state.by_name.get(name).or_else(|| {
            if rp == DEFAULT_RP {
                state.by_name.get(db)
            } else {
                None
            }
        })?;
        state.buckets.get(id).cloned()
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
