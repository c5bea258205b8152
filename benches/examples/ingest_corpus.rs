//! Appends one generated Telegraf-like corpus to engine buffers: a fixed workload for
//! `valgrind --tool=callgrind --toggle-collect='ingest_corpus::ingest'`.

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
    let body = generate(Corpus::Telegraf, 2 * 1024 * 1024, 10_000, 7);
    let lines: Vec<Line<'_>> = Parser::new(&body, ParseOptions::default())
        .map(|l| l.expect("parses"))
        .collect();
    let (engine, bucket) = engine_setup::open_engine(&rt, dir.path(), 1);
    rt.block_on(engine.write(WriteRequest {
        bucket: &bucket,
        body: &body,
        precision: Precision::Nanoseconds,
        received_at_ns: 0,
    }))
    .expect("schema");
    let n = ingest(&engine, &bucket, &lines);
    println!("appended {n} points");
}

#[inline(never)]
fn ingest(engine: &Engine, bucket: &catalog::Bucket, lines: &[Line<'_>]) -> usize {
    engine.append_unlogged(bucket, lines, 0).expect("append")
}
