//! Buffers ~600 000 Telegraf-like rows, then flushes them to Parquet: a fixed workload for
//! `valgrind --tool=callgrind --toggle-collect='flush_corpus::flush'` (instruction counts of
//! the flush alone: merge, sort, encode, upload), and a wall-clock figure when run plainly.
//!
//! `cargo build --release -p strata-benches --example flush_corpus`

use std::time::Instant;

use engine::{Engine, WriteRequest};
use lp::{Line, ParseOptions, Parser, Precision};
use strata_benches::{generate, Corpus};

// The server's allocator: buffers are measured as the server runs them.
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[path = "../support/engine_setup.rs"]
mod engine_setup;

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // Telegraf-like rows of one measurement with distinct timestamps per series.
    let body = generate(Corpus::Telegraf, 8 * 1024 * 1024, 10_000, 7);
    let mut lines: Vec<Line<'_>> = Parser::new(&body, ParseOptions::default())
        .map(|l| l.expect("parses"))
        .collect();
    let (engine, bucket) = engine_setup::open_engine(&rt, dir.path(), 2);
    rt.block_on(engine.write(WriteRequest {
        bucket: &bucket,
        body: &body,
        precision: Precision::Nanoseconds,
        received_at_ns: 0,
    }))
    .expect("schema");
    let mut rows = lines.len();
    let span = lines.len() as i64 * 10_000_000_000;
    for _ in 0..(600_000 / lines.len()) {
        // Later copies are later points: no row repeats another's series and time.
        for l in &mut lines {
            l.timestamp = l.timestamp.map(|t| t + span);
        }
        rows += engine.append_unlogged(&bucket, &lines, 0).expect("append");
    }
    let started = Instant::now();
    flush(&rt, &engine);
    let files = engine.files();
    println!(
        "flushed {rows} rows in {:.0} ms: {} files, {} bytes",
        started.elapsed().as_secs_f64() * 1e3,
        files.len(),
        files.iter().map(|f| f.bytes).sum::<u64>()
    );
}

#[inline(never)]
fn flush(rt: &tokio::runtime::Runtime, engine: &Engine) {
    rt.block_on(engine.flush_now()).expect("flush");
}
