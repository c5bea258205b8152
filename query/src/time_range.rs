//! The time range a query's filters allow, to take a snapshot of only the files that can hold
//! matching rows. Only conjunctions of comparisons of `time` with constants narrow it; anything
//! else leaves it open (DataFusion still applies every filter above the scan).

use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Between, BinaryExpr, Expr, Operator};

/// Inclusive nanosecond bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeRange {
    pub(crate) min_ns: i64,
    pub(crate) max_ns: i64,
}

impl Default for TimeRange {
    fn default() -> Self {
        TimeRange {
            min_ns: i64::MIN,
            max_ns: i64::MAX,
        }
    }
}

impl TimeRange {
    /// The range every one of `filters` (ANDed) allows.
    pub(crate) fn of(filters: &[Expr], time: &str) -> TimeRange {
        let mut r = TimeRange::default();
        for f in filters {
            r.narrow(f, time);
        }
        r
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.min_ns > self.max_ns
    }

    fn narrow(&mut self, e: &Expr, time: &str) {
        match e {
            Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
                if *op == Operator::And {
                    self.narrow(left, time);
                    self.narrow(right, time);
                    return;
                }
                let (op, value) = match (is_time(left, time), is_time(right, time)) {
                    (true, false) => (*op, nanos(right)),
                    (false, true) => match op.swap() {
                        Some(op) => (op, nanos(left)),
                        None => return,
                    },
                    _ => return,
                };
                let Some(v) = value else { return };
                match op {
                    Operator::Eq => {
                        self.min_ns = self.min_ns.max(v);
                        self.max_ns = self.max_ns.min(v);
                    }
                    Operator::Gt => self.min_ns = self.min_ns.max(v.saturating_add(1)),
                    Operator::GtEq => self.min_ns = self.min_ns.max(v),
                    Operator::Lt => self.max_ns = self.max_ns.min(v.saturating_sub(1)),
                    Operator::LtEq => self.max_ns = self.max_ns.min(v),
                    _ => {}
                }
            }
            Expr::Between(Between {
                expr,
                negated: false,
                low,
                high,
            }) if is_time(expr, time) => {
                if let Some(v) = nanos(low) {
                    self.min_ns = self.min_ns.max(v);
                }
                if let Some(v) = nanos(high) {
                    self.max_ns = self.max_ns.min(v);
                }
            }
            _ => {}
        }
    }
}

fn is_time(e: &Expr, time: &str) -> bool {
    matches!(e, Expr::Column(c) if c.name == time)
}

/// A timestamp constant in nanoseconds (saturating), if `e` is one.
fn nanos(e: &Expr) -> Option<i64> {
    let Expr::Literal(v, _) = e else { return None };
    match v {
        ScalarValue::TimestampNanosecond(Some(v), _) => Some(*v),
        ScalarValue::TimestampMicrosecond(Some(v), _) => Some(v.saturating_mul(1_000)),
        ScalarValue::TimestampMillisecond(Some(v), _) => Some(v.saturating_mul(1_000_000)),
        ScalarValue::TimestampSecond(Some(v), _) => Some(v.saturating_mul(1_000_000_000)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::{col, lit};

    fn ts(v: i64) -> Expr {
        lit(ScalarValue::TimestampNanosecond(
            Some(v),
            Some("UTC".into()),
        ))
    }

    #[test]
    fn comparisons_and_conjunctions_narrow_it() {
        let f = col("time").gt_eq(ts(10)).and(col("time").lt(ts(20)));
        assert_eq!(
            TimeRange::of(&[f], "time"),
            TimeRange {
                min_ns: 10,
                max_ns: 19
            }
        );
        let flipped = ts(5).lt(col("time"));
        assert_eq!(TimeRange::of(&[flipped], "time").min_ns, 6);
        let seconds = col("time").lt_eq(lit(ScalarValue::TimestampSecond(Some(2), None)));
        assert_eq!(TimeRange::of(&[seconds], "time").max_ns, 2_000_000_000);
    }

    #[test]
    fn anything_else_leaves_it_open() {
        let or = col("time").gt(ts(10)).or(col("host").eq(lit("a")));
        assert_eq!(TimeRange::of(&[or], "time"), TimeRange::default());
        let other = col("usage").gt(lit(1.0));
        assert_eq!(TimeRange::of(&[other], "time"), TimeRange::default());
        let contradiction = col("time").gt(ts(10)).and(col("time").lt(ts(5)));
        assert!(TimeRange::of(&[contradiction], "time").is_empty());
    }
}
