//! A flush problem stays where it is: a table whose files cannot be written keeps its rows (in
//! memory and the WAL) and is retried with back-off while every other table flushes and writes
//! are acknowledged; once the cause is gone it is flushed, exactly once, across restarts too.

use std::sync::Arc;
use std::time::Duration;

use catalog::{Bucket, Catalog};
use engine::{Engine, WriteRequest};
use lp::Precision;
use object_store::ObjectStore;
use parking_lot::Mutex;

mod support;

use engine::test_helpers::Faulty;

struct Opened {
    engine: Engine,
    catalog: Arc<Catalog>,
}

async fn open(dir: &std::path::Path, fail: &Arc<Mutex<Option<String>>>) -> Opened {
    let local: Arc<dyn ObjectStore> = Arc::new(engine::SyncedLocalStore::new(dir).expect("store"));
    let store: Arc<dyn ObjectStore> = Arc::new(Faulty {
        fail: Arc::clone(fail),
        ..Faulty::over(local)
    });
    // The flush thread looks for due retries once a second.
    let (engine, catalog) = support::open_on(store, support::config(dir)).await;
    Opened { engine, catalog }
}

async fn write(engine: &Engine, bucket: &Bucket, body: &str) {
    let outcome = engine
        .write(WriteRequest {
            bucket,
            body: body.as_bytes(),
            precision: Precision::Nanoseconds,
            received_at_ns: 1_700_000_000_000_000_000,
        })
        .await
        .expect("acknowledged");
    assert_eq!(outcome.rejected_total, 0, "{:?}", outcome.rejected);
}

/// Rows per measurement in the files the manifests name, read from the files.
fn rows_by_measurement(
    dir: &std::path::Path,
    engine: &Engine,
) -> std::collections::BTreeMap<String, usize> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let mut out = std::collections::BTreeMap::new();
    for f in engine.files() {
        let file = std::fs::File::open(dir.join(&f.path)).expect("a named file exists");
        let reader = SerializedFileReader::new(file).expect("parquet");
        let meta = reader.metadata().file_metadata();
        let name = meta
            .key_value_metadata()
            .and_then(|kv| kv.iter().find(|k| k.key == engine::MEASUREMENT_KEY))
            .and_then(|k| k.value.clone())
            .expect("the measurement is in the file");
        assert_eq!(name, f.measurement);
        *out.entry(name).or_default() += meta.num_rows() as usize;
    }
    out
}

fn counts(pairs: &[(&str, usize)]) -> std::collections::BTreeMap<String, usize> {
    pairs.iter().map(|(m, n)| (m.to_string(), *n)).collect()
}

/// WAL segment files (not spares).
fn wal_segments(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir.join("wal"))
        .expect("wal dir")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "wal"))
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_table_holds_its_rows_while_others_flush() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fail = Arc::new(Mutex::new(Some("/bad/".to_owned())));
    let Opened { engine, catalog } = open(dir.path(), &fail).await;
    let bucket = catalog.resolve_v1("db", "", true).await.expect("bucket");

    write(&engine, &bucket, "bad v=1 1\ngood v=1 1\n").await;
    engine
        .flush_now()
        .await
        .expect("a flush with a failing table still succeeds");
    assert_eq!(
        rows_by_measurement(dir.path(), &engine),
        counts(&[("good", 1)])
    );
    let problems = engine.flush_problems();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].measurement, "bad");
    assert_eq!(problems[0].rows, 1);
    assert!(
        problems[0].error.contains("injected failure"),
        "{}",
        problems[0].error
    );
    assert!(
        engine.is_healthy(),
        "a table's flush problem does not stop writes"
    );

    // Writes are still acknowledged, and the other table keeps flushing.
    write(&engine, &bucket, "bad v=2 2\ngood v=2 2\n").await;
    engine.flush_now().await.expect("flush");
    assert_eq!(
        rows_by_measurement(dir.path(), &engine),
        counts(&[("good", 2)])
    );
    assert_eq!(engine.flush_problems()[0].rows, 2);
    // The WAL keeps the segments the held rows are in.
    assert!(
        wal_segments(dir.path()) >= 3,
        "{}",
        wal_segments(dir.path())
    );

    // A crash while the table is held: the restart replays its rows from segments the
    // manifests otherwise cover, and nothing of the other table twice.
    drop(engine);
    let Opened { engine, .. } = open(dir.path(), &fail).await;
    engine.flush_now().await.expect("flush");
    assert_eq!(
        rows_by_measurement(dir.path(), &engine),
        counts(&[("good", 2)])
    );
    assert_eq!(
        engine.flush_problems()[0].rows,
        2,
        "held again after the restart"
    );

    // The cause goes away: the next retry (after its back-off, without being asked) flushes it.
    *fail.lock() = None;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !engine.flush_problems().is_empty() {
        assert!(std::time::Instant::now() < deadline, "never retried");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let want = counts(&[("bad", 2), ("good", 2)]);
    assert_eq!(rows_by_measurement(dir.path(), &engine), want);
    assert!(
        wal_segments(dir.path()) <= 2,
        "released once nothing is held"
    );
    engine.shutdown().expect("shutdown");

    // And nothing comes back twice after another restart.
    let Opened { engine, .. } = open(dir.path(), &fail).await;
    engine.flush_now().await.expect("flush");
    assert_eq!(rows_by_measurement(dir.path(), &engine), want);
    engine.shutdown().expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_manifest_holds_every_table_and_loses_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fail = Arc::new(Mutex::new(None));
    let Opened { engine, catalog } = open(dir.path(), &fail).await;
    let bucket = catalog.resolve_v1("db", "", true).await.expect("bucket");

    *fail.lock() = Some("manifest/".to_owned());
    write(&engine, &bucket, "a v=1 1\nb v=1 1\n").await;
    engine.flush_now().await.expect("flush");
    assert!(engine.files().is_empty());
    assert_eq!(engine.flush_problems().len(), 2);
    // The files of the flush whose manifest failed are gone, not left as orphans.
    let parquet = walk(&dir.path().join("buckets"));
    assert!(parquet.is_empty(), "{parquet:?}");

    write(&engine, &bucket, "a v=2 2\n").await;
    *fail.lock() = None;
    engine.flush_now().await.expect("flush");
    assert!(engine.flush_problems().is_empty());
    assert_eq!(
        rows_by_measurement(dir.path(), &engine),
        counts(&[("a", 2), ("b", 1)])
    );
    engine.shutdown().expect("shutdown");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A flush thread that panics poisons the engine: the next write is refused (the server answers
/// 503) and the engine reports itself unhealthy (`/health` 503), instead of acknowledging into
/// buffers nobody flushes. What was acknowledged is replayed after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_flush_poisons_the_engine() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fail = Arc::new(Mutex::new(None));
    let Opened { engine, catalog } = open(dir.path(), &fail).await;
    let bucket = catalog.resolve_v1("db", "", true).await.expect("bucket");
    write(&engine, &bucket, "doomed v=1i 1\n").await;
    *fail.lock() = Some("panic:doomed".into());
    assert!(engine.flush_now().await.is_err(), "the flush died");
    assert!(!engine.is_healthy());
    let refused = engine
        .write(WriteRequest {
            bucket: &bucket,
            body: b"other v=1i 1\n",
            precision: Precision::Nanoseconds,
            received_at_ns: 1_700_000_000_000_000_000,
        })
        .await;
    assert!(
        matches!(refused, Err(engine::EngineError::Poisoned)),
        "{refused:?}"
    );
    drop(engine);
    *fail.lock() = None;
    let Opened { engine, .. } = open(dir.path(), &fail).await;
    assert!(engine.is_healthy());
    engine.shutdown().expect("shutdown");
    assert_eq!(
        rows_by_measurement(dir.path(), &engine).get("doomed"),
        Some(&1)
    );
}
