//! One measurement's series, each stored once. A series is known by a 128-bit hash of its
//! (tag key, value) pairs: a flush looks each of its series up with one probe of a table of
//! inline hashes ([`Slots`]; the series of a flush are mostly known, and a probe that touches
//! no string keeps this within a few percent of a flush of high-cardinality data). The strings
//! are kept in Arrow columns, one batch per flush that brought new series, a row per series.
//! Days name their series by id in a bit set.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, DictionaryArray, StringArray, UInt32Array};
use arrow::datatypes::{DataType, Int32Type};
use arrow::record_batch::RecordBatch;

use super::slots::{self, Hash128, Slots};
use super::SeriesKey;
use crate::hash::SeededWordHash;
use crate::{EngineError, Result};

/// From this many distinct series a lookup probes in slot order.
const SLOT_ORDER_FROM: usize = 4096;

#[derive(Debug, Default)]
pub(super) struct Table {
    /// `(hash, id)` of every series.
    slots: Slots,
    /// `(first id, tag columns)`: row `i` of a batch is series `first + i`.
    batches: Vec<(u32, RecordBatch)>,
    seeds: Seeds,
    pub(super) days: BTreeMap<i64, Day>,
}

#[derive(Debug, Clone, Copy)]
struct Seeds(SeededWordHash, u64);

impl Default for Seeds {
    fn default() -> Self {
        Seeds(SeededWordHash::default(), 0x2545_F491_4F6C_DD1D)
    }
}

impl Seeds {
    fn of(&self, s: &str) -> Hash128 {
        let mut a = self.0.build_hasher();
        a.write(s.as_bytes());
        let mut b = self.0.build_hasher();
        b.write_u64(self.1);
        b.write(s.as_bytes());
        (a.finish(), b.finish())
    }
}

/// Mixes one (key, value) pair into a series hash; pairs come in key-name order.
fn mix(h: Hash128, key: Hash128, value: Hash128) -> Hash128 {
    const K1: u64 = 0x9E37_79B9_7F4A_7C15;
    const K2: u64 = 0xC2B2_AE3D_27D4_EB4F;
    let fold = |x: u64, k: u64| {
        let p = u128::from(x) * u128::from(k);
        (p as u64) ^ ((p >> 64) as u64)
    };
    (
        fold(fold(h.0 ^ key.0, K1) ^ value.0, K2),
        fold(fold(h.1 ^ key.1, K2) ^ value.1, K1),
    )
}

#[derive(Debug, Default)]
pub(super) struct Day {
    /// Files of this day the manifests name.
    pub(super) files: usize,
    /// Bit `id` set: series `id` is in a file of this day.
    members: Vec<u64>,
}

impl Day {
    pub(super) fn has(&self, id: u32) -> bool {
        let (word, bit) = (id as usize / 64, id % 64);
        self.members.get(word).is_some_and(|w| w & (1 << bit) != 0)
    }

    pub(super) fn set(&mut self, id: u32) {
        let (word, bit) = (id as usize / 64, id % 64);
        if self.members.len() <= word {
            self.members.resize(word + 1, 0);
        }
        self.members[word] |= 1 << bit;
    }

    pub(super) fn ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.members.iter().enumerate().flat_map(|(w, &bits)| {
            (0..64u32)
                .filter(move |b| bits & (1 << b) != 0)
                .map(move |b| w as u32 * 64 + b)
        })
    }
}

/// A tag column of a batch being looked up.
struct TagColumn<'a> {
    key: Hash128,
    dict: &'a DictionaryArray<Int32Type>,
    values: &'a StringArray,
}

impl Table {
    /// Series known (in any day, or only looked up by a flush that has not committed).
    pub(super) fn len(&self) -> usize {
        self.slots.len()
    }

    /// The ids of the distinct series of `batch` (its dictionary-encoded columns are the
    /// tags), new ones added. Neighbouring rows with the same dictionary keys are one lookup:
    /// a file is sorted by series.
    pub(super) fn ids_of(&mut self, batch: &RecordBatch) -> Result<Vec<u32>> {
        let schema = batch.schema();
        // By name: a series hashes the same whatever the batch's column order.
        let mut tags = crate::buffer::tag_indices(&schema);
        tags.sort_by(|&a, &b| schema.field(a).name().cmp(schema.field(b).name()));
        let mut columns = Vec::with_capacity(tags.len());
        for &i in &tags {
            let dict = batch
                .column(i)
                .as_dictionary_opt::<Int32Type>()
                .ok_or_else(|| EngineError::Internal("tag column of another type".into()))?;
            let values = dict
                .values()
                .as_string_opt::<i32>()
                .ok_or_else(|| EngineError::Internal("tag dictionary of another type".into()))?;
            columns.push(TagColumn {
                key: self.seeds.of(schema.field(i).name()),
                dict,
                values,
            });
        }
        let probes = self.hashes_of(&columns, batch.num_rows())?;
        // Many probes go in slot order (see `slots`); a few are not worth the counting pass.
        let probes = match probes.len() > SLOT_ORDER_FROM {
            true => slots::in_slot_order(&probes),
            false => probes,
        };
        if self.slots.len() == 0 {
            // A first lookup brings only new series; later ones grow the table as they must
            // (reserving for all their probes would double a table whose series are known).
            self.slots.reserve(probes.len());
        }
        let first_new = self.slots.len() as u32;
        let mut out = Vec::with_capacity(probes.len());
        let mut seen: Vec<u64> = Vec::new();
        let mut new_rows: Vec<u32> = Vec::new();
        for (h, row) in probes {
            let (id, added) = self
                .slots
                .find_or_insert(h, first_new + new_rows.len() as u32);
            if added {
                new_rows.push(row);
            }
            let (word, bit) = (id as usize / 64, id % 64);
            if seen.len() <= word {
                seen.resize(word + 1, 0);
            }
            if seen[word] & (1 << bit) == 0 {
                seen[word] |= 1 << bit;
                out.push(id);
            }
        }
        if !new_rows.is_empty() {
            let strings = new_series_batch(&schema, &tags, &columns, &new_rows)?;
            self.batches.push((first_new, strings));
        }
        Ok(out)
    }

    /// `(hash, row)` of each row that starts a run of one series.
    fn hashes_of(&self, columns: &[TagColumn<'_>], rows: usize) -> Result<Vec<(Hash128, u32)>> {
        // Each column's values' hashes, as they are needed; (0, 0) is "not yet" (a value
        // hashing to it is only hashed again).
        let mut value_hashes: Vec<Vec<Hash128>> = columns
            .iter()
            .map(|c| vec![(0, 0); c.values.len()])
            .collect();
        let same_as_previous = |row: usize| {
            row > 0
                && columns.iter().all(|c| {
                    c.dict.is_valid(row) == c.dict.is_valid(row - 1)
                        && c.dict.keys().value(row) == c.dict.keys().value(row - 1)
                })
        };
        let mut probes = Vec::new();
        for row in 0..rows {
            if same_as_previous(row) {
                continue;
            }
            let mut h: Hash128 = (0, 0);
            for (c, hashes) in columns.iter().zip(&mut value_hashes) {
                if !c.dict.is_valid(row) {
                    continue;
                }
                let k = usize::try_from(c.dict.keys().value(row))
                    .ok()
                    .filter(|&k| k < hashes.len())
                    .ok_or_else(|| EngineError::Internal("tag key out of range".into()))?;
                let value = match hashes[k] {
                    (0, 0) => {
                        let v = self.seeds.of(c.values.value(k));
                        hashes[k] = v;
                        v
                    }
                    v => v,
                };
                h = mix(h, c.key, value);
            }
            probes.push((h, row as u32));
        }
        Ok(probes)
    }

    pub(super) fn key_of(&self, id: u32) -> SeriesKey {
        let at = self.batches.partition_point(|(first, _)| *first <= id);
        let Some((first, batch)) = at.checked_sub(1).and_then(|i| self.batches.get(i)) else {
            return SeriesKey::new(Vec::new());
        };
        let row = (id - first) as usize;
        let schema = batch.schema();
        let mut pairs = Vec::with_capacity(batch.num_columns());
        for (field, col) in schema.fields().iter().zip(batch.columns()) {
            if let Some(value) = tag_value(col, row) {
                pairs.push((Arc::from(field.name().as_str()), Arc::from(value)));
            }
        }
        SeriesKey::new(pairs)
    }

    /// After days went: the table again holds only what its days name.
    pub(super) fn rebuild(&mut self) -> Result<()> {
        let keep: BTreeSet<u32> = self.days.values().flat_map(Day::ids).collect();
        if keep.len() == self.len() {
            return Ok(());
        }
        let mut fresh = Table {
            seeds: self.seeds,
            ..Table::default()
        };
        let mut hash_of = vec![(0, 0); self.len()];
        for (h, id) in self.slots.iter() {
            if let Some(slot) = hash_of.get_mut(id as usize) {
                *slot = h;
            }
        }
        let mut remap = vec![u32::MAX; self.len()];
        for (first, batch) in &self.batches {
            let end = *first + batch.num_rows() as u32;
            let rows: Vec<u32> = keep.range(*first..end).map(|id| id - first).collect();
            if rows.is_empty() {
                continue;
            }
            let new_first = fresh.slots.len() as u32;
            fresh.slots.reserve(rows.len());
            for (i, &row) in rows.iter().enumerate() {
                let id = new_first + i as u32;
                fresh
                    .slots
                    .find_or_insert(hash_of[(first + row) as usize], id);
                remap[(first + row) as usize] = id;
            }
            fresh.batches.push((new_first, plain_rows(batch, rows)?));
        }
        for (day, d) in std::mem::take(&mut self.days) {
            let mut nd = Day {
                files: d.files,
                members: Vec::new(),
            };
            for id in d.ids() {
                if let Some(&new) = remap.get(id as usize).filter(|&&n| n != u32::MAX) {
                    nd.set(new);
                }
            }
            fresh.days.insert(day, nd);
        }
        *self = fresh;
        Ok(())
    }

    /// The kept batches of strings (tests).
    #[cfg(test)]
    pub(super) fn batches_for_tests(&self) -> impl Iterator<Item = &RecordBatch> {
        self.batches.iter().map(|(_, b)| b)
    }

    /// Whether a kept series has tag value `s` (tests).
    #[cfg(test)]
    pub(super) fn has_value(&self, s: &str) -> bool {
        (0..self.len() as u32).any(|id| self.key_of(id).tags().iter().any(|(_, v)| &**v == s))
    }
}

/// A kept batch's tag value: its columns are strings or dictionaries of strings.
fn tag_value(col: &ArrayRef, row: usize) -> Option<&str> {
    if row >= col.len() || !col.is_valid(row) {
        return None;
    }
    if let Some(strings) = col.as_string_opt::<i32>() {
        return Some(strings.value(row));
    }
    let dict = col.as_dictionary_opt::<Int32Type>()?;
    let k = usize::try_from(dict.keys().value(row)).ok()?;
    let values = dict.values().as_string_opt::<i32>()?;
    (k < values.len()).then(|| values.value(k))
}

/// `rows` of a kept batch as plain strings: what survives a rebuild holds only its own values.
fn plain_rows(batch: &RecordBatch, rows: Vec<u32>) -> Result<RecordBatch> {
    let internal = |e: arrow::error::ArrowError| EngineError::Internal(e.to_string());
    let taken =
        arrow::compute::take_record_batch(batch, &UInt32Array::from(rows)).map_err(internal)?;
    let mut fields = Vec::with_capacity(taken.num_columns());
    let mut arrays = Vec::with_capacity(taken.num_columns());
    for (field, col) in taken.schema().fields().iter().zip(taken.columns()) {
        fields.push(arrow::datatypes::Field::new(
            field.name(),
            DataType::Utf8,
            true,
        ));
        arrays.push(arrow::compute::cast(col, &DataType::Utf8).map_err(internal)?);
    }
    RecordBatch::try_new_with_options(
        Arc::new(arrow::datatypes::Schema::new(fields)),
        arrays,
        &arrow::array::RecordBatchOptions::new().with_row_count(Some(taken.num_rows())),
    )
    .map_err(internal)
}

/// The tag columns of a lookup's new series, row `i` being `new_rows[i]` of the batch. A column
/// whose dictionary is mostly new values keeps it (the keys are gathered, the strings shared:
/// a first flush of high-cardinality data copies no string); otherwise its values are copied
/// as plain strings, as a dictionary taken from a flush would keep all its values alive.
fn new_series_batch(
    schema: &arrow::datatypes::Schema,
    tags: &[usize],
    columns: &[TagColumn<'_>],
    new_rows: &[u32],
) -> Result<RecordBatch> {
    let internal = |e: arrow::error::ArrowError| EngineError::Internal(e.to_string());
    let indices = UInt32Array::from(new_rows.to_vec());
    let mut fields = Vec::with_capacity(columns.len());
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns.len());
    for (&i, c) in tags.iter().zip(columns) {
        let name = schema.field(i).name();
        if c.values.len() <= 2 * new_rows.len() {
            let keys = arrow::compute::take(c.dict.keys(), &indices, None).map_err(internal)?;
            let keys = keys
                .as_primitive_opt::<Int32Type>()
                .ok_or_else(|| EngineError::Internal("tag keys of another type".into()))?
                .clone();
            let dict = DictionaryArray::<Int32Type>::try_new(keys, Arc::clone(c.dict.values()))
                .map_err(internal)?;
            fields.push(arrow::datatypes::Field::new(
                name,
                dict.data_type().clone(),
                true,
            ));
            arrays.push(Arc::new(dict));
            continue;
        }
        let mut b = arrow::array::StringBuilder::new();
        for &row in new_rows {
            let row = row as usize;
            match c.dict.is_valid(row) {
                true => b.append_value(c.values.value(c.dict.keys().value(row) as usize)),
                false => b.append_null(),
            }
        }
        fields.push(arrow::datatypes::Field::new(name, DataType::Utf8, true));
        arrays.push(Arc::new(b.finish()));
    }
    RecordBatch::try_new_with_options(
        Arc::new(arrow::datatypes::Schema::new(fields)),
        arrays,
        &arrow::array::RecordBatchOptions::new().with_row_count(Some(new_rows.len())),
    )
    .map_err(internal)
}
