//! DataFusion's rows shaped into 1.x's series: one per tag set, its rows by time; aggregate
//! windows filled as `fill(…)` asks; `ORDER BY time DESC`, `LIMIT`/`OFFSET` per series.

use std::collections::BTreeMap;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Int32Type};
use arrow::record_batch::RecordBatch;
use influxql::{Fill, Order, SelectStatement};

use super::calls;
use super::result::{Series, Value};
use super::select::Shape;
use super::time::Range;
use super::zone::Windows;

/// Most windows one series may have (a tiny interval over a long range is a mistake, not a
/// query to allocate for).
const MAX_WINDOWS: i64 = 1_000_000;

/// Rows of one series: time and values.
type Rows = Vec<(i64, Vec<Value>)>;

/// Shapes one measurement's batches into series, in tag order.
pub(super) fn shape(
    measurement: &str,
    batches: &[RecordBatch],
    shape: &Shape,
    stmt: &SelectStatement,
    range: Range,
    now: i64,
) -> Result<Vec<Series>, String> {
    let mut groups: BTreeMap<Vec<String>, Rows> = BTreeMap::new();
    let windowed = shape.window.is_some();
    // Raw rows (and a reducer's input points) carry their time first.
    let time_col = usize::from(!shape.aggregate || windowed || shape.reducer.is_some());
    let raw = !shape.aggregate && shape.reducer.is_none();
    for b in batches {
        let n_tags = shape.tags.len();
        for row in 0..b.num_rows() {
            let tags: Vec<String> = (0..n_tags)
                .map(|i| match value(b.column(time_col + i), row) {
                    Value::String(s) => s,
                    _ => String::new(),
                })
                .collect();
            let first = time_col + n_tags;
            let mut values: Vec<Value> = (first..first + shape.columns.len())
                .map(|i| value(b.column(i), row))
                .collect();
            let time = if shape.selector_time {
                match value(b.column(first + shape.columns.len()), row) {
                    Value::Time(t) => t,
                    _ => range.min.unwrap_or(0),
                }
            } else if time_col == 1 {
                match value(b.column(0), row) {
                    Value::Time(t) => t,
                    _ => 0,
                }
            } else {
                range.min.unwrap_or(0)
            };
            // 1.x leaves out a raw row none of whose read fields has a value (another field
            // of the point was written); an aggregate over no point gives no row either.
            let skip = match raw {
                true => value(b.column(first + shape.columns.len()), row) != Value::Boolean(true),
                false => values.iter().all(|v| *v == Value::Null) && !windowed,
            };
            if skip {
                continue;
            }
            values.shrink_to_fit();
            groups.entry(tags).or_default().push((time, values));
        }
    }
    if let Some(reducer) = &shape.reducer {
        for rows in groups.values_mut() {
            *rows = reduce(std::mem::take(rows), reducer, shape.window, range);
        }
    }
    let fills = !matches!(
        shape.reducer,
        Some(calls::Reducer::Top { .. } | calls::Reducer::Distinct)
    );
    if let (Some(windows), true) = (shape.window, fills) {
        let interval = windows.interval;
        let first_seen = groups
            .values()
            .filter_map(|r| r.first().map(|(t, _)| *t))
            .min();
        let start = match (range.min, first_seen) {
            (Some(min), _) => Some(windows.start(min)),
            (None, seen) => seen,
        };
        let end = range.max.unwrap_or(now);
        if let Some(start) = start {
            if end >= start && (end - start) / interval >= MAX_WINDOWS {
                return Err(format!(
                    "too many windows: GROUP BY time({}ns) over this range makes more than {MAX_WINDOWS}",
                    interval
                ));
            }
            for rows in groups.values_mut() {
                rows.sort_by_key(|(t, _)| *t);
                *rows = fill(
                    std::mem::take(rows),
                    start,
                    end,
                    windows,
                    stmt.fill,
                    &shape.counts,
                );
            }
        }
    }
    if shape.transforms.iter().any(Option::is_some) {
        for rows in groups.values_mut() {
            *rows = transform(std::mem::take(rows), &shape.transforms);
        }
    }
    let mut out = Vec::new();
    let skip = stmt.soffset.unwrap_or(0) as usize;
    let take = stmt.slimit.map_or(usize::MAX, |n| n as usize);
    for (tags, mut rows) in groups.into_iter().skip(skip).take(take) {
        if stmt.order == Some(Order::Descending) {
            rows.reverse();
        }
        let rows: Rows = rows
            .into_iter()
            .skip(stmt.offset.unwrap_or(0) as usize)
            .take(stmt.limit.map_or(usize::MAX, |n| n as usize))
            .collect();
        if rows.is_empty() {
            continue;
        }
        let mut columns = vec!["time".to_owned()];
        columns.extend(shape.columns.iter().cloned());
        out.push(Series {
            name: Some(measurement.to_owned()),
            tags: shape.tags.iter().cloned().zip(tags).collect(),
            columns,
            values: rows
                .into_iter()
                .map(|(t, mut v)| {
                    let time = match shape.tz {
                        Some(tz) => Value::ZonedTime(
                            t,
                            (super::zone::offset_ns(tz, t) / 1_000_000_000) as i32,
                        ),
                        None => Value::Time(t),
                    };
                    v.insert(0, time);
                    v
                })
                .collect(),
        });
    }
    Ok(out)
}

/// One series' raw points reduced per window (or over the whole range without one).
fn reduce(rows: Rows, reducer: &calls::Reducer, window: Option<Windows>, range: Range) -> Rows {
    let bucket = |t: i64| match window {
        Some(w) => w.start(t),
        None => range.min.unwrap_or(0),
    };
    // A percentile reports its point's time only without windows; top and bottom always.
    let point_time = match reducer {
        calls::Reducer::Top { .. } => true,
        _ => reducer.selects() && window.is_none(),
    };
    let mut out: Rows = Vec::new();
    let mut i = 0;
    while i < rows.len() {
        let b = bucket(rows[i].0);
        let j = (i..rows.len())
            .find(|&j| bucket(rows[j].0) != b)
            .unwrap_or(rows.len());
        let points: Vec<(i64, Value, Vec<Value>)> = rows[i..j]
            .iter()
            .map(|(t, v)| {
                let mut v = v.clone();
                let first = match v.is_empty() {
                    true => Value::Null,
                    false => v.remove(0),
                };
                (*t, first, v)
            })
            .collect();
        for (t, v, mut carried) in reducer.reduce(&points) {
            carried.insert(0, v);
            let t = match (point_time, t) {
                (true, Some(t)) => t,
                _ => b,
            };
            out.push((t, carried));
        }
        i = j;
    }
    out
}

/// Each transformed column of a series replaced by its transformation; the rows are those of
/// the times the transformations give.
fn transform(rows: Rows, transforms: &[Option<calls::Transform>]) -> Rows {
    let width = transforms.len();
    let mut out: BTreeMap<i64, Vec<Value>> = BTreeMap::new();
    for (col, t) in transforms.iter().enumerate() {
        let points: Vec<(i64, Value)> = rows.iter().map(|(t, v)| (*t, v[col].clone())).collect();
        let points = match t {
            Some(t) => t.apply(&points),
            None => points
                .into_iter()
                .filter(|(_, v)| *v != Value::Null)
                .collect(),
        };
        for (time, v) in points {
            out.entry(time).or_insert_with(|| vec![Value::Null; width])[col] = v;
        }
    }
    out.into_iter().collect()
}

/// Every window from `start` to `end` (rows: one per present window, sorted), the empty ones
/// filled as `fill` asks (a `count` column's with 0 under `fill(null)`, as 1.x).
fn fill(rows: Rows, start: i64, end: i64, windows: Windows, fill: Fill, counts: &[bool]) -> Rows {
    let width = counts.len();
    if fill == Fill::None {
        // Windows whose points lack every selected field give no row either.
        return rows
            .into_iter()
            .filter(|(_, v)| v.iter().any(|x| *x != Value::Null))
            .collect();
    }
    let mut out: Rows = Vec::new();
    let mut present = rows.into_iter().peekable();
    let mut t = start;
    while t <= end {
        // Rows before the first window (a range that starts mid-window) keep their time.
        while present.peek().is_some_and(|(pt, _)| *pt < t) {
            if let Some(r) = present.next() {
                out.push(r);
            }
        }
        match present.peek() {
            Some((pt, _)) if *pt == t => {
                if let Some(r) = present.next() {
                    out.push(r);
                }
            }
            _ => out.push((t, vec![Value::Null; width])),
        }
        match windows.next(t) {
            Some(next) => t = next,
            None => break,
        }
    }
    out.extend(present);
    let filled: Vec<bool> = out
        .iter()
        .map(|(_, v)| v.iter().all(|x| *x == Value::Null))
        .collect();
    match fill {
        Fill::Integer(n) => fill_with(&mut out, &filled, &Value::Integer(n)),
        Fill::Number(f) => fill_with(&mut out, &filled, &Value::Float(f)),
        Fill::Previous => {
            for col in 0..width {
                let mut last = Value::Null;
                for (_, v) in out.iter_mut() {
                    match &v[col] {
                        Value::Null => v[col] = last.clone(),
                        x => last = x.clone(),
                    }
                }
            }
        }
        Fill::Linear => linear(&mut out, width),
        Fill::Null => {
            for ((_, v), empty) in out.iter_mut().zip(&filled) {
                for (x, count) in v.iter_mut().zip(counts) {
                    if *empty && *count {
                        *x = Value::Integer(0);
                    }
                }
            }
        }
        Fill::None => {}
    }
    out
}

fn fill_with(rows: &mut Rows, empty: &[bool], value: &Value) {
    for ((_, v), empty) in rows.iter_mut().zip(empty) {
        if *empty {
            v.iter_mut().for_each(|x| *x = value.clone());
        }
    }
}

/// Nulls between two values of a column on the line through them (integers stay integers).
fn linear(rows: &mut Rows, width: usize) {
    let number = |v: &Value| match v {
        Value::Integer(i) => Some(*i as f64),
        Value::Unsigned(u) => Some(*u as f64),
        Value::Float(f) => Some(*f),
        _ => None,
    };
    for col in 0..width {
        let known: Vec<usize> = (0..rows.len())
            .filter(|&i| number(&rows[i].1[col]).is_some())
            .collect();
        for pair in known.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let (ta, tb) = (rows[a].0 as f64, rows[b].0 as f64);
            let (va, vb) = (&rows[a].1[col], &rows[b].1[col]);
            let integer = matches!(va, Value::Integer(_)) && matches!(vb, Value::Integer(_));
            let (fa, fb) = (number(va).unwrap_or(0.0), number(vb).unwrap_or(0.0));
            for row in &mut rows[a + 1..b] {
                let y = fa + (fb - fa) * (row.0 as f64 - ta) / (tb - ta);
                row.1[col] = match integer {
                    true => Value::Integer(y as i64),
                    false => Value::Float(y),
                };
            }
        }
    }
}

/// One cell as a [`Value`].
pub(super) fn value(array: &dyn Array, row: usize) -> Value {
    if array.is_null(row) {
        return Value::Null;
    }
    match array.data_type() {
        DataType::Float64 => Value::Float(
            array
                .as_primitive::<arrow::datatypes::Float64Type>()
                .value(row),
        ),
        DataType::Int64 => Value::Integer(
            array
                .as_primitive::<arrow::datatypes::Int64Type>()
                .value(row),
        ),
        DataType::UInt64 => Value::Unsigned(
            array
                .as_primitive::<arrow::datatypes::UInt64Type>()
                .value(row),
        ),
        DataType::Boolean => Value::Boolean(array.as_boolean().value(row)),
        DataType::Utf8 => Value::String(array.as_string::<i32>().value(row).to_owned()),
        DataType::Dictionary(_, _) => match array.as_dictionary_opt::<Int32Type>() {
            Some(d) => {
                let key = d.keys().value(row) as usize;
                let values = d.values().as_string::<i32>();
                Value::String(values.value(key).to_owned())
            }
            None => Value::Null,
        },
        DataType::Timestamp(arrow::datatypes::TimeUnit::Nanosecond, _) => Value::Time(
            array
                .as_primitive::<arrow::datatypes::TimestampNanosecondType>()
                .value(row),
        ),
        _ => match arrow::compute::cast(&array.slice(row, 1), &DataType::Float64) {
            Ok(a) if a.is_valid(0) => {
                Value::Float(a.as_primitive::<arrow::datatypes::Float64Type>().value(0))
            }
            _ => Value::Null,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(points: &[(i64, Option<i64>)]) -> Rows {
        points
            .iter()
            .map(|(t, v)| (*t, vec![v.map_or(Value::Null, Value::Integer)]))
            .collect()
    }

    #[test]
    fn windows_fill_as_1x() {
        let tens = Windows {
            interval: 10,
            offset: 0,
            tz: None,
        };
        let got = |f: Fill| {
            fill(
                rows(&[(10, Some(1)), (40, Some(4))]),
                0,
                50,
                tens,
                f,
                &[false],
            )
        };
        assert_eq!(got(Fill::None), rows(&[(10, Some(1)), (40, Some(4))]));
        assert_eq!(
            got(Fill::Null),
            rows(&[
                (0, None),
                (10, Some(1)),
                (20, None),
                (30, None),
                (40, Some(4)),
                (50, None)
            ])
        );
        assert_eq!(
            got(Fill::Integer(0)),
            rows(&[
                (0, Some(0)),
                (10, Some(1)),
                (20, Some(0)),
                (30, Some(0)),
                (40, Some(4)),
                (50, Some(0))
            ])
        );
        assert_eq!(
            got(Fill::Previous),
            rows(&[
                (0, None),
                (10, Some(1)),
                (20, Some(1)),
                (30, Some(1)),
                (40, Some(4)),
                (50, Some(4))
            ])
        );
        assert_eq!(
            got(Fill::Linear),
            rows(&[
                (0, None),
                (10, Some(1)),
                (20, Some(2)),
                (30, Some(3)),
                (40, Some(4)),
                (50, None)
            ])
        );
    }
}
