//! A measurement's buffer, split into shards so that concurrent writes do not contend.
//!
//! Each write pass appends a measurement's rows to one shard, preferring the shard its thread
//! is assigned (actix runs one worker thread per core, so workers get different shards) and
//! moving on to the next free one if another thread holds it. A flush takes every shard and
//! sorts them as one (`flush::Sorted`); the write-pass sequence numbers recorded with the rows
//! keep "last write wins" exact across shards.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use std::sync::Arc;

use parking_lot::Mutex;

use crate::TableBuffer;

/// A locked shard that owns its hold on the shard (a write pass keeps one across many lines).
pub(crate) type ShardGuard = parking_lot::ArcMutexGuard<parking_lot::RawMutex, TableBuffer>;

/// One measurement's shards and the bytes they hold together.
#[derive(Debug)]
pub(crate) struct Shards {
    shards: Box<[Arc<Mutex<TableBuffer>>]>,
    /// Bytes in all shards, settled once per write pass (not per row: the counter is shared).
    bytes: AtomicUsize,
    /// When rows were first settled into the (then empty) shards, in nanoseconds since
    /// [`base`] (0: none buffered). An atomic, not a field of each shard, so that the flush
    /// thread's age check never takes a shard lock: at low priority it could be preempted
    /// holding one, and a writer would wait for it (priority inversion).
    oldest_ns: AtomicU64,
}

/// The instant that [`Shards`]' ages count from.
fn base() -> Instant {
    static BASE: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

static NEXT_THREAD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// This thread's preferred shard (before `% count`), handed out round-robin on first use.
    static HOME: Cell<Option<usize>> = const { Cell::new(None) };
}

fn home() -> usize {
    HOME.with(|h| match h.get() {
        Some(i) => i,
        None => {
            let i = NEXT_THREAD.fetch_add(1, Ordering::Relaxed);
            h.set(Some(i));
            i
        }
    })
}

impl Shards {
    pub(crate) fn new(count: usize) -> Self {
        Shards {
            shards: (0..count.max(1)).map(|_| Arc::default()).collect(),
            bytes: AtomicUsize::new(0),
            oldest_ns: AtomicU64::new(0),
        }
    }

    /// The shard a write pass should use: this thread's own, unless another thread is in it
    /// right now, then the next free one (or its own, to wait for, if none is free).
    pub(crate) fn pick(&self) -> usize {
        let n = self.shards.len();
        let home = home() % n;
        (0..n)
            .map(|k| (home + k) % n)
            .find(|&i| self.shards.get(i).is_some_and(|s| !s.is_locked()))
            .unwrap_or(home)
    }

    /// Shard `i` (as returned by [`Self::pick`]), locked.
    pub(crate) fn lock(&self, i: usize) -> ShardGuard {
        self.shard(i).lock_arc()
    }

    /// Shard `i`, locked, if no one else holds it.
    pub(crate) fn try_lock(&self, i: usize) -> Option<ShardGuard> {
        self.shard(i).try_lock_arc()
    }

    fn shard(&self, i: usize) -> &Arc<Mutex<TableBuffer>> {
        // There is always at least one shard (`new`), so the index is in bounds.
        &self.shards[i % self.shards.len()]
    }

    /// Adds a pass's bytes (and notes when rows first arrived); returns the measurement's new
    /// total.
    pub(crate) fn add_bytes(&self, n: usize) -> usize {
        let now = (base().elapsed().as_nanos() as u64).max(1);
        let _ = self
            .oldest_ns
            .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
        self.bytes.fetch_add(n, Ordering::Relaxed) + n
    }

    /// Takes the rows of every shard that has any, leaving each an empty buffer sized like the
    /// one taken ([`TableBuffer::fresh_like`]).
    pub(crate) fn take_all(&self) -> Vec<TableBuffer> {
        let mut out = Vec::new();
        for s in self.shards.iter() {
            let mut shard = s.lock();
            if shard.rows() > 0 {
                let fresh = shard.fresh_like();
                out.push(std::mem::replace(&mut *shard, fresh));
            }
        }
        self.bytes.store(0, Ordering::Relaxed);
        self.oldest_ns.store(0, Ordering::Relaxed);
        out
    }

    /// Every shard's rows as batches, leaving them (one shard locked at a time, as a writer
    /// would: a pass never waits for a shard while holding another).
    pub(crate) fn snapshot(&self) -> crate::Result<Vec<crate::Taken>> {
        let mut out = Vec::new();
        for s in self.shards.iter() {
            out.extend(s.lock().snapshot()?);
        }
        Ok(out)
    }

    pub(crate) fn rows(&self) -> usize {
        self.shards.iter().map(|s| s.lock().rows()).sum()
    }

    /// When the oldest buffered row arrived (to within a write pass), without locking.
    pub(crate) fn oldest(&self) -> Option<Instant> {
        match self.oldest_ns.load(Ordering::Relaxed) {
            0 => None,
            ns => base().checked_add(std::time::Duration::from_nanos(ns)),
        }
    }
}
