//! The manifest: which Parquet files hold acknowledged data. One record per completed flush,
//! `manifest/<wal_through:020>.json`, written (create-only) after all of the flush's files and
//! before the WAL segments it covers are deleted. A Parquet file no manifest names is an orphan
//! of a flush that did not finish; its rows are still in the WAL, so start-up deletes it before
//! replaying (otherwise they would exist twice).

use std::collections::HashSet;

use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};

use crate::{EngineError, Result};

const FORMAT_VERSION: u32 = 1;

/// One Parquet file, as the manifest records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Object path.
    pub path: String,
    /// Bucket id.
    pub bucket: u64,
    /// Measurement.
    pub measurement: String,
    /// Rows in the file.
    pub rows: u64,
    /// Size in bytes.
    pub bytes: u64,
    /// Smallest timestamp (ns).
    pub min_time_ns: i64,
    /// Largest timestamp (ns).
    pub max_time_ns: i64,
}

/// A table whose flush failed: its rows in WAL segments `since..=wal_through` are in no file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Retained {
    pub(crate) bucket: u64,
    pub(crate) measurement: String,
    pub(crate) since: u64,
}

/// One completed flush.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ManifestRecord {
    pub(crate) version: u32,
    /// Every WAL segment up to and including this one is in Parquet, except the rows of the
    /// `retained` tables.
    pub(crate) wal_through: u64,
    pub(crate) files: Vec<FileEntry>,
    /// Held tables (see `held`); absent in manifests of earlier builds, which had none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) retained: Vec<Retained>,
}

/// What the manifests say, loaded at start-up.
#[derive(Debug, Default)]
pub(crate) struct ManifestState {
    pub(crate) wal_through: Option<u64>,
    /// The newest manifest's held tables.
    pub(crate) retained: Vec<Retained>,
    pub(crate) files: HashSet<String>,
    pub(crate) entries: Vec<FileEntry>,
}

pub(crate) async fn load(store: &dyn ObjectStore, prefix: &Path) -> Result<ManifestState> {
    let metas: Vec<_> = store.list(Some(prefix)).try_collect().await?;
    let mut state = ManifestState::default();
    for meta in metas {
        let bytes = store.get(&meta.location).await?.bytes().await?;
        let record: ManifestRecord = serde_json::from_slice(&bytes).map_err(|e| {
            EngineError::Internal(format!("manifest {} is corrupt: {e}", meta.location))
        })?;
        if record.version != FORMAT_VERSION {
            return Err(EngineError::Internal(format!(
                "manifest {} has unknown version {}",
                meta.location, record.version
            )));
        }
        if state.wal_through < Some(record.wal_through) {
            state.wal_through = Some(record.wal_through);
            state.retained = record.retained;
        }
        state
            .files
            .extend(record.files.iter().map(|f| f.path.clone()));
        state.entries.extend(record.files);
    }
    Ok(state)
}

pub(crate) async fn commit(
    store: &dyn ObjectStore,
    prefix: &Path,
    wal_through: u64,
    files: Vec<FileEntry>,
    retained: Vec<Retained>,
) -> Result<()> {
    let record = ManifestRecord {
        version: FORMAT_VERSION,
        wal_through,
        files,
        retained,
    };
    let bytes = serde_json::to_vec(&record).map_err(|e| EngineError::Internal(e.to_string()))?;
    let path = path_of(prefix, wal_through);
    let opts = PutOptions {
        mode: PutMode::Create,
        ..PutOptions::default()
    };
    store.put_opts(&path, PutPayload::from(bytes), opts).await?;
    Ok(())
}

/// Whether the manifest for `wal_through` is in the store (a commit whose reply was lost may
/// have landed). An error reading counts as absent.
pub(crate) async fn exists(store: &dyn ObjectStore, prefix: &Path, wal_through: u64) -> bool {
    store.head(&path_of(prefix, wal_through)).await.is_ok()
}

fn path_of(prefix: &Path, wal_through: u64) -> Path {
    prefix
        .clone()
        .join(format!("{wal_through:020}.json").as_str())
}

/// Deletes Parquet files under `parquet_prefix` that no manifest names; returns how many.
pub(crate) async fn delete_orphans(
    store: &dyn ObjectStore,
    parquet_prefix: &Path,
    known: &HashSet<String>,
) -> Result<usize> {
    let metas: Vec<_> = store.list(Some(parquet_prefix)).try_collect().await?;
    let mut n = 0;
    for meta in metas {
        if !known.contains(meta.location.as_ref()) {
            tracing::warn!(path = %meta.location, "deleting Parquet file of an unfinished flush (its rows are replayed from the WAL)");
            store.delete(&meta.location).await?;
            n += 1;
        }
    }
    Ok(n)
}
