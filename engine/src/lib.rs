//! `engine` owns points from the moment a write is parsed until they sit in Parquet files:
//! schema validation against the catalog, the write-ahead log, in-memory Arrow buffers per bucket
//! and measurement, and the flush of those buffers to Parquet through `object_store`.
//!
//! It is not: an HTTP layer (it knows nothing of status codes or JSON), an authority on names and
//! types (that is `catalog`), or a line-protocol parser (that is `lp`, which it calls).
//!
//! # Overview
//! - [`Engine::open`] replays the WAL segments no manifest covers, then starts the WAL thread and
//!   the flush coordinator.
//! - [`Engine::write`] takes a [`WriteRequest`] (bucket, raw body, precision, receive time),
//!   parses it once with `lp`, checks every point against the measurement's schema, appends the
//!   good points to the measurement's [`TableBuffer`], logs exactly those lines to the WAL, and
//!   returns once they are fsync'd ([`Durability`]). Bad points are reported in the
//!   [`WriteOutcome`] (1.x partial-write semantics: one bad point never sinks the batch).
//! - Flush (age, size, shutdown): under the epoch lock the WAL rotates and every buffer is taken;
//!   then rows are split by UTC day, sorted by tags then time, streamed as ZSTD Parquet to
//!   `buckets/{bucket_id}/{measurement}/{YYYY-MM-DD}/{file}.parquet` ([`Layout`]), recorded in a
//!   manifest, and only then are the covered WAL segments deleted.
//!
//! ```no_run
//! # async fn demo(engine: engine::Engine, bucket: catalog::Bucket) -> engine::Result<()> {
//! let outcome = engine
//!     .write(engine::WriteRequest {
//!         bucket: &bucket,
//!         body: b"cpu,host=a usage=0.5 1700000000000000000\n",
//!         precision: lp::Precision::Nanoseconds,
//!         received_at_ns: 1_700_000_000_000_000_000,
//!     })
//!     .await?;
//! assert_eq!(outcome.written, 1);
//! # Ok(()) }
//! ```

mod apply;
mod buffer;
mod config;
mod error;
mod flush;
mod flusher;
mod hash;
mod held;
mod idle_poll;
mod layout;
mod manifest;
mod merge;
mod metadata;
mod open;
mod outcome;
mod read;
mod retention;
mod sched;
mod series;
mod shards;
mod snapshot;
mod store;
#[cfg(feature = "test-helpers")]
pub mod test_helpers;
mod visible;
mod wal;
mod watch;
mod write;

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use catalog::{BucketId, Catalog};
use crossbeam::channel::{bounded, Sender};
use dashmap::DashMap;
use object_store::ObjectStore;
use parking_lot::{Mutex, RwLock};

use crate::flusher::Kick;

pub use buffer::{arrow_type, field_type, time_type, TableBuffer, Taken, TIME_COLUMN};
pub use config::{Durability, EngineConfig};
pub use error::{EngineError, Result};
pub use flush::FlushStats;
pub use held::FlushProblem;
pub use layout::{measurement_dir, short_name, Layout, MEASUREMENT_KEY};
pub use manifest::FileEntry;
pub use merge::last_write_wins;
pub use outcome::{unparseable, RejectReason, Rejection, WriteOutcome, REJECTIONS_KEPT};
pub use series::{MeasurementSeries, SeriesKey};
pub use snapshot::{Snapshot, SnapshotFile, SnapshotRequest, TableSnapshot};
pub use store::SyncedLocalStore;
pub use wal::{WalStats, SYNC_BUCKET_BOUNDS_MS};
pub use write::WriteRequest;

/// Lowers the calling thread to the engine's background class (what the flush runs at), so
/// that it runs in the CPU time writers leave over: for a reader's threads.
pub fn lower_current_thread() {
    sched::to_background();
}

/// `YYYY-MM-DD` of a day number since 1970-01-01 (UTC).
pub fn utc_date(day: i64) -> String {
    flush::civil_date(day)
}

type Tables = DashMap<String, Arc<shards::Shards>>;

#[derive(Debug)]
struct Inner {
    catalog: Arc<Catalog>,
    store: Arc<dyn ObjectStore>,
    config: EngineConfig,
    buffers: DashMap<BucketId, Arc<Tables>>,
    /// Approximate bytes in all buffers.
    buffered_bytes: AtomicUsize,
    /// Sequence number of the next write pass: orders rows of different shards for "last
    /// write wins" at flush.
    write_seq: AtomicU64,
    /// Writers hold it shared while they append rows and queue the matching WAL record; a flush
    /// holds it exclusively while it rotates the WAL and takes the buffers. So every row taken
    /// by a flush is in a WAL segment that flush closes, and every row left behind is in a later
    /// one: deleting the closed segments after the flush can never lose a row.
    epoch: RwLock<()>,
    wal: wal::Wal,
    flush_stats: Arc<FlushStats>,
    shutting_down: AtomicBool,
    /// A flush hit a bug (an invariant did not hold) with rows it could no longer hold, or the
    /// flush thread died: rows are only in the WAL now, or would stay in buffers for good. (A failing write of a table's files is not this: its rows are
    /// held, see `held`.)
    flush_failed: AtomicBool,
    /// Bytes of rows in `held`: they count against `max_buffer_bytes` like buffered ones.
    held_bytes: AtomicUsize,
    /// Bytes of the rows the flush in progress took from the buffers: they are still in
    /// memory (and the flush makes copies of them), so they count too.
    flushing_bytes: AtomicUsize,
    /// Writes waiting for room under `max_buffer_bytes`: while there are any, a flush encodes
    /// in parallel (their cores are idle).
    writers_waiting: Arc<AtomicUsize>,
    /// Told when a flush ends (its rows no longer count): waiting writers go on at once.
    room: tokio::sync::Notify,
    /// `wal_through` of the newest durable manifest.
    committed_through: Mutex<Option<u64>>,
    kick: Sender<Kick>,
    coordinator: Mutex<Option<JoinHandle<()>>>,
    /// Rows out of the buffers: the flush in progress, held tables, files durable manifests
    /// name. Lock order: `epoch`, then a shard, then this.
    visible: Mutex<visible::Visible>,
    /// The series of the visible files: updated before a commit makes files visible, after a
    /// retirement hides them, so it always covers what a snapshot sees. Never held with
    /// `visible`.
    series: Mutex<series::SeriesIndex>,
    /// The flush thread's kernel id and whether it runs lowered ([`sched::to_background`])
    /// right now: a writer that sees the flush falling behind raises it again.
    flush_tid: AtomicI32,
    flush_lowered: AtomicBool,
    /// Runs the parts of large bodies beyond the first ([`EngineConfig::apply_threads`]).
    apply_pool: Option<rayon::ThreadPool>,
    idle_poll: Option<idle_poll::IdlePoll>,
}

/// Buffered bytes beyond this many size-triggered flushes' worth mean the flush is behind.
const FLUSH_BACKLOG_TABLES: usize = 2;

impl Inner {
    /// Buffered bytes beyond which the flush is behind (see [`Engine::flush`]).
    fn flush_backlog_bytes(&self) -> usize {
        self.config
            .flush_table_bytes
            .saturating_mul(FLUSH_BACKLOG_TABLES)
    }
}

/// The storage engine. Cheap to clone (an `Arc`).
#[derive(Debug, Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl Engine {
    fn buffered_rows(&self) -> usize {
        let mut rows = 0;
        for bucket in &self.inner.buffers {
            for table in bucket.value().iter() {
                rows += table.value().rows();
            }
        }
        rows
    }

    /// Every Parquet file the manifests name.
    pub fn files(&self) -> Vec<FileEntry> {
        self.inner.visible.lock().files().cloned().collect()
    }

    /// Flushes every buffer now and waits for it (what shutdown does, without stopping). Runs on
    /// the flush thread like every flush: flushes never interleave, so a later one can never
    /// delete a WAL segment an earlier one has not committed.
    pub async fn flush_now(&self) -> Result<()> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.inner
            .kick
            .send(Kick::FlushAndTell(tx))
            .map_err(|_| EngineError::ShuttingDown)?;
        rx.await.map_err(|_| EngineError::ShuttingDown)?
    }

    /// The object store its files are in (readers open a snapshot's files through it).
    pub fn store(&self) -> Arc<dyn ObjectStore> {
        Arc::clone(&self.inner.store)
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// Flush counters.
    pub fn flush_stats(&self) -> &FlushStats {
        &self.inner.flush_stats
    }

    /// WAL counters.
    pub fn wal_stats(&self) -> &WalStats {
        &self.inner.wal.stats
    }

    /// Approximate bytes held in buffers.
    pub fn buffered_bytes(&self) -> usize {
        self.inner.buffered_bytes.load(Ordering::Relaxed)
    }

    /// Whether writes are accepted (false when poisoned or shutting down).
    pub fn is_healthy(&self) -> bool {
        !(self.inner.shutting_down.load(Ordering::SeqCst)
            || self.inner.flush_failed.load(Ordering::SeqCst)
            || self.inner.wal.is_poisoned())
    }

    /// Stops taking writes, flushes everything, and stops the background threads.
    pub fn shutdown(&self) -> Result<()> {
        self.inner.shutting_down.store(true, Ordering::SeqCst);
        let (tx, rx) = bounded(1);
        let result = match self.inner.kick.send(Kick::Stop(tx)) {
            Ok(()) => rx.recv().unwrap_or(Err(EngineError::ShuttingDown)),
            Err(_) => Err(EngineError::ShuttingDown),
        };
        if let Some(handle) = self.inner.coordinator.lock().take() {
            let _ = handle.join();
        }
        self.inner.wal.stop();
        if result.is_ok() {
            // Everything is in Parquet: the spares only speed up writes, and a stopped server
            // should take no more disk than its data (the next start prepares a new one).
            wal::delete_spares(self.inner.config.layout.wal_dir())?;
        }
        result
    }

    fn check_accepting(&self) -> Result<()> {
        if self.inner.shutting_down.load(Ordering::SeqCst) {
            return Err(EngineError::ShuttingDown);
        }
        if self.inner.flush_failed.load(Ordering::SeqCst) || self.inner.wal.is_poisoned() {
            return Err(EngineError::Poisoned);
        }
        Ok(())
    }
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.wal.stop();
    }
}
