//! Reading a segment back at start-up: its records, a torn tail cut off, damage refused.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::io_err;
use super::record::{
    header, salt, WalWrite, HEADER_BYTES, HEADER_V1_BYTES, KIND_CLOSE, MAGIC, RECORD_HEADER_BYTES,
};
use super::segment::{segment_path, truncate};
use crate::{EngineError, Result};

/// Records are bounded by the request body limit; anything claiming more is corruption.
const RECORD_BYTES_MAX: usize = 1 << 30;

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

pub(super) fn record_at(
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
