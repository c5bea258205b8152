//! Files past their bucket's retention are deleted.

use catalog::BucketId;
use object_store::path::Path;
use object_store::ObjectStoreExt;

use crate::{Engine, FileEntry, Result};

impl Engine {
    pub(crate) fn expire(&self, rt: &tokio::runtime::Runtime, now_ns: i64) -> Result<usize> {
        rt.block_on(self.expire_files(now_ns))
    }

    /// Deletes Parquet files whose newest point is older than their bucket's retention allows at
    /// `now_ns`; returns how many. The flush thread runs this every minute.
    pub async fn expire_files(&self, now_ns: i64) -> Result<usize> {
        let expired: Vec<FileEntry> = {
            let files = self.inner.files.lock();
            files
                .iter()
                .filter(|f| {
                    self.inner
                        .catalog
                        .bucket(BucketId(f.bucket))
                        .and_then(|b| b.retention_ns)
                        .is_some_and(|r| f.max_time_ns < now_ns.saturating_sub(r))
                })
                .cloned()
                .collect()
        };
        for f in &expired {
            let path = Path::from(f.path.as_str());
            match self.inner.store.delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {
                    tracing::info!(path = %f.path, rows = f.rows, "deleted file past its bucket's retention");
                }
                Err(e) => return Err(e.into()),
            }
        }
        if !expired.is_empty() {
            let gone: std::collections::HashSet<&str> =
                expired.iter().map(|f| f.path.as_str()).collect();
            self.inner
                .files
                .lock()
                .retain(|f| !gone.contains(f.path.as_str()));
        }
        Ok(expired.len())
    }
}
