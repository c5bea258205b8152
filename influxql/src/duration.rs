//! Duration literals (`10s`, `1h30m`, `100ms`, `10u`, `10µ`, `5ns`, `1d`, `2w`) to and from
//! nanoseconds, with 1.x's rules and its arithmetic: segments add up with wrapping `i64`
//! arithmetic and only a result that wrapped negative is refused.

use std::fmt;

/// A duration in nanoseconds, as 1.x keeps it (`time.Duration`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(pub i64);

const NS: i64 = 1;
const US: i64 = 1_000;
const MS: i64 = 1_000_000;
const S: i64 = 1_000_000_000;
const M: i64 = 60 * S;
const H: i64 = 60 * M;
const D: i64 = 24 * H;
const W: i64 = 7 * D;

/// Why a duration literal was refused; `Display` is 1.x's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DurationError {
    /// Not a duration (`invalid duration`).
    Invalid,
    /// The sum overflowed to a negative value.
    Overflow {
        /// The last segment's number.
        measure: i64,
        /// The last segment's unit.
        unit: String,
    },
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DurationError::Invalid => f.write_str("invalid duration"),
            DurationError::Overflow { measure, unit } => write!(
                f,
                "overflowed duration {measure}{unit}: choose a smaller duration or INF"
            ),
        }
    }
}

impl std::error::Error for DurationError {}

/// Parses a duration literal such as `1h30m` or (from a bound parameter) `-5m`.
pub fn parse_duration(s: &str) -> Result<Duration, DurationError> {
    if s.len() < 2 {
        return Err(DurationError::Invalid);
    }
    let a: Vec<char> = s.chars().collect();
    let mut i = 0;
    let negative = a.first() == Some(&'-');
    if negative {
        i += 1;
    }
    let mut d: i64 = 0;
    let mut measure = 0;
    let mut unit = String::new();
    while i < a.len() {
        let start = i;
        while a.get(i).is_some_and(char::is_ascii_digit) {
            i += 1;
        }
        if i >= a.len() || i == start {
            return Err(DurationError::Invalid);
        }
        let digits: String = a.get(start..i).unwrap_or_default().iter().collect();
        let n: i64 = digits.parse().map_err(|_| DurationError::Invalid)?;
        measure = n;
        let c = a.get(i).copied().unwrap_or('\0');
        let next_is_s = a.get(i + 1) == Some(&'s');
        let (scale, width) = match c {
            'n' if next_is_s => (NS, 2),
            'n' => return Err(DurationError::Invalid),
            'u' | 'µ' => (US, 1),
            'm' if next_is_s => (MS, 2),
            'm' => (M, 1),
            's' => (S, 1),
            'h' => (H, 1),
            'd' => (D, 1),
            'w' => (W, 1),
            _ => return Err(DurationError::Invalid),
        };
        unit = a.get(i..i + width).unwrap_or_default().iter().collect();
        d = d.wrapping_add(n.wrapping_mul(scale));
        i += width;
    }
    if d < 0 && !negative {
        return Err(DurationError::Overflow { measure, unit });
    }
    Ok(Duration(if negative { d.wrapping_neg() } else { d }))
}

impl fmt::Display for Duration {
    /// The largest unit that divides the value exactly, as 1.x prints durations.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d == 0 {
            return f.write_str("0s");
        }
        for (scale, unit) in [
            (W, "w"),
            (D, "d"),
            (H, "h"),
            (M, "m"),
            (S, "s"),
            (MS, "ms"),
            (US, "u"),
        ] {
            if d % scale == 0 {
                return write!(f, "{}{unit}", d / scale);
            }
        }
        write!(f, "{d}ns")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        for (s, ns) in [
            ("10ns", 10),
            ("10u", 10_000),
            ("10µ", 10_000),
            ("100ms", 100 * MS),
            ("5m", 5 * M),
            ("10s", 10 * S),
            ("1h", H),
            ("1d", D),
            ("1w", W),
            ("1h30m", H + 30 * M),
            ("-5m", -5 * M),
        ] {
            assert_eq!(parse_duration(s), Ok(Duration(ns)), "{s}");
        }
    }

    #[test]
    fn invalid() {
        for s in ["1", "s", "1x", "10µs", "1n", "1e5", "1h3"] {
            assert_eq!(parse_duration(s), Err(DurationError::Invalid), "{s}");
        }
        assert_eq!(
            parse_duration("106752d").map_err(|e| e.to_string()),
            Err("overflowed duration 106752d: choose a smaller duration or INF".to_string())
        );
    }

    #[test]
    fn formats_with_the_largest_exact_unit() {
        for (ns, s) in [
            (0, "0s"),
            (W, "1w"),
            (2 * D, "2d"),
            (90 * M, "90m"),
            (1500 * MS, "1500ms"),
            (-5 * M, "-5m"),
            (7, "7ns"),
            (3 * US, "3u"),
        ] {
            assert_eq!(Duration(ns).to_string(), s);
        }
    }
}
