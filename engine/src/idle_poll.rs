//! Idle polling: keeps the CPUs from halting for a short window after each write.
//!
//! On a virtual machine whose guest halt-polling is off (`guest_halt_poll_ns` = 0, as here), an
//! idle vCPU halts at once, and waking it — for the disk's completion interrupt, for the
//! thread a sync just released, for the client's next request — is a VM exit and a wait for
//! the host to run that vCPU again: tens of microseconds to milliseconds. One sequential
//! writer pays several of those per request (benches/RESULTS.md: a busy loop on each CPU
//! raised one client's acks/s by 14–85 %). The kernel's own remedy, guest halt-polling, polls
//! for up to 200 µs before halting; this does the same from user space where the kernel does
//! not: one `SCHED_IDLE` thread per CPU spins while a write was seen within the window, and
//! sleeps otherwise. `SCHED_IDLE` runs only on a CPU with nothing else to run, so it never
//! delays a thread with work; it costs CPU time only in the window after writes. Where
//! `SCHED_IDLE` is not granted it does nothing: spinning at normal priority would compete with
//! writers.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

struct Shared {
    window_ns: u64,
    start: Instant,
    /// Nanoseconds since `start` of the latest write activity.
    last: AtomicU64,
    /// Pollers asleep on `wake`.
    sleeping: AtomicUsize,
    lock: Mutex<()>,
    wake: Condvar,
    stop: AtomicBool,
}

impl Shared {
    fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    fn recent(&self) -> bool {
        self.now_ns()
            .saturating_sub(self.last.load(Ordering::SeqCst))
            < self.window_ns
    }
}

/// The pollers; stopped when dropped.
pub(crate) struct IdlePoll {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for IdlePoll {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IdlePoll({} threads)", self.threads.len())
    }
}

impl IdlePoll {
    /// One poller per CPU, each pinned to its CPU; `None` for a zero window or where the
    /// process may not run threads as `SCHED_IDLE`.
    pub(crate) fn start(window: Duration) -> Option<Self> {
        if window.is_zero() || crate::sched::background() != crate::sched::Background::Idle {
            return None;
        }
        let shared = Arc::new(Shared {
            window_ns: window.as_nanos().min(u64::MAX as u128) as u64,
            start: Instant::now(),
            last: AtomicU64::new(0),
            sleeping: AtomicUsize::new(0),
            lock: Mutex::new(()),
            wake: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = (0..cpus)
            .filter_map(|cpu| {
                let shared = Arc::clone(&shared);
                std::thread::Builder::new()
                    .name(format!("strata-poll-{cpu}"))
                    .spawn(move || poll(&shared, cpu))
                    .ok()
            })
            .collect();
        tracing::debug!(
            window_us = window.as_micros() as u64,
            cpus,
            "idle polling on"
        );
        Some(IdlePoll { shared, threads })
    }

    /// Records write activity: the pollers spin for the window from now.
    pub(crate) fn touch(&self) {
        let s = &self.shared;
        s.last.store(s.now_ns(), Ordering::SeqCst);
        if s.sleeping.load(Ordering::SeqCst) > 0 {
            let _guard = s.lock.lock();
            s.wake.notify_all();
        }
    }
}

impl Drop for IdlePoll {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        {
            let _guard = self.shared.lock.lock();
            self.shared.wake.notify_all();
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Sleeping pollers look at `stop` at least this often.
const SLEEP_MAX: Duration = Duration::from_secs(1);

fn poll(shared: &Shared, cpu: usize) {
    if !crate::sched::to_idle() {
        return;
    }
    crate::sched::pin_to_cpu(cpu);
    while !shared.stop.load(Ordering::SeqCst) {
        if shared.recent() {
            for _ in 0..64 {
                std::hint::spin_loop();
            }
            // The flush thread is `SCHED_IDLE` too, and would otherwise share its CPU with
            // this loop: a yield hands the CPU to anything else that can run.
            std::thread::yield_now();
            continue;
        }
        let mut guard = shared.lock.lock();
        shared.sleeping.fetch_add(1, Ordering::SeqCst);
        // Checked again after announcing the sleep: a `touch` in between either sees the
        // sleeper (and notifies under the lock) or is seen here.
        if !shared.recent() && !shared.stop.load(Ordering::SeqCst) {
            shared.wake.wait_for(&mut guard, SLEEP_MAX);
        }
        shared.sleeping.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pollers_sleep_when_idle_and_stop_when_dropped() {
        let Some(poll) = IdlePoll::start(Duration::from_millis(5)) else {
            return; // no SCHED_IDLE here: nothing to test
        };
        let cpus = poll.threads.len();
        let deadline = Instant::now() + Duration::from_secs(10);
        while poll.shared.sleeping.load(Ordering::SeqCst) < cpus && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(poll.shared.sleeping.load(Ordering::SeqCst), cpus);
        poll.touch();
        assert!(poll.shared.recent());
        let started = Instant::now();
        drop(poll);
        assert!(started.elapsed() < Duration::from_secs(5), "stop is prompt");
    }
}
