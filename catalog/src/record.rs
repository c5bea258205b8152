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

pub(crate) fn encode(record: &Record) -> Vec<u8> {
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

pub(crate) fn decode(path: &str, bytes: &[u8]) -> Result<Record> {
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

/// Reads every record under `prefix` in sequence order. A gap or a bad record is an error: the
/// catalog is small and precious, so it never skips.
pub(crate) async fn read_log(store: &dyn ObjectStore, prefix: &Path) -> Result<Vec<(u64, Record)>> {
    let mut metas: Vec<_> = store.list(Some(prefix)).try_collect().await?;
    metas.sort_by(|a, b| a.location.as_ref().cmp(b.location.as_ref()));
    let mut out = Vec::with_capacity(metas.len());
    for meta in metas {
        let path = meta.location.to_string();
        let seq: u64 = meta
            .location
            .filename()
            .and_then(|f| f.strip_suffix(".rec"))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| CatalogError::Corrupt {
                path: path.clone(),
                reason: "not a catalog record name".into(),
            })?;
        let expected = out.len() as u64;
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
