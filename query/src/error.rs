//! What can go wrong answering a query, sorted by whose fault it is.

use std::time::Duration;

use datafusion::error::DataFusionError;

/// A query's failure.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The query's text: syntax, an unknown table or column, a type mismatch.
    #[error("{0}")]
    Invalid(String),
    /// It needed more memory than `--query-memory-bytes` allows.
    #[error("query exceeded its memory limit: {0}")]
    Memory(String),
    /// It ran past `--query-timeout`.
    #[error("query timed out after {0:?}")]
    Timeout(Duration),
    /// Reading the data failed (a corrupt or missing file names itself here).
    #[error("{0}")]
    Engine(#[from] engine::EngineError),
    /// Anything else DataFusion reports while executing.
    #[error("{0}")]
    Execution(String),
    /// The caller may not run this (1.x's `error authorizing query: …`).
    #[error("{0}")]
    Unauthorized(String),
    /// A bug.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Results of this crate.
pub type Result<T, E = QueryError> = std::result::Result<T, E>;

impl QueryError {
    /// Whether the client's query is at fault (a 400, not a 5xx).
    pub fn is_client_error(&self) -> bool {
        matches!(self, QueryError::Invalid(_))
    }

    /// Whether a server-side limit stopped it (a 503).
    pub fn is_limit(&self) -> bool {
        matches!(self, QueryError::Memory(_) | QueryError::Timeout(_))
    }
}

impl From<DataFusionError> for QueryError {
    fn from(e: DataFusionError) -> Self {
        match e.find_root() {
            DataFusionError::SQL(..)
            | DataFusionError::Plan(_)
            | DataFusionError::SchemaError(..)
            | DataFusionError::NotImplemented(_) => QueryError::Invalid(e.strip_backtrace()),
            DataFusionError::ResourcesExhausted(m) => QueryError::Memory(m.clone()),
            DataFusionError::External(inner) => match inner.downcast_ref::<engine::EngineError>() {
                Some(engine) => QueryError::Execution(engine.to_string()),
                None => QueryError::Execution(e.strip_backtrace()),
            },
            _ => QueryError::Execution(e.strip_backtrace()),
        }
    }
}
