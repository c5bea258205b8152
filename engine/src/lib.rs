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
//!   `{parquet_prefix}/{bucket_id}/{measurement}/{YYYY-MM-DD}/{file}.parquet`, recorded in a
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

mod buffer;
mod flush;
mod held;
mod idle_poll;
mod layout;
mod manifest;
mod sched;
mod shards;
mod store;
mod wal;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use catalog::{Bucket, BucketId, Catalog, CatalogError, ColumnType, FieldType, TableSchema};
use crossbeam::channel::{bounded, Receiver, RecvTimeoutError, Sender};
use dashmap::DashMap;
use lp::{Line, LineError, ParseOptions, Parser, Precision};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use parking_lot::{Mutex, RwLock};

pub use buffer::{arrow_type, field_type, time_type, TableBuffer, Taken, TIME_COLUMN};
pub use flush::FlushStats;
pub use held::FlushProblem;
pub use layout::{measurement_dir, short_name, MEASUREMENT_KEY};
pub use manifest::FileEntry;
pub use store::SyncedLocalStore;
pub use wal::{WalStats, SYNC_BUCKET_BOUNDS_MS};

/// Errors of the engine. Per-point problems are not errors: they are [`Rejection`]s in a
/// successful [`WriteOutcome`]. Everything here is a server-side fault.
///
/// Deliberately not `#[non_exhaustive]`: the server's status mapping matches it exhaustively, so
/// a new variant cannot compile until someone decides its status code.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The catalog failed.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The object store failed.
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
    /// Encoding Parquet failed.
    #[error("parquet: {0}")]
    Parquet(String),
    /// The engine is stopping and takes no more writes.
    #[error("the server is shutting down")]
    ShuttingDown,
    /// A WAL write, fsync or flush failed earlier; no write is acknowledged until restart.
    #[error("storage failed earlier; writes are refused until the server is restarted")]
    Poisoned,
    /// Buffers are over `max_buffer_bytes` and flushing has not caught up.
    #[error("write buffers are full; retry shortly")]
    Overloaded,
    /// Reading or writing the WAL failed.
    #[error("WAL: {0}")]
    Wal(String),
    /// A bug: an invariant did not hold.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Crate result type.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;

/// How the engine is tuned. Built by the server from its flags; no defaults live here.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Prefix of Parquet files in the object store.
    pub parquet_prefix: Path,
    /// Flush a measurement's buffer once it holds about this many bytes.
    pub flush_table_bytes: usize,
    /// Flush a measurement's buffer once its oldest row is this old.
    pub flush_interval: Duration,
    /// Rows per Parquet row group.
    pub row_group_rows: usize,
    /// Longest accepted string field value.
    pub max_string_bytes: usize,
    /// Longest accepted line.
    pub max_line_bytes: usize,
    /// Prefix of the flush manifests in the object store.
    pub manifest_prefix: Path,
    /// Local directory of the WAL segments (must be a real disk: the WAL fsyncs).
    pub wal_dir: std::path::PathBuf,
    /// Most bytes all buffers together may hold; beyond it writes wait for a flush, then get
    /// [`EngineError::Overloaded`].
    pub max_buffer_bytes: usize,
    /// What an acknowledged write promises.
    pub durability: Durability,
    /// Shards per measurement buffer: concurrent writes to one measurement append to different
    /// shards (one per thread that appends is enough; 1 restores a single locked buffer).
    pub buffer_shards: usize,
    /// Threads that take on parts of a large body while the writer's own thread does the first
    /// part, so one request's latency is not all of its parsing on one core (0: every body is
    /// done on its writer's thread).
    pub apply_threads: usize,
    /// After each write, keep the CPUs from halting for this long (one `SCHED_IDLE` spinning
    /// thread per CPU; see `idle_poll`). Zero: off.
    pub idle_poll: Duration,
}

/// What a successful [`Engine::write`] promises. There is one policy, and it is the product's
/// promise: no acknowledgement without an fsync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Every accepted point is in a WAL segment on local disk that was `fdatasync`'d (and, for a
    /// new segment, whose directory entry was synced) before the write returns. It survives
    /// `kill -9` and power loss, given a disk that honours flushes. Concurrent writes share one
    /// sync (group commit, no timer). If a write or sync fails, the engine refuses every later
    /// write until restart rather than acknowledge data it may have lost.
    SyncedWal,
}

/// One write: a raw line-protocol body for a resolved bucket.
#[derive(Debug, Clone, Copy)]
pub struct WriteRequest<'a> {
    /// Where the points go.
    pub bucket: &'a Bucket,
    /// The line-protocol body (decompressed).
    pub body: &'a [u8],
    /// Unit of the body's timestamps.
    pub precision: Precision,
    /// When the request arrived, in nanoseconds: the time of lines without a timestamp (truncated
    /// to `precision`, as 1.x does).
    pub received_at_ns: i64,
}

/// Why one point was not written. Not `#[non_exhaustive]`: the server's metrics match it
/// exhaustively, so a new reason must be given a metric label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RejectReason {
    /// The line did not parse.
    Parse(lp::ErrorKind),
    /// A field's type differs from the type the measurement already has for it.
    FieldTypeConflict {
        /// Field name.
        field: String,
        /// Measurement name.
        measurement: String,
        /// Type in this point.
        got: FieldType,
        /// Type already recorded.
        existing: FieldType,
    },
    /// A tag uses the name of an existing field, or a field the name of an existing tag.
    ColumnKindConflict {
        /// Column name.
        name: String,
        /// Measurement name.
        measurement: String,
        /// What the column already is: `tag` or `field`.
        existing: &'static str,
    },
    /// The point is older than the bucket's retention period allows.
    BeyondRetention,
    /// `time` is reserved for the timestamp.
    ReservedName {
        /// Measurement name.
        measurement: String,
        /// Whether a tag (else a field) used the name.
        tag: bool,
    },
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RejectReason::Parse(kind) => write!(f, "{kind}"),
            RejectReason::FieldTypeConflict {
                field,
                measurement,
                got,
                existing,
            } => write!(
                f,
                "field type conflict: input field \"{field}\" on measurement \"{measurement}\" is type {}, already exists as type {}",
                got.name(),
                existing.name()
            ),
            RejectReason::ColumnKindConflict {
                name,
                measurement,
                existing,
            } => write!(
                f,
                "column conflict: \"{name}\" on measurement \"{measurement}\" already exists as a {existing}"
            ),
            RejectReason::BeyondRetention => f.write_str("points beyond retention policy"),
            RejectReason::ReservedName { measurement, tag } => {
                if *tag {
                    write!(f, "invalid tag key: input tag \"time\" on measurement \"{measurement}\" is invalid")
                } else {
                    write!(f, "invalid field name: input field \"time\" on measurement \"{measurement}\" is invalid")
                }
            }
        }
    }
}

/// A point that was not written, for the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// 1-based physical line number in the body.
    pub line: usize,
    /// 1-based byte column, when the problem has a position.
    pub column: Option<usize>,
    /// Why.
    pub reason: RejectReason,
    /// The line, truncated for display.
    pub text: String,
}

/// What a write did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteOutcome {
    /// Points written.
    pub written: usize,
    /// The first [`REJECTIONS_KEPT`] rejected points, in body order.
    pub rejected: Vec<Rejection>,
    /// All rejected points.
    pub rejected_total: usize,
}

/// The outcome of a body in which no line parses (`None` if at least one does): lets a caller
/// refuse such a request before it changes anything, e.g. before creating a bucket for it.
pub fn unparseable(
    body: &[u8],
    precision: Precision,
    limits: &EngineConfig,
) -> Option<WriteOutcome> {
    let mut outcome = WriteOutcome::default();
    let opts = ParseOptions {
        precision,
        max_string_bytes: limits.max_string_bytes,
        max_line_bytes: limits.max_line_bytes,
        max_key_bytes: lp::MAX_KEY_BYTES,
    };
    for line in Parser::new(body, opts) {
        match line {
            Ok(_) => return None,
            Err(e) => outcome.reject_parse(body, &e),
        }
    }
    Some(outcome).filter(|o| o.rejected_total > 0)
}

/// `YYYY-MM-DD` of a day number since 1970-01-01 (UTC).
pub fn utc_date(day: i64) -> String {
    flush::civil_date(day)
}

/// How many rejections a [`WriteOutcome`] details (the count covers all).
pub const REJECTIONS_KEPT: usize = 100;

impl WriteOutcome {
    fn reject(
        &mut self,
        body: &[u8],
        err_line: usize,
        column: Option<usize>,
        span: std::ops::Range<usize>,
        reason: RejectReason,
    ) {
        self.rejected_total += 1;
        if self.rejected.len() < REJECTIONS_KEPT {
            let text = LineError {
                line: err_line,
                column: 0,
                kind: lp::ErrorKind::InvalidPoint,
                span,
            }
            .excerpt(body)
            .into_owned();
            self.rejected.push(Rejection {
                line: err_line,
                column,
                reason,
                text,
            });
        }
    }

    fn reject_parse(&mut self, body: &[u8], e: &LineError) {
        self.reject(
            body,
            e.line,
            Some(e.column),
            e.span.clone(),
            RejectReason::Parse(e.kind),
        );
    }
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
    /// A flush hit a bug (an invariant did not hold) with rows it could no longer hold: they
    /// are only in the WAL now. (A failing write of a table's files is not this: its rows are
    /// held, see `held`.)
    flush_failed: AtomicBool,
    /// Tables whose flush failed, with their rows; only the flush thread changes it.
    held: Mutex<held::Held>,
    /// Bytes of rows in `held`: they count against `max_buffer_bytes` like buffered ones.
    held_bytes: AtomicUsize,
    /// `wal_through` of the newest durable manifest.
    committed_through: Mutex<Option<u64>>,
    kick: Sender<Kick>,
    coordinator: Mutex<Option<JoinHandle<()>>>,
    /// Every Parquet file the manifests name (minus those expired since start).
    files: Mutex<Vec<FileEntry>>,
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

/// Writes slower than this are logged at debug level with where their time went.
const SLOW_WRITE: Duration = Duration::from_millis(10);

/// Smallest part of a body worth a pass on another thread: the hand-off costs tens of
/// microseconds; 64 KiB of Telegraf lines take ~400 µs to parse and append.
const PART_MIN_BYTES: usize = 64 * 1024;
/// Runs a large body is cut into per thread that may take them (see `first_passes`).
const PARTS_PER_THREAD: usize = 4;

/// How often the flush thread looks for files past their bucket's retention.
const RETENTION_CHECK_INTERVAL: Duration = Duration::from_secs(60);

#[derive(Debug)]
enum Kick {
    /// A buffer is over its size threshold.
    Flush,
    /// Flush everything and answer.
    FlushAndTell(tokio::sync::oneshot::Sender<Result<()>>),
    /// Flush everything, then stop; answers when done.
    Stop(Sender<Result<()>>),
}

/// The storage engine. Cheap to clone (an `Arc`).
#[derive(Debug, Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

/// What happened to one parsed line.
enum Applied {
    Written,
    /// The line names columns the catalog does not have yet.
    NeedsColumns,
    Rejected(RejectReason),
}

/// Per-measurement state of one write pass: its schema and buffer (looked up once), and the
/// column layout of the last line appended to it (`tag_cols`/`field_cols` for keys
/// `layout_tags`/`layout_fields`). Telegraf repeats the same keys line after line, so most lines
/// skip every map lookup and type check.
struct TableCursor {
    measurement: String,
    schema: Arc<TableSchema>,
    table: Arc<shards::Shards>,
    /// The shard this pass appends to (one per pass, so a pass's rows keep their order).
    shard: usize,
    /// That shard, locked, while this pass keeps it: one lock per pass and measurement instead
    /// of one per line. Released at the end of the pass ([`Cursor::settle`]).
    guard: Option<shards::ShardGuard>,
    /// Bytes this pass appended, not yet added to the measurement's and the engine's totals.
    bytes_added: usize,
    tag_cols: Vec<usize>,
    field_cols: Vec<usize>,
    layout_tags: Vec<String>,
    layout_fields: Vec<(String, FieldType)>,
    layout_valid: bool,
}

impl TableCursor {
    fn layout_matches(&self, line: &Line<'_>) -> bool {
        self.layout_valid
            && self.layout_tags.len() == line.tags.len()
            && self.layout_fields.len() == line.fields.len()
            && self
                .layout_tags
                .iter()
                .zip(&line.tags)
                .all(|(k, t)| buffer::eq_short(k, &t.key))
            && self
                .layout_fields
                .iter()
                .zip(&line.fields)
                .all(|((k, ty), f)| {
                    *ty == buffer::field_type(&f.value) && buffer::eq_short(k, &f.key)
                })
    }

    fn remember_layout(&mut self, line: &Line<'_>) {
        // Reuse the strings' allocations: a layout change costs copies, not allocations.
        self.layout_tags.resize_with(line.tags.len(), String::new);
        for (k, t) in self.layout_tags.iter_mut().zip(&line.tags) {
            k.clear();
            k.push_str(&t.key);
        }
        self.layout_fields
            .resize_with(line.fields.len(), || (String::new(), FieldType::Float));
        for ((k, ty), f) in self.layout_fields.iter_mut().zip(&line.fields) {
            k.clear();
            k.push_str(&f.key);
            *ty = buffer::field_type(&f.value);
        }
        self.layout_valid = true;
    }
}

/// Most measurements one pass keeps cursors for; beyond it the set starts over (bounded memory
/// and bounded linear search).
const CURSORS_MAX: usize = 32;

/// State of one write pass over a body.
#[derive(Default)]
struct Cursor {
    tables: Vec<TableCursor>,
    active: usize,
    flush_wanted: bool,
    /// Points older than this (ns) are beyond the bucket's retention.
    retention_cutoff_ns: Option<i64>,
    /// This pass's sequence number (see [`TableBuffer::append_row`]).
    seq: u64,
}

impl Cursor {
    /// Starts a pass: takes its sequence number and forgets schemas and layouts (the catalog
    /// may have changed since the last pass).
    fn begin(&mut self, inner: &Inner) {
        self.settle(inner);
        self.tables.clear();
        self.active = 0;
        self.seq = inner.write_seq.fetch_add(1, Ordering::Relaxed);
    }

    /// Ends the pass's hold on its shards, adds the pass's bytes to the measurements' and the
    /// engine's totals (once per pass and measurement, not per line: the counters are shared
    /// by every worker), and notes whether a measurement is due for a size flush.
    fn settle(&mut self, inner: &Inner) {
        let mut added = 0;
        for tc in &mut self.tables {
            tc.guard = None;
            let bytes = std::mem::take(&mut tc.bytes_added);
            if bytes > 0 {
                added += bytes;
                if tc.table.add_bytes(bytes) >= inner.config.flush_table_bytes {
                    self.flush_wanted = true;
                }
            }
        }
        let total = inner.buffered_bytes.fetch_add(added, Ordering::Relaxed) + added;
        if inner.flush_lowered.load(Ordering::Relaxed)
            && total > inner.flush_backlog_bytes()
            && inner.flush_lowered.swap(false, Ordering::AcqRel)
        {
            // The flush in progress no longer keeps up at low priority: it would fall further
            // behind with every write, so it competes as an equal from here on.
            sched::to_foreground(inner.flush_tid.load(Ordering::Relaxed));
        }
    }
}

/// Lines accepted in one pass, framed as the WAL record that will hold them.
struct Accepted {
    record: Vec<u8>,
}

impl Accepted {
    /// Room for `line_bytes` of lines: the whole body on the first pass (usually every line
    /// is accepted), only the deferred lines on the second.
    fn for_request(req: &WriteRequest<'_>, default_time_ns: i64, line_bytes: usize) -> Self {
        let mut record = Vec::with_capacity(wal::RECORD_PREFIX_BYTES + line_bytes + 1);
        wal::WalWrite::begin_record(&mut record, req.bucket.id, req.precision, default_time_ns);
        Accepted { record }
    }

    fn push(&mut self, body: &[u8], span: std::ops::Range<usize>) {
        if let Some(line) = body.get(span) {
            wal::push_line(&mut self.record, line);
        }
    }

    fn is_empty(&self) -> bool {
        self.record.len() <= wal::RECORD_PREFIX_BYTES
    }

    /// Appends the lines of `next`, begun for the same request.
    fn append(&mut self, next: &Accepted) {
        if let Some(lines) = next.record.get(wal::RECORD_PREFIX_BYTES..) {
            self.record.extend_from_slice(lines);
        }
    }
}

/// What the first pass over (a part of) a body did.
struct Pass {
    outcome: WriteOutcome,
    accepted: Accepted,
    /// Lines that need columns the catalog lacks: (span, line number).
    deferred: Vec<(std::ops::Range<usize>, usize)>,
    flush_wanted: bool,
}

impl Pass {
    /// Adds the pass over the next part of the body.
    fn absorb(&mut self, next: Pass) {
        self.outcome.written += next.outcome.written;
        self.outcome.rejected_total += next.outcome.rejected_total;
        let room = REJECTIONS_KEPT.saturating_sub(self.outcome.rejected.len());
        self.outcome
            .rejected
            .extend(next.outcome.rejected.into_iter().take(room));
        self.accepted.append(&next.accepted);
        self.deferred.extend(next.deferred);
        self.flush_wanted |= next.flush_wanted;
    }
}

/// Points older than this (ns) are beyond the bucket's retention.
fn retention_cutoff(req: &WriteRequest<'_>) -> Option<i64> {
    req.bucket
        .retention_ns
        .map(|r| req.received_at_ns.saturating_sub(r))
}

impl Engine {
    /// Opens the engine: deletes Parquet files of unfinished flushes, replays the WAL segments no
    /// manifest covers into the buffers, then starts the WAL thread and the flush coordinator.
    pub async fn open(
        config: EngineConfig,
        store: Arc<dyn ObjectStore>,
        catalog: Arc<Catalog>,
    ) -> Result<Self> {
        std::fs::create_dir_all(&config.wal_dir)
            .map_err(|e| EngineError::Wal(format!("creating {}: {e}", config.wal_dir.display())))?;
        let manifests = manifest::load(store.as_ref(), &config.manifest_prefix).await?;
        let orphans =
            manifest::delete_orphans(store.as_ref(), &config.parquet_prefix, &manifests.files)
                .await?;
        let held = held::Held::from_manifest(
            manifests
                .retained
                .iter()
                .map(|r| ((BucketId(r.bucket), r.measurement.clone()), r.since)),
        );
        if let Some(through) = release_point(manifests.wal_through, held.oldest_since()) {
            // Left behind by a crash between a manifest and the deletion it allows.
            wal::release_through(&config.wal_dir, through)?;
        }
        let segments = wal::list_segments(&config.wal_dir)?;
        let next_segment = segments
            .last()
            .map(|s| s + 1)
            .or(manifests.wal_through.map(|t| t + 1))
            .unwrap_or(0);
        let (kick_tx, kick_rx) = bounded(1);
        let flush_stats = Arc::new(FlushStats::default());
        let apply_pool = match config.apply_threads {
            0 => None,
            n => Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n)
                    .thread_name(|i| format!("strata-apply-{i}"))
                    .build()
                    .map_err(|e| EngineError::Internal(format!("starting apply threads: {e}")))?,
            ),
        };
        let poller = idle_poll::IdlePoll::start(config.idle_poll);
        let engine = Engine {
            inner: Arc::new(Inner {
                catalog,
                store,
                wal: wal::Wal::start(config.wal_dir.clone(), next_segment)?,
                config,
                buffers: DashMap::new(),
                buffered_bytes: AtomicUsize::new(0),
                flush_tid: AtomicI32::new(0),
                flush_lowered: AtomicBool::new(false),
                apply_pool,
                idle_poll: poller,
                write_seq: AtomicU64::new(0),
                epoch: RwLock::new(()),
                flush_stats,
                shutting_down: AtomicBool::new(false),
                flush_failed: AtomicBool::new(false),
                held: Mutex::new(held),
                held_bytes: AtomicUsize::new(0),
                committed_through: Mutex::new(manifests.wal_through),
                kick: kick_tx,
                coordinator: Mutex::new(None),
                files: Mutex::new(manifests.entries),
            }),
        };
        engine.replay(&segments, manifests.wal_through).await?;
        tracing::info!(
            replayed_segments = segments.len(),
            orphans_deleted = orphans,
            buffered_rows = engine.buffered_rows(),
            "engine open"
        );
        engine.start_coordinator(kick_rx)?;
        Ok(engine)
    }

    /// Replays WAL segments into the buffers. Whenever the buffers reach a flush's size, what
    /// is replayed so far is written to Parquet and its segments released before going on:
    /// replay needs no more memory than running does, and a server that crashes again and
    /// again still makes progress instead of replaying an ever longer WAL.
    ///
    /// Segments up to `covered` (the newest manifest's) are in Parquet but for the tables
    /// the manifest lists as held: only their lines are replayed from those segments.
    async fn replay(&self, segments: &[u64], covered: Option<u64>) -> Result<()> {
        let started = std::time::Instant::now();
        let mut records = 0usize;
        let mut cursor = Cursor::default();
        let ids = flush::FileIds::new();
        for (i, &seq) in segments.iter().enumerate() {
            let filtered = covered.is_some_and(|c| seq <= c);
            let contents =
                wal::read_segment(&self.inner.config.wal_dir, seq, i + 1 == segments.len())?;
            tracing::info!(
                segment = seq,
                records = contents.writes.len(),
                torn_bytes = contents.torn_bytes,
                "replaying WAL segment"
            );
            for w in contents.writes {
                records += 1;
                let bucket = self.inner.catalog.bucket(w.bucket).ok_or_else(|| {
                    EngineError::Wal(format!(
                        "segment {seq} names bucket {} that the catalog does not know",
                        w.bucket
                    ))
                })?;
                // Limits applied when the lines were accepted; replay must not re-judge them.
                let opts = ParseOptions {
                    precision: w.precision,
                    max_string_bytes: usize::MAX,
                    max_line_bytes: usize::MAX,
                    max_key_bytes: usize::MAX,
                };
                cursor.begin(&self.inner);
                let mut line = Line::default();
                let mut parser = Parser::new(&w.body, opts);
                let held = self.inner.held.lock();
                while let Some(parsed) = parser.next_into(&mut line) {
                    if filtered
                        && (parsed.is_err()
                            || !held.covers(&(w.bucket, line.measurement.to_string()), seq))
                    {
                        continue;
                    }
                    let applied = match parsed {
                        Ok(()) => self.apply(&bucket, &line, w.default_time_ns, &mut cursor)?,
                        Err(e) => Applied::Rejected(RejectReason::Parse(e.kind)),
                    };
                    match applied {
                        Applied::Written => {}
                        Applied::NeedsColumns => {
                            return Err(EngineError::Wal(format!(
                                "segment {seq}: a logged point of measurement \"{}\" needs columns the catalog lacks",
                                layout::short_name(&line.measurement),
                            )))
                        }
                        Applied::Rejected(reason) => {
                            tracing::warn!(segment = seq, %reason, "a logged point no longer validates; skipped")
                        }
                    }
                }
                drop(held);
            }
            cursor.settle(&self.inner);
            // Not while replaying covered segments: a manifest for them exists already.
            if !filtered
                && self.inner.buffered_bytes.load(Ordering::SeqCst)
                    >= self.inner.config.flush_table_bytes
            {
                cursor.begin(&self.inner);
                let jobs = self.take_buffers();
                self.persist(jobs, seq, &ids, "replay", false, std::time::Instant::now())
                    .await?;
            }
        }
        cursor.settle(&self.inner);
        if records > 0 {
            tracing::info!(
                records,
                ms = started.elapsed().as_millis() as u64,
                "WAL replay done"
            );
        }
        Ok(())
    }

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
        self.inner.files.lock().clone()
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

    fn start_coordinator(&self, kick_rx: Receiver<Kick>) -> Result<()> {
        let weak = Arc::downgrade(&self.inner);
        let interval = self.inner.config.flush_interval;
        let period = (interval / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
        let handle = std::thread::Builder::new()
            .name("strata-flush".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        tracing::error!(error = %e, "flush thread cannot start its runtime");
                        return;
                    }
                };
                let ids = flush::FileIds::new();
                let mut last_expiry: Option<std::time::Instant> = None;
                loop {
                    if last_expiry.is_none_or(|t| t.elapsed() >= RETENTION_CHECK_INTERVAL) {
                        if let Some(inner) = weak.upgrade() {
                            if let Err(e) = (Engine { inner }).expire(&rt, now_ns()) {
                                tracing::warn!(error = %e, "deleting expired files failed; will retry");
                            }
                        }
                        last_expiry = Some(std::time::Instant::now());
                    }
                    let msg = kick_rx.recv_timeout(period);
                    let Some(inner) = weak.upgrade() else { return };
                    let engine = Engine { inner };
                    match msg {
                        Ok(Kick::Stop(done)) => {
                            let _ = done.send(engine.flush(&rt, &ids, "shutdown", true));
                            return;
                        }
                        Ok(Kick::Flush) => {
                            let _ = engine.flush(&rt, &ids, "size", false);
                        }
                        Ok(Kick::FlushAndTell(done)) => {
                            let _ = done.send(engine.flush(&rt, &ids, "requested", true));
                        }
                        Err(RecvTimeoutError::Timeout) => {
                            if engine.oldest_is_older_than(interval) {
                                let _ = engine.flush(&rt, &ids, "age", false);
                            } else if engine.held_due() {
                                let _ = engine.flush(&rt, &ids, "retry", false);
                            }
                        }
                        Err(RecvTimeoutError::Disconnected) => return,
                    }
                }
            })
            .map_err(|e| EngineError::Internal(format!("starting the flush thread: {e}")))?;
        *self.inner.coordinator.lock() = Some(handle);
        Ok(())
    }

    fn expire(&self, rt: &tokio::runtime::Runtime, now_ns: i64) -> Result<usize> {
        rt.block_on(self.expire_files(now_ns))
    }

    /// Deletes Parquet files whose newest point is older than their bucket's retention allows at
    /// `now_ns`; returns how many. The flush thread runs this every minute.
    pub async fn expire_files(&self, now_ns: i64) -> Result<usize> {
        let expired: Vec<FileEntry> = {
            let files = self.inner.files.lock();
            files
                .iter()
                .filter(|f| {
                    self.inner
                        .catalog
                        .bucket(BucketId(f.bucket))
                        .and_then(|b| b.retention_ns)
                        .is_some_and(|r| f.max_time_ns < now_ns.saturating_sub(r))
                })
                .cloned()
                .collect()
        };
        for f in &expired {
            let path = Path::from(f.path.as_str());
            match self.inner.store.delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {
                    tracing::info!(path = %f.path, rows = f.rows, "deleted file past its bucket's retention");
                }
                Err(e) => return Err(e.into()),
            }
        }
        if !expired.is_empty() {
            let gone: std::collections::HashSet<&str> =
                expired.iter().map(|f| f.path.as_str()).collect();
            self.inner
                .files
                .lock()
                .retain(|f| !gone.contains(f.path.as_str()));
        }
        Ok(expired.len())
    }

    fn oldest_is_older_than(&self, age: Duration) -> bool {
        self.inner.buffers.iter().any(|bucket| {
            bucket
                .value()
                .iter()
                .any(|t| t.value().oldest().is_some_and(|o| o.elapsed() >= age))
        })
    }

    /// Whether a held table is due for another attempt.
    fn held_due(&self) -> bool {
        self.inner.held.lock().any_due(std::time::Instant::now())
    }

    /// The tables whose flush is failing (their rows are held in memory and the WAL, and
    /// retried with back-off).
    pub fn flush_problems(&self) -> Vec<FlushProblem> {
        self.inner.held.lock().problems()
    }

    /// One flush: rotate + take (exclusive epoch), write files, manifest, delete WAL segments.
    /// `retry_all` attempts held tables whatever their back-off (an explicit request, stop).
    fn flush(
        &self,
        rt: &tokio::runtime::Runtime,
        ids: &flush::FileIds,
        reason: &str,
        retry_all: bool,
    ) -> Result<()> {
        if self.inner.flush_failed.load(Ordering::SeqCst) {
            return Err(EngineError::Poisoned);
        }
        let started = std::time::Instant::now();
        // Behind, it competes with writers as an equal; otherwise it yields to them (a flush
        // is a long burst of CPU that would stretch the latency of writes in flight) — but
        // only after the exclusive section below: every writer waits for it, so it must not
        // be preempted by them while it holds the lock (priority inversion). Writers bring it
        // back to the default class if it falls behind meanwhile (`Cursor::settle`).
        let behind =
            self.inner.buffered_bytes.load(Ordering::Relaxed) > self.inner.flush_backlog_bytes();
        let (rotation, jobs) = {
            let _epoch = self.inner.epoch.write();
            let held_due = {
                let held = self.inner.held.lock();
                match retry_all {
                    true => !held.is_empty(),
                    false => held.any_due(std::time::Instant::now()),
                }
            };
            if self.inner.buffered_bytes.load(Ordering::SeqCst) == 0
                && self.buffered_rows() == 0
                && !held_due
            {
                return Ok(());
            }
            // Queued, not awaited: the WAL's order alone puts every record of the rows taken
            // here in the segment it closes, and later ones in the next. Waiting here for the
            // WAL thread (behind a sync in progress, a few ms; a disk stall, hundreds) held every
            // writer for as long.
            let rotation = self.inner.wal.start_rotation()?;
            (rotation, self.take_buffers())
        };
        // Writers waited this long (the epoch lock), the latency a flush adds to writes.
        tracing::debug!(
            paused_writes_ms = started.elapsed().as_secs_f64() * 1e3,
            "buffers taken, WAL rotation queued"
        );
        let closed = rotation.recv().map_err(|_| EngineError::ShuttingDown)??;
        if !behind {
            self.inner
                .flush_tid
                .store(sched::thread_id(), Ordering::Relaxed);
            sched::to_background();
            self.inner.flush_lowered.store(true, Ordering::Release);
        }
        let result = rt.block_on(self.persist(jobs, closed, ids, reason, retry_all, started));
        // Between flushes the thread waits at the default class, so that a flush starts
        // as soon as it is due even on a saturated CPU.
        if self.inner.flush_lowered.swap(false, Ordering::AcqRel) {
            sched::to_foreground(0);
        }
        result
    }

    /// Every buffer's rows, as flush jobs, leaving the buffers empty. Only pointer swaps:
    /// turning the buffers into Arrow arrays happens in [`Self::persist`], so writers (who
    /// wait while a flush holds the epoch lock) wait for this, not for the flush.
    fn take_buffers(&self) -> Vec<flush::FlushJob> {
        let mut jobs = Vec::new();
        for bucket in &self.inner.buffers {
            for table in bucket.value().iter() {
                let parts = table.value().take_all();
                if !parts.is_empty() {
                    jobs.push(flush::FlushJob {
                        bucket: *bucket.key(),
                        measurement: table.key().clone(),
                        parts,
                    });
                }
            }
        }
        self.inner.buffered_bytes.store(0, Ordering::SeqCst);
        jobs
    }

    /// Writes each table's Parquet files (the jobs' rows and those held from failed flushes),
    /// then the manifest saying WAL segments up to `through` are in Parquet but for the tables
    /// still held, then releases the segments no held table needs. A table whose files cannot
    /// be written is held and retried later (`held`); the others go on. `Err` only for a bug,
    /// which poisons the engine.
    async fn persist(
        &self,
        jobs: Vec<flush::FlushJob>,
        through: u64,
        ids: &flush::FileIds,
        reason: &str,
        retry_all: bool,
        started: std::time::Instant,
    ) -> Result<()> {
        let now = std::time::Instant::now();
        let first_new = self.inner.committed_through.lock().map_or(0, |t| t + 1);
        let mut work: Vec<(held::TableKey, Vec<TableBuffer>)> = jobs
            .into_iter()
            .map(|j| ((j.bucket, j.measurement), j.parts))
            .collect();
        for key in self.inner.held.lock().keys() {
            if !work.iter().any(|(k, _)| *k == key) {
                work.push((key, Vec::new()));
            }
        }
        let rows: usize = work
            .iter()
            .flat_map(|(_, parts)| parts)
            .map(TableBuffer::rows)
            .sum();
        tracing::info!(
            reason,
            rows,
            tables = work.len(),
            wal_segment = through,
            "flush started"
        );
        let settings = flush::FlushSettings {
            store: Arc::clone(&self.inner.store),
            prefix: self.inner.config.parquet_prefix.clone(),
            row_group_rows: self.inner.config.row_group_rows,
            stats: Arc::clone(&self.inner.flush_stats),
        };
        let mut files = Vec::new();
        // Tables whose files were written: held again if the manifest fails.
        let mut written: Vec<(held::TableKey, u64, Option<Taken>)> = Vec::new();
        let mut failed = 0usize;
        for (key, parts) in work {
            let (since, due, held_rows) = {
                let mut held = self.inner.held.lock();
                let due = retry_all || held.is_due(&key, now);
                (held.since(&key, first_new), due, held.take_rows(&key))
            };
            if !due {
                let mut rows = held_rows;
                for mut part in parts {
                    rows.extend(part.take().map_err(|e| self.flush_bug(e))?);
                }
                let bytes = rows.iter().map(taken_bytes).sum();
                self.inner.held.lock().keep(key, since, rows, bytes);
                continue;
            }
            let merged = match flush::merge_parts(held_rows, parts) {
                Ok(Some(merged)) => merged,
                Ok(None) => {
                    // Held after a restart, but none of its lines came back from the WAL.
                    written.push((key, since, None));
                    continue;
                }
                Err(e) => return Err(self.flush_bug(e)),
            };
            match flush::write_job(&settings, ids, key.0, &key.1, &merged).await {
                Ok(entries) => {
                    files.extend(entries);
                    written.push((key, since, Some(merged)));
                }
                Err(e) => {
                    failed += 1;
                    self.hold_failed(key, since, merged, e.to_string());
                }
            }
        }
        let retained = self.retained_for_manifest();
        let committed = match manifest::commit(
            self.inner.store.as_ref(),
            &self.inner.config.manifest_prefix,
            through,
            files.clone(),
            retained,
        )
        .await
        {
            Ok(()) => Ok(()),
            // A commit reported as failed may still have landed (a reply lost after the
            // write): then it stands, and deleting its files would lose rows.
            Err(e) => match manifest::exists(
                self.inner.store.as_ref(),
                &self.inner.config.manifest_prefix,
                through,
            )
            .await
            {
                true => Ok(()),
                false => Err(e),
            },
        };
        if let Err(e) = committed {
            // Nothing of this flush is durable: its files are orphans, its rows held.
            for f in &files {
                let _ = self.inner.store.delete(&Path::from(f.path.as_str())).await;
            }
            for (key, since, merged) in written {
                if let Some(merged) = merged {
                    self.hold_failed(key, since, merged, format!("writing the manifest: {e}"));
                }
            }
            self.inner
                .flush_stats
                .failures
                .fetch_add(1, Ordering::Relaxed);
            self.note_held_bytes();
            tracing::error!(error = %e, "writing the flush manifest failed; every table of this flush is held and retried (its rows are safe in the WAL)");
            return Ok(());
        }
        *self.inner.committed_through.lock() = Some(through);
        let n = files.len();
        self.inner.files.lock().extend(files);
        let oldest_held = {
            let mut held = self.inner.held.lock();
            for (key, _, _) in &written {
                held.flushed(key);
            }
            held.oldest_since()
        };
        self.note_held_bytes();
        let deleted = match release_point(Some(through), oldest_held) {
            Some(upto) => match wal::release_through(&self.inner.config.wal_dir, upto) {
                Ok(n) => n,
                Err(e) => {
                    // The segments stay; a later flush or start-up releases them.
                    tracing::warn!(error = %e, "releasing WAL segments failed");
                    0
                }
            },
            None => 0,
        };
        self.inner
            .flush_stats
            .flushes
            .fetch_add(1, Ordering::Relaxed);
        tracing::info!(
            reason,
            rows,
            files = n,
            tables_held = failed,
            wal_segments_deleted = deleted,
            ms = started.elapsed().as_millis() as u64,
            "flush done"
        );
        Ok(())
    }

    /// Holds a table's rows after a failed attempt, and says so.
    fn hold_failed(&self, key: held::TableKey, since: u64, rows: Taken, error: String) {
        let bytes = taken_bytes(&rows);
        let n = rows.batch.num_rows();
        let failures =
            self.inner
                .held
                .lock()
                .failed(key.clone(), since, rows, bytes, error.clone());
        self.inner
            .flush_stats
            .table_failures
            .fetch_add(1, Ordering::Relaxed);
        tracing::error!(
            bucket = %key.0,
            measurement = %layout::short_name(&key.1),
            rows = n,
            failures,
            error,
            "flushing a table failed; its rows stay in memory and in the WAL, and are retried"
        );
        self.note_held_bytes();
    }

    fn note_held_bytes(&self) {
        let bytes = self.inner.held.lock().bytes();
        self.inner.held_bytes.store(bytes, Ordering::Relaxed);
    }

    /// What the next manifest records of the held tables.
    fn retained_for_manifest(&self) -> Vec<manifest::Retained> {
        self.inner
            .held
            .lock()
            .retained()
            .into_iter()
            .map(|((bucket, measurement), since)| manifest::Retained {
                bucket: bucket.0,
                measurement,
                since,
            })
            .collect()
    }

    /// A bug in a flush: the rows it held are gone from memory (they are in the WAL), so no
    /// later flush may release segments past them. Refuse writes until a restart replays them.
    fn flush_bug(&self, e: EngineError) -> EngineError {
        self.inner.flush_failed.store(true, Ordering::SeqCst);
        self.inner
            .flush_stats
            .failures
            .fetch_add(1, Ordering::Relaxed);
        tracing::error!(error = %e, "flush failed on a bug; refusing writes until restart (data is safe in the WAL)");
        e
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
            wal::delete_spares(&self.inner.config.wal_dir)?;
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

    /// Waits (bounded) for buffers to drop under the limit.
    async fn wait_for_room(&self) -> Result<()> {
        let limit = self.inner.config.max_buffer_bytes;
        for _ in 0..500 {
            let held = self.inner.held_bytes.load(Ordering::Relaxed);
            if self.inner.buffered_bytes.load(Ordering::Relaxed) + held < limit {
                return Ok(());
            }
            let _ = self.inner.kick.try_send(Kick::Flush);
            tokio::time::sleep(Duration::from_millis(10)).await;
            self.check_accepting()?;
        }
        Err(EngineError::Overloaded)
    }

    /// Writes the points of one request and returns once every accepted point is durable (see
    /// [`Durability`]). Bad points are reported in the outcome and do not stop the others; an
    /// `Err` means nothing about this request may be assumed durable.
    pub async fn write(&self, req: WriteRequest<'_>) -> Result<WriteOutcome> {
        let entered = std::time::Instant::now();
        self.touch_poll();
        self.check_accepting()?;
        self.wait_for_room().await?;
        let opts = ParseOptions {
            precision: req.precision,
            max_string_bytes: self.inner.config.max_string_bytes,
            max_line_bytes: self.inner.config.max_line_bytes,
            max_key_bytes: lp::MAX_KEY_BYTES,
        };
        let default_ns = req.precision.truncate_nanos(req.received_at_ns);
        // A cursor per pass, dropped before any `.await`: it holds shard locks while it runs.
        let new_cursor = || Cursor {
            retention_cutoff_ns: retention_cutoff(&req),
            ..Cursor::default()
        };
        let mut acks = Vec::with_capacity(2);
        let (locked, applied, pass);
        {
            let _epoch = self.inner.epoch.read();
            locked = entered.elapsed();
            pass = self.first_passes(&req, opts, default_ns)?;
            applied = entered.elapsed();
            acks.extend(self.log(pass.accepted)?);
        }
        let mut outcome = pass.outcome;
        let mut flush_wanted = pass.flush_wanted;
        // Lines that need new columns wait until the catalog has them: (span, line number).
        let deferred = pass.deferred;
        if !deferred.is_empty() {
            self.add_columns_for(&req, opts, &deferred).await?;
            let _epoch = self.inner.epoch.read();
            let deferred_bytes = deferred.iter().map(|(span, _)| span.len() + 1).sum();
            let mut accepted = Accepted::for_request(&req, default_ns, deferred_bytes);
            // The catalog changed: look schemas up afresh.
            let mut cursor = new_cursor();
            cursor.begin(&self.inner);
            for (span, line_no) in &deferred {
                let Some(line) = reparse(req.body, span, opts) else {
                    return Err(EngineError::Internal(
                        "a deferred line no longer parses".into(),
                    ));
                };
                match self.apply(req.bucket, &line, default_ns, &mut cursor)? {
                    Applied::Written => {
                        outcome.written += 1;
                        accepted.push(req.body, span.clone());
                    }
                    Applied::Rejected(reason) => {
                        outcome.reject(req.body, *line_no, None, span.clone(), reason)
                    }
                    Applied::NeedsColumns => {
                        return Err(EngineError::Internal(format!(
                            "line {line_no} still lacks columns after the catalog added them"
                        )))
                    }
                }
            }
            cursor.settle(&self.inner);
            flush_wanted |= cursor.flush_wanted;
            acks.extend(self.log(accepted)?);
        }
        if flush_wanted {
            let _ = self.inner.kick.try_send(Kick::Flush);
        }
        let logged = entered.elapsed();
        for ack in acks {
            ack.await.map_err(|_| EngineError::ShuttingDown)??;
        }
        let total = entered.elapsed();
        if total > SLOW_WRITE {
            // Where a slow write's time went: waiting for the epoch lock (a flush taking
            // buffers), parsing and appending, queueing the WAL record, waiting for its sync.
            tracing::debug!(
                total_ms = total.as_secs_f64() * 1e3,
                lock_ms = locked.as_secs_f64() * 1e3,
                apply_ms = (applied - locked).as_secs_f64() * 1e3,
                log_ms = (logged - applied).as_secs_f64() * 1e3,
                sync_wait_ms = (total - logged).as_secs_f64() * 1e3,
                points = outcome.written,
                "slow write"
            );
        }
        // Rejections are sorted by line for the response: deferred lines were handled last.
        outcome.rejected.sort_by_key(|r| r.line);
        // The window starts again at the acknowledgement: the client's next request, and the
        // wake-up of whoever handles it, follow it.
        self.touch_poll();
        Ok(outcome)
    }

    fn touch_poll(&self) {
        if let Some(p) = &self.inner.idle_poll {
            p.touch();
        }
    }

    /// The first pass over a request's body: parses every line and appends those whose columns
    /// the catalog has. A large body is cut into runs of whole lines ([`lp::chunks`]), several
    /// per thread, that this thread and the apply threads take one at a time, each run with its
    /// own cursor (so its own shard); their results are joined in body order into one outcome
    /// and one WAL record, so the request is still logged, and acknowledged, as a whole. Later
    /// parts get later pass sequence numbers: a point repeated further down the body still wins
    /// at flush. Runs are taken, not assigned: an apply thread whose idle vCPU is slow to wake
    /// (milliseconds, on a busy host) leaves more of the body to the threads already running
    /// instead of holding the request until its fixed share is done.
    fn first_passes(
        &self,
        req: &WriteRequest<'_>,
        opts: ParseOptions,
        default_ns: i64,
    ) -> Result<Pass> {
        let whole = || lp::Chunk {
            range: 0..req.body.len(),
            first_line: 1,
        };
        let (pool, chunks) = match &self.inner.apply_pool {
            Some(pool) if req.body.len() >= 2 * PART_MIN_BYTES => (
                pool,
                lp::chunks(
                    req.body,
                    (pool.current_num_threads() + 1) * PARTS_PER_THREAD,
                    PART_MIN_BYTES,
                ),
            ),
            _ => {
                let seq = self.inner.write_seq.fetch_add(1, Ordering::Relaxed);
                return self.pass(req, opts, default_ns, &whole(), seq, req.body.len());
            }
        };
        let first_seq = self
            .inner
            .write_seq
            .fetch_add(chunks.len() as u64, Ordering::Relaxed);
        let slots: Vec<Mutex<Option<Result<Pass>>>> =
            chunks.iter().map(|_| Mutex::new(None)).collect();
        let next = AtomicUsize::new(0);
        let take_runs = || loop {
            let k = next.fetch_add(1, Ordering::Relaxed);
            let (Some(chunk), Some(slot)) = (chunks.get(k), slots.get(k)) else {
                break;
            };
            // The first run's record gets room for the whole body: the others are appended.
            let room = if k == 0 {
                req.body.len()
            } else {
                chunk.range.len()
            };
            let pass = self.pass(req, opts, default_ns, chunk, first_seq + k as u64, room);
            *slot.lock() = Some(pass);
        };
        pool.in_place_scope(|scope| {
            let take_runs = &take_runs;
            for _ in 0..pool
                .current_num_threads()
                .min(chunks.len().saturating_sub(1))
            {
                scope.spawn(move |_| take_runs());
            }
            take_runs();
        });
        let results = slots.into_iter().map(Mutex::into_inner);
        let mut joined: Option<Pass> = None;
        for result in results {
            let pass = result.ok_or_else(|| {
                EngineError::Internal("a part of the body was not processed".into())
            })??;
            match &mut joined {
                None => joined = Some(pass),
                Some(j) => j.absorb(pass),
            }
        }
        joined.ok_or_else(|| EngineError::Internal("a body with no parts".into()))
    }

    /// Parses the lines of `chunk` and appends them to the buffers as pass `seq`; lines that
    /// need new columns are left for a second pass. `record_bytes`: room to reserve for the
    /// pass's WAL record.
    fn pass(
        &self,
        req: &WriteRequest<'_>,
        opts: ParseOptions,
        default_ns: i64,
        chunk: &lp::Chunk,
        seq: u64,
        record_bytes: usize,
    ) -> Result<Pass> {
        let mut cursor = Cursor {
            retention_cutoff_ns: retention_cutoff(req),
            seq,
            ..Cursor::default()
        };
        let mut pass = Pass {
            outcome: WriteOutcome::default(),
            accepted: Accepted::for_request(req, default_ns, record_bytes),
            deferred: Vec::new(),
            flush_wanted: false,
        };
        let mut line = Line::default();
        let mut parser = chunk.parser(req.body, opts);
        let mut result = Ok(());
        while let Some(parsed) = parser.next_into(&mut line) {
            let applied = match parsed {
                Err(e) => {
                    pass.outcome.reject_parse(req.body, &e);
                    continue;
                }
                Ok(()) => self.apply(req.bucket, &line, default_ns, &mut cursor),
            };
            match applied {
                Ok(Applied::Written) => {
                    pass.outcome.written += 1;
                    pass.accepted.push(req.body, line.span.clone());
                }
                Ok(Applied::NeedsColumns) => pass.deferred.push((line.span.clone(), line.line_no)),
                Ok(Applied::Rejected(reason)) => {
                    pass.outcome
                        .reject(req.body, line.line_no, None, line.span.clone(), reason)
                }
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        // Also after an error: what was appended is counted, and flushed with the rest.
        cursor.settle(&self.inner);
        pass.flush_wanted = cursor.flush_wanted;
        result.map(|()| pass)
    }

    /// Appends already-parsed points to the buffers **without logging them**: not durable, and
    /// points naming columns the catalog lacks are skipped. Exists to measure the buffer path
    /// alone (`benches/benches/engine.rs`); servers use [`Engine::write`]. Returns how many
    /// points were appended.
    pub fn append_unlogged(
        &self,
        bucket: &Bucket,
        lines: &[Line<'_>],
        default_time_ns: i64,
    ) -> Result<usize> {
        let _epoch = self.inner.epoch.read();
        let mut cursor = Cursor::default();
        cursor.begin(&self.inner);
        let mut n = 0;
        for line in lines {
            if let Applied::Written = self.apply(bucket, line, default_time_ns, &mut cursor)? {
                n += 1;
            }
        }
        cursor.settle(&self.inner);
        Ok(n)
    }

    /// Queues the accepted lines of one pass to the WAL (nothing when none were accepted).
    fn log(
        &self,
        mut accepted: Accepted,
    ) -> Result<Option<tokio::sync::oneshot::Receiver<Result<()>>>> {
        if accepted.is_empty() {
            return Ok(None);
        }
        wal::finish_record(&mut accepted.record);
        self.inner.wal.append(accepted.record).map(Some)
    }

    /// Adds the columns the deferred lines need (first type in body order wins, as 1.x).
    async fn add_columns_for(
        &self,
        req: &WriteRequest<'_>,
        opts: ParseOptions,
        deferred: &[(std::ops::Range<usize>, usize)],
    ) -> Result<()> {
        let mut wanted: BTreeMap<String, Vec<(String, ColumnType)>> = BTreeMap::new();
        for (span, _) in deferred {
            let Some(line) = reparse(req.body, span, opts) else {
                continue;
            };
            let cols = wanted.entry(line.measurement.to_string()).or_default();
            let tags = line
                .tags
                .iter()
                .map(|t| (t.key.to_string(), ColumnType::Tag));
            let fields = line.fields.iter().map(|f| {
                (
                    f.key.to_string(),
                    ColumnType::Field(buffer::field_type(&f.value)),
                )
            });
            for (name, ty) in tags.chain(fields) {
                if name != TIME_COLUMN && !cols.iter().any(|(n, _)| *n == name) {
                    cols.push((name, ty));
                }
            }
        }
        for (measurement, cols) in wanted {
            self.inner
                .catalog
                .add_columns(req.bucket.id, &measurement, cols)
                .await?;
        }
        Ok(())
    }

    fn table(&self, bucket: BucketId, measurement: &str) -> Arc<shards::Shards> {
        // Look up before inserting: `entry` write-locks a map shard, which every concurrent
        // pass would then queue on.
        let tables = match self.inner.buffers.get(&bucket) {
            Some(t) => Arc::clone(t.value()),
            None => Arc::clone(
                self.inner
                    .buffers
                    .entry(bucket)
                    .or_insert_with(|| Arc::new(Tables::new()))
                    .value(),
            ),
        };
        if let Some(t) = tables.get(measurement) {
            return Arc::clone(t.value());
        }
        let shards = self.inner.config.buffer_shards;
        let table = Arc::clone(
            tables
                .entry(measurement.to_owned())
                .or_insert_with(|| Arc::new(shards::Shards::new(shards)))
                .value(),
        );
        table
    }

    /// Validates one line against its measurement's schema and appends it.
    fn apply(
        &self,
        bucket: &Bucket,
        line: &Line<'_>,
        default_ns: i64,
        cursor: &mut Cursor,
    ) -> Result<Applied> {
        let measurement: &str = &line.measurement;
        let active_matches = cursor
            .tables
            .get(cursor.active)
            .is_some_and(|t| t.measurement == measurement);
        if !active_matches {
            if let Some(i) = cursor
                .tables
                .iter()
                .position(|t| t.measurement == measurement)
            {
                cursor.active = i;
            } else {
                if cursor.tables.len() >= CURSORS_MAX {
                    cursor.settle(&self.inner);
                    cursor.tables.clear();
                }
                let table = self.table(bucket.id, measurement);
                cursor.tables.push(TableCursor {
                    measurement: measurement.to_owned(),
                    schema: self.inner.catalog.table(bucket.id, measurement),
                    shard: table.pick(),
                    guard: None,
                    table,
                    bytes_added: 0,
                    tag_cols: Vec::new(),
                    field_cols: Vec::new(),
                    layout_tags: Vec::new(),
                    layout_fields: Vec::new(),
                    layout_valid: false,
                });
                cursor.active = cursor.tables.len() - 1;
            }
        }
        let Some(tc) = cursor.tables.get_mut(cursor.active) else {
            return Err(EngineError::Internal("no current table".into()));
        };
        let time_ns = line.timestamp.unwrap_or(default_ns);
        if cursor
            .retention_cutoff_ns
            .is_some_and(|cutoff| time_ns < cutoff)
        {
            return Ok(Applied::Rejected(RejectReason::BeyondRetention));
        }
        let mut buf = match tc.guard.take() {
            Some(g) => g,
            None => match tc.table.try_lock(tc.shard) {
                Some(g) => g,
                None => {
                    // Never wait for a shard while holding another (two passes could then
                    // wait for each other): let go of every held shard first.
                    let active = cursor.active;
                    for t in &mut cursor.tables {
                        t.guard = None;
                    }
                    let Some(t) = cursor.tables.get(active) else {
                        return Err(EngineError::Internal("no current table".into()));
                    };
                    t.table.lock(t.shard)
                }
            },
        };
        let Some(tc) = cursor.tables.get_mut(cursor.active) else {
            return Err(EngineError::Internal("no current table".into()));
        };
        if !tc.layout_matches(line) {
            match resolve_columns(&mut buf, line, tc)? {
                Applied::Written => tc.remember_layout(line),
                other => {
                    tc.layout_valid = false;
                    tc.guard = Some(buf);
                    return Ok(other);
                }
            }
        }
        let before = buf.approx_bytes();
        buf.append_row(
            tc.tag_cols
                .iter()
                .copied()
                .zip(line.tags.iter().map(|t| &*t.value)),
            tc.field_cols
                .iter()
                .copied()
                .zip(line.fields.iter().map(|f| &f.value)),
            time_ns,
            cursor.seq,
        )?;
        tc.bytes_added += buf.approx_bytes().saturating_sub(before);
        tc.guard = Some(buf);
        Ok(Applied::Written)
    }
}

/// Maps every tag and field of `line` to a buffer column (adding columns the catalog already
/// has), checking kinds and types; fills `cursor.tag_cols` / `cursor.field_cols`. `Written`
/// means the line may be appended.
fn resolve_columns(
    buf: &mut TableBuffer,
    line: &Line<'_>,
    cursor: &mut TableCursor,
) -> Result<Applied> {
    let schema = Arc::clone(&cursor.schema);
    let measurement: &str = &line.measurement;
    cursor.tag_cols.clear();
    cursor.field_cols.clear();
    for tag in &line.tags {
        if tag.key == TIME_COLUMN {
            return Ok(Applied::Rejected(RejectReason::ReservedName {
                measurement: measurement.to_owned(),
                tag: true,
            }));
        }
        let known = buf.column(&tag.key).map(|(i, ty)| (Some(i), ty));
        let Some((index, ty)) = known.or_else(|| schema.column(&tag.key).map(|ty| (None, ty)))
        else {
            return Ok(Applied::NeedsColumns);
        };
        match ty {
            ColumnType::Tag => cursor
                .tag_cols
                .push(index.unwrap_or_else(|| buf.add_column(&tag.key, ty))),
            ColumnType::Field(_) => {
                return Ok(Applied::Rejected(RejectReason::ColumnKindConflict {
                    name: tag.key.to_string(),
                    measurement: measurement.to_owned(),
                    existing: "field",
                }))
            }
        }
    }
    for field in &line.fields {
        if field.key == TIME_COLUMN {
            return Ok(Applied::Rejected(RejectReason::ReservedName {
                measurement: measurement.to_owned(),
                tag: false,
            }));
        }
        let got = buffer::field_type(&field.value);
        let known = buf.column(&field.key).map(|(i, ty)| (Some(i), ty));
        let Some((index, ty)) = known.or_else(|| schema.column(&field.key).map(|ty| (None, ty)))
        else {
            return Ok(Applied::NeedsColumns);
        };
        match ty {
            ColumnType::Field(existing) if existing == got => cursor
                .field_cols
                .push(index.unwrap_or_else(|| buf.add_column(&field.key, ty))),
            ColumnType::Field(existing) => {
                return Ok(Applied::Rejected(RejectReason::FieldTypeConflict {
                    field: field.key.to_string(),
                    measurement: measurement.to_owned(),
                    got,
                    existing,
                }))
            }
            ColumnType::Tag => {
                return Ok(Applied::Rejected(RejectReason::ColumnKindConflict {
                    name: field.key.to_string(),
                    measurement: measurement.to_owned(),
                    existing: "tag",
                }))
            }
        }
    }
    Ok(Applied::Written)
}

/// The newest WAL segment that may be released: every one up to the newest manifest's, but
/// none a held table still needs.
fn release_point(covered: Option<u64>, oldest_held: Option<u64>) -> Option<u64> {
    match oldest_held {
        Some(since) => covered.min(since.checked_sub(1)),
        None => covered,
    }
}

/// Memory a batch holds (what held rows count against `max_buffer_bytes`).
fn taken_bytes(t: &Taken) -> usize {
    use arrow::array::Array;
    t.batch.get_array_memory_size() + t.seq.get_array_memory_size()
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// Parses the single line at `span` of `body` again.
fn reparse<'b>(
    body: &'b [u8],
    span: &std::ops::Range<usize>,
    opts: ParseOptions,
) -> Option<Line<'b>> {
    let bytes = body.get(span.clone())?;
    Parser::new(bytes, opts).next()?.ok()
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.wal.stop();
    }
}
