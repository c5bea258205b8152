//! How the engine is tuned, and what an acknowledgement promises.

use std::time::Duration;

/// How the engine is tuned. Built by the server from its flags; no defaults live here.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Where the Parquet files, manifests and WAL live.
    pub layout: crate::Layout,
    /// Flush a measurement's buffer once it holds about this many bytes.
    pub flush_table_bytes: usize,
    /// Flush a measurement's buffer once its oldest row is this old.
    pub flush_interval: Duration,
    /// Rows per Parquet row group.
    pub row_group_rows: usize,
    /// Longest accepted string field value.
    pub max_string_bytes: usize,
    /// Longest accepted line.
    pub max_line_bytes: usize,
    /// Most bytes all buffers together may hold; beyond it writes wait for a flush, then get
    /// [`EngineError::Overloaded`].
    pub max_buffer_bytes: usize,
    /// What an acknowledged write promises.
    pub durability: Durability,
    /// Shards per measurement buffer: concurrent writes to one measurement append to different
    /// shards (one per thread that appends is enough; 1 restores a single locked buffer).
    pub buffer_shards: usize,
    /// Threads that take on parts of a large body while the writer's own thread does the first
    /// part, so one request's latency is not all of its parsing on one core (0: every body is
    /// done on its writer's thread).
    pub apply_threads: usize,
    /// After each write, keep the CPUs from halting for this long (one `SCHED_IDLE` spinning
    /// thread per CPU; see `idle_poll`). Zero: off.
    pub idle_poll: Duration,
}

/// What a successful [`Engine::write`] promises. There is one policy, and it is the product's
/// promise: no acknowledgement without an fsync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Every accepted point is in a WAL segment on local disk that was `fdatasync`'d (and, for a
    /// new segment, whose directory entry was synced) before the write returns. It survives
    /// `kill -9` and power loss, given a disk that honours flushes. Concurrent writes share one
    /// sync (group commit, no timer). If a write or sync fails, the engine refuses every later
    /// write until restart rather than acknowledge data it may have lost.
    SyncedWal,
}
