//! Engine-level tests of what happens around a flush: retention on write and on files, the
//! manifest/WAL ordering after a crash, and replay.

use std::sync::Arc;

use catalog::{Bucket, Catalog};
use engine::{Engine, EngineConfig, RejectReason, WriteRequest};
use lp::Precision;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

mod support;

const HOUR_NS: i64 = 3_600_000_000_000;
const NOW_NS: i64 = 1_700_000_000_000_000_000;

async fn open(dir: &std::path::Path) -> (Engine, Arc<Catalog>, Arc<dyn ObjectStore>) {
    open_with(dir, usize::MAX).await
}

/// [`open`] with a size threshold for flushes.
async fn open_with(
    dir: &std::path::Path,
    flush_table_bytes: usize,
) -> (Engine, Arc<Catalog>, Arc<dyn ObjectStore>) {
    let store: Arc<dyn ObjectStore> = Arc::new(engine::SyncedLocalStore::new(dir).expect("store"));
    let config = EngineConfig {
        flush_table_bytes,
        // Several shards, so flushes merge them.
        buffer_shards: 4,
        // Bodies over 128 KiB are cut into parts done on several threads.
        apply_threads: 2,
        ..support::config(dir)
    };
    let (engine, catalog) = support::open_on(Arc::clone(&store), config).await;
    (engine, catalog, store)
}

async fn write(engine: &Engine, bucket: &Bucket, body: &str) -> engine::WriteOutcome {
    engine
        .write(WriteRequest {
            bucket,
            body: body.as_bytes(),
            precision: Precision::Nanoseconds,
            received_at_ns: NOW_NS,
        })
        .await
        .expect("write")
}

/// WAL segments (not spares) in the data dir.
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
async fn points_beyond_retention_are_rejected_and_expired_files_deleted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (engine, catalog, _) = open(dir.path()).await;
    let bucket = catalog
        .create_bucket("db/one_hour", Some(HOUR_NS))
        .await
        .expect("bucket");
    let body = format!(
        "m v=1 {}\nm v=2 {}\n",
        NOW_NS - 2 * HOUR_NS,
        NOW_NS - HOUR_NS / 2
    );
    let outcome = write(&engine, &bucket, &body).await;
    assert_eq!(outcome.written, 1);
    assert_eq!(outcome.rejected.len(), 1);
    assert_eq!(outcome.rejected[0].line, 1);
    assert_eq!(outcome.rejected[0].reason, RejectReason::BeyondRetention);
    assert_eq!(
        outcome.rejected[0].reason.to_string(),
        "points beyond retention policy"
    );

    engine.flush_now().await.expect("flush");
    let files = engine.files();
    assert_eq!(files.len(), 1);
    let path = dir.path().join(&files[0].path);
    assert!(path.exists());
    // Not yet expired half an hour later; expired two hours later.
    assert_eq!(
        engine
            .expire_files(NOW_NS + HOUR_NS / 4)
            .await
            .expect("expire"),
        0
    );
    assert_eq!(
        engine
            .expire_files(NOW_NS + 2 * HOUR_NS)
            .await
            .expect("expire"),
        1
    );
    assert!(!path.exists());
    assert!(engine.files().is_empty());
    engine.shutdown().expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_records_a_manifest_before_deleting_the_wal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (engine, catalog, _) = open(dir.path()).await;
    let bucket = catalog.resolve_v1("db", "", true).await.expect("bucket");
    write(&engine, &bucket, "m,t=a v=1 1\nm,t=b v=2 2\n").await;
    assert!(wal_segments(dir.path()) >= 1);
    engine.flush_now().await.expect("flush");
    let manifests: Vec<_> = std::fs::read_dir(dir.path().join("manifest"))
        .expect("manifest dir")
        .collect();
    assert_eq!(manifests.len(), 1);
    // Only the fresh (empty) segment remains.
    assert_eq!(wal_segments(dir.path()), 1);
    assert_eq!(engine.files().iter().map(|f| f.rows).sum::<u64>(), 2);
    engine.shutdown().expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_before_manifest_replays_once_and_drops_the_orphan_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let (engine, catalog, store) = open(dir.path()).await;
        let bucket = catalog.resolve_v1("db", "", true).await.expect("bucket");
        write(&engine, &bucket, "m v=1 1\nm v=2 2\nm v=3 3\n").await;
        // A flush that wrote its file but crashed before its manifest: the file is an orphan.
        store
            .put(
                &Path::from("buckets/0000000000000001/m/1970-01-01/orphan.parquet"),
                PutPayload::from_static(b"half"),
            )
            .await
            .expect("put");
        // Crash: no shutdown, no flush. (Dropping the engine stops its threads.)
        drop(engine);
    }
    let (engine, _, _) = open(dir.path()).await;
    assert!(!dir
        .path()
        .join("buckets/0000000000000001/m/1970-01-01/orphan.parquet")
        .exists());
    engine.flush_now().await.expect("flush");
    assert_eq!(
        engine.files().iter().map(|f| f.rows).sum::<u64>(),
        3,
        "replayed exactly once"
    );
    engine.shutdown().expect("shutdown");
    // And a second restart replays nothing more.
    let (engine, _, _) = open(dir.path()).await;
    engine.flush_now().await.expect("flush");
    assert_eq!(engine.files().iter().map(|f| f.rows).sum::<u64>(), 3);
    engine.shutdown().expect("shutdown");
}

/// The record batches of every flushed Parquet file.
fn read_rows(dir: &std::path::Path, engine: &Engine) -> Vec<arrow::record_batch::RecordBatch> {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let mut out = Vec::new();
    for f in engine.files() {
        let file = std::fs::File::open(dir.join(&f.path)).expect("open parquet");
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .expect("parquet")
            .build()
            .expect("reader");
        out.extend(reader.map(|b| b.expect("batch")));
    }
    out
}

/// Each row's field `v` where it has one, else its field `id`: (the `v`s, the `id`s).
fn values_and_ids(batches: &[arrow::record_batch::RecordBatch]) -> (Vec<f64>, Vec<i64>) {
    use arrow::array::{Array, Float64Array, Int64Array};
    let (mut values, mut ids) = (Vec::new(), Vec::new());
    for b in batches {
        let id = b.column_by_name("id").expect("id");
        let id = id.as_any().downcast_ref::<Int64Array>().expect("i64");
        let v = b.column_by_name("v").expect("v");
        let v = v.as_any().downcast_ref::<Float64Array>().expect("f64");
        for i in 0..b.num_rows() {
            if v.is_valid(i) {
                values.push(v.value(i));
            } else {
                ids.push(id.value(i));
            }
        }
    }
    (values, ids)
}

/// Runs writes on dedicated OS threads (so they land in different buffer shards), one request
/// at a time, in the order given: `(thread, body)`.
fn write_on_threads(
    engine: &Engine,
    bucket: &Bucket,
    threads: usize,
    writes: Vec<(usize, String)>,
) {
    use std::sync::mpsc;
    std::thread::scope(|scope| {
        let mut senders = Vec::new();
        for _ in 0..threads {
            let (tx, rx) = mpsc::channel::<(String, mpsc::Sender<()>)>();
            senders.push(tx);
            scope.spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                for (body, done) in rx {
                    let outcome = rt.block_on(write(engine, bucket, &body));
                    assert_eq!(outcome.rejected_total, 0, "{:?}", outcome.rejected);
                    done.send(()).expect("ack");
                }
            });
        }
        for (thread, body) in writes {
            let (done, acked) = mpsc::channel();
            senders[thread % threads].send((body, done)).expect("send");
            acked.recv().expect("acked");
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sharded_buffers_keep_every_point_once_and_the_last_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (engine, catalog, _) = open(dir.path()).await;
    let bucket = catalog.resolve_v1("db", "", true).await.expect("bucket");
    // Alternating threads overwrite one point (series s=x, time 100) in turn, each write acked
    // before the next starts: whatever shard each lands in, the last one (v=7) must win. Other
    // points, with a column per thread, make the shards' column sets differ.
    let mut writes = Vec::new();
    let mut id = 0i64;
    for round in 0..8 {
        let thread = round % 3;
        let mut body = format!("m,s=x v={round} 100\n");
        for _ in 0..50 {
            body.push_str(&format!(
                "m,s=t{thread} id={id}i,only{thread}=1i {}\n",
                1000 + id
            ));
            id += 1;
        }
        writes.push((thread, body));
    }
    let engine_ref = &engine;
    let bucket_ref = &bucket;
    tokio::task::block_in_place(|| write_on_threads(engine_ref, bucket_ref, 3, writes));
    engine.flush_now().await.expect("flush");
    let (overwritten, mut ids) = values_and_ids(&read_rows(dir.path(), &engine));
    ids.sort_unstable();
    assert_eq!(ids, (0..id).collect::<Vec<_>>(), "every point once");
    assert_eq!(
        overwritten,
        [7.0],
        "one row for the overwritten point, the last write's"
    );
    engine.shutdown().expect("shutdown");
}

/// A server that crashes before it ever flushes leaves a WAL of several segments; the next
/// start writes what it replays to Parquet as soon as a flush's worth has accumulated, segment
/// by segment, so the WAL shrinks instead of growing with every crash. Every row once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_flushes_as_it_goes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let batch = |from: i64| {
        (from..from + 500)
            .map(|i| format!("m,s=s{} v={i}i {}\n", i % 7, 1000 + i))
            .collect::<String>()
    };
    // Two lives that crash (no flush, no shutdown): segments 0 and 1 each hold 500 rows.
    for life in 0..2 {
        let (engine, catalog, _) = open(dir.path()).await;
        let bucket = catalog.resolve_v1("db", "", true).await.expect("bucket");
        write(&engine, &bucket, &batch(life * 500)).await;
        drop(engine);
    }
    assert_eq!(wal_segments(dir.path()), 2);
    // A third start with a small flush size: replay persists each segment's rows.
    let (engine, _, _) = open_with(dir.path(), 1).await;
    assert_eq!(engine.files().iter().map(|f| f.rows).sum::<u64>(), 1000);
    assert_eq!(
        wal_segments(dir.path()),
        1,
        "only the new, open segment is left"
    );
    engine.shutdown().expect("shutdown");
    let (engine, _, _) = open(dir.path()).await;
    engine.flush_now().await.expect("flush");
    assert_eq!(
        engine.files().iter().map(|f| f.rows).sum::<u64>(),
        1000,
        "nothing replayed twice"
    );
    engine.shutdown().expect("shutdown");
}

/// A body large enough to be cut into parts done on several threads gives what one pass would:
/// every good point once, rejections with their line numbers in body order, a point repeated
/// later in the body winning over its first version, and a new column first seen in a later
/// part added (the second pass) — all logged and acknowledged as one write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_body_is_done_in_parts_with_the_outcome_of_one_pass() {
    use arrow::array::Array;
    let dir = tempfile::tempdir().expect("tempdir");
    let (engine, catalog, _) = open(dir.path()).await;
    let bucket = catalog.resolve_v1("db", "", true).await.expect("bucket");
    let first = write(&engine, &bucket, "m,s=x v=0,id=-1i 1\n").await;
    assert_eq!(first.written, 1);

    let lines = 12_000;
    let mut body = String::new();
    let mut bad_lines = Vec::new();
    for n in 1..=lines {
        let line = match n {
            1 => "m,s=x v=1 100".to_string(),
            10 => "bad line".to_string(),
            n if n == lines - 10 => "also bad".to_string(),
            n if n == lines - 5 => "m,s=x v=2 100".to_string(),
            n if n == lines - 3 => format!("m,s=f id={n}i,extra=1i {}", 1000 + n),
            n => format!("m,s=f id={n}i {}", 1000 + n),
        };
        if line.contains("bad") {
            bad_lines.push(n);
        }
        body.push_str(&line);
        body.push('\n');
    }
    assert!(
        lp::chunks(body.as_bytes(), 3, 64 * 1024).len() == 3,
        "the body must be large enough to be cut"
    );
    let outcome = write(&engine, &bucket, &body).await;
    assert_eq!(outcome.written, lines - bad_lines.len());
    assert_eq!(outcome.rejected_total, 2);
    let rejected: Vec<usize> = outcome.rejected.iter().map(|r| r.line).collect();
    assert_eq!(rejected, bad_lines);

    engine.flush_now().await.expect("flush");
    let batches = read_rows(dir.path(), &engine);
    let extra: usize = batches
        .iter()
        .filter_map(|b| b.column_by_name("extra"))
        .map(|e| e.len() - e.null_count())
        .sum();
    let (mut x, mut ids) = values_and_ids(&batches);
    ids.sort_unstable();
    let want: Vec<i64> = (2..=lines as i64)
        .filter(|n| ![10, lines as i64 - 10, lines as i64 - 5].contains(n))
        .collect();
    assert!(
        ids == want,
        "every good point once: {} ids, {} wanted",
        ids.len(),
        want.len()
    );
    x.sort_by(f64::total_cmp);
    assert_eq!(
        x,
        [0.0, 2.0],
        "the later version of the repeated point wins"
    );
    assert_eq!(extra, 1, "the column first seen in a later part");
    engine.shutdown().expect("shutdown");
}
