//! Where every row that left the live buffers is, for readers: in the flush in progress, held
//! after a failed flush, or in a file a durable manifest names. One lock over the three, so a
//! row moves from one to the next at once and a snapshot sees it in exactly one place.
//!
//! A file that stops being visible (retention today, compaction later) is *retired*: new
//! snapshots no longer see it, but it is deleted only once no open snapshot holds it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use catalog::BucketId;

use crate::held::{Held, TableKey};
use crate::{FileEntry, Result, TableBuffer, Taken};

/// A file named by a durable manifest. Snapshots hold it by `Arc`: the count says whether a
/// retired file may be deleted.
#[derive(Debug)]
pub(crate) struct FileHandle {
    pub(crate) entry: FileEntry,
    /// Position in commit order: a later file's rows are later writes.
    pub(crate) order: u64,
}

/// Rows a flush took from the buffers, until its manifest is durable or they are held.
#[derive(Debug)]
enum Flushing {
    /// As taken (swapped out under the epoch lock; turned into batches outside it).
    Parts(Vec<TableBuffer>),
    Rows(Vec<Taken>),
}

/// Rows outside the buffers (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct Visible {
    files: Vec<Arc<FileHandle>>,
    next_order: u64,
    flushing: HashMap<TableKey, Flushing>,
    /// Tables whose flush failed, with their rows; only the flush thread changes it.
    pub(crate) held: Held,
    /// Retired files that a snapshot may still read.
    retired: Vec<Arc<FileHandle>>,
}

/// What one table has outside its buffers, for a snapshot.
#[derive(Debug, Default)]
pub(crate) struct Outside {
    pub(crate) rows: Vec<Taken>,
    pub(crate) files: Vec<Arc<FileHandle>>,
}

impl Visible {
    /// The state start-up finds: `files` in commit order.
    pub(crate) fn new(files: Vec<FileEntry>, held: Held) -> Self {
        let files: Vec<_> = files
            .into_iter()
            .enumerate()
            .map(|(i, entry)| {
                Arc::new(FileHandle {
                    entry,
                    order: i as u64,
                })
            })
            .collect();
        Visible {
            next_order: files.len() as u64,
            files,
            held,
            ..Visible::default()
        }
    }

    pub(crate) fn files(&self) -> impl Iterator<Item = &FileEntry> {
        self.files.iter().map(|f| &f.entry)
    }

    /// A flush took `parts` of `key` from the buffers (under the epoch lock, so no reader sees
    /// them in both places or in neither).
    pub(crate) fn begin_flush(&mut self, key: TableKey, parts: Vec<TableBuffer>) {
        self.flushing.insert(key, Flushing::Parts(parts));
    }

    /// The rows an attempt for `key` writes: those held from earlier attempts, then the flush's.
    /// They stay visible here until [`Self::commit`] or [`Self::hold`].
    pub(crate) fn attempt_rows(&mut self, key: &TableKey) -> Result<Vec<Taken>> {
        let mut rows = self.held.rows(key);
        rows.extend(self.flush_rows(key)?);
        Ok(rows)
    }

    /// The flush's rows of `key` as batches (converted the first time).
    fn flush_rows(&mut self, key: &TableKey) -> Result<Vec<Taken>> {
        let Some(flushing) = self.flushing.get_mut(key) else {
            return Ok(Vec::new());
        };
        if let Flushing::Parts(parts) = flushing {
            let mut rows = Vec::with_capacity(parts.len());
            for part in parts.iter_mut() {
                rows.extend(part.take()?);
            }
            *flushing = Flushing::Rows(rows);
        }
        match flushing {
            Flushing::Rows(rows) => Ok(rows.clone()),
            Flushing::Parts(_) => Ok(Vec::new()),
        }
    }

    /// `key` is not due for an attempt: the flush's rows join its held ones.
    pub(crate) fn postpone(&mut self, key: TableKey, since: u64) -> Result<()> {
        let rows = self.flush_rows(&key)?;
        self.flushing.remove(&key);
        let bytes = rows.iter().map(taken_bytes).sum();
        self.held.keep(key, since, rows, bytes);
        Ok(())
    }

    /// An attempt for `key` failed: `rows` (everything [`Self::attempt_rows`] gave) are held.
    /// Returns the failures in a row.
    pub(crate) fn hold(
        &mut self,
        key: TableKey,
        since: u64,
        rows: Vec<Taken>,
        error: String,
    ) -> u32 {
        self.flushing.remove(&key);
        let bytes = rows.iter().map(taken_bytes).sum();
        self.held.failed(key, since, rows, bytes, error)
    }

    /// A manifest naming `files` is durable: the rows of `flushed` are in them now.
    pub(crate) fn commit(&mut self, files: Vec<FileEntry>, flushed: &[TableKey]) {
        for entry in files {
            let order = self.next_order;
            self.next_order += 1;
            self.files.push(Arc::new(FileHandle { entry, order }));
        }
        for key in flushed {
            self.flushing.remove(key);
            self.held.flushed(key);
        }
    }

    /// Files whose newest row is older than `cutoff(bucket)` allows.
    pub(crate) fn expired(&self, cutoff: impl Fn(BucketId) -> Option<i64>) -> Vec<FileEntry> {
        self.files
            .iter()
            .filter(|f| cutoff(BucketId(f.entry.bucket)).is_some_and(|c| f.entry.max_time_ns < c))
            .map(|f| f.entry.clone())
            .collect()
    }

    /// New snapshots no longer see `paths` (a durable record says they are gone).
    pub(crate) fn retire(&mut self, paths: &HashSet<&str>) {
        let (gone, keep) = std::mem::take(&mut self.files)
            .into_iter()
            .partition(|f| paths.contains(f.entry.path.as_str()));
        self.files = keep;
        self.retired.extend::<Vec<_>>(gone);
    }

    /// Retired files no snapshot holds any more: to delete now. The caller deletes them; one
    /// it fails to delete is an orphan the next start-up deletes.
    pub(crate) fn unreferenced(&mut self) -> Vec<FileEntry> {
        let (free, held): (Vec<_>, Vec<_>) = std::mem::take(&mut self.retired)
            .into_iter()
            .partition(|f| Arc::strong_count(f) == 1);
        self.retired = held;
        free.into_iter().map(|f| f.entry.clone()).collect()
    }

    /// Retired files still held by a snapshot.
    pub(crate) fn retired_count(&self) -> usize {
        self.retired.len()
    }

    /// What `bucket`'s tables that `wanted` accepts have outside the buffers: the flush's
    /// rows, held rows, and the files that may hold rows in `min_ns..=max_ns`.
    pub(crate) fn outside(
        &self,
        bucket: BucketId,
        wanted: &dyn Fn(&str) -> bool,
        min_ns: i64,
        max_ns: i64,
    ) -> Result<HashMap<String, Outside>> {
        let mut out: HashMap<String, Outside> = HashMap::new();
        for (key, rows) in self.held.all_rows() {
            if key.0 == bucket && wanted(&key.1) && !rows.is_empty() {
                out.entry(key.1.clone())
                    .or_default()
                    .rows
                    .extend_from_slice(rows);
            }
        }
        for (key, flushing) in &self.flushing {
            if key.0 != bucket || !wanted(&key.1) {
                continue;
            }
            let rows = match flushing {
                Flushing::Rows(rows) => rows.clone(),
                Flushing::Parts(parts) => {
                    let mut rows = Vec::new();
                    for part in parts {
                        rows.extend(part.snapshot_once()?);
                    }
                    rows
                }
            };
            out.entry(key.1.clone()).or_default().rows.extend(rows);
        }
        for f in &self.files {
            let e = &f.entry;
            if e.bucket == bucket.0
                && wanted(&e.measurement)
                && e.max_time_ns >= min_ns
                && e.min_time_ns <= max_ns
            {
                out.entry(e.measurement.clone())
                    .or_default()
                    .files
                    .push(Arc::clone(f));
            }
        }
        Ok(out)
    }
}

/// Memory a batch holds (what held rows count against `max_buffer_bytes`).
pub(crate) fn taken_bytes(t: &Taken) -> usize {
    use arrow::array::Array;
    t.batch.get_array_memory_size() + t.seq.get_array_memory_size()
}
