//! A measurement's in-memory buffer: one Arrow builder per column, growing as new tags and fields
//! appear (earlier rows read as null in a new column).

mod columns;

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, TimestampNanosecondBuilder};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use arrow::record_batch::RecordBatch;
use catalog::{ColumnType, FieldType};
use lp::FieldValue;

use crate::hash::SeededWordHash;
use crate::{EngineError, Result};
use columns::Builder;

/// The name of the time column in every table.
pub const TIME_COLUMN: &str = "time";

/// Positions of the tag columns of `schema`: tags are the dictionary-encoded columns, in
/// buffers and files alike.
pub(crate) fn tag_indices(schema: &arrow::datatypes::Schema) -> Vec<usize> {
    schema
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| matches!(f.data_type(), DataType::Dictionary(_, _)))
        .map(|(i, _)| i)
        .collect()
}

/// The Arrow type a column is stored as.
pub fn arrow_type(ty: ColumnType) -> DataType {
    match ty {
        ColumnType::Tag => {
            DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
        }
        ColumnType::Field(FieldType::Float) => DataType::Float64,
        ColumnType::Field(FieldType::Integer) => DataType::Int64,
        ColumnType::Field(FieldType::Unsigned) => DataType::UInt64,
        ColumnType::Field(FieldType::String) => DataType::Utf8,
        ColumnType::Field(FieldType::Boolean) => DataType::Boolean,
    }
}

/// The time column's Arrow type.
pub fn time_type() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
}

/// Which column type a field value needs.
pub fn field_type(value: &FieldValue<'_>) -> FieldType {
    match value {
        FieldValue::F64(_) => FieldType::Float,
        FieldValue::I64(_) => FieldType::Integer,
        FieldValue::U64(_) => FieldType::Unsigned,
        FieldValue::String(_) => FieldType::String,
        FieldValue::Bool(_) => FieldType::Boolean,
    }
}

type ColumnIndex = HashMap<String, usize, SeededWordHash>;

#[derive(Debug)]
struct Column {
    name: String,
    ty: ColumnType,
    builder: Builder,
}

/// Rows per chunk: once the builders hold this many, they are sealed into an Arrow batch and
/// fresh builders of this capacity take over. Builders that grew without bound would double,
/// copying every column at once inside one unlucky write (tens of milliseconds at a few
/// hundred thousand rows) and holding twice the memory while they do. Sealing has a cost per
/// chunk (fresh builders, the dictionary's values copied): ~8 % of ingest at 64 Ki rows in the
/// engine bench, within its noise at 128 Ki.
pub(crate) const CHUNK_ROWS: usize = 128 * 1024;

/// Rows of one measurement waiting to be flushed.
#[derive(Debug)]
pub struct TableBuffer {
    columns: Vec<Column>,
    index: ColumnIndex,
    time: TimestampNanosecondBuilder,
    /// Rows in the builders (not yet sealed).
    rows: usize,
    /// Full chunks, sealed in arrival order, and their rows.
    sealed: Vec<Taken>,
    sealed_rows: usize,
    approx_bytes: usize,
    /// Which write pass appended which rows: `(pass sequence number, rows so far)` per run of
    /// rows from one pass. Shards of one measurement are merged at flush, and the sequence
    /// numbers (taken when a pass starts) restore the order in which writes were made, so the
    /// last write of a point still wins.
    runs: Vec<(u64, usize)>,
    /// Copies of the open chunk's rows `..copied_rows` that snapshots made, in row order. A
    /// snapshot copies only the rows after them: copying the whole open chunk on every query,
    /// under the shard's lock, stalled the writers of that shard. They go when the chunk is
    /// sealed or taken; they are not in `approx_bytes` (at most one copy of the open chunk).
    copies: Vec<Taken>,
    copied_rows: usize,
}

/// Copies of an open chunk kept before the next snapshot copies it whole again, as one: this
/// bounds the batches a snapshot returns while each copy stays a few queries' worth of rows.
const MAX_COPIES: usize = 8;

/// A buffer's rows as one batch, plus the write pass of every row (see [`TableBuffer::take`]).
/// Cloning shares the arrays.
#[derive(Debug, Clone, PartialEq)]
pub struct Taken {
    /// Columns: tags by name, fields by name, then time.
    pub batch: RecordBatch,
    /// Pass sequence number of each row.
    pub seq: arrow::array::UInt64Array,
}

impl Default for TableBuffer {
    fn default() -> Self {
        TableBuffer {
            columns: Vec::new(),
            index: ColumnIndex::default(),
            time: TimestampNanosecondBuilder::new().with_timezone("UTC"),
            rows: 0,
            sealed: Vec::new(),
            sealed_rows: 0,
            approx_bytes: 0,
            runs: Vec::new(),
            copies: Vec::new(),
            copied_rows: 0,
        }
    }
}

impl TableBuffer {
    /// Rows buffered.
    pub fn rows(&self) -> usize {
        self.sealed_rows + self.rows
    }

    /// A rough count of the bytes the buffered rows hold.
    pub fn approx_bytes(&self) -> usize {
        self.approx_bytes
    }

    /// The index of column `name` if the buffer has it, and its type.
    pub fn column(&self, name: &str) -> Option<(usize, ColumnType)> {
        let &i = self.index.get(name)?;
        self.columns.get(i).map(|c| (i, c.ty))
    }

    /// Adds a column; rows already buffered read as null in it.
    pub fn add_column(&mut self, name: &str, ty: ColumnType) -> usize {
        if let Some((i, _)) = self.column(name) {
            return i;
        }
        let mut builder = Builder::new(ty);
        builder.append_nulls(self.rows);
        self.columns.push(Column {
            name: name.to_owned(),
            ty,
            builder,
        });
        let i = self.columns.len() - 1;
        self.index.insert(name.to_owned(), i);
        i
    }

    /// Appends one row. `tags` and `fields` pair a column index (from [`Self::column`] or
    /// [`Self::add_column`]) with a value whose type the caller has checked against the column.
    /// `seq` is the sequence number of the write pass the row belongs to (later writes have
    /// larger numbers).
    pub fn append_row<'v>(
        &mut self,
        tags: impl Iterator<Item = (usize, &'v str)>,
        fields: impl Iterator<Item = (usize, &'v FieldValue<'v>)>,
        time_ns: i64,
        seq: u64,
    ) -> Result<()> {
        if self.rows >= CHUNK_ROWS {
            self.seal()?;
        }
        let mut bytes = 8;
        // Columns given a value; each column at most once (keys are unique within a line and
        // a name is either a tag or a field), so `filled == columns.len()` means none is missing.
        let mut filled = 0;
        for (i, value) in tags {
            if let Some(Column {
                builder: Builder::Tag(b),
                ..
            }) = self.columns.get_mut(i)
            {
                b.append(value)?;
                bytes += 4;
                filled += 1;
            }
        }
        for (i, value) in fields {
            let Some(col) = self.columns.get_mut(i) else {
                continue;
            };
            match (&mut col.builder, value) {
                (Builder::Float(b), FieldValue::F64(v)) => b.append_value(*v),
                (Builder::Integer(b), FieldValue::I64(v)) => b.append_value(*v),
                (Builder::Unsigned(b), FieldValue::U64(v)) => b.append_value(*v),
                (Builder::Boolean(b), FieldValue::Bool(v)) => b.append_value(*v),
                (Builder::String(b), FieldValue::String(v)) => {
                    bytes += v.len();
                    b.append_value(v)
                }
                _ => {
                    return Err(EngineError::Internal(format!(
                        "column {} does not take a {} value",
                        col.name,
                        value.type_name()
                    )))
                }
            }
            bytes += 8;
            filled += 1;
        }
        self.time.append_value(time_ns);
        self.rows += 1;
        match self.runs.last_mut() {
            Some((s, end)) if *s == seq => *end = self.rows,
            _ => self.runs.push((seq, self.rows)),
        }
        // Columns the row did not mention read as null.
        if filled < self.columns.len() {
            for col in &mut self.columns {
                if col.builder.len() < self.rows {
                    col.builder.append_null_once();
                }
            }
        }
        self.approx_bytes += bytes;
        Ok(())
    }

    /// An empty buffer with the same columns, each with room for as many rows as this one's
    /// builders hold: what replaces a buffer taken by a flush, so that the next rows do not
    /// grow the builders from nothing.
    pub fn fresh_like(&self) -> TableBuffer {
        TableBuffer {
            columns: self
                .columns
                .iter()
                .map(|c| Column {
                    name: c.name.clone(),
                    ty: c.ty,
                    builder: c.builder.fresh(self.rows),
                })
                .collect(),
            index: self.index.clone(),
            time: TimestampNanosecondBuilder::with_capacity(self.rows).with_timezone("UTC"),
            ..TableBuffer::default()
        }
    }

    /// Seals the builders' rows as a chunk and starts fresh builders with room for a whole
    /// chunk. Columns and their order stay; only the rows move.
    fn seal(&mut self) -> Result<()> {
        let rows = self.rows;
        if let Some(chunk) = self.finish_builders(CHUNK_ROWS)? {
            self.sealed.push(chunk);
            self.sealed_rows += rows;
        }
        Ok(())
    }

    /// Takes every buffered row, as batches in arrival order (sealed chunks, then the rows
    /// still in builders; columns: tags by name, fields by name, then time) with each row's
    /// pass sequence number, leaving the buffer empty but with the same columns.
    pub fn take(&mut self) -> Result<Vec<Taken>> {
        let mut out = std::mem::take(&mut self.sealed);
        out.extend(self.finish_builders(0)?);
        self.sealed_rows = 0;
        self.approx_bytes = 0;
        Ok(out)
    }

    /// Every buffered row as batches in arrival order, as [`Self::take`] gives them, but
    /// leaving the buffer's rows as they are: sealed chunks are shared, the builders' rows
    /// copied, only those no earlier snapshot copied (the copy is kept for the next one).
    pub fn snapshot(&mut self) -> Result<Vec<Taken>> {
        if self.rows > self.copied_rows {
            if self.copies.len() >= MAX_COPIES {
                self.copies.clear();
                self.copied_rows = 0;
            }
            let copy = self.copy_from(self.copied_rows)?;
            self.copies.push(copy);
            self.copied_rows = self.rows;
        }
        let mut out = Vec::with_capacity(self.sealed.len() + self.copies.len());
        out.extend(self.sealed.iter().cloned());
        out.extend(self.copies.iter().cloned());
        Ok(out)
    }

    /// As [`Self::snapshot`], for a buffer no longer written to (a flush's): the builders'
    /// rows are copied whole and the copy is not kept.
    pub fn snapshot_once(&self) -> Result<Vec<Taken>> {
        let mut out = self.sealed.clone();
        if self.rows > 0 {
            out.push(self.copy_from(0)?);
        }
        Ok(out)
    }

    /// The builders' rows `from..` as a batch, leaving the builders as they are.
    fn copy_from(&self, from: usize) -> Result<Taken> {
        let order = self.column_order();
        let mut arrays = Vec::with_capacity(order.len() + 1);
        for &i in &order {
            arrays.push(self.columns[i].builder.copy_from(from));
        }
        let time = columns::primitive_from(&self.time, from).with_timezone("UTC");
        self.batch_of(&order, arrays, time, from)
    }

    /// Column indexes in batch order: tags by name, then fields by name.
    fn column_order(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.columns.len()).collect();
        order.sort_by(|&a, &b| {
            let (ca, cb) = (&self.columns[a], &self.columns[b]);
            (ca.ty != ColumnType::Tag, &ca.name).cmp(&(cb.ty != ColumnType::Tag, &cb.name))
        });
        order
    }

    /// The builders' rows `from..` as a batch of `arrays` (in `order`) and `time`, with each
    /// row's pass.
    fn batch_of(
        &self,
        order: &[usize],
        mut arrays: Vec<ArrayRef>,
        time: arrow::array::TimestampNanosecondArray,
        from: usize,
    ) -> Result<Taken> {
        let mut fields: Vec<Field> = order
            .iter()
            .filter_map(|&i| self.columns.get(i))
            .map(|c| Field::new(&c.name, arrow_type(c.ty), true))
            .collect();
        fields.push(Field::new(TIME_COLUMN, time_type(), false));
        arrays.push(Arc::new(time) as ArrayRef);
        let mut seq = arrow::array::UInt64Builder::with_capacity(self.rows - from);
        let mut start = 0;
        for &(s, end) in &self.runs {
            if end > from {
                seq.append_value_n(s, end - start.max(from));
            }
            start = end;
        }
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)
            .map_err(|e| EngineError::Internal(format!("building a batch: {e}")))?;
        Ok(Taken {
            batch,
            seq: seq.finish(),
        })
    }

    /// The builders' rows as one batch; the builders are replaced by empty ones with room for
    /// `capacity` rows.
    fn finish_builders(&mut self, capacity: usize) -> Result<Option<Taken>> {
        if self.rows == 0 {
            return Ok(None);
        }
        let order = self.column_order();
        let mut arrays = Vec::with_capacity(order.len() + 1);
        for &i in &order {
            arrays.push(self.columns[i].builder.seal(capacity));
        }
        let mut time = std::mem::replace(
            &mut self.time,
            TimestampNanosecondBuilder::with_capacity(capacity).with_timezone("UTC"),
        );
        let taken = self.batch_of(&order, arrays, time.finish(), 0);
        self.runs.clear();
        self.rows = 0;
        self.copies.clear();
        self.copied_rows = 0;
        taken.map(Some)
    }
}

#[cfg(test)]
mod chunk_tests {
    use super::*;
    use arrow::array::AsArray;
    use arrow::datatypes::Int32Type;

    #[test]
    fn full_builders_are_sealed_and_taken_in_order() {
        // A dictionary small enough to be kept from chunk to chunk, and one that is not.
        for hosts in [7, 20_000] {
            sealed_and_taken_in_order(hosts);
        }
    }

    fn sealed_and_taken_in_order(hosts: usize) {
        let mut buf = TableBuffer::default();
        let t = buf.add_column("host", ColumnType::Tag);
        let v = buf.add_column("v", ColumnType::Field(FieldType::Integer));
        let total = 2 * CHUNK_ROWS + 10;
        for i in 0..total {
            let host = format!("h{}", i % hosts);
            let value = FieldValue::I64(i as i64);
            buf.append_row(
                [(t, host.as_str())].into_iter(),
                [(v, &value)].into_iter(),
                i as i64,
                (i / 1000) as u64,
            )
            .expect("append");
        }
        assert_eq!(buf.rows(), total);
        // A column that appears after two chunks were sealed: earlier chunks lack it.
        let late = buf.add_column("late", ColumnType::Field(FieldType::Boolean));
        buf.append_row(
            [(t, "h0")].into_iter(),
            [(late, &FieldValue::Bool(true))].into_iter(),
            -1,
            u64::MAX,
        )
        .expect("append");
        // A snapshot reads the same rows as a take, and leaves them: twice, then the take.
        let seen = buf.snapshot().expect("snapshot");
        assert_eq!(buf.snapshot().expect("snapshot again"), seen);
        assert_eq!(buf.rows(), total + 1);
        let parts = buf.take().expect("take");
        assert_eq!(parts, seen);
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0].batch.num_rows(), CHUNK_ROWS);
        assert_eq!(parts[1].batch.num_rows(), CHUNK_ROWS);
        assert_eq!(parts[2].batch.num_rows(), 11);
        assert_eq!(buf.rows(), 0);
        assert_eq!(buf.approx_bytes(), 0);
        // Arrival order is kept across chunks: times and pass numbers ascend.
        let mut last = i64::MIN;
        for p in &parts[..2] {
            let time = p
                .batch
                .column_by_name(TIME_COLUMN)
                .and_then(|c| {
                    c.as_any()
                        .downcast_ref::<arrow::array::TimestampNanosecondArray>()
                        .cloned()
                })
                .expect("time");
            for x in time.values().iter() {
                assert!(*x > last);
                last = *x;
            }
        }
        assert_eq!(parts[2].seq.value(10), u64::MAX);
        // Sorted as a flush writes them: every row, the late column null where it was absent,
        // and each row's host the one it was written with.
        let sorted = crate::flush::Sorted::new(&parts).expect("sort");
        let out = sorted.batch(0, sorted.rows()).expect("batch");
        assert_eq!(out.num_rows(), total + 1);
        let late_col = out.column_by_name("late").expect("late column");
        assert_eq!(late_col.null_count(), total);
        let host = out
            .column_by_name("host")
            .and_then(|c| c.as_dictionary_opt::<Int32Type>())
            .expect("host column");
        let values = host.values().as_string::<i32>();
        let time = out
            .column_by_name(TIME_COLUMN)
            .and_then(|c| c.as_primitive_opt::<arrow::datatypes::TimestampNanosecondType>())
            .expect("time");
        for row in 0..out.num_rows() {
            let written = time.value(row).max(0) as usize % hosts;
            let key = host.keys().value(row) as usize;
            assert_eq!(values.value(key), format!("h{written}"), "row {row}");
        }
    }

    /// Each row of `parts` as its non-null values by column name, with its pass.
    fn rows_of(parts: &[Taken]) -> Vec<(u64, std::collections::BTreeMap<String, String>)> {
        let options = arrow::util::display::FormatOptions::default();
        let mut out = Vec::new();
        for p in parts {
            // Formatting a named time zone needs chrono-tz; the instant is what counts.
            let columns: Vec<ArrayRef> = p
                .batch
                .columns()
                .iter()
                .map(|c| match c.data_type() {
                    DataType::Timestamp(..) => {
                        arrow::compute::cast(c, &DataType::Int64).expect("time as integers")
                    }
                    _ => Arc::clone(c),
                })
                .collect();
            let formatters: Vec<_> = columns
                .iter()
                .map(|c| arrow::util::display::ArrayFormatter::try_new(c, &options).expect("fmt"))
                .collect();
            for row in 0..p.batch.num_rows() {
                let mut values = std::collections::BTreeMap::new();
                for (i, f) in p.batch.schema().fields().iter().enumerate() {
                    if columns[i].is_valid(row) {
                        values.insert(f.name().clone(), formatters[i].value(row).to_string());
                    }
                }
                out.push((p.seq.value(row), values));
            }
        }
        out
    }

    #[test]
    fn snapshots_copy_only_new_rows_and_read_as_a_take() {
        let mut buf = TableBuffer::default();
        let host = buf.add_column("host", ColumnType::Tag);
        let f = buf.add_column("f", ColumnType::Field(FieldType::Float));
        let mut snapshots = Vec::new();
        let mut row = 0i64;
        // More snapshots than MAX_COPIES, columns of every type appearing between them, rows
        // that leave columns null, a chunk sealed in between.
        for step in 0..3 * MAX_COPIES {
            let s = buf.add_column("s", ColumnType::Field(FieldType::String));
            let b = buf.add_column("b", ColumnType::Field(FieldType::Boolean));
            let late = (step > 4).then(|| buf.add_column("late_tag", ColumnType::Tag));
            let u = buf.add_column("u", ColumnType::Field(FieldType::Unsigned));
            let n = if step == 9 {
                CHUNK_ROWS
            } else {
                37 + step * 11
            };
            for _ in 0..n {
                let host_value = format!("h{}", row % (5 + step as i64));
                let text = format!("text-{row}");
                let fv = FieldValue::F64(row as f64);
                let sv = FieldValue::String(text.as_str().into());
                let bv = FieldValue::Bool(row % 3 == 0);
                let uv = FieldValue::U64(row as u64);
                let mut fields = vec![(f, &fv)];
                if row % 2 == 0 {
                    fields.push((s, &sv));
                }
                if row % 5 != 0 {
                    fields.push((b, &bv));
                }
                if row % 7 != 0 {
                    fields.push((u, &uv));
                }
                let mut tags = vec![(host, host_value.as_str())];
                if let Some(l) = late.filter(|_| row % 4 == 0) {
                    tags.push((l, "late"));
                }
                buf.append_row(tags.into_iter(), fields.into_iter(), row, step as u64)
                    .expect("append");
                row += 1;
            }
            snapshots.push(rows_of(&buf.snapshot().expect("snapshot")));
            assert!(buf.copies.len() <= MAX_COPIES);
        }
        let once = rows_of(&buf.snapshot_once().expect("snapshot once"));
        let taken = rows_of(&buf.take().expect("take"));
        assert_eq!(taken.len(), row as usize);
        assert_eq!(once, taken);
        assert_eq!(snapshots.last(), Some(&taken));
        // Every earlier snapshot is a prefix of the rows taken.
        for s in &snapshots {
            assert_eq!(s[..], taken[..s.len()]);
        }
        assert!(buf.copies.is_empty());
    }
}
