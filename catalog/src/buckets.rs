//! Buckets: listing, lookup, creation, retention changes and deletion.

use crate::{validate_bucket_name, Bucket, BucketId, Catalog, CatalogError, Record, Result};

impl Catalog {
    /// All buckets.
    pub fn buckets(&self) -> Vec<Bucket> {
        self.state.read().buckets.values().cloned().collect()
    }

    /// A bucket by id.
    pub fn bucket(&self, id: BucketId) -> Option<Bucket> {
        self.state.read().buckets.get(&id).cloned()
    }

    /// A bucket by name.
    pub fn bucket_by_name(&self, name: &str) -> Option<Bucket> {
        let state = self.state.read();
        state
            .by_name
            .get(name)
            .and_then(|id| state.buckets.get(id).cloned())
    }

    /// Changes a bucket's retention.
    pub async fn update_bucket_retention(
        &self,
        id: BucketId,
        retention_ns: Option<i64>,
    ) -> Result<Bucket> {
        let _guard = self.write_lock.lock().await;
        if self.bucket(id).is_none() {
            return Err(CatalogError::NotFound {
                kind: "bucket",
                id: id.to_string(),
            });
        }
        self.commit(Record::UpdateBucket { id, retention_ns })
            .await?;
        self.bucket(id).ok_or(CatalogError::NotFound {
            kind: "bucket",
            id: id.to_string(),
        })
    }

    /// Deletes a bucket, its schemas and the mappings to it. (Its Parquet files are left for the
    /// engine's retention to remove; nothing new can reach them.)
    pub async fn delete_bucket(&self, id: BucketId) -> Result<()> {
        let _guard = self.write_lock.lock().await;
        if self.bucket(id).is_none() {
            return Err(CatalogError::NotFound {
                kind: "bucket",
                id: id.to_string(),
            });
        }
        self.commit(Record::DeleteBucket { id }).await
    }

    /// Creates a bucket with a retention period (`None`: keep forever). Returns the existing
    /// bucket unchanged if one with that name exists.
    pub async fn create_bucket(&self, name: &str, retention_ns: Option<i64>) -> Result<Bucket> {
        validate_bucket_name(name)?;
        let _guard = self.write_lock.lock().await;
        if let Some(id) = self.state.read().by_name.get(name) {
            if let Some(b) = self.bucket(*id) {
                return Ok(b);
            }
        }
        let id = BucketId(self.state.read().next_bucket.max(1));
        self.commit(Record::CreateBucket {
            id,
            name: name.to_owned(),
            retention_ns,
            created_ns: Some(now_ns()),
        })
        .await?;
        tracing::info!(bucket = %name, id = %id, ?retention_ns, "created bucket");
        self.bucket(id).ok_or(CatalogError::Corrupt {
            path: self.log_prefix.to_string(),
            reason: "bucket vanished after creation".into(),
        })
    }
}

pub(crate) fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}
