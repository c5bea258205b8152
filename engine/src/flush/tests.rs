//! The flush's sort: order, last-write-wins merging of one point's writes, shards with
//! different columns, and the split by day.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, TimestampNanosecondArray};
use arrow::record_batch::RecordBatch;

use super::sort::{series_time_order, tag_ranks};
use super::*;

/// Every output row of `parts`, sorted, and each day's run.
fn sort_all(parts: &[Taken]) -> (RecordBatch, Vec<DayRun>) {
    let sorted = Sorted::new(parts).expect("sort");
    let out = sorted.batch(0, sorted.rows()).expect("batch");
    (out, sorted.runs().to_vec())
}

/// Column `name` of `batch`, of type `T`.
fn column<T: Array + Clone + 'static>(batch: &RecordBatch, name: &str) -> T {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>().cloned())
        .unwrap_or_else(|| panic!("column {name}"))
}

fn time_column(batch: &RecordBatch) -> Option<&TimestampNanosecondArray> {
    batch
        .column_by_name(crate::buffer::TIME_COLUMN)
        .and_then(|c| c.as_any().downcast_ref::<TimestampNanosecondArray>())
}

#[test]
fn same_series_and_time_merge_last_write_wins() {
    use arrow::array::{Float64Array, Int64Array};
    use catalog::{ColumnType, FieldType};
    use lp::FieldValue;

    let mut buf = crate::TableBuffer::default();
    let t = buf.add_column("t", ColumnType::Tag);
    let v = buf.add_column("v", ColumnType::Field(FieldType::Float));
    let w = buf.add_column("w", ColumnType::Field(FieldType::Integer));
    let rows: [(&str, Option<f64>, Option<i64>, i64); 4] = [
        ("a", Some(1.0), Some(1), 5),
        ("b", Some(9.0), None, 5),
        ("a", Some(2.0), None, 5),
        ("a", Some(3.0), None, 6),
    ];
    for (tag, fv, iv, time) in rows {
        let fv = fv.map(FieldValue::F64);
        let iv = iv.map(FieldValue::I64);
        let fields: Vec<(usize, &FieldValue<'_>)> = [(v, fv.as_ref()), (w, iv.as_ref())]
            .into_iter()
            .filter_map(|(i, val)| val.map(|val| (i, val)))
            .collect();
        buf.append_row([(t, tag)].into_iter(), fields.into_iter(), time, 1)
            .expect("append");
    }
    let (out, _) = sort_all(&buf.take().expect("take"));
    assert_eq!(out.num_rows(), 3);
    let v: Float64Array = column(&out, "v");
    let w: Int64Array = column(&out, "w");
    let time = time_column(&out).expect("time");
    // (a, 5): v from the later write, w kept from the earlier one
    assert_eq!((v.value(0), w.value(0), time.value(0)), (2.0, 1, 5));
    assert_eq!((v.value(1), w.is_null(1), time.value(1)), (3.0, true, 6));
    assert_eq!((v.value(2), w.is_null(2), time.value(2)), (9.0, true, 5));
}

/// Two shards with different columns, written by interleaved passes: the merge has the
/// union of columns, and of two writes of one point the later pass wins wherever its shard
/// sits in the merge.
#[test]
fn shards_merge_by_pass_order() {
    use arrow::array::{Float64Array, Int64Array};
    use catalog::{ColumnType, FieldType};
    use lp::FieldValue;

    let mut a = crate::TableBuffer::default();
    let mut b = crate::TableBuffer::default();
    let (at, av) = (
        a.add_column("host", ColumnType::Tag),
        a.add_column("v", ColumnType::Field(FieldType::Float)),
    );
    let (bw, bt, bv) = (
        b.add_column("w", ColumnType::Field(FieldType::Integer)),
        b.add_column("host", ColumnType::Tag),
        b.add_column("v", ColumnType::Field(FieldType::Float)),
    );
    let f = |x: f64| FieldValue::F64(x);
    // Pass 2 (shard a) writes (h1, t=5) after pass 1 (shard b) did; pass 3 (shard b)
    // overwrites (h2, t=7) that pass 2 wrote.
    let one = FieldValue::I64(1);
    b.append_row(
        [(bt, "h1")].into_iter(),
        [(bv, &f(1.0)), (bw, &one)].into_iter(),
        5,
        1,
    )
    .expect("append");
    a.append_row([(at, "h1")].into_iter(), [(av, &f(2.0))].into_iter(), 5, 2)
        .expect("append");
    a.append_row([(at, "h2")].into_iter(), [(av, &f(3.0))].into_iter(), 7, 2)
        .expect("append");
    b.append_row([(bt, "h2")].into_iter(), [(bv, &f(4.0))].into_iter(), 7, 3)
        .expect("append");
    {
        // Shard a first: position order alone would let pass 1 win (h1, 5).
        let parts = [a.take().expect("take"), b.take().expect("take")].concat();
        assert_eq!(parts.iter().map(|p| p.batch.num_rows()).sum::<usize>(), 4);
        let (out, _) = sort_all(&parts);
        let names: Vec<_> = out
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(names, ["host", "v", "w", "time"]);
        assert_eq!(out.num_rows(), 2);
        let v: Float64Array = column(&out, "v");
        let w: Int64Array = column(&out, "w");
        // (h1, 5): v from pass 2, w kept from pass 1; (h2, 7): v from pass 3.
        assert_eq!((v.value(0), w.value(0)), (2.0, 1));
        assert_eq!((v.value(1), w.is_null(1)), (4.0, true));
    }
}

/// The rank-and-counting-sort order is exactly Arrow's lexicographic sort of the strings
/// (nulls first), then time, pass and position, on data with nulls, repeated dictionary
/// values (as merged shards have) and ties everywhere.
#[test]
fn series_time_order_matches_lexsort() {
    use arrow::array::{DictionaryArray, Int32Array, StringArray, UInt64Array};
    use arrow::compute::{lexsort_to_indices, SortColumn};
    let mut rng = 0x853c_49e6_748f_ea9bu64;
    let mut next = |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    for _ in 0..50 {
        let rows = 1 + next(400) as usize;
        // A dictionary with repeats: "b" twice, "" once.
        let values = Arc::new(StringArray::from(vec!["b", "a", "ab", "b", "", "é"]));
        let tag = |next: &mut dyn FnMut(u64) -> u64| -> ArrayRef {
            let keys: Int32Array = (0..rows)
                .map(|_| (next(7) != 0).then(|| next(6) as i32))
                .collect();
            Arc::new(
                DictionaryArray::<arrow::datatypes::Int32Type>::try_new(
                    keys,
                    Arc::clone(&values) as ArrayRef,
                )
                .expect("dictionary"),
            )
        };
        let t1 = tag(&mut next);
        let t2 = tag(&mut next);
        let time: Vec<i64> = (0..rows).map(|_| next(5) as i64 - 2).collect();
        let seq: Vec<u64> = (0..rows).map(|_| next(3)).collect();
        let expected = lexsort_to_indices(
            &[
                SortColumn {
                    values: Arc::clone(&t1),
                    options: None,
                },
                SortColumn {
                    values: Arc::clone(&t2),
                    options: None,
                },
                SortColumn {
                    values: Arc::new(arrow::array::Int64Array::from(time.clone())),
                    options: None,
                },
                SortColumn {
                    values: Arc::new(UInt64Array::from(seq.clone())),
                    options: None,
                },
                SortColumn {
                    values: Arc::new(UInt64Array::from_iter_values(0..rows as u64)),
                    options: None,
                },
            ],
            None,
        )
        .expect("lexsort");
        let ranks = [
            tag_ranks(&[Some(t1.as_ref())], &[rows]).expect("ranks").1,
            tag_ranks(&[Some(t2.as_ref())], &[rows]).expect("ranks").1,
        ];
        let ranks = [ranks[0].as_slice(), ranks[1].as_slice()];
        assert_eq!(
            series_time_order(&ranks, &time, &seq),
            expected.values().to_vec()
        );
    }
}

/// Rows of three days, interleaved: one run per day, in day order, each sorted by series
/// then time, every row kept.
#[test]
fn one_sort_splits_by_day() {
    use catalog::{ColumnType, FieldType};
    use lp::FieldValue;
    let mut buf = crate::TableBuffer::default();
    let t = buf.add_column("host", ColumnType::Tag);
    let v = buf.add_column("v", ColumnType::Field(FieldType::Integer));
    let day = crate::series::NANOS_PER_DAY;
    let mut expected_rows = 0;
    for i in 0..300i64 {
        let host = ["b", "a", "c"][(i % 3) as usize];
        let time = (2 - i % 3) * day + i;
        buf.append_row(
            [(t, host)].into_iter(),
            [(v, &FieldValue::I64(i))].into_iter(),
            time,
            1,
        )
        .expect("append");
        expected_rows += 1;
    }
    let (out, runs) = sort_all(&buf.take().expect("take"));
    assert_eq!(out.num_rows(), expected_rows);
    assert_eq!(
        runs.iter().map(|r| (r.day, r.len)).collect::<Vec<_>>(),
        [(0, 100), (1, 100), (2, 100)]
    );
    let time = time_column(&out).expect("time");
    for &DayRun {
        day: d,
        start,
        len: n,
        ..
    } in &runs
    {
        let times: Vec<i64> = (start..start + n).map(|i| time.value(i)).collect();
        assert!(times.iter().all(|t| t.div_euclid(day) == d));
        assert!(
            times.windows(2).all(|w| w[0] < w[1]),
            "one series per day here, by time"
        );
    }
}

#[test]
fn civil_dates() {
    assert_eq!(civil_date(0), "1970-01-01");
    assert_eq!(civil_date(-1), "1969-12-31");
    assert_eq!(civil_date(16_940), "2016-05-19");
    assert_eq!(civil_date(11_016), "2000-02-29");
    assert_eq!(civil_date(-719_468), "0000-03-01");
}

/// Random parts (shards with different tag and field columns, repeated points within and
/// across them, three days), gathered in row groups of odd sizes: the same rows, in the same
/// order, as a plain model of last write wins; and each day's series, distinct and sorted.
#[test]
fn sorted_parts_equal_the_model() {
    use std::collections::BTreeMap;

    use arrow::array::{AsArray, Int64Array};
    use arrow::datatypes::Int32Type;
    use catalog::{ColumnType, FieldType};
    use lp::FieldValue;

    // (day, dc, host, time)
    type Point = (i64, Option<String>, Option<String>, i64);
    // (pass, part, row)
    type Arrival = (u64, usize, usize);
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    let day = crate::series::NANOS_PER_DAY;
    for round in 0..30 {
        let mut parts = Vec::new();
        // (seq, part, row) orders writes exactly as arrival does.
        let mut writes: Vec<(Arrival, Point, [Option<i64>; 2])> = Vec::new();
        for part in 0..1 + next(4) as usize {
            let mut buf = crate::TableBuffer::default();
            let host = buf.add_column("host", ColumnType::Tag);
            let dc = (next(2) == 0).then(|| buf.add_column("dc", ColumnType::Tag));
            let a = buf.add_column("a", ColumnType::Field(FieldType::Integer));
            let b =
                (next(2) == 0).then(|| buf.add_column("b", ColumnType::Field(FieldType::Integer)));
            let mut seq = next(3);
            for row in 0..next(60) as usize {
                seq += next(2);
                let h = (next(5) != 0).then(|| format!("h{}", next(4)));
                let d = dc.and_then(|_| (next(3) != 0).then(|| format!("d{}", next(2))));
                let time = next(3) as i64 * day + next(4) as i64;
                let va = (next(3) != 0).then(|| (round * 1000 + row) as i64);
                let vb = b.and_then(|_| (next(2) == 0).then(|| -(row as i64)));
                let tags: Vec<(usize, &str)> = [(Some(host), h.as_deref()), (dc, d.as_deref())]
                    .into_iter()
                    .filter_map(|(c, v)| Some((c?, v?)))
                    .collect();
                let (fa, fb) = (va.map(FieldValue::I64), vb.map(FieldValue::I64));
                let fields: Vec<(usize, &FieldValue<'_>)> =
                    [(Some(a), fa.as_ref()), (b, fb.as_ref())]
                        .into_iter()
                        .filter_map(|(c, v)| Some((c?, v?)))
                        .collect();
                buf.append_row(tags.into_iter(), fields.into_iter(), time, seq)
                    .expect("append");
                writes.push((
                    (seq, part, row),
                    (time.div_euclid(day), d, h, time),
                    [va, vb],
                ));
            }
            parts.extend(buf.take().expect("take"));
        }
        writes.sort_by_key(|w| w.0);
        let mut model: BTreeMap<Point, [Option<i64>; 2]> = BTreeMap::new();
        for (_, point, values) in writes {
            let slot = model.entry(point).or_default();
            for (s, v) in slot.iter_mut().zip(values) {
                if v.is_some() {
                    *s = v;
                }
            }
        }
        if parts.is_empty() {
            continue;
        }
        let sorted = Sorted::new(&parts).expect("sort");
        assert_eq!(sorted.rows(), model.len());
        let step = 1 + next(9) as usize;
        let mut got: Vec<(Point, [Option<i64>; 2])> = Vec::new();
        for run in sorted.runs() {
            let mut series: Vec<(Option<String>, Option<String>)> = Vec::new();
            let mut offset = 0;
            while offset < run.len {
                let len = step.min(run.len - offset);
                let batch = sorted.batch(run.start + offset, len).expect("batch");
                let tag = |name: &str, row: usize| {
                    batch.column_by_name(name).and_then(|c| {
                        let c = c.as_dictionary::<Int32Type>();
                        c.is_valid(row).then(|| {
                            c.values()
                                .as_string::<i32>()
                                .value(c.keys().value(row) as usize)
                                .to_owned()
                        })
                    })
                };
                let field = |name: &str, row: usize| {
                    batch
                        .column_by_name(name)
                        .and_then(|c| c.as_any().downcast_ref::<Int64Array>().cloned())
                        .and_then(|c| c.is_valid(row).then(|| c.value(row)))
                };
                let time = time_column(&batch).expect("time");
                for row in 0..len {
                    let t = time.value(row);
                    assert_eq!(t.div_euclid(day), run.day);
                    assert!((run.min_time_ns..=run.max_time_ns).contains(&t));
                    let (h, d) = (tag("host", row), tag("dc", row));
                    // Tags sort by name: dc, then host.
                    if series.last() != Some(&(d.clone(), h.clone())) {
                        series.push((d.clone(), h.clone()));
                    }
                    got.push(((run.day, d, h, t), [field("a", row), field("b", row)]));
                }
                offset += len;
            }
            let tags = sorted.series(run).expect("series");
            assert_eq!(tags.num_rows(), series.len(), "round {round}");
            let mut distinct = series.clone();
            distinct.sort();
            distinct.dedup();
            assert_eq!(distinct, series, "series sorted and distinct");
        }
        let expected: Vec<_> = model.into_iter().collect();
        assert_eq!(got, expected, "round {round}");
    }
}
