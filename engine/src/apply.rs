//! One line into a buffer: the measurement's schema and shard looked up once per pass, the
//! column layout remembered from line to line, kinds and types checked.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use catalog::{Bucket, BucketId, ColumnType, FieldType, TableSchema};
use lp::Line;

use crate::{
    buffer, hash, sched, shards, Engine, EngineError, Inner, RejectReason, Result, TableBuffer,
    Tables, TIME_COLUMN,
};

/// What happened to one parsed line.
pub(crate) enum Applied {
    Written,
    /// The line names columns the catalog does not have yet.
    NeedsColumns,
    Rejected(RejectReason),
}

/// Per-measurement state of one write pass: its schema and buffer (looked up once), and the
/// column layout of the last line appended to it (`tag_cols`/`field_cols` for keys
/// `layout_tags`/`layout_fields`). Telegraf repeats the same keys line after line, so most lines
/// skip every map lookup and type check.
struct TableCursor {
    measurement: String,
    schema: Arc<TableSchema>,
    table: Arc<shards::Shards>,
    /// The shard this pass appends to (one per pass, so a pass's rows keep their order).
    shard: usize,
    /// That shard, locked, while this pass keeps it: one lock per pass and measurement instead
    /// of one per line. Released at the end of the pass ([`Cursor::settle`]).
    guard: Option<shards::ShardGuard>,
    /// Bytes this pass appended, not yet added to the measurement's and the engine's totals.
    bytes_added: usize,
    tag_cols: Vec<usize>,
    field_cols: Vec<usize>,
    layout_tags: Vec<String>,
    layout_fields: Vec<(String, FieldType)>,
    layout_valid: bool,
}

impl TableCursor {
    fn layout_matches(&self, line: &Line<'_>) -> bool {
        self.layout_valid
            && self.layout_tags.len() == line.tags.len()
            && self.layout_fields.len() == line.fields.len()
            && self
                .layout_tags
                .iter()
                .zip(&line.tags)
                .all(|(k, t)| hash::eq_short(k, &t.key))
            && self
                .layout_fields
                .iter()
                .zip(&line.fields)
                .all(|((k, ty), f)| {
                    *ty == buffer::field_type(&f.value) && hash::eq_short(k, &f.key)
                })
    }

    fn remember_layout(&mut self, line: &Line<'_>) {
        // Reuse the strings' allocations: a layout change costs copies, not allocations.
        self.layout_tags.resize_with(line.tags.len(), String::new);
        for (k, t) in self.layout_tags.iter_mut().zip(&line.tags) {
            k.clear();
            k.push_str(&t.key);
        }
        self.layout_fields
            .resize_with(line.fields.len(), || (String::new(), FieldType::Float));
        for ((k, ty), f) in self.layout_fields.iter_mut().zip(&line.fields) {
            k.clear();
            k.push_str(&f.key);
            *ty = buffer::field_type(&f.value);
        }
        self.layout_valid = true;
    }
}

/// Most measurements one pass keeps cursors for; beyond it the set starts over (bounded memory
/// and bounded linear search).
const CURSORS_MAX: usize = 32;

/// State of one write pass over a body.
#[derive(Default)]
pub(crate) struct Cursor {
    tables: Vec<TableCursor>,
    active: usize,
    pub(crate) flush_wanted: bool,
    /// Points older than this (ns) are beyond the bucket's retention.
    retention_cutoff_ns: Option<i64>,
    /// This pass's sequence number (see [`TableBuffer::append_row`]).
    seq: u64,
}

impl Cursor {
    /// A pass numbered `seq` (or numbered by [`Cursor::begin`]) that rejects points older than
    /// `retention_cutoff_ns`.
    pub(crate) fn new(retention_cutoff_ns: Option<i64>, seq: u64) -> Self {
        Cursor {
            retention_cutoff_ns,
            seq,
            ..Cursor::default()
        }
    }

    /// Starts a pass: takes its sequence number and forgets schemas and layouts (the catalog
    /// may have changed since the last pass).
    pub(crate) fn begin(&mut self, inner: &Inner) {
        self.settle(inner);
        self.tables.clear();
        self.active = 0;
        self.seq = inner.write_seq.fetch_add(1, Ordering::Relaxed);
    }

    /// Ends the pass's hold on its shards, adds the pass's bytes to the measurements' and the
    /// engine's totals (once per pass and measurement, not per line: the counters are shared
    /// by every worker), and notes whether a measurement is due for a size flush.
    pub(crate) fn settle(&mut self, inner: &Inner) {
        let mut added = 0;
        for tc in &mut self.tables {
            tc.guard = None;
            let bytes = std::mem::take(&mut tc.bytes_added);
            if bytes > 0 {
                added += bytes;
                if tc.table.add_bytes(bytes) >= inner.config.flush_table_bytes {
                    self.flush_wanted = true;
                }
            }
        }
        let total = inner.buffered_bytes.fetch_add(added, Ordering::Relaxed) + added;
        if inner.flush_lowered.load(Ordering::Relaxed)
            && total > inner.flush_backlog_bytes()
            && inner.flush_lowered.swap(false, Ordering::AcqRel)
        {
            // The flush in progress no longer keeps up at low priority: it would fall further
            // behind with every write, so it competes as an equal from here on.
            sched::to_foreground(inner.flush_tid.load(Ordering::Relaxed));
        }
    }
}

impl Engine {
    pub(crate) fn table(&self, bucket: BucketId, measurement: &str) -> Arc<shards::Shards> {
        // Look up before inserting: `entry` write-locks a map shard, which every concurrent
        // pass would then queue on.
        let tables = match self.inner.buffers.get(&bucket) {
            Some(t) => Arc::clone(t.value()),
            None => Arc::clone(
                self.inner
                    .buffers
                    .entry(bucket)
                    .or_insert_with(|| Arc::new(Tables::new()))
                    .value(),
            ),
        };
        if let Some(t) = tables.get(measurement) {
            return Arc::clone(t.value());
        }
        let shards = self.inner.config.buffer_shards;
        let table = Arc::clone(
            tables
                .entry(measurement.to_owned())
                .or_insert_with(|| Arc::new(shards::Shards::new(shards)))
                .value(),
        );
        table
    }

    /// Validates one line against its measurement's schema and appends it.
    pub(crate) fn apply(
        &self,
        bucket: &Bucket,
        line: &Line<'_>,
        default_ns: i64,
        cursor: &mut Cursor,
    ) -> Result<Applied> {
        let measurement: &str = &line.measurement;
        let active_matches = cursor
            .tables
            .get(cursor.active)
            .is_some_and(|t| t.measurement == measurement);
        if !active_matches {
            if let Some(i) = cursor
                .tables
                .iter()
                .position(|t| t.measurement == measurement)
            {
                cursor.active = i;
            } else {
                if cursor.tables.len() >= CURSORS_MAX {
                    cursor.settle(&self.inner);
                    cursor.tables.clear();
                }
                let table = self.table(bucket.id, measurement);
                cursor.tables.push(TableCursor {
                    measurement: measurement.to_owned(),
                    schema: self.inner.catalog.table(bucket.id, measurement),
                    shard: table.pick(),
                    guard: None,
                    table,
                    bytes_added: 0,
                    tag_cols: Vec::new(),
                    field_cols: Vec::new(),
                    layout_tags: Vec::new(),
                    layout_fields: Vec::new(),
                    layout_valid: false,
                });
                cursor.active = cursor.tables.len() - 1;
            }
        }
        let Some(tc) = cursor.tables.get_mut(cursor.active) else {
            return Err(EngineError::Internal("no current table".into()));
        };
        let time_ns = line.timestamp.unwrap_or(default_ns);
        if cursor
            .retention_cutoff_ns
            .is_some_and(|cutoff| time_ns < cutoff)
        {
            return Ok(Applied::Rejected(RejectReason::BeyondRetention));
        }
        let mut buf = match tc.guard.take() {
            Some(g) => g,
            None => match tc.table.try_lock(tc.shard) {
                Some(g) => g,
                None => {
                    // Never wait for a shard while holding another (two passes could then
                    // wait for each other): let go of every held shard first.
                    let active = cursor.active;
                    for t in &mut cursor.tables {
                        t.guard = None;
                    }
                    let Some(t) = cursor.tables.get(active) else {
                        return Err(EngineError::Internal("no current table".into()));
                    };
                    t.table.lock(t.shard)
                }
            },
        };
        let Some(tc) = cursor.tables.get_mut(cursor.active) else {
            return Err(EngineError::Internal("no current table".into()));
        };
        if !tc.layout_matches(line) {
            match resolve_columns(&mut buf, line, tc)? {
                Applied::Written => tc.remember_layout(line),
                other => {
                    tc.layout_valid = false;
                    tc.guard = Some(buf);
                    return Ok(other);
                }
            }
        }
        let before = buf.approx_bytes();
        buf.append_row(
            tc.tag_cols
                .iter()
                .copied()
                .zip(line.tags.iter().map(|t| &*t.value)),
            tc.field_cols
                .iter()
                .copied()
                .zip(line.fields.iter().map(|f| &f.value)),
            time_ns,
            cursor.seq,
        )?;
        tc.bytes_added += buf.approx_bytes().saturating_sub(before);
        tc.guard = Some(buf);
        Ok(Applied::Written)
    }
}

/// Maps every tag and field of `line` to a buffer column (adding columns the catalog already
/// has), checking kinds and types; fills `cursor.tag_cols` / `cursor.field_cols`. `Written`
/// means the line may be appended.
fn resolve_columns(
    buf: &mut TableBuffer,
    line: &Line<'_>,
    cursor: &mut TableCursor,
) -> Result<Applied> {
    let schema = Arc::clone(&cursor.schema);
    let measurement: &str = &line.measurement;
    cursor.tag_cols.clear();
    cursor.field_cols.clear();
    for tag in &line.tags {
        if tag.key == TIME_COLUMN {
            return Ok(Applied::Rejected(RejectReason::ReservedName {
                measurement: measurement.to_owned(),
                tag: true,
            }));
        }
        let known = buf.column(&tag.key).map(|(i, ty)| (Some(i), ty));
        let Some((index, ty)) = known.or_else(|| schema.column(&tag.key).map(|ty| (None, ty)))
        else {
            return Ok(Applied::NeedsColumns);
        };
        match ty {
            ColumnType::Tag => cursor
                .tag_cols
                .push(index.unwrap_or_else(|| buf.add_column(&tag.key, ty))),
            ColumnType::Field(_) => {
                return Ok(Applied::Rejected(RejectReason::ColumnKindConflict {
                    name: tag.key.to_string(),
                    measurement: measurement.to_owned(),
                    existing: "field",
                }))
            }
        }
    }
    for field in &line.fields {
        if field.key == TIME_COLUMN {
            return Ok(Applied::Rejected(RejectReason::ReservedName {
                measurement: measurement.to_owned(),
                tag: false,
            }));
        }
        let got = buffer::field_type(&field.value);
        let known = buf.column(&field.key).map(|(i, ty)| (Some(i), ty));
        let Some((index, ty)) = known.or_else(|| schema.column(&field.key).map(|ty| (None, ty)))
        else {
            return Ok(Applied::NeedsColumns);
        };
        match ty {
            ColumnType::Field(existing) if existing == got => cursor
                .field_cols
                .push(index.unwrap_or_else(|| buf.add_column(&field.key, ty))),
            ColumnType::Field(existing) => {
                return Ok(Applied::Rejected(RejectReason::FieldTypeConflict {
                    field: field.key.to_string(),
                    measurement: measurement.to_owned(),
                    got,
                    existing,
                }))
            }
            ColumnType::Tag => {
                return Ok(Applied::Rejected(RejectReason::ColumnKindConflict {
                    name: field.key.to_string(),
                    measurement: measurement.to_owned(),
                    existing: "tag",
                }))
            }
        }
    }
    Ok(Applied::Written)
}
