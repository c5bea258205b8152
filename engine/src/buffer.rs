//! A measurement's in-memory buffer: one Arrow builder per column, growing as new tags and fields
//! appear (earlier rows read as null in a new column).

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int64Builder, StringBuilder,
    TimestampNanosecondBuilder, UInt64Builder,
};
use arrow::datatypes::{DataType, Field, Int32Type, Schema, TimeUnit};
use arrow::record_batch::RecordBatch;
use catalog::{ColumnType, FieldType};
use lp::FieldValue;

use crate::hash::{eq_short, SeededWordHash};
use crate::{EngineError, Result};

/// The name of the time column in every table.
pub const TIME_COLUMN: &str = "time";

/// A dictionary-encoded string column. Arrow's `StringDictionaryBuilder` hashes every value; here
/// a value equal to the previous row's (runs of one series, constant tags) costs one comparison,
/// and the rest one [`crate::hash::WordHasher`] lookup.
#[derive(Default)]
struct TagColumn {
    keys: Vec<i32>,
    /// Validity, materialised at the first null.
    nulls: Option<arrow::array::BooleanBufferBuilder>,
    values: Vec<String>,
    index: HashMap<String, i32, SeededWordHash>,
    last: Option<i32>,
}

impl TagColumn {
    fn len(&self) -> usize {
        self.keys.len()
    }

    fn append(&mut self, value: &str) -> Result<()> {
        let key = match self.last {
            Some(k)
                if self
                    .values
                    .get(k as usize)
                    .is_some_and(|v| eq_short(v, value)) =>
            {
                k
            }
            _ => match self.index.get(value) {
                Some(&k) => k,
                None => {
                    let k = i32::try_from(self.values.len()).map_err(|_| {
                        EngineError::Internal(
                            "more than 2^31 distinct tag values in one buffer".into(),
                        )
                    })?;
                    self.values.push(value.to_owned());
                    self.index.insert(value.to_owned(), k);
                    k
                }
            },
        };
        self.last = Some(key);
        self.keys.push(key);
        if let Some(n) = &mut self.nulls {
            n.append(true);
        }
        Ok(())
    }

    fn append_nulls(&mut self, count: usize) {
        let nulls = self.nulls.get_or_insert_with(|| {
            let mut b = arrow::array::BooleanBufferBuilder::new(self.keys.len() + count);
            b.append_n(self.keys.len(), true);
            b
        });
        nulls.append_n(count, false);
        self.keys.extend(std::iter::repeat_n(0, count));
    }

    fn finish(&mut self) -> ArrayRef {
        let values = arrow::array::StringArray::from_iter_values(std::mem::take(&mut self.values));
        self.index.clear();
        self.last = None;
        self.take_keys(0, values)
    }

    /// The rows so far as an array, leaving the column as it is (a snapshot's copy).
    fn finish_cloned(&self) -> ArrayRef {
        let keys = arrow::array::Int32Array::new(
            self.keys.clone().into(),
            self.nulls
                .as_ref()
                .map(|n| arrow::buffer::NullBuffer::new(n.finish_cloned())),
        );
        let values = arrow::array::StringArray::from_iter_values(&self.values);
        dictionary(keys, values)
    }

    /// An empty column with room for `rows` rows and as many distinct values as this one.
    fn fresh(&self, rows: usize) -> Self {
        TagColumn {
            keys: Vec::with_capacity(rows),
            nulls: None,
            values: Vec::with_capacity(self.values.len()),
            index: HashMap::with_capacity_and_hasher(self.index.len(), Default::default()),
            last: None,
        }
    }

    /// The rows so far as an array, leaving room for `capacity` more. A small dictionary is
    /// kept for the next chunk (its values are copied into the array): rebuilding it would
    /// cost an allocation and a hash insert per distinct value per chunk. A large one (high
    /// cardinality) starts over, so that chunks do not each carry a copy of it.
    fn seal(&mut self, capacity: usize) -> ArrayRef {
        if self.values.len() > CHUNK_ROWS / 4 {
            let mut sealed = std::mem::replace(self, self.fresh(capacity));
            return sealed.finish();
        }
        let values = arrow::array::StringArray::from_iter_values(&self.values);
        self.take_keys(capacity, values)
    }

    /// Keys (and validity) as a dictionary array over `values`; the keys start over with room
    /// for `capacity` rows.
    fn take_keys(&mut self, capacity: usize, values: arrow::array::StringArray) -> ArrayRef {
        let keys = arrow::array::Int32Array::new(
            std::mem::replace(&mut self.keys, Vec::with_capacity(capacity)).into(),
            self.nulls
                .take()
                .map(|mut n| arrow::buffer::NullBuffer::new(n.finish())),
        );
        dictionary(keys, values)
    }
}

fn dictionary(keys: arrow::array::Int32Array, values: arrow::array::StringArray) -> ArrayRef {
    // Keys are in range by construction; a failure here is a bug, reported as an empty column
    // rather than a panic (building the batch then fails on the length, as an error).
    match arrow::array::DictionaryArray::<Int32Type>::try_new(keys, Arc::new(values)) {
        Ok(a) => Arc::new(a),
        Err(e) => {
            tracing::error!(error = %e, "building a tag column failed");
            arrow::array::new_null_array(&arrow_type(ColumnType::Tag), 0)
        }
    }
}

enum Builder {
    Tag(TagColumn),
    Float(Float64Builder),
    Integer(Int64Builder),
    Unsigned(UInt64Builder),
    String(StringBuilder),
    Boolean(BooleanBuilder),
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Builder({} rows)", self.len())
    }
}

impl Builder {
    fn new(ty: ColumnType) -> Self {
        match ty {
            ColumnType::Tag => Builder::Tag(TagColumn::default()),
            ColumnType::Field(FieldType::Float) => Builder::Float(Float64Builder::new()),
            ColumnType::Field(FieldType::Integer) => Builder::Integer(Int64Builder::new()),
            ColumnType::Field(FieldType::Unsigned) => Builder::Unsigned(UInt64Builder::new()),
            ColumnType::Field(FieldType::String) => Builder::String(StringBuilder::new()),
            ColumnType::Field(FieldType::Boolean) => Builder::Boolean(BooleanBuilder::new()),
        }
    }

    fn len(&self) -> usize {
        use arrow::array::ArrayBuilder;
        match self {
            Builder::Tag(b) => b.len(),
            Builder::Float(b) => b.len(),
            Builder::Integer(b) => b.len(),
            Builder::Unsigned(b) => b.len(),
            Builder::String(b) => b.len(),
            Builder::Boolean(b) => b.len(),
        }
    }

    fn append_nulls(&mut self, n: usize) {
        // Even zero nulls would make Arrow materialise a validity bitmap that every later
        // value then pays for.
        if n == 0 {
            return;
        }
        match self {
            Builder::Tag(b) => b.append_nulls(n),
            Builder::Float(b) => b.append_nulls(n),
            Builder::Integer(b) => b.append_nulls(n),
            Builder::Unsigned(b) => b.append_nulls(n),
            Builder::String(b) => b.append_nulls(n),
            Builder::Boolean(b) => b.append_nulls(n),
        }
    }

    fn finish_cloned(&self) -> ArrayRef {
        match self {
            Builder::Tag(b) => b.finish_cloned(),
            Builder::Float(b) => Arc::new(b.finish_cloned()),
            Builder::Integer(b) => Arc::new(b.finish_cloned()),
            Builder::Unsigned(b) => Arc::new(b.finish_cloned()),
            Builder::String(b) => Arc::new(b.finish_cloned()),
            Builder::Boolean(b) => Arc::new(b.finish_cloned()),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Tag(b) => b.finish(),
            Builder::Float(b) => Arc::new(b.finish()),
            Builder::Integer(b) => Arc::new(b.finish()),
            Builder::Unsigned(b) => Arc::new(b.finish()),
            Builder::String(b) => Arc::new(b.finish()),
            Builder::Boolean(b) => Arc::new(b.finish()),
        }
    }
}

/// The Arrow type a column is stored as.
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
}

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
    /// leaving the buffer as it is: sealed chunks are shared, the builders' rows copied.
    pub fn snapshot(&self) -> Result<Vec<Taken>> {
        let mut out = self.sealed.clone();
        if self.rows > 0 {
            let order = self.column_order();
            let arrays = order
                .iter()
                .filter_map(|&i| self.columns.get(i))
                .map(|c| c.builder.finish_cloned())
                .collect();
            out.push(self.batch_of(&order, arrays, self.time.finish_cloned())?);
        }
        Ok(out)
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

    /// The builders' rows as a batch of `arrays` (in `order`) and `time`, with each row's pass.
    fn batch_of(
        &self,
        order: &[usize],
        mut arrays: Vec<ArrayRef>,
        time: arrow::array::TimestampNanosecondArray,
    ) -> Result<Taken> {
        let mut fields: Vec<Field> = order
            .iter()
            .filter_map(|&i| self.columns.get(i))
            .map(|c| Field::new(&c.name, arrow_type(c.ty), true))
            .collect();
        fields.push(Field::new(TIME_COLUMN, time_type(), false));
        arrays.push(Arc::new(time) as ArrayRef);
        let mut seq = arrow::array::UInt64Builder::with_capacity(self.rows);
        let mut from = 0;
        for &(s, end) in &self.runs {
            seq.append_value_n(s, end - from);
            from = end;
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
            let col = &mut self.columns[i];
            arrays.push(match (&mut col.builder, capacity) {
                (_, 0) => std::mem::replace(&mut col.builder, Builder::new(col.ty)).finish(),
                (Builder::Tag(t), _) => t.seal(capacity),
                (b, _) => {
                    let fresh = b.fresh(capacity);
                    std::mem::replace(b, fresh).finish()
                }
            });
        }
        let mut time = std::mem::replace(
            &mut self.time,
            TimestampNanosecondBuilder::with_capacity(capacity).with_timezone("UTC"),
        );
        let taken = self.batch_of(&order, arrays, time.finish());
        self.runs.clear();
        self.rows = 0;
        taken.map(Some)
    }
}

impl Builder {
    fn append_null_once(&mut self) {
        self.append_nulls(1);
    }

    /// An empty builder of the same type with room for `rows` rows (strings: for as many value
    /// bytes as this one holds; tags: for as many distinct values).
    fn fresh(&self, rows: usize) -> Self {
        match self {
            Builder::Tag(t) => Builder::Tag(t.fresh(rows)),
            Builder::Float(_) => Builder::Float(Float64Builder::with_capacity(rows)),
            Builder::Integer(_) => Builder::Integer(Int64Builder::with_capacity(rows)),
            Builder::Unsigned(_) => Builder::Unsigned(UInt64Builder::with_capacity(rows)),
            Builder::String(b) => {
                Builder::String(StringBuilder::with_capacity(rows, b.values_slice().len()))
            }
            Builder::Boolean(_) => Builder::Boolean(BooleanBuilder::with_capacity(rows)),
        }
    }
}

#[cfg(test)]
mod chunk_tests {
    use super::*;
    use arrow::array::AsArray;

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
}
