//! The manifest: which Parquet files hold acknowledged data. One record per completed flush,
//! `manifest/<wal_through:020>.json`, written (create-only) after all of the flush's files and
//! before the WAL segments it covers are deleted; and one per removal of files (retention),
//! `manifest/removed-<ns:020>.json`, written before any of them is deleted. A Parquet file no
//! record names, or one a removal names, is an orphan: of a flush that did not finish (its rows
//! are still in the WAL, so start-up deletes it before replaying; otherwise they would exist
//! twice), or of a removal that did not finish.

use std::collections::HashSet;

use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};

use crate::{EngineError, Result};

/// Flush records.
const FORMAT_VERSION: u32 = 1;
/// Removal records (no `wal_through`); an earlier build refuses them by version.
const REMOVAL_VERSION: u32 = 2;

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
    /// `retained` tables. Only in flush records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) wal_through: Option<u64>,
    #[serde(default)]
    pub(crate) files: Vec<FileEntry>,
    /// Held tables (see `held`); absent in manifests of earlier builds, which had none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) retained: Vec<Retained>,
    /// Paths of files no longer part of the data (removal records).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) removed: Vec<String>,
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

/// Reads every record. `entries` come in commit order: flush records sort by their WAL
/// segment, and removals only take files away.
pub(crate) async fn load(store: &dyn ObjectStore, prefix: &Path) -> Result<ManifestState> {
    let mut metas: Vec<_> = store.list(Some(prefix)).try_collect().await?;
    metas.sort_by(|a, b| a.location.cmp(&b.location));
    let mut state = ManifestState::default();
    let mut removed = HashSet::new();
    for meta in metas {
        let corrupt = |source: Box<dyn std::error::Error + Send + Sync>| EngineError::Corrupt {
            path: meta.location.to_string(),
            source,
        };
        let bytes = store.get(&meta.location).await?.bytes().await?;
        let record: ManifestRecord =
            serde_json::from_slice(&bytes).map_err(|e| corrupt(Box::new(e)))?;
        match (record.version, record.wal_through) {
            (FORMAT_VERSION, Some(through)) => {
                if state.wal_through < Some(through) {
                    state.wal_through = Some(through);
                    state.retained = record.retained;
                }
            }
            (REMOVAL_VERSION, None) => {}
            (version, _) => {
                return Err(corrupt(
                    format!("unknown manifest version {version}, or a field it lacks").into(),
                ))
            }
        }
        state.entries.extend(record.files);
        removed.extend(record.removed);
    }
    state.entries.retain(|f| !removed.contains(&f.path));
    state.files = state.entries.iter().map(|f| f.path.clone()).collect();
    Ok(state)
}

/// Records that `paths` are no longer part of the data (durable before any is deleted).
pub(crate) async fn commit_removal(
    store: &dyn ObjectStore,
    prefix: &Path,
    paths: Vec<String>,
) -> Result<()> {
    let record = ManifestRecord {
        version: REMOVAL_VERSION,
        wal_through: None,
        files: Vec::new(),
        retained: Vec::new(),
        removed: paths,
    };
    let bytes = serde_json::to_vec(&record).map_err(|e| EngineError::Internal(e.to_string()))?;
    let now = crate::now_ns();
    // Unique by time; a clash (a clock step back) moves on to the next nanosecond.
    for bump in 0..16 {
        let path = prefix
            .clone()
            .join(format!("removed-{:020}.json", now.saturating_add(bump)).as_str());
        let opts = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        match store
            .put_opts(&path, PutPayload::from(bytes.clone()), opts)
            .await
        {
            Ok(_) => return Ok(()),
            Err(object_store::Error::AlreadyExists { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(EngineError::Internal(
        "no free name for a removal record".into(),
    ))
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
        wal_through: Some(wal_through),
        files,
        retained,
        removed: Vec::new(),
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
            tracing::warn!(path = %meta.location, "deleting a Parquet file no manifest names (of an unfinished flush, whose rows are replayed from the WAL, or of a finished removal)");
            store.delete(&meta.location).await?;
            n += 1;
        }
    }
    Ok(n)
}
