//! The catalog's one error type.

/// Errors of the catalog. Client faults (bad names, conflicts) and server faults (storage,
/// corruption) are separate variants so the HTTP layer can map them without guessing.
///
/// Deliberately not `#[non_exhaustive]`: the server's status mapping matches it exhaustively, so
/// a new variant cannot compile until someone decides its status code.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// A database, retention policy or bucket name breaks a naming rule.
    #[error("invalid name {name:?}: {rule}")]
    InvalidName {
        /// The offending name.
        name: String,
        /// The rule it breaks.
        rule: &'static str,
    },
    /// No bucket or mapping serves this v1 database, and the caller may not create one.
    #[error("database not found: {db:?}")]
    DatabaseNotFound {
        /// The database.
        db: String,
    },
    /// The database is known but not this retention policy.
    #[error("retention policy not found: {rp}")]
    RetentionPolicyNotFound {
        /// The retention policy.
        rp: String,
    },
    /// A bucket, mapping or token id that does not exist.
    #[error("{kind} not found: {id}")]
    NotFound {
        /// What was looked for.
        kind: &'static str,
        /// Its id or name.
        id: String,
    },
    /// The request conflicts with what exists (e.g. a mapping for that db/rp already exists).
    #[error("{0}")]
    Conflict(String),
    /// The object store failed.
    #[error("catalog storage error: {0}")]
    Storage(#[from] object_store::Error),
    /// A record file is damaged; the catalog refuses to guess.
    #[error("catalog record {path} is corrupt: {reason}")]
    Corrupt {
        /// The record's path.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Another process appended to the catalog log of this data dir.
    #[error(
        "catalog record {path} already exists: is another strata process using this data dir?"
    )]
    ConcurrentWriter {
        /// The record path that was taken.
        path: String,
    },
}

/// Crate result type.
pub type Result<T, E = CatalogError> = std::result::Result<T, E>;
