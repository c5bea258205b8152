//! Any name line protocol can carry is stored: arbitrary valid lines from `lp`'s strategies
//! (measurement names with any UTF-8, spaces, commas, `=`, `/`, `..`, `%`, up to the key
//! limit) are written, partly flushed, the engine crashes and restarts, and every acknowledged
//! point reads back from the Parquet files exactly once.

use std::collections::BTreeMap;
use std::sync::Arc;

use catalog::Catalog;
use engine::{Engine, RejectReason, WriteRequest};
use lp::{FieldValue, Line, Precision};
use proptest::prelude::*;

mod support;

const BASE_NS: i64 = 1_700_000_000_000_000_000;
const HOUR_NS: i64 = 3_600_000_000_000;

async fn open(dir: &std::path::Path) -> (Engine, Arc<Catalog>) {
    support::open(dir, support::config(dir)).await
}

/// One point as text that compares equal however it was stored: measurement, tags and fields
/// sorted by key (floats by bits), time.
fn canonical(
    measurement: &str,
    tags: &BTreeMap<String, String>,
    fields: &BTreeMap<String, String>,
    time: i64,
) -> String {
    format!("{measurement:?} {tags:?} {fields:?} {time}")
}

fn field_text(v: &FieldValue<'_>) -> String {
    match v {
        FieldValue::F64(f) => format!("f{:016x}", f.to_bits()),
        FieldValue::I64(i) => format!("i{i}"),
        FieldValue::U64(u) => format!("u{u}"),
        FieldValue::Bool(b) => format!("b{b}"),
        FieldValue::String(s) => format!("s{s:?}"),
    }
}

fn expected(line: &Line<'_>) -> String {
    let tags = line
        .tags
        .iter()
        .map(|t| (t.key.to_string(), t.value.to_string()))
        .collect();
    let fields = line
        .fields
        .iter()
        .map(|f| (f.key.to_string(), field_text(&f.value)))
        .collect();
    canonical(
        &line.measurement,
        &tags,
        &fields,
        line.timestamp.unwrap_or_default(),
    )
}

/// Every row of every file the manifests name, canonical.
fn stored(dir: &std::path::Path, engine: &Engine) -> Vec<String> {
    let mut out = Vec::new();
    for f in engine.files() {
        let (measurement, batches) = support::read_file(dir, &f);
        assert_eq!(measurement, f.measurement);
        for row in batches.iter().flat_map(support::rows_of) {
            out.push(canonical(&measurement, &row.tags, &row.fields, row.time));
        }
    }
    out
}

/// Writes `lines` (1-based body lines) and returns the canonical form of those acknowledged.
async fn write_lines(engine: &Engine, catalog: &Catalog, lines: &[Line<'static>]) -> Vec<String> {
    let bucket = catalog.resolve_v1("db", "", true).await.expect("bucket");
    let mut body = Vec::new();
    // Rejections name physical lines: a string field may hold a newline.
    let mut first_line = Vec::new();
    for line in lines {
        first_line.push(1 + body.iter().filter(|&&b| b == b'\n').count());
        lp::encode_line(&mut body, line).expect("the strategy draws representable lines");
    }
    let outcome = engine
        .write(WriteRequest {
            bucket: &bucket,
            body: &body,
            precision: Precision::Nanoseconds,
            received_at_ns: BASE_NS,
        })
        .await
        .expect("write");
    for r in &outcome.rejected {
        // Only what 1.x refuses too: a type or tag/field conflict between the drawn lines, a
        // key over the limit, or the reserved name.
        assert!(
            matches!(
                r.reason,
                RejectReason::FieldTypeConflict { .. }
                    | RejectReason::ColumnKindConflict { .. }
                    | RejectReason::ReservedName { .. }
                    | RejectReason::Parse(lp::ErrorKind::KeyTooLong { .. })
            ),
            "{}",
            r.reason
        );
    }
    let rejected: std::collections::HashSet<usize> =
        outcome.rejected.iter().map(|r| r.line).collect();
    lines
        .iter()
        .enumerate()
        .filter(|(i, _)| !rejected.contains(&first_line[*i]))
        .map(|(_, l)| expected(l))
        .collect()
}

fn lines() -> impl Strategy<Value = Vec<Line<'static>>> {
    proptest::collection::vec(
        lp::test_helpers::line_named(lp::test_helpers::measurement()),
        1..12,
    )
    .prop_map(|mut lines| {
        // Distinct times (an hour apart, so several days and files) keep every point its
        // own row; merging is tested elsewhere.
        for (i, l) in lines.iter_mut().enumerate() {
            l.timestamp = Some(BASE_NS + i as i64 * HOUR_NS);
        }
        lines
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn any_valid_line_is_stored_once(first in lines(), second in lines()) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let dir = tempfile::tempdir().expect("tempdir");
            let mut want = Vec::new();
            {
                let (engine, catalog) = open(dir.path()).await;
                want.extend(write_lines(&engine, &catalog, &first).await);
                engine.flush_now().await.expect("flush");
                let second: Vec<_> = second
                    .into_iter()
                    .map(|mut l| {
                        l.timestamp = l.timestamp.map(|t| t + 1_000);
                        l
                    })
                    .collect();
                want.extend(write_lines(&engine, &catalog, &second).await);
                assert!(engine.flush_problems().is_empty(), "{:?}", engine.flush_problems());
                // Crash: the second write is only in the WAL.
                drop(engine);
            }
            let (engine, _) = open(dir.path()).await;
            engine.flush_now().await.expect("flush");
            assert!(engine.flush_problems().is_empty(), "{:?}", engine.flush_problems());
            assert!(engine.is_healthy());
            engine.shutdown().expect("shutdown");
            let (engine, _) = open(dir.path()).await;
            let mut got = stored(dir.path(), &engine);
            engine.shutdown().expect("shutdown");
            got.sort();
            want.sort();
            let missing: Vec<_> = want.iter().filter(|w| !got.contains(w)).collect();
            let extra: Vec<_> = got.iter().filter(|g| !want.contains(g)).collect();
            assert!(missing.is_empty() && extra.is_empty(), "missing {missing:#?}\nextra {extra:#?}");
            assert_eq!(got, want, "every point exactly once");
        });
    }
}
