//! The write-ahead log: what makes a 204 mean "survives kill -9 and power loss".
//!
//! Segments are plain files on local disk (`object_store` has no fsync). One thread owns the open
//! segment. Requests hand it their record and wait; the thread takes *everything* queued, writes
//! it with one `write` and makes it durable with one `fdatasync`, then answers every waiter
//! (group commit). There is no timer: while one sync runs, the next group forms, so a lone
//! writer pays one sync and many writers share each sync.
//!
//! **Direct, synchronous writes.** Where the file system allows it, a segment is written
//! through a second handle opened `O_DIRECT | O_DSYNC`: the write itself is the sync (no page
//! cache, no separate `fdatasync`; 5–9 % less per commit and ~9 % more sequential acks/s on this
//! VM, see `benches/RESULTS.md`). Direct writes cover whole 4 KiB blocks, so each one starts
//! with the open block's bytes already written (kept in memory, rewritten unchanged) and ends
//! with zeros, which replay reads as the end of the log. Otherwise: `pwrite` + `fdatasync`.
//!
//! **Overwrite, don't append.** An `fdatasync` that grows a file must also commit the new size
//! through the file system's journal; one that overwrites blocks the file already has only
//! writes data (on ext4 here, about 1.4× faster for a small record). So segments are written in
//! place into files that already have their blocks: segments the flush no longer needs are
//! recycled as spares instead of deleted, and a background thread zero-fills a spare, or
//! extends a small one, when none is as large as the load needs (at most once per
//! [`PREP_INTERVAL`], so a heavy load does not pay twice in disk bandwidth). The writer moves
//! to the largest spare before its segment would have to grow, and at [`SEGMENT_BYTES`]
//! whatever happens.
//!
//! A recycled file still holds an older segment's records after the new ones. They can never be
//! mistaken for new ones: every record's checksum is salted with its segment's number, and a
//! closed segment ends with a close record.
//!
//! Segment file `<seq:020>.wal` (format 2; format 1 files, from older versions, are still read):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `STWL` |
//! | 4 | 2 | format version (2), little endian |
//! | 6 | 2 | reserved (0) |
//! | 8 | 8 | segment number, little endian (format 2 only) |
//! | 16 | … | records |
//!
//! Record: `len: u32 LE | crc32c(payload) ^ salt(segment): u32 LE | payload (len bytes)` (format
//! 1: no salt). Payload of a write (kind 1): `kind: u8 | bucket: u64 LE | precision: u8 |
//! default_time_ns: i64 LE | body`, where body holds only the accepted lines of the request,
//! `\n`-separated; replay re-parses it. Close record (kind 2, format 2): `kind: u8 | records:
//! u64 LE` — the segment was closed here and everything after it is not part of it.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use catalog::BucketId;
use crossbeam::channel::{bounded, Receiver, RecvTimeoutError, Sender};
use lp::Precision;
use parking_lot::Mutex;

use crate::{EngineError, Result};

const MAGIC: &[u8; 4] = b"STWL";
/// Format written; format 1 (no salt, no close record, 8-byte header) is still read.
const VERSION: u16 = 2;
const HEADER_V1_BYTES: usize = 8;
const HEADER_BYTES: usize = 16;
const RECORD_HEADER_BYTES: usize = 8;
const KIND_WRITE: u8 = 1;
const KIND_CLOSE: u8 = 2;
/// Largest group written with one sync; more waits for the next group.
const GROUP_BYTES_MAX: usize = 16 * 1024 * 1024;
/// Largest record a request commits itself (see [`Wal::append`]). A big record's sync takes
/// milliseconds, during which the request's HTTP worker could parse other requests: those go
/// to the WAL thread, so parsing and syncing overlap.
const INLINE_RECORD_BYTES_MAX: usize = 64 * 1024;
/// A group commit slower than this is logged (debug) with where its time went.
const SLOW_SYNC: Duration = Duration::from_millis(5);
/// Records are bounded by the request body limit; anything claiming more is corruption.
const RECORD_BYTES_MAX: usize = 1 << 30;
/// A segment is closed once it holds this much.
pub(crate) const SEGMENT_BYTES: u64 = 64 * 1024 * 1024;
/// Size of a zero-filled spare, and of the blocks reserved for a segment that is not a spare:
/// room for tens of thousands of small writes before a file has to grow.
const RESERVED_BYTES: u64 = 8 * 1024 * 1024;
/// Zero-filling is skipped when the disk has less free space than this (the WAL itself needs
/// it more than it needs speed).
const PREP_MIN_FREE_BYTES: u64 = 1 << 30;
/// Most recycled segments kept as spares; the rest are deleted. A flush cycle opens one
/// segment at the flush's rotation and more whenever one fills its blocks (several while the
/// spares are still smaller than the load needs): every one that is not a recycled file grows
/// as it is written, and each sync of a growing file commits metadata through the file
/// system's journal, where it queues behind the flush's own file and directory syncs.
const SPARES_MAX: usize = 4;
/// Zero-filling writes a whole segment to disk, so it happens at most this often.
pub(crate) const PREP_INTERVAL: Duration = Duration::from_secs(5);
const SPARE_SUFFIX: &str = ".walspare";
/// How often a growing segment looks for a spare to move to.
const SPARE_CHECK_INTERVAL: Duration = Duration::from_millis(100);

/// The checksum salt of segment `seq` (format 2): a recycled file's older records fail the
/// checksum of the segment that reuses it. Never zero, so it never equals format 1's.
fn salt(seq: u64) -> u32 {
    let mut z = seq.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) as u32) | 1
}

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
    /// Appends the framed record (header + payload) to `out` (tests frame records this way;
    /// the engine builds them in place with [`Self::begin_record`]).
    #[cfg(test)]
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

    /// Starts a framed write record in `out` (cleared), to which [`push_line`] appends accepted
    /// lines and [`finish_record`] adds length and checksum: the record is built once, as the
    /// lines are accepted, instead of collecting them and framing a copy.
    pub(crate) fn begin_record(
        out: &mut Vec<u8>,
        bucket: BucketId,
        precision: Precision,
        default_time_ns: i64,
    ) {
        out.clear();
        out.extend_from_slice(&[0; RECORD_HEADER_BYTES]);
        out.push(KIND_WRITE);
        out.extend_from_slice(&bucket.0.to_le_bytes());
        out.push(precision_code(precision));
        out.extend_from_slice(&default_time_ns.to_le_bytes());
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

/// Bytes of a record begun by [`WalWrite::begin_record`] before its first line.
pub(crate) const RECORD_PREFIX_BYTES: usize = RECORD_HEADER_BYTES + 1 + 8 + 1 + 8;

/// Appends one accepted line to a record begun by [`WalWrite::begin_record`].
pub(crate) fn push_line(out: &mut Vec<u8>, line: &[u8]) {
    out.extend_from_slice(line);
    out.push(b'\n');
}

/// Completes a record begun by [`WalWrite::begin_record`]: its length and checksum.
pub(crate) fn finish_record(out: &mut [u8]) {
    let payload_len = out.len().saturating_sub(RECORD_HEADER_BYTES) as u32;
    let crc = out
        .get(RECORD_HEADER_BYTES..)
        .map(crc32c::crc32c)
        .unwrap_or_default();
    if let Some(header) = out.get_mut(..RECORD_HEADER_BYTES) {
        header[..4].copy_from_slice(&payload_len.to_le_bytes());
        header[4..].copy_from_slice(&crc.to_le_bytes());
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

/// Handle to the WAL thread (and its spare-preparing helper).
#[derive(Debug)]
pub(crate) struct Wal {
    tx: Mutex<Option<Sender<Msg>>>,
    /// The open segment. The WAL thread holds it while it commits a group; a request that
    /// finds it free and nothing queued commits its own record (see [`Wal::append`]).
    writer: Arc<Mutex<Writer>>,
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

/// Spare files in `dir` (recycled segments and zero-filled ones), ready to become segments.
fn list_spares(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| io_err(dir, e))? {
        let path = entry.map_err(|e| io_err(dir, e))?.path();
        if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(SPARE_SUFFIX))
        {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// Spares with their sizes, the largest first (a spare renamed away meanwhile is left out).
fn spares_by_size(dir: &Path) -> Result<Vec<(PathBuf, u64)>> {
    let mut out: Vec<(PathBuf, u64)> = list_spares(dir)?
        .into_iter()
        .filter_map(|p| {
            let len = std::fs::metadata(&p).ok()?.len();
            Some((p, len))
        })
        .collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
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

fn header(seq: u64) -> [u8; HEADER_BYTES] {
    let mut h = [0u8; HEADER_BYTES];
    h[..4].copy_from_slice(MAGIC);
    h[4..6].copy_from_slice(&VERSION.to_le_bytes());
    h[8..16].copy_from_slice(&seq.to_le_bytes());
    h
}

/// An open segment: its file, where the next group goes, and how much of the file already has
/// blocks (writes below that are overwrites).
struct Segment {
    seq: u64,
    file: File,
    pos: u64,
    allocated: u64,
    /// Write records in it (for its close record).
    records: u64,
    /// The same file opened `O_DIRECT | O_DSYNC`, where the file system allows it: every write
    /// then goes to the disk as whole blocks with the sync in the same call, no page cache and
    /// no separate `fdatasync` (see the module docs). `None`: buffered writes and `fdatasync`.
    direct: Option<File>,
    /// The bytes of the block that holds `pos`, before `pos` (only kept for `direct`): a direct
    /// write starts at that block's start and rewrites them unchanged.
    tail: Vec<u8>,
}

/// Alignment and size unit of direct writes: the page size, a multiple of every logical block
/// size a disk here has.
const DIRECT_BLOCK: usize = 4096;

impl Segment {
    /// Writes `data` at `pos` and makes it durable: one direct write of whole blocks (the
    /// tail of the open block, `data`, zeros to the block's end) when the segment has a direct
    /// handle, else `pwrite` + `fdatasync`. Rewriting the open block's tail is crash-safe: its
    /// bytes are the same in the old and the new block, so any mix of old and new sectors a
    /// power cut leaves holds them. `scratch` is reused between writes.
    fn write_durable(&mut self, data: &[u8], scratch: &mut Vec<u8>) -> std::io::Result<()> {
        let Some(direct) = &self.direct else {
            self.file.write_all_at(data, self.pos)?;
            return self.file.sync_data();
        };
        let head = self.tail.len();
        let total = head + data.len();
        let len = total.div_ceil(DIRECT_BLOCK) * DIRECT_BLOCK;
        if scratch.len() < len + DIRECT_BLOCK {
            scratch.resize(len + DIRECT_BLOCK, 0);
        }
        let offset = scratch.as_ptr().align_offset(DIRECT_BLOCK);
        let block = scratch
            .get_mut(offset..offset + len)
            .ok_or_else(|| std::io::Error::other("no aligned buffer for a direct WAL write"))?;
        block[..head].copy_from_slice(&self.tail);
        block[head..total].copy_from_slice(data);
        block[total..].fill(0);
        direct.write_all_at(block, self.pos - head as u64)?;
        let keep = (self.pos + data.len() as u64) as usize % DIRECT_BLOCK;
        self.tail.clear();
        self.tail.extend_from_slice(&block[total - keep..total]);
        Ok(())
    }
}

/// Opens `path` for direct, synchronous writes (`None` where the file system refuses).
fn open_direct(path: &Path) -> Option<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_DIRECT | libc::O_DSYNC)
        .open(path)
        .ok()
}

/// Opens segment `seq`: a spare renamed into place when there is one (its blocks are
/// reused), else a new file with [`RESERVED_BYTES`] reserved (`fallocate`, where the file
/// system has it). The header is durable, and so is the name.
fn open_segment(dir: &Path, seq: u64) -> Result<Segment> {
    let path = segment_path(dir, seq);
    let mut opened = None;
    // The largest first: its blocks let this segment go furthest without growing.
    for (spare, _) in spares_by_size(dir)? {
        // Another thread (a flush recycling segments) may rename files meanwhile: a spare that
        // is gone is simply skipped.
        if std::fs::rename(&spare, &path).is_ok() {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .map_err(|e| io_err(&path, e))?;
            opened = Some(file);
            break;
        }
    }
    let reused = opened.is_some();
    let file = match opened {
        Some(f) => f,
        None => {
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&path)
                .map_err(|e| io_err(&path, e))?;
            reserve(&f, RESERVED_BYTES);
            f
        }
    };
    // `sync_all`: a new file's reserved size must be durable along with its header.
    file.write_all_at(&header(seq), 0)
        .and_then(|()| file.sync_all())
        .map_err(|e| io_err(&path, e))?;
    // Reserved blocks are unwritten extents: the first write into each still changes
    // metadata. Count only a spare's (written) blocks, so that a new file is left for a spare
    // as soon as one is ready.
    let allocated = if reused {
        file.metadata().map_err(|e| io_err(&path, e))?.len()
    } else {
        HEADER_BYTES as u64
    };
    // The new name must survive a crash too.
    sync_dir(dir)?;
    let mut segment = Segment {
        seq,
        file,
        pos: 0,
        allocated,
        records: 0,
        direct: open_direct(&path),
        tail: Vec::new(),
    };
    // The header again, through the direct handle: the probe of whether the disk takes these
    // writes (where it refuses, the segment is written through the page cache), and what
    // leaves `tail` holding the header.
    if segment.direct.is_some() {
        if let Err(e) = segment.write_durable(&header(seq), &mut Vec::new()) {
            tracing::info!(segment = %path.display(), error = %e, "direct I/O refused: the WAL is written through the page cache");
            segment.direct = None;
            segment.tail.clear();
        }
    }
    segment.pos = HEADER_BYTES as u64;
    Ok(segment)
}

/// Reserves `bytes` of blocks for `file` (best effort: not every file system can).
fn reserve(file: &File, bytes: u64) {
    use std::os::fd::AsRawFd;
    // SAFETY: plain integer arguments on a file descriptor we own; no memory is passed.
    let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, bytes as libc::off_t) };
    if rc != 0 {
        tracing::debug!(
            errno = rc,
            "fallocate unavailable for a WAL segment; it will grow by appending"
        );
    }
}

/// Free bytes on the file system of `dir`, if it can tell.
fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: `c` is a valid NUL-terminated path and `st` a properly sized, writable struct
    // that statvfs fills in; nothing is retained after the call.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
    #[allow(clippy::useless_conversion)] // the field types differ between platforms
    (rc == 0).then(|| u64::from(st.f_bavail).saturating_mul(u64::from(st.f_frsize)))
}

/// Most bytes zero-filled between two syncs of a spare being prepared: the WAL's own syncs
/// queue behind this much writeback at most.
const PREP_STEP_BYTES: u64 = 1 << 20;

/// Size of the spare to prepare when a segment had reached `pos`: twice that, so a load like
/// the current one fits in one spare, between [`RESERVED_BYTES`] (a light load's) and
/// [`SEGMENT_BYTES`].
fn spare_bytes_for(pos: u64) -> u64 {
    (pos.min(SEGMENT_BYTES) * 2)
        .next_power_of_two()
        .clamp(RESERVED_BYTES, SEGMENT_BYTES)
}

/// Writes a spare of `bytes` (data and size durable): zeros, or `from` (a spare too small for
/// the load) extended with zeros. It is named so that no reader takes it for a segment until
/// it is complete; `Ok(None)` when `from` was taken by a segment meanwhile.
fn prepare_spare(dir: &Path, bytes: u64, from: Option<&Path>) -> Result<Option<PathBuf>> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let tmp = dir.join(format!("prep-{nanos}.tmp"));
    let done = dir.join(format!("spare-zero-{nanos}{SPARE_SUFFIX}"));
    if let Some(spare) = from {
        // Out of the writer's reach while it grows; a crash leaves a `.tmp` that start-up
        // deletes (a released segment's contents are never needed again).
        if std::fs::rename(spare, &tmp).is_err() {
            return Ok(None);
        }
    }
    let result = (|| -> std::io::Result<()> {
        // An extended spare is already at `tmp` (renamed above); a new one must not exist yet.
        let file = OpenOptions::new()
            .write(true)
            .create_new(from.is_none())
            .open(&tmp)?;
        let zeros = vec![0u8; PREP_STEP_BYTES as usize];
        let mut at = file.metadata()?.len();
        while at < bytes {
            let step = &zeros[..(bytes - at).min(PREP_STEP_BYTES) as usize];
            file.write_all_at(step, at)?;
            at += step.len() as u64;
            // In steps: tens of megabytes written back in one go would hold up the WAL's
            // syncs behind them for as many milliseconds.
            file.sync_data()?;
        }
        file.sync_all()?;
        std::fs::rename(&tmp, &done)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_err(&tmp, e));
    }
    sync_dir(dir)?;
    Ok(Some(done))
}

/// The helper thread: on request (with the size wanted), makes sure some spare is at least
/// that large — zero-filling a new one, or extending the largest — at most once per
/// [`PREP_INTERVAL`]. Spares are recycled at the size they reached, so under a steady load
/// the spares soon all fit a flush cycle and this thread goes quiet.
fn run_prep(dir: PathBuf, wake: Receiver<u64>, stop: &AtomicBool) {
    let mut last: Option<Instant> = None;
    let mut bytes = RESERVED_BYTES;
    loop {
        match wake.recv_timeout(PREP_INTERVAL) {
            Ok(wanted) => bytes = wanted,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        if stop.load(Ordering::SeqCst) {
            return;
        }
        if last.is_some_and(|t| t.elapsed() < PREP_INTERVAL) {
            continue;
        }
        let from = match spares_by_size(&dir) {
            Ok(spares) => match spares.into_iter().next() {
                None => None,
                Some((_, len)) if len >= bytes => continue,
                Some((largest, _)) => Some(largest),
            },
            Err(_) => continue,
        };
        if free_bytes(&dir).is_some_and(|f| f < PREP_MIN_FREE_BYTES) {
            continue;
        }
        last = Some(Instant::now());
        let started = Instant::now();
        match prepare_spare(&dir, bytes, from.as_deref()) {
            Ok(Some(path)) => tracing::debug!(
                spare = %path.display(),
                bytes,
                extended = from.is_some(),
                ms = started.elapsed().as_millis() as u64,
                "zero-filled a WAL spare"
            ),
            Ok(None) => {}
            // Only an optimisation: without spares, segments grow by appending.
            Err(e) => tracing::warn!(error = %e, "could not prepare a WAL spare"),
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

    fn sender(&self) -> Result<Sender<Msg>> {
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

struct Writer {
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
        if let Some(crc) = self.buf.get_mut(start + 4..start + 8) {
            let salted =
                u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]) ^ salt(self.segment.seq);
            crc.copy_from_slice(&salted.to_le_bytes());
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
        let mut record = Vec::with_capacity(RECORD_HEADER_BYTES + 9);
        let payload_len = 1 + 8;
        record.extend_from_slice(&(payload_len as u32).to_le_bytes());
        record.extend_from_slice(&[0; 4]);
        record.push(KIND_CLOSE);
        record.extend_from_slice(&seg.records.to_le_bytes());
        let crc = crc32c::crc32c(&record[RECORD_HEADER_BYTES..]) ^ salt(seg.seq);
        record[4..8].copy_from_slice(&crc.to_le_bytes());
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

/// What reading a segment found.
#[derive(Debug)]
pub(crate) struct SegmentContents {
    pub(crate) writes: Vec<WalWrite>,
    /// Bytes after the last intact record that were cut off: a torn final write (never
    /// acknowledged), or space a recycled or zero-filled file brought along.
    pub(crate) torn_bytes: u64,
}

/// Reads every record of segment `seq`.
///
/// A segment ends at its close record. The last segment (`is_last`) may instead end at its
/// first incomplete or damaged record: that is a write that was never acknowledged (or the
/// unused rest of a reused file), and it is cut off, unless an intact record follows it, which
/// means acknowledged data was damaged. Any other segment must be intact up to its close
/// record (or its end, for format 1 and for a segment cut at an earlier start-up).
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
    let version = data.get(4..6).map(|v| u16::from_le_bytes([v[0], v[1]]));
    let (header_len, salt) = match version {
        Some(1) => (HEADER_V1_BYTES, 0),
        _ => (HEADER_BYTES, salt(seq)),
    };
    let header_seq = data
        .get(8..16)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_le_bytes);
    let magic = data.get(..4) == Some(MAGIC.as_slice());
    let header_ok = match version {
        Some(1) => magic,
        Some(2) => magic && header_seq == Some(seq),
        Some(v) if magic => {
            return Err(corrupt(4, &format!("unknown WAL format version {v}")));
        }
        _ => false,
    };
    if !header_ok {
        // Created, or renamed from a spare, but its header never reached the disk: then
        // nothing was acknowledged in it (records are only written after the header is
        // durable) and no record salted for this segment can be in it.
        if is_last && !next_valid_after(&data, header_len - 1, salt) {
            let f = OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(|e| io_err(&path, e))?;
            f.set_len(0)
                .and_then(|()| f.write_all_at(&header(seq), 0))
                .and_then(|()| f.sync_all())
                .map_err(|e| io_err(&path, e))?;
            return Ok(SegmentContents {
                writes: Vec::new(),
                torn_bytes: data.len() as u64,
            });
        }
        return Err(corrupt(0, "bad or missing header"));
    }
    let mut writes = Vec::new();
    let mut pos = header_len;
    while pos < data.len() {
        match record_at(&data, pos, salt) {
            Ok((payload, next)) => {
                match payload.first() {
                    Some(&KIND_CLOSE) if version != Some(1) => {
                        return Ok(SegmentContents {
                            writes,
                            torn_bytes: 0,
                        })
                    }
                    _ => writes.push(
                        WalWrite::decode(payload)
                            .ok_or_else(|| corrupt(pos, "undecodable record"))?,
                    ),
                }
                pos = next;
            }
            Err(why) => {
                // A torn tail is only possible at the very end; if a valid record follows the
                // damage, acknowledged data was damaged.
                if !is_last || next_valid_after(&data, pos, salt) {
                    return Err(corrupt(pos, why));
                }
                let cut = (data.len() - pos) as u64;
                if data[pos..].iter().any(|&b| b != 0) {
                    tracing::warn!(segment = %path.display(), offset = pos, bytes = cut, "cutting what follows the last intact WAL record (a write that was never acknowledged, or a reused file's old contents)");
                }
                truncate(&path, pos as u64)?;
                return Ok(SegmentContents {
                    writes,
                    torn_bytes: cut,
                });
            }
        }
    }
    Ok(SegmentContents {
        writes,
        torn_bytes: 0,
    })
}

fn record_at(
    data: &[u8],
    pos: usize,
    salt: u32,
) -> std::result::Result<(&[u8], usize), &'static str> {
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
    if crc32c::crc32c(payload) ^ salt != crc {
        return Err("checksum mismatch");
    }
    Ok((payload, start + len))
}

/// How far past a damaged record we look for an intact one.
const RESYNC_SCAN_BYTES: usize = 64 * 1024;

/// Whether an intact record starts after the damaged one at `pos`: first where its own length
/// says the next one starts, then at every offset of the next 64 KiB (only on the error path).
fn next_valid_after(data: &[u8], pos: usize, salt: u32) -> bool {
    let claimed_next = data
        .get(pos..pos + 4)
        .map(|h| pos + RECORD_HEADER_BYTES + u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize);
    if claimed_next.is_some_and(|n| n < data.len() && record_at(data, n, salt).is_ok()) {
        return true;
    }
    let end = data.len().min(pos + 1 + RESYNC_SCAN_BYTES);
    (pos + 1..end).any(|p| record_at(data, p, salt).is_ok())
}

fn truncate(path: &Path, len: u64) -> Result<()> {
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| io_err(path, e))?;
    f.set_len(len).map_err(|e| io_err(path, e))?;
    f.sync_all().map_err(|e| io_err(path, e))
}

/// Deletes every spare (a stopped WAL needs none).
pub(crate) fn delete_spares(dir: &Path) -> Result<()> {
    let spares = list_spares(dir)?;
    for path in &spares {
        std::fs::remove_file(path).map_err(|e| io_err(path, e))?;
    }
    if !spares.is_empty() {
        sync_dir(dir)?;
    }
    Ok(())
}

/// Releases segments up to and including `through` (their rows are in Parquet): the newest
/// become spares (their blocks are reused by later segments), the rest are deleted.
pub(crate) fn release_through(dir: &Path, through: u64) -> Result<usize> {
    let mut released: Vec<u64> = list_segments(dir)?
        .into_iter()
        .filter(|&s| s <= through)
        .collect();
    if released.is_empty() {
        return Ok(0);
    }
    let mut room = SPARES_MAX.saturating_sub(list_spares(dir)?.len());
    // Newest first: recent segments were written by the current load, so their size fits it.
    released.reverse();
    for &seq in &released {
        let path = segment_path(dir, seq);
        if room > 0 {
            std::fs::rename(&path, dir.join(format!("spare-{seq:020}{SPARE_SUFFIX}")))
                .map_err(|e| io_err(&path, e))?;
            room -= 1;
        } else {
            std::fs::remove_file(&path).map_err(|e| io_err(&path, e))?;
        }
    }
    // No directory sync: a release lost to a power cut leaves segments that the manifest
    // already covers, and start-up releases them again. (The sync was one more journal commit
    // per flush for the WAL's own syncs to queue behind.)
    Ok(released.len())
}

#[cfg(test)]
mod tests;
