//! SHOW MEASUREMENTS, TAG KEYS, TAG VALUES, FIELD KEYS, SERIES and CARDINALITY, answered from the engine's
//! series index and the catalog's schemas: no data file is read.

use std::collections::BTreeSet;

use catalog::{Bucket, Catalog, ColumnType};
use engine::{Engine, MeasurementSeries, SnapshotRequest};
use influxql::{Expr, Measurement, Order, TagKeyMatch};

use super::cond::{name_matches, regex, tags_match};
use super::result::{Series, StatementResult, Value};

/// The series of `bucket`'s measurements that `sources` (none: all) name and `cond` keeps.
fn series_of(
    engine: &Engine,
    bucket: &Bucket,
    sources: &[Measurement],
    cond: Option<&Expr>,
) -> Result<Vec<MeasurementSeries>, String> {
    let all = engine
        .series(SnapshotRequest::all(bucket.id))
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for mut m in all {
        if !sources.is_empty() && !any_source(sources, &m.measurement)? {
            continue;
        }
        if let Some(cond) = cond {
            let mut kept = Vec::with_capacity(m.series.len());
            for s in m.series {
                if tags_match(cond, s.tags())? {
                    kept.push(s);
                }
            }
            m.series = kept;
        }
        if !m.series.is_empty() {
            out.push(m);
        }
    }
    Ok(out)
}

fn any_source(sources: &[Measurement], measurement: &str) -> Result<bool, String> {
    for s in sources {
        if name_matches(&s.name, measurement)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// `OFFSET`, `LIMIT` and `ORDER BY … DESC` over one series' rows.
fn page(
    mut values: Vec<Vec<Value>>,
    order: Option<Order>,
    limit: Option<u64>,
    offset: Option<u64>,
) -> Vec<Vec<Value>> {
    if order == Some(Order::Descending) {
        values.reverse();
    }
    let skip = offset.unwrap_or(0) as usize;
    let take = limit.map_or(usize::MAX, |l| l as usize);
    values.into_iter().skip(skip).take(take).collect()
}

fn strings(values: impl IntoIterator<Item = String>) -> Vec<Vec<Value>> {
    values.into_iter().map(|v| vec![Value::String(v)]).collect()
}

pub(super) fn measurements(
    engine: &Engine,
    bucket: &Bucket,
    s: &influxql::ShowMeasurements,
) -> StatementResult {
    let sources: Vec<Measurement> = s.measurement.iter().cloned().collect();
    let names = series_of(engine, bucket, &sources, s.condition.as_ref())?
        .into_iter()
        .map(|m| m.measurement);
    let values = page(strings(names), s.order, s.limit, s.offset);
    Ok(one(Some("measurements"), &["name"], values))
}

/// A single series, or none when it has no rows (1.x gives an empty result then).
fn one(name: Option<&str>, columns: &[&str], values: Vec<Vec<Value>>) -> Vec<Series> {
    if values.is_empty() {
        return Vec::new();
    }
    let mut s = Series::new(name, columns);
    s.values = values;
    vec![s]
}

pub(super) fn tag_keys(
    engine: &Engine,
    bucket: &Bucket,
    s: &influxql::ShowTagKeys,
) -> StatementResult {
    let found = series_of(engine, bucket, &s.sources, s.condition.as_ref())?;
    let per_measurement = found.iter().map(|m| {
        let keys = m.tag_keys().into_iter().map(str::to_owned);
        (
            m.measurement.as_str(),
            page(strings(keys), s.order, s.limit, s.offset),
        )
    });
    Ok(per_measurement
        .skip(s.soffset.unwrap_or(0) as usize)
        .take(s.slimit.map_or(usize::MAX, |l| l as usize))
        .flat_map(|(m, values)| one(Some(m), &["tagKey"], values))
        .collect())
}

pub(super) fn tag_values(
    engine: &Engine,
    bucket: &Bucket,
    s: &influxql::ShowTagValues,
) -> StatementResult {
    let wanted = key_matcher(&s.key)?;
    let mut out = Vec::new();
    for m in series_of(engine, bucket, &s.sources, s.condition.as_ref())? {
        let values = tag_pairs(&m, &wanted)
            .into_iter()
            .map(|(k, v)| vec![Value::String(k.to_owned()), Value::String(v.to_owned())])
            .collect();
        out.extend(one(
            Some(&m.measurement),
            &["key", "value"],
            page(values, s.order, s.limit, s.offset),
        ));
    }
    Ok(out)
}

/// Which tag keys `WITH KEY …` selects.
fn key_matcher(key: &TagKeyMatch) -> Result<impl Fn(&str) -> bool + '_, String> {
    let key_regex = match key {
        TagKeyMatch::EqRegex(r) | TagKeyMatch::NotEqRegex(r) => Some(regex(&r.0)?),
        _ => None,
    };
    Ok(move |k: &str| match key {
        TagKeyMatch::Eq(key) => k == key,
        TagKeyMatch::NotEq(key) => k != key,
        TagKeyMatch::In(keys) => keys.iter().any(|key| key == k),
        TagKeyMatch::EqRegex(_) => key_regex.as_ref().is_some_and(|r| r.is_match(k)),
        TagKeyMatch::NotEqRegex(_) => key_regex.as_ref().is_some_and(|r| !r.is_match(k)),
    })
}

/// The distinct (key, value) pairs of a measurement's series whose key is `wanted`.
fn tag_pairs<'a>(
    m: &'a MeasurementSeries,
    wanted: &impl Fn(&str) -> bool,
) -> BTreeSet<(&'a str, &'a str)> {
    m.series
        .iter()
        .flat_map(|series| series.tags().iter())
        .filter(|(k, _)| wanted(k))
        .map(|(k, v)| (&**k, &**v))
        .collect()
}

/// SHOW … CARDINALITY, from the same metadata. The index is exact, so an estimate is the exact
/// count, shaped as 1.x shapes its estimates.
pub(super) fn cardinality(
    engine: &Engine,
    catalog: &Catalog,
    bucket: &Bucket,
    s: &influxql::ShowCardinality,
) -> StatementResult {
    use influxql::CardinalityOf;
    let count = |n: usize| vec![vec![Value::Integer(n as i64)]];
    let found = series_of(engine, bucket, &s.sources, s.condition.as_ref())?;
    let total = |column: &str, n: usize| Ok(one(None, &[column], count(n)));
    let per_measurement = |counts: Vec<(String, usize)>| {
        Ok(counts
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .flat_map(|(m, n)| one(Some(&m), &["count"], count(n)))
            .collect())
    };
    match &s.of {
        CardinalityOf::Series if !s.exact => total(
            "cardinality estimation",
            found.iter().map(|m| m.series.len()).sum(),
        ),
        CardinalityOf::Series => per_measurement(
            found
                .into_iter()
                .map(|m| (m.measurement, m.series.len()))
                .collect(),
        ),
        CardinalityOf::Measurements => match s.exact {
            true => total("count", found.len()),
            false => total("cardinality estimation", found.len()),
        },
        CardinalityOf::TagKeys => per_measurement(
            found
                .iter()
                .map(|m| (m.measurement.clone(), m.tag_keys().len()))
                .collect(),
        ),
        CardinalityOf::TagValues(key) => {
            let wanted = key_matcher(key)?;
            per_measurement(
                found
                    .iter()
                    .map(|m| (m.measurement.clone(), tag_pairs(m, &wanted).len()))
                    .collect(),
            )
        }
        CardinalityOf::FieldKeys => {
            let mut counts = Vec::new();
            for (measurement, schema) in catalog.tables_of(bucket.id) {
                if !s.sources.is_empty() && !any_source(&s.sources, &measurement)? {
                    continue;
                }
                let n = schema
                    .columns()
                    .filter(|(_, t)| matches!(t, ColumnType::Field(_)))
                    .count();
                counts.push((measurement, n));
            }
            per_measurement(counts)
        }
    }
}

pub(super) fn field_keys(
    catalog: &Catalog,
    bucket: &Bucket,
    s: &influxql::ShowFieldKeys,
) -> StatementResult {
    let mut out = Vec::new();
    for (measurement, schema) in catalog.tables_of(bucket.id) {
        if !s.sources.is_empty() && !any_source(&s.sources, &measurement)? {
            continue;
        }
        let values = schema
            .columns()
            .filter_map(|(name, ty)| match ty {
                ColumnType::Field(f) => Some(vec![
                    Value::String(name.to_owned()),
                    Value::String(f.name().to_owned()),
                ]),
                ColumnType::Tag => None,
            })
            .collect();
        out.extend(one(
            Some(&measurement),
            &["fieldKey", "fieldType"],
            page(values, s.order, s.limit, s.offset),
        ));
    }
    Ok(out)
}

pub(super) fn series(
    engine: &Engine,
    bucket: &Bucket,
    s: &influxql::ShowSeries,
) -> StatementResult {
    let mut keys = Vec::new();
    for m in series_of(engine, bucket, &s.sources, s.condition.as_ref())? {
        for series in &m.series {
            keys.push(series_key(&m.measurement, series.tags()));
        }
    }
    Ok(one(
        None,
        &["key"],
        page(strings(keys), s.order, s.limit, s.offset),
    ))
}

/// `cpu,host=a,region=x`: line protocol's escaping of the measurement, keys and values.
fn series_key(measurement: &str, tags: &[(std::sync::Arc<str>, std::sync::Arc<str>)]) -> String {
    let mut key = String::with_capacity(measurement.len() + 16 * tags.len());
    escape(&mut key, measurement, &[',', ' ']);
    for (k, v) in tags {
        key.push(',');
        escape(&mut key, k, &[',', '=', ' ']);
        key.push('=');
        escape(&mut key, v, &[',', '=', ' ']);
    }
    key
}

fn escape(out: &mut String, s: &str, special: &[char]) {
    for c in s.chars() {
        if special.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_keys_escape_as_line_protocol() {
        let tags: Vec<(std::sync::Arc<str>, std::sync::Arc<str>)> =
            vec![("host".into(), "a b".into()), ("k=1".into(), "x,y".into())];
        assert_eq!(series_key("c pu", &tags), r"c\ pu,host=a\ b,k\=1=x\,y");
    }
}
