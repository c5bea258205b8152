//! The read side: a snapshot of what a bucket holds — rows still in memory as Arrow batches, and
//! the Parquet files durable manifests name — in which every acknowledged row is in exactly one
//! place. A snapshot keeps its files from being deleted until it is dropped.

use std::collections::BTreeMap;
use std::sync::Arc;

use catalog::BucketId;

use crate::visible::FileHandle;
use crate::{Engine, FileEntry, Result, Taken};

/// Which tables and times a snapshot is for.
#[derive(Debug, Clone, Copy)]
pub struct SnapshotRequest<'a> {
    /// The bucket; an unknown one gives an empty snapshot.
    pub bucket: BucketId,
    /// Measurements to include (`None`: all). Unknown names are left out.
    pub measurements: Option<&'a [&'a str]>,
    /// Smallest timestamp wanted (ns, inclusive). Files entirely outside the range are left
    /// out; in-memory batches are not cut, so rows outside it may come back.
    pub min_time_ns: i64,
    /// Largest timestamp wanted (ns, inclusive).
    pub max_time_ns: i64,
}

impl SnapshotRequest<'_> {
    /// Every measurement and time of `bucket`.
    pub fn all(bucket: BucketId) -> SnapshotRequest<'static> {
        SnapshotRequest {
            bucket,
            measurements: None,
            min_time_ns: i64::MIN,
            max_time_ns: i64::MAX,
        }
    }
}

/// What a bucket held at one instant. Dropping it lets retired files go.
#[derive(Debug, Default)]
pub struct Snapshot {
    tables: BTreeMap<String, TableSnapshot>,
}

impl Snapshot {
    /// Tables by measurement name.
    pub fn tables(&self) -> impl Iterator<Item = &TableSnapshot> {
        self.tables.values()
    }

    /// One measurement's table, if it has rows.
    pub fn table(&self, measurement: &str) -> Option<&TableSnapshot> {
        self.tables.get(measurement)
    }

    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }
}

/// One measurement's rows.
///
/// "Last write wins" (1.x: for one series and timestamp, each field takes its latest value) is
/// for the reader to apply, with this order: files by [`SnapshotFile::order`], then `rows` by
/// their pass number (`Taken::seq`); every in-memory row is a later write than every file row
/// of its table. Each file is sorted (tags, then time) and holds a series and timestamp at most
/// once; files of one flush never overlap in time. In-memory rows are in arrival order.
#[derive(Debug, Default)]
pub struct TableSnapshot {
    /// Measurement name.
    pub measurement: String,
    /// Rows not yet in a named file: the buffers, a flush in progress, tables held after a
    /// failed flush.
    pub rows: Vec<Taken>,
    /// Files, in commit order.
    pub files: Vec<SnapshotFile>,
}

/// A Parquet file a durable manifest names, held open for the snapshot.
#[derive(Debug, Clone)]
pub struct SnapshotFile(Arc<FileHandle>);

impl SnapshotFile {
    /// Path, rows, size and time range, as the manifest records them.
    pub fn entry(&self) -> &FileEntry {
        &self.0.entry
    }

    /// Commit order among the engine's files: a larger number holds later writes.
    pub fn order(&self) -> u64 {
        self.0.order
    }
}

impl Engine {
    /// The rows and files of `req`'s bucket, measurements and time range, each acknowledged
    /// row in exactly one place.
    pub fn snapshot(&self, req: SnapshotRequest<'_>) -> Result<Snapshot> {
        let wanted = |m: &str| req.measurements.is_none_or(|ms| ms.contains(&m));
        let mut tables: BTreeMap<String, TableSnapshot> = BTreeMap::new();
        // A query thread runs lowered; here it holds locks writers and the flusher wait for.
        let _raised = crate::sched::Raised::new();
        // Shared: a flush cannot take the buffers while we read them and the flush state.
        let _epoch = self.inner.epoch.read();
        let buffers: Vec<_> = match self.inner.buffers.get(&req.bucket) {
            Some(b) => b
                .iter()
                .filter(|t| wanted(t.key()))
                .map(|t| (t.key().clone(), Arc::clone(t.value())))
                .collect(),
            None => Vec::new(),
        };
        for (measurement, shards) in buffers {
            let rows = shards.snapshot()?;
            if !rows.is_empty() {
                table_of(&mut tables, &measurement).rows.extend(rows);
            }
        }
        let outside = self.inner.visible.lock().outside(
            req.bucket,
            &wanted,
            req.min_time_ns,
            req.max_time_ns,
        )?;
        for (measurement, o) in outside {
            let t = table_of(&mut tables, &measurement);
            // Held and flushing rows are older writes than the buffers'; order does not
            // matter to a reader (the pass numbers do), but keeping it is cheap.
            let buffered = std::mem::replace(&mut t.rows, o.rows);
            t.rows.extend(buffered);
            t.files = o.files.into_iter().map(SnapshotFile).collect();
            t.files.sort_by_key(SnapshotFile::order);
        }
        Ok(Snapshot { tables })
    }
}

fn table_of<'t>(
    tables: &'t mut BTreeMap<String, TableSnapshot>,
    measurement: &str,
) -> &'t mut TableSnapshot {
    tables
        .entry(measurement.to_owned())
        .or_insert_with(|| TableSnapshot {
            measurement: measurement.to_owned(),
            ..TableSnapshot::default()
        })
}
