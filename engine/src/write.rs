//! The write path: a request's body parsed once (in parts on the apply threads when large),
//! appended, logged as one WAL record and acknowledged after its sync.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use catalog::{Bucket, ColumnType};
use lp::{Line, ParseOptions, Parser, Precision};
use parking_lot::Mutex;

use crate::apply::{Applied, Cursor};
use crate::{
    buffer, wal, Engine, EngineError, Kick, Result, WriteOutcome, REJECTIONS_KEPT, TIME_COLUMN,
};

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

/// Writes slower than this are logged at debug level with where their time went.
const SLOW_WRITE: Duration = Duration::from_millis(10);

/// Smallest part of a body worth a pass on another thread: the hand-off costs tens of
/// microseconds; 64 KiB of Telegraf lines take ~400 µs to parse and append.
const PART_MIN_BYTES: usize = 64 * 1024;

/// Runs a large body is cut into per thread that may take them (see `first_passes`).
const PARTS_PER_THREAD: usize = 4;

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

/// A line that needs columns the catalog lacks: its span and line number.
type Deferred = (std::ops::Range<usize>, usize);

/// What the first pass over (a part of) a body did.
pub(crate) struct Pass {
    outcome: WriteOutcome,
    accepted: Accepted,
    deferred: Vec<Deferred>,
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
    /// Waits (bounded) for buffers to drop under the limit.
    async fn wait_for_room(&self) -> Result<()> {
        let limit = self.inner.config.max_buffer_bytes;
        // Counted while it waits (see `Inner::writers_waiting`).
        struct Waiting<'a>(Option<&'a AtomicUsize>);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                if let Some(n) = self.0 {
                    n.fetch_sub(1, Ordering::Relaxed);
                }
            }
        }
        let mut waiting = Waiting(None);
        // As long as 500 waits of 10 ms: what a writer gives the flush before "overloaded".
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::time::Instant::now() < deadline {
            // Registered before the check: a flush that ends in between still wakes it.
            let room = self.inner.room.notified();
            let held = self.inner.held_bytes.load(Ordering::Relaxed)
                + self.inner.flushing_bytes.load(Ordering::Relaxed);
            if self.inner.buffered_bytes.load(Ordering::Relaxed) + held < limit {
                return Ok(());
            }
            if waiting.0.is_none() {
                self.inner.writers_waiting.fetch_add(1, Ordering::Relaxed);
                waiting.0 = Some(&self.inner.writers_waiting);
                if self.inner.flush_lowered.swap(false, Ordering::AcqRel) {
                    // Writers now wait for the flush in progress: it must not yield to them.
                    crate::sched::to_foreground(self.inner.flush_tid.load(Ordering::Relaxed));
                }
            }
            let _ = self.inner.kick.try_send(Kick::Flush);
            // Woken by the flush's end; the timeout bounds a wait for room freed otherwise
            // (held rows written, a poisoned engine).
            let _ = tokio::time::timeout(Duration::from_millis(10), room).await;
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
        // Lines that need new columns wait until the catalog has them.
        let deferred = pass.deferred;
        if !deferred.is_empty() {
            let from = self.add_columns_for(&req, opts, &deferred).await?;
            let (accepted, wanted) =
                self.second_pass(&req, opts, default_ns, &deferred, &from, &mut outcome)?;
            flush_wanted |= wanted;
            acks.extend(self.log(accepted)?);
        }
        if flush_wanted {
            let _ = self.inner.kick.try_send(Kick::Flush);
        }
        let logged = entered.elapsed();
        for ack in acks {
            // An answer dropped unsent: the WAL thread stopped, or died (then it is poisoned).
            ack.await.map_err(|_| match self.inner.wal.is_poisoned() {
                true => EngineError::Poisoned,
                false => EngineError::ShuttingDown,
            })??;
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
        // One pass number per part, in body order.
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
            let seq = first_seq + k as u64;
            let pass = self.pass(req, opts, default_ns, chunk, seq, room);
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
    pub(crate) fn pass(
        &self,
        req: &WriteRequest<'_>,
        opts: ParseOptions,
        default_ns: i64,
        chunk: &lp::Chunk,
        seq: u64,
        record_bytes: usize,
    ) -> Result<Pass> {
        let mut cursor = Cursor::new(retention_cutoff(req), seq);
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
                Ok(Applied::NeedsColumns) => {
                    pass.deferred.push((line.span.clone(), line.line_no));
                }
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

    /// Appends the deferred lines once the catalog has their columns, in one pass (one epoch:
    /// no flush between its rows), under a pass number after the first passes'. A flush may
    /// have taken the first passes' rows meanwhile, and files order writes by flush, not by
    /// pass number: so every line after a measurement's first deferred line is appended
    /// again here, in body order, and the body's last write of a point is the last appended
    /// wherever its earlier ones went (a repeat of a point is harmless: it has the same
    /// values). `from`: each such measurement's first deferred line's start. Records the deferred
    /// lines in `outcome`; returns what to log and whether a flush is due.
    fn second_pass(
        &self,
        req: &WriteRequest<'_>,
        opts: ParseOptions,
        default_ns: i64,
        deferred: &[Deferred],
        from: &HashMap<String, usize>,
        outcome: &mut WriteOutcome,
    ) -> Result<(Accepted, bool)> {
        let line_of: HashMap<usize, usize> = deferred
            .iter()
            .map(|(span, line_no)| (span.start, *line_no))
            .collect();
        let Some((start, first_line)) = deferred.iter().map(|(s, n)| (s.start, *n)).min() else {
            return Ok((Accepted::for_request(req, default_ns, 0), false));
        };
        let _epoch = self.inner.epoch.read();
        let mut accepted = Accepted::for_request(req, default_ns, req.body.len() - start);
        // The catalog changed: look schemas up afresh.
        let mut cursor = Cursor::new(retention_cutoff(req), 0);
        cursor.begin(&self.inner);
        let tail = lp::Chunk {
            range: start..req.body.len(),
            first_line,
        };
        let mut parser = tail.parser(req.body, opts);
        let mut line = Line::default();
        while let Some(parsed) = parser.next_into(&mut line) {
            if parsed.is_err() {
                continue; // reported by the first pass
            }
            let was_deferred = line_of.get(&line.span.start).copied();
            let again = from
                .get(&*line.measurement)
                .is_some_and(|&first| line.span.start >= first);
            if was_deferred.is_none() && !again {
                continue;
            }
            match self.apply(req.bucket, &line, default_ns, &mut cursor)? {
                Applied::Written => {
                    outcome.written += usize::from(was_deferred.is_some());
                    accepted.push(req.body, line.span.clone());
                }
                // A line the first pass took or rejected stays as it was.
                Applied::Rejected(reason) => {
                    if let Some(line_no) = was_deferred {
                        outcome.reject(req.body, line_no, None, line.span.clone(), reason)
                    }
                }
                Applied::NeedsColumns => {
                    return Err(EngineError::Internal(format!(
                        "line {} still lacks columns after the catalog added them",
                        line.line_no
                    )))
                }
            }
        }
        cursor.settle(&self.inner);
        Ok((accepted, cursor.flush_wanted))
    }

    /// Adds the columns the deferred lines need (first type in body order wins, as 1.x).
    /// Returns where each of their measurements' first deferred line starts.
    async fn add_columns_for(
        &self,
        req: &WriteRequest<'_>,
        opts: ParseOptions,
        deferred: &[Deferred],
    ) -> Result<HashMap<String, usize>> {
        let mut wanted: BTreeMap<String, Vec<(String, ColumnType)>> = BTreeMap::new();
        let mut from: HashMap<String, usize> = HashMap::new();
        for (span, _) in deferred {
            let Some(line) = reparse(req.body, span, opts) else {
                continue;
            };
            from.entry(line.measurement.to_string())
                .or_insert(span.start);
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
        Ok(from)
    }
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
