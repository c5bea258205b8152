//! The write-ahead log: what makes a 204 mean "survives kill -9 and power loss".
//!
//! Segments are plain files on local disk (`object_store` has no fsync). One thread owns the open
//! segment. Requests hand it their record and wait; the thread takes *everything* queued, writes
//! it with one `write` and makes it durable with one `fdatasync`, then answers every waiter
//! (group commit). There is no timer: while one sync runs, the next group forms, so a lone
//! writer pays one sync and many writers share each sync. (Only a small record that finds
//! nothing queued and the segment's lock free is committed by its request itself, see
//! [`Wal::append`].)
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
//! recycled as spares instead of deleted (a few; the rest are deleted), and a background
//! thread zero-fills a spare, or extends a small one, when none is as large as the load needs
//! (at most once per [`PREP_INTERVAL`], so a heavy load does not pay twice in disk bandwidth).
//! The writer moves to the largest spare before its segment would have to grow, and at
//! [`SEGMENT_BYTES`] whatever happens.
//!
//! A recycled file still holds an older segment's records after the new ones. They can never be
//! mistaken for new ones: every record's checksum is salted with its segment's number, and a
//! closed segment ends with a close record.
//!
//! Segment file `<seq:020>.wal` (format 2; format 1 files, from older versions, are still read;
//! spares are `spare-*.walspare`, a spare being prepared `prep-*.tmp`):
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
//! each ended by `\n`; replay re-parses it. Close record (kind 2, format 2): `kind: u8 |
//! records: u64 LE` — the segment was closed here and everything after it is not part of it.
//!
//! Files: `record` (the framing above), `segment` (segment files and their durable writes),
//! `spares` (preallocated spares and the thread preparing them), `writer` (the WAL thread and
//! [`Wal`]), `replay` (reading a segment back at start-up).

mod record;
mod replay;
mod segment;
mod spares;
mod writer;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::EngineError;

pub(crate) use record::{finish_record, push_line, WalWrite, RECORD_PREFIX_BYTES};
pub(crate) use replay::read_segment;
pub(crate) use segment::{list_segments, release_through};
pub(crate) use spares::delete_spares;
pub(crate) use writer::Wal;

/// A segment is closed once it holds this much.
pub(crate) const SEGMENT_BYTES: u64 = 64 * 1024 * 1024;
/// Size of a zero-filled spare, and of the blocks reserved for a segment that is not a spare:
/// room for tens of thousands of small writes before a file has to grow.
const RESERVED_BYTES: u64 = 8 * 1024 * 1024;
/// Zero-filling writes a whole segment to disk, so it happens at most this often.
pub(crate) const PREP_INTERVAL: Duration = Duration::from_secs(5);

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

fn io_err(path: &Path, e: std::io::Error) -> EngineError {
    EngineError::Wal(format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests;
