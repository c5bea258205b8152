//! Which series each measurement holds, known without reading data: what `SHOW TAG KEYS`,
//! `SHOW TAG VALUES` and `SHOW SERIES` answer from.
//!
//! Files: a flush finds each file's distinct series as they come out of its sort; the
//! manifest records, per file, the series that no earlier file of its measurement and UTC
//! day had ([`FileSeries`]), so the records grow with the series a day adds, not with every
//! flush. At start-up the index of a day is the union of what every record said of that day,
//! kept while any file of the day is. Retention drops a day once its last file goes.
//! Buffered rows: their series are found when asked, from the rows themselves (nothing on
//! the write path).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use arrow::array::{Array, AsArray, DictionaryArray, StringArray};
use arrow::datatypes::{DataType, Int32Type};
use arrow::record_batch::RecordBatch;
use catalog::BucketId;
use object_store::{ObjectStore, ObjectStoreExt};
use serde::{Deserialize, Serialize};

use crate::buffer::TIME_COLUMN;
use crate::{EngineError, Result};

pub(crate) const NANOS_PER_DAY: i64 = 86_400 * 1_000_000_000;

/// The UTC day (days since 1970-01-01) of a timestamp: files are per day.
pub(crate) fn day_of(time_ns: i64) -> i64 {
    time_ns.div_euclid(NANOS_PER_DAY)
}

/// One series of a measurement: its tags as (key, value) pairs in key order, without the
/// keys it lacks. A measurement without tags has one series with no pairs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesKey(Arc<[(Arc<str>, Arc<str>)]>);

impl SeriesKey {
    /// A series of `tags` (sorted by key here).
    pub fn new(mut tags: Vec<(Arc<str>, Arc<str>)>) -> Self {
        tags.sort();
        SeriesKey(tags.into())
    }

    /// Its (key, value) pairs, in key order.
    pub fn tags(&self) -> &[(Arc<str>, Arc<str>)] {
        &self.0
    }

    /// The value of tag `key`, if the series has it.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(k, _)| (**k).cmp(key))
            .ok()
            .map(|i| &*self.0[i].1)
    }
}

/// A measurement's distinct series, sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MeasurementSeries {
    /// Measurement name.
    pub measurement: String,
    /// Distinct series, sorted.
    pub series: Vec<SeriesKey>,
}

impl MeasurementSeries {
    /// Tag keys any series has, sorted.
    pub fn tag_keys(&self) -> Vec<&str> {
        let keys: BTreeSet<&str> = self
            .series
            .iter()
            .flat_map(|s| s.tags().iter().map(|(k, _)| &**k))
            .collect();
        keys.into_iter().collect()
    }

    /// Distinct values of tag `key`, sorted.
    pub fn tag_values(&self, key: &str) -> Vec<&str> {
        let values: BTreeSet<&str> = self.series.iter().filter_map(|s| s.get(key)).collect();
        values.into_iter().collect()
    }
}

/// Series as a manifest records them: the tag keys, and per series one value per key (`None`:
/// the series lacks it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSeries {
    /// Tag keys, sorted.
    pub tags: Vec<String>,
    /// One row per series.
    pub rows: Vec<Vec<Option<String>>>,
}

impl FileSeries {
    /// The persisted form of `series`.
    pub(crate) fn of(series: &[SeriesKey]) -> Self {
        let keys: BTreeSet<&str> = series
            .iter()
            .flat_map(|s| s.tags().iter().map(|(k, _)| &**k))
            .collect();
        let tags: Vec<String> = keys.into_iter().map(str::to_owned).collect();
        let rows = series
            .iter()
            .map(|s| tags.iter().map(|k| s.get(k).map(str::to_owned)).collect())
            .collect();
        FileSeries { tags, rows }
    }

    /// Back to series; `None` when a row does not match the keys (a damaged record).
    pub(crate) fn keys(&self) -> Option<Vec<SeriesKey>> {
        let names: Vec<Arc<str>> = self.tags.iter().map(|t| Arc::from(t.as_str())).collect();
        self.rows
            .iter()
            .map(|row| {
                (row.len() == names.len()).then(|| {
                    SeriesKey::new(
                        names
                            .iter()
                            .zip(row)
                            .filter_map(|(k, v)| Some((Arc::clone(k), Arc::from(v.as_deref()?))))
                            .collect(),
                    )
                })
            })
            .collect()
    }
}

/// The distinct series of `batch`'s rows with a time in `min_ns..=max_ns`. Tag columns are
/// the dictionary-encoded ones (the buffers' and files' layout). `sorted`: rows already come
/// by series (a flush's output), so neighbours are compared and nothing is sorted.
pub(crate) fn distinct(
    batch: &RecordBatch,
    sorted: bool,
    min_ns: i64,
    max_ns: i64,
) -> Result<Vec<SeriesKey>> {
    let schema = batch.schema();
    let mut tags = Vec::new();
    for (field, col) in schema.fields().iter().zip(batch.columns()) {
        if let DataType::Dictionary(_, _) = field.data_type() {
            let dict = col
                .as_dictionary_opt::<Int32Type>()
                .ok_or_else(|| EngineError::Internal("tag column of another type".into()))?;
            tags.push(TagColumn::new(field.name(), dict)?);
        }
    }
    let time = batch
        .column_by_name(TIME_COLUMN)
        .and_then(|c| c.as_primitive_opt::<arrow::datatypes::TimestampNanosecondType>());
    let in_range = |row: usize| {
        (min_ns == i64::MIN && max_ns == i64::MAX)
            || time.is_none_or(|t| (min_ns..=max_ns).contains(&t.value(row)))
    };
    let mut order: Vec<u32> = (0..batch.num_rows() as u32)
        .filter(|&r| in_range(r as usize))
        .collect();
    if !sorted {
        for tag in tags.iter().rev() {
            order = crate::flush::stable_counting_sort(order, &tag.ranks);
        }
    }
    let mut out: Vec<SeriesKey> = Vec::new();
    let mut last: Option<usize> = None;
    for row in order.into_iter().map(|r| r as usize) {
        if let Some(l) = last {
            if tags.iter().all(|t| t.ranks[l] == t.ranks[row]) {
                continue;
            }
        }
        last = Some(row);
        out.push(SeriesKey::new(
            tags.iter_mut().filter_map(|t| t.pair(row)).collect(),
        ));
    }
    // Rank order puts a lacking tag first; callers get `SeriesKey` order.
    out.sort();
    out.dedup();
    Ok(out)
}

/// One tag column: each row's rank (0: null; equal strings share a rank, so a merged
/// dictionary with repeated values still compares right), and its values as shared strings.
struct TagColumn<'a> {
    key: Arc<str>,
    dict: &'a DictionaryArray<Int32Type>,
    values: &'a StringArray,
    ranks: Vec<u32>,
    shared: Vec<Option<Arc<str>>>,
}

impl<'a> TagColumn<'a> {
    fn new(key: &str, dict: &'a DictionaryArray<Int32Type>) -> Result<Self> {
        let values = dict
            .values()
            .as_string_opt::<i32>()
            .ok_or_else(|| EngineError::Internal("tag dictionary of another type".into()))?;
        Ok(TagColumn {
            key: Arc::from(key),
            dict,
            values,
            ranks: crate::flush::tag_ranks(dict as &dyn Array)?,
            shared: vec![None; values.len()],
        })
    }

    fn pair(&mut self, row: usize) -> Option<(Arc<str>, Arc<str>)> {
        if self.ranks[row] == 0 {
            return None;
        }
        let k = usize::try_from(self.dict.keys().value(row)).ok()?;
        let value = self.values.value(k);
        let shared = self.shared.get_mut(k)?;
        let value = shared.get_or_insert_with(|| Arc::from(value));
        Some((Arc::clone(&self.key), Arc::clone(value)))
    }
}

/// The series of the files durable manifests name, by bucket, measurement and UTC day.
#[derive(Debug, Default)]
pub(crate) struct SeriesIndex {
    tables: HashMap<(BucketId, String), BTreeMap<i64, Day>>,
}

#[derive(Debug, Default)]
struct Day {
    /// Files of this day the manifests name.
    files: usize,
    series: HashSet<SeriesKey>,
}

impl SeriesIndex {
    /// Of `series` (a new file's, of `day`), those no file of the day has yet: what its
    /// manifest entry records.
    pub(crate) fn new_in(
        &self,
        bucket: BucketId,
        measurement: &str,
        day: i64,
        series: &[SeriesKey],
    ) -> FileSeries {
        let known = self
            .tables
            .get(&(bucket, measurement.to_owned()))
            .and_then(|days| days.get(&day));
        let new: Vec<SeriesKey> = series
            .iter()
            .filter(|s| known.is_none_or(|d| !d.series.contains(*s)))
            .cloned()
            .collect();
        FileSeries::of(&new)
    }

    /// A file of `day` holding (at least) `series` is named by a durable manifest.
    pub(crate) fn add_file(
        &mut self,
        bucket: BucketId,
        measurement: &str,
        day: i64,
        series: impl IntoIterator<Item = SeriesKey>,
    ) {
        let d = self.day_mut(bucket, measurement, day);
        d.files += 1;
        d.series.extend(series);
    }

    /// Series a day had in files that are gone while others of the day remain (start-up).
    pub(crate) fn add_series(
        &mut self,
        bucket: BucketId,
        measurement: &str,
        day: i64,
        series: impl IntoIterator<Item = SeriesKey>,
    ) {
        self.day_mut(bucket, measurement, day).series.extend(series);
    }

    /// A file of `day` is no longer part of the data; the day goes with its last file.
    pub(crate) fn remove_file(&mut self, bucket: BucketId, measurement: &str, day: i64) {
        let key = (bucket, measurement.to_owned());
        let Some(days) = self.tables.get_mut(&key) else {
            return;
        };
        if let Some(d) = days.get_mut(&day) {
            d.files = d.files.saturating_sub(1);
            if d.files == 0 {
                days.remove(&day);
            }
        }
        if days.is_empty() {
            self.tables.remove(&key);
        }
    }

    /// Days with no file (start-up adds the series of removed files before it knows).
    pub(crate) fn drop_empty_days(&mut self) {
        for days in self.tables.values_mut() {
            days.retain(|_, d| d.files > 0);
        }
        self.tables.retain(|_, days| !days.is_empty());
    }

    /// Adds to `out` the series of `bucket`'s measurements that `wanted` accepts, in files of
    /// the days `min_day..=max_day`.
    pub(crate) fn collect(
        &self,
        bucket: BucketId,
        wanted: &dyn Fn(&str) -> bool,
        min_day: i64,
        max_day: i64,
        out: &mut BTreeMap<String, HashSet<SeriesKey>>,
    ) {
        for ((b, measurement), days) in &self.tables {
            if *b != bucket || !wanted(measurement) {
                continue;
            }
            let set = out.entry(measurement.clone()).or_default();
            for d in days.range(min_day..=max_day).map(|(_, d)| d) {
                set.extend(d.series.iter().cloned());
            }
        }
    }

    fn day_mut(&mut self, bucket: BucketId, measurement: &str, day: i64) -> &mut Day {
        self.tables
            .entry((bucket, measurement.to_owned()))
            .or_default()
            .entry(day)
            .or_default()
    }
}

/// The index of the files `state` names, as start-up builds it. A file recorded by a build
/// before the index is read (its tag columns only), once: later records carry series.
pub(crate) async fn load(
    store: &dyn ObjectStore,
    state: &crate::manifest::ManifestState,
) -> Result<SeriesIndex> {
    let mut index = SeriesIndex::default();
    let mut read = 0usize;
    for f in &state.entries {
        let series = match &f.series {
            Some(s) => s.keys().unwrap_or_default(),
            None => {
                read += 1;
                read_series(store, &f.path).await?
            }
        };
        index.add_file(
            BucketId(f.bucket),
            &f.measurement,
            day_of(f.min_time_ns),
            series,
        );
    }
    for f in &state.removed {
        let series = f
            .series
            .as_ref()
            .and_then(FileSeries::keys)
            .unwrap_or_default();
        index.add_series(
            BucketId(f.bucket),
            &f.measurement,
            day_of(f.min_time_ns),
            series,
        );
    }
    index.drop_empty_days();
    if read > 0 {
        tracing::info!(
            files = read,
            "read the series of files recorded before the series index"
        );
    }
    Ok(index)
}

/// The distinct series in a Parquet file, from its tag columns.
async fn read_series(store: &dyn ObjectStore, path: &str) -> Result<Vec<SeriesKey>> {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use parquet::arrow::ProjectionMask;
    let corrupt = |e: Box<dyn std::error::Error + Send + Sync>| EngineError::Corrupt {
        path: path.to_owned(),
        source: e,
    };
    let bytes = store
        .get(&object_store::path::Path::from(path))
        .await?
        .bytes()
        .await?;
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(bytes).map_err(|e| corrupt(Box::new(e)))?;
    let tags: Vec<usize> = builder
        .schema()
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| matches!(f.data_type(), DataType::Dictionary(_, _)))
        .map(|(i, _)| i)
        .collect();
    let mask = ProjectionMask::roots(builder.parquet_schema(), tags);
    let reader = builder
        .with_projection(mask)
        .build()
        .map_err(|e| corrupt(Box::new(e)))?;
    let mut all = BTreeSet::new();
    for batch in reader {
        let batch = batch.map_err(|e| corrupt(Box::new(e)))?;
        all.extend(distinct(&batch, false, i64::MIN, i64::MAX)?);
    }
    Ok(all.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{ArrayRef, Int32Array, TimestampNanosecondArray};

    fn key(pairs: &[(&str, &str)]) -> SeriesKey {
        SeriesKey::new(
            pairs
                .iter()
                .map(|(k, v)| (Arc::from(*k), Arc::from(*v)))
                .collect(),
        )
    }

    fn tag(keys: Vec<Option<i32>>, values: &[&str]) -> ArrayRef {
        Arc::new(
            DictionaryArray::<Int32Type>::try_new(
                Int32Array::from(keys),
                Arc::new(StringArray::from(values.to_vec())),
            )
            .expect("dictionary"),
        )
    }

    fn batch(host: ArrayRef, region: ArrayRef, time: Vec<i64>) -> RecordBatch {
        RecordBatch::try_from_iter([
            ("host", host),
            ("region", region),
            (
                TIME_COLUMN,
                Arc::new(TimestampNanosecondArray::from(time)) as ArrayRef,
            ),
        ])
        .expect("batch")
    }

    #[test]
    fn distinct_series_of_unsorted_rows() {
        // The dictionary repeats "a" (as a merged one can): rows 0 and 3 are one series.
        let b = batch(
            tag(vec![Some(0), Some(1), None, Some(2)], &["a", "b", "a"]),
            tag(vec![Some(0), Some(0), Some(0), Some(0)], &["eu"]),
            vec![10, 20, 30, 40],
        );
        let all = distinct(&b, false, i64::MIN, i64::MAX).expect("series");
        assert_eq!(
            all,
            vec![
                key(&[("host", "a"), ("region", "eu")]),
                key(&[("host", "b"), ("region", "eu")]),
                key(&[("region", "eu")]),
            ]
        );
        let late = distinct(&b, false, 25, 100).expect("series");
        assert_eq!(
            late,
            vec![
                key(&[("host", "a"), ("region", "eu")]),
                key(&[("region", "eu")])
            ]
        );
        let m = MeasurementSeries {
            measurement: "cpu".into(),
            series: all,
        };
        assert_eq!(m.tag_keys(), vec!["host", "region"]);
        assert_eq!(m.tag_values("host"), vec!["a", "b"]);
        assert!(m.tag_values("dc").is_empty());
    }

    #[test]
    fn a_measurement_without_tags_has_one_series() {
        let b = RecordBatch::try_from_iter([(
            TIME_COLUMN,
            Arc::new(TimestampNanosecondArray::from(vec![1, 2])) as ArrayRef,
        )])
        .expect("batch");
        assert_eq!(
            distinct(&b, true, i64::MIN, i64::MAX).expect("series"),
            vec![key(&[])]
        );
    }

    #[test]
    fn persisted_form_round_trips() {
        let series = vec![
            key(&[("host", "a")]),
            key(&[("dc", "x"), ("host", "b")]),
            key(&[]),
        ];
        let f = FileSeries::of(&series);
        assert_eq!(f.tags, vec!["dc", "host"]);
        assert_eq!(f.keys(), Some(series));
        let damaged = FileSeries {
            tags: vec!["a".into()],
            rows: vec![vec![]],
        };
        assert_eq!(damaged.keys(), None);
    }

    #[test]
    fn a_day_records_only_new_series_and_goes_with_its_last_file() {
        let mut index = SeriesIndex::default();
        let (b, m) = (BucketId(1), "cpu");
        let first = vec![key(&[("host", "a")]), key(&[("host", "b")])];
        assert_eq!(index.new_in(b, m, 5, &first).rows.len(), 2);
        index.add_file(b, m, 5, first.clone());
        let second = vec![key(&[("host", "b")]), key(&[("host", "c")])];
        let new = index.new_in(b, m, 5, &second);
        assert_eq!(new.keys(), Some(vec![key(&[("host", "c")])]));
        // Another day knows nothing yet.
        assert_eq!(index.new_in(b, m, 6, &second).rows.len(), 2);
        index.add_file(b, m, 5, second);
        let mut out = BTreeMap::new();
        index.collect(b, &|_| true, i64::MIN, i64::MAX, &mut out);
        assert_eq!(out["cpu"].len(), 3);
        index.remove_file(b, m, 5);
        let mut out = BTreeMap::new();
        index.collect(b, &|_| true, 5, 5, &mut out);
        assert_eq!(out["cpu"].len(), 3, "one file of the day remains");
        index.remove_file(b, m, 5);
        let mut out = BTreeMap::new();
        index.collect(b, &|_| true, i64::MIN, i64::MAX, &mut out);
        assert!(out.is_empty());
    }
}
