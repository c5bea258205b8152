//! `DedupExec`: inputs that may hold one point more than once (overlapping files, rows in
//! memory) read as one row per point, with 1.x's "last write wins" field by field. Files come
//! in commit order (one child scan each), then the rows in memory, which are always later
//! writes than any file; the merge itself is the engine's ([`engine::last_write_wins`]).

use std::fmt;
use std::sync::Arc;

use arrow::array::{new_null_array, ArrayRef, UInt64Array};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::Result as DfResult;
use datafusion::error::DataFusionError;
use datafusion::execution::TaskContext;
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PhysicalExpr, PlanProperties,
    SendableRecordBatchStream,
};
use engine::Taken;
use futures::TryStreamExt;

/// Merges its children (one file each, in commit order) and `rows` (in memory) into one row
/// per point, then projects.
pub(crate) struct DedupExec {
    /// The table's schema (what children produce).
    table: SchemaRef,
    projection: Option<Vec<usize>>,
    children: Vec<Arc<dyn ExecutionPlan>>,
    rows: Arc<Vec<Taken>>,
    properties: Arc<PlanProperties>,
}

impl fmt::Debug for DedupExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DedupExec")
            .field("files", &self.children.len())
            .field("batches_in_memory", &self.rows.len())
            .finish()
    }
}

impl DedupExec {
    pub(crate) fn new(
        table: SchemaRef,
        projection: Option<Vec<usize>>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        rows: Vec<Taken>,
    ) -> DfResult<Self> {
        let output = match &projection {
            Some(p) => Arc::new(table.project(p)?),
            None => Arc::clone(&table),
        };
        let properties = PlanProperties::new(
            EquivalenceProperties::new(output),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Final,
            Boundedness::Bounded,
        );
        Ok(DedupExec {
            table,
            projection,
            children,
            rows: Arc::new(rows),
            properties: Arc::new(properties),
        })
    }
}

impl DisplayAs for DedupExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "DedupExec: files={}, batches_in_memory={}",
            self.children.len(),
            self.rows.len()
        )
    }
}

impl ExecutionPlan for DedupExec {
    fn name(&self) -> &str {
        "DedupExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        self.children.iter().collect()
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(DedupExec {
            table: Arc::clone(&self.table),
            projection: self.projection.clone(),
            children,
            rows: Arc::clone(&self.rows),
            properties: Arc::clone(&self.properties),
        }))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        if partition != 0 {
            return Err(DataFusionError::Internal(format!(
                "DedupExec has one partition, not {partition}"
            )));
        }
        let children = self.children.clone();
        let rows = Arc::clone(&self.rows);
        let table = Arc::clone(&self.table);
        let projection = self.projection.clone();
        let output = self.properties.eq_properties.schema().clone();
        let merged = async move {
            let mut parts: Vec<Taken> = Vec::new();
            // Files first, in commit order: seq 1, 2, …; rows in memory after every file.
            for (i, child) in children.iter().enumerate() {
                let mut stream = datafusion::physical_plan::execute_stream_partitioned(
                    Arc::clone(child),
                    Arc::clone(&context),
                )?;
                let seq = i as u64 + 1;
                for s in stream.iter_mut() {
                    while let Some(batch) = s.try_next().await? {
                        let n = batch.num_rows();
                        parts.push(Taken {
                            batch,
                            seq: UInt64Array::from(vec![seq; n]),
                        });
                    }
                }
            }
            let offset = children.len() as u64 + 1;
            for t in rows.iter() {
                let seq: UInt64Array = t.seq.unary(|s| s.saturating_add(offset));
                parts.push(Taken {
                    batch: t.batch.clone(),
                    seq,
                });
            }
            let merged = engine::last_write_wins(&parts)
                .map_err(|e| DataFusionError::External(Box::new(e)))?;
            merged
                .iter()
                .map(|b| align(b, &table, projection.as_deref(), &output))
                .collect::<DfResult<Vec<_>>>()
        };
        let stream = futures::stream::once(merged)
            .map_ok(|batches| futures::stream::iter(batches.into_iter().map(Ok)))
            .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.properties.eq_properties.schema().clone(),
            stream,
        )))
    }
}

/// `batch` (the merge's columns, by name) as the table's projected columns; a column no input
/// had reads as nulls.
fn align(
    batch: &RecordBatch,
    table: &SchemaRef,
    projection: Option<&[usize]>,
    output: &SchemaRef,
) -> DfResult<RecordBatch> {
    let indices: Vec<usize> = match projection {
        Some(p) => p.to_vec(),
        None => (0..table.fields().len()).collect(),
    };
    let columns: Vec<ArrayRef> = indices
        .iter()
        .map(|&i| {
            let field = table.field(i);
            match batch.column_by_name(field.name()) {
                Some(c) if c.data_type() == field.data_type() => Ok(Arc::clone(c)),
                Some(c) => Ok(arrow::compute::cast(c, field.data_type())?),
                None => Ok(new_null_array(field.data_type(), batch.num_rows())),
            }
        })
        .collect::<DfResult<_>>()?;
    Ok(RecordBatch::try_new_with_options(
        Arc::clone(output),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
    )?)
}
