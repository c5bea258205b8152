//! Turning buffered batches into Parquet files: split by UTC day, sort, encode, stream to the
//! object store. Runs on the flush coordinator thread (see `lib.rs`), never on an HTTP worker.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{Array, ArrayRef, TimestampNanosecondArray};
use arrow::compute::take_record_batch;
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use catalog::BucketId;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use crate::buffer::{Taken, TIME_COLUMN};
use crate::layout;
use crate::manifest::FileEntry;
use crate::{EngineError, Result};

use crate::series::day_of;

/// Upload part size; also the most encoded bytes held in memory per file beyond one row group.
const PART_BYTES: usize = 8 * 1024 * 1024;
/// Attempts per file within one flush; a table that still fails is held and retried by a
/// later flush, with back-off (see `lib.rs`), so other tables never wait long behind it.
const ATTEMPTS_MAX: u32 = 2;

/// Counters the flusher keeps (for `/metrics`).
#[derive(Debug, Default)]
pub struct FlushStats {
    /// Flushes completed.
    pub flushes: AtomicU64,
    /// Parquet files written.
    pub files: AtomicU64,
    /// Bytes of Parquet written.
    pub bytes: AtomicU64,
    /// Rows written to Parquet.
    pub rows: AtomicU64,
    /// Flushes whose manifest could not be written (every table of it was held), or that hit
    /// a bug.
    pub failures: AtomicU64,
    /// Failed attempts to write one table's files (the table is held and retried).
    pub table_failures: AtomicU64,
}

#[derive(Debug, Clone)]
pub(crate) struct FlushSettings {
    pub(crate) store: Arc<dyn ObjectStore>,
    pub(crate) layout: crate::Layout,
    pub(crate) row_group_rows: usize,
    pub(crate) stats: Arc<FlushStats>,
}

/// File names unique across restarts: start time of this process plus a counter.
#[derive(Debug)]
pub(crate) struct FileIds {
    epoch_ns: u128,
    next: AtomicU64,
}

impl FileIds {
    pub(crate) fn new() -> Self {
        let epoch_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        FileIds {
            epoch_ns,
            next: AtomicU64::new(0),
        }
    }

    fn next(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        format!("{:020}-{n:06}.parquet", self.epoch_ns)
    }
}

/// A file a flush wrote: what the manifest records of it (but its new series, which the
/// flusher counts), its UTC day, and its tag columns (sorted by series).
#[derive(Debug)]
pub(crate) struct Written {
    pub(crate) entry: FileEntry,
    pub(crate) day: i64,
    pub(crate) tags: RecordBatch,
}

/// Writes one measurement's rows (merged, see [`merge_rows`]) as one file per UTC day;
/// returns what the manifest records. On failure, the files this call already wrote are
/// deleted (best effort: start-up deletes any file no manifest names) and the rows are the
/// caller's to keep.
pub(crate) async fn write_job(
    settings: &FlushSettings,
    ids: &FileIds,
    bucket: BucketId,
    measurement: &str,
    merged: &Taken,
) -> Result<Vec<Written>> {
    let mut entries = Vec::new();
    let result = write_days(settings, ids, bucket, measurement, merged, &mut entries).await;
    if let Err(e) = result {
        for f in &entries {
            let _ = settings
                .store
                .delete(&layout::object_path(&f.entry.path))
                .await;
        }
        return Err(e);
    }
    Ok(entries)
}

async fn write_days(
    settings: &FlushSettings,
    ids: &FileIds,
    bucket: BucketId,
    measurement: &str,
    merged: &Taken,
    entries: &mut Vec<Written>,
) -> Result<()> {
    let (all, days) = sort_for_files(merged)?;
    for (day, start, len) in days {
        let sorted = all.slice(start, len);
        let time = time_column(&sorted)?;
        let (min_time_ns, max_time_ns) = (
            arrow::compute::min(time).unwrap_or_default(),
            arrow::compute::max(time).unwrap_or_default(),
        );
        let mut attempt = 0;
        loop {
            attempt += 1;
            let path = settings
                .layout
                .file(bucket, measurement, &civil_date(day), &ids.next());
            match upload(settings, &path, measurement, &sorted).await {
                Ok(bytes) => {
                    settings.stats.files.fetch_add(1, Ordering::Relaxed);
                    settings.stats.bytes.fetch_add(bytes, Ordering::Relaxed);
                    settings
                        .stats
                        .rows
                        .fetch_add(sorted.num_rows() as u64, Ordering::Relaxed);
                    tracing::debug!(path = %path, bytes, rows = sorted.num_rows(), "wrote parquet file");
                    entries.push(Written {
                        entry: FileEntry {
                            path: path.to_string(),
                            bucket: bucket.0,
                            measurement: measurement.to_owned(),
                            rows: sorted.num_rows() as u64,
                            bytes,
                            min_time_ns,
                            max_time_ns,
                            new_series: None,
                        },
                        day,
                        tags: tag_columns(&sorted)?,
                    });
                    break;
                }
                Err(e) if attempt < ATTEMPTS_MAX => {
                    tracing::warn!(path = %path, attempt, error = %e, "parquet upload failed; retrying");
                    tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

/// Streams `batch` into a Parquet object one row group at a time, so memory stays bounded by a
/// row group plus one upload part, whatever the file's size.
async fn upload(
    settings: &FlushSettings,
    path: &Path,
    measurement: &str,
    batch: &RecordBatch,
) -> Result<u64> {
    let props = writer_properties(&batch.schema(), measurement, settings.row_group_rows);
    let parquet_err = |e: parquet::errors::ParquetError| EngineError::Parquet(e.to_string());
    let io_err = |e: std::io::Error| EngineError::Parquet(e.to_string());
    let upload = settings.store.put_multipart(path).await?;
    let mut sink = WriteMultipart::new_with_chunk_size(upload, PART_BYTES);
    let result: Result<u64> = async {
        let mut writer =
            ArrowWriter::try_new(Vec::new(), batch.schema(), Some(props)).map_err(parquet_err)?;
        let mut total = 0u64;
        let mut offset = 0;
        let step = settings.row_group_rows.max(1);
        while offset < batch.num_rows() {
            let len = step.min(batch.num_rows() - offset);
            writer
                .write(&batch.slice(offset, len))
                .map_err(parquet_err)?;
            writer.flush().map_err(parquet_err)?;
            writer.sync().map_err(io_err)?;
            let bytes = std::mem::take(writer.inner_mut());
            total += bytes.len() as u64;
            sink.write(&bytes);
            sink.wait_for_capacity(2).await?;
            offset += len;
        }
        writer.finish().map_err(parquet_err)?;
        writer.sync().map_err(io_err)?;
        let bytes = std::mem::take(writer.inner_mut());
        total += bytes.len() as u64;
        sink.write(&bytes);
        Ok(total)
    }
    .await;
    match result {
        Ok(total) => {
            sink.finish().await?;
            Ok(total)
        }
        Err(e) => {
            let _ = sink.abort().await;
            Err(e)
        }
    }
}

/// How each column is encoded. Tags and string fields repeat by nature: dictionary. Floats
/// get a dictionary too, falling back to byte-stream-split once the dictionary page outgrows
/// its limit: gauges that take few distinct values (percentages, counts stored as floats)
/// come out 2.4x smaller for ~7% more server CPU under load, and high-entropy values end up split
/// by byte (ZSTD then finds the shared exponent bytes). Integers and times are
/// delta-encoded without a dictionary: sorted by series, neighbouring values are close, and a
/// dictionary of nearly every value was half of a flush's time.
fn writer_properties(
    schema: &arrow::datatypes::Schema,
    measurement: &str,
    row_group_rows: usize,
) -> WriterProperties {
    use parquet::basic::Encoding;
    use parquet::file::metadata::KeyValue;
    use parquet::schema::types::ColumnPath;
    let mut props = WriterProperties::builder()
        // The real name: the directory holds a bounded form of it (`layout`).
        .set_key_value_metadata(Some(vec![KeyValue::new(
            layout::MEASUREMENT_KEY.to_owned(),
            measurement.to_owned(),
        )]))
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(row_group_rows.max(1)))
        .set_dictionary_enabled(false);
    for field in schema.fields() {
        let col = ColumnPath::from(field.name().as_str());
        props = match field.data_type() {
            DataType::Dictionary(_, _) | DataType::Utf8 => {
                props.set_column_dictionary_enabled(col, true)
            }
            DataType::Float64 => props
                .set_column_dictionary_enabled(col.clone(), true)
                .set_column_encoding(col, Encoding::BYTE_STREAM_SPLIT),
            DataType::Int64 | DataType::UInt64 | DataType::Timestamp(_, _) => {
                props.set_column_encoding(col, Encoding::DELTA_BINARY_PACKED)
            }
            _ => props,
        };
    }
    props.build()
}

/// The dictionary-encoded (tag) columns of `batch`.
fn tag_columns(batch: &RecordBatch) -> Result<RecordBatch> {
    let tags = crate::buffer::tag_indices(&batch.schema());
    batch
        .project(&tags)
        .map_err(|e| EngineError::Internal(e.to_string()))
}

fn time_column(batch: &RecordBatch) -> Result<&TimestampNanosecondArray> {
    batch
        .column_by_name(TIME_COLUMN)
        .and_then(|c| c.as_any().downcast_ref::<TimestampNanosecondArray>())
        .ok_or_else(|| EngineError::Internal("batch without a time column".into()))
}

/// A measurement's batches (its shards', and those held from failed flushes) as one batch: the
/// union of their columns (a column a batch lacks reads as null there), in the buffers' order
/// (tags by name, fields by name, time). Row order is kept; the pass numbers order writes.
pub(crate) fn merge_rows(mut taken: Vec<Taken>) -> Result<Option<Taken>> {
    let internal = |e: arrow::error::ArrowError| EngineError::Internal(e.to_string());
    if taken.len() <= 1 {
        return Ok(taken.pop());
    }
    let mut fields: Vec<arrow::datatypes::FieldRef> = Vec::new();
    for t in &taken {
        for f in t.batch.schema().fields() {
            if !fields.iter().any(|g| g.name() == f.name()) {
                fields.push(arrow::datatypes::FieldRef::clone(f));
            }
        }
    }
    let rank = |f: &arrow::datatypes::Field| match (f.data_type(), f.name().as_str()) {
        (DataType::Dictionary(_, _), _) => 0,
        (_, TIME_COLUMN) => 2,
        _ => 1,
    };
    fields.sort_by(|a, b| (rank(a), a.name()).cmp(&(rank(b), b.name())));
    let schema = Arc::new(arrow::datatypes::Schema::new(fields));
    let mut batches = Vec::with_capacity(taken.len());
    let mut seqs: Vec<&dyn Array> = Vec::with_capacity(taken.len());
    for t in &taken {
        let rows = t.batch.num_rows();
        let columns = schema
            .fields()
            .iter()
            .map(|f| {
                t.batch
                    .column_by_name(f.name())
                    .map(ArrayRef::clone)
                    .unwrap_or_else(|| arrow::array::new_null_array(f.data_type(), rows))
            })
            .collect();
        batches.push(RecordBatch::try_new(Arc::clone(&schema), columns).map_err(internal)?);
        seqs.push(&t.seq);
    }
    let batch = arrow::compute::concat_batches(&schema, &batches).map_err(internal)?;
    let seq = arrow::compute::concat(&seqs).map_err(internal)?;
    let seq = seq
        .as_any()
        .downcast_ref::<arrow::array::UInt64Array>()
        .cloned()
        .ok_or_else(|| EngineError::Internal("sequence column of another type".into()))?;
    Ok(Some(Taken { batch, seq }))
}

/// `(UTC day, first row, rows)`: one file's rows in a sorted batch.
pub(crate) type DayRun = (i64, usize, usize);

/// Sorts rows by UTC day (one file per day, so retention can drop whole files), then every tag
/// column (in column order, i.e. by tag name), then time, then arrival (write pass, then
/// position: rows of one pass sit in one shard, in order), and merges rows of the same series
/// and timestamp as InfluxDB 1.x does: the result has the union of their fields, each field
/// taking its last written value (last write wins). Returns the rows and each day's
/// `(day, first row, rows)`.
pub(crate) fn sort_for_files(rows: &Taken) -> Result<(RecordBatch, Vec<DayRun>)> {
    let internal = |e: arrow::error::ArrowError| EngineError::Internal(e.to_string());
    let batch = &rows.batch;
    let schema = batch.schema();
    let is_tag = |f: &arrow::datatypes::Field| matches!(f.data_type(), DataType::Dictionary(_, _));
    let is_key = |f: &arrow::datatypes::Field| is_tag(f) || f.name() == TIME_COLUMN;
    // Tags in sort order (by name: the batch's column order), as ranks of their values.
    let tags: Vec<Vec<u32>> = schema
        .fields()
        .iter()
        .zip(batch.columns())
        .filter(|(f, _)| is_tag(f))
        .map(|(_, c)| tag_ranks(c.as_ref()))
        .collect::<Result<_>>()?;
    let time = time_column(batch)?.values();
    let mut order = series_time_order(&tags, time, rows.seq.values());
    // Days as the most significant key: one more stable counting sort, by day rank.
    let mut days: Vec<i64> = time.iter().map(|&t| day_of(t)).collect();
    days.sort_unstable();
    days.dedup();
    if days.len() > 1 {
        let ranks: Vec<u32> = time
            .iter()
            .map(|&t| days.binary_search(&day_of(t)).unwrap_or(0) as u32)
            .collect();
        order = stable_counting_sort(order, &ranks);
    }
    let same_point = |a: u32, b: u32| {
        let (a, b) = (a as usize, b as usize);
        time[a] == time[b] && tags.iter().all(|r| r[a] == r[b])
    };
    // Runs of equal (series, time) in sorted order: [start, end) positions into `order`.
    let mut groups: Vec<(usize, usize)> = Vec::with_capacity(order.len());
    for (pos, &row) in order.iter().enumerate() {
        match groups.last_mut() {
            Some((start, end)) if same_point(order[*start], row) => *end = pos + 1,
            _ => groups.push((pos, pos + 1)),
        }
    }
    // Each day's run of output rows (groups never span days: same time, same day).
    let mut runs: Vec<DayRun> = Vec::new();
    for (out_row, &(start, _)) in groups.iter().enumerate() {
        let day = day_of(time[order[start] as usize]);
        match runs.last_mut() {
            Some((d, _, len)) if *d == day => *len += 1,
            _ => runs.push((day, out_row, 1)),
        }
    }
    if groups.len() == order.len() {
        let indices = arrow::array::UInt32Array::from(order);
        return Ok((take_record_batch(batch, &indices).map_err(internal)?, runs));
    }
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (field, col) in schema.fields().iter().zip(batch.columns()) {
        // Keys are equal within a group: take the first row. A field takes its last non-null
        // value in arrival order (the sort's tie-breaker), or null if the group has none.
        let pick: arrow::array::UInt32Array = groups
            .iter()
            .map(|&(start, end)| {
                let rows = &order[start..end];
                let chosen = if is_key(field) {
                    rows[0]
                } else {
                    rows.iter()
                        .rev()
                        .copied()
                        .find(|&r| col.is_valid(r as usize))
                        .unwrap_or(rows[end - start - 1])
                };
                Some(chosen)
            })
            .collect();
        columns.push(arrow::compute::take(col.as_ref(), &pick, None).map_err(internal)?);
    }
    Ok((
        RecordBatch::try_new(schema, columns).map_err(internal)?,
        runs,
    ))
}

/// Each row's rank of a tag column: 0 for null, else 1 + the place of its value in byte order
/// (equal values, which a merged dictionary can repeat, share a rank). Sorting by ranks is
/// sorting by the strings, at the cost of one sort of the distinct values instead of a string
/// comparison per row comparison.
pub(crate) fn tag_ranks(col: &dyn Array) -> Result<Vec<u32>> {
    let dict = col
        .as_any()
        .downcast_ref::<arrow::array::DictionaryArray<arrow::datatypes::Int32Type>>()
        .ok_or_else(|| EngineError::Internal("tag column of another type".into()))?;
    let values = dict
        .values()
        .as_any()
        .downcast_ref::<arrow::array::StringArray>()
        .ok_or_else(|| EngineError::Internal("tag dictionary of another type".into()))?;
    let mut by_value: Vec<u32> = (0..values.len() as u32).collect();
    by_value.sort_unstable_by(|&a, &b| values.value(a as usize).cmp(values.value(b as usize)));
    let mut rank_of = vec![0u32; values.len()];
    let mut rank = 0u32;
    for (i, &v) in by_value.iter().enumerate() {
        let new_value =
            i == 0 || values.value(by_value[i - 1] as usize) != values.value(v as usize);
        rank += u32::from(new_value);
        rank_of[v as usize] = rank;
    }
    let keys = dict.keys();
    Ok((0..keys.len())
        .map(|i| {
            if keys.is_valid(i) {
                usize::try_from(keys.value(i))
                    .ok()
                    .and_then(|k| rank_of.get(k).copied())
                    .unwrap_or(0)
            } else {
                0
            }
        })
        .collect())
}

/// Row order by (every tag rank, in order), time, write pass, position: a stable sort by
/// (time, pass) — nearly sorted already, rows arrive in time order — then one stable counting
/// sort per tag, last tag first (least significant digit first), so the first tag ends up
/// most significant.
fn series_time_order(tags: &[Vec<u32>], time: &[i64], seq: &[u64]) -> Vec<u32> {
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

/// `YYYY-MM-DD` of a day number since 1970-01-01 (proleptic Gregorian, Howard Hinnant's
/// civil-from-days).
pub(crate) fn civil_date(day: i64) -> String {
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let taken = merge_rows(buf.take().expect("take"))
            .expect("merge")
            .expect("rows");
        let (out, _) = sort_for_files(&taken).expect("sort");
        assert_eq!(out.num_rows(), 3);
        let v = out
            .column_by_name("v")
            .and_then(|c| c.as_any().downcast_ref::<Float64Array>().cloned())
            .expect("v");
        let w = out
            .column_by_name("w")
            .and_then(|c| c.as_any().downcast_ref::<Int64Array>().cloned())
            .expect("w");
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
            let merged = merge_rows([a.take().expect("take"), b.take().expect("take")].concat())
                .expect("merge")
                .expect("rows");
            let names: Vec<_> = merged
                .batch
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect();
            assert_eq!(names, ["host", "v", "w", "time"]);
            assert_eq!(merged.batch.num_rows(), 4);
            let (out, _) = sort_for_files(&merged).expect("sort");
            assert_eq!(out.num_rows(), 2);
            let v = out
                .column_by_name("v")
                .and_then(|c| c.as_any().downcast_ref::<Float64Array>().cloned())
                .expect("v");
            let w = out
                .column_by_name("w")
                .and_then(|c| c.as_any().downcast_ref::<Int64Array>().cloned())
                .expect("w");
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
                tag_ranks(t1.as_ref()).expect("ranks"),
                tag_ranks(t2.as_ref()).expect("ranks"),
            ];
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
        let taken = merge_rows(buf.take().expect("take"))
            .expect("merge")
            .expect("rows");
        let (out, runs) = sort_for_files(&taken).expect("sort");
        assert_eq!(out.num_rows(), expected_rows);
        assert_eq!(
            runs.iter().map(|&(d, _, n)| (d, n)).collect::<Vec<_>>(),
            [(0, 100), (1, 100), (2, 100)]
        );
        let time = time_column(&out).expect("time");
        for &(d, start, n) in &runs {
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
}
