//! What can go wrong in the engine (per-point problems are not errors: see `outcome`).

use catalog::CatalogError;

/// Errors of the engine. Per-point problems are not errors: they are [`Rejection`]s in a
/// successful [`WriteOutcome`]. Everything here is a server-side fault.
///
/// Deliberately not `#[non_exhaustive]`: the server's status mapping matches it exhaustively, so
/// a new variant cannot compile until someone decides its status code.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The catalog failed.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The object store failed.
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
    /// Encoding Parquet failed.
    #[error("parquet: {0}")]
    Parquet(String),
    /// The engine is stopping and takes no more writes.
    #[error("the server is shutting down")]
    ShuttingDown,
    /// A WAL write, fsync or flush failed earlier; no write is acknowledged until restart.
    #[error("storage failed earlier; writes are refused until the server is restarted")]
    Poisoned,
    /// Buffers are over `max_buffer_bytes` and flushing has not caught up.
    #[error("write buffers are full; retry shortly")]
    Overloaded,
    /// Reading or writing the WAL failed.
    #[error("WAL: {0}")]
    Wal(String),
    /// Stored state (a manifest, a WAL segment, a Parquet file) cannot be read as written.
    /// Nothing is deleted or rewritten because of it.
    #[error("{path} is corrupt: {source}")]
    Corrupt {
        /// The object or file.
        path: String,
        /// What was wrong with it.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A bug: an invariant did not hold.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Crate result type.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;
