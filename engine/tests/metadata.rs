//! A bucket's measurements, tag keys, tag values and series are known without reading data:
//! from memory before a flush, from the series index after it, and after a restart from the
//! manifests and the tag columns of only those files that brought their day new series.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use catalog::Bucket;
use engine::{Engine, MeasurementSeries, SnapshotRequest, WriteRequest};
use lp::Precision;
use object_store::ObjectStore;

mod support;

use engine::test_helpers::Faulty;

const DAY_NS: i64 = 86_400 * 1_000_000_000;
/// 2024-01-10, noon.
const NOW_NS: i64 = 19_732 * DAY_NS + DAY_NS / 2;

async fn write(engine: &Engine, bucket: &Bucket, body: &str) {
    let outcome = engine
        .write(WriteRequest {
            bucket,
            body: body.as_bytes(),
            precision: Precision::Nanoseconds,
            received_at_ns: NOW_NS,
        })
        .await
        .expect("write");
    assert!(outcome.rejected.is_empty(), "{:?}", outcome.rejected);
}

/// Series as `measurement,k=v,…` strings (unescaped: the test's names need none).
fn flat(found: &[MeasurementSeries]) -> BTreeSet<String> {
    found
        .iter()
        .flat_map(|m| {
            m.series.iter().map(|s| {
                let mut key = m.measurement.clone();
                for (k, v) in s.tags() {
                    key.push_str(&format!(",{k}={v}"));
                }
                key
            })
        })
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Manifest records (flush and removal) as JSON.
fn manifests(dir: &std::path::Path) -> Vec<(std::path::PathBuf, serde_json::Value)> {
    let mut out: Vec<_> = std::fs::read_dir(dir.join("manifest"))
        .expect("manifest dir")
        .map(|e| e.expect("entry").path())
        .collect();
    out.sort();
    out.into_iter()
        .map(|p| {
            let json = serde_json::from_slice(&std::fs::read(&p).expect("read")).expect("json");
            (p, json)
        })
        .collect()
}

async fn open_counting(dir: &std::path::Path) -> (Engine, Arc<catalog::Catalog>, Faulty) {
    let local: Arc<dyn ObjectStore> = Arc::new(engine::SyncedLocalStore::new(dir).expect("store"));
    let store = Faulty::over(local);
    let counting = Faulty {
        inner: Arc::clone(&store.inner),
        fail: Arc::clone(&store.fail),
        parquet_reads: Arc::clone(&store.parquet_reads),
    };
    let (engine, catalog) = support::open_on(Arc::new(store), support::config(dir)).await;
    (engine, catalog, counting)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn series_come_from_memory_then_the_index_then_the_manifests() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (engine, catalog, store) = open_counting(dir.path()).await;
    let bucket = catalog.resolve_v1("db", "", true).await.expect("bucket");
    write(
        &engine,
        &bucket,
        &format!(
            "cpu,host=a,region=eu v=1 {t}\ncpu,host=b,region=eu v=2 {t}\ncpu,region=us v=3 {t}\n\
             mem free=1i {t}\ncpu,host=a,region=eu v=4 {t2}\n",
            t = NOW_NS,
            t2 = NOW_NS + 1
        ),
    )
    .await;
    let want = set(&[
        "cpu,host=a,region=eu",
        "cpu,host=b,region=eu",
        "cpu,region=us",
        "mem",
    ]);
    let all = SnapshotRequest::all(bucket.id);
    assert_eq!(flat(&engine.series(all).expect("series")), want, "buffered");

    engine.flush_now().await.expect("flush");
    assert_eq!(flat(&engine.series(all).expect("series")), want, "flushed");
    let found = engine.series(all).expect("series");
    assert_eq!(found[0].measurement, "cpu");
    assert_eq!(found[0].tag_keys(), vec!["host", "region"]);
    assert_eq!(found[0].tag_values("region"), vec!["eu", "us"]);
    assert_eq!(found[1].tag_keys(), Vec::<&str>::new());

    // A second flush of the same day counts only the series it adds; a third adds none.
    write(
        &engine,
        &bucket,
        &format!(
            "cpu,host=a,region=eu v=5 {t}\ncpu,host=c,region=eu v=6 {t}\n",
            t = NOW_NS + 2
        ),
    )
    .await;
    engine.flush_now().await.expect("flush");
    write(
        &engine,
        &bucket,
        &format!("cpu,host=c,region=eu v=7 {}\n", NOW_NS + 3),
    )
    .await;
    engine.flush_now().await.expect("flush");
    let new_series: Vec<(String, u64)> = manifests(dir.path())
        .iter()
        .flat_map(|(_, json)| json["files"].as_array().cloned().unwrap_or_default())
        .map(|f| {
            let m = f["measurement"].as_str().expect("measurement").to_owned();
            (m, f["new_series"].as_u64().expect("new_series"))
        })
        .collect();
    let mut sorted = new_series.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        vec![
            ("cpu".into(), 0),
            ("cpu".into(), 1),
            ("cpu".into(), 3),
            ("mem".into(), 1)
        ]
    );
    let mut want = want;
    want.insert("cpu,host=c,region=eu".into());
    assert_eq!(flat(&engine.series(all).expect("series")), want);

    // Measurements and time ranges narrow it; unknown names give nothing.
    let cpu = ["cpu"];
    let only_cpu = SnapshotRequest {
        measurements: Some(&cpu),
        ..all
    };
    assert_eq!(engine.series(only_cpu).expect("series").len(), 1);
    let next_day = SnapshotRequest {
        min_time_ns: NOW_NS + DAY_NS,
        ..all
    };
    assert!(engine.series(next_day).expect("series").is_empty());
    let nothing = ["nothing"];
    assert!(engine
        .series(SnapshotRequest {
            measurements: Some(&nothing),
            ..all
        })
        .expect("series")
        .is_empty());
    assert!(engine
        .series(SnapshotRequest::all(catalog::BucketId(999)))
        .expect("series")
        .is_empty());
    assert!(store.parquet_reads.lock().is_empty(), "no Parquet read");
    let carriers: std::collections::BTreeSet<String> = engine
        .files()
        .into_iter()
        .filter(|f| f.new_series != Some(0))
        .map(|f| f.path)
        .collect();
    assert_eq!(carriers.len(), 3);
    assert_eq!(engine.files().len(), 4);

    engine.shutdown().expect("shutdown");
    drop(engine);
    let (engine, _catalog, store) = open_counting(dir.path()).await;
    assert_eq!(
        flat(&engine.series(all).expect("series")),
        want,
        "restarted"
    );
    assert_eq!(
        *store.parquet_reads.lock(),
        carriers,
        "start-up reads only the files that brought new series; the series read none"
    );
    engine.shutdown().expect("shutdown");
}

/// Records written before the series index do not say whether a file brought new series:
/// start-up reads those files.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_recorded_without_series_are_read_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (engine, catalog) = support::open(dir.path(), support::config(dir.path())).await;
    let bucket = catalog.resolve_v1("db", "", true).await.expect("bucket");
    write(
        &engine,
        &bucket,
        &format!("cpu,host=a v=1 {NOW_NS}\ncpu,host=b v=2 {NOW_NS}\nmem v=1 {NOW_NS}\n"),
    )
    .await;
    engine.flush_now().await.expect("flush");
    engine.shutdown().expect("shutdown");
    drop(engine);
    for (path, mut json) in manifests(dir.path()) {
        for f in json["files"].as_array_mut().into_iter().flatten() {
            f.as_object_mut().expect("entry").remove("new_series");
        }
        std::fs::write(&path, serde_json::to_vec(&json).expect("json")).expect("rewrite");
    }
    let (engine, _catalog, store) = open_counting(dir.path()).await;
    assert_eq!(store.parquet_reads.lock().len(), 2, "two files");
    assert_eq!(
        flat(
            &engine
                .series(SnapshotRequest::all(bucket.id))
                .expect("series")
        ),
        set(&["cpu,host=a", "cpu,host=b", "mem"])
    );
    engine.shutdown().expect("shutdown");
}

/// A file start-up must read that is not Parquet is an error naming it, and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_file_is_named_and_left_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (engine, catalog) = support::open(dir.path(), support::config(dir.path())).await;
    let bucket = catalog.resolve_v1("db", "", true).await.expect("bucket");
    write(&engine, &bucket, &format!("cpu,host=a v=1 {NOW_NS}\n")).await;
    engine.flush_now().await.expect("flush");
    let file = engine.files().pop().expect("a file");
    engine.shutdown().expect("shutdown");
    drop(engine);
    let path = dir.path().join(&file.path);
    let damaged = vec![b'x'; file.bytes as usize];
    std::fs::write(&path, &damaged).expect("damage");
    let local: Arc<dyn ObjectStore> =
        Arc::new(engine::SyncedLocalStore::new(dir.path()).expect("store"));
    let catalog = Arc::new(
        catalog::Catalog::open(
            Arc::clone(&local),
            catalog::CatalogConfig {
                prefix: support::config(dir.path()).layout.catalog(),
                snapshot_every: 256,
            },
        )
        .await
        .expect("catalog"),
    );
    let err = Engine::open(support::config(dir.path()), local, catalog)
        .await
        .expect_err("a damaged file");
    assert!(err.to_string().contains(&file.path), "{err}");
    assert_eq!(
        std::fs::read(&path).expect("read"),
        damaged,
        "left as it was"
    );
}

/// Retention takes a day's series with its last file; a day with files left keeps them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_drops_a_days_series_with_its_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (engine, catalog) = support::open(dir.path(), support::config(dir.path())).await;
    let bucket = catalog
        .create_bucket("db/two_days", Some(2 * DAY_NS))
        .await
        .expect("bucket");
    write(
        &engine,
        &bucket,
        &format!(
            "cpu,host=old v=1 {}\ncpu,host=new v=1 {NOW_NS}\n",
            NOW_NS - DAY_NS
        ),
    )
    .await;
    engine.flush_now().await.expect("flush");
    let all = SnapshotRequest::all(bucket.id);
    assert_eq!(
        flat(&engine.series(all).expect("series")),
        set(&["cpu,host=new", "cpu,host=old"])
    );
    // Two days on, yesterday's file is past retention, today's is not.
    assert_eq!(
        engine
            .expire_files(NOW_NS + DAY_NS + DAY_NS / 4)
            .await
            .expect("expire"),
        1
    );
    assert_eq!(
        flat(&engine.series(all).expect("series")),
        set(&["cpu,host=new"])
    );
    engine.shutdown().expect("shutdown");
    drop(engine);
    let (engine, _catalog) = support::open(dir.path(), support::config(dir.path())).await;
    assert_eq!(
        flat(&engine.series(all).expect("series")),
        set(&["cpu,host=new"]),
        "after a restart too"
    );
    let tags: BTreeMap<String, Vec<String>> = engine
        .series(all)
        .expect("series")
        .iter()
        .map(|m| {
            (
                m.measurement.clone(),
                m.tag_values("host").into_iter().map(String::from).collect(),
            )
        })
        .collect();
    assert_eq!(tags["cpu"], vec!["new"]);
    engine.shutdown().expect("shutdown");
}

/// Retention that takes the file that brought a day its series, but leaves a later file of the
/// day holding them, keeps them — after a restart too (start-up then reads the day's files).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_keeps_its_series_when_its_first_file_expires() {
    const HOUR_NS: i64 = 3_600 * 1_000_000_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let (engine, catalog) = support::open(dir.path(), support::config(dir.path())).await;
    let bucket = catalog
        .create_bucket("db/two_days", Some(2 * DAY_NS))
        .await
        .expect("bucket");
    let (early, late) = (NOW_NS - 6 * HOUR_NS, NOW_NS + 6 * HOUR_NS);
    write(&engine, &bucket, &format!("cpu,host=a v=1 {early}\n")).await;
    engine.flush_now().await.expect("flush");
    write(&engine, &bucket, &format!("cpu,host=a v=2 {late}\n")).await;
    engine.flush_now().await.expect("flush");
    let files = engine.files();
    assert_eq!(
        files.iter().map(|f| f.new_series).collect::<Vec<_>>(),
        vec![Some(1), Some(0)]
    );
    assert_eq!(
        engine
            .expire_files(early + 2 * DAY_NS + HOUR_NS)
            .await
            .expect("expire"),
        1
    );
    let all = SnapshotRequest::all(bucket.id);
    assert_eq!(
        flat(&engine.series(all).expect("series")),
        set(&["cpu,host=a"])
    );
    engine.shutdown().expect("shutdown");
    drop(engine);
    let (engine, _catalog, store) = open_counting(dir.path()).await;
    assert_eq!(
        flat(&engine.series(all).expect("series")),
        set(&["cpu,host=a"]),
        "after a restart"
    );
    assert_eq!(
        store.parquet_reads.lock().len(),
        1,
        "the day's remaining file"
    );
    engine.shutdown().expect("shutdown");
}
