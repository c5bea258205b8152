//! `/metrics` in Prometheus text format. Counters are plain atomics updated on the request path
//! (no locks); the WAL and flush numbers are read from the engine when scraped.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use engine::{Engine, RejectReason, WriteOutcome, SYNC_BUCKET_BOUNDS_MS};

/// Routes counted separately (anything else is `other`).
const ROUTES: [&str; 9] = [
    "/write",
    "/api/v2/write",
    "/query",
    "/api/v3/query_sql",
    "/ping",
    "/health",
    "/metrics",
    "/api/v2/admin",
    "other",
];
/// Status classes counted per route.
const STATUSES: [u16; 10] = [200, 201, 204, 400, 401, 403, 404, 413, 500, 503];
/// Rejection reasons counted.
const REASONS: [&str; 5] = [
    "parse",
    "field_type_conflict",
    "column_conflict",
    "retention",
    "reserved_name",
];

/// Request and write counters.
#[derive(Debug)]
pub(crate) struct Metrics {
    requests: Vec<AtomicU64>,
    requests_other_status: Vec<AtomicU64>,
    points_written: AtomicU64,
    bytes_received: AtomicU64,
    rejected: Vec<AtomicU64>,
}

impl Default for Metrics {
    fn default() -> Self {
        let counters = |n: usize| (0..n).map(|_| AtomicU64::new(0)).collect();
        Metrics {
            requests: counters(ROUTES.len() * STATUSES.len()),
            requests_other_status: counters(ROUTES.len()),
            points_written: AtomicU64::new(0),
            bytes_received: AtomicU64::new(0),
            rejected: counters(REASONS.len()),
        }
    }
}

fn route_index(path: &str) -> usize {
    let route = if path.starts_with("/api/v2/") && path != "/api/v2/write" {
        "/api/v2/admin"
    } else {
        path
    };
    ROUTES
        .iter()
        .position(|r| *r == route)
        .unwrap_or(ROUTES.len() - 1)
}

impl Metrics {
    pub(crate) fn observe_request(&self, path: &str, status: u16) {
        let r = route_index(path);
        let counter = match STATUSES.iter().position(|s| *s == status) {
            Some(s) => self.requests.get(r * STATUSES.len() + s),
            None => self.requests_other_status.get(r),
        };
        if let Some(c) = counter {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn observe_write(&self, body_bytes: usize, outcome: &WriteOutcome) {
        self.bytes_received
            .fetch_add(body_bytes as u64, Ordering::Relaxed);
        self.points_written
            .fetch_add(outcome.written as u64, Ordering::Relaxed);
        // Only detailed rejections carry a reason; the rest are counted as parse errors, the
        // overwhelmingly common cause of large rejection counts.
        let mut detailed = 0;
        for r in &outcome.rejected {
            let reason = match r.reason {
                RejectReason::Parse(_) => 0,
                RejectReason::FieldTypeConflict { .. } => 1,
                RejectReason::ColumnKindConflict { .. } => 2,
                RejectReason::BeyondRetention => 3,
                RejectReason::ReservedName { .. } => 4,
            };
            if let Some(c) = self.rejected.get(reason) {
                c.fetch_add(1, Ordering::Relaxed);
            }
            detailed += 1;
        }
        if let Some(c) = self.rejected.first() {
            c.fetch_add(
                (outcome.rejected_total - detailed) as u64,
                Ordering::Relaxed,
            );
        }
    }

    /// The exposition text.
    pub(crate) fn render(&self, engine: &Engine, queries: &query::QueryStats) -> String {
        let mut out = String::with_capacity(4096);
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        out.push_str("# HELP strata_http_requests_total HTTP requests by route and status.\n# TYPE strata_http_requests_total counter\n");
        for (r, route) in ROUTES.iter().enumerate() {
            for (s, status) in STATUSES.iter().enumerate() {
                let n = self.requests.get(r * STATUSES.len() + s).map_or(0, load);
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "strata_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
                    );
                }
            }
            let n = self.requests_other_status.get(r).map_or(0, load);
            if n > 0 {
                let _ = writeln!(
                    out,
                    "strata_http_requests_total{{route=\"{route}\",status=\"other\"}} {n}"
                );
            }
        }
        let counter = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        };
        counter(
            &mut out,
            "strata_points_written_total",
            "Points accepted (durable).",
            load(&self.points_written),
        );
        counter(
            &mut out,
            "strata_write_bytes_total",
            "Write request body bytes (decompressed).",
            load(&self.bytes_received),
        );
        out.push_str("# HELP strata_points_rejected_total Points rejected, by reason.\n# TYPE strata_points_rejected_total counter\n");
        for (i, reason) in REASONS.iter().enumerate() {
            let _ = writeln!(
                out,
                "strata_points_rejected_total{{reason=\"{reason}\"}} {}",
                self.rejected.get(i).map_or(0, load)
            );
        }
        let wal = engine.wal_stats();
        histogram(
            &mut out,
            "strata_wal_fsync_seconds",
            "Duration of WAL group commits (write + fdatasync).",
            &SYNC_BUCKET_BOUNDS_MS,
            &wal.sync_buckets,
            load(&wal.syncs),
            load(&wal.sync_micros_total),
        );
        counter(
            &mut out,
            "strata_wal_records_total",
            "WAL records made durable.",
            load(&wal.records),
        );
        counter(
            &mut out,
            "strata_wal_bytes_total",
            "WAL bytes made durable.",
            load(&wal.bytes),
        );
        render_queries(&mut out, queries);
        let _ = writeln!(
            out,
            "# HELP strata_buffer_bytes Bytes held in write buffers.\n# TYPE strata_buffer_bytes gauge\nstrata_buffer_bytes {}",
            engine.buffered_bytes()
        );
        let flush = engine.flush_stats();
        counter(
            &mut out,
            "strata_flushes_total",
            "Completed flushes.",
            load(&flush.flushes),
        );
        counter(
            &mut out,
            "strata_flush_failures_total",
            "Flushes whose manifest could not be written (their tables are held and retried).",
            load(&flush.failures),
        );
        counter(
            &mut out,
            "strata_flush_table_failures_total",
            "Failed attempts to write one table's Parquet files (the table is held and retried).",
            load(&flush.table_failures),
        );
        let problems = engine.flush_problems();
        let _ = writeln!(
            out,
            "# HELP strata_flush_tables_failing Tables whose flush is failing: their rows are held in memory and the WAL.\n# TYPE strata_flush_tables_failing gauge\nstrata_flush_tables_failing {}",
            problems.len()
        );
        let _ = writeln!(
            out,
            "# HELP strata_flush_held_rows Rows held for tables whose flush is failing.\n# TYPE strata_flush_held_rows gauge\nstrata_flush_held_rows {}",
            problems.iter().map(|p| p.rows).sum::<usize>()
        );
        counter(
            &mut out,
            "strata_parquet_files_total",
            "Parquet files written.",
            load(&flush.files),
        );
        counter(
            &mut out,
            "strata_parquet_bytes_total",
            "Parquet bytes written.",
            load(&flush.bytes),
        );
        counter(
            &mut out,
            "strata_parquet_rows_total",
            "Rows written to Parquet.",
            load(&flush.rows),
        );
        let _ = writeln!(
            out,
            "# HELP strata_up Whether writes are accepted.\n# TYPE strata_up gauge\nstrata_up {}",
            u8::from(engine.is_healthy())
        );
        out
    }
}

/// The query engine's counters and its duration histogram.
fn render_queries(out: &mut String, q: &query::QueryStats) {
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    out.push_str("# HELP strata_queries_total Queries by outcome (ok; bad: the query's fault; failed: a limit or a read).\n# TYPE strata_queries_total counter\n");
    for (status, n) in [("ok", &q.ok), ("bad", &q.bad), ("failed", &q.failed)] {
        let _ = writeln!(
            out,
            "strata_queries_total{{status=\"{status}\"}} {}",
            load(n)
        );
    }
    histogram(
        out,
        "strata_query_duration_seconds",
        "Query duration.",
        &query::DURATION_BOUNDS_MS,
        &q.duration_buckets,
        load(&q.ok) + load(&q.bad) + load(&q.failed),
        load(&q.micros),
    );
    let _ = writeln!(out, "# HELP strata_query_rows_scanned_total Rows the queries' scans read (memory and files, before filters).\n# TYPE strata_query_rows_scanned_total counter\nstrata_query_rows_scanned_total {}", load(&q.rows_scanned));
    let _ = writeln!(out, "# HELP strata_query_file_bytes_scanned_total Bytes of the files the queries' scans opened.\n# TYPE strata_query_file_bytes_scanned_total counter\nstrata_query_file_bytes_scanned_total {}", load(&q.file_bytes_scanned));
}

/// A Prometheus histogram in seconds from per-bucket counts (bounds in ms; a count above the
/// last bound is only in `count`) and the total in microseconds.
fn histogram(
    out: &mut String,
    name: &str,
    help: &str,
    bounds_ms: &[f64],
    buckets: &[AtomicU64],
    count: u64,
    micros: u64,
) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
    let mut cumulative = 0;
    for (bound, n) in bounds_ms.iter().zip(buckets) {
        cumulative += n.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "{name}_bucket{{le=\"{}\"}} {cumulative}",
            bound / 1000.0
        );
    }
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
    let _ = writeln!(out, "{name}_sum {}", micros as f64 / 1e6);
    let _ = writeln!(out, "{name}_count {count}");
}
