//! The functions evaluated over a series' points in order rather than planned onto DataFusion:
//! transformations (`derivative`, `difference`, `moving_average`, …), which map a series to a
//! series, and the reducers that need every point of a window at once (`percentile`, `mode`,
//! `distinct`, `top`, `bottom`, `integral`). Semantics are 1.x's.

use influxql::Expr;

use super::result::Value;

const TRANSFORMS: &[&str] = &[
    "derivative",
    "non_negative_derivative",
    "difference",
    "non_negative_difference",
    "moving_average",
    "cumulative_sum",
    "elapsed",
];

const REDUCERS: &[&str] = &[
    "percentile",
    "mode",
    "distinct",
    "top",
    "bottom",
    "integral",
];

const SECOND: i64 = 1_000_000_000;

/// Whether `name` is one of this module's functions.
pub(super) fn is_known(name: &str) -> bool {
    TRANSFORMS.contains(&name) || REDUCERS.contains(&name)
}

/// A transformation of a series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Transform {
    /// Rate of change per `unit` ns; negative rates dropped when `non_negative`.
    Derivative { unit: i64, non_negative: bool },
    /// Change from the previous value; negative changes dropped when `non_negative`.
    Difference { non_negative: bool },
    /// Mean of the last `n` values.
    MovingAverage(usize),
    /// Running sum.
    CumulativeSum,
    /// Time since the previous point, in `unit` ns.
    Elapsed(i64),
}

/// `e` split into its outer transformation (if any) and what it transforms. `window` is the
/// `GROUP BY time` interval: a transformation of an aggregate needs one, of a raw field must not
/// have one.
pub(super) fn transform(
    e: &Expr,
    window: Option<i64>,
) -> Result<(Option<Transform>, Expr), String> {
    let Expr::Call { name, args } = e else {
        return Ok((None, e.clone()));
    };
    if !TRANSFORMS.contains(&name.as_str()) {
        return Ok((None, e.clone()));
    }
    let (min, max) = match name.as_str() {
        "moving_average" => (2, 2),
        "cumulative_sum" => (1, 1),
        _ => (1, 2),
    };
    if args.len() < min || args.len() > max {
        let expected = match min == max {
            true => format!("{min}"),
            false => format!("{min} or {max}"),
        };
        return Err(format!(
            "invalid number of arguments for {name}, expected {expected}, got {}",
            args.len()
        ));
    }
    let inner = args[0].clone();
    let aggregated = super::fields::has_call(&inner);
    match (aggregated, window) {
        (false, Some(_)) => {
            return Err(format!(
                "aggregate function required inside the call to {name}"
            ))
        }
        (true, None) => return Err(format!("{name} aggregate requires a GROUP BY interval")),
        _ => {}
    }
    if !aggregated && !matches!(inner, Expr::VarRef { .. }) {
        return Err(format!("expected field argument in {name}()"));
    }
    let duration = |default: i64| -> Result<i64, String> {
        match args.get(1) {
            None => Ok(default),
            Some(Expr::Duration(d)) if d.0 > 0 => Ok(d.0),
            Some(_) => Err(format!(
                "second argument to {name} must be a positive duration"
            )),
        }
    };
    let t = match name.as_str() {
        "derivative" | "non_negative_derivative" => Transform::Derivative {
            unit: duration(window.unwrap_or(SECOND))?,
            non_negative: name.starts_with("non_"),
        },
        "difference" | "non_negative_difference" => {
            if args.len() > 1 {
                return Err(format!(
                    "invalid number of arguments for {name}, expected 1, got {}",
                    args.len()
                ));
            }
            Transform::Difference {
                non_negative: name.starts_with("non_"),
            }
        }
        "moving_average" => match args.get(1) {
            Some(Expr::Integer(n)) if *n > 1 => Transform::MovingAverage(*n as usize),
            _ => return Err("moving_average window must be greater than 1".into()),
        },
        "cumulative_sum" => Transform::CumulativeSum,
        _ => Transform::Elapsed(duration(1)?),
    };
    Ok((Some(t), inner))
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Float(f) => Some(*f),
        Value::Integer(i) => Some(*i as f64),
        Value::Unsigned(u) => Some(*u as f64),
        _ => None,
    }
}

impl Transform {
    /// The transformed points of one series (`points` in time order, nulls skipped).
    pub(super) fn apply(&self, points: &[(i64, Value)]) -> Vec<(i64, Value)> {
        let points: Vec<&(i64, Value)> = points.iter().filter(|(_, v)| *v != Value::Null).collect();
        let mut out = Vec::new();
        match *self {
            Transform::Derivative { unit, non_negative } => {
                for pair in points.windows(2) {
                    let ((t0, v0), (t1, v1)) = (pair[0], pair[1]);
                    let (Some(a), Some(b)) = (number(v0), number(v1)) else {
                        continue;
                    };
                    if t1 == t0 {
                        continue;
                    }
                    let rate = (b - a) / (t1.saturating_sub(*t0) as f64 / unit as f64);
                    if !(non_negative && rate < 0.0) {
                        out.push((*t1, Value::Float(rate)));
                    }
                }
            }
            Transform::Difference { non_negative } => {
                for pair in points.windows(2) {
                    let ((_, v0), (t1, v1)) = (pair[0], pair[1]);
                    let d = match (v0, v1) {
                        (Value::Integer(a), Value::Integer(b)) => {
                            Value::Integer(b.wrapping_sub(*a))
                        }
                        (Value::Unsigned(a), Value::Unsigned(b)) => {
                            Value::Integer((*b as i64).wrapping_sub(*a as i64))
                        }
                        _ => match (number(v0), number(v1)) {
                            (Some(a), Some(b)) => Value::Float(b - a),
                            _ => continue,
                        },
                    };
                    let negative = match d {
                        Value::Integer(i) => i < 0,
                        Value::Float(f) => f < 0.0,
                        _ => false,
                    };
                    if !(non_negative && negative) {
                        out.push((*t1, d));
                    }
                }
            }
            Transform::MovingAverage(n) => {
                let values: Vec<f64> = points.iter().filter_map(|(_, v)| number(v)).collect();
                for (i, window) in values.windows(n).enumerate() {
                    let mean = window.iter().sum::<f64>() / n as f64;
                    out.push((points[i + n - 1].0, Value::Float(mean)));
                }
            }
            Transform::CumulativeSum => {
                let (mut int, mut float, mut integral) = (0i64, 0f64, true);
                for (t, v) in &points {
                    match v {
                        Value::Integer(i) if integral => int = int.wrapping_add(*i),
                        other => match number(other) {
                            Some(f) => {
                                if integral {
                                    float = int as f64;
                                    integral = false;
                                }
                                float += f;
                            }
                            None => continue,
                        },
                    }
                    out.push((
                        *t,
                        match integral {
                            true => Value::Integer(int),
                            false => Value::Float(float),
                        },
                    ));
                }
            }
            Transform::Elapsed(unit) => {
                for pair in points.windows(2) {
                    out.push((
                        pair[1].0,
                        Value::Integer(pair[1].0.saturating_sub(pair[0].0) / unit),
                    ));
                }
            }
        }
        out
    }
}

/// A function of every point of a window.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Reducer {
    /// The nearest-rank percentile (a selector).
    Percentile(f64),
    /// The most frequent value (the smallest among ties).
    Mode,
    /// Each distinct value once.
    Distinct,
    /// The `n` largest (`top`) or smallest values, at most one per combination of `tags`.
    Top {
        n: usize,
        tags: Vec<String>,
        largest: bool,
    },
    /// The area under the points (trapezoids), per `unit` ns.
    Integral(i64),
}

/// One reduced point: its time (`None`: the window's), value and the `Top` tags' values.
pub(super) type Reduced = (Option<i64>, Value, Vec<Value>);

/// The reducer `e` calls, with the field it reads; `None` when `e` is not a bare call of one.
pub(super) fn reducer(e: &Expr) -> Result<Option<(Reducer, String)>, String> {
    let Expr::Call { name, args } = e else {
        return Ok(None);
    };
    if !REDUCERS.contains(&name.as_str()) {
        return Ok(None);
    }
    let field = match args.first() {
        Some(Expr::VarRef { name, .. }) => name.clone(),
        Some(Expr::Call { .. }) => {
            return Err(format!(
                "{name}() over an aggregate is not supported by Strata"
            ))
        }
        _ => return Err(format!("expected field argument in {name}()")),
    };
    let arity = |expected: &str| {
        format!(
            "invalid number of arguments for {name}, expected {expected}, got {}",
            args.len()
        )
    };
    let r = match name.as_str() {
        "percentile" => match args.get(1) {
            _ if args.len() != 2 => return Err(arity("2")),
            Some(Expr::Integer(p)) => Reducer::Percentile(*p as f64),
            Some(Expr::Number(p)) => Reducer::Percentile(*p),
            _ => return Err("expected float argument in percentile()".into()),
        },
        "mode" | "distinct" if args.len() != 1 => return Err(arity("1")),
        "mode" => Reducer::Mode,
        "distinct" => Reducer::Distinct,
        "integral" => match args.get(1) {
            None => Reducer::Integral(SECOND),
            Some(Expr::Duration(d)) if d.0 > 0 && args.len() == 2 => Reducer::Integral(d.0),
            _ => return Err(arity("1 or 2")),
        },
        _ => {
            if args.len() < 2 {
                return Err(arity("at least 2"));
            }
            let n = match args.last() {
                Some(Expr::Integer(n)) if *n > 0 => *n as usize,
                _ => {
                    return Err(format!(
                        "expected integer as last argument in {name}(), found {}",
                        args[args.len() - 1]
                    ))
                }
            };
            let mut tags = Vec::new();
            for a in &args[1..args.len() - 1] {
                match a {
                    Expr::VarRef { name, .. } => tags.push(name.clone()),
                    other => {
                        return Err(format!(
                            "only fields or tags are allowed in {name}(), found {other}"
                        ))
                    }
                }
            }
            Reducer::Top {
                n,
                tags,
                largest: name == "top",
            }
        }
    };
    Ok(Some((r, field)))
}

/// Orders values as 1.x's reducers sort them: numbers by value, then strings, then booleans.
fn cmp_values(a: &Value, b: &Value) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Boolean(x), Value::Boolean(y)) => x.cmp(y),
        _ => match (number(a), number(b)) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            _ => Ordering::Equal,
        },
    }
}

impl Reducer {
    /// Whether the result carries the selected point's time.
    pub(super) fn selects(&self) -> bool {
        matches!(self, Reducer::Percentile(_) | Reducer::Top { .. })
    }

    /// Reduces one window's points (time order): `(time, value, tags)`, nulls skipped.
    pub(super) fn reduce(&self, points: &[(i64, Value, Vec<Value>)]) -> Vec<Reduced> {
        let mut points: Vec<&(i64, Value, Vec<Value>)> = points
            .iter()
            .filter(|(_, v, _)| *v != Value::Null)
            .collect();
        if points.is_empty() {
            return Vec::new();
        }
        match self {
            Reducer::Percentile(p) => {
                points.sort_by(|a, b| cmp_values(&a.1, &b.1).then(a.0.cmp(&b.0)));
                let i = (points.len() as f64 * p / 100.0 + 0.5).floor() as i64 - 1;
                match usize::try_from(i).ok().and_then(|i| points.get(i)) {
                    Some((t, v, _)) => vec![(Some(*t), v.clone(), Vec::new())],
                    None => Vec::new(),
                }
            }
            Reducer::Mode => {
                // Among equally frequent values, the one seen first wins (1.x).
                points.sort_by(|a, b| cmp_values(&a.1, &b.1).then(a.0.cmp(&b.0)));
                let (mut best, mut best_n, mut best_t) = (&points[0].1, 0usize, i64::MAX);
                let mut i = 0;
                while i < points.len() {
                    let j = (i..points.len())
                        .find(|&j| cmp_values(&points[j].1, &points[i].1).is_ne())
                        .unwrap_or(points.len());
                    let (n, t) = (j - i, points[i].0);
                    if n > best_n || (n == best_n && t < best_t) {
                        (best, best_n, best_t) = (&points[i].1, n, t);
                    }
                    i = j;
                }
                vec![(None, best.clone(), Vec::new())]
            }
            Reducer::Distinct => {
                points.sort_by(|a, b| cmp_values(&a.1, &b.1));
                points.dedup_by(|a, b| cmp_values(&a.1, &b.1).is_eq());
                points
                    .into_iter()
                    .map(|(_, v, _)| (None, v.clone(), Vec::new()))
                    .collect()
            }
            Reducer::Integral(unit) => {
                let mut area = 0.0;
                for pair in points.windows(2) {
                    let (Some(a), Some(b)) = (number(&pair[0].1), number(&pair[1].1)) else {
                        continue;
                    };
                    area +=
                        (a + b) / 2.0 * pair[1].0.saturating_sub(pair[0].0) as f64 / *unit as f64;
                }
                vec![(None, Value::Float(area), Vec::new())]
            }
            Reducer::Top { n, tags, largest } => {
                // Best first: by value, then the earlier point.
                points.sort_by(|a, b| {
                    let by_value = cmp_values(&a.1, &b.1);
                    match largest {
                        true => by_value.reverse(),
                        false => by_value,
                    }
                    .then(a.0.cmp(&b.0))
                });
                let mut seen = std::collections::HashSet::new();
                let mut picked: Vec<&(i64, Value, Vec<Value>)> = points
                    .into_iter()
                    .filter(|p| tags.is_empty() || seen.insert(format!("{:?}", p.2)))
                    .take(*n)
                    .collect();
                picked.sort_by_key(|p| p.0);
                picked
                    .into_iter()
                    .map(|(t, v, tags)| (Some(*t), v.clone(), tags.clone()))
                    .collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ints(points: &[(i64, i64)]) -> Vec<(i64, Value)> {
        points
            .iter()
            .map(|(t, v)| (*t, Value::Integer(*v)))
            .collect()
    }

    #[test]
    fn transformations_as_1x() {
        let p = ints(&[
            (0, 10),
            (10 * SECOND, 30),
            (20 * SECOND, 20),
            (30 * SECOND, 50),
        ]);
        let d = Transform::Derivative {
            unit: SECOND,
            non_negative: false,
        }
        .apply(&p);
        assert_eq!(
            d,
            vec![
                (10 * SECOND, Value::Float(2.0)),
                (20 * SECOND, Value::Float(-1.0)),
                (30 * SECOND, Value::Float(3.0))
            ]
        );
        let nn = Transform::Derivative {
            unit: 10 * SECOND,
            non_negative: true,
        }
        .apply(&p);
        assert_eq!(
            nn,
            vec![
                (10 * SECOND, Value::Float(20.0)),
                (30 * SECOND, Value::Float(30.0))
            ]
        );
        let diff = Transform::Difference {
            non_negative: false,
        }
        .apply(&p);
        assert_eq!(
            diff,
            ints(&[(10 * SECOND, 20), (20 * SECOND, -10), (30 * SECOND, 30)])
        );
        let ma = Transform::MovingAverage(2).apply(&p);
        assert_eq!(ma[0], (10 * SECOND, Value::Float(20.0)));
        assert_eq!(ma.len(), 3);
        assert_eq!(
            Transform::CumulativeSum.apply(&p),
            ints(&[
                (0, 10),
                (10 * SECOND, 40),
                (20 * SECOND, 60),
                (30 * SECOND, 110)
            ])
        );
        assert_eq!(
            Transform::Elapsed(SECOND).apply(&p)[0],
            (10 * SECOND, Value::Integer(10))
        );
    }

    #[test]
    fn reducers_as_1x() {
        let p: Vec<(i64, Value, Vec<Value>)> = [(0, 5), (1, 1), (2, 3), (3, 3), (4, 9)]
            .iter()
            .map(|(t, v)| (*t, Value::Integer(*v), Vec::new()))
            .collect();
        assert_eq!(
            Reducer::Percentile(50.0).reduce(&p),
            vec![(Some(3), Value::Integer(3), vec![])]
        );
        assert_eq!(Reducer::Percentile(0.0).reduce(&p), vec![]);
        assert_eq!(
            Reducer::Mode.reduce(&p),
            vec![(None, Value::Integer(3), vec![])]
        );
        let tie: Vec<(i64, Value, Vec<Value>)> = [(0, 7), (1, 2), (2, 7), (3, 2)]
            .iter()
            .map(|(t, v)| (*t, Value::Integer(*v), Vec::new()))
            .collect();
        assert_eq!(Reducer::Mode.reduce(&tie)[0].1, Value::Integer(7));
        assert_eq!(Reducer::Distinct.reduce(&p).len(), 4);
        let top = Reducer::Top {
            n: 2,
            tags: vec![],
            largest: true,
        }
        .reduce(&p);
        assert_eq!(
            top,
            vec![
                (Some(0), Value::Integer(5), vec![]),
                (Some(4), Value::Integer(9), vec![])
            ]
        );
        assert_eq!(
            Reducer::Integral(1).reduce(&p)[0].1,
            Value::Float(3.0 + 2.0 + 3.0 + 6.0)
        );
    }
}
