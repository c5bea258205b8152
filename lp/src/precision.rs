use std::fmt;
use std::str::FromStr;

/// The unit of timestamps in a request body (`precision=` in the v1 API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// `ns` or `n` (the default).
    #[default]
    Nanoseconds,
    /// `us`, `u` or `µ`.
    Microseconds,
    /// `ms`.
    Milliseconds,
    /// `s`.
    Seconds,
    /// `m`.
    Minutes,
    /// `h`.
    Hours,
}

/// The smallest timestamp InfluxDB 1.x can represent (`models.MinNanoTime`).
pub const MIN_NANOS: i64 = i64::MIN + 2;
/// The largest timestamp InfluxDB 1.x can represent (`models.MaxNanoTime`).
pub const MAX_NANOS: i64 = i64::MAX - 1;

impl Precision {
    /// Nanoseconds per unit.
    pub fn nanos_per_unit(self) -> i64 {
        match self {
            Precision::Nanoseconds => 1,
            Precision::Microseconds => 1_000,
            Precision::Milliseconds => 1_000_000,
            Precision::Seconds => 1_000_000_000,
            Precision::Minutes => 60 * 1_000_000_000,
            Precision::Hours => 3_600 * 1_000_000_000,
        }
    }

    /// Scales a timestamp in this unit to nanoseconds; `None` when the result leaves the range
    /// 1.x can represent.
    pub fn to_nanos(self, ts: i64) -> Option<i64> {
        let ns = ts.checked_mul(self.nanos_per_unit())?;
        (MIN_NANOS..=MAX_NANOS).contains(&ns).then_some(ns)
    }

    /// Truncates a nanosecond timestamp to this unit (still in nanoseconds), as 1.x does for the
    /// receive time of lines without a timestamp.
    pub fn truncate_nanos(self, ns: i64) -> i64 {
        let unit = self.nanos_per_unit();
        ns - ns.rem_euclid(unit)
    }

    /// The canonical query-string spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::Nanoseconds => "ns",
            Precision::Microseconds => "us",
            Precision::Milliseconds => "ms",
            Precision::Seconds => "s",
            Precision::Minutes => "m",
            Precision::Hours => "h",
        }
    }
}

/// An unknown `precision` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownPrecision(pub String);

impl fmt::Display for UnknownPrecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid precision {:?} (use one of ns, n, us, u, µ, ms, s, m, h)",
            self.0
        )
    }
}

impl std::error::Error for UnknownPrecision {}

impl FromStr for Precision {
    type Err = UnknownPrecision;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "" | "ns" | "n" => Precision::Nanoseconds,
            "us" | "u" | "µ" | "µs" => Precision::Microseconds,
            "ms" => Precision::Milliseconds,
            "s" => Precision::Seconds,
            "m" => Precision::Minutes,
            "h" => Precision::Hours,
            other => return Err(UnknownPrecision(other.to_owned())),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings() {
        for (s, p) in [
            ("", Precision::Nanoseconds),
            ("n", Precision::Nanoseconds),
            ("ns", Precision::Nanoseconds),
            ("u", Precision::Microseconds),
            ("us", Precision::Microseconds),
            ("µ", Precision::Microseconds),
            ("ms", Precision::Milliseconds),
            ("s", Precision::Seconds),
            ("m", Precision::Minutes),
            ("h", Precision::Hours),
        ] {
            assert_eq!(s.parse::<Precision>(), Ok(p), "{s}");
        }
        assert_eq!(
            "x".parse::<Precision>(),
            Err(UnknownPrecision("x".to_owned()))
        );
    }

    #[test]
    fn scaling_and_overflow() {
        assert_eq!(Precision::Hours.to_nanos(1), Some(3_600_000_000_000));
        assert_eq!(Precision::Seconds.to_nanos(-2), Some(-2_000_000_000));
        assert_eq!(Precision::Seconds.to_nanos(9_300_000_000), None);
        assert_eq!(Precision::Nanoseconds.to_nanos(i64::MAX), None);
        assert_eq!(Precision::Nanoseconds.to_nanos(i64::MIN + 1), None);
        assert_eq!(Precision::Nanoseconds.to_nanos(MIN_NANOS), Some(MIN_NANOS));
    }

    #[test]
    fn truncation() {
        assert_eq!(
            Precision::Seconds.truncate_nanos(1_999_999_999),
            1_000_000_000
        );
        assert_eq!(Precision::Seconds.truncate_nanos(-1), -1_000_000_000);
        assert_eq!(Precision::Nanoseconds.truncate_nanos(7), 7);
    }
}
