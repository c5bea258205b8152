//! The manifest: which Parquet files hold acknowledged data. One record per completed flush,
//! `manifest/<wal_through:020>.json`, written (create-only) after all of the flush's files and
//! before the WAL segments it covers are deleted; and one per removal of files (retention),
//! `manifest/removed-<ns:020>.json`, written before any of them is deleted. A Parquet file no
//! record names, or one a removal names, is an orphan: of a flush that did not finish (its rows
//! are still in the WAL, so start-up deletes it before replaying; otherwise they would exist
//! twice), or of a removal that did not finish.

use std::collections::HashSet;

use futures::TryStreamExt;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};

use crate::{EngineError, Layout, Result};

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
    /// How many of the file's series no earlier file of its measurement and UTC day had (see
    /// `series`: start-up reads the tag columns of the files where this is not 0); absent in
    /// records of builds before the series index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_series: Option<u64>,
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
    /// Files removed since they were recorded that had brought their day new series.
    pub(crate) removed: Vec<FileEntry>,
}

/// Reads every record. `entries` come in commit order: flush records sort by their WAL
/// segment, and removals only take files away.
pub(crate) async fn load(store: &dyn ObjectStore, layout: &Layout) -> Result<ManifestState> {
    let mut metas: Vec<_> = store.list(Some(&layout.manifests())).try_collect().await?;
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
    let (gone, live) = std::mem::take(&mut state.entries)
        .into_iter()
        .partition(|f| removed.contains(&f.path));
    state.entries = live;
    state.removed = gone;
    state.removed.retain(|f| f.new_series != Some(0));
    state.files = state.entries.iter().map(|f| f.path.clone()).collect();
    Ok(state)
}

/// Records that `paths` are no longer part of the data (durable before any is deleted).
pub(crate) async fn commit_removal(
    store: &dyn ObjectStore,
    layout: &Layout,
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
        let path = layout.removal_record(now.saturating_add(bump));
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
    layout: &Layout,
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
    let path = layout.flush_record(wal_through);
    let opts = PutOptions {
        mode: PutMode::Create,
        ..PutOptions::default()
    };
    store.put_opts(&path, PutPayload::from(bytes), opts).await?;
    Ok(())
}

/// Whether the manifest for `wal_through` is in the store (a commit whose reply was lost may
/// have landed). An error reading counts as absent.
pub(crate) async fn exists(store: &dyn ObjectStore, layout: &Layout, wal_through: u64) -> bool {
    store.head(&layout.flush_record(wal_through)).await.is_ok()
}

/// Deletes Parquet files that no manifest names; returns how many.
pub(crate) async fn delete_orphans(
    store: &dyn ObjectStore,
    layout: &Layout,
    known: &HashSet<String>,
) -> Result<usize> {
    let metas: Vec<_> = store.list(Some(&layout.buckets())).try_collect().await?;
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
