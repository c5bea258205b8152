//! The catalog's on-disk record format. Once shipped, a record kind never changes meaning: new
//! information gets a new kind (and a new `RECORD_VERSION` only if the frame itself changes).
//!
//! One record per object, `catalog/log/{seq:020}.rec`:
//!
//! | offset | size | field                                   |
//! |--------|------|-----------------------------------------|
//! | 0      | 4    | magic `STRC`                            |
//! | 4      | 2    | frame version, little endian (1)        |
//! | 6      | 2    | reserved, 0                             |
//! | 8      | 4    | payload length N, little endian         |
//! | 12     | 4    | CRC32C of the payload, little endian    |
//! | 16     | N    | payload: one JSON [`Record`]            |

use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use serde::{Deserialize, Serialize};

use crate::{BucketId, CatalogError, ColumnType, DbrpId, Permission, Result, TokenId};

const MAGIC: &[u8; 4] = b"STRC";
/// Version of the record frame.
pub const RECORD_VERSION: u16 = 1;
const HEADER_BYTES: usize = 16;

/// One change to the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum Record {
    /// A bucket was created.
    CreateBucket {
        /// Its id.
        id: BucketId,
        /// Its name.
        name: String,
        /// Retention in nanoseconds, `None` for infinite.
        retention_ns: Option<i64>,
        /// Creation time (ns); absent in records of the first format generation.
        #[serde(default)]
        created_ns: Option<i64>,
    },
    /// Columns were added to a measurement.
    AddColumns {
        /// The bucket.
        bucket: BucketId,
        /// The measurement.
        measurement: String,
        /// New columns and their types.
        columns: Vec<(String, ColumnType)>,
    },
    /// The catalog's secret pepper for token hashes (written once, first).
    Init {
        /// 32 random bytes, hex.
        pepper: String,
    },
    /// A bucket's retention changed.
    UpdateBucket {
        /// The bucket.
        id: BucketId,
        /// New retention in nanoseconds, `None` for infinite.
        retention_ns: Option<i64>,
    },
    /// A bucket and everything in it were deleted.
    DeleteBucket {
        /// The bucket.
        id: BucketId,
    },
    /// An explicit DBRP mapping was created.
    CreateDbrp {
        /// Its id.
        id: DbrpId,
        /// v1 database.
        database: String,
        /// v1 retention policy.
        retention_policy: String,
        /// Target bucket.
        bucket: BucketId,
        /// Whether it is the database's default retention policy (clears the others').
        default: bool,
    },
    /// A mapping became (or stopped being) its database's default.
    SetDbrpDefault {
        /// The mapping.
        id: DbrpId,
        /// New flag (true clears the database's other defaults).
        default: bool,
    },
    /// A mapping was deleted.
    DeleteDbrp {
        /// The mapping.
        id: DbrpId,
    },
    /// A token was created; only its hash is kept.
    CreateToken {
        /// Its id.
        id: TokenId,
        /// What it is for.
        description: String,
        /// What it may do.
        permissions: Vec<Permission>,
        /// SHA-256(pepper ‖ token), hex.
        hash: String,
    },
    /// A token was deleted.
    DeleteToken {
        /// The token.
        id: TokenId,
    },
}

pub(crate) fn encode<T: Serialize>(record: &T) -> Vec<u8> {
    // Serialising plain data to JSON cannot fail; an empty payload would be caught on read.
    let payload = serde_json::to_vec(record).unwrap_or_default();
    let mut out = Vec::with_capacity(HEADER_BYTES + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&RECORD_VERSION.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

pub(crate) fn decode<T: serde::de::DeserializeOwned>(path: &str, bytes: &[u8]) -> Result<T> {
    let corrupt = |reason: String| CatalogError::Corrupt {
        path: path.to_owned(),
        reason,
    };
    let header = bytes
        .get(..HEADER_BYTES)
        .ok_or_else(|| corrupt(format!("{} bytes is shorter than a header", bytes.len())))?;
    let (magic, rest) = header.split_at(4);
    if magic != MAGIC {
        return Err(corrupt("bad magic".into()));
    }
    let u16_at = |i: usize| u16::from_le_bytes([rest[i], rest[i + 1]]);
    let u32_at = |i: usize| u32::from_le_bytes([rest[i], rest[i + 1], rest[i + 2], rest[i + 3]]);
    let version = u16_at(0);
    if version != RECORD_VERSION {
        return Err(corrupt(format!("unknown frame version {version}")));
    }
    let len = u32_at(4) as usize;
    let crc = u32_at(8);
    let payload = bytes
        .get(HEADER_BYTES..)
        .filter(|p| p.len() == len)
        .ok_or_else(|| corrupt(format!("payload is not {len} bytes")))?;
    if crc32c::crc32c(payload) != crc {
        return Err(corrupt("checksum mismatch".into()));
    }
    serde_json::from_slice(payload).map_err(|e| corrupt(format!("undecodable payload: {e}")))
}

/// One measurement's schema in a [`Snapshot`]: (bucket, measurement, columns).
pub type SnapshotTable = (BucketId, String, Vec<(String, ColumnType)>);

/// A full copy of the catalog's state as of record `through`, so start-up need not replay the
/// whole log. Same frame as records; `catalog/snapshot/<through:020>.snap`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Last record included.
    pub through: u64,
    /// Token-hash pepper, hex.
    pub pepper: Option<String>,
    /// (id, name, retention ns, created ns)
    pub buckets: Vec<(BucketId, String, Option<i64>, Option<i64>)>,
    /// (id, database, retention policy, bucket, default)
    pub dbrps: Vec<(DbrpId, String, String, BucketId, bool)>,
    /// (id, description, permissions, hash)
    pub tokens: Vec<(TokenId, String, Vec<Permission>, String)>,
    /// (bucket, measurement, columns)
    pub tables: Vec<SnapshotTable>,
    /// Next ids.
    pub next: (u64, u64, u64),
}

fn seq_of(location: &Path, suffix: &str) -> Result<u64> {
    location
        .filename()
        .and_then(|f| f.strip_suffix(suffix))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| CatalogError::Corrupt {
            path: location.to_string(),
            reason: format!("not a catalog {suffix} name"),
        })
}

/// The newest snapshot under `prefix`, if any.
pub(crate) async fn read_latest_snapshot(
    store: &dyn ObjectStore,
    prefix: &Path,
) -> Result<Option<Snapshot>> {
    let metas: Vec<_> = store.list(Some(prefix)).try_collect().await?;
    let mut newest: Option<(u64, Path)> = None;
    for meta in metas {
        let seq = seq_of(&meta.location, ".snap")?;
        if newest.as_ref().is_none_or(|(s, _)| seq > *s) {
            newest = Some((seq, meta.location));
        }
    }
    let Some((_, location)) = newest else {
        return Ok(None);
    };
    let bytes = store.get(&location).await?.bytes().await?;
    decode(location.as_ref(), &bytes).map(Some)
}

/// Reads every record under `prefix` after `after` (all when `None`) in sequence order. A gap or a
/// bad record is an error: the catalog is small and precious, so it never skips.
pub(crate) async fn read_log(
    store: &dyn ObjectStore,
    prefix: &Path,
    after: Option<u64>,
) -> Result<Vec<(u64, Record)>> {
    let mut metas: Vec<_> = store.list(Some(prefix)).try_collect().await?;
    metas.sort_by(|a, b| a.location.as_ref().cmp(b.location.as_ref()));
    let first = after.map_or(0, |a| a + 1);
    let mut out = Vec::with_capacity(metas.len());
    for meta in metas {
        let path = meta.location.to_string();
        let seq = seq_of(&meta.location, ".rec")?;
        if seq < first {
            // Covered by the snapshot; left behind by an interrupted clean-up.
            continue;
        }
        let expected = first + out.len() as u64;
        if seq != expected {
            return Err(CatalogError::Corrupt {
                path,
                reason: format!("expected record number {expected}"),
            });
        }
        let bytes = store.get(&meta.location).await?.bytes().await?;
        out.push((seq, decode(&path, &bytes)?));
    }
    Ok(out)
}
