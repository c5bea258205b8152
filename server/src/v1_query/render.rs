//! Statement results as 1.x writes them: JSON (`{"results":[…]}`), chunked JSON lines and CSV,
//! with times as RFC3339 (trailing zeros trimmed) or integers in the `epoch` unit.

use query::v1::{Series, StatementResult, Value};
use serde_json::{json, Map, Value as Json};

/// How times are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Epoch {
    /// RFC3339 with nanoseconds, trailing zeros trimmed.
    Rfc3339,
    /// Integers: nanoseconds per unit.
    Unit(i64),
}

impl Epoch {
    /// 1.x's reading of `epoch=`: a known unit, else (any other non-empty value) nanoseconds.
    pub(crate) fn parse(epoch: Option<&str>) -> Epoch {
        match epoch {
            None => Epoch::Rfc3339,
            Some("u" | "µ") => Epoch::Unit(1_000),
            Some("ms") => Epoch::Unit(1_000_000),
            Some("s") => Epoch::Unit(1_000_000_000),
            Some("m") => Epoch::Unit(60_000_000_000),
            Some("h") => Epoch::Unit(3_600_000_000_000),
            Some(_) => Epoch::Unit(1),
        }
    }
}

fn time(ns: i64, epoch: Epoch) -> Json {
    local_time(ns, 0, epoch)
}

/// A time as `epoch` asks: an integer, or RFC3339 on the clock `offset_s` east of UTC.
fn local_time(ns: i64, offset_s: i32, epoch: Epoch) -> Json {
    match epoch {
        Epoch::Unit(per) => json!(ns.div_euclid(per)),
        Epoch::Rfc3339 => json!(rfc3339_at(ns, offset_s)),
    }
}

/// RFC3339 with nanoseconds, trailing zeros trimmed, on the clock `offset_s` east of UTC
/// (`2016-05-19T18:37:55.1Z`, `…T01:00:00+01:00`).
fn rfc3339_at(ns: i64, offset_s: i32) -> String {
    let ns = ns.saturating_add(i64::from(offset_s) * 1_000_000_000);
    let secs = ns.div_euclid(1_000_000_000);
    let frac = ns.rem_euclid(1_000_000_000);
    let (days, tod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let mut out = format!(
        "{}T{:02}:{:02}:{:02}",
        engine::utc_date(days),
        tod / 3600,
        tod % 3600 / 60,
        tod % 60
    );
    if frac > 0 {
        let digits = format!("{frac:09}");
        out.push('.');
        out.push_str(digits.trim_end_matches('0'));
    }
    match offset_s {
        0 => out.push('Z'),
        o => {
            let sign = if o < 0 { '-' } else { '+' };
            let o = o.unsigned_abs();
            out.push_str(&format!("{sign}{:02}:{:02}", o / 3600, o % 3600 / 60));
        }
    }
    out
}

fn value(v: &Value, epoch: Epoch) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Integer(i) => json!(i),
        Value::Unsigned(u) => json!(u),
        // JSON has no NaN or infinity (1.x leaves such a value out too).
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Value::String(s) => json!(s),
        Value::Boolean(b) => json!(b),
        Value::Time(t) => time(*t, epoch),
        Value::ZonedTime(t, offset_s) => local_time(*t, *offset_s, epoch),
    }
}

fn series_json(s: &Series, epoch: Epoch, rows: &[Vec<Value>], partial: bool) -> Json {
    let mut o = Map::new();
    if let Some(n) = &s.name {
        o.insert("name".into(), json!(n));
    }
    if !s.tags.is_empty() {
        let tags: Map<String, Json> = s.tags.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        o.insert("tags".into(), Json::Object(tags));
    }
    o.insert("columns".into(), json!(s.columns));
    if !rows.is_empty() {
        let values: Vec<Json> = rows
            .iter()
            .map(|r| Json::Array(r.iter().map(|v| value(v, epoch)).collect()))
            .collect();
        o.insert("values".into(), Json::Array(values));
    }
    if partial {
        o.insert("partial".into(), json!(true));
    }
    Json::Object(o)
}

fn statement_json(i: usize, r: &StatementResult, epoch: Epoch) -> Json {
    match r {
        Err(e) => json!({ "statement_id": i, "error": e }),
        Ok(series) if series.is_empty() => json!({ "statement_id": i }),
        Ok(series) => json!({
            "statement_id": i,
            "series": series.iter().map(|s| series_json(s, epoch, &s.values, false)).collect::<Vec<_>>(),
        }),
    }
}

/// The whole answer as one JSON document.
pub(crate) fn json(results: &[StatementResult], epoch: Epoch, pretty: bool) -> Vec<u8> {
    let doc = json!({
        "results": results.iter().enumerate().map(|(i, r)| statement_json(i, r, epoch)).collect::<Vec<_>>(),
    });
    let mut out = match pretty {
        true => serde_json::to_vec_pretty(&doc),
        false => serde_json::to_vec(&doc),
    }
    .unwrap_or_default();
    out.push(b'\n');
    out
}

/// One JSON document per line, each at most `size` rows of one series; `partial` on every
/// chunk of a series but its last, and on the result until its last chunk (1.x).
pub(crate) fn chunked(results: &[StatementResult], epoch: Epoch, size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut line = |doc: Json| {
        out.extend(serde_json::to_vec(&doc).unwrap_or_default());
        out.push(b'\n');
    };
    for (i, r) in results.iter().enumerate() {
        let Ok(series) = r else {
            line(json!({ "results": [statement_json(i, r, epoch)] }));
            continue;
        };
        if series.is_empty() {
            line(json!({ "results": [{ "statement_id": i }] }));
        }
        for (si, s) in series.iter().enumerate() {
            let chunks: Vec<&[Vec<Value>]> = match s.values.is_empty() {
                true => vec![&[]],
                false => s.values.chunks(size).collect(),
            };
            let n = chunks.len();
            for (ci, rows) in chunks.into_iter().enumerate() {
                let series_partial = ci + 1 < n;
                let last = si + 1 == series.len() && !series_partial;
                let mut result = json!({
                    "statement_id": i,
                    "series": [series_json(s, epoch, rows, series_partial)],
                });
                if !last {
                    result["partial"] = json!(true);
                }
                line(json!({ "results": [result] }));
            }
        }
    }
    out
}

/// CSV as 1.x writes it: `name,tags,<columns>` headers, a row per value row; times as integers
/// (nanoseconds unless `epoch` says otherwise). A statement's error is a row of its own.
pub(crate) fn csv(results: &[StatementResult], epoch: Epoch) -> Vec<u8> {
    let epoch = match epoch {
        Epoch::Rfc3339 => Epoch::Unit(1),
        e => e,
    };
    let mut out = String::new();
    let mut header: Option<Vec<String>> = None;
    for r in results {
        let series = match r {
            Err(e) => {
                out.push_str(&format!("error\n{}\n", field(e)));
                continue;
            }
            Ok(s) => s,
        };
        for s in series {
            if header.as_ref() != Some(&s.columns) {
                if header.is_some() {
                    out.push('\n');
                }
                out.push_str("name,tags");
                for c in &s.columns {
                    out.push(',');
                    out.push_str(&field(c));
                }
                out.push('\n');
                header = Some(s.columns.clone());
            }
            let tags: Vec<String> = s.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
            for row in &s.values {
                out.push_str(&field(s.name.as_deref().unwrap_or_default()));
                out.push(',');
                out.push_str(&field(&tags.join(",")));
                for v in row {
                    out.push(',');
                    out.push_str(&match value(v, epoch) {
                        Json::Null => String::new(),
                        Json::String(s) => field(&s),
                        other => other.to_string(),
                    });
                }
                out.push('\n');
            }
        }
    }
    out.into_bytes()
}

/// A CSV field, quoted when it must be.
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rfc3339(ns: i64) -> String {
        rfc3339_at(ns, 0)
    }

    #[test]
    fn times_as_1x_writes_them() {
        assert_eq!(rfc3339(1_463_683_075_000_000_000), "2016-05-19T18:37:55Z");
        assert_eq!(rfc3339(1_463_683_075_100_000_000), "2016-05-19T18:37:55.1Z");
        assert_eq!(rfc3339(1), "1970-01-01T00:00:00.000000001Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59.999999999Z");
        assert_eq!(rfc3339(951_782_400_000_000_000), "2000-02-29T00:00:00Z");
        assert_eq!(
            rfc3339_at(1_704_067_200_000_000_000, 3600),
            "2024-01-01T01:00:00+01:00"
        );
        assert_eq!(
            rfc3339_at(1_704_067_200_000_000_000, -6 * 3600),
            "2023-12-31T18:00:00-06:00"
        );
        assert_eq!(Epoch::parse(Some("ms")), Epoch::Unit(1_000_000));
        assert_eq!(Epoch::parse(Some("x")), Epoch::Unit(1));
        assert_eq!(time(1_999_999, Epoch::Unit(1_000_000)), json!(1));
    }

    #[test]
    fn chunks_mark_partial_results() {
        let s = Series {
            name: Some("cpu".into()),
            tags: Vec::new(),
            columns: vec!["time".into(), "v".into()],
            values: (0..3)
                .map(|i| vec![Value::Time(i), Value::Integer(i)])
                .collect(),
        };
        let out = chunked(&[Ok(vec![s])], Epoch::Unit(1), 2);
        let lines: Vec<Json> = String::from_utf8(out)
            .expect("utf8")
            .lines()
            .map(|l| serde_json::from_str(l).expect("json"))
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["results"][0]["partial"], json!(true));
        assert_eq!(lines[0]["results"][0]["series"][0]["partial"], json!(true));
        assert_eq!(lines[1]["results"][0].get("partial"), None);
        assert_eq!(
            lines[1]["results"][0]["series"][0]["values"],
            json!([[2, 2]])
        );
    }
}
