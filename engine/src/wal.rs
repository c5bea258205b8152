//! The write-ahead log: what makes a 204 mean "survives kill -9 and power loss".
//!
//! Segments are plain files on local disk (`object_store` has no fsync). One thread owns the open
//! segment. Requests hand it their record and wait; the thread takes *everything* queued, writes
//! it with one `write` and makes it durable with one `fdatasync`, then answers every waiter
//! (group commit). There is no timer: while one sync runs, the next group forms, so a lone
//! writer pays one sync and many writers share each sync.
//!
//! Segment file `<seq:020>.wal`:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `STWL` |
//! | 4 | 2 | format version (1), little endian |
//! | 6 | 2 | reserved (0) |
//! | 8 | … | records |
//!
//! Record: `len: u32 LE | crc32c(payload): u32 LE | payload (len bytes)`. Payload of a write
//! (kind 1): `kind: u8 | bucket: u64 LE | precision: u8 | default_time_ns: i64 LE | body`, where
//! body holds only the accepted lines of the request, `\n`-separated. Replay re-parses it.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use catalog::BucketId;
use crossbeam::channel::{bounded, Receiver, Sender};
use lp::Precision;
use parking_lot::Mutex;

use crate::{EngineError, Result};

const MAGIC: &[u8; 4] = b"STWL";
const VERSION: u16 = 1;
const HEADER_BYTES: u64 = 8;
const RECORD_HEADER_BYTES: usize = 8;
const KIND_WRITE: u8 = 1;
/// Largest group written with one sync; more waits for the next group.
const GROUP_BYTES_MAX: usize = 16 * 1024 * 1024;
/// Records are bounded by the request body limit; anything claiming more is corruption.
const RECORD_BYTES_MAX: usize = 1 << 30;

/// One accepted write, as logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WalWrite {
    pub(crate) bucket: BucketId,
    pub(crate) precision: Precision,
    pub(crate) default_time_ns: i64,
    pub(crate) body: Vec<u8>,
}

fn precision_code(p: Precision) -> u8 {
    match p {
        Precision::Nanoseconds => 0,
        Precision::Microseconds => 1,
        Precision::Milliseconds => 2,
        Precision::Seconds => 3,
        Precision::Minutes => 4,
        Precision::Hours => 5,
    }
}

fn precision_from(code: u8) -> Option<Precision> {
    Some(match code {
        0 => Precision::Nanoseconds,
        1 => Precision::Microseconds,
        2 => Precision::Milliseconds,
        3 => Precision::Seconds,
        4 => Precision::Minutes,
        5 => Precision::Hours,
        _ => return None,
    })
}

impl WalWrite {
    /// Appends the framed record (header + payload) to `out`.
    pub(crate) fn frame_into(&self, out: &mut Vec<u8>) {
        let payload_len = 1 + 8 + 1 + 8 + self.body.len();
        let start = out.len();
        out.extend_from_slice(&(payload_len as u32).to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        out.push(KIND_WRITE);
        out.extend_from_slice(&self.bucket.0.to_le_bytes());
        out.push(precision_code(self.precision));
        out.extend_from_slice(&self.default_time_ns.to_le_bytes());
        out.extend_from_slice(&self.body);
        let crc = crc32c::crc32c(&out[start + RECORD_HEADER_BYTES..]);
        out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    }

    fn decode(payload: &[u8]) -> Option<Self> {
        let (&kind, rest) = payload.split_first()?;
        if kind != KIND_WRITE || rest.len() < 17 {
            return None;
        }
        let (bucket, rest) = rest.split_at(8);
        let (&precision, rest) = rest.split_first()?;
        let (default_time, body) = rest.split_at(8);
        Some(WalWrite {
            bucket: BucketId(u64::from_le_bytes(bucket.try_into().ok()?)),
            precision: precision_from(precision)?,
            default_time_ns: i64::from_le_bytes(default_time.try_into().ok()?),
            body: body.to_vec(),
        })
    }
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct WalStats {
    /// Groups synced (one `fdatasync` each).
    pub syncs: AtomicU64,
    /// Records made durable.
    pub records: AtomicU64,
    /// Bytes made durable.
    pub bytes: AtomicU64,
    /// Sum of sync durations, microseconds.
    pub sync_micros_total: AtomicU64,
    /// Sync latency histogram: counts of syncs at or under 0.25, 0.5, 1, 2, 5, 10, 25, 50, 100,
    /// 250 ms, and over.
    pub sync_buckets: [AtomicU64; 11],
}

/// Upper bounds (ms) of [`WalStats::sync_buckets`].
pub const SYNC_BUCKET_BOUNDS_MS: [f64; 10] =
    [0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0];

impl WalStats {
    fn observe(&self, micros: u64) {
        self.syncs.fetch_add(1, Ordering::Relaxed);
        self.sync_micros_total.fetch_add(micros, Ordering::Relaxed);
        let ms = micros as f64 / 1000.0;
        let i = SYNC_BUCKET_BOUNDS_MS
            .iter()
            .position(|&b| ms <= b)
            .unwrap_or(SYNC_BUCKET_BOUNDS_MS.len());
        if let Some(b) = self.sync_buckets.get(i) {
            b.fetch_add(1, Ordering::Relaxed);
        }
    }
}

type Ack = tokio::sync::oneshot::Sender<Result<()>>;

enum Msg {
    Append {
        record: Vec<u8>,
        done: Ack,
    },
    /// Close the current segment and open the next; answers the closed segment's number.
    Rotate {
        done: Sender<Result<u64>>,
    },
}

/// Handle to the WAL thread.
#[derive(Debug)]
pub(crate) struct Wal {
    tx: Mutex<Option<Sender<Msg>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    poisoned: Arc<AtomicBool>,
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

fn segment_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:020}.wal"))
}

/// Segment numbers present in `dir`, ascending.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<u64>> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| io_err(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| io_err(dir, e))?;
        let name = entry.file_name();
        let Some(seq) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".wal"))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        out.push(seq);
    }
    out.sort_unstable();
    Ok(out)
}

fn io_err(path: &Path, e: std::io::Error) -> EngineError {
    EngineError::Wal(format!("{}: {e}", path.display()))
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err(dir, e))
}

fn create_segment(dir: &Path, seq: u64) -> Result<File> {
    let path = segment_path(dir, seq);
    let mut file = OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(&path)
        .map_err(|e| io_err(&path, e))?;
    let mut header = Vec::with_capacity(HEADER_BYTES as usize);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&VERSION.to_le_bytes());
    header.extend_from_slice(&0u16.to_le_bytes());
    file.write_all(&header).map_err(|e| io_err(&path, e))?;
    file.sync_data().map_err(|e| io_err(&path, e))?;
    // The new name must survive a crash too.
    sync_dir(dir)?;
    Ok(file)
}

impl Wal {
    /// Starts the WAL thread writing to a new segment `seq` in `dir`.
    pub(crate) fn start(dir: PathBuf, seq: u64) -> Result<Self> {
        let file = create_segment(&dir, seq)?;
        let (tx, rx) = bounded(4096);
        let poisoned = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(WalStats::default());
        let writer = Writer {
            dir,
            seq,
            file,
            poisoned: Arc::clone(&poisoned),
            stats: Arc::clone(&stats),
        };
        let thread = std::thread::Builder::new()
            .name("strata-wal".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| EngineError::Wal(format!("starting the WAL thread: {e}")))?;
        Ok(Wal {
            tx: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
            poisoned,
            stats,
        })
    }

    pub(crate) fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::SeqCst)
    }

    fn sender(&self) -> Result<Sender<Msg>> {
        self.tx.lock().clone().ok_or(EngineError::ShuttingDown)
    }

    /// Queues a framed record; the receiver resolves once it is durable (or failed).
    pub(crate) fn append(
        &self,
        record: Vec<u8>,
    ) -> Result<tokio::sync::oneshot::Receiver<Result<()>>> {
        if self.is_poisoned() {
            return Err(EngineError::Poisoned);
        }
        let (done, rx) = tokio::sync::oneshot::channel();
        self.sender()?
            .send(Msg::Append { record, done })
            .map_err(|_| EngineError::ShuttingDown)?;
        Ok(rx)
    }

    /// Makes everything queued so far durable in the current segment, then starts the next one;
    /// returns the number of the segment just closed.
    pub(crate) fn rotate(&self) -> Result<u64> {
        let (done, rx) = bounded(1);
        self.sender()?
            .send(Msg::Rotate { done })
            .map_err(|_| EngineError::ShuttingDown)?;
        rx.recv().map_err(|_| EngineError::ShuttingDown)?
    }

    pub(crate) fn stop(&self) {
        drop(self.tx.lock().take());
        if let Some(t) = self.thread.lock().take() {
            let _ = t.join();
        }
    }
}

struct Writer {
    dir: PathBuf,
    seq: u64,
    file: File,
    poisoned: Arc<AtomicBool>,
    stats: Arc<WalStats>,
}

impl Writer {
    fn run(mut self, rx: Receiver<Msg>) {
        let mut buf: Vec<u8> = Vec::with_capacity(1 << 20);
        let mut waiters: Vec<Ack> = Vec::new();
        while let Ok(first) = rx.recv() {
            let mut next = Some(first);
            while let Some(msg) = next.take() {
                match msg {
                    Msg::Append { record, done } => {
                        buf.extend_from_slice(&record);
                        waiters.push(done);
                    }
                    Msg::Rotate { done } => {
                        self.commit(&mut buf, &mut waiters);
                        let _ = done.send(self.rotate());
                    }
                }
                if buf.len() < GROUP_BYTES_MAX {
                    next = rx.try_recv().ok();
                }
            }
            self.commit(&mut buf, &mut waiters);
        }
    }

    fn rotate(&mut self) -> Result<u64> {
        if self.poisoned.load(Ordering::SeqCst) {
            return Err(EngineError::Poisoned);
        }
        let closed = self.seq;
        match create_segment(&self.dir, closed + 1) {
            Ok(file) => {
                self.file = file;
                self.seq = closed + 1;
                Ok(closed)
            }
            Err(e) => {
                self.poison(&e);
                Err(e)
            }
        }
    }

    fn poison(&self, e: &EngineError) {
        if !self.poisoned.swap(true, Ordering::SeqCst) {
            tracing::error!(error = %e, "WAL write failed: refusing all writes until restart");
        }
    }

    /// One write and one fdatasync for the whole group, then every waiter hears the outcome.
    fn commit(&mut self, buf: &mut Vec<u8>, waiters: &mut Vec<Ack>) {
        if waiters.is_empty() {
            return;
        }
        let result = if self.poisoned.load(Ordering::SeqCst) {
            Err(EngineError::Poisoned)
        } else {
            let started = Instant::now();
            let path = segment_path(&self.dir, self.seq);
            let r = self
                .file
                .write_all(buf)
                .and_then(|()| self.file.sync_data())
                .map_err(|e| io_err(&path, e));
            if let Err(e) = &r {
                // After a failed fsync the page cache may claim data the disk never got
                // (the "fsyncgate" problem): nothing in this segment can be trusted to be
                // acknowledged again.
                self.poison(e);
            } else {
                self.stats.observe(started.elapsed().as_micros() as u64);
                self.stats
                    .records
                    .fetch_add(waiters.len() as u64, Ordering::Relaxed);
                self.stats
                    .bytes
                    .fetch_add(buf.len() as u64, Ordering::Relaxed);
            }
            r
        };
        for w in waiters.drain(..) {
            let _ = w.send(match &result {
                Ok(()) => Ok(()),
                Err(_) => Err(EngineError::Poisoned),
            });
        }
        buf.clear();
    }
}

/// What reading a segment found.
#[derive(Debug)]
pub(crate) struct SegmentContents {
    pub(crate) writes: Vec<WalWrite>,
    /// Bytes after the last good record (a torn final write), already truncated away.
    pub(crate) torn_bytes: u64,
}

/// Reads every record of segment `seq`. In the last segment (`is_last`), an incomplete or
/// corrupt final record is a write that was never acknowledged: it is cut off. Anywhere else, a
/// bad record is corruption of acknowledged data, and an error.
pub(crate) fn read_segment(dir: &Path, seq: u64, is_last: bool) -> Result<SegmentContents> {
    let path = segment_path(dir, seq);
    let mut data = Vec::new();
    File::open(&path)
        .and_then(|mut f| f.read_to_end(&mut data))
        .map_err(|e| io_err(&path, e))?;
    let corrupt = |offset: usize, why: &str| {
        EngineError::Wal(format!(
            "{} is corrupt at byte {offset}: {why}; refusing to start rather than lose acknowledged writes",
            path.display()
        ))
    };
    if data.len() < HEADER_BYTES as usize {
        if is_last {
            // Created but its header never reached the disk: nothing was acknowledged in it.
            truncate(&path, 0)?;
            return Ok(SegmentContents {
                writes: Vec::new(),
                torn_bytes: data.len() as u64,
            });
        }
        return Err(corrupt(0, "shorter than its header"));
    }
    if data.get(..4) != Some(MAGIC.as_slice()) {
        return Err(corrupt(0, "bad magic"));
    }
    let mut writes = Vec::new();
    let mut pos = HEADER_BYTES as usize;
    while pos < data.len() {
        match record_at(&data, pos) {
            Ok((payload, next)) => {
                let write =
                    WalWrite::decode(payload).ok_or_else(|| corrupt(pos, "undecodable record"))?;
                writes.push(write);
                pos = next;
            }
            Err(why) => {
                // A torn tail is only possible at the very end; if a valid record follows the
                // damage, acknowledged data was damaged.
                let follows = next_valid_after(&data, pos);
                if !is_last || follows {
                    return Err(corrupt(pos, why));
                }
                let torn = (data.len() - pos) as u64;
                tracing::warn!(segment = %path.display(), offset = pos, bytes = torn, "cutting a torn final WAL record (never acknowledged)");
                truncate(&path, pos as u64)?;
                return Ok(SegmentContents {
                    writes,
                    torn_bytes: torn,
                });
            }
        }
    }
    Ok(SegmentContents {
        writes,
        torn_bytes: 0,
    })
}

fn record_at(data: &[u8], pos: usize) -> std::result::Result<(&[u8], usize), &'static str> {
    let header = data
        .get(pos..pos + RECORD_HEADER_BYTES)
        .ok_or("incomplete record header")?;
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if len == 0 || len > RECORD_BYTES_MAX {
        return Err("impossible record length");
    }
    let start = pos + RECORD_HEADER_BYTES;
    let payload = data.get(start..start + len).ok_or("incomplete record")?;
    if crc32c::crc32c(payload) != crc {
        return Err("checksum mismatch");
    }
    Ok((payload, start + len))
}

/// How far past a damaged record we look for an intact one.
const RESYNC_SCAN_BYTES: usize = 64 * 1024;

/// Whether an intact record starts after the damaged one at `pos`: first where its own length
/// says the next one starts, then at every offset of the next 64 KiB (only on the error path).
fn next_valid_after(data: &[u8], pos: usize) -> bool {
    let claimed_next = data
        .get(pos..pos + 4)
        .map(|h| pos + RECORD_HEADER_BYTES + u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize);
    if claimed_next.is_some_and(|n| n < data.len() && record_at(data, n).is_ok()) {
        return true;
    }
    let end = data.len().min(pos + 1 + RESYNC_SCAN_BYTES);
    (pos + 1..end).any(|p| record_at(data, p).is_ok())
}

fn truncate(path: &Path, len: u64) -> Result<()> {
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| io_err(path, e))?;
    f.set_len(len).map_err(|e| io_err(path, e))?;
    f.sync_all().map_err(|e| io_err(path, e))
}

/// Deletes segments up to and including `through`.
pub(crate) fn delete_through(dir: &Path, through: u64) -> Result<usize> {
    let mut n = 0;
    for seq in list_segments(dir)? {
        if seq <= through {
            let path = segment_path(dir, seq);
            std::fs::remove_file(&path).map_err(|e| io_err(&path, e))?;
            n += 1;
        }
    }
    if n > 0 {
        sync_dir(dir)?;
    }
    Ok(n)
}

#[cfg(test)]
mod tests;
