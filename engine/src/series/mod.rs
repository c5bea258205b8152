//! Which series each measurement holds, known without reading data: what `SHOW TAG KEYS`,
//! `SHOW TAG VALUES` and `SHOW SERIES` answer from.
//!
//! Files: the index interns each file's series when a flush is about to commit it and counts
//! those new to the file's UTC day; the manifest records the count (`new_series`). Every
//! series of a day is therefore in a file whose count is not 0, and start-up reads the tag
//! columns of only those. Retention drops a day with its last file. Rows in memory: their
//! series are found when asked ([`distinct`]); nothing happens on the write path.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use arrow::array::AsArray;

use arrow::record_batch::RecordBatch;
use catalog::BucketId;
use object_store::ObjectStore;

use crate::buffer::TIME_COLUMN;

mod slots;
mod table;

use crate::{EngineError, FileEntry, Result};
use table::Table;

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

/// The distinct series of `batch`'s rows with a time in `min_ns..=max_ns`, sorted. Tag
/// columns are the dictionary-encoded ones (the buffers' and files' layout).
pub(crate) fn distinct(batch: &RecordBatch, min_ns: i64, max_ns: i64) -> Result<Vec<SeriesKey>> {
    let internal = |e: arrow::error::ArrowError| EngineError::Internal(e.to_string());
    let time = batch
        .column_by_name(TIME_COLUMN)
        .and_then(|c| c.as_primitive_opt::<arrow::datatypes::TimestampNanosecondType>());
    let cut;
    let rows = match time {
        Some(time) if min_ns != i64::MIN || max_ns != i64::MAX => {
            let keep: arrow::array::BooleanArray = time
                .iter()
                .map(|t| Some(t.is_some_and(|t| (min_ns..=max_ns).contains(&t))))
                .collect();
            cut = arrow::compute::filter_record_batch(batch, &keep).map_err(internal)?;
            &cut
        }
        _ => batch,
    };
    let mut table = Table::default();
    let mut out: Vec<SeriesKey> = table
        .ids_of(rows)?
        .into_iter()
        .map(|id| table.key_of(id))
        .collect();
    out.sort();
    Ok(out)
}

/// The series of the files durable manifests name, by bucket, measurement and UTC day.
#[derive(Debug, Default)]
pub(crate) struct SeriesIndex {
    tables: HashMap<(BucketId, String), Table>,
}

/// The distinct series of one file a flush wrote: ids in its table of the index.
#[derive(Debug, Default, Clone)]
pub(crate) struct FileSeries {
    ids: Vec<u32>,
}

impl SeriesIndex {
    /// The series of `batch`, a file of `bucket`/`measurement`, and how many of them no file
    /// of `day` had (what its manifest entry records). Changes nothing readers see.
    pub(crate) fn prepare(
        &mut self,
        bucket: BucketId,
        measurement: &str,
        day: i64,
        batch: &RecordBatch,
    ) -> Result<(FileSeries, u64)> {
        let t = self.table_mut(bucket, measurement);
        let ids = t.ids_of(batch)?;
        let known = t.days.get(&day);
        let new = ids
            .iter()
            .filter(|&&id| known.is_none_or(|d| !d.has(id)))
            .count();
        Ok((FileSeries { ids }, new as u64))
    }

    /// A file of `day` holding `series` is named by a durable manifest.
    pub(crate) fn add_file(
        &mut self,
        bucket: BucketId,
        measurement: &str,
        day: i64,
        series: &FileSeries,
    ) {
        let d = self
            .table_mut(bucket, measurement)
            .days
            .entry(day)
            .or_default();
        d.files += 1;
        for &id in &series.ids {
            d.set(id);
        }
    }

    /// The series of `batch` are in a file of `day` (start-up, reading files).
    pub(crate) fn add_batch(
        &mut self,
        bucket: BucketId,
        measurement: &str,
        day: i64,
        batch: &RecordBatch,
    ) -> Result<()> {
        let t = self.table_mut(bucket, measurement);
        let ids = t.ids_of(batch)?;
        let d = t.days.entry(day).or_default();
        for id in ids {
            d.set(id);
        }
        Ok(())
    }

    /// A file of `day` counts (start-up: its series come from the files read).
    pub(crate) fn count_file(&mut self, bucket: BucketId, measurement: &str, day: i64) {
        self.table_mut(bucket, measurement)
            .days
            .entry(day)
            .or_default()
            .files += 1;
    }

    /// A file of `day` is no longer part of the data; the day goes with its last file.
    pub(crate) fn remove_file(&mut self, bucket: BucketId, measurement: &str, day: i64) {
        let key = (bucket, measurement.to_owned());
        let Some(t) = self.tables.get_mut(&key) else {
            return;
        };
        if let Some(d) = t.days.get_mut(&day) {
            d.files = d.files.saturating_sub(1);
            if d.files == 0 {
                t.days.remove(&day);
                if let Err(e) = t.rebuild() {
                    // The table stays as it was: right, only larger than it needs to be.
                    tracing::warn!(error = %e, "compacting the series index failed");
                }
            }
        }
        if t.days.is_empty() {
            self.tables.remove(&key);
        }
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
        for ((b, measurement), t) in &self.tables {
            if *b != bucket || !wanted(measurement) {
                continue;
            }
            let mut ids: BTreeSet<u32> = BTreeSet::new();
            for (_, d) in t.days.range(min_day..=max_day) {
                ids.extend(d.ids());
            }
            if ids.is_empty() {
                continue;
            }
            let set = out.entry(measurement.clone()).or_default();
            set.extend(ids.into_iter().map(|id| t.key_of(id)));
        }
    }

    fn table_mut(&mut self, bucket: BucketId, measurement: &str) -> &mut Table {
        self.tables
            .entry((bucket, measurement.to_owned()))
            .or_default()
    }
}

/// The index of the files `state` names, as start-up builds it, from the manifests and the tag
/// columns of the few files that brought a day new series: every series of a day is in one
/// of those. A day that lost such a file to retention while others remain has all its files
/// read; so has a file recorded by a build before the index.
pub(crate) async fn load(
    store: &Arc<dyn ObjectStore>,
    state: &crate::manifest::ManifestState,
) -> Result<SeriesIndex> {
    let day_key = |f: &FileEntry| (f.bucket, f.measurement.clone(), day_of(f.min_time_ns));
    let read_whole_day: HashSet<_> = state
        .removed
        .iter()
        .filter(|f| f.new_series != Some(0))
        .map(day_key)
        .collect();
    let mut index = SeriesIndex::default();
    let mut read = 0usize;
    for f in &state.entries {
        let (bucket, measurement, day) = day_key(f);
        let bucket = BucketId(bucket);
        index.count_file(bucket, &measurement, day);
        if f.new_series == Some(0) && !read_whole_day.contains(&day_key(f)) {
            continue;
        }
        read += 1;
        for batch in crate::read::tag_columns(store, &f.path, f.bytes).await? {
            index.add_batch(bucket, &measurement, day, &batch)?;
        }
    }
    tracing::info!(
        files = state.entries.len(),
        read,
        "series index built from the manifests and the tag columns of the files that brought new series"
    );
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{
        ArrayRef, DictionaryArray, Int32Array, StringArray, TimestampNanosecondArray,
    };
    use arrow::datatypes::{DataType, Int32Type};

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
        let all = distinct(&b, i64::MIN, i64::MAX).expect("series");
        assert_eq!(
            all,
            vec![
                key(&[("host", "a"), ("region", "eu")]),
                key(&[("host", "b"), ("region", "eu")]),
                key(&[("region", "eu")]),
            ]
        );
        let late = distinct(&b, 25, 100).expect("series");
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
            distinct(&b, i64::MIN, i64::MAX).expect("series"),
            vec![key(&[])]
        );
    }

    fn cpu(hosts: &[&str]) -> RecordBatch {
        let keys: Vec<Option<i32>> = (0..hosts.len() as i32).map(Some).collect();
        let n = hosts.len();
        batch(tag(keys, hosts), tag(vec![Some(0); n], &["eu"]), vec![0; n])
    }

    fn collected(index: &SeriesIndex, days: std::ops::RangeInclusive<i64>) -> Vec<SeriesKey> {
        let mut out = BTreeMap::new();
        index.collect(BucketId(1), &|_| true, *days.start(), *days.end(), &mut out);
        let mut all: Vec<SeriesKey> = out.into_values().flatten().collect();
        all.sort();
        all
    }

    #[test]
    fn a_day_counts_only_new_series_and_goes_with_its_last_file() {
        let mut index = SeriesIndex::default();
        let (b, m) = (BucketId(1), "cpu");
        let (first, new) = index.prepare(b, m, 5, &cpu(&["a", "b", "a"])).expect("ids");
        assert_eq!(new, 2);
        index.add_file(b, m, 5, &first);
        let (second, new) = index.prepare(b, m, 5, &cpu(&["b", "c"])).expect("ids");
        assert_eq!(new, 1, "only c is new to the day");
        let (_, new) = index.prepare(b, m, 6, &cpu(&["b", "c"])).expect("ids");
        assert_eq!(new, 2, "another day knows nothing yet");
        index.add_file(b, m, 5, &second);
        index.add_file(b, m, 6, &second);
        let t = &index.tables[&(b, m.to_owned())];
        assert_eq!(t.len(), 3, "a series is kept once, whatever its days");
        assert_eq!(collected(&index, 5..=6).len(), 3);
        assert_eq!(collected(&index, 6..=6).len(), 2);

        index.remove_file(b, m, 6);
        index.remove_file(b, m, 5);
        assert_eq!(
            collected(&index, 5..=5).len(),
            3,
            "one file of day 5 remains"
        );
        index.remove_file(b, m, 5);
        assert!(collected(&index, i64::MIN..=i64::MAX).is_empty());
        assert!(index.tables.is_empty());
    }

    #[test]
    fn dropping_a_day_forgets_the_series_only_it_had() {
        let mut index = SeriesIndex::default();
        let (b, m) = (BucketId(1), "cpu");
        let (old, _) = index
            .prepare(b, m, 1, &cpu(&["gone", "kept"]))
            .expect("ids");
        index.add_file(b, m, 1, &old);
        let (new, _) = index.prepare(b, m, 2, &cpu(&["kept", "new"])).expect("ids");
        index.add_file(b, m, 2, &new);
        index.remove_file(b, m, 1);
        let t = &index.tables[&(b, m.to_owned())];
        assert_eq!(t.len(), 2);
        assert!(!t.has_value("gone"));
        assert_eq!(
            collected(&index, i64::MIN..=i64::MAX),
            vec![
                key(&[("host", "kept"), ("region", "eu")]),
                key(&[("host", "new"), ("region", "eu")])
            ]
        );
        // The ids still agree with the files: a later file of day 2 adds nothing new.
        let (_, new) = index.prepare(b, m, 2, &cpu(&["new"])).expect("ids");
        assert_eq!(new, 0);
    }

    #[test]
    fn new_series_keep_a_dictionary_only_when_it_is_mostly_theirs() {
        let mut index = SeriesIndex::default();
        let (b, m) = (BucketId(1), "cpu");
        let many: Vec<String> = (0..5_000).map(|i| format!("h{i}")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        let (all, new) = index.prepare(b, m, 1, &cpu(&refs)).expect("ids");
        assert_eq!(new, 5_000);
        index.add_file(b, m, 1, &all);
        let mut more = refs.clone();
        more.push("late");
        let (_, new) = index.prepare(b, m, 1, &cpu(&more)).expect("ids");
        assert_eq!(new, 1);
        let t = &index.tables[&(b, m.to_owned())];
        let kinds: Vec<bool> = t
            .batches_for_tests()
            .map(|batch| matches!(batch.column(0).data_type(), DataType::Dictionary(..)))
            .collect();
        assert_eq!(
            kinds,
            vec![true, false],
            "the late series copies its one string"
        );
        let keys: Vec<SeriesKey> = (0..t.len() as u32).map(|id| t.key_of(id)).collect();
        assert!(keys.contains(&key(&[("host", "late"), ("region", "eu")])));
        assert!(keys.contains(&key(&[("host", "h4321"), ("region", "eu")])));
        let distinct: BTreeSet<&SeriesKey> = keys.iter().collect();
        assert_eq!(distinct.len(), 5_001);
    }

    /// How long interning a flush of 1M new series takes (run with `--release --ignored`).
    #[test]
    #[ignore]
    fn time_a_million_new_series() {
        let n = 1_000_000;
        let hosts: Vec<String> = (0..n).map(|i| format!("host_{i:07}")).collect();
        let refs: Vec<&str> = hosts.iter().map(String::as_str).collect();
        let b = cpu(&refs);
        let mut index = SeriesIndex::default();
        let started = std::time::Instant::now();
        let (ids, new) = index.prepare(BucketId(1), "cpu", 1, &b).expect("ids");
        let prepared = started.elapsed();
        index.add_file(BucketId(1), "cpu", 1, &ids);
        eprintln!(
            "prepare {prepared:?}, add {:?}, new {new}",
            started.elapsed() - prepared
        );
        let again = std::time::Instant::now();
        let (_, new) = index.prepare(BucketId(1), "cpu", 1, &b).expect("ids");
        eprintln!("known: prepare {:?}, new {new}", again.elapsed());
    }
}
