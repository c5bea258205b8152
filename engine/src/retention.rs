//! Files past their bucket's retention leave the data: a removal record first, then no new
//! snapshot sees them, then they are deleted once no open snapshot holds them.

use std::collections::HashSet;

use catalog::BucketId;
use object_store::ObjectStoreExt;

use crate::{manifest, Engine, Result};

impl Engine {
    pub(crate) fn expire(&self, rt: &tokio::runtime::Runtime, now_ns: i64) -> Result<usize> {
        rt.block_on(self.expire_files(now_ns))
    }

    /// Retires the Parquet files whose newest point is older than their bucket's retention
    /// allows at `now_ns`, and deletes those no snapshot holds; returns how many were retired.
    /// The flush thread runs this every minute.
    pub async fn expire_files(&self, now_ns: i64) -> Result<usize> {
        let catalog = &self.inner.catalog;
        let expired = self.inner.visible.lock().expired(|bucket: BucketId| {
            let retention = catalog.bucket(bucket)?.retention_ns?;
            Some(now_ns.saturating_sub(retention))
        });
        if !expired.is_empty() {
            let paths: Vec<String> = expired.iter().map(|f| f.path.clone()).collect();
            manifest::commit_removal(self.inner.store.as_ref(), &self.inner.config.layout, paths)
                .await?;
            let gone: HashSet<&str> = expired.iter().map(|f| f.path.as_str()).collect();
            self.inner.visible.lock().retire(&gone);
            let mut series = self.inner.series.lock();
            for f in &expired {
                let day = crate::series::day_of(f.min_time_ns);
                series.remove_file(BucketId(f.bucket), &f.measurement, day);
            }
            drop(series);
            for f in &expired {
                tracing::info!(path = %f.path, rows = f.rows, "file past its bucket's retention retired");
            }
        }
        self.delete_retired().await;
        Ok(expired.len())
    }

    /// Deletes the retired files no snapshot holds any more. One that cannot be deleted now is
    /// an orphan (no manifest names it) that the next start-up deletes.
    pub(crate) async fn delete_retired(&self) -> usize {
        let free = self.inner.visible.lock().unreferenced();
        let mut n = 0;
        for f in free {
            match self
                .inner
                .store
                .delete(&crate::layout::object_path(&f.path))
                .await
            {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {
                    n += 1;
                    tracing::info!(path = %f.path, "deleted a retired file");
                }
                Err(e) => {
                    tracing::warn!(path = %f.path, error = %e, "deleting a retired file failed; the next start-up deletes it")
                }
            }
        }
        n
    }
}
