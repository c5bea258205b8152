//! Appends one generated Telegraf-like corpus to engine buffers: a fixed workload for
//! `valgrind --tool=callgrind --toggle-collect='ingest_corpus::ingest'`.

use std::sync::Arc;
use std::time::Duration;

use catalog::{Catalog, CatalogConfig};
use engine::{Durability, Engine, EngineConfig, WriteRequest};
use lp::{Line, ParseOptions, Parser, Precision};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use strata_benches::{generate, Corpus};

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
    rt.block_on(async {
        let store = Arc::new(LocalFileSystem::new_with_prefix(dir.path()).expect("store"));
        let catalog = Arc::new(
            Catalog::open(
                store.clone(),
                CatalogConfig {
                    prefix: Path::from("catalog"),
                    snapshot_every: 256,
                },
            )
            .await
            .expect("catalog"),
        );
        let bucket = catalog.resolve_v1("bench", "", true).await.expect("bucket");
        let engine = Engine::open(
            EngineConfig {
                parquet_prefix: Path::from("buckets"),
                flush_table_bytes: usize::MAX,
                flush_interval: Duration::from_secs(3600),
                row_group_rows: 262_144,
                max_string_bytes: 65_536,
                max_line_bytes: usize::MAX,
                manifest_prefix: Path::from("manifest"),
                wal_dir: dir.path().join("wal"),
                max_buffer_bytes: usize::MAX,
                durability: Durability::SyncedWal,
            },
            store,
            catalog,
        )
        .await
        .expect("engine");
        engine
            .write(WriteRequest {
                bucket: &bucket,
                body: &body,
                precision: Precision::Nanoseconds,
                received_at_ns: 0,
            })
            .await
            .expect("schema");
        let n = ingest(&engine, &bucket, &lines);
        println!("appended {n} points");
    });
}

#[inline(never)]
fn ingest(engine: &Engine, bucket: &catalog::Bucket, lines: &[Line<'_>]) -> usize {
    engine.append_unlogged(bucket, lines, 0).expect("append")
}
