//! Shared by the engine's integration tests: an engine on a temporary directory, and rows read
//! back from snapshots and Parquet files in a form that compares equal however they were stored.
// Each test binary uses a part of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Float64Type, Int64Type, TimestampNanosecondType, UInt64Type};
use arrow::record_batch::RecordBatch;
use catalog::{Catalog, CatalogConfig};
use engine::{Durability, Engine, EngineConfig, FileEntry, Layout, Snapshot};
use object_store::path::Path;
use object_store::ObjectStore;

/// A configuration for tests: nothing flushes by itself, two shards, no apply threads.
pub(crate) fn config(dir: &std::path::Path) -> EngineConfig {
    EngineConfig {
        layout: Layout::new(Path::default(), dir.join("wal")),
        flush_table_bytes: usize::MAX,
        flush_interval: Duration::from_secs(3600),
        row_group_rows: 1024,
        max_string_bytes: 65_536,
        max_line_bytes: usize::MAX,
        max_buffer_bytes: usize::MAX,
        durability: Durability::SyncedWal,
        buffer_shards: 2,
        apply_threads: 0,
        idle_poll: Duration::ZERO,
    }
}

/// The catalog and engine of `dir`.
pub(crate) async fn open(dir: &std::path::Path, config: EngineConfig) -> (Engine, Arc<Catalog>) {
    let store: Arc<dyn ObjectStore> = Arc::new(engine::SyncedLocalStore::new(dir).expect("store"));
    open_on(store, config).await
}

/// The catalog and engine on `store` (a wrapper that injects faults, say).
pub(crate) async fn open_on(
    store: Arc<dyn ObjectStore>,
    config: EngineConfig,
) -> (Engine, Arc<Catalog>) {
    let catalog = Arc::new(
        Catalog::open(
            Arc::clone(&store),
            CatalogConfig {
                prefix: config.layout.catalog(),
                snapshot_every: 256,
            },
        )
        .await
        .expect("catalog"),
    );
    let engine = Engine::open(config, store, Arc::clone(&catalog))
        .await
        .expect("engine");
    (engine, catalog)
}

/// One row: tags and fields by name (values as text that keeps their type; floats by bits),
/// and its time.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Row {
    pub tags: BTreeMap<String, String>,
    pub fields: BTreeMap<String, String>,
    pub time: i64,
}

/// The rows of `batch`, nulls left out.
pub(crate) fn rows_of(batch: &RecordBatch) -> Vec<Row> {
    let schema = batch.schema();
    (0..batch.num_rows())
        .map(|row| {
            let mut out = Row {
                tags: BTreeMap::new(),
                fields: BTreeMap::new(),
                time: 0,
            };
            for (field, col) in schema.fields().iter().zip(batch.columns()) {
                if col.is_null(row) {
                    continue;
                }
                let name = field.name().clone();
                match col.data_type() {
                    DataType::Dictionary(_, _) => {
                        let dict = col.as_any_dictionary();
                        let key = dict.normalized_keys()[row];
                        let values = dict.values().as_string::<i32>();
                        out.tags.insert(name, values.value(key).to_owned());
                    }
                    DataType::Timestamp(_, _) => {
                        out.time = col.as_primitive::<TimestampNanosecondType>().value(row);
                    }
                    DataType::Float64 => {
                        let v = col.as_primitive::<Float64Type>().value(row);
                        out.fields.insert(name, format!("f{:016x}", v.to_bits()));
                    }
                    DataType::Int64 => {
                        let v = col.as_primitive::<Int64Type>().value(row);
                        out.fields.insert(name, format!("i{v}"));
                    }
                    DataType::UInt64 => {
                        let v = col.as_primitive::<UInt64Type>().value(row);
                        out.fields.insert(name, format!("u{v}"));
                    }
                    DataType::Boolean => {
                        out.fields
                            .insert(name, format!("b{}", col.as_boolean().value(row)));
                    }
                    DataType::Utf8 => {
                        let v = col.as_string::<i32>().value(row);
                        out.fields.insert(name, format!("s{v:?}"));
                    }
                    other => panic!("unexpected column type {other}"),
                }
            }
            out
        })
        .collect()
}

/// A named file's measurement (from its metadata) and batches.
pub(crate) fn read_file(dir: &std::path::Path, entry: &FileEntry) -> (String, Vec<RecordBatch>) {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let file = std::fs::File::open(dir.join(&entry.path)).expect("a named file exists");
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).expect("parquet");
    let measurement = builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .and_then(|kv| kv.iter().find(|k| k.key == engine::MEASUREMENT_KEY))
        .and_then(|k| k.value.clone())
        .expect("measurement metadata");
    let batches = builder
        .build()
        .expect("reader")
        .map(|b| b.expect("batch"))
        .collect();
    (measurement, batches)
}

/// Where a row of a snapshot was, in the order "last write wins" applies: files by commit
/// order, then in-memory rows by pass; position breaks ties.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Place {
    File { order: u64, row: usize },
    Memory { seq: u64, row: usize },
}

/// Every row of every table of `snapshot` (files read from `dir`), with where it was.
pub(crate) fn snapshot_rows(
    dir: &std::path::Path,
    snapshot: &Snapshot,
) -> Vec<(String, Place, Row)> {
    let mut out = Vec::new();
    for table in snapshot.tables() {
        let mut row = 0;
        for file in &table.files {
            let (measurement, batches) = read_file(dir, file.entry());
            assert_eq!(measurement, table.measurement);
            for r in batches.iter().flat_map(rows_of) {
                let place = Place::File {
                    order: file.order(),
                    row,
                };
                out.push((table.measurement.clone(), place, r));
                row += 1;
            }
        }
        let mut row = 0;
        for taken in &table.rows {
            for (i, r) in rows_of(&taken.batch).into_iter().enumerate() {
                let place = Place::Memory {
                    seq: taken.seq.value(i),
                    row,
                };
                out.push((table.measurement.clone(), place, r));
                row += 1;
            }
        }
    }
    out
}

/// Points by measurement, tags and time, with their fields.
pub(crate) type Points =
    BTreeMap<(String, BTreeMap<String, String>, i64), BTreeMap<String, String>>;

/// 1.x's reading of rows: one per measurement, series and time, each field its last value.
pub(crate) fn deduplicate(mut rows: Vec<(String, Place, Row)>) -> Points {
    rows.sort_by_key(|r| r.1);
    let mut out: BTreeMap<_, BTreeMap<String, String>> = BTreeMap::new();
    for (measurement, _, row) in rows {
        out.entry((measurement, row.tags, row.time))
            .or_default()
            .extend(row.fields);
    }
    out
}
