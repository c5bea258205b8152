//! SQL over a real engine on a temporary directory: rows come back from memory, from files and
//! from both, a point written in two flushes reads as one merged row, and bad queries are
//! clear errors that change nothing.

use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{Float64Type, Int64Type};
use catalog::{Bucket, Catalog, CatalogConfig};
use engine::{Durability, Engine, EngineConfig, Layout, WriteRequest};
use object_store::path::Path;
use object_store::ObjectStore;
use query::{QueryConfig, QueryEngine, QueryError, QueryOutput};

const NOW_NS: i64 = 1_700_000_000_000_000_000;

/// An engine and catalog on `dir`, with the bucket `db/autogen`.
async fn open(dir: &std::path::Path) -> (Engine, Arc<Catalog>, Bucket) {
    let store: Arc<dyn ObjectStore> = Arc::new(engine::SyncedLocalStore::new(dir).expect("store"));
    let config = EngineConfig {
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
    };
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
    let bucket = catalog
        .create_bucket("db/autogen", None)
        .await
        .expect("bucket");
    (engine, catalog, bucket)
}

fn querier(engine: &Engine, catalog: &Arc<Catalog>, config: QueryConfig) -> QueryEngine {
    QueryEngine::new(engine.clone(), Arc::clone(catalog), config).expect("query engine")
}

async fn write(engine: &Engine, bucket: &Bucket, body: &str) {
    let outcome = engine
        .write(WriteRequest {
            bucket,
            body: body.as_bytes(),
            precision: lp::Precision::Nanoseconds,
            received_at_ns: NOW_NS,
        })
        .await
        .expect("write");
    assert!(outcome.rejected.is_empty(), "{:?}", outcome.rejected);
}

fn count(out: &QueryOutput) -> i64 {
    out.batches[0]
        .column(0)
        .as_primitive::<Int64Type>()
        .value(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_come_back_from_memory_files_and_both_and_a_point_merges() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (engine, catalog, bucket) = open(dir.path()).await;
    let q = querier(&engine, &catalog, QueryConfig::default());

    write(
        &engine,
        &bucket,
        &format!("cpu,host=a usage=1 {NOW_NS}\ncpu,host=b usage=2 {NOW_NS}\n"),
    )
    .await;
    let out = q
        .sql(&bucket, "SELECT count(*) FROM cpu")
        .await
        .expect("query");
    assert_eq!(count(&out), 2, "from memory");

    engine.flush_now().await.expect("flush");
    let out = q
        .sql(&bucket, "SELECT count(*) FROM cpu")
        .await
        .expect("query");
    assert_eq!(count(&out), 2, "from a file");

    // The same point again, with a new value for one field and a second field: one row.
    write(
        &engine,
        &bucket,
        &format!(
            "cpu,host=a usage=10,idle=5i {NOW_NS}\ncpu,host=c usage=3 {}\n",
            NOW_NS + 1
        ),
    )
    .await;
    let out = q
        .sql(&bucket, "SELECT count(*) FROM cpu")
        .await
        .expect("query");
    assert_eq!(count(&out), 3, "memory over a file");
    engine.flush_now().await.expect("flush");
    assert_eq!(engine.files().len(), 2, "two flushes, two files");
    let out = q
        .sql(&bucket, "SELECT host, usage, idle FROM cpu ORDER BY host")
        .await
        .expect("query");
    assert_eq!(out.num_rows(), 3, "two files, the point once");
    let b = &out.batches[0];
    let usage = b.column(1).as_primitive::<Float64Type>();
    let idle = b.column(2).as_primitive::<Int64Type>();
    assert_eq!(
        (usage.value(0), idle.value(0)),
        (10.0, 5),
        "later write wins, fields merged"
    );
    assert_eq!(usage.value(1), 2.0);
    assert!(idle.is_null(1));

    let out = q
        .sql(
            &bucket,
            "SELECT host FROM cpu WHERE host = 'b' AND time >= '2023-11-14T00:00:00Z'",
        )
        .await
        .expect("query");
    assert_eq!(out.num_rows(), 1);
    let out = q
        .sql(
            &bucket,
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'iox'",
        )
        .await
        .expect("query");
    assert_eq!(out.num_rows(), 1, "cpu");
    engine.shutdown().expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_queries_are_clear_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (engine, catalog, bucket) = open(dir.path()).await;
    write(&engine, &bucket, &format!("cpu,host=a usage=1 {NOW_NS}\n")).await;
    let q = querier(&engine, &catalog, QueryConfig::default());
    for sql in ["SELEC 1", "SELECT * FROM nope", "SELECT nope FROM cpu"] {
        match q.sql(&bucket, sql).await {
            Err(e @ QueryError::Invalid(_)) => assert!(!e.to_string().is_empty()),
            other => panic!("{sql}: {other:?}"),
        }
    }
    let out = q
        .sql(&bucket, "SELECT count(*) FROM cpu")
        .await
        .expect("query");
    assert_eq!(count(&out), 1, "nothing changed");
    let tight = querier(
        &engine,
        &catalog,
        QueryConfig {
            timeout: Duration::from_nanos(1),
            ..QueryConfig::default()
        },
    );
    match tight.sql(&bucket, "SELECT count(*) FROM cpu").await {
        Err(e) => assert!(e.is_limit(), "{e}"),
        Ok(_) => panic!("a 1 ns timeout answered"),
    }
    engine.shutdown().expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_column_an_older_file_lacks_reads_as_nulls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (engine, catalog, bucket) = open(dir.path()).await;
    let q = querier(&engine, &catalog, QueryConfig::default());
    write(&engine, &bucket, &format!("m,host=a x=1i {NOW_NS}\n")).await;
    engine.flush_now().await.expect("flush");
    write(
        &engine,
        &bucket,
        &format!("m,host=a,dc=z y=2.5 {}\n", NOW_NS + 10),
    )
    .await;
    engine.flush_now().await.expect("flush");
    assert_eq!(engine.files().len(), 2);
    let out = q
        .sql(&bucket, "SELECT host, dc, x, y FROM m ORDER BY time")
        .await
        .expect("query");
    assert_eq!(out.num_rows(), 2);
    let b = arrow::compute::concat_batches(&out.schema, &out.batches).expect("concat");
    assert!(
        b.column(1).is_null(0) && b.column(3).is_null(0),
        "the first file has no dc, y"
    );
    assert!(b.column(2).is_null(1), "the second file has no x");
    assert_eq!(b.column(2).as_primitive::<Int64Type>().value(0), 1);
    assert_eq!(b.column(3).as_primitive::<Float64Type>().value(1), 2.5);
    engine.shutdown().expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_over_its_memory_limit_spills_or_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (engine, catalog, bucket) = open(dir.path()).await;
    let body: String = (0..20_000)
        .map(|i| format!("m,host=h{} v={i}i {}\n", i % 97, NOW_NS + i))
        .collect();
    write(&engine, &bucket, &body).await;
    engine.flush_now().await.expect("flush");
    let q = querier(
        &engine,
        &catalog,
        QueryConfig {
            memory_bytes: 64 * 1024,
            ..QueryConfig::default()
        },
    );
    match q
        .sql(&bucket, "SELECT host, v FROM m ORDER BY host DESC, v DESC")
        .await
    {
        Ok(out) => {
            eprintln!("the sort spilled");
            assert_eq!(out.num_rows(), 20_000, "spilled and answered in full");
        }
        Err(e) => {
            eprintln!("refused: {e}");
            assert!(matches!(e, QueryError::Memory(_)), "{e}");
        }
    }
    // The engine and its data are untouched either way.
    let unlimited = querier(&engine, &catalog, QueryConfig::default());
    let out = unlimited
        .sql(&bucket, "SELECT count(*) FROM m")
        .await
        .expect("query");
    assert_eq!(count(&out), 20_000);
    engine.shutdown().expect("shutdown");
}

/// Random writes that repeat series and times across flushes: after every step, SQL returns
/// exactly the model of last-write-wins per field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_match_a_last_write_wins_model_through_flushes() {
    use std::collections::BTreeMap;
    let dir = tempfile::tempdir().expect("tempdir");
    let (engine, catalog, bucket) = open(dir.path()).await;
    let q = querier(&engine, &catalog, QueryConfig::default());
    let mut model: BTreeMap<(String, i64), (Option<i64>, Option<i64>)> = BTreeMap::new();
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    // Both columns exist from the start (a query naming an unknown column is an error).
    write(
        &engine,
        &bucket,
        &format!("m,host=h0 a=0i,b=0i {}\n", NOW_NS - 1),
    )
    .await;
    model.insert(("h0".into(), NOW_NS - 1), (Some(0), Some(0)));
    for step in 0..60 {
        if next(4) == 0 {
            engine.flush_now().await.expect("flush");
        } else {
            let mut body = String::new();
            for _ in 0..1 + next(6) {
                let host = format!("h{}", next(3));
                let time = NOW_NS + next(12) as i64 * 1000;
                let (a, b) = match next(3) {
                    0 => (Some(next(100) as i64), None),
                    1 => (None, Some(next(100) as i64)),
                    _ => (Some(next(100) as i64), Some(next(100) as i64)),
                };
                let fields: Vec<String> = [("a", a), ("b", b)]
                    .iter()
                    .filter_map(|(k, v)| v.map(|v| format!("{k}={v}i")))
                    .collect();
                body.push_str(&format!("m,host={host} {} {time}\n", fields.join(",")));
                let e = model.entry((host, time)).or_default();
                e.0 = a.or(e.0);
                e.1 = b.or(e.1);
            }
            write(&engine, &bucket, &body).await;
        }
        let out = q
            .sql(
                &bucket,
                "SELECT host, time, a, b FROM m ORDER BY host, time",
            )
            .await
            .expect("query");
        let mut got = Vec::new();
        for b in &out.batches {
            let host =
                arrow::compute::cast(b.column(0), &arrow::datatypes::DataType::Utf8).expect("cast");
            let host = host.as_string::<i32>();
            let time = b
                .column(1)
                .as_primitive::<arrow::datatypes::TimestampNanosecondType>();
            let a = b.column(2).as_primitive::<Int64Type>();
            let bb = b.column(3).as_primitive::<Int64Type>();
            for r in 0..b.num_rows() {
                let opt = |c: &arrow::array::Int64Array| (!c.is_null(r)).then(|| c.value(r));
                got.push(((host.value(r).to_owned(), time.value(r)), (opt(a), opt(bb))));
            }
        }
        let want: Vec<_> = model.iter().map(|(k, v)| (k.clone(), *v)).collect();
        assert_eq!(got, want, "step {step}, {} files", engine.files().len());
    }
    assert!(engine.files().len() >= 5, "flushes happened");
    engine.shutdown().expect("shutdown");
}
