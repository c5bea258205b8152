//! `catalog` owns every name and id in Strata: buckets, and per-measurement schemas (which column
//! is a tag, which field has which type). It persists them through `object_store` as an
//! append-only log of versioned, checksummed records.
//!
//! It is not: a store of points (that is `engine`), an HTTP layer, or a query planner.
//!
//! # Overview
//! - [`Catalog::open`] replays the record log under `catalog/log/` and serves lookups from memory.
//! - [`Catalog::resolve_v1`] maps a v1 database + retention policy to a bucket,
//!   creating `db/rp` on first use.
//! - [`Catalog::table`] returns a measurement's [`TableSchema`] (cheap `Arc` clone) for write-path
//!   validation; [`Catalog::add_columns`] extends it durably, first type wins.
//! - Every change is one record file written with a create-only put: a second process on the same
//!   data dir fails on its first change instead of interleaving with ours.
#![deny(missing_docs)]

mod buckets;
mod dbrp;
mod error;
mod hex;
mod names;
mod persist;
mod record;
mod schema;
mod state;
mod tokens;
mod types;

use std::sync::Arc;

use object_store::path::Path;
use object_store::ObjectStore;
use parking_lot::RwLock;

use crate::state::State;

pub use dbrp::DEFAULT_RP;
pub use error::{CatalogError, Result};
pub use names::{validate_bucket_name, validate_part};
pub use persist::CatalogConfig;
pub use record::{Record, Snapshot, SnapshotTable, RECORD_VERSION};
pub use schema::{ColumnType, FieldType, TableSchema};
pub use types::{Bucket, BucketId, Dbrp, DbrpId, Permission, Token, TokenId};

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

#[cfg(test)]
mod tests;
