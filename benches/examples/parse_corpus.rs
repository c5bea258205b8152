//! Parses one generated corpus: a fixed workload for `valgrind --tool=callgrind`, whose
//! instruction counts repeat exactly on this noisy machine, and (with a repeat count) a quick
//! throughput figure without criterion's build.
//!
//! `cargo build --release -p strata-benches --example parse_corpus`
//! `valgrind --tool=callgrind --toggle-collect='parse_corpus::parse' target/release/examples/parse_corpus telegraf`
//! `target/release/examples/parse_corpus telegraf 200` (parses it 200 times, prints MiB/s)

use std::time::Instant;

use lp::{Line, ParseOptions, Parser};
use strata_benches::{generate, Corpus};

fn main() {
    let name = std::env::args().nth(1).unwrap_or_else(|| "telegraf".into());
    let repeat: u32 = std::env::args()
        .nth(2)
        .and_then(|r| r.parse().ok())
        .unwrap_or(1);
    let corpus = Corpus::ALL
        .into_iter()
        .find(|c| c.name() == name)
        .unwrap_or_else(|| panic!("unknown corpus {name}"));
    let series = if corpus == Corpus::HighCardinality {
        1_000_000
    } else {
        10_000
    };
    let body = generate(corpus, 2 * 1024 * 1024, series, 1);
    let started = Instant::now();
    let (mut lines, mut fields) = (0, 0);
    for _ in 0..repeat {
        (lines, fields) = parse(&body);
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{}: {} bytes, {lines} lines, {fields} fields; {:.1} MiB/s over {repeat} passes",
        corpus.name(),
        body.len(),
        body.len() as f64 * f64::from(repeat) / secs / 1048576.0
    );
}

#[inline(never)]
fn parse(body: &[u8]) -> (usize, usize) {
    let mut parser = Parser::new(body, ParseOptions::default());
    let mut line = Line::default();
    let (mut lines, mut fields) = (0, 0);
    while let Some(r) = parser.next_into(&mut line) {
        lines += usize::from(r.is_ok());
        fields += line.fields.len();
    }
    (lines, fields)
}
