//! Snapshots see every acknowledged row exactly once — while flushes, WAL rotations and
//! restarts go on around them — and keep the files they name readable until dropped.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use catalog::Bucket;
use engine::{Engine, SnapshotRequest, WriteRequest};
use lp::Precision;
use proptest::prelude::*;

mod support;

const NOW_NS: i64 = 1_700_000_000_000_000_000;
const HOUR_NS: i64 = 3_600_000_000_000;

/// One point of a generated write: measurement, host, time and up to two fields.
#[derive(Debug, Clone)]
struct Point {
    measurement: u8,
    host: u8,
    time: i64,
    a: Option<i64>,
    b: Option<i32>,
}

#[derive(Debug, Clone)]
enum Op {
    Write(Vec<Point>),
    /// A flush, not waited for: the next operations run while it does.
    Flush,
    Check,
    /// A graceful stop and a start on the same directory. (Crashes are `names.rs`'s and the
    /// end-to-end crash test's: here the flush thread runs every few milliseconds, and an
    /// engine dropped mid-flush would race the next one on the directory.)
    Reopen,
}

fn point() -> impl Strategy<Value = Point> {
    (
        0u8..2,
        0u8..3,
        0i64..6,
        proptest::option::of(-5i64..5),
        proptest::option::of(-5i32..5),
    )
        .prop_map(|(measurement, host, time, a, b)| Point {
            measurement,
            host,
            time,
            // Every line needs a field.
            a: a.or(b.is_none().then_some(0)),
            b,
        })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => proptest::collection::vec(point(), 1..12).prop_map(Op::Write),
        2 => Just(Op::Flush),
        3 => Just(Op::Check),
        1 => Just(Op::Reopen),
    ]
}

fn body(points: &[Point]) -> String {
    let mut out = String::new();
    for p in points {
        let mut fields = Vec::new();
        if let Some(a) = p.a {
            fields.push(format!("a={a}i"));
        }
        if let Some(b) = p.b {
            fields.push(format!("b={b}"));
        }
        out.push_str(&format!(
            "m{},host=h{} {} {}\n",
            p.measurement,
            p.host,
            fields.join(","),
            NOW_NS + p.time
        ));
    }
    out
}

type Model = support::Points;

fn apply(model: &mut Model, points: &[Point]) {
    for p in points {
        let tags = BTreeMap::from([("host".to_owned(), format!("h{}", p.host))]);
        let fields = model
            .entry((format!("m{}", p.measurement), tags, NOW_NS + p.time))
            .or_default();
        if let Some(a) = p.a {
            fields.insert("a".into(), format!("i{a}"));
        }
        if let Some(b) = p.b {
            fields.insert("b".into(), format!("f{:016x}", f64::from(b).to_bits()));
        }
    }
}

fn quick_config(dir: &std::path::Path) -> engine::EngineConfig {
    engine::EngineConfig {
        // Flushes by size and by age all the time, beside the explicit ones.
        flush_table_bytes: 2_000,
        flush_interval: Duration::from_millis(3),
        ..support::config(dir)
    }
}

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

async fn run(ops: Vec<Op>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut engine, mut catalog) = support::open(dir.path(), quick_config(dir.path())).await;
    let bucket = catalog.resolve_v1("db", "", true).await.expect("bucket");
    let mut model = Model::new();
    let mut flushes = Vec::new();
    let check = |engine: &Engine, model: &Model| {
        let snapshot = engine
            .snapshot(SnapshotRequest::all(bucket.id))
            .expect("snapshot");
        let rows = support::snapshot_rows(dir.path(), &snapshot);
        assert_eq!(&support::deduplicate(rows), model);
        // The series, from memory and the index, are the model's.
        let series: std::collections::BTreeSet<_> = engine
            .series(SnapshotRequest::all(bucket.id))
            .expect("series")
            .iter()
            .flat_map(|m| {
                m.series.iter().map(|s| {
                    let tags: BTreeMap<String, String> = s
                        .tags()
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect();
                    (m.measurement.clone(), tags)
                })
            })
            .collect();
        let want: std::collections::BTreeSet<_> = model
            .keys()
            .map(|(m, tags, _)| (m.clone(), tags.clone()))
            .collect();
        assert_eq!(series, want);
    };
    for op in ops {
        match op {
            Op::Write(points) => {
                write(&engine, &bucket, &body(&points)).await;
                apply(&mut model, &points);
            }
            Op::Flush => {
                let e = engine.clone();
                flushes.push(tokio::spawn(async move { e.flush_now().await }));
            }
            Op::Check => check(&engine, &model),
            Op::Reopen => {
                for f in flushes.drain(..) {
                    f.await.expect("join").expect("flush");
                }
                engine.shutdown().expect("shutdown");
                drop(engine);
                (engine, catalog) = support::open(dir.path(), quick_config(dir.path())).await;
                check(&engine, &model);
            }
        }
    }
    for f in flushes.drain(..) {
        f.await.expect("join").expect("flush");
    }
    check(&engine, &model);
    engine.shutdown().expect("shutdown");
    drop(catalog);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// Each snapshot, deduplicated as 1.x reads (last write wins per field), equals the model
    /// of the acknowledged writes, whatever flushes, rotations and restarts run meanwhile.
    #[test]
    fn snapshots_equal_the_acknowledged_writes(ops in proptest::collection::vec(op(), 1..40)) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(run(ops));
    }
}

/// Two writers and a reader at once, with flushes every few milliseconds: every snapshot holds
/// each point acknowledged before it began exactly once, and no point twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_snapshots_see_each_acknowledged_point_once() {
    const WRITERS: u64 = 2;
    const WRITES: u64 = 150;
    const LINES: u64 = 20;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = engine::EngineConfig {
        flush_table_bytes: 20_000,
        flush_interval: Duration::from_millis(2),
        buffer_shards: 2,
        ..support::config(dir.path())
    };
    let (engine, catalog) = support::open(dir.path(), config).await;
    let bucket = catalog.resolve_v1("db", "", true).await.expect("bucket");
    let acked: Arc<Mutex<Vec<u64>>> = Arc::default();
    let done = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (engine, bucket, acked) = (engine.clone(), bucket.clone(), Arc::clone(&acked));
        writers.push(tokio::spawn(async move {
            for i in 0..WRITES {
                let ids: Vec<u64> = (0..LINES).map(|l| (w * WRITES + i) * LINES + l).collect();
                let body: String = ids
                    .iter()
                    .map(|id| {
                        format!(
                            "m{},host=h{} id={id}i {}\n",
                            id % 3,
                            id % 5,
                            NOW_NS + *id as i64
                        )
                    })
                    .collect();
                write(&engine, &bucket, &body).await;
                acked.lock().expect("lock").extend(ids);
                // Spread the writes over a few hundred milliseconds of flushes.
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }));
    }
    let reader = {
        let (engine, acked, done) = (engine.clone(), Arc::clone(&acked), Arc::clone(&done));
        let dir = dir.path().to_path_buf();
        tokio::task::spawn_blocking(move || {
            let mut snapshots = 0;
            while !done.load(Ordering::SeqCst) && snapshots < 10_000 {
                let before: Vec<u64> = acked.lock().expect("lock").clone();
                let snapshot = engine
                    .snapshot(SnapshotRequest::all(bucket.id))
                    .expect("snapshot");
                let mut seen: HashMap<u64, usize> = HashMap::new();
                for (_, _, row) in support::snapshot_rows(&dir, &snapshot) {
                    let id = row.fields["id"]
                        .trim_start_matches('i')
                        .parse()
                        .expect("id");
                    *seen.entry(id).or_default() += 1;
                }
                if let Some((id, n)) = seen.iter().find(|(_, n)| **n > 1) {
                    panic!("point {id} seen {n} times in snapshot {snapshots}");
                }
                for id in &before {
                    assert!(
                        seen.contains_key(id),
                        "acknowledged point {id} missing from snapshot {snapshots}"
                    );
                }
                snapshots += 1;
                // Leave the CPUs to the flush now and then (it yields to everything else).
                std::thread::sleep(Duration::from_micros(500));
            }
            snapshots
        })
    };
    // Explicit flushes beside the age and size ones, so that many overlap the snapshots.
    let flusher = {
        let (engine, done) = (engine.clone(), Arc::clone(&done));
        tokio::spawn(async move {
            let mut n = 0;
            while !done.load(Ordering::SeqCst) && n < 10_000 {
                engine.flush_now().await.expect("flush");
                n += 1;
            }
        })
    };
    for w in writers {
        w.await.expect("writer");
    }
    done.store(true, Ordering::SeqCst);
    flusher.await.expect("flusher");
    let snapshots = reader.await.expect("reader");
    assert!(snapshots >= 10, "{snapshots} snapshots");
    let flushes = engine.flush_stats().flushes.load(Ordering::Relaxed);
    eprintln!("{snapshots} snapshots, {flushes} flushes");
    assert!(flushes >= 10, "{flushes} flushes");
    engine.shutdown().expect("shutdown");
}

/// A snapshot taken before a retention pass keeps reading the files the pass removes; they are
/// deleted once it is dropped, and stay gone after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_keeps_its_files_through_retention() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (engine, catalog) = support::open(dir.path(), support::config(dir.path())).await;
    let bucket = catalog
        .create_bucket("db/one_hour", Some(HOUR_NS))
        .await
        .expect("bucket");
    write(
        &engine,
        &bucket,
        // A name the store encodes: the file deleted is the one the manifest names.
        &format!("m%/~ v=1 {}\n", NOW_NS - HOUR_NS / 2),
    )
    .await;
    engine.flush_now().await.expect("flush");
    let snapshot = engine
        .snapshot(SnapshotRequest::all(bucket.id))
        .expect("snapshot");
    let file = snapshot.table("m%/~").expect("table").files[0]
        .entry()
        .clone();
    let path = dir.path().join(&file.path);

    assert_eq!(
        engine
            .expire_files(NOW_NS + 2 * HOUR_NS)
            .await
            .expect("expire"),
        1
    );
    assert!(engine.files().is_empty());
    let later = engine
        .snapshot(SnapshotRequest::all(bucket.id))
        .expect("snapshot");
    assert!(later.is_empty(), "a new snapshot no longer sees the file");
    // The old snapshot still reads it.
    assert!(path.exists());
    let rows = support::snapshot_rows(dir.path(), &snapshot);
    assert_eq!(rows.len(), 1);

    drop(snapshot);
    let gone = strata_wait(|| !path.exists()).await;
    assert!(
        gone,
        "the flush thread deletes a retired file once no snapshot holds it"
    );
    engine.shutdown().expect("shutdown");
    drop(engine);
    let (engine, _catalog) = support::open(dir.path(), support::config(dir.path())).await;
    assert!(
        engine.files().is_empty(),
        "the removal record outlives a restart"
    );
    engine.shutdown().expect("shutdown");
}

/// An unknown bucket or measurement gives an empty snapshot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_names_give_empty_snapshots() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (engine, catalog) = support::open(dir.path(), support::config(dir.path())).await;
    let bucket = catalog.resolve_v1("db", "", true).await.expect("bucket");
    write(&engine, &bucket, "m v=1 1\n").await;
    let none = engine
        .snapshot(SnapshotRequest::all(catalog::BucketId(999)))
        .expect("snapshot");
    assert!(none.is_empty());
    let other = engine
        .snapshot(SnapshotRequest {
            measurements: Some(&["nope"]),
            ..SnapshotRequest::all(bucket.id)
        })
        .expect("snapshot");
    assert!(other.is_empty());
    let m = engine
        .snapshot(SnapshotRequest {
            measurements: Some(&["m"]),
            ..SnapshotRequest::all(bucket.id)
        })
        .expect("snapshot");
    assert_eq!(m.table("m").expect("m").rows.len(), 1);
    engine.shutdown().expect("shutdown");
}

/// Waits (bounded: 10 s) for `done`.
async fn strata_wait(mut done: impl FnMut() -> bool) -> bool {
    for _ in 0..1000 {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

/// A body whose first write of a point needs a new column (so it waits for the catalog) and
/// whose later write of it does not: the later one wins in memory, after start-up replays the
/// WAL (which logs the waiting line after the others), and in a file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_waiting_for_columns_loses_to_a_later_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut engine, mut catalog) = support::open(dir.path(), support::config(dir.path())).await;
    let bucket = catalog.resolve_v1("db", "", true).await.expect("bucket");
    write(&engine, &bucket, &format!("m,host=h a=1i {NOW_NS}\n")).await;
    let body = format!("m,host=h a=3i,b=1 {t}\nm,host=h a=0i {t}\n", t = NOW_NS + 1);
    write(&engine, &bucket, &body).await;
    let mut model = Model::new();
    apply(
        &mut model,
        &[
            Point {
                measurement: 0,
                host: 0,
                time: 0,
                a: Some(1),
                b: None,
            },
            Point {
                measurement: 0,
                host: 0,
                time: 1,
                a: Some(3),
                b: Some(1),
            },
            Point {
                measurement: 0,
                host: 0,
                time: 1,
                a: Some(0),
                b: None,
            },
        ],
    );
    // The model names measurement 0 "m0" and host 0 "h0".
    let model: Model = model
        .into_iter()
        .map(|((_, _, t), f)| {
            let tags = BTreeMap::from([("host".to_owned(), "h".to_owned())]);
            (("m".to_owned(), tags, t), f)
        })
        .collect();
    let check = |engine: &Engine, when: &str| {
        let snapshot = engine
            .snapshot(SnapshotRequest::all(bucket.id))
            .expect("snapshot");
        let rows = support::snapshot_rows(dir.path(), &snapshot);
        assert_eq!(support::deduplicate(rows), model, "{when}");
    };
    check(&engine, "in memory");
    // A crash (no flush, no shutdown): start-up replays both WAL records.
    drop(engine);
    drop(catalog);
    (engine, catalog) = support::open(dir.path(), support::config(dir.path())).await;
    check(&engine, "replayed");
    engine.flush_now().await.expect("flush");
    check(&engine, "in a file");
    engine.shutdown().expect("shutdown");
    drop(catalog);
}
