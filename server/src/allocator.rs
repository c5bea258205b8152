//! Handing freed memory back to the kernel once the server goes quiet.
//!
//! The `strata` binary runs jemalloc with no decay (see `main.rs`): pages freed under a write
//! load stay mapped for the next buffers instead of being returned, and faulted in again, a
//! little at a time. The price is that a server that took a burst would keep its peak heap.
//! So once neither a write nor a flush has happened for a whole [`QUIET`], every arena is
//! purged, once per quiet spell.

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
}
