//! `lp` against `influxdb-line-protocol` on the same bytes, interleaved pass by pass so that a
//! noisy, shared machine slows both alike: the ratio is the robust figure, the MiB/s are
//! whatever the machine gave at that moment. Complements `cargo bench --bench parse` (which
//! runs each side for seconds at a time, so neighbours' load can favour either).
//!
//! `cargo run --release -p strata-benches --example parse_compare [rounds]`

use std::time::{Duration, Instant};

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

/// Walks every field value, as the criterion bench does (the reference parses lazily).
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

fn timed(f: impl FnOnce() -> usize) -> (Duration, usize) {
    let t = Instant::now();
    let n = std::hint::black_box(f());
    (t.elapsed(), n)
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|r| r.parse().ok())
        .unwrap_or(15);
    println!("| corpus | lp MiB/s | lp lines/s | reference MiB/s | ratio (median of {rounds} rounds) | min–max ratio |");
    println!("|---|---|---|---|---|---|");
    for corpus in Corpus::ALL {
        let series = if corpus == Corpus::HighCardinality {
            1_000_000
        } else {
            10_000
        };
        let body = generate(corpus, CORPUS_BYTES, series, 1);
        let text = std::str::from_utf8(&body).expect("generated corpora are UTF-8");
        let lines = body.iter().filter(|&&b| b == b'\n').count();
        // Warm both (page faults, caches, branch predictors).
        parse_lp(&body);
        parse_reference(text);
        let (mut ours, mut theirs, mut ratios) = (Duration::ZERO, Duration::ZERO, Vec::new());
        for _ in 0..rounds {
            let (a, _) = timed(|| parse_lp(&body));
            let (b, _) = timed(|| parse_reference(text));
            ours += a;
            theirs += b;
            ratios.push(b.as_secs_f64() / a.as_secs_f64());
        }
        ratios.sort_by(f64::total_cmp);
        let mib = |d: Duration| body.len() as f64 * rounds as f64 / d.as_secs_f64() / 1048576.0;
        println!(
            "| {} | {:.1} | {:.2} M | {:.1} | **{:.2}×** | {:.2}–{:.2} |",
            corpus.name(),
            mib(ours),
            lines as f64 * rounds as f64 / ours.as_secs_f64() / 1e6,
            mib(theirs),
            ratios[ratios.len() / 2],
            ratios[0],
            ratios[ratios.len() - 1]
        );
    }
}
