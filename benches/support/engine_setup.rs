//! Opens a real engine (catalog, WAL, object store) in a temporary directory, with flushes
//! disabled, for the engine bench and the callgrind example. Included by `#[path]` from both.

use std::sync::Arc;
use std::time::Duration;

use catalog::{Bucket, Catalog, CatalogConfig};
use engine::{Durability, Engine, EngineConfig};
use object_store::path::Path;

/// An engine on `dir` with bucket `bench/autogen` and `shards` buffer shards per measurement;
/// runs on `rt`.
pub(crate) fn open_engine(
    rt: &tokio::runtime::Runtime,
    dir: &std::path::Path,
    shards: usize,
) -> (Engine, Bucket) {
    let store = Arc::new(engine::SyncedLocalStore::new(dir).expect("store"));
    let layout = engine::Layout::new(Path::default(), dir.join("wal"));
    rt.block_on(async {
        let catalog = Arc::new(
            Catalog::open(
                store.clone(),
                CatalogConfig {
                    prefix: layout.catalog(),
                    snapshot_every: 256,
                },
            )
            .await
            .expect("catalog"),
        );
        let bucket = catalog.resolve_v1("bench", "", true).await.expect("bucket");
        let engine = Engine::open(
            EngineConfig {
                layout: layout.clone(),
                flush_table_bytes: usize::MAX,
                flush_interval: Duration::from_secs(3600),
                row_group_rows: 262_144,
                max_string_bytes: 65_536,
                max_line_bytes: usize::MAX,
                max_buffer_bytes: usize::MAX,
                durability: Durability::SyncedWal,
                buffer_shards: shards,
                apply_threads: 0,
                idle_poll: Duration::ZERO,
            },
            store,
            catalog,
        )
        .await
        .expect("engine");
        (engine, bucket)
    })
}
