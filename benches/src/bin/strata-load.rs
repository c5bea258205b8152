//! `strata-load`: a write load generator for InfluxDB-v1-compatible servers (Strata, InfluxDB
//! 1.x, VictoriaMetrics), in the spirit of influxdata's `inch`.
//!
//! Data is generated deterministically from `--seed` with the `lp` encoder and every request
//! body is built (and gzipped) before the clock starts, so the generator's own cost is not what
//! is measured. Each series gets strictly increasing timestamps: no point overwrites another.
//!
//! `strata-load --url http://127.0.0.1:8086 --token T --series 10000 --batch 5000 --concurrency 4
//!  --points 1000000 --server-pid $(pidof strata) --json out.json`

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use lp::{encode_line, FieldValue, Line, Precision};
use strata_benches::SplitMix64;

/// Write load generator for InfluxDB v1 `/write` endpoints.
#[derive(Debug, Clone, Parser)]
#[command(name = "strata-load", version)]
struct Args {
    /// Base URL of the server.
    #[arg(long, default_value = "http://127.0.0.1:8086")]
    url: String,
    /// Database (`db`).
    #[arg(long, default_value = "bench")]
    db: String,
    /// Retention policy (`rp`), if any.
    #[arg(long)]
    rp: Option<String>,
    /// Token, sent as `Authorization: Token …`.
    #[arg(long, env = "STRATA_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Distinct series (tag sets).
    #[arg(long, default_value_t = 10_000)]
    series: u64,
    /// Fields per point.
    #[arg(long, default_value_t = 10)]
    fields: usize,
    /// Field types: float, int, or mixed (8 floats then ints, like Telegraf's cpu).
    #[arg(long, default_value = "mixed")]
    field_type: String,
    /// Points per request.
    #[arg(long, default_value_t = 5_000)]
    batch: usize,
    /// Concurrent clients.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Gzip request bodies.
    #[arg(long)]
    gzip: bool,
    /// Timestamp precision sent (`precision=`).
    #[arg(long, default_value = "ns")]
    precision: String,
    /// Total points to write.
    #[arg(long, default_value_t = 1_000_000)]
    points: u64,
    /// Limit to this many points per second (0: as fast as possible).
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Requests that start in the first this many seconds warm the server up: they are sent
    /// like the rest but left out of throughput, latency, errors and server CPU, so a
    /// fixed-rate run reports the server's steady state rather than its first seconds.
    #[arg(long, default_value_t = 0.0)]
    warmup_s: f64,
    /// PID of the server, to report its CPU seconds and peak RSS from /proc.
    #[arg(long)]
    server_pid: Option<u32>,
    /// After the load, keep counting the server's CPU until it has been idle for 2 s (at most
    /// this many seconds), so work a server defers past its acknowledgements (background merges,
    /// flushes) is charged to the run.
    #[arg(long, default_value_t = 30)]
    settle_s: u64,
    /// Write the summary as JSON to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
    /// Seed of the generated data.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Timestamp (ns) of the first round of points; default: so that the last round is "now"
    /// (servers with a default retention, like VictoriaMetrics' one month, silently drop old
    /// points). Set it to make bodies byte-for-byte reproducible.
    #[arg(long)]
    start_ns: Option<i64>,
    /// Instead of a load: print this directory's raw fdatasync rates (4 KiB appends, then 4 KiB
    /// overwrites) and exit.
    #[arg(long)]
    fsync_probe: Option<std::path::PathBuf>,
    /// Instead of a load: write 1.4 MB chunks (one batch of 5 000 Telegraf-like lines) with an
    /// fdatasync each, for 5 s, in this directory; print MB/s, p50 and p99 ms. Shows the
    /// sustained bandwidth of a disk that bursts and then throttles.
    #[arg(long)]
    bandwidth_probe: Option<std::path::PathBuf>,
    /// Instead of writes, send `GET /ping` (`--points` of them): the HTTP round trip of the
    /// server with no storage work, a floor for the 1-line write latency.
    #[arg(long)]
    ping: bool,
    /// Also write every request's start (ms since the load began) and latency (ms) to this
    /// file, one `start latency` pair per line: shows when the slow requests happened.
    #[arg(long)]
    latency_log: Option<std::path::PathBuf>,
}

/// One request as the client saw it.
#[derive(Debug, Clone, Copy)]
struct Sent {
    /// When it started, from the start of the load.
    at: Duration,
    latency: Duration,
    /// Points acknowledged (0 if it failed).
    points: u64,
    /// Body bytes sent.
    bytes: u64,
}

/// Nanoseconds between two rounds of points (each series gets one point per round).
const ROUND_NS: i64 = 10_000_000_000;

/// The first round's timestamp: `--start-ns`, or so that the last round is about now.
fn start_ns(args: &Args) -> i64 {
    args.start_ns.unwrap_or_else(|| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as i64)
            .unwrap_or_default();
        let rounds = (args.points / args.series.max(1)) as i64 + 1;
        // Whole minutes, so every precision down to `m` keeps points distinct per round.
        let start = now - rounds * ROUND_NS;
        start - start.rem_euclid(60_000_000_000)
    })
}

/// The point number `i` of the run, as line protocol.
fn point(
    args: &Args,
    rng: &mut SplitMix64,
    i: u64,
    start_ns: i64,
    precision: Precision,
) -> Line<'static> {
    let s = i % args.series.max(1);
    let round = (i / args.series.max(1)) as i64;
    let ts_ns = start_ns + round * ROUND_NS;
    let mut line = Line::new("cpu")
        .tag("cpu", format!("cpu{}", s % 8))
        .tag("dc", format!("dc-{}", s % 4))
        .tag("host", format!("host-{s}"))
        .tag("os", "linux")
        .tag("rack", format!("r{}", s % 16));
    for f in 0..args.fields {
        let float = match args.field_type.as_str() {
            "float" => true,
            "int" => false,
            _ => f < 8,
        };
        let value = if float {
            FieldValue::F64((rng.unit() * 10_000.0).round() / 100.0)
        } else {
            FieldValue::I64(rng.below(1_000_000) as i64)
        };
        line = line.field(format!("f{f}"), value);
    }
    line.at(ts_ns / precision.nanos_per_unit())
}

fn build_bodies(args: &Args, precision: Precision) -> Vec<Vec<u8>> {
    let mut rng = SplitMix64::new(args.seed);
    let start = start_ns(args);
    let batch = args.batch.max(1) as u64;
    let requests = args.points.div_ceil(batch);
    let bar = indicatif::ProgressBar::new(requests).with_message("generating");
    let mut bodies = Vec::with_capacity(requests as usize);
    for r in 0..requests {
        let mut body = Vec::with_capacity(batch as usize * 200);
        for i in r * batch..((r + 1) * batch).min(args.points) {
            encode_line(&mut body, &point(args, &mut rng, i, start, precision))
                .unwrap_or_else(|e| panic!("generator bug: {e}"));
        }
        if args.gzip {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(&body).unwrap_or_else(|e| panic!("gzip: {e}"));
            body = enc.finish().unwrap_or_else(|e| panic!("gzip: {e}"));
        }
        bodies.push(body);
        bar.inc(1);
    }
    bar.finish_and_clear();
    bodies
}

/// CPU seconds (user + system) of a process, from /proc.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    let tick = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .unwrap_or(100.0);
    Some((utime + stime) / tick)
}

/// Peak resident set (VmHWM) in MiB, from /proc.
fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// CPU use below this share of a core counts as idle while settling.
const IDLE_SHARE: f64 = 0.02;
/// The server must stay idle this long for its deferred work to count as done.
const IDLE_FOR: Duration = Duration::from_secs(2);
const SETTLE_POLL: Duration = Duration::from_millis(250);

/// Tracks a server's CPU after the load: when did its deferred work (background merges,
/// flushes) end? Fed one cumulative CPU reading per poll; pure, so it can be tested without a
/// process.
#[derive(Debug)]
struct Settle {
    last: Option<(Duration, f64)>,
    idle_since: Option<Duration>,
}

impl Settle {
    fn new() -> Self {
        Self {
            last: None,
            idle_since: None,
        }
    }

    /// `at`: time since the load ended; `cpu`: the server's CPU seconds so far. Returns when
    /// the deferred work ended (the start of an idle stretch of [`IDLE_FOR`]) once that is
    /// known.
    fn observe(&mut self, at: Duration, cpu: f64) -> Option<Duration> {
        let previous = self.last.replace((at, cpu));
        let (then, cpu_then) = previous?;
        let window = (at - then).as_secs_f64().max(1e-9);
        if cpu - cpu_then > IDLE_SHARE * window {
            self.idle_since = None;
            return None;
        }
        let since = *self.idle_since.get_or_insert(then);
        (at - since >= IDLE_FOR).then_some(since)
    }
}

/// Waits until the server has been idle for [`IDLE_FOR`] (at most `max`); returns how long
/// after the load it kept working (`max` if it never settled).
fn settle(pid: u32, max: Duration) -> Duration {
    let started = Instant::now();
    let mut state = Settle::new();
    while started.elapsed() < max {
        let Some(cpu) = cpu_seconds(pid) else {
            break;
        };
        if let Some(done) = state.observe(started.elapsed(), cpu) {
            return done;
        }
        std::thread::sleep(SETTLE_POLL);
    }
    started.elapsed().min(max)
}

/// Raw `fdatasync` rates of the disk under `dir`, sequentially, 1000 syncs each: 4 KiB
/// appends (the file grows, so each sync also commits its new size) and 4 KiB overwrites of a
/// file whose blocks are already written (data only, the fastest a sync gets on this disk).
fn fsync_probe(dir: &std::path::Path) -> (f64, f64) {
    use std::os::unix::fs::FileExt;
    let path = dir.join(".strata-fsync-probe");
    let n = 1000u64;
    let block = [7u8; 4096];
    let rate = |overwrite: bool| {
        let f = std::fs::File::create(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if overwrite {
            for i in 0..n {
                f.write_all_at(&block, i * 4096)
                    .unwrap_or_else(|e| panic!("write: {e}"));
            }
            f.sync_all().unwrap_or_else(|e| panic!("fsync: {e}"));
        }
        let started = Instant::now();
        for i in 0..n {
            f.write_all_at(&block, i * 4096)
                .unwrap_or_else(|e| panic!("write: {e}"));
            f.sync_data().unwrap_or_else(|e| panic!("fdatasync: {e}"));
        }
        n as f64 / started.elapsed().as_secs_f64()
    };
    let rates = (rate(false), rate(true));
    let _ = std::fs::remove_file(&path);
    rates
}

fn bandwidth_probe(dir: &std::path::Path) -> (f64, f64, f64) {
    let path = dir.join(".strata-bandwidth-probe");
    let mut f = std::fs::File::create(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut rng = SplitMix64::new(9);
    let chunk: Vec<u8> = (0..1_400_000).map(|_| rng.next_u64() as u8).collect();
    let mut lat = Vec::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        let t = Instant::now();
        f.write_all(&chunk).unwrap_or_else(|e| panic!("write: {e}"));
        f.sync_data().unwrap_or_else(|e| panic!("fdatasync: {e}"));
        lat.push(t.elapsed());
    }
    let mbps = (lat.len() * chunk.len()) as f64 / started.elapsed().as_secs_f64() / 1e6;
    let _ = std::fs::remove_file(&path);
    lat.sort();
    (mbps, percentile_ms(&lat, 0.5), percentile_ms(&lat, 0.99))
}

fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len().saturating_sub(1)) as f64 * p).round() as usize;
    sorted.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

fn main() {
    let args = Args::parse();
    if let Some(dir) = &args.bandwidth_probe {
        let (mbps, p50, p99) = bandwidth_probe(dir);
        println!("{mbps:.0} {p50:.2} {p99:.2}");
        return;
    }
    if let Some(dir) = &args.fsync_probe {
        let (append, overwrite) = fsync_probe(dir);
        println!("{append:.0} {overwrite:.0}");
        return;
    }
    let precision: Precision = args.precision.parse().unwrap_or_else(|e| {
        eprintln!("strata-load: {e}");
        std::process::exit(2)
    });
    eprintln!(
        "strata-load: {} points, {} series, {} fields, batch {}, {} clients, gzip {}, rate {}",
        args.points,
        args.series,
        args.fields,
        args.batch,
        args.concurrency,
        args.gzip,
        if args.rate == 0 {
            "unlimited".to_owned()
        } else {
            format!("{}/s", args.rate)
        }
    );
    let bodies = Arc::new(build_bodies(&args, precision));
    let mut path = format!("/write?db={}&precision={}", args.db, args.precision);
    if let Some(rp) = &args.rp {
        path.push_str(&format!("&rp={rp}"));
    }
    let authority = strata_benches::http::authority(&args.url).unwrap_or_else(|e| {
        eprintln!("strata-load: {e}");
        std::process::exit(2)
    });
    let mut headers: Vec<(String, String)> = Vec::new();
    if let Some(t) = &args.token {
        headers.push(("Authorization".into(), format!("Token {t}")));
    }
    if args.gzip {
        headers.push(("Content-Encoding".into(), "gzip".into()));
    }
    let (method, path) = if args.ping {
        ("GET", "/ping".to_owned())
    } else {
        ("POST", path)
    };
    let warmup = Duration::from_secs_f64(args.warmup_s.max(0.0));
    let mut cpu_before = args.server_pid.and_then(cpu_seconds);
    let next = Arc::new(AtomicUsize::new(0));
    let sent_points = Arc::new(AtomicU64::new(0));
    let errors: Arc<Mutex<BTreeMap<String, u64>>> = Arc::default();
    let bar = indicatif::ProgressBar::new(args.points).with_message("writing");
    let started = Instant::now();
    let handles: Vec<_> = (0..args.concurrency.max(1))
        .map(|_| {
            let (bodies, next, sent, errors, bar) = (
                Arc::clone(&bodies),
                Arc::clone(&next),
                Arc::clone(&sent_points),
                Arc::clone(&errors),
                bar.clone(),
            );
            let (authority, path, headers, args) = (
                authority.clone(),
                path.clone(),
                headers.clone(),
                args.clone(),
            );
            std::thread::spawn(move || {
                let headers: Vec<(&str, &str)> = headers
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                let timeout = Duration::from_secs(120);
                let mut conn: Option<strata_benches::http::Conn> = None;
                let mut latencies = Vec::new();
                let count_error = |what: String, at: Duration| {
                    if at >= warmup {
                        *errors
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .entry(what)
                            .or_default() += 1
                    }
                };
                loop {
                    let r = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(r) else { break };
                    let points =
                        (args.points - r as u64 * args.batch as u64).min(args.batch as u64);
                    if args.rate > 0 {
                        // Start this request when the schedule says its first point is due.
                        let due = Duration::from_secs_f64(
                            sent.fetch_add(points, Ordering::Relaxed) as f64 / args.rate as f64,
                        );
                        if let Some(wait) = due.checked_sub(started.elapsed()) {
                            std::thread::sleep(wait);
                        }
                    }
                    let body: &[u8] = if args.ping { b"" } else { body };
                    let t = Instant::now();
                    let outcome = match conn.as_mut() {
                        Some(c) => Ok(c),
                        None => strata_benches::http::Conn::connect(&authority, timeout)
                            .map(|c| conn.insert(c)),
                    }
                    .and_then(|c| c.request(method, &path, &headers, body));
                    let at = t.duration_since(started);
                    let ok = match outcome {
                        Ok(resp) if resp.status == 204 || (args.ping && resp.status < 300) => true,
                        Ok(resp) => {
                            count_error(resp.status.to_string(), at);
                            false
                        }
                        Err(e) => {
                            // Reconnect for the next request.
                            conn = None;
                            count_error(format!("connection: {e}"), at);
                            false
                        }
                    };
                    latencies.push(Sent {
                        at,
                        latency: t.elapsed(),
                        points: if ok { points } else { 0 },
                        bytes: body.len() as u64,
                    });
                    bar.inc(points);
                }
                latencies
            })
        })
        .collect();
    if !warmup.is_zero() {
        // Server CPU counts from the end of the warm-up.
        std::thread::sleep(warmup.saturating_sub(started.elapsed()));
        cpu_before = args.server_pid.and_then(cpu_seconds);
    }
    let sent: Vec<Sent> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap_or_default())
        .collect();
    let elapsed = (started.elapsed().saturating_sub(warmup))
        .as_secs_f64()
        .max(1e-9);
    let timed: Vec<(Duration, Duration)> = sent
        .iter()
        .filter(|s| s.at >= warmup)
        .map(|s| (s.at, s.latency))
        .collect();
    let ok_points: u64 = sent
        .iter()
        .filter(|s| s.at >= warmup)
        .map(|s| s.points)
        .sum();
    let wire_bytes: u64 = sent
        .iter()
        .filter(|s| s.at >= warmup)
        .map(|s| s.bytes)
        .sum();
    bar.finish_and_clear();
    if let Some(path) = &args.latency_log {
        let mut sorted = timed.clone();
        sorted.sort();
        let text: String = sorted
            .iter()
            .map(|(at, lat)| {
                format!(
                    "{:.3} {:.3}\n",
                    at.as_secs_f64() * 1e3,
                    lat.as_secs_f64() * 1e3
                )
            })
            .collect();
        std::fs::write(path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    let mut latencies: Vec<Duration> = timed.into_iter().map(|(_, lat)| lat).collect();
    latencies.sort();
    let deferred = args
        .server_pid
        .map(|pid| settle(pid, Duration::from_secs(args.settle_s)));
    // A server may acknowledge faster than it persists, deferring work (flushes, merges) past
    // the load: counting that time too gives the rate it can keep up.
    let sustained = deferred.map(|d| ok_points as f64 / (elapsed + d.as_secs_f64()));
    let cpu = match (cpu_before, args.server_pid.and_then(cpu_seconds)) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    let rss = args.server_pid.and_then(peak_rss_mib);
    let errors = errors.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let summary = serde_json::json!({
        "points": args.points,
        "warmup_s": warmup.as_secs_f64(),
        "points_acked": ok_points,
        "seconds": elapsed,
        "points_per_s": ok_points as f64 / elapsed,
        "requests_per_s": latencies.len() as f64 / elapsed,
        "mib_per_s": wire_bytes as f64 / 1048576.0 / elapsed,
        "latency_ms": {
            "p50": percentile_ms(&latencies, 0.50),
            "p90": percentile_ms(&latencies, 0.90),
            "p99": percentile_ms(&latencies, 0.99),
            "max": latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
        },
        "errors": errors,
        "server_cpu_s": cpu,
        "points_per_server_cpu_s": cpu.filter(|c| *c > 0.0).map(|c| ok_points as f64 / c),
        "deferred_s": deferred.map(|d| d.as_secs_f64()),
        "sustained_points_per_s": sustained,
        "server_peak_rss_mib": rss,
    });
    println!(
        "{:.0} points/s, {:.1} req/s, {:.1} MiB/s; latency p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms; errors {:?}{}",
        summary["points_per_s"].as_f64().unwrap_or_default(),
        summary["requests_per_s"].as_f64().unwrap_or_default(),
        summary["mib_per_s"].as_f64().unwrap_or_default(),
        summary["latency_ms"]["p50"].as_f64().unwrap_or_default(),
        summary["latency_ms"]["p90"].as_f64().unwrap_or_default(),
        summary["latency_ms"]["p99"].as_f64().unwrap_or_default(),
        summary["latency_ms"]["max"].as_f64().unwrap_or_default(),
        summary["errors"],
        match (cpu, rss, deferred, sustained) {
            (Some(c), Some(r), Some(d), Some(sustained)) => format!(
                "; server {c:.2} CPU-s ({:.0} points/CPU-s), peak RSS {r:.0} MiB, busy {:.1} s after the load ({sustained:.0} points/s sustained)",
                ok_points as f64 / c.max(1e-9),
                d.as_secs_f64(),
            ),
            _ => String::new(),
        }
    );
    if let Some(path) = &args.json {
        std::fs::write(
            path,
            serde_json::to_string_pretty(&summary).unwrap_or_default(),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> Args {
        let mut argv = vec![
            "strata-load",
            "--start-ns=1700000000000000000",
            "--points=2500",
            "--series=100",
            "--batch=1000",
        ];
        argv.extend_from_slice(extra);
        Args::parse_from(argv)
    }

    #[test]
    fn same_seed_same_bodies_and_they_parse_back() {
        let a = build_bodies(&args(&[]), Precision::Nanoseconds);
        assert_eq!(a, build_bodies(&args(&[]), Precision::Nanoseconds));
        assert_ne!(
            a,
            build_bodies(&args(&["--seed=2"]), Precision::Nanoseconds)
        );
        assert_eq!(a.len(), 3, "2500 points in batches of 1000");
        let mut series = std::collections::HashSet::new();
        let mut keys = std::collections::HashSet::new();
        let mut n = 0;
        for body in &a {
            for line in lp::Parser::new(body, lp::ParseOptions::default()) {
                let line = line.unwrap_or_else(|e| panic!("generated line does not parse: {e}"));
                assert_eq!(line.fields.len(), 10);
                let host = line
                    .tags
                    .iter()
                    .find(|t| t.key == "host")
                    .map(|t| t.value.to_string());
                assert!(
                    keys.insert((host.clone(), line.timestamp)),
                    "a point overwrites another"
                );
                series.insert(host);
                n += 1;
            }
        }
        assert_eq!((n, series.len()), (2500, 100));
    }

    #[test]
    fn gzip_and_precision() {
        let a = build_bodies(&args(&["--gzip", "--precision=s"]), Precision::Seconds);
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&a[0][..]), &mut text)
            .expect("gunzip");
        let first = text.lines().next().expect("a line");
        assert!(first.ends_with(" 1700000000"), "{first}");
    }

    /// Feeds `(ms since the load ended, cumulative CPU seconds)` samples; where it settled.
    fn settle_over(samples: &[(u64, f64)]) -> Option<Duration> {
        let mut state = Settle::new();
        samples
            .iter()
            .find_map(|&(ms, cpu)| state.observe(Duration::from_millis(ms), cpu))
    }

    #[test]
    fn settling_reports_when_the_deferred_work_ended() {
        // Busy (half a core) for 1 s after the load, then idle.
        let mut samples: Vec<(u64, f64)> = (0..=4).map(|i| (i * 250, i as f64 * 0.125)).collect();
        samples.extend((5..=16).map(|i| (i * 250, 0.5)));
        assert_eq!(settle_over(&samples), Some(Duration::from_millis(1000)));
        // Not yet idle for 2 s: unknown.
        assert_eq!(settle_over(&samples[..12]), None);
    }

    #[test]
    fn an_idle_server_settles_at_once_and_a_blip_restarts_the_wait() {
        let idle: Vec<(u64, f64)> = (0..=8).map(|i| (i * 250, 1.0)).collect();
        assert_eq!(settle_over(&idle), Some(Duration::ZERO));
        // Below 2 % of a core is idle; 44 ms of CPU between 1.5 and 1.75 s is not.
        let mut blip: Vec<(u64, f64)> =
            (0..=6).map(|i| (i * 250, 1.0 + i as f64 * 0.001)).collect();
        blip.extend((7..=15).map(|i| (i * 250, 1.05)));
        assert_eq!(settle_over(&blip), Some(Duration::from_millis(1750)));
    }
}
