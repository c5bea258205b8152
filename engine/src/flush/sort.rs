//! A measurement's taken batches (its shards', and those held from failed flushes) read as one
//! table sorted for its files, without first copying them into one batch: the sort is an order
//! of row numbers over the batches, and each row group is gathered from them as it is encoded.
//! A flush so needs, beyond the rows it took, a few bytes per row and one row group, not two
//! more copies of every row (the concatenated batch and the sorted one).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, DictionaryArray, Int32Array, StringArray};
use arrow::datatypes::{DataType, FieldRef, Int32Type, Schema, SchemaRef};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};

use crate::buffer::{Taken, TIME_COLUMN};
use crate::series::day_of;
use crate::{EngineError, Result};

fn internal(e: arrow::error::ArrowError) -> EngineError {
    EngineError::Internal(e.to_string())
}

/// One file's rows among the sorted output rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DayRun {
    /// UTC day number.
    pub(crate) day: i64,
    /// First output row.
    pub(crate) start: usize,
    /// Output rows.
    pub(crate) len: usize,
    pub(crate) min_time_ns: i64,
    pub(crate) max_time_ns: i64,
}

/// Output rows of a [`Sorted`]: each one's first write (numbered across parts), and that
/// write's part and row.
pub(crate) struct Slice {
    start: usize,
    len: usize,
    keys: Vec<u32>,
    at: Vec<(usize, usize)>,
}

/// A tag column over every part: its distinct values in byte order, and each row's rank.
struct Tag {
    values: ArrayRef,
    /// Per row of the parts (in part order): 0 for null, else 1 + the value's place.
    ranks: Vec<u32>,
}

/// The rows of `parts`, sorted by UTC day, every tag (by name), time, then arrival (write
/// pass, then position), with the writes of one point (series and time) merged as InfluxDB
/// 1.x does: the union of their fields, each taking its last written value.
pub(crate) struct Sorted<'a> {
    parts: &'a [Taken],
    /// The union of the parts' columns in the buffers' order: tags, fields (each by name), time.
    schema: SchemaRef,
    /// Per column of `schema`, its index in each part (None: that part lacks it).
    sources: Vec<Vec<Option<usize>>>,
    /// Per column, a one-row null array: what a part without the column reads.
    nulls: Vec<ArrayRef>,
    /// First row of each part in the rows numbered across parts, then the total.
    starts: Vec<usize>,
    /// The schema's tag columns (its first columns), in order.
    tags: Vec<Tag>,
    /// Rows (numbered across parts) in output order.
    order: Vec<u32>,
    /// Per output row, the end in `order` of its point's writes (None: every point was
    /// written once, so output row i is `order[i]`).
    ends: Option<Vec<u32>>,
    runs: Vec<DayRun>,
}

impl<'a> Sorted<'a> {
    pub(crate) fn new(parts: &'a [Taken]) -> Result<Self> {
        let schema = union_schema(parts);
        let sources: Vec<Vec<Option<usize>>> = schema
            .fields()
            .iter()
            .map(|f| {
                parts
                    .iter()
                    .map(|p| p.batch.schema().index_of(f.name()).ok())
                    .collect()
            })
            .collect();
        let nulls = schema
            .fields()
            .iter()
            .map(|f| arrow::array::new_null_array(f.data_type(), 1))
            .collect();
        let mut starts = Vec::with_capacity(parts.len() + 1);
        let mut total = 0usize;
        for p in parts {
            starts.push(total);
            total += p.batch.num_rows();
        }
        starts.push(total);
        if u32::try_from(total).is_err() {
            return Err(EngineError::Internal(format!(
                "{total} rows in one flush of one measurement"
            )));
        }
        let n_tags = crate::buffer::tag_indices(&schema).len();
        let tags = sources[..n_tags]
            .iter()
            .map(|src| {
                let cols: Vec<Option<&dyn Array>> = parts
                    .iter()
                    .zip(src)
                    .map(|(p, i)| i.map(|i| p.batch.column(i).as_ref()))
                    .collect();
                let lens: Vec<usize> = parts.iter().map(|p| p.batch.num_rows()).collect();
                tag_ranks(&cols, &lens).map(|(values, ranks)| Tag { values, ranks })
            })
            .collect::<Result<Vec<_>>>()?;
        let time_at = schema
            .index_of(TIME_COLUMN)
            .map_err(|_| EngineError::Internal("rows without a time column".into()))?;
        let mut time: Vec<i64> = Vec::with_capacity(total);
        let mut seq: Vec<u64> = Vec::with_capacity(total);
        for (p, src) in parts.iter().zip(&sources[time_at]) {
            let col = src
                .map(|i| p.batch.column(i))
                .and_then(|c| c.as_primitive_opt::<arrow::datatypes::TimestampNanosecondType>())
                .ok_or_else(|| EngineError::Internal("batch without a time column".into()))?;
            time.extend_from_slice(col.values());
            seq.extend_from_slice(p.seq.values());
        }
        let ranks: Vec<&[u32]> = tags.iter().map(|t| t.ranks.as_slice()).collect();
        let mut order = series_time_order(&ranks, &time, &seq);
        drop(seq);
        // Days as the most significant key: one more stable counting sort, by day rank.
        let mut days: Vec<i64> = time.iter().map(|&t| day_of(t)).collect();
        days.sort_unstable();
        days.dedup();
        if days.len() > 1 {
            let day_ranks: Vec<u32> = time
                .iter()
                .map(|&t| days.binary_search(&day_of(t)).unwrap_or(0) as u32)
                .collect();
            order = stable_counting_sort(order, &day_ranks);
        }
        let same_point = |a: u32, b: u32| {
            let (a, b) = (a as usize, b as usize);
            time[a] == time[b] && ranks.iter().all(|r| r[a] == r[b])
        };
        let mut ends: Vec<u32> = Vec::new();
        let mut merged_any = false;
        let mut runs: Vec<DayRun> = Vec::new();
        let mut out_rows = 0usize;
        for pos in 0..order.len() {
            if pos > 0 && same_point(order[pos - 1], order[pos]) {
                if !merged_any {
                    // The first repeated point: every output row so far was one write.
                    merged_any = true;
                    ends = Vec::with_capacity(order.len());
                    ends.extend(1..=out_rows as u32);
                }
                if let Some(end) = ends.last_mut() {
                    *end = pos as u32 + 1;
                }
                continue;
            }
            if merged_any {
                ends.push(pos as u32 + 1);
            }
            let t = time[order[pos] as usize];
            let day = day_of(t);
            match runs.last_mut() {
                // Sorted by series then time within a day: min and max need a look at each.
                Some(r) if r.day == day => {
                    r.len += 1;
                    r.min_time_ns = r.min_time_ns.min(t);
                    r.max_time_ns = r.max_time_ns.max(t);
                }
                _ => runs.push(DayRun {
                    day,
                    start: out_rows,
                    len: 1,
                    min_time_ns: t,
                    max_time_ns: t,
                }),
            }
            out_rows += 1;
        }
        Ok(Sorted {
            parts,
            schema,
            sources,
            nulls,
            starts,
            tags,
            order,
            ends: merged_any.then_some(ends),
            runs,
        })
    }

    pub(crate) fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// Each file's output rows, in day order.
    pub(crate) fn runs(&self) -> &[DayRun] {
        &self.runs
    }

    /// Output rows (points) in all.
    #[cfg(test)]
    pub(crate) fn rows(&self) -> usize {
        self.runs.iter().map(|r| r.len).sum()
    }

    /// Output row `j`'s writes: a range of `order`.
    fn writes(&self, j: usize) -> std::ops::Range<usize> {
        match &self.ends {
            None => j..j + 1,
            Some(ends) => {
                let start = if j == 0 { 0 } else { ends[j - 1] as usize };
                start..ends[j] as usize
            }
        }
    }

    /// Part and row within it of a row numbered across parts.
    fn locate(&self, row: u32) -> (usize, usize) {
        let row = row as usize;
        let part = self.starts.partition_point(|&s| s <= row) - 1;
        (part, row - self.starts[part])
    }

    /// Output rows `start..start + len` as one batch of [`Self::schema`].
    #[cfg(test)]
    pub(crate) fn batch(&self, start: usize, len: usize) -> Result<RecordBatch> {
        let slice = self.slice(start, len);
        let columns = (0..self.schema.fields().len())
            .map(|c| self.column(&slice, c))
            .collect::<Result<Vec<_>>>()?;
        RecordBatch::try_new(self.schema(), columns).map_err(internal)
    }

    /// Where output rows `start..start + len` come from, for [`Self::column`].
    pub(crate) fn slice(&self, start: usize, len: usize) -> Slice {
        let keys: Vec<u32> = (start..start + len)
            .map(|j| self.order[self.writes(j).start])
            .collect();
        let at = keys.iter().map(|&r| self.locate(r)).collect();
        Slice {
            start,
            len,
            keys,
            at,
        }
    }

    /// Column `c` of [`Self::schema`] for the rows of `slice`.
    pub(crate) fn column(&self, slice: &Slice, c: usize) -> Result<ArrayRef> {
        if let Some(tag) = self.tags.get(c) {
            return tag_column(tag, &slice.keys);
        }
        let field = self.schema.field(c);
        let src = &self.sources[c];
        let arrays: Vec<&dyn Array> = self
            .parts
            .iter()
            .zip(src)
            .map(|(p, i)| match i {
                Some(i) => p.batch.column(*i).as_ref(),
                None => self.nulls[c].as_ref(),
            })
            .collect();
        let present = |(part, row): (usize, usize)| match src[part] {
            Some(_) => (part, row),
            None => (part, 0),
        };
        let indices: Vec<(usize, usize)> = if self.ends.is_none() || field.name() == TIME_COLUMN {
            slice.at.iter().map(|&a| present(a)).collect()
        } else {
            // A field takes its last non-null value in arrival order (the sort's
            // tie-breaker), or null if the point has none.
            (slice.start..slice.start + slice.len)
                .map(|j| {
                    let writes = &self.order[self.writes(j)];
                    let last = writes.last().copied().unwrap_or_default();
                    let chosen = writes
                        .iter()
                        .rev()
                        .map(|&r| self.locate(r))
                        .find(|&(part, row)| src[part].is_some() && arrays[part].is_valid(row))
                        .unwrap_or_else(|| self.locate(last));
                    present(chosen)
                })
                .collect()
        };
        arrow::compute::interleave(&arrays, &indices).map_err(internal)
    }

    /// The tag columns of `run`'s distinct series, one row each, sorted: what the series
    /// index learns of the file.
    pub(crate) fn series(&self, run: &DayRun) -> Result<RecordBatch> {
        let mut keys: Vec<u32> = Vec::new();
        let mut last: Option<u32> = None;
        for j in run.start..run.start + run.len {
            let row = self.order[self.writes(j).start];
            let same = last.is_some_and(|l| {
                self.tags
                    .iter()
                    .all(|t| t.ranks[l as usize] == t.ranks[row as usize])
            });
            if !same {
                keys.push(row);
            }
            last = Some(row);
        }
        let fields: Vec<FieldRef> = self.schema.fields()[..self.tags.len()].to_vec();
        let columns = self
            .tags
            .iter()
            .map(|t| tag_column(t, &keys))
            .collect::<Result<Vec<_>>>()?;
        RecordBatch::try_new_with_options(
            Arc::new(Schema::new(fields)),
            columns,
            &RecordBatchOptions::new().with_row_count(Some(keys.len())),
        )
        .map_err(internal)
    }
}

/// A tag column of the rows `rows` (numbered across parts), keyed into the tag's sorted values.
fn tag_column(tag: &Tag, rows: &[u32]) -> Result<ArrayRef> {
    let keys: Int32Array = rows
        .iter()
        .map(|&r| match tag.ranks[r as usize] {
            0 => None,
            rank => Some(rank as i32 - 1),
        })
        .collect();
    let dict =
        DictionaryArray::<Int32Type>::try_new(keys, Arc::clone(&tag.values)).map_err(internal)?;
    Ok(Arc::new(dict))
}

/// The union of the parts' columns (a column a part lacks reads as null there), in the
/// buffers' order: tags by name, fields by name, time.
fn union_schema(parts: &[Taken]) -> SchemaRef {
    let mut fields: Vec<FieldRef> = Vec::new();
    for t in parts {
        for f in t.batch.schema().fields() {
            if !fields.iter().any(|g| g.name() == f.name()) {
                fields.push(FieldRef::clone(f));
            }
        }
    }
    let rank = |f: &arrow::datatypes::Field| match (f.data_type(), f.name().as_str()) {
        (DataType::Dictionary(_, _), _) => 0,
        (_, TIME_COLUMN) => 2,
        _ => 1,
    };
    fields.sort_by(|a, b| (rank(a), a.name()).cmp(&(rank(b), b.name())));
    Arc::new(Schema::new(fields))
}

/// One tag column over every part (`None`: the part lacks it; `lens` are the parts' rows):
/// its distinct values in byte order, and each row's rank, 0 for null, else 1 + the place of
/// its value. Sorting by ranks is sorting by the strings, at the cost of one sort of the
/// dictionaries' values instead of a string comparison per row comparison.
pub(crate) fn tag_ranks(
    cols: &[Option<&dyn Array>],
    lens: &[usize],
) -> Result<(ArrayRef, Vec<u32>)> {
    let mut dicts = Vec::with_capacity(cols.len());
    for col in cols {
        dicts.push(match col {
            None => None,
            Some(col) => {
                let dict = col
                    .as_dictionary_opt::<Int32Type>()
                    .ok_or_else(|| EngineError::Internal("tag column of another type".into()))?;
                let values = dict.values().as_string_opt::<i32>().ok_or_else(|| {
                    EngineError::Internal("tag dictionary of another type".into())
                })?;
                Some((dict, values))
            }
        });
    }
    // Every part's values, sorted; equal values (across parts, or repeated in one merged
    // dictionary) share a rank.
    let mut all: Vec<(&str, u32, u32)> = Vec::new();
    for (p, d) in dicts.iter().enumerate() {
        if let Some((_, values)) = d {
            for k in 0..values.len() {
                if values.is_valid(k) {
                    all.push((values.value(k), p as u32, k as u32));
                }
            }
        }
    }
    all.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let mut rank_of: Vec<Vec<u32>> = dicts
        .iter()
        .map(|d| vec![0u32; d.map_or(0, |(_, v)| v.len())])
        .collect();
    let mut distinct: Vec<&str> = Vec::new();
    for &(value, p, k) in &all {
        if distinct.last() != Some(&value) {
            distinct.push(value);
        }
        rank_of[p as usize][k as usize] = distinct.len() as u32;
    }
    let values: ArrayRef = Arc::new(StringArray::from_iter_values(distinct));
    let mut ranks = Vec::with_capacity(lens.iter().sum());
    for ((d, &len), rank_of) in dicts.iter().zip(lens).zip(&rank_of) {
        match d {
            None => ranks.extend(std::iter::repeat_n(0, len)),
            Some((dict, _)) => {
                let keys = dict.keys();
                ranks.extend((0..keys.len()).map(|i| {
                    if keys.is_valid(i) {
                        usize::try_from(keys.value(i))
                            .ok()
                            .and_then(|k| rank_of.get(k).copied())
                            .unwrap_or(0)
                    } else {
                        0
                    }
                }));
            }
        }
    }
    Ok((values, ranks))
}

/// Row order by (every tag rank, in order), time, write pass, position: a stable sort by
/// (time, pass) — nearly sorted already, rows arrive in time order — then one stable counting
/// sort per tag, last tag first (least significant digit first), so the first tag ends up
/// most significant.
pub(super) fn series_time_order(tags: &[&[u32]], time: &[i64], seq: &[u64]) -> Vec<u32> {
    let mut order: Vec<u32> = (0..time.len() as u32).collect();
    order.sort_by_key(|&i| (time[i as usize], seq[i as usize]));
    for ranks in tags.iter().rev() {
        order = stable_counting_sort(order, ranks);
    }
    order
}

/// `order` stably re-sorted by `ranks[row]` (small integers): two passes, no comparisons.
pub(crate) fn stable_counting_sort(order: Vec<u32>, ranks: &[u32]) -> Vec<u32> {
    let max = ranks.iter().copied().max().unwrap_or(0) as usize;
    let mut start = vec![0usize; max + 2];
    for &i in &order {
        start[ranks[i as usize] as usize + 1] += 1;
    }
    for r in 1..start.len() {
        start[r] += start[r - 1];
    }
    let mut out = vec![0u32; order.len()];
    for &i in &order {
        let r = ranks[i as usize] as usize;
        out[start[r]] = i;
        start[r] += 1;
    }
    out
}
