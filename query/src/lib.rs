//! Strata's query engine: SQL on Apache DataFusion over engine snapshots.
//!
//! Each measurement of a bucket is a table ([`table::MeasurementTable`]) whose scan takes a
//! fresh [`engine::Snapshot`]: the rows still in memory and the Parquet files durable manifests
//! name, read through the engine's own object store. Files are sorted and hold each point once,
//! so only inputs whose time ranges overlap are merged ("last write wins", [`dedup`]); the rest
//! are scanned as they are. Queries run on their own threads at the engine's background
//! priority, under a memory limit and a timeout ([`QueryConfig`]).

use std::sync::Arc;
use std::time::Duration;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use catalog::{Bucket, Catalog};
use datafusion::common::ScalarValue;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::prelude::{SessionConfig, SessionContext};
use engine::Engine;

mod dedup;
mod error;
pub mod format;
mod overlap;
mod table;
mod time_range;
pub mod v1;

pub use error::{QueryError, Result};

/// The object store URL the engine's files are read under.
const STORE_URL: &str = "strata://data";

/// Limits and threads of the query engine.
#[derive(Debug, Clone)]
pub struct QueryConfig {
    /// Memory all running queries may hold for sorts, aggregates and joins (bytes; 0: none).
    pub memory_bytes: usize,
    /// Longest a query may run.
    pub timeout: Duration,
    /// Threads queries execute on.
    pub threads: usize,
}

impl Default for QueryConfig {
    fn default() -> Self {
        QueryConfig {
            memory_bytes: 1 << 30,
            timeout: Duration::from_secs(60),
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }
}

/// A value for a query's `$name` placeholder.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    /// A string.
    Str(String),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer too large for `Int`.
    UInt(u64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// SQL NULL.
    Null,
}

impl Param {
    fn scalar(self) -> ScalarValue {
        match self {
            Param::Str(s) => ScalarValue::Utf8(Some(s)),
            Param::Int(i) => ScalarValue::Int64(Some(i)),
            Param::UInt(u) => ScalarValue::UInt64(Some(u)),
            Param::Float(f) => ScalarValue::Float64(Some(f)),
            Param::Bool(b) => ScalarValue::Boolean(Some(b)),
            Param::Null => ScalarValue::Null,
        }
    }
}

/// A query's answer: its schema and batches.
#[derive(Debug, Clone)]
pub struct QueryOutput {
    /// Columns, even when no row came back.
    pub schema: SchemaRef,
    /// Rows.
    pub batches: Vec<RecordBatch>,
}

impl QueryOutput {
    /// Rows in all.
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

/// Runs SQL against the engine's buckets.
#[derive(Debug)]
pub struct QueryEngine {
    engine: Engine,
    catalog: Arc<Catalog>,
    runtime: Arc<RuntimeEnv>,
    /// Execution threads, at background priority (an `Option` only to be shut down without
    /// blocking in `Drop`, which may run inside another runtime).
    threads: Option<tokio::runtime::Runtime>,
    config: QueryConfig,
    stats: Arc<QueryStats>,
}

/// Upper bounds (ms) of the query duration histogram's buckets.
pub const DURATION_BOUNDS_MS: [f64; 10] = [
    1.0, 5.0, 10.0, 50.0, 100.0, 500.0, 1000.0, 5000.0, 10_000.0, 60_000.0,
];

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct QueryStats {
    /// Queries per duration bucket ([`DURATION_BOUNDS_MS`]; longer ones only in the count).
    pub duration_buckets: [std::sync::atomic::AtomicU64; DURATION_BOUNDS_MS.len()],
    /// Queries answered.
    pub ok: std::sync::atomic::AtomicU64,
    /// Queries refused for their text (syntax, unknown table or column).
    pub bad: std::sync::atomic::AtomicU64,
    /// Queries stopped by a limit (memory, timeout) or failed reading.
    pub failed: std::sync::atomic::AtomicU64,
    /// Total query time, microseconds.
    pub micros: std::sync::atomic::AtomicU64,
    /// Rows read from memory and files before filters.
    pub rows_scanned: std::sync::atomic::AtomicU64,
    /// Bytes of the files a query's plan opened.
    pub file_bytes_scanned: std::sync::atomic::AtomicU64,
}

impl QueryEngine {
    /// A query engine over `engine`'s data and `catalog`'s schemas.
    pub fn new(engine: Engine, catalog: Arc<Catalog>, config: QueryConfig) -> Result<Self> {
        let mut builder = RuntimeEnvBuilder::new();
        if config.memory_bytes > 0 {
            builder = builder.with_memory_limit(config.memory_bytes, 1.0);
        }
        let runtime = builder.build_arc()?;
        let url = url::Url::parse(STORE_URL).map_err(|e| QueryError::Internal(e.to_string()))?;
        runtime.register_object_store(&url, engine.store());
        let threads = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.threads.max(1))
            .thread_name("strata-query")
            .on_thread_start(engine::lower_current_thread)
            .enable_all()
            .build()
            .map_err(|e| QueryError::Internal(format!("starting query threads: {e}")))?;
        Ok(QueryEngine {
            engine,
            catalog,
            runtime,
            threads: Some(threads),
            config,
            stats: Arc::default(),
        })
    }

    /// Counters.
    pub fn stats(&self) -> &Arc<QueryStats> {
        &self.stats
    }

    /// Runs `sql` against `bucket`: its measurements are the tables.
    pub async fn sql(&self, bucket: &Bucket, sql: &str) -> Result<QueryOutput> {
        self.sql_with_params(bucket, sql, Vec::new()).await
    }

    /// [`Self::sql`] with values for its `$name` placeholders.
    pub async fn sql_with_params(
        &self,
        bucket: &Bucket,
        sql: &str,
        params: Vec<(String, Param)>,
    ) -> Result<QueryOutput> {
        let started = std::time::Instant::now();
        let ctx = self.context(bucket)?;
        let sql = sql.to_owned();
        let run = self.run(async move {
            let mut frame = ctx.sql(&sql).await?;
            if !params.is_empty() {
                let values: Vec<(String, ScalarValue)> =
                    params.into_iter().map(|(k, v)| (k, v.scalar())).collect();
                frame = frame.with_param_values(values)?;
            }
            let schema: SchemaRef = Arc::new(frame.schema().as_arrow().clone());
            let batches = frame.collect().await?;
            Ok::<_, QueryError>(QueryOutput { schema, batches })
        });
        let result = run.await.and_then(|r| r);
        self.record(started, &result);
        result
    }

    /// Runs `work` on the query threads under the timeout.
    async fn run<T: Send + 'static>(
        &self,
        work: impl std::future::Future<Output = T> + Send + 'static,
    ) -> Result<T> {
        let timeout = self.config.timeout;
        let threads = self
            .threads
            .as_ref()
            .ok_or_else(|| QueryError::Internal("query threads stopped".into()))?;
        let task = threads.spawn(work);
        match tokio::time::timeout(timeout, task).await {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(e)) => Err(QueryError::Internal(format!("query task: {e}"))),
            Err(_) => Err(QueryError::Timeout(timeout)),
        }
    }

    /// Counts a query that started at `started` in the metrics.
    fn record<T>(&self, started: std::time::Instant, result: &Result<T>) {
        use std::sync::atomic::Ordering;
        let took = started.elapsed();
        self.stats
            .micros
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
        let ms = took.as_secs_f64() * 1e3;
        if let Some(i) = DURATION_BOUNDS_MS.iter().position(|&b| ms <= b) {
            self.stats.duration_buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        let counter = match result {
            Ok(_) => &self.stats.ok,
            Err(e) if e.is_client_error() => &self.stats.bad,
            Err(_) => &self.stats.failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A session whose default schema holds `bucket`'s measurements.
    fn context(&self, bucket: &Bucket) -> Result<SessionContext> {
        let config = SessionConfig::new()
            .with_information_schema(true)
            .with_default_catalog_and_schema("public", "iox")
            .with_target_partitions(self.config.threads.max(1));
        let ctx = SessionContext::new_with_config_rt(config, Arc::clone(&self.runtime));
        for (measurement, schema) in self.catalog.tables_of(bucket.id) {
            let table = table::MeasurementTable::new(
                self.engine.clone(),
                bucket.id,
                measurement.clone(),
                &schema,
                Arc::clone(&self.stats),
            );
            ctx.register_table(
                datafusion::common::TableReference::bare(measurement),
                Arc::new(table),
            )?;
        }
        Ok(ctx)
    }
}

impl Drop for QueryEngine {
    fn drop(&mut self) {
        if let Some(threads) = self.threads.take() {
            threads.shutdown_background();
        }
    }
}
