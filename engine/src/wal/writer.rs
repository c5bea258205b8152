//! The WAL thread (group commit, rotation, poisoning) and its handle, [`Wal`].

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam::channel::{bounded, Receiver, Sender};
use parking_lot::Mutex;

use super::record::{close_record, salt, salt_record};
use super::segment::{open_segment, segment_path, Segment};
use super::spares::{list_spares, run_prep, spare_bytes_for};
use super::{io_err, WalStats, RESERVED_BYTES, SEGMENT_BYTES};
use crate::{EngineError, Result};

/// Largest group written with one sync; more waits for the next group.
const GROUP_BYTES_MAX: usize = 16 * 1024 * 1024;
/// Largest record a request commits itself (see [`Wal::append`]). A big record's sync takes
/// milliseconds, during which the request's HTTP worker could parse other requests: those go
/// to the WAL thread, so parsing and syncing overlap.
const INLINE_RECORD_BYTES_MAX: usize = 64 * 1024;
/// A group commit slower than this is logged (debug) with where its time went.
const SLOW_SYNC: Duration = Duration::from_millis(5);
/// How often a growing segment looks for a spare to move to.
pub(super) const SPARE_CHECK_INTERVAL: Duration = Duration::from_millis(100);

type Ack = tokio::sync::oneshot::Sender<Result<()>>;

pub(super) enum Msg {
    Append {
        record: Vec<u8>,
        done: Ack,
    },
    /// Close the current segment and open the next; answers the closed segment's number.
    Rotate {
        done: Sender<Result<u64>>,
    },
}

/// Handle to the WAL thread (and its spare-preparing helper).
#[derive(Debug)]
pub(crate) struct Wal {
    tx: Mutex<Option<Sender<Msg>>>,
    /// The open segment. The WAL thread holds it while it commits a group; a request that
    /// finds it free and nothing queued commits its own record (see [`Wal::append`]).
    pub(super) writer: Arc<Mutex<Writer>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    prep: Mutex<Option<(Sender<u64>, JoinHandle<()>)>>,
    /// Tells the helper thread to end (the writer holds a sender too, so a closed channel
    /// cannot).
    prep_stop: Arc<AtomicBool>,
    poisoned: Arc<AtomicBool>,
    /// Rotations queued and not yet done (see [`Wal::start_rotation`]); while any is, no
    /// request commits its own record, which could land in the segment being closed.
    rotations_pending: Arc<AtomicUsize>,
    pub(crate) stats: Arc<WalStats>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Msg::Append { record, .. } => write!(f, "Append({} bytes)", record.len()),
            Msg::Rotate { .. } => f.write_str("Rotate"),
        }
    }
}

impl Wal {
    /// Starts the WAL thread writing to a new segment `seq` in `dir`.
    pub(crate) fn start(dir: PathBuf, seq: u64) -> Result<Self> {
        // Left by a preparation that a crash interrupted.
        for entry in std::fs::read_dir(&dir)
            .map_err(|e| io_err(&dir, e))?
            .flatten()
        {
            let path = entry.path();
            if path.extension().is_some_and(|x| x == "tmp") {
                let _ = std::fs::remove_file(&path);
            }
        }
        let segment = open_segment(&dir, seq)?;
        let (tx, rx) = bounded(4096);
        let (prep_tx, prep_rx) = bounded(1);
        let poisoned = Arc::new(AtomicBool::new(false));
        let rotations_pending = Arc::new(AtomicUsize::new(0));
        let stats = Arc::new(WalStats::default());
        let prep_dir = dir.clone();
        let prep_stop = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&prep_stop);
        let prep_poisoned = Arc::clone(&poisoned);
        let prep = std::thread::Builder::new()
            .name("strata-wal-prep".into())
            .spawn(move || {
                let _watch = crate::watch::OnPanic::new("strata-wal-prep", move || {
                    prep_poisoned.store(true, Ordering::SeqCst)
                });
                run_prep(prep_dir, prep_rx, &stop)
            })
            .map_err(|e| EngineError::Wal(format!("starting the WAL helper thread: {e}")))?;
        let _ = prep_tx.try_send(RESERVED_BYTES);
        let writer = Arc::new(Mutex::new(Writer {
            dir,
            segment,
            last_spare_check: Instant::now(),
            poisoned: Arc::clone(&poisoned),
            stats: Arc::clone(&stats),
            prep: prep_tx.clone(),
            buf: Vec::with_capacity(1 << 20),
            scratch: Vec::new(),
            rotations_pending: Arc::clone(&rotations_pending),
        }));
        let shared = Arc::clone(&writer);
        let wal_poisoned = Arc::clone(&poisoned);
        let thread = std::thread::Builder::new()
            .name("strata-wal".into())
            .spawn(move || {
                let _watch = crate::watch::OnPanic::new("strata-wal", move || {
                    wal_poisoned.store(true, Ordering::SeqCst)
                });
                run(&shared, rx)
            })
            .map_err(|e| EngineError::Wal(format!("starting the WAL thread: {e}")))?;
        Ok(Wal {
            tx: Mutex::new(Some(tx)),
            writer,
            thread: Mutex::new(Some(thread)),
            prep: Mutex::new(Some((prep_tx, prep))),
            prep_stop,
            poisoned,
            rotations_pending,
            stats,
        })
    }

    pub(crate) fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::SeqCst)
    }

    pub(super) fn sender(&self) -> Result<Sender<Msg>> {
        self.tx.lock().clone().ok_or(EngineError::ShuttingDown)
    }

    /// Logs a framed record; the receiver resolves once it is durable (or failed).
    ///
    /// When the record is small, nothing is queued and no group is being committed, the caller
    /// writes and syncs its record itself, and the receiver is already resolved: a lone writer then pays one
    /// sync and no thread hand-offs (two wake-ups, a sizeable part of a small write's round
    /// trip on a virtual machine). Otherwise the record joins the WAL thread's next group.
    /// The caller holds the engine's epoch lock either way, so a record is always in the
    /// segment that was open when its rows were buffered.
    pub(crate) fn append(
        &self,
        record: Vec<u8>,
    ) -> Result<tokio::sync::oneshot::Receiver<Result<()>>> {
        if self.is_poisoned() {
            return Err(EngineError::Poisoned);
        }
        let (done, rx) = tokio::sync::oneshot::channel();
        let sender = self.sender()?;
        if record.len() <= INLINE_RECORD_BYTES_MAX && sender.is_empty() {
            // A rotation still queued decides which segment this record belongs in: the
            // WAL thread's order does, not this shortcut (checked under the writer lock, under
            // which the WAL thread lowers the count once the new segment is open).
            if let Some(mut w) = self
                .writer
                .try_lock()
                .filter(|_| self.rotations_pending.load(Ordering::SeqCst) == 0)
            {
                w.buf.clear();
                w.push(&record);
                let result = w.commit(1);
                w.maybe_move_on();
                let _ = done.send(result);
                return Ok(rx);
            }
        }
        sender
            .send(Msg::Append { record, done })
            .map_err(|_| EngineError::ShuttingDown)?;
        Ok(rx)
    }

    /// Queues a rotation: everything queued so far is made durable in the current segment,
    /// then the next one starts; the receiver gets the number of the segment closed. Records
    /// logged after this call go to the next segment, so a flush can take the buffers and let
    /// writers go on at once instead of holding them while the WAL syncs.
    pub(crate) fn start_rotation(&self) -> Result<Receiver<Result<u64>>> {
        let (done, rx) = bounded(1);
        let sender = self.sender()?;
        self.rotations_pending.fetch_add(1, Ordering::SeqCst);
        if sender.send(Msg::Rotate { done }).is_err() {
            self.rotations_pending.fetch_sub(1, Ordering::SeqCst);
            return Err(EngineError::ShuttingDown);
        }
        Ok(rx)
    }

    /// [`Self::start_rotation`], waiting for it.
    #[cfg(test)]
    pub(crate) fn rotate(&self) -> Result<u64> {
        self.start_rotation()?
            .recv()
            .map_err(|_| EngineError::ShuttingDown)?
    }

    pub(crate) fn stop(&self) {
        drop(self.tx.lock().take());
        if let Some(t) = self.thread.lock().take() {
            let _ = t.join();
        }
        if let Some((wake, t)) = self.prep.lock().take() {
            self.prep_stop.store(true, Ordering::SeqCst);
            let _ = wake.try_send(0); // only a wake-up: the thread sees `prep_stop` first
            let _ = t.join();
        }
    }
}

pub(super) struct Writer {
    dir: PathBuf,
    segment: Segment,
    /// Looking for spares is a directory listing: at most once per [`SPARE_CHECK_INTERVAL`].
    last_spare_check: Instant,
    poisoned: Arc<AtomicBool>,
    stats: Arc<WalStats>,
    /// Asks the helper thread for a zero-filled spare of this many bytes.
    prep: Sender<u64>,
    /// The group being committed.
    buf: Vec<u8>,
    /// Room for an aligned copy of a group, for direct writes.
    scratch: Vec<u8>,
    /// Shared with [`Wal::rotations_pending`]; lowered, under the writer lock, once a queued
    /// rotation is done.
    rotations_pending: Arc<AtomicUsize>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Writer(segment {}, at {})",
            self.segment.seq, self.segment.pos
        )
    }
}

/// The WAL thread: takes everything queued, commits it as one group under the writer lock,
/// then answers every waiter; whatever arrived meanwhile is the next group.
fn run(writer: &Mutex<Writer>, rx: Receiver<Msg>) {
    // Every acknowledgement waits for this thread; queued behind request parsing and Parquet
    // encoding it added up to 10 ms to a commit on two cores (see `sched`).
    let realtime = crate::sched::to_realtime();
    tracing::debug!(realtime, "WAL thread started");
    let mut records: Vec<Vec<u8>> = Vec::new();
    let mut waiters: Vec<Ack> = Vec::new();
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        let mut bytes = 0;
        let mut w = writer.lock();
        while let Some(msg) = next.take() {
            match msg {
                Msg::Append { record, done } => {
                    bytes += record.len();
                    records.push(record);
                    waiters.push(done);
                }
                Msg::Rotate { done } => {
                    w.commit_group(&mut records, &mut waiters);
                    let rotated = w.rotate();
                    w.rotations_pending.fetch_sub(1, Ordering::SeqCst);
                    let _ = done.send(rotated);
                }
            }
            if bytes < GROUP_BYTES_MAX {
                next = rx.try_recv().ok();
            }
        }
        w.commit_group(&mut records, &mut waiters);
        w.maybe_move_on();
    }
    // Stopped: the open segment may be a recycled file whose stale tail (tens of MiB) would
    // otherwise stay on disk while the server is down.
    writer.lock().trim();
}

impl Writer {
    /// Appends a framed record to the group, its checksum salted for the open segment.
    fn push(&mut self, record: &[u8]) {
        let start = self.buf.len();
        self.buf.extend_from_slice(record);
        if let Some(added) = self.buf.get_mut(start..) {
            salt_record(added, salt(self.segment.seq));
        }
    }

    /// Commits `records` as one group and tells every waiter the outcome.
    fn commit_group(&mut self, records: &mut Vec<Vec<u8>>, waiters: &mut Vec<Ack>) {
        if waiters.is_empty() {
            return;
        }
        self.buf.clear();
        for r in records.drain(..) {
            self.push(&r);
        }
        let result = self.commit(waiters.len());
        for w in waiters.drain(..) {
            let _ = w.send(match &result {
                Ok(()) => Ok(()),
                Err(_) => Err(EngineError::Poisoned),
            });
        }
    }

    /// Moves to a new segment when this one is full, or when the next write would grow the
    /// file and a spare with blocks is waiting (an overwrite syncs faster than a growth).
    fn maybe_move_on(&mut self) {
        let seg = &self.segment;
        let full = seg.pos >= SEGMENT_BYTES;
        // The next group is likely about the size of the one just committed (still in `buf`):
        // moving on before it, rather than after the first write past the blocks, spares that
        // write a metadata commit — several milliseconds under load, the tail of a fixed-rate
        // run's latency.
        let growing = seg.pos + self.buf.len() as u64 > seg.allocated;
        if self.poisoned.load(Ordering::SeqCst) || !(full || growing) {
            return;
        }
        if !full && self.last_spare_check.elapsed() < SPARE_CHECK_INTERVAL {
            return;
        }
        self.last_spare_check = Instant::now();
        if full || list_spares(&self.dir).is_ok_and(|s| !s.is_empty()) {
            let _ = self.rotate();
        } else {
            let _ = self.prep.try_send(spare_bytes_for(self.segment.pos));
        }
    }

    fn rotate(&mut self) -> Result<u64> {
        if self.poisoned.load(Ordering::SeqCst) {
            return Err(EngineError::Poisoned);
        }
        let closed = self.segment.seq;
        let wanted = spare_bytes_for(self.segment.pos);
        let result = self
            .close()
            .and_then(|()| open_segment(&self.dir, closed + 1));
        match result {
            Ok(segment) => {
                self.segment = segment;
                let _ = self.prep.try_send(wanted);
                Ok(closed)
            }
            Err(e) => {
                self.poison(&e);
                Err(e)
            }
        }
    }

    /// Ends the segment with a close record, durably: whatever follows it in the file (a
    /// recycled file's old contents) is not part of it.
    fn close(&mut self) -> Result<()> {
        let seg = &mut self.segment;
        let record = close_record(seg.records, salt(seg.seq));
        let path = segment_path(&self.dir, seg.seq);
        seg.write_durable(&record, &mut self.scratch)
            .map_err(|e| io_err(&path, e))?;
        seg.pos += record.len() as u64;
        Ok(())
    }

    /// Cuts the open segment after its last record (best effort: the tail is never read as
    /// records, so leaving it is harmless, only wasteful).
    fn trim(&mut self) {
        if self.poisoned.load(Ordering::SeqCst) {
            return;
        }
        let seg = &self.segment;
        let trimmed = seg.file.metadata().and_then(|m| {
            if m.len() > seg.pos {
                seg.file.set_len(seg.pos)?;
                seg.file.sync_all()?;
            }
            Ok(())
        });
        if let Err(e) = trimmed {
            tracing::warn!(segment = seg.seq, error = %e, "could not trim the WAL segment on stop");
        }
    }

    fn poison(&self, e: &EngineError) {
        if !self.poisoned.swap(true, Ordering::SeqCst) {
            tracing::error!(error = %e, "WAL write failed: refusing all writes until restart");
        }
    }

    /// One write and one fdatasync for the group in `buf` (`records` of them).
    fn commit(&mut self, records: usize) -> Result<()> {
        if self.poisoned.load(Ordering::SeqCst) {
            return Err(EngineError::Poisoned);
        }
        let started = Instant::now();
        let seg = &mut self.segment;
        let path = segment_path(&self.dir, seg.seq);
        let r = seg
            .write_durable(&self.buf, &mut self.scratch)
            .map_err(|e| io_err(&path, e));
        match r {
            Ok(()) => {
                let took = started.elapsed();
                if took > SLOW_SYNC {
                    // Whether the disk or the file's growth (a metadata commit) is to blame.
                    tracing::debug!(
                        bytes = self.buf.len(),
                        records,
                        grew = seg.pos + self.buf.len() as u64 > seg.allocated,
                        direct = seg.direct.is_some(),
                        took_ms = took.as_secs_f64() * 1e3,
                        "slow WAL commit"
                    );
                }
                seg.pos += self.buf.len() as u64;
                seg.allocated = seg.allocated.max(seg.pos);
                seg.records += records as u64;
                self.stats.observe(started.elapsed().as_micros() as u64);
                self.stats
                    .records
                    .fetch_add(records as u64, Ordering::Relaxed);
                self.stats
                    .bytes
                    .fetch_add(self.buf.len() as u64, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                // After a failed fsync the page cache may claim data the disk never got
                // (the "fsyncgate" problem): nothing in this segment can be trusted to be
                // acknowledged again.
                self.poison(&e);
                Err(EngineError::Poisoned)
            }
        }
    }
}
