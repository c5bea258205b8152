//! CPU scheduling of the engine's own threads.
//!
//! On a small machine the write path's tail latency is set by who gets a CPU, not by the
//! disk: the WAL thread's group commit waited up to 10 ms in the run queue behind the HTTP
//! workers and the flush thread's Parquet encoding (benches/RESULTS.md, 2026-12-02). So the
//! WAL thread asks for the lowest real-time priority (it runs briefly and then blocks in
//! `fdatasync`), and the flush thread, while it keeps up, runs as `SCHED_IDLE` (or, where the
//! process could not leave that class again, at a higher niceness). Everything here is best
//! effort: without the privilege, threads keep the default class and only latency suffers.

/// How the flush thread yields the CPU to writers while it keeps up; probed once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Background {
    /// `SCHED_IDLE`: runs only on an otherwise idle CPU.
    Idle,
    /// `SCHED_OTHER` at [`BACKGROUND_NICE`]: a smaller share of a busy CPU.
    Nice,
    /// The process may lower a thread but not raise it again, so it never lowers it: a
    /// flush stuck at low priority could not catch up when it falls behind.
    None,
}

/// Niceness of a background thread where `SCHED_IDLE` is not available.
pub(crate) const BACKGROUND_NICE: i32 = 10;

#[cfg(target_os = "linux")]
mod imp {
    /// The kernel's `struct sched_attr` (include/uapi/linux/sched/types.h), version 0:
    /// 48 bytes, which every kernel with `sched_setattr` (3.14+) accepts.
    #[repr(C)]
    #[derive(Default)]
    struct SchedAttr {
        size: u32,
        policy: u32,
        flags: u64,
        nice: i32,
        priority: u32,
        runtime: u64,
        deadline: u64,
        period: u64,
    }

    const SCHED_OTHER: u32 = 0;
    const SCHED_FIFO: u32 = 1;
    const SCHED_IDLE: u32 = 5;

    /// Sets thread `tid`'s policy (0: the calling thread); whether the kernel accepted it.
    fn set(tid: i32, policy: u32, nice: i32, priority: u32) -> bool {
        let attr = SchedAttr {
            size: std::mem::size_of::<SchedAttr>() as u32,
            policy,
            nice,
            priority,
            ..SchedAttr::default()
        };
        // SAFETY: `attr` is a live, correctly sized `sched_attr` that the kernel only
        // reads; the other arguments are plain integers.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_sched_setattr,
                tid,
                &attr as *const SchedAttr,
                0u32,
            )
        };
        rc == 0
    }

    pub(super) fn normal(tid: i32, nice: i32) -> bool {
        set(tid, SCHED_OTHER, nice, 0)
    }

    pub(super) fn idle() -> bool {
        set(0, SCHED_IDLE, 0, 0)
    }

    pub(super) fn fifo(priority: u32) -> bool {
        set(0, SCHED_FIFO, 0, priority)
    }

    pub(super) fn thread_id() -> i32 {
        // SAFETY: gettid has no arguments and cannot fail.
        unsafe { libc::gettid() }
    }

    pub(super) fn pin(cpu: usize) -> bool {
        // SAFETY: `set` is a plain bit set that CPU_ZERO/CPU_SET initialise and
        // sched_setaffinity only reads, with its exact size; `cpu` is bounded by CPU_SETSIZE.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_ZERO(&mut set);
            if cpu >= libc::CPU_SETSIZE as usize {
                return false;
            }
            libc::CPU_SET(cpu, &mut set);
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    pub(super) fn normal(_tid: i32, _nice: i32) -> bool {
        false
    }
    pub(super) fn thread_id() -> i32 {
        0
    }
    pub(super) fn idle() -> bool {
        false
    }
    pub(super) fn fifo(_priority: u32) -> bool {
        false
    }
    pub(super) fn pin(_cpu: usize) -> bool {
        false
    }
}

/// What [`to_background`] will do in this process. Probed once, on a throwaway thread, so
/// no real thread is left changed by a probe that got half way.
pub(crate) fn background() -> Background {
    static MODE: std::sync::OnceLock<Background> = std::sync::OnceLock::new();
    *MODE.get_or_init(|| {
        let mode = std::thread::spawn(|| {
            if imp::idle() && imp::normal(0, 0) {
                Background::Idle
            } else if imp::normal(0, BACKGROUND_NICE) && imp::normal(0, 0) {
                Background::Nice
            } else {
                Background::None
            }
        })
        .join()
        .unwrap_or(Background::None);
        tracing::debug!(?mode, "background thread scheduling");
        mode
    })
}

/// Lowers the calling thread so that it runs in the CPU time writers leave over.
pub(crate) fn to_background() {
    let done = match background() {
        Background::Idle => imp::idle(),
        Background::Nice => imp::normal(0, BACKGROUND_NICE),
        Background::None => true,
    };
    if !done {
        tracing::debug!("could not lower a background thread's priority");
    }
    LOWERED.set(done && background() != Background::None);
}

thread_local! {
    /// Whether [`to_background`] lowered this thread (another thread may have raised it since).
    static LOWERED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// While it lives, a thread that [`to_background`] lowered runs in the default class again: a
/// lowered thread holding a lock that writers wait for is preempted by those very writers
/// (priority inversion), so it must not stay lowered while it holds one.
#[derive(Debug)]
pub(crate) struct Raised(bool);

impl Raised {
    pub(crate) fn new() -> Raised {
        let lowered = LOWERED.get();
        if lowered && !imp::normal(0, 0) {
            tracing::debug!("could not raise a background thread's priority");
        }
        Raised(lowered)
    }
}

impl Drop for Raised {
    fn drop(&mut self) {
        if self.0 {
            to_background();
        }
    }
}

/// Makes the calling thread `SCHED_IDLE`; whether the kernel accepted it.
pub(crate) fn to_idle() -> bool {
    imp::idle()
}

/// Keeps the calling thread on `cpu` (best effort: without it the thread may run anywhere).
pub(crate) fn pin_to_cpu(cpu: usize) {
    if !imp::pin(cpu) {
        tracing::debug!(cpu, "could not pin a thread to its CPU");
    }
}

/// Returns thread `tid` (0: the calling thread; another thread of this process by its
/// [`thread_id`]) to the default class, competing with writers as an equal.
pub(crate) fn to_foreground(tid: i32) {
    if background() != Background::None && !imp::normal(tid, 0) {
        tracing::debug!(tid, "could not restore a background thread's priority");
    }
    if tid == 0 {
        LOWERED.set(false);
    }
}

/// The calling thread's kernel id, for [`to_foreground`] from another thread.
pub(crate) fn thread_id() -> i32 {
    imp::thread_id()
}

/// Gives the calling thread the lowest real-time priority, if the process may; whether it
/// got it. For a thread that runs for microseconds and then blocks on the disk, so that it
/// is not queued behind CPU-bound work; the kernel's real-time throttling still bounds it.
pub(crate) fn to_realtime() -> bool {
    imp::fifo(1)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// The calling thread's policy and niceness, as the kernel reports them.
    fn current() -> (i32, i32) {
        // SAFETY: plain integer arguments; no memory of ours is touched.
        let policy = unsafe { libc::sched_getscheduler(0) };
        // SAFETY: as above. (-1 is a valid niceness, so errno is not checked: the call
        // cannot fail for the calling thread.)
        let nice = unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) };
        (policy, nice)
    }

    #[test]
    fn background_and_back_restore_the_default_class() {
        std::thread::spawn(|| {
            let mode = background();
            to_background();
            let lowered = current();
            to_foreground(0);
            let restored = current();
            match mode {
                Background::Idle => {
                    assert_eq!(lowered.0, libc::SCHED_IDLE);
                    assert_eq!(restored, (libc::SCHED_OTHER, 0));
                }
                Background::Nice => {
                    assert_eq!(lowered, (libc::SCHED_OTHER, BACKGROUND_NICE));
                    assert_eq!(restored, (libc::SCHED_OTHER, 0));
                }
                Background::None => assert_eq!(lowered, restored),
            }
        })
        .join()
        .expect("probe thread");
    }

    #[test]
    fn another_thread_can_bring_a_background_thread_back() {
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
        let lowered = std::thread::spawn(move || {
            to_background();
            tid_tx.send(thread_id()).expect("test thread alive");
            go_rx.recv().expect("test thread alive");
            current()
        });
        let tid = tid_rx.recv().expect("lowered thread started");
        to_foreground(tid);
        go_tx.send(()).expect("lowered thread alive");
        let after = lowered.join().expect("lowered thread");
        if background() != Background::None {
            assert_eq!(after, (libc::SCHED_OTHER, 0));
        }
    }

    #[test]
    fn realtime_is_fifo_when_granted() {
        std::thread::spawn(|| {
            if to_realtime() {
                assert_eq!(current().0, libc::SCHED_FIFO);
            } else {
                assert_eq!(current().0, libc::SCHED_OTHER);
            }
        })
        .join()
        .expect("probe thread");
    }
}
