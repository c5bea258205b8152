//! One column's rows in memory: an Arrow builder per field type and a dictionary builder for
//! tags, with the copies a snapshot takes of them.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayBuilder, ArrayRef, ArrowPrimitiveType, BooleanArray, BooleanBuilder,
    Float64Builder, Int64Builder, PrimitiveArray, PrimitiveBuilder, StringArray, StringBuilder,
    UInt64Builder,
};
use arrow::buffer::{BooleanBuffer, Buffer, NullBuffer, OffsetBuffer};
use arrow::datatypes::Int32Type;
use catalog::{ColumnType, FieldType};

use super::{arrow_type, CHUNK_ROWS};
use crate::hash::{eq_short, SeededWordHash};
use crate::{EngineError, Result};

/// A dictionary-encoded string column. Arrow's `StringDictionaryBuilder` hashes every value; here
/// a value equal to the previous row's (runs of one series, constant tags) costs one comparison,
/// and the rest one [`crate::hash::WordHasher`] lookup.
#[derive(Default)]
pub(super) struct TagColumn {
    keys: Vec<i32>,
    /// Validity, materialised at the first null.
    nulls: Option<arrow::array::BooleanBufferBuilder>,
    values: Vec<String>,
    index: HashMap<String, i32, SeededWordHash>,
    last: Option<i32>,
    /// The dictionary as an array, as the last snapshot copy built it: values only grow while
    /// the column lives, so copies share it until a new value arrives.
    copied_values: parking_lot::Mutex<Option<Arc<StringArray>>>,
}

impl TagColumn {
    fn len(&self) -> usize {
        self.keys.len()
    }

    pub(super) fn append(&mut self, value: &str) -> Result<()> {
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
        *self.copied_values.get_mut() = None;
        self.take_keys(0, values)
    }

    /// Rows `from..` as an array, leaving the column as it is (a snapshot's copy).
    fn copy_from(&self, from: usize) -> ArrayRef {
        let keys = self.keys.get(from..).unwrap_or_default();
        let keys = arrow::array::Int32Array::new(
            keys.to_vec().into(),
            self.nulls
                .as_ref()
                .and_then(|n| bits_range(n.as_slice(), from, keys.len()))
                .map(NullBuffer::new),
        );
        let mut cached = self.copied_values.lock();
        let values = match &*cached {
            Some(v) if v.len() == self.values.len() => Arc::clone(v),
            _ => {
                let v = Arc::new(StringArray::from_iter_values(&self.values));
                *cached = Some(Arc::clone(&v));
                v
            }
        };
        dictionary_over(keys, values)
    }

    /// An empty column with room for `rows` rows and as many distinct values as this one.
    fn fresh(&self, rows: usize) -> Self {
        TagColumn {
            keys: Vec::with_capacity(rows),
            nulls: None,
            values: Vec::with_capacity(self.values.len()),
            index: HashMap::with_capacity_and_hasher(self.index.len(), Default::default()),
            last: None,
            copied_values: Default::default(),
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
    dictionary_over(keys, Arc::new(values))
}

fn dictionary_over(keys: arrow::array::Int32Array, values: Arc<StringArray>) -> ArrayRef {
    // Keys are in range by construction; a failure here is a bug, reported as an empty column
    // rather than a panic (building the batch then fails on the length, as an error).
    match arrow::array::DictionaryArray::<Int32Type>::try_new(keys, values) {
        Ok(a) => Arc::new(a),
        Err(e) => {
            tracing::error!(error = %e, "building a tag column failed");
            arrow::array::new_null_array(&arrow_type(ColumnType::Tag), 0)
        }
    }
}

pub(super) enum Builder {
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
    pub(super) fn new(ty: ColumnType) -> Self {
        match ty {
            ColumnType::Tag => Builder::Tag(TagColumn::default()),
            ColumnType::Field(FieldType::Float) => Builder::Float(Float64Builder::new()),
            ColumnType::Field(FieldType::Integer) => Builder::Integer(Int64Builder::new()),
            ColumnType::Field(FieldType::Unsigned) => Builder::Unsigned(UInt64Builder::new()),
            ColumnType::Field(FieldType::String) => Builder::String(StringBuilder::new()),
            ColumnType::Field(FieldType::Boolean) => Builder::Boolean(BooleanBuilder::new()),
        }
    }

    pub(super) fn len(&self) -> usize {
        match self {
            Builder::Tag(b) => b.len(),
            Builder::Float(b) => b.len(),
            Builder::Integer(b) => b.len(),
            Builder::Unsigned(b) => b.len(),
            Builder::String(b) => b.len(),
            Builder::Boolean(b) => b.len(),
        }
    }

    pub(super) fn append_nulls(&mut self, n: usize) {
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

    /// Rows `from..` as an array, leaving the builder as it is (a snapshot's copy).
    pub(super) fn copy_from(&self, from: usize) -> ArrayRef {
        match self {
            Builder::Tag(b) => b.copy_from(from),
            Builder::Float(b) => Arc::new(primitive_from(b, from)),
            Builder::Integer(b) => Arc::new(primitive_from(b, from)),
            Builder::Unsigned(b) => Arc::new(primitive_from(b, from)),
            Builder::String(b) => strings_from(b, from),
            Builder::Boolean(b) => {
                let len = b.len().saturating_sub(from);
                let values = bits_range(b.values_slice(), from, len)
                    .unwrap_or_else(|| BooleanBuffer::new_unset(len));
                let nulls = b
                    .validity_slice()
                    .and_then(|v| bits_range(v, from, len))
                    .map(NullBuffer::new);
                Arc::new(BooleanArray::new(values, nulls))
            }
        }
    }

    /// The rows so far as an array; the builder starts over with room for `capacity` rows
    /// (none: an empty builder, for a buffer that is being taken whole).
    pub(super) fn seal(&mut self, capacity: usize) -> ArrayRef {
        if let (Builder::Tag(t), true) = (&mut *self, capacity > 0) {
            return t.seal(capacity);
        }
        let fresh = match (&*self, capacity) {
            (Builder::Tag(_), 0) => Builder::Tag(TagColumn::default()),
            _ => self.fresh(capacity),
        };
        std::mem::replace(self, fresh).finish()
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

impl Builder {
    pub(super) fn append_null_once(&mut self) {
        self.append_nulls(1);
    }

    /// An empty builder of the same type with room for `rows` rows (strings: for as many value
    /// bytes as this one holds; tags: for as many distinct values).
    pub(super) fn fresh(&self, rows: usize) -> Self {
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

/// Rows `from..` of a primitive builder (time too) as an array.
pub(super) fn primitive_from<T: ArrowPrimitiveType>(
    b: &PrimitiveBuilder<T>,
    from: usize,
) -> PrimitiveArray<T> {
    let values = b.values_slice().get(from..).unwrap_or_default();
    let nulls = b
        .validity_slice()
        .and_then(|v| bits_range(v, from, values.len()))
        .map(NullBuffer::new);
    PrimitiveArray::new(values.to_vec().into(), nulls)
}

fn strings_from(b: &StringBuilder, from: usize) -> ArrayRef {
    let offsets = b.offsets_slice().get(from..).unwrap_or(&[0]);
    let first = offsets.first().copied().unwrap_or(0);
    let last = offsets.last().copied().unwrap_or(0);
    let bytes = b
        .values_slice()
        .get(first as usize..last as usize)
        .unwrap_or_default();
    let offsets: Vec<i32> = offsets.iter().map(|o| o - first).collect();
    let nulls = b
        .validity_slice()
        .and_then(|v| bits_range(v, from, offsets.len() - 1))
        .map(NullBuffer::new);
    // The bytes were appended as `&str`s, so they are UTF-8; checked anyway, as an error.
    match StringArray::try_new(
        OffsetBuffer::new(offsets.into()),
        Buffer::from(bytes),
        nulls,
    ) {
        Ok(a) => Arc::new(a),
        Err(e) => {
            tracing::error!(error = %e, "copying a string column failed");
            arrow::array::new_null_array(&arrow::datatypes::DataType::Utf8, 0)
        }
    }
}

/// Bits `from..from + len` of a bitmap as a buffer (only the bytes they are in are copied).
fn bits_range(bits: &[u8], from: usize, len: usize) -> Option<BooleanBuffer> {
    let bytes = bits.get(from / 8..(from + len).div_ceil(8))?;
    Some(BooleanBuffer::new(Buffer::from(bytes), from % 8, len))
}
