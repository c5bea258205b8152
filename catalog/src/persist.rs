//! Opening the catalog (latest snapshot, then the log after it) and making each change durable:
//! one create-only record per change, and a snapshot every `snapshot_every` records. The frame
//! itself is in `record`.

use std::sync::Arc;

use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use parking_lot::RwLock;

use crate::state::State;
use crate::{record, Catalog, CatalogError, Record, Result, Snapshot};

/// Configuration of the catalog.
#[derive(Debug, Clone)]
pub struct CatalogConfig {
    /// Prefix under which the catalog lives in the object store.
    pub prefix: Path,
    /// Write a snapshot (and drop the records it covers) every this many records.
    pub snapshot_every: u64,
}

impl Catalog {
    /// Opens (or starts) the catalog under `config.prefix`, replaying its log.
    pub async fn open(store: Arc<dyn ObjectStore>, config: CatalogConfig) -> Result<Self> {
        let log_prefix = config.prefix.clone().join("log");
        let snapshot_prefix = config.prefix.clone().join("snapshot");
        let snapshot = record::read_latest_snapshot(store.as_ref(), &snapshot_prefix).await?;
        let after = snapshot.as_ref().map(|s| s.through);
        let mut state = snapshot.map(State::from_snapshot).unwrap_or_default();
        let records = record::read_log(store.as_ref(), &log_prefix, after).await?;
        let count = records.len();
        for (seq, rec) in records {
            state.next_record = seq + 1;
            state.apply(rec);
        }
        tracing::info!(
            snapshot_through = ?after,
            records = count,
            buckets = state.buckets.len(),
            "catalog loaded"
        );
        Ok(Catalog {
            store,
            log_prefix,
            snapshot_prefix,
            snapshot_every: config.snapshot_every.max(1),
            state: RwLock::new(state),
            write_lock: tokio::sync::Mutex::new(()),
        })
    }

    /// Makes one change durable, then applies it: a change is visible only once its record is.
    pub(crate) async fn commit(&self, record: Record) -> Result<()> {
        // Caller holds write_lock.
        let seq = self.state.read().next_record;
        let path = self
            .log_prefix
            .clone()
            .join(format!("{seq:020}.rec").as_str());
        let bytes = record::encode(&record);
        let opts = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        match self
            .store
            .put_opts(&path, PutPayload::from(bytes), opts)
            .await
        {
            Ok(_) => {}
            Err(object_store::Error::AlreadyExists { .. }) => {
                return Err(CatalogError::ConcurrentWriter {
                    path: path.to_string(),
                })
            }
            Err(e) => return Err(e.into()),
        }
        let snapshot = {
            let mut state = self.state.write();
            state.next_record = seq + 1;
            state.apply(record);
            (seq + 1)
                .is_multiple_of(self.snapshot_every)
                .then(|| state.to_snapshot(seq))
        };
        if let Some(snapshot) = snapshot {
            // Best effort: the log alone is complete, so a failed snapshot only costs start-up
            // time. The records it covers are deleted only once it is durable.
            if let Err(e) = self.write_snapshot(&snapshot).await {
                tracing::warn!(error = %e, "catalog snapshot failed; the log stays complete");
            }
        }
        Ok(())
    }

    async fn write_snapshot(&self, snapshot: &Snapshot) -> Result<()> {
        let path = self
            .snapshot_prefix
            .clone()
            .join(format!("{:020}.snap", snapshot.through).as_str());
        let opts = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        self.store
            .put_opts(&path, PutPayload::from(record::encode(snapshot)), opts)
            .await?;
        for seq in 0..=snapshot.through {
            let rec = self
                .log_prefix
                .clone()
                .join(format!("{seq:020}.rec").as_str());
            match self.store.delete(&rec).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        tracing::info!(through = snapshot.through, "catalog snapshot written");
        Ok(())
    }
}
