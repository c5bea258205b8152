//! One measurement as a DataFusion table. Each scan takes a fresh engine snapshot: rows in
//! memory and the files durable manifests name, pruned by the query's time range. Each file is
//! sorted and holds a point once, so only rows at times two inputs share ([`overlap`]) can be
//! the same point twice: those, and the rows in memory, are merged by [`DedupExec`]; every
//! other row is scanned as it is.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use arrow::array::AsArray;
use arrow::datatypes::{Field, Schema, SchemaRef, TimestampNanosecondType};
use async_trait::async_trait;
use catalog::{BucketId, ColumnType, TableSchema};
use datafusion::catalog::Session;
use datafusion::common::stats::Precision;
use datafusion::common::ScalarValue;
use datafusion::common::{DFSchema, Result as DfResult, Statistics};
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::parquet::CachedParquetFileReaderFactory;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::utils::{conjunction, disjunction};
use datafusion::logical_expr::{col, lit, Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::union::UnionExec;
use datafusion::physical_plan::{ExecutionPlan, PhysicalExpr};
use engine::{Engine, SnapshotFile, SnapshotRequest, Taken, TIME_COLUMN};

use crate::dedup::DedupExec;
use crate::overlap;
use crate::time_range::TimeRange;
use crate::{QueryStats, STORE_URL};

#[derive(Debug)]
pub(crate) struct MeasurementTable {
    engine: Engine,
    bucket: BucketId,
    measurement: String,
    schema: SchemaRef,
    /// Names of the tag columns (what a filter may use inside a merge).
    tags: Vec<String>,
    stats: Arc<QueryStats>,
}

impl MeasurementTable {
    pub(crate) fn new(
        engine: Engine,
        bucket: BucketId,
        measurement: String,
        schema: &TableSchema,
        stats: Arc<QueryStats>,
    ) -> Self {
        let (schema, tags) = arrow_schema(schema);
        MeasurementTable {
            engine,
            bucket,
            measurement,
            schema,
            tags,
            stats,
        }
    }

    /// Whether `e` reads only tags and time: such a filter may prune inputs of a merge (all
    /// writes of one point share them); one on a field may not (it could drop an older write
    /// whose value the merge would keep).
    fn on_keys_only(&self, e: &Expr) -> bool {
        e.column_refs()
            .iter()
            .all(|c| c.name == TIME_COLUMN || self.tags.contains(&c.name))
    }
}

/// The table's columns: tags (dictionary strings), fields by their types, then `time`, each
/// group by name; and the tags' names.
fn arrow_schema(schema: &TableSchema) -> (SchemaRef, Vec<String>) {
    let mut tags = Vec::new();
    let mut fields = Vec::new();
    for (name, ty) in schema.columns() {
        let field = Field::new(name, engine::arrow_type(ty), true);
        match ty {
            ColumnType::Tag => {
                tags.push(name.to_owned());
                fields.insert(tags.len() - 1, field);
            }
            ColumnType::Field(_) => fields.push(field),
        }
    }
    fields.push(Field::new(TIME_COLUMN, engine::time_type(), false));
    (Arc::new(Schema::new(fields)), tags)
}

/// The time range of a batch of rows in memory.
fn rows_range(t: &Taken) -> Option<(i64, i64)> {
    let time = t.batch.column_by_name(TIME_COLUMN)?;
    let time = time.as_primitive_opt::<TimestampNanosecondType>()?;
    Some((arrow::compute::min(time)?, arrow::compute::max(time)?))
}

/// `time` within (or, `inside == false`, outside) every one of `windows`.
fn in_windows(windows: &[(i64, i64)], inside: bool) -> Option<Expr> {
    let ts = |v: i64| {
        lit(ScalarValue::TimestampNanosecond(
            Some(v),
            Some("UTC".into()),
        ))
    };
    let each = windows.iter().map(|&(lo, hi)| match inside {
        true => col(TIME_COLUMN).between(ts(lo), ts(hi)),
        false => col(TIME_COLUMN).not_between(ts(lo), ts(hi)),
    });
    match inside {
        true => disjunction(each),
        false => conjunction(each),
    }
}

#[async_trait]
impl TableProvider for MeasurementTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DfResult<Vec<TableProviderFilterPushDown>> {
        // Used to prune (time range, statistics), re-checked above the scan.
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let projected = match projection {
            Some(p) => Arc::new(self.schema.project(p)?),
            None => Arc::clone(&self.schema),
        };
        let range = TimeRange::of(filters, TIME_COLUMN);
        if range.is_empty() {
            return Ok(Arc::new(EmptyExec::new(projected)));
        }
        let measurements = [self.measurement.as_str()];
        let snapshot = self
            .engine
            .snapshot(SnapshotRequest {
                bucket: self.bucket,
                measurements: Some(&measurements),
                min_time_ns: range.min_ns,
                max_time_ns: range.max_ns,
            })
            .map_err(|e| datafusion::error::DataFusionError::External(Box::new(e)))?;
        let Some(table) = snapshot.table(&self.measurement) else {
            return Ok(Arc::new(EmptyExec::new(projected)));
        };
        let in_range = |(lo, hi): (i64, i64)| hi >= range.min_ns && lo <= range.max_ns;
        let files: Vec<&SnapshotFile> = table
            .files
            .iter()
            .filter(|f| in_range((f.entry().min_time_ns, f.entry().max_time_ns)))
            .collect();
        let memory: Vec<(Taken, (i64, i64))> = table
            .rows
            .iter()
            .filter_map(|t| rows_range(t).map(|r| (t.clone(), r)))
            .filter(|(_, r)| in_range(*r))
            .collect();
        // Times two inputs share; the rows in memory count as one input (they are merged among
        // themselves anyway: a buffer may hold a point twice).
        let mut spans: Vec<(i64, i64)> = files
            .iter()
            .map(|f| (f.entry().min_time_ns, f.entry().max_time_ns))
            .collect();
        if let (Some(lo), Some(hi)) = (
            memory.iter().map(|(_, r)| r.0).min(),
            memory.iter().map(|(_, r)| r.1).max(),
        ) {
            spans.push((lo, hi));
        }
        let windows = overlap::windows(&spans);
        let (shared, alone): (Vec<&SnapshotFile>, Vec<&SnapshotFile>) =
            files.into_iter().partition(|f| {
                overlap::touches(&windows, f.entry().min_time_ns, f.entry().max_time_ns)
            });

        let df_schema = DFSchema::try_from(Arc::clone(&self.schema))?;
        let predicate = |keys_only: bool, extra: Option<Expr>| {
            let chosen = filters
                .iter()
                .filter(|f| !keys_only || self.on_keys_only(f))
                .cloned()
                .chain(extra);
            conjunction(chosen)
                .map(|e| state.create_physical_expr(e, &df_schema))
                .transpose()
        };
        let partitions = state.config().target_partitions().max(1);
        let mut plans: Vec<Arc<dyn ExecutionPlan>> = Vec::new();
        let mut rows = 0u64;
        let mut bytes = 0u64;
        for f in alone.iter().chain(&shared) {
            rows += f.entry().rows;
            bytes += f.entry().bytes;
        }
        // Files that share no time with another input: as they are.
        if !alone.is_empty() {
            plans.push(self.parquet_scan(
                state,
                &alone,
                partitions,
                predicate(false, None)?,
                projection.cloned(),
                limit,
            )?);
        }
        // Files that do: their rows outside the shared times as they are, …
        if !shared.is_empty() {
            plans.push(self.parquet_scan(
                state,
                &shared,
                partitions,
                predicate(false, in_windows(&windows, false))?,
                projection.cloned(),
                None,
            )?);
        }
        // … and those inside them merged with the rows in memory, files in commit order.
        if !shared.is_empty() || !memory.is_empty() {
            let inside = predicate(true, in_windows(&windows, true))?;
            let mut children = Vec::with_capacity(shared.len());
            for f in &shared {
                children.push(self.parquet_scan(state, &[*f], 1, inside.clone(), None, None)?);
            }
            rows += memory
                .iter()
                .map(|(t, _)| t.batch.num_rows() as u64)
                .sum::<u64>();
            plans.push(Arc::new(DedupExec::new(
                Arc::clone(&self.schema),
                projection.cloned(),
                children,
                memory.into_iter().map(|(t, _)| t).collect(),
            )?));
        }
        self.stats.rows_scanned.fetch_add(rows, Ordering::Relaxed);
        self.stats
            .file_bytes_scanned
            .fetch_add(bytes, Ordering::Relaxed);
        match plans.len() {
            0 => Ok(Arc::new(EmptyExec::new(projected))),
            1 => Ok(plans.remove(0)),
            _ => UnionExec::try_new(plans),
        }
    }
}

impl MeasurementTable {
    /// A Parquet scan of `files` in up to `partitions` groups of about equal size.
    fn parquet_scan(
        &self,
        state: &dyn Session,
        files: &[&SnapshotFile],
        partitions: usize,
        predicate: Option<Arc<dyn PhysicalExpr>>,
        projection: Option<Vec<usize>>,
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        // Filters are evaluated while decoding (a column is decoded only for the rows the
        // earlier filters kept), and a join's build side can prune the scan through them.
        let mut source = ParquetSource::new(Arc::clone(&self.schema))
            .with_enable_page_index(true)
            .with_pushdown_filters(true)
            .with_reorder_filters(true)
            // The flush writes no bloom filters: looking for them costs a read per row group.
            .with_bloom_filter_on_read(false)
            // Files never change once written: their footers and page indexes are parsed once
            // (the runtime's metadata cache), not on every query.
            .with_parquet_file_reader_factory(Arc::new(CachedParquetFileReaderFactory::new(
                self.engine.store(),
                state.runtime_env().cache_manager.get_file_metadata_cache(),
            )));
        if let Some(p) = predicate {
            source = source.with_predicate(p);
        }
        let mut groups: Vec<(u64, Vec<PartitionedFile>)> = vec![(0, Vec::new()); partitions];
        let mut by_size: Vec<&SnapshotFile> = files.to_vec();
        by_size.sort_by_key(|f| std::cmp::Reverse(f.entry().bytes));
        for f in by_size {
            if let Some(smallest) = groups.iter_mut().min_by_key(|(b, _)| *b) {
                smallest.0 += f.entry().bytes;
                // Its row count is exact (a file holds each point once): the planner orders
                // joins by it, and answers `count(*)` of files that overlap nothing from it.
                let mut stats = Statistics::new_unknown(&self.schema);
                stats.num_rows = Precision::Exact(f.entry().rows as usize);
                stats.total_byte_size = Precision::Inexact(f.entry().bytes as usize);
                smallest.1.push(
                    PartitionedFile::new(f.entry().path.clone(), f.entry().bytes)
                        .with_statistics(Arc::new(stats)),
                );
            }
        }
        let url = ObjectStoreUrl::parse(STORE_URL)?;
        let config = FileScanConfigBuilder::new(url, Arc::new(source))
            .with_file_groups(
                groups
                    .into_iter()
                    .filter(|(_, g)| !g.is_empty())
                    .map(|(_, g)| FileGroup::new(g))
                    .collect(),
            )
            .with_projection_indices(projection)?
            .with_limit(limit)
            .build();
        Ok(DataSourceExec::from_data_source(config))
    }
}

/// Whether a data type is a tag's (tests).
#[cfg(test)]
fn is_tag(t: &arrow::datatypes::DataType) -> bool {
    matches!(t, arrow::datatypes::DataType::Dictionary(..))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_then_fields_then_time() {
        let s = TableSchema::new([
            ("usage".into(), ColumnType::Field(catalog::FieldType::Float)),
            ("region".into(), ColumnType::Tag),
            ("host".into(), ColumnType::Tag),
        ]);
        let (schema, tags) = arrow_schema(&s);
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, vec!["host", "region", "usage", "time"]);
        assert_eq!(tags, vec!["host", "region"]);
        assert!(is_tag(schema.field(0).data_type()));
    }
}
