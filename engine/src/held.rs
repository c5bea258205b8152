//! Tables whose flush failed: their rows wait here (out of the buffers, still in the WAL) until
//! a later flush writes them, with back-off between attempts, while every other table keeps
//! flushing. A flush problem stays with its table: it never stops the flusher or the writers
//! (only `--max-buffer-bytes` does, once held and buffered rows fill it).
//!
//! The WAL keeps every segment from the oldest one a held table still has rows in
//! ([`Held::oldest_since`]), and each manifest lists the held tables with that segment
//! (`manifest::Retained`), so start-up replays exactly those tables' lines from the segments
//! the manifests otherwise cover.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use catalog::BucketId;

use crate::buffer::Taken;

/// A table: bucket and measurement.
pub(crate) type TableKey = (BucketId, String);

/// First wait after a failure; doubled per failure up to [`BACKOFF_MAX`].
const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(60);

/// A table whose flush is failing, as `/health` and `/metrics` report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlushProblem {
    /// Bucket id.
    pub bucket: BucketId,
    /// Measurement.
    pub measurement: String,
    /// Failed attempts in a row.
    pub failures: u32,
    /// Rows held for it (out of the buffers; all in the WAL).
    pub rows: usize,
    /// The last attempt's error.
    pub error: String,
    /// Until the next attempt.
    pub retry_in: Duration,
}

#[derive(Debug)]
pub(crate) struct HeldTable {
    /// Rows taken from the buffers that no file holds yet, oldest first.
    pub(crate) rows: Vec<Taken>,
    pub(crate) bytes: usize,
    /// The oldest WAL segment with rows of this table that no file holds.
    pub(crate) since: u64,
    /// Failed attempts in a row (0: held only because start-up replayed it from segments a
    /// manifest covers; its rows are in the buffers).
    failures: u32,
    retry_at: Instant,
    error: String,
}

impl HeldTable {
    fn empty(since: u64, now: Instant) -> Self {
        HeldTable {
            rows: Vec::new(),
            bytes: 0,
            since,
            failures: 0,
            retry_at: now,
            error: String::new(),
        }
    }

    fn rows(&self) -> usize {
        self.rows.iter().map(|t| t.batch.num_rows()).sum()
    }
}

/// Every held table. Only the flush thread changes it.
#[derive(Debug, Default)]
pub(crate) struct Held {
    tables: HashMap<TableKey, HeldTable>,
}

impl Held {
    /// Tables a manifest listed as held when the engine last ran: their rows are replayed into
    /// the buffers, and until a file holds them the WAL must keep segments from `since` on.
    pub(crate) fn from_manifest(retained: impl IntoIterator<Item = (TableKey, u64)>) -> Self {
        let now = Instant::now();
        let tables = retained
            .into_iter()
            .map(|(key, since)| (key, HeldTable::empty(since, now)))
            .collect();
        Held { tables }
    }

    /// `key`'s entry, made if new, holding rows from segment `since` on.
    fn entry(&mut self, key: TableKey, since: u64, now: Instant) -> &mut HeldTable {
        let t = self
            .tables
            .entry(key)
            .or_insert_with(|| HeldTable::empty(since, now));
        t.since = t.since.min(since);
        t
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// Whether `key` is held with rows from WAL segment `segment` or earlier not in any file.
    pub(crate) fn covers(&self, key: &TableKey, segment: u64) -> bool {
        self.tables.get(key).is_some_and(|t| t.since <= segment)
    }

    /// Whether an attempt for `key` is due at `now` (always, for a table not failing).
    pub(crate) fn is_due(&self, key: &TableKey, now: Instant) -> bool {
        self.tables
            .get(key)
            .is_none_or(|t| t.failures == 0 || now >= t.retry_at)
    }

    /// Whether some table with held rows is due for an attempt.
    pub(crate) fn any_due(&self, now: Instant) -> bool {
        self.tables
            .values()
            .any(|t| t.failures > 0 && now >= t.retry_at)
    }

    /// Every held table.
    pub(crate) fn keys(&self) -> Vec<TableKey> {
        self.tables.keys().cloned().collect()
    }

    /// `key`'s held rows (shared, for an attempt: they stay held, and visible to readers,
    /// until a manifest names a file with them).
    pub(crate) fn rows(&self, key: &TableKey) -> Vec<Taken> {
        self.tables
            .get(key)
            .map(|t| t.rows.clone())
            .unwrap_or_default()
    }

    /// Every held table's rows (for a snapshot).
    pub(crate) fn all_rows(&self) -> impl Iterator<Item = (&TableKey, &[Taken])> {
        self.tables.iter().map(|(k, t)| (k, t.rows.as_slice()))
    }

    /// The segment the rows of `key` taken now start in: its held `since`, or `first_new`.
    pub(crate) fn since(&self, key: &TableKey, first_new: u64) -> u64 {
        self.tables.get(key).map_or(first_new, |t| t.since)
    }

    /// Puts rows back without an attempt (not due yet).
    pub(crate) fn keep(&mut self, key: TableKey, since: u64, rows: Vec<Taken>, bytes: usize) {
        let t = self.entry(key, since, Instant::now());
        t.rows.extend(rows);
        t.bytes += bytes;
    }

    /// Records a failed attempt: `rows` (what was held for `key` and what the attempt added)
    /// are held instead, and retried after a back-off.
    pub(crate) fn failed(
        &mut self,
        key: TableKey,
        since: u64,
        rows: Vec<Taken>,
        bytes: usize,
        error: String,
    ) -> u32 {
        let now = Instant::now();
        let t = self.entry(key, since, now);
        t.rows = rows;
        t.bytes = bytes;
        t.failures += 1;
        let shift = t.failures.saturating_sub(1).min(16);
        t.retry_at = now + (BACKOFF_MIN * (1u32 << shift)).min(BACKOFF_MAX);
        t.error = error;
        t.failures
    }

    /// The table's rows are in files named by a durable manifest: nothing is held for it.
    pub(crate) fn flushed(&mut self, key: &TableKey) {
        self.tables.remove(key);
    }

    /// The oldest WAL segment a held table still needs.
    pub(crate) fn oldest_since(&self) -> Option<u64> {
        self.tables.values().map(|t| t.since).min()
    }

    /// What a manifest records: each held table and its oldest segment.
    pub(crate) fn retained(&self) -> Vec<(TableKey, u64)> {
        let mut out: Vec<_> = self
            .tables
            .iter()
            .map(|(k, t)| (k.clone(), t.since))
            .collect();
        out.sort();
        out
    }

    /// Bytes of held rows.
    pub(crate) fn bytes(&self) -> usize {
        self.tables.values().map(|t| t.bytes).sum()
    }

    /// The failing tables.
    pub(crate) fn problems(&self) -> Vec<FlushProblem> {
        let now = Instant::now();
        let mut out: Vec<_> = self
            .tables
            .iter()
            .filter(|(_, t)| t.failures > 0)
            .map(|((bucket, measurement), t)| FlushProblem {
                bucket: *bucket,
                measurement: measurement.clone(),
                failures: t.failures,
                rows: t.rows(),
                error: t.error.clone(),
                retry_in: t.retry_at.saturating_duration_since(now),
            })
            .collect();
        out.sort_by(|a, b| (a.bucket, &a.measurement).cmp(&(b.bucket, &b.measurement)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(m: &str) -> TableKey {
        (BucketId(1), m.to_owned())
    }

    fn rows(n: i64) -> Taken {
        use std::sync::Arc;
        let schema = Arc::new(arrow::datatypes::Schema::new(vec![
            arrow::datatypes::Field::new("v", arrow::datatypes::DataType::Int64, true),
        ]));
        let batch = arrow::record_batch::RecordBatch::try_new(
            schema,
            vec![Arc::new(arrow::array::Int64Array::from_iter_values(0..n))],
        )
        .expect("batch");
        Taken {
            batch,
            seq: arrow::array::UInt64Array::from_iter_values((0..n).map(|_| 0)),
        }
    }

    #[test]
    fn failures_back_off_and_keep_the_oldest_segment() {
        let mut held = Held::default();
        let now = Instant::now();
        assert!(held.is_due(&key("a"), now));
        assert_eq!(
            held.failed(key("a"), 5, vec![rows(3)], 30, "boom".into()),
            1
        );
        assert!(!held.is_due(&key("a"), now));
        assert!(held.is_due(&key("b"), now));
        assert!(held.is_due(&key("a"), Instant::now() + BACKOFF_MIN));
        // A second failure holds the rows of both attempts, keeps segment 5, and waits twice
        // as long.
        assert_eq!(held.rows(&key("a")).len(), 1);
        let both = [held.rows(&key("a")), vec![rows(2)]].concat();
        assert_eq!(held.failed(key("a"), 9, both, 50, "boom".into()), 2);
        assert_eq!(held.rows(&key("a")).len(), 2);
        assert_eq!(held.oldest_since(), Some(5));
        assert_eq!(held.bytes(), 50);
        held.keep(key("a"), 9, vec![rows(1)], 10);
        assert_eq!(held.bytes(), 60);
        let problems = held.problems();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].rows, 6);
        assert!(problems[0].retry_in > BACKOFF_MIN);
        assert!(held.covers(&key("a"), 5) && !held.covers(&key("a"), 4));
        held.flushed(&key("a"));
        assert!(held.is_empty() && held.oldest_since().is_none());
    }

    #[test]
    fn back_off_is_capped() {
        let mut held = Held::default();
        for _ in 0..40 {
            held.failed(key("a"), 0, vec![rows(1)], 1, "x".into());
        }
        assert!(held.problems()[0].retry_in <= BACKOFF_MAX);
    }

    #[test]
    fn tables_from_a_manifest_are_due_at_once() {
        let held = Held::from_manifest([(key("a"), 3)]);
        assert!(held.is_due(&key("a"), Instant::now()));
        assert!(held.problems().is_empty());
        assert_eq!(held.retained(), vec![(key("a"), 3)]);
    }
}
