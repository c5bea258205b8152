//! `engine` owns points from the moment a write is parsed until they sit in Parquet files: schema
//! validation against the catalog, in-memory Arrow buffers per bucket and measurement, and the
//! flush of those buffers to Parquet through `object_store`.
//!
//! It is not: an HTTP layer (it knows nothing of status codes or JSON), an authority on names and
//! types (that is `catalog`), or a line-protocol parser (that is `lp`, which it calls).
//!
//! # Overview
//! - [`Engine::open`] starts the flush thread and the age ticker.
//! - [`Engine::write`] takes a [`WriteRequest`] (bucket, raw body, precision, receive time),
//!   parses it once with `lp`, checks every point against the measurement's schema, appends the
//!   good points to the measurement's [`TableBuffer`] and reports the rest in the
//!   [`WriteOutcome`] (1.x partial-write semantics: one bad point never sinks the batch).
//! - A buffer is flushed when it passes `flush_table_bytes`, when its oldest row is older than
//!   `flush_interval`, and on [`Engine::shutdown`]: rows are split by UTC day, sorted by tags then
//!   time, and streamed as ZSTD Parquet to
//!   `{parquet_prefix}/{bucket_id}/{measurement}/{YYYY-MM-DD}/{file}.parquet`.
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

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use catalog::{Bucket, BucketId, Catalog, CatalogError, ColumnType, FieldType, TableSchema};
use crossbeam::channel::{bounded, Sender};
use dashmap::DashMap;
use lp::{Line, LineError, ParseOptions, Parser, Precision};
use object_store::path::Path;
use object_store::ObjectStore;
use parking_lot::Mutex;

pub use buffer::{arrow_type, field_type, time_type, TableBuffer, TIME_COLUMN};
pub use flush::FlushStats;

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

/// Why one point was not written.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
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

type Tables = DashMap<String, Arc<Mutex<TableBuffer>>>;

#[derive(Debug)]
struct Inner {
    catalog: Arc<Catalog>,
    config: EngineConfig,
    buffers: DashMap<BucketId, Arc<Tables>>,
    flusher: flush::Flusher,
    stats: Arc<FlushStats>,
    shutting_down: AtomicBool,
    ticker: Mutex<Option<(Sender<()>, JoinHandle<()>)>>,
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

/// The measurement the write loop is on, so consecutive lines of one measurement (the common
/// case) look up their schema and buffer once.
#[derive(Default)]
struct Cursor {
    measurement: String,
    current: Option<(Arc<TableSchema>, Arc<Mutex<TableBuffer>>)>,
    tag_cols: Vec<usize>,
    field_cols: Vec<usize>,
    jobs: Vec<flush::FlushJob>,
}

impl Engine {
    /// Starts the engine: the flush thread and the age ticker.
    pub fn open(
        config: EngineConfig,
        store: Arc<dyn ObjectStore>,
        catalog: Arc<Catalog>,
    ) -> Result<Self> {
        let stats = Arc::new(FlushStats::default());
        let flusher = flush::Flusher::start(
            flush::FlushSettings {
                store,
                prefix: config.parquet_prefix.clone(),
                row_group_rows: config.row_group_rows,
                stats: Arc::clone(&stats),
            },
            64,
        )?;
        let engine = Engine {
            inner: Arc::new(Inner {
                catalog,
                config,
                buffers: DashMap::new(),
                flusher,
                stats,
                shutting_down: AtomicBool::new(false),
                ticker: Mutex::new(None),
            }),
        };
        engine.start_ticker()?;
        Ok(engine)
    }

    /// Flush counters.
    pub fn flush_stats(&self) -> &FlushStats {
        &self.inner.stats
    }

    fn start_ticker(&self) -> Result<()> {
        let (stop_tx, stop_rx) = bounded::<()>(1);
        let weak = Arc::downgrade(&self.inner);
        let period = (self.inner.config.flush_interval / 4)
            .clamp(Duration::from_millis(10), Duration::from_secs(1));
        let handle = std::thread::Builder::new()
            .name("strata-flush-ticker".into())
            .spawn(move || {
                while let Err(crossbeam::channel::RecvTimeoutError::Timeout) =
                    stop_rx.recv_timeout(period)
                {
                    let Some(inner) = weak.upgrade() else { return };
                    let engine = Engine { inner };
                    if let Err(e) = engine.flush_old() {
                        tracing::warn!(error = %e, "age-based flush could not be queued");
                    }
                }
            })
            .map_err(|e| EngineError::Internal(format!("starting the flush ticker: {e}")))?;
        *self.inner.ticker.lock() = Some((stop_tx, handle));
        Ok(())
    }

    /// Queues a flush of every buffer whose oldest row is older than the flush interval.
    fn flush_old(&self) -> Result<()> {
        let interval = self.inner.config.flush_interval;
        self.flush_matching(|buf| buf.oldest().is_some_and(|t| t.elapsed() >= interval))
    }

    fn flush_matching(&self, wanted: impl Fn(&TableBuffer) -> bool) -> Result<()> {
        let mut jobs = Vec::new();
        for bucket in &self.inner.buffers {
            for table in bucket.value().iter() {
                let mut buf = table.value().lock();
                if wanted(&buf) {
                    if let Some(batch) = buf.take()? {
                        jobs.push(flush::FlushJob {
                            bucket: *bucket.key(),
                            measurement: table.key().clone(),
                            batch,
                        });
                    }
                }
            }
        }
        // Submitting can block when the flush queue is full: never while holding a buffer lock.
        for job in jobs {
            self.inner.flusher.submit(job)?;
        }
        Ok(())
    }

    /// Flushes every buffer and waits until the files are written.
    pub fn flush_all(&self) -> Result<()> {
        self.flush_matching(|buf| buf.rows() > 0)?;
        self.inner.flusher.barrier()
    }

    /// Stops taking writes, flushes everything and stops the background threads.
    pub fn shutdown(&self) -> Result<()> {
        self.inner.shutting_down.store(true, Ordering::SeqCst);
        if let Some((stop, handle)) = self.inner.ticker.lock().take() {
            let _ = stop.send(());
            let _ = handle.join();
        }
        tracing::info!("flushing all buffers before shutdown");
        let result = self.flush_all();
        self.inner.flusher.stop();
        result
    }

    /// Writes the points of one request. Bad points are reported in the outcome and do not stop
    /// the others; an `Err` means nothing can be promised about this request.
    pub async fn write(&self, req: WriteRequest<'_>) -> Result<WriteOutcome> {
        if self.inner.shutting_down.load(Ordering::SeqCst) {
            return Err(EngineError::ShuttingDown);
        }
        let opts = ParseOptions {
            precision: req.precision,
            max_string_bytes: self.inner.config.max_string_bytes,
        };
        let default_ns = req.precision.truncate_nanos(req.received_at_ns);
        let mut outcome = WriteOutcome::default();
        // Lines that need new columns wait until the catalog has them: (span, line number).
        let mut deferred: Vec<(std::ops::Range<usize>, usize)> = Vec::new();
        let mut cursor = Cursor::default();
        let mut line = Line::default();
        let mut parser = Parser::new(req.body, opts);
        while let Some(parsed) = parser.next_into(&mut line) {
            match parsed {
                Err(e) => outcome.reject_parse(req.body, &e),
                Ok(()) => match self.apply(req.bucket, &line, default_ns, &mut cursor)? {
                    Applied::Written => outcome.written += 1,
                    Applied::NeedsColumns => deferred.push((line.span.clone(), line.line_no)),
                    Applied::Rejected(reason) => {
                        outcome.reject(req.body, line.line_no, None, line.span.clone(), reason)
                    }
                },
            }
        }
        if !deferred.is_empty() {
            self.write_deferred(&req, opts, default_ns, &deferred, &mut outcome, &mut cursor)
                .await?;
        }
        for job in cursor.jobs {
            self.inner.flusher.submit(job)?;
        }
        Ok(outcome)
    }

    /// Adds the columns the deferred lines need (first type in body order wins, as 1.x), then
    /// writes those lines.
    async fn write_deferred(
        &self,
        req: &WriteRequest<'_>,
        opts: ParseOptions,
        default_ns: i64,
        deferred: &[(std::ops::Range<usize>, usize)],
        outcome: &mut WriteOutcome,
        cursor: &mut Cursor,
    ) -> Result<()> {
        let reparse = |span: &std::ops::Range<usize>| -> Option<Line<'_>> {
            let bytes = req.body.get(span.clone())?;
            Parser::new(bytes, opts).next()?.ok()
        };
        let mut wanted: BTreeMap<String, Vec<(String, ColumnType)>> = BTreeMap::new();
        for (span, _) in deferred {
            let Some(line) = reparse(span) else { continue };
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
        // The catalog changed: look schemas up afresh.
        cursor.current = None;
        for (span, line_no) in deferred {
            let Some(line) = reparse(span) else {
                return Err(EngineError::Internal(
                    "a deferred line no longer parses".into(),
                ));
            };
            match self.apply(req.bucket, &line, default_ns, cursor)? {
                Applied::Written => outcome.written += 1,
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
        Ok(())
    }

    fn table(&self, bucket: BucketId, measurement: &str) -> Arc<Mutex<TableBuffer>> {
        let tables = Arc::clone(
            self.inner
                .buffers
                .entry(bucket)
                .or_insert_with(|| Arc::new(Tables::new()))
                .value(),
        );
        if let Some(t) = tables.get(measurement) {
            return Arc::clone(t.value());
        }
        let table = Arc::clone(tables.entry(measurement.to_owned()).or_default().value());
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
        if cursor.current.is_none() || cursor.measurement != measurement {
            cursor.measurement.clear();
            cursor.measurement.push_str(measurement);
            cursor.current = Some((
                self.inner.catalog.table(bucket.id, measurement),
                self.table(bucket.id, measurement),
            ));
        }
        let Some((schema, table)) = &cursor.current else {
            return Err(EngineError::Internal("no current table".into()));
        };
        let mut buf = table.lock();
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
            let Some((index, ty)) =
                known.or_else(|| schema.column(&field.key).map(|ty| (None, ty)))
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
        buf.append_row(
            cursor
                .tag_cols
                .iter()
                .copied()
                .zip(line.tags.iter().map(|t| &*t.value)),
            cursor
                .field_cols
                .iter()
                .copied()
                .zip(line.fields.iter().map(|f| &f.value)),
            line.timestamp.unwrap_or(default_ns),
        )?;
        if buf.approx_bytes() >= self.inner.config.flush_table_bytes {
            if let Some(batch) = buf.take()? {
                tracing::debug!(bucket = %bucket.id, measurement, rows = batch.num_rows(), "buffer full; flushing");
                cursor.jobs.push(flush::FlushJob {
                    bucket: bucket.id,
                    measurement: measurement.to_owned(),
                    batch,
                });
            }
        }
        Ok(Applied::Written)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some((stop, handle)) = self.ticker.lock().take() {
            let _ = stop.send(());
            // The ticker may be the one dropping us; never join ourselves.
            if handle.thread().id() != std::thread::current().id() {
                let _ = handle.join();
            }
        }
        self.flusher.stop();
    }
}
