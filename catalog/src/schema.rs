//! Per-measurement schemas: which column is a tag, which field has which type.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::{BucketId, Catalog, Record, Result};

/// The type of a field column; fixed by the first write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FieldType {
    /// f64
    Float,
    /// i64
    Integer,
    /// u64
    Unsigned,
    /// UTF-8 string
    String,
    /// bool
    Boolean,
}

impl FieldType {
    /// The name InfluxDB 1.x uses in error messages.
    pub fn name(self) -> &'static str {
        match self {
            FieldType::Float => "float",
            FieldType::Integer => "integer",
            FieldType::Unsigned => "unsigned",
            FieldType::String => "string",
            FieldType::Boolean => "boolean",
        }
    }
}

/// What a column of a measurement is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ColumnType {
    /// A tag (dictionary-encoded string).
    Tag,
    /// A field of a fixed type.
    Field(FieldType),
}

/// A measurement's columns (besides `time`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableSchema {
    pub(crate) columns: BTreeMap<String, ColumnType>,
}

impl TableSchema {
    /// A schema of `columns` (a later duplicate name replaces an earlier one).
    pub fn new(columns: impl IntoIterator<Item = (String, ColumnType)>) -> Self {
        TableSchema {
            columns: columns.into_iter().collect(),
        }
    }

    /// The column's type, if it exists.
    pub fn column(&self, name: &str) -> Option<ColumnType> {
        self.columns.get(name).copied()
    }

    /// All columns by name.
    pub fn columns(&self) -> impl Iterator<Item = (&str, ColumnType)> {
        self.columns.iter().map(|(k, v)| (k.as_str(), *v))
    }
}

impl Catalog {
    /// A measurement's schema (empty if none was written yet).
    pub fn table(&self, bucket: BucketId, measurement: &str) -> Arc<TableSchema> {
        // The key is a tuple with an owned String; a lookup allocates only on this slow-ish path,
        // which the engine calls once per measurement per request.
        self.state
            .read()
            .tables
            .get(&(bucket, measurement.to_owned()))
            .cloned()
            .unwrap_or_default()
    }

    /// Every measurement of `bucket` with its schema, by name.
    pub fn tables_of(&self, bucket: BucketId) -> Vec<(String, Arc<TableSchema>)> {
        let state = self.state.read();
        let mut out: Vec<(String, Arc<TableSchema>)> = state
            .tables
            .iter()
            .filter(|((b, _), _)| *b == bucket)
            .map(|((_, m), t)| (m.clone(), Arc::clone(t)))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Adds columns to a measurement, durably. Columns that already exist keep their type (first
    /// write wins); the returned schema is the authority the caller validates against.
    pub async fn add_columns(
        &self,
        bucket: BucketId,
        measurement: &str,
        columns: Vec<(String, ColumnType)>,
    ) -> Result<Arc<TableSchema>> {
        let _guard = self.write_lock.lock().await;
        let current = self.table(bucket, measurement);
        let mut new: Vec<(String, ColumnType)> = Vec::new();
        for (name, ty) in columns {
            if current.column(&name).is_none() && !new.iter().any(|(n, _)| *n == name) {
                new.push((name, ty));
            }
        }
        if !new.is_empty() {
            self.commit(Record::AddColumns {
                bucket,
                measurement: measurement.to_owned(),
                columns: new,
            })
            .await?;
        }
        Ok(self.table(bucket, measurement))
    }
}
