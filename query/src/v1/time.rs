//! Time in InfluxQL conditions: `time > now() - 1h`, RFC3339 strings, integers (ns), duration
//! literals (`1700000000000ms`, as Grafana writes epochs) — as instants, and the range the
//! top-level `AND` terms on `time` bound.

use influxql::{BinaryOp, Expr};

/// The smallest and largest time a statement reads (ns, inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Range {
    pub(super) min: Option<i64>,
    pub(super) max: Option<i64>,
}

impl Range {
    /// This range narrowed to `outer`.
    pub(super) fn within(self, outer: Range) -> Range {
        let pick = |a: Option<i64>, b: Option<i64>, f: fn(i64, i64) -> i64| match (a, b) {
            (Some(a), Some(b)) => Some(f(a, b)),
            (a, b) => a.or(b),
        };
        Range {
            min: pick(self.min, outer.min, i64::max),
            max: pick(self.max, outer.max, i64::min),
        }
    }
}

/// Whether `e` names the time column.
pub(super) fn is_time(e: &Expr) -> bool {
    matches!(e, Expr::VarRef { name, .. } if name.eq_ignore_ascii_case("time"))
}

/// The instant a time literal stands for; `now` is the statement's `now()`.
pub(super) fn instant(e: &Expr, now: i64) -> Result<i64, String> {
    match e {
        Expr::Paren(e) => instant(e, now),
        Expr::Integer(i) => Ok(*i),
        Expr::Number(f) if f.is_finite() => Ok(*f as i64),
        Expr::Duration(d) => Ok(d.0),
        Expr::String(s) => parse_rfc3339(s),
        Expr::Call { name, args } if name == "now" && args.is_empty() => Ok(now),
        Expr::Binary { op, lhs, rhs } if matches!(op, BinaryOp::Add | BinaryOp::Sub) => {
            let (l, r) = (instant(lhs, now)?, instant(rhs, now)?);
            let v = match op {
                BinaryOp::Add => l.checked_add(r),
                _ => l.checked_sub(r),
            };
            v.ok_or_else(|| "time overflows".to_owned())
        }
        _ => Err(format!("invalid time expression: {e}")),
    }
}

/// An RFC3339 time (`2016-05-19T18:37:55Z`, with fractions or an offset) or a date-time as 1.x
/// takes it (`2016-05-19 18:37:55`, `2016-05-19`), in ns.
pub(super) fn parse_rfc3339(s: &str) -> Result<i64, String> {
    arrow::compute::kernels::cast_utils::string_to_timestamp_nanos(s)
        .or_else(|_| {
            arrow::compute::kernels::cast_utils::string_to_timestamp_nanos(&format!(
                "{s}T00:00:00Z"
            ))
        })
        .map_err(|_| format!("invalid time string: {s:?}"))
}

/// The range the `AND`-joined terms of `cond` on `time` allow (terms under an `OR` do not
/// narrow it; the condition itself still filters every row).
pub(super) fn range(cond: Option<&Expr>, now: i64) -> Result<Range, String> {
    let mut r = Range {
        min: None,
        max: None,
    };
    if let Some(c) = cond {
        narrow(c, now, &mut r)?;
    }
    Ok(r)
}

fn narrow(e: &Expr, now: i64, r: &mut Range) -> Result<(), String> {
    let Expr::Binary { op, lhs, rhs } = e else {
        if let Expr::Paren(inner) = e {
            return narrow(inner, now, r);
        }
        return Ok(());
    };
    if *op == BinaryOp::And {
        narrow(lhs, now, r)?;
        return narrow(rhs, now, r);
    }
    let (op, value) = match (is_time(lhs), is_time(rhs)) {
        (true, _) => (*op, instant(rhs, now)?),
        (_, true) => (flip(*op), instant(lhs, now)?),
        _ => return Ok(()),
    };
    let raise = |m: &mut Option<i64>, v: i64| *m = Some(m.map_or(v, |x| x.max(v)));
    let lower = |m: &mut Option<i64>, v: i64| *m = Some(m.map_or(v, |x| x.min(v)));
    match op {
        BinaryOp::Gt => raise(&mut r.min, value.saturating_add(1)),
        BinaryOp::Gte => raise(&mut r.min, value),
        BinaryOp::Lt => lower(&mut r.max, value.saturating_sub(1)),
        BinaryOp::Lte => lower(&mut r.max, value),
        BinaryOp::Eq => {
            raise(&mut r.min, value);
            lower(&mut r.max, value);
        }
        _ => return Err(format!("invalid time comparison operator: {}", op.as_str())),
    }
    Ok(())
}

/// `a op b` as `b op' a`.
pub(super) fn flip(op: BinaryOp) -> BinaryOp {
    match op {
        BinaryOp::Gt => BinaryOp::Lt,
        BinaryOp::Gte => BinaryOp::Lte,
        BinaryOp::Lt => BinaryOp::Gt,
        BinaryOp::Lte => BinaryOp::Gte,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cond(text: &str) -> Expr {
        match influxql::parse_statement(&format!("SELECT v FROM m WHERE {text}")).expect("parses") {
            influxql::Statement::Select(s) => s.condition.expect("condition"),
            _ => unreachable!(),
        }
    }

    #[test]
    fn ranges_from_conditions() {
        let now = 10_000_000_000_000;
        let r = |t: &str| range(Some(&cond(t)), now).expect("range");
        assert_eq!(
            r("time >= 1700000000000ms and time <= 1700003600000ms"),
            Range {
                min: Some(1_700_000_000_000_000_000),
                max: Some(1_700_003_600_000_000_000)
            }
        );
        assert_eq!(
            r("time > now() - 1h"),
            Range {
                min: Some(now - 3_600_000_000_000 + 1),
                max: None
            }
        );
        assert_eq!(
            r("host = 'a' AND time < '2016-05-19T18:37:55Z'"),
            Range {
                min: None,
                max: Some(1_463_683_075_000_000_000 - 1)
            }
        );
        assert_eq!(
            r("time = 5 OR host = 'a'"),
            Range {
                min: None,
                max: None
            }
        );
        assert_eq!(
            r("10 < time"),
            Range {
                min: Some(11),
                max: None
            }
        );
        assert_eq!(parse_rfc3339("2016-05-19"), Ok(1_463_616_000_000_000_000));
        assert!(range(Some(&cond("time > 'yesterday'")), now).is_err());
    }
}
