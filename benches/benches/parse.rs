//! Line-protocol parsing throughput: our `lp` against the `influxdb-line-protocol` crate (the
//! parser of InfluxDB 2.x/3.x) on the same bytes. `cargo bench -p strata-benches --bench parse`.
//!
//! Fairness: `lp` takes raw bytes and validates UTF-8 inside the timed loop; the reference takes
//! a `&str`, so its UTF-8 check is done once outside the loop. Both produce every field value
//! (the reference parses numbers lazily, so we walk its fields and convert them).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use lp::{Line, ParseOptions, Parser};
use strata_benches::{generate, Corpus};

const CORPUS_BYTES: usize = 10 * 1024 * 1024;

fn parse_lp(body: &[u8]) -> usize {
    let mut parser = Parser::new(body, ParseOptions::default());
    let mut line = Line::default();
    let mut n = 0;
    while let Some(r) = parser.next_into(&mut line) {
        n += usize::from(r.is_ok()) + line.fields.len();
    }
    n
}

fn parse_reference(body: &str) -> usize {
    use influxdb_line_protocol::FieldValue as F;
    let mut n = 0;
    for line in influxdb_line_protocol::parse_lines(body) {
        let Ok(line) = line else { continue };
        n += 1;
        for (_, v) in &line.field_set {
            n += match v {
                F::F64(x) => usize::from(*x > 0.0),
                F::I64(x) => usize::from(*x > 0),
                F::U64(x) => usize::from(*x > 0),
                F::String(s) => usize::from(!s.is_empty()),
                F::Boolean(b) => usize::from(*b),
            };
        }
        n += usize::from(line.timestamp.is_some());
    }
    n
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    group.sample_size(10);
    for corpus in Corpus::ALL {
        let series = if corpus == Corpus::HighCardinality {
            1_000_000
        } else {
            10_000
        };
        let body = generate(corpus, CORPUS_BYTES, series, 1);
        let lines = body.iter().filter(|&&b| b == b'\n').count();
        eprintln!(
            "corpus {}: {} bytes, {lines} lines",
            corpus.name(),
            body.len()
        );
        let text = std::str::from_utf8(&body).expect("generated corpora are UTF-8");
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(BenchmarkId::new("lp", corpus.name()), &body, |b, body| {
            b.iter(|| parse_lp(body))
        });
        group.bench_with_input(
            BenchmarkId::new("influxdb_line_protocol", corpus.name()),
            text,
            |b, text| b.iter(|| parse_reference(text)),
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
