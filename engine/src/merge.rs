//! Last write wins for readers: rows that may hold one point (series and time) more than once
//! come out as one row per point, with the flush's own merge (`flush::sort`): the union of the
//! point's fields, each taking its last written value.

use std::sync::Arc;

use arrow::datatypes::Schema;
use arrow::record_batch::RecordBatch;

use crate::flush::sort::Sorted;
use crate::{EngineError, Result, Taken, TIME_COLUMN};

/// Rows per output batch.
const BATCH_ROWS: usize = 8192;

/// `parts` merged: one row per point, later writes (a larger `Taken::seq`; equal ones, the
/// later part and row) winning field by field. Columns are the union of the parts' (tags,
/// fields, then time); rows are sorted by UTC day, tags, then time.
pub fn last_write_wins(parts: &[Taken]) -> Result<Vec<RecordBatch>> {
    if parts.iter().all(|p| p.batch.num_rows() == 0) {
        return Ok(Vec::new());
    }
    let sorted = Sorted::new(parts)?;
    // A column some part lacks (or has only non-null values in) is null where others wrote no
    // value: every column but time may hold nulls in the merge.
    let schema = Arc::new(Schema::new(
        sorted
            .schema()
            .fields()
            .iter()
            .map(|f| {
                f.as_ref()
                    .clone()
                    .with_nullable(f.is_nullable() || f.name() != TIME_COLUMN)
            })
            .collect::<Vec<_>>(),
    ));
    let mut out = Vec::new();
    for run in sorted.runs() {
        let mut done = 0;
        while done < run.len {
            let len = BATCH_ROWS.min(run.len - done);
            let slice = sorted.slice(run.start + done, len);
            let columns = (0..schema.fields().len())
                .map(|c| sorted.column(&slice, c))
                .collect::<Result<Vec<_>>>()?;
            out.push(
                RecordBatch::try_new(Arc::clone(&schema), columns)
                    .map_err(|e| EngineError::Internal(e.to_string()))?,
            );
            done += len;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{
        Array, ArrayRef, AsArray, DictionaryArray, Float64Array, Int32Array, StringArray,
        TimestampNanosecondArray, UInt64Array,
    };
    use arrow::datatypes::{Float64Type, Int32Type};

    fn part(hosts: &[&str], times: &[i64], field: &str, values: &[Option<f64>], seq: u64) -> Taken {
        let keys: Vec<i32> = (0..hosts.len() as i32).collect();
        let host = DictionaryArray::<Int32Type>::try_new(
            Int32Array::from(keys),
            Arc::new(StringArray::from(hosts.to_vec())),
        )
        .expect("dict");
        let batch = RecordBatch::try_from_iter([
            ("host", Arc::new(host) as ArrayRef),
            (
                field,
                Arc::new(Float64Array::from(values.to_vec())) as ArrayRef,
            ),
            (
                crate::TIME_COLUMN,
                Arc::new(TimestampNanosecondArray::from(times.to_vec()).with_timezone("UTC")),
            ),
        ])
        .expect("batch");
        let seq = UInt64Array::from(vec![seq; hosts.len()]);
        Taken { batch, seq }
    }

    #[test]
    fn a_point_written_twice_is_one_row_with_fields_merged() {
        let older = part(&["a", "b"], &[10, 10], "usage", &[Some(1.0), Some(2.0)], 1);
        let newer = part(&["a"], &[10], "usage", &[Some(9.0)], 2);
        let other = part(&["a"], &[10], "idle", &[Some(5.0)], 3);
        let out = last_write_wins(&[newer, older, other]).expect("merge");
        let rows: usize = out.iter().map(RecordBatch::num_rows).sum();
        assert_eq!(rows, 2);
        let b = &out[0];
        let usage = b
            .column_by_name("usage")
            .expect("usage")
            .as_primitive::<Float64Type>();
        let idle = b
            .column_by_name("idle")
            .expect("idle")
            .as_primitive::<Float64Type>();
        assert_eq!(
            (usage.value(0), idle.value(0)),
            (9.0, 5.0),
            "host a: both fields, latest"
        );
        assert_eq!(usage.value(1), 2.0);
        assert!(idle.is_null(1), "host b never had idle");
    }

    #[test]
    fn nothing_in_nothing_out() {
        assert!(last_write_wins(&[]).expect("merge").is_empty());
    }
}
