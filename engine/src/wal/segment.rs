//! Segment files: names, listing, opening, durable (direct or buffered) writes, cutting, release.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::record::{header, HEADER_BYTES};
use super::spares::{list_spares, spares_by_size, SPARE_SUFFIX};
use super::{io_err, RESERVED_BYTES};
use crate::Result;

/// Most recycled segments kept as spares; the rest are deleted. A flush cycle opens one
/// segment at the flush's rotation and more whenever one fills its blocks (several while the
/// spares are still smaller than the load needs): every one that is not a recycled file grows
/// as it is written, and each sync of a growing file commits metadata through the file
/// system's journal, where it queues behind the flush's own file and directory syncs.
const SPARES_MAX: usize = 4;

pub(super) fn segment_path(dir: &Path, seq: u64) -> PathBuf {
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

pub(super) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err(dir, e))
}

/// An open segment: its file, where the next group goes, and how much of the file already has
/// blocks (writes below that are overwrites).
pub(super) struct Segment {
    pub(super) seq: u64,
    pub(super) file: File,
    pub(super) pos: u64,
    pub(super) allocated: u64,
    /// Write records in it (for its close record).
    pub(super) records: u64,
    /// The same file opened `O_DIRECT | O_DSYNC`, where the file system allows it: every write
    /// then goes to the disk as whole blocks with the sync in the same call, no page cache and
    /// no separate `fdatasync` (see the `wal` module docs). `None`: buffered writes and
    /// `fdatasync`.
    pub(super) direct: Option<File>,
    /// The bytes of the block that holds `pos`, before `pos` (only kept for `direct`): a direct
    /// write starts at that block's start and rewrites them unchanged.
    pub(super) tail: Vec<u8>,
}

/// Alignment and size unit of direct writes: the page size, a multiple of every logical block
/// size a disk here has.
pub(super) const DIRECT_BLOCK: usize = 4096;

impl Segment {
    /// Writes `data` at `pos` and makes it durable: one direct write of whole blocks (the
    /// tail of the open block, `data`, zeros to the block's end) when the segment has a direct
    /// handle, else `pwrite` + `fdatasync`. Rewriting the open block's tail is crash-safe: its
    /// bytes are the same in the old and the new block, so any mix of old and new sectors a
    /// power cut leaves holds them. `scratch` is reused between writes.
    pub(super) fn write_durable(
        &mut self,
        data: &[u8],
        scratch: &mut Vec<u8>,
    ) -> std::io::Result<()> {
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
pub(super) fn open_segment(dir: &Path, seq: u64) -> Result<Segment> {
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

pub(super) fn truncate(path: &Path, len: u64) -> Result<()> {
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| io_err(path, e))?;
    f.set_len(len).map_err(|e| io_err(path, e))?;
    f.sync_all().map_err(|e| io_err(path, e))
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
