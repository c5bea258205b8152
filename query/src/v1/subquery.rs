//! A subquery's answer as tables the outer SELECT reads like measurements: one per series name,
//! its grouped tags as tag columns, its columns as fields (typed by their values).

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray, StringBuilder,
    TimestampNanosecondBuilder, UInt64Array,
};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use arrow::record_batch::RecordBatch;
use catalog::{ColumnType, FieldType, TableSchema};

use super::result::{Series, Value};

/// One table made of a subquery's series of one name.
pub(super) struct Table {
    pub(super) name: String,
    pub(super) schema: TableSchema,
    pub(super) batch: RecordBatch,
}

/// The type a column's values take (integers and floats together: floats).
fn field_type<'a>(values: impl Iterator<Item = &'a Value>) -> FieldType {
    let mut ty: Option<FieldType> = None;
    for v in values {
        let t = match v {
            Value::Float(_) => FieldType::Float,
            Value::Integer(_) => FieldType::Integer,
            Value::Unsigned(_) => FieldType::Unsigned,
            Value::String(_) => FieldType::String,
            Value::Boolean(_) => FieldType::Boolean,
            Value::Null | Value::Time(_) | Value::ZonedTime(..) => continue,
        };
        ty = Some(match (ty, t) {
            (None, t) => t,
            (Some(a), b) if a == b => a,
            (
                Some(FieldType::Integer | FieldType::Unsigned | FieldType::Float),
                FieldType::Float,
            )
            | (Some(FieldType::Float), FieldType::Integer | FieldType::Unsigned) => {
                FieldType::Float
            }
            (Some(a), _) => a,
        });
    }
    ty.unwrap_or(FieldType::Float)
}

fn time_of(v: &Value) -> Option<i64> {
    match v {
        Value::Time(t) | Value::ZonedTime(t, _) => Some(*t),
        _ => None,
    }
}

/// The tables `series` make, in name order.
pub(super) fn tables(series: Vec<Series>) -> Result<Vec<Table>, String> {
    let mut by_name: std::collections::BTreeMap<String, Vec<Series>> = Default::default();
    for s in series {
        by_name
            .entry(s.name.clone().unwrap_or_default())
            .or_default()
            .push(s);
    }
    let mut out = Vec::new();
    for (name, group) in by_name {
        let mut tags: Vec<String> = group
            .iter()
            .flat_map(|s| s.tags.iter().map(|(k, _)| k.clone()))
            .collect();
        tags.sort();
        tags.dedup();
        let mut fields: Vec<String> = Vec::new();
        for s in &group {
            for c in s.columns.iter().skip(1) {
                if !fields.contains(c) && !tags.contains(c) {
                    fields.push(c.clone());
                }
            }
        }
        let mut columns: Vec<(String, ColumnType)> = Vec::new();
        let mut arrow_fields = vec![Field::new(
            "time",
            DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            false,
        )];
        let mut arrays: Vec<ArrayRef> = Vec::new();
        let mut time = TimestampNanosecondBuilder::new();
        for s in &group {
            for row in &s.values {
                time.append_value(row.first().and_then(time_of).unwrap_or(0));
            }
        }
        arrays.push(Arc::new(time.finish().with_timezone("UTC")));
        for tag in &tags {
            let mut b = StringBuilder::new();
            for s in &group {
                let v = s
                    .tags
                    .iter()
                    .find(|(k, _)| k == tag)
                    .map_or("", |(_, v)| v.as_str());
                for _ in &s.values {
                    b.append_value(v);
                }
            }
            arrow_fields.push(Field::new(tag, DataType::Utf8, true));
            arrays.push(Arc::new(b.finish()));
            columns.push((tag.clone(), ColumnType::Tag));
        }
        for field in &fields {
            let cells: Vec<&Value> = group
                .iter()
                .flat_map(|s| {
                    let i = s.columns.iter().position(|c| c == field);
                    s.values.iter().map(move |r| match i {
                        Some(i) => r.get(i).unwrap_or(&Value::Null),
                        None => &Value::Null,
                    })
                })
                .collect();
            let ty = field_type(cells.iter().copied());
            let array: ArrayRef = match ty {
                FieldType::Float => {
                    Arc::new(Float64Array::from_iter(cells.iter().map(|v| match v {
                        Value::Float(f) => Some(*f),
                        Value::Integer(i) => Some(*i as f64),
                        Value::Unsigned(u) => Some(*u as f64),
                        _ => None,
                    })))
                }
                FieldType::Integer => {
                    Arc::new(Int64Array::from_iter(cells.iter().map(|v| match v {
                        Value::Integer(i) => Some(*i),
                        _ => None,
                    })))
                }
                FieldType::Unsigned => {
                    Arc::new(UInt64Array::from_iter(cells.iter().map(|v| match v {
                        Value::Unsigned(u) => Some(*u),
                        _ => None,
                    })))
                }
                FieldType::String => {
                    Arc::new(StringArray::from_iter(cells.iter().map(|v| match v {
                        Value::String(s) => Some(s.as_str()),
                        _ => None,
                    })))
                }
                FieldType::Boolean => {
                    Arc::new(BooleanArray::from_iter(cells.iter().map(|v| match v {
                        Value::Boolean(b) => Some(*b),
                        _ => None,
                    })))
                }
            };
            arrow_fields.push(Field::new(field, array.data_type().clone(), true));
            arrays.push(array);
            columns.push((field.clone(), ColumnType::Field(ty)));
        }
        let batch = RecordBatch::try_new(Arc::new(Schema::new(arrow_fields)), arrays)
            .map_err(|e| e.to_string())?;
        out.push(Table {
            name,
            schema: TableSchema::new(columns),
            batch,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_become_one_table_per_name() {
        let s = |host: &str, v: Value| Series {
            name: Some("cpu".into()),
            tags: vec![("host".into(), host.into())],
            columns: vec!["time".into(), "m".into()],
            values: vec![vec![Value::Time(5), v]],
        };
        let t = tables(vec![s("a", Value::Integer(1)), s("b", Value::Float(2.5))]).expect("tables");
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].schema.column("host"), Some(ColumnType::Tag));
        assert_eq!(
            t[0].schema.column("m"),
            Some(ColumnType::Field(FieldType::Float))
        );
        assert_eq!(t[0].batch.num_rows(), 2);
    }
}
