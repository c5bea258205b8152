//! Every knob of `strata serve`: flags, each with a `STRATA_*` environment twin and a documented
//! default. This is the only configuration surface; it converts into the typed configs of the
//! other crates.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// Strata: a time-series storage engine that speaks the InfluxDB v1 HTTP write API.
#[derive(Debug, Parser)]
#[command(name = "strata", version, about, long_about = None)]
// Scripts and tests layer flags over defaults: the last occurrence wins.
#[command(args_override_self = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: InfluxDB v1 `/write` on HTTP, data in Parquet under the data dir.
    #[command(args_override_self = true)]
    Serve(ServeConfig),
    /// Manage buckets of a running server.
    Bucket {
        #[command(flatten)]
        target: crate::cli::Target,
        #[command(subcommand)]
        action: crate::cli::BucketAction,
    },
    /// Manage DBRP mappings (v1 database + retention policy → bucket) of a running server.
    Dbrp {
        #[command(flatten)]
        target: crate::cli::Target,
        #[command(subcommand)]
        action: crate::cli::DbrpAction,
    },
    /// Manage API tokens of a running server.
    Token {
        #[command(flatten)]
        target: crate::cli::Target,
        #[command(subcommand)]
        action: crate::cli::TokenAction,
    },
    /// Query a running server: `strata query --db D --sql 'SELECT …'` prints a table.
    Query {
        #[command(flatten)]
        target: crate::cli::Target,
        #[command(flatten)]
        args: crate::cli::QueryArgs,
    },
}

/// Options of `strata serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// TOML file of options: keys are the flag names (`http_bind` or `http-bind`), values fill
    /// in what neither a flag nor an environment variable sets.
    #[arg(long, env = "STRATA_CONFIG")]
    pub config: Option<PathBuf>,

    /// Address to listen on. Use port 0 to let the OS pick one (see --listener-file).
    #[arg(long, env = "STRATA_HTTP_BIND", default_value = "127.0.0.1:8086")]
    pub http_bind: SocketAddr,

    /// Directory that holds all state: catalog and Parquet files.
    #[arg(long, env = "STRATA_DATA_DIR", default_value = "./strata-data")]
    pub data_dir: PathBuf,

    /// Directory of the write-ahead log; default `<data-dir>/wal`. Must be a local disk that
    /// honours fsync: every acknowledged write is synced here first.
    #[arg(long, env = "STRATA_WAL_DIR")]
    pub wal_dir: Option<PathBuf>,

    /// Operator token to create on start if it does not exist (for scripts and CI). Without it,
    /// the first start on an empty data dir generates one and prints it once.
    #[arg(long, env = "STRATA_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,

    /// Accept every request without a token (local experiments only; logged loudly at start).
    #[arg(long, env = "STRATA_WITHOUT_AUTH")]
    pub without_auth: bool,

    /// Write the bound address (host:port) to this file once listening; for scripts and tests
    /// that start the server on port 0.
    #[arg(long, env = "STRATA_LISTENER_FILE")]
    pub listener_file: Option<PathBuf>,

    /// Flush a measurement's buffer to Parquet once its oldest point is this many milliseconds
    /// old.
    #[arg(long, env = "STRATA_FLUSH_INTERVAL_MS", default_value_t = 10_000)]
    pub flush_interval_ms: u64,

    /// Flush a measurement's buffer to Parquet once it holds about this many bytes.
    #[arg(long, env = "STRATA_FLUSH_TABLE_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub flush_table_bytes: usize,

    /// Rows per Parquet row group (bounds the memory a flush needs).
    #[arg(long, env = "STRATA_ROW_GROUP_ROWS", default_value_t = 262_144)]
    pub row_group_rows: usize,

    /// Largest request body accepted, in bytes; applies to the body as sent and again after
    /// gzip decompression (InfluxDB 1.x's default).
    #[arg(long, env = "STRATA_MAX_BODY_BYTES", default_value_t = 25_000_000)]
    pub max_body_bytes: usize,

    /// Longest string field value accepted, in bytes.
    #[arg(long, env = "STRATA_MAX_STRING_BYTES", default_value_t = lp::DEFAULT_MAX_STRING_BYTES)]
    pub max_string_bytes: usize,

    /// Most bytes all write buffers together may hold; beyond it writes wait briefly for a flush,
    /// then get 503 with Retry-After. 0 means a quarter of physical memory. Set, it also has
    /// freed memory handed back to the system within a quarter second, so the process stays
    /// near the bound (a flush's working memory comes on top).
    #[arg(long, env = "STRATA_MAX_BUFFER_BYTES", default_value_t = 0)]
    pub max_buffer_bytes: usize,

    /// Memory all running queries may hold for sorts, aggregates and joins, in bytes; a query
    /// that needs more fails with a clear error (0: a sixteenth of physical memory).
    #[arg(long, env = "STRATA_QUERY_MEMORY_BYTES", default_value_t = 0)]
    pub query_memory_bytes: usize,

    /// Longest a query may run, in seconds.
    #[arg(long, env = "STRATA_QUERY_TIMEOUT", default_value_t = 60)]
    pub query_timeout: u64,

    /// Longest line accepted, in bytes; longer lines are rejected (the rest of the body is
    /// written).
    #[arg(long, env = "STRATA_MAX_LINE_BYTES", default_value_t = 1024 * 1024)]
    pub max_line_bytes: usize,

    /// Writes processed at once; more wait (up to 10 s) for a turn, then get 503 with
    /// Retry-After (clients retry 5xx; a 4xx would make Telegraf drop the batch).
    #[arg(long, env = "STRATA_MAX_CONCURRENT_WRITES", default_value_t = 256)]
    pub max_concurrent_writes: usize,

    /// HTTP worker threads; 0 means one per CPU core.
    #[arg(long, env = "STRATA_WORKERS", default_value_t = 0)]
    pub workers: usize,

    /// Threads that take on parts of a large write body (≥ 128 KiB) while its HTTP worker does
    /// the first part; -1 means one per CPU core beyond the first, 0 none.
    #[arg(long, env = "STRATA_APPLY_THREADS", default_value_t = -1, allow_negative_numbers = true)]
    pub apply_threads: i64,

    /// After each write, keep the CPUs from halting for this many microseconds: one
    /// `SCHED_IDLE` thread per CPU spins (never delaying a thread with work), as the kernel's
    /// guest halt-polling would on a VM where it is off. Cuts a lone writer's round trip on
    /// such VMs; costs CPU time in that window after writes. 0: off.
    #[arg(long, env = "STRATA_IDLE_POLL_US", default_value_t = 200)]
    pub idle_poll_us: u64,

    /// Log filter, in `tracing_subscriber::EnvFilter` syntax (e.g. `info`, `server=debug`).
    #[arg(long, env = "STRATA_LOG", default_value = "info")]
    pub log: String,
}

impl ServeConfig {
    pub(crate) fn engine_config(&self) -> engine::EngineConfig {
        engine::EngineConfig {
            layout: self.layout(),
            flush_table_bytes: self.flush_table_bytes,
            flush_interval: Duration::from_millis(self.flush_interval_ms),
            row_group_rows: self.row_group_rows,
            max_string_bytes: self.max_string_bytes,
            max_line_bytes: self.max_line_bytes,
            max_buffer_bytes: if self.max_buffer_bytes == 0 {
                physical_memory_bytes() / 4
            } else {
                self.max_buffer_bytes
            },
            durability: engine::Durability::SyncedWal,
            // One shard per thread that appends (HTTP workers and apply threads): each then
            // appends to its own.
            buffer_shards: self.http_workers() + self.apply_threads(),
            apply_threads: self.apply_threads(),
            idle_poll: Duration::from_micros(self.idle_poll_us),
        }
    }

    /// Everything under the data directory's store root; the WAL in `--wal-dir`, or
    /// `<data dir>/wal`.
    pub(crate) fn layout(&self) -> engine::Layout {
        engine::Layout::new(
            object_store::path::Path::default(),
            self.wal_dir
                .clone()
                .unwrap_or_else(|| self.data_dir.join("wal")),
        )
    }

    /// HTTP worker threads: `--workers`, or one per CPU core.
    pub(crate) fn http_workers(&self) -> usize {
        if self.workers == 0 {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        } else {
            self.workers
        }
    }

    /// Threads that help with large bodies: `--apply-threads`, or one per core beyond the
    /// first, so a lone large request uses every core (none on a single core, where a hand-off
    /// only adds work).
    pub(crate) fn apply_threads(&self) -> usize {
        match usize::try_from(self.apply_threads) {
            Ok(n) => n,
            Err(_) => std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .saturating_sub(1),
        }
    }

    pub(crate) fn query_config(&self) -> query::QueryConfig {
        query::QueryConfig {
            memory_bytes: match self.query_memory_bytes {
                0 => physical_memory_bytes() / 16,
                n => n,
            },
            timeout: Duration::from_secs(self.query_timeout.max(1)),
            ..query::QueryConfig::default()
        }
    }

    pub(crate) fn catalog_config(&self) -> catalog::CatalogConfig {
        catalog::CatalogConfig {
            prefix: self.layout().catalog(),
            snapshot_every: 256,
        }
    }
}

/// Physical memory from `/proc/meminfo`, or 4 GiB when it cannot be read.
fn physical_memory_bytes() -> usize {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        })
        .map_or(4 << 30, |kb| kb * 1024)
}

/// Applies `--config FILE` (or `STRATA_CONFIG`): every key becomes its flag's `STRATA_*`
/// environment variable unless that variable is already set, so precedence is flag > env > file >
/// default and the file needs no parser of its own. Must run before any thread starts.
pub fn apply_config_file(args: &[std::ffi::OsString]) -> Result<(), String> {
    let mut path = std::env::var_os("STRATA_CONFIG").map(PathBuf::from);
    let mut iter = args.iter();
    while let Some(a) = iter.next() {
        let a = a.to_string_lossy();
        if a == "--config" {
            path = iter.next().map(PathBuf::from);
        } else if let Some(p) = a.strip_prefix("--config=") {
            path = Some(PathBuf::from(p));
        }
    }
    let Some(path) = path else { return Ok(()) };
    let text =
        std::fs::read_to_string(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let command = <Cli as clap::CommandFactory>::command();
    let serve = command
        .find_subcommand("serve")
        .ok_or("the serve command is missing")?;
    for (key, value) in table {
        let id = key.replace('-', "_");
        let arg = serve
            .get_arguments()
            .find(|a| a.get_id().as_str() == id && id != "config")
            .ok_or_else(|| {
                let known: Vec<String> = serve
                    .get_arguments()
                    .map(|a| a.get_id().to_string())
                    .filter(|k| k != "config" && k != "help")
                    .collect();
                format!(
                    "{}: unknown option {key:?} (known: {})",
                    path.display(),
                    known.join(", ")
                )
            })?;
        let Some(env) = arg.get_env() else { continue };
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Float(f) => f.to_string(),
            other => {
                return Err(format!(
                    "{}: {key} must be a string, number or boolean, not a {}",
                    path.display(),
                    other.type_str()
                ))
            }
        };
        if std::env::var_os(env).is_none() {
            // Safe here: called from main before any other thread exists.
            std::env::set_var(env, value);
        }
    }
    Ok(())
}
