//! The state every handler shares. Its own module so that `http` and `admin`, which both take it,
//! depend on it rather than on each other.

use std::sync::Arc;

use catalog::Catalog;
use engine::Engine;

use crate::metrics::Metrics;

/// What every handler can reach.
#[derive(Debug)]
pub(crate) struct AppState {
    pub(crate) catalog: Arc<Catalog>,
    pub(crate) engine: Engine,
    pub(crate) query: query::QueryEngine,
    pub(crate) max_body_bytes: usize,
    pub(crate) metrics: Metrics,
    /// One permit per write in progress (`--max-concurrent-writes`).
    pub(crate) write_permits: tokio::sync::Semaphore,
    pub(crate) auth_enabled: bool,
}
