//! Handing freed memory back to the kernel: once the server goes quiet, and soon after it is
//! freed when the user bounds memory.
//!
//! The `strata` binary runs jemalloc with no decay (see `main.rs`): pages freed under a write
//! load stay mapped for the next buffers instead of being returned, and faulted in again, a
//! little at a time. The price is that a server that took a burst would keep its peak heap.
//! So once neither a write nor a flush has happened for a whole [`QUIET`], every arena is
//! purged, once per quiet spell.
//!
//! A user who sets `--max-buffer-bytes` asks for a memory bound, and kept pages break it: each
//! arena keeps the peak of its own threads (the HTTP workers' buffers, the flush thread's sort
//! and row groups) even when those peaks never coincide. Then [`bound_free_pages`] has a
//! background thread hand freed pages back after [`BOUNDED_DECAY_MS`] (benches/RESULTS.md
//! has what it costs).

use std::sync::atomic::Ordering;
use std::time::Duration;

/// How long writes and flushes must have stopped before freed memory is handed back.
const QUIET: Duration = Duration::from_secs(10);

/// Runs for the life of the server.
pub(crate) async fn purge_when_idle(engine: engine::Engine) {
    let activity = |e: &engine::Engine| {
        (
            e.wal_stats().records.load(Ordering::Relaxed),
            e.flush_stats().flushes.load(Ordering::Relaxed),
        )
    };
    let mut tick = tokio::time::interval(QUIET);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut seen = activity(&engine);
    // Nothing was freed before the first write.
    let mut purged = true;
    loop {
        tick.tick().await;
        let now = activity(&engine);
        if now != seen {
            seen = now;
            purged = false;
        } else if !purged {
            purged = true;
            match purge() {
                Ok(()) => tracing::debug!("quiet: freed memory handed back to the kernel"),
                Err(rc) => tracing::warn!(rc, "could not purge the allocator's free pages"),
            }
        }
    }
}

/// How long a freed page stays mapped under `--max-buffer-bytes`.
pub(crate) const BOUNDED_DECAY_MS: isize = 250;

/// From now on, freed pages go back to the kernel after `decay_ms`, from a jemalloc background
/// thread (not in the allocating threads' way). `Err`: the control that failed and mallctl's
/// error number.
pub(crate) fn bound_free_pages(decay_ms: isize) -> Result<(), (String, i32)> {
    write_ctl("background_thread", true)?;
    // Arenas made later, and those already made (`arenas.narenas` counts their slots).
    write_ctl("arenas.dirty_decay_ms", decay_ms)?;
    write_ctl("arenas.muzzy_decay_ms", 0isize)?;
    let narenas: u32 = read_ctl("arenas.narenas")?;
    for i in 0..narenas {
        // Arenas are made on first use: the rest take the defaults just set.
        if !read_ctl::<bool>(&format!("arena.{i}.initialized"))? {
            continue;
        }
        write_ctl(&format!("arena.{i}.dirty_decay_ms"), decay_ms)?;
        write_ctl(&format!("arena.{i}.muzzy_decay_ms"), 0isize)?;
    }
    Ok(())
}

/// Sets the control `name` (whose value has type `T`) to `value`.
fn write_ctl<T: Copy>(name: &str, mut value: T) -> Result<(), (String, i32)> {
    let c_name = std::ffi::CString::new(name).map_err(|_| (name.to_owned(), -1))?;
    // SAFETY: a NUL-terminated control name, and a pointer to a live value of the type the
    // control takes (every caller passes the type jemalloc's manual gives it).
    let rc = unsafe {
        tikv_jemalloc_sys::mallctl(
            c_name.as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            (&mut value as *mut T).cast(),
            std::mem::size_of::<T>(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err((name.to_owned(), rc))
    }
}

/// Reads the control `name`, whose value has type `T`.
fn read_ctl<T: Copy + Default>(name: &str) -> Result<T, (String, i32)> {
    let c_name = std::ffi::CString::new(name).map_err(|_| (name.to_owned(), -1))?;
    let mut value = T::default();
    let mut len = std::mem::size_of::<T>();
    // SAFETY: as in `write_ctl`; jemalloc writes at most `len` bytes to `value`.
    let rc = unsafe {
        tikv_jemalloc_sys::mallctl(
            c_name.as_ptr(),
            (&mut value as *mut T).cast(),
            &mut len,
            std::ptr::null_mut(),
            0,
        )
    };
    if rc == 0 && len == std::mem::size_of::<T>() {
        Ok(value)
    } else {
        Err((name.to_owned(), rc))
    }
}

/// Returns every jemalloc arena's unused pages to the kernel. `Err`: mallctl's error number.
fn purge() -> Result<(), i32> {
    // 4096 is MALLCTL_ARENAS_ALL: every arena.
    let name = b"arena.4096.purge\0";
    // SAFETY: a NUL-terminated name of a control that takes and returns nothing, so null
    // pointers and a zero length are what it expects.
    let rc = unsafe {
        tikv_jemalloc_sys::mallctl(
            name.as_ptr().cast(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(rc)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_purge_control_exists() {
        // A misspelt control name fails with ENOENT.
        assert_eq!(super::purge(), Ok(()));
    }

    #[test]
    fn freed_pages_can_be_bounded() {
        // Test binaries use the system allocator, but link jemalloc: its controls answer.
        assert_eq!(super::bound_free_pages(super::BOUNDED_DECAY_MS), Ok(()));
        let decay: isize = super::read_ctl("arena.0.dirty_decay_ms").expect("read");
        assert_eq!(decay, super::BOUNDED_DECAY_MS);
        assert!(super::write_ctl("arena.0.no_such_control", 1isize).is_err());
    }
}
