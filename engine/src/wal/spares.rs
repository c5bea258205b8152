//! Spare segment files: recycled or zero-filled ahead, so that segments overwrite instead of grow.

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crossbeam::channel::{Receiver, RecvTimeoutError};

use super::segment::sync_dir;
use super::{io_err, PREP_INTERVAL, RESERVED_BYTES, SEGMENT_BYTES};
use crate::Result;

/// Zero-filling is skipped when the disk has less free space than this (the WAL itself needs
/// it more than it needs speed).
const PREP_MIN_FREE_BYTES: u64 = 1 << 30;
pub(super) const SPARE_SUFFIX: &str = ".walspare";

/// Spare files in `dir` (recycled segments and zero-filled ones), ready to become segments.
pub(super) fn list_spares(dir: &Path) -> Result<Vec<PathBuf>> {
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
pub(super) fn spares_by_size(dir: &Path) -> Result<Vec<(PathBuf, u64)>> {
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
pub(super) const PREP_STEP_BYTES: u64 = 1 << 20;

/// Size of the spare to prepare when a segment had reached `pos`: twice that, so a load like
/// the current one fits in one spare, between [`RESERVED_BYTES`] (a light load's) and
/// [`SEGMENT_BYTES`].
pub(super) fn spare_bytes_for(pos: u64) -> u64 {
    (pos.min(SEGMENT_BYTES) * 2)
        .next_power_of_two()
        .clamp(RESERVED_BYTES, SEGMENT_BYTES)
}

/// Writes a spare of `bytes` (data and size durable): zeros, or `from` (a spare too small for
/// the load) extended with zeros. It is named so that no reader takes it for a segment until
/// it is complete; `Ok(None)` when `from` was taken by a segment meanwhile.
pub(super) fn prepare_spare(
    dir: &Path,
    bytes: u64,
    from: Option<&Path>,
) -> Result<Option<PathBuf>> {
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
pub(super) fn run_prep(dir: PathBuf, wake: Receiver<u64>, stop: &AtomicBool) {
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
