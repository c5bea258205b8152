//! Parses one generated corpus once: a fixed workload for `valgrind --tool=callgrind`, whose
//! instruction counts repeat exactly on this noisy machine.
//!
//! `cargo build --release -p strata-benches --example parse_corpus`
//! `valgrind --tool=callgrind target/release/examples/parse_corpus telegraf`

use lp::{Line, ParseOptions, Parser};
use strata_benches::{generate, Corpus};

fn main() {
    let name = std::env::args().nth(1).unwrap_or_else(|| "telegraf".into());
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
    let (lines, fields) = parse(&body);
    println!(
        "{}: {} bytes, {lines} lines, {fields} fields",
        corpus.name(),
        body.len()
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
