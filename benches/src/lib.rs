//! Deterministic line-protocol corpora for benchmarks and the load generator. Same seed, same
//! bytes: results compare across runs and machines.

use std::borrow::Cow;

pub mod http;

use lp::{encode_line, FieldValue, Line};

/// A small, fast, deterministic PRNG (SplitMix64): benchmarks need repeatable data, not
/// cryptographic randomness.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// A float in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Which shape of data to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Corpus {
    /// Telegraf-like `cpu`/`mem`/`disk` lines: 5 tags, 10 float/int fields.
    Telegraf,
    /// Many series: 5 tags with short values drawn from a large space, 2 fields.
    HighCardinality,
    /// String fields with quotes, backslashes and escaped tag values.
    StringHeavy,
}

impl Corpus {
    /// All corpora, in report order.
    pub const ALL: [Corpus; 3] = [
        Corpus::Telegraf,
        Corpus::HighCardinality,
        Corpus::StringHeavy,
    ];

    /// Short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Corpus::Telegraf => "telegraf",
            Corpus::HighCardinality => "high_cardinality",
            Corpus::StringHeavy => "string_heavy",
        }
    }
}

const MEASUREMENTS: [&str; 3] = ["cpu", "mem", "disk"];
const TELEGRAF_FIELDS: [&str; 10] = [
    "usage_user",
    "usage_system",
    "usage_idle",
    "usage_iowait",
    "usage_irq",
    "usage_softirq",
    "usage_steal",
    "usage_guest",
    "uptime",
    "n_processes",
];

/// One point of `corpus` number `i` (timestamps advance 10 s per point, from 2023-11-14).
pub fn point(corpus: Corpus, rng: &mut SplitMix64, i: u64, series: u64) -> Line<'static> {
    let ts = 1_700_000_000_000_000_000 + i as i64 * 10_000_000_000;
    let s = rng.below(series);
    match corpus {
        Corpus::Telegraf => {
            let mut line = Line::new(MEASUREMENTS[(s % 3) as usize])
                .tag("cpu", format!("cpu{}", s % 8))
                .tag("datacenter", format!("dc-{}", s % 4))
                .tag("host", format!("host-{s}"))
                .tag("os", "linux")
                .tag("rack", format!("r{}", s % 16));
            for (k, name) in TELEGRAF_FIELDS.iter().enumerate() {
                let value = if k < 8 {
                    FieldValue::F64((rng.unit() * 10_000.0).round() / 100.0)
                } else {
                    FieldValue::I64(rng.below(1_000_000) as i64)
                };
                line = line.field(*name, value);
            }
            line.at(ts)
        }
        Corpus::HighCardinality => Line::new("hc")
            .tag("a", format!("{:x}", s % 97))
            .tag("b", format!("{:x}", s % 1009))
            .tag("c", format!("{:x}", s))
            .tag("d", format!("{:x}", s.wrapping_mul(31) % 10_007))
            .tag("e", "x")
            .field("v", FieldValue::F64(rng.unit()))
            .field("n", FieldValue::I64(rng.below(100) as i64))
            .at(ts),
        Corpus::StringHeavy => {
            let n = rng.below(40) as usize + 8;
            let mut msg = String::with_capacity(n + 16);
            for j in 0..n {
                msg.push(match rng.below(16) {
                    0 => '"',
                    1 => '\\',
                    2 => ' ',
                    3 => ',',
                    _ => char::from(b'a' + (j % 26) as u8),
                });
            }
            Line::new("logs")
                .tag("app", format!("svc {}", s % 10))
                .tag("host", format!("host,{s}"))
                .tag("level", ["info", "warn", "error"][(s % 3) as usize])
                .field("message", FieldValue::String(Cow::Owned(msg)))
                .field("code", FieldValue::I64(rng.below(600) as i64))
                .at(ts)
        }
    }
}

/// At least `min_bytes` of `corpus` (whole lines), with `series` distinct series, from `seed`.
pub fn generate(corpus: Corpus, min_bytes: usize, series: u64, seed: u64) -> Vec<u8> {
    let mut rng = SplitMix64::new(seed);
    let mut out = Vec::with_capacity(min_bytes + 1024);
    let mut i = 0;
    while out.len() < min_bytes {
        let mut line = point(corpus, &mut rng, i, series);
        line.sort_tags();
        // Generated names and values are all representable; a failure would be a generator bug.
        encode_line(&mut out, &line).unwrap_or_else(|e| panic!("generator produced {e}"));
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_parseable() {
        for corpus in Corpus::ALL {
            let a = generate(corpus, 50_000, 1000, 42);
            assert_eq!(a, generate(corpus, 50_000, 1000, 42));
            assert_ne!(a, generate(corpus, 50_000, 1000, 43));
            let mut n = 0;
            for line in lp::Parser::new(&a, lp::ParseOptions::default()) {
                let line = line.unwrap_or_else(|e| panic!("{}: {e}", corpus.name()));
                assert!(!line.fields.is_empty());
                n += 1;
            }
            assert_eq!(n, a.iter().filter(|&&b| b == b'\n').count());
        }
    }
}
