//! Engine benchmarks. `cargo bench -p strata-benches --bench engine`
//!
//! - `ingest`: pre-parsed Telegraf-like points appended to buffers (schema checks + Arrow
//!   builders), points/s on one core.
//! - `ingest_concurrent`: the same, from 2 threads at once into one measurement, with one
//!   buffer shard (every row takes the same lock) and with one shard per thread, side by side:
//!   the ratio shows what contention on a shared buffer costs.
//! - `group_commit`: 1-line writes through `Engine::write` (parse, validate, append, WAL,
//!   fdatasync) from 1, 4, 16 and 64 concurrent writers; throughput is acks/s. Latency
//!   percentiles of each configuration and the raw `fdatasync` rate of the same disk, measured in
//!   the same run, are printed to stderr.

use std::io::Write;
use std::time::{Duration, Instant};

use catalog::Bucket;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use engine::{Engine, WriteRequest};
use lp::{Line, ParseOptions, Parser, Precision};
use strata_benches::{generate, Corpus};

// The server's allocator: buffers are measured as the server runs them.
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[path = "../support/engine_setup.rs"]
mod engine_setup;

struct Setup {
    rt: tokio::runtime::Runtime,
    engine: Engine,
    bucket: Bucket,
    _dir: tempfile::TempDir,
}

fn setup(dir_in: Option<&std::path::Path>, shards: usize) -> Setup {
    let dir = match dir_in {
        Some(d) => tempfile::tempdir_in(d),
        None => tempfile::tempdir(),
    }
    .expect("tempdir");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (engine, bucket) = engine_setup::open_engine(&rt, dir.path(), shards);
    Setup {
        rt,
        engine,
        bucket,
        _dir: dir,
    }
}

/// Buffered bytes at which the ingest benches flush (untimed), like the server's default
/// `--flush-table-bytes`.
const FLUSH_BYTES: usize = 64 * 1024 * 1024;

/// Times `iters` runs of `append`, flushing (untimed) whenever buffers pass [`FLUSH_BYTES`].
fn steady_state(s: &Setup, iters: u64, mut append: impl FnMut()) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let t = Instant::now();
        append();
        total += t.elapsed();
        if s.engine.buffered_bytes() > FLUSH_BYTES {
            s.rt.block_on(s.engine.flush_now()).expect("flush");
        }
    }
    total
}

fn ingest(c: &mut Criterion) {
    let s = setup(None, 1);
    let body = generate(Corpus::Telegraf, 4 * 1024 * 1024, 10_000, 7);
    let lines: Vec<Line<'_>> = Parser::new(&body, ParseOptions::default())
        .map(|l| l.expect("generated lines parse"))
        .collect();
    // Create the schema through the real write path once.
    s.rt.block_on(s.engine.write(WriteRequest {
        bucket: &s.bucket,
        body: &body,
        precision: Precision::Nanoseconds,
        received_at_ns: 0,
    }))
    .expect("first write");
    let mut group = c.benchmark_group("ingest");
    group.sample_size(10);
    group.throughput(Throughput::Elements(lines.len() as u64));
    // Steady state, as in the server: buffers are flushed (untimed) whenever they pass a
    // flush's size, so appends run into buffers sized by the previous flush instead of
    // growing without bound.
    group.bench_function("telegraf_preparsed", |b| {
        b.iter_custom(|iters| {
            steady_state(&s, iters, || {
                s.engine
                    .append_unlogged(&s.bucket, &lines, 0)
                    .expect("append");
            })
        })
    });
    group.finish();
}

fn ingest_concurrent(c: &mut Criterion) {
    const THREADS: usize = 2;
    let body = generate(Corpus::Telegraf, 4 * 1024 * 1024, 10_000, 7);
    let lines: Vec<Line<'_>> = Parser::new(&body, ParseOptions::default())
        .map(|l| l.expect("generated lines parse"))
        .collect();
    let halves: Vec<&[Line<'_>]> = lines.chunks(lines.len().div_ceil(THREADS)).collect();
    let mut group = c.benchmark_group("ingest_concurrent");
    group.sample_size(10);
    group.throughput(Throughput::Elements(lines.len() as u64));
    for shards in [1usize, THREADS] {
        let s = setup(None, shards);
        s.rt.block_on(s.engine.write(WriteRequest {
            bucket: &s.bucket,
            body: &body,
            precision: Precision::Nanoseconds,
            received_at_ns: 0,
        }))
        .expect("first write");
        group.bench_with_input(
            BenchmarkId::new(format!("{THREADS}_threads"), format!("{shards}_shards")),
            &shards,
            |b, _| {
                b.iter_custom(|iters| {
                    steady_state(&s, iters, || {
                        std::thread::scope(|scope| {
                            for half in &halves {
                                let (engine, bucket) = (&s.engine, &s.bucket);
                                scope.spawn(move || {
                                    engine.append_unlogged(bucket, half, 0).expect("append")
                                });
                            }
                        })
                    })
                })
            },
        );
    }
    group.finish();
}

/// Raw `fdatasync` rate of the disk under `dir`: 4 KiB append + fdatasync, sequentially.
fn raw_fdatasync_per_s(dir: &std::path::Path, n: usize) -> f64 {
    let path = dir.join("fsync-probe");
    let mut f = std::fs::File::create(&path).expect("probe file");
    let block = [7u8; 4096];
    let started = Instant::now();
    for _ in 0..n {
        f.write_all(&block).expect("write");
        f.sync_data().expect("fdatasync");
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&path);
    rate
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

/// `writers` tasks each send `per_writer` sequential 1-line writes; returns every latency.
fn run_writers(s: &Setup, writers: usize, per_writer: usize) -> (Duration, Vec<Duration>) {
    let started = Instant::now();
    let latencies = s.rt.block_on(async {
        let mut tasks = Vec::new();
        for w in 0..writers {
            let engine = s.engine.clone();
            let bucket = s.bucket.clone();
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::with_capacity(per_writer);
                for i in 0..per_writer {
                    let body = format!("ack,writer=w{w} v={i}i {i}\n");
                    let t = Instant::now();
                    engine
                        .write(WriteRequest {
                            bucket: &bucket,
                            body: body.as_bytes(),
                            precision: Precision::Nanoseconds,
                            received_at_ns: 0,
                        })
                        .await
                        .expect("write");
                    lat.push(t.elapsed());
                }
                lat
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.expect("task"));
        }
        all
    });
    (started.elapsed(), latencies)
}

fn group_commit(c: &mut Criterion) {
    let s = setup(Some(std::path::Path::new(".")), 2);
    // Warm up: schema creation goes through the catalog once.
    run_writers(&s, 1, 10);
    let raw = raw_fdatasync_per_s(s._dir.path(), 500);
    eprintln!("raw fdatasync (4 KiB appends, same disk): {raw:.0}/s");
    for writers in [1usize, 4, 16, 64] {
        let per_writer = (2000 / writers).max(20);
        let (elapsed, mut lat) = run_writers(&s, writers, per_writer);
        lat.sort();
        let acks = lat.len() as f64 / elapsed.as_secs_f64();
        eprintln!(
            "group commit, {writers:>2} writers: {acks:>8.0} acks/s ({:.2}x raw fdatasync), p50 {:.2} ms, p99 {:.2} ms",
            acks / raw,
            percentile(&lat, 0.50).as_secs_f64() * 1e3,
            percentile(&lat, 0.99).as_secs_f64() * 1e3,
        );
    }
    let mut group = c.benchmark_group("group_commit");
    group.sample_size(10);
    for writers in [1usize, 4, 16, 64] {
        let per_writer = (256 / writers).max(4);
        group.throughput(Throughput::Elements((writers * per_writer) as u64));
        group.bench_with_input(BenchmarkId::from_parameter(writers), &writers, |b, &w| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    total += run_writers(&s, w, per_writer).0;
                }
                total
            })
        });
    }
    group.finish();
    let stats = s.engine.wal_stats();
    eprintln!(
        "WAL: {} syncs for {} records",
        stats.syncs.load(std::sync::atomic::Ordering::Relaxed),
        stats.records.load(std::sync::atomic::Ordering::Relaxed)
    );
}

criterion_group!(benches, ingest, ingest_concurrent, group_commit);
criterion_main!(benches);
