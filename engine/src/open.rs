//! Start-up: manifests loaded, orphans deleted, the WAL replayed into buffers.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use catalog::{BucketId, Catalog};
use crossbeam::channel::bounded;
use dashmap::DashMap;
use lp::{Line, ParseOptions, Parser};
use object_store::ObjectStore;
use parking_lot::{Mutex, RwLock};

use crate::apply::{Applied, Cursor};
use crate::flusher::release_point;
use crate::visible::Visible;
use crate::{
    flush, held, idle_poll, layout, manifest, wal, Engine, EngineConfig, EngineError, FlushStats,
    Inner, RejectReason, Result,
};

impl Engine {
    /// Opens the engine: deletes Parquet files of unfinished flushes, replays the WAL segments no
    /// manifest covers into the buffers, then starts the WAL thread and the flush coordinator.
    pub async fn open(
        config: EngineConfig,
        store: Arc<dyn ObjectStore>,
        catalog: Arc<Catalog>,
    ) -> Result<Self> {
        let wal_dir = config.layout.wal_dir();
        std::fs::create_dir_all(wal_dir)
            .map_err(|e| EngineError::Wal(format!("creating {}: {e}", wal_dir.display())))?;
        let manifests = manifest::load(store.as_ref(), &config.layout).await?;
        let orphans =
            manifest::delete_orphans(store.as_ref(), &config.layout, &manifests.files).await?;
        let series = crate::series::load(&store, &manifests).await?;
        let held = held::Held::from_manifest(
            manifests
                .retained
                .iter()
                .map(|r| ((BucketId(r.bucket), r.measurement.clone()), r.since)),
        );
        if let Some(through) = release_point(manifests.wal_through, held.oldest_since()) {
            // Left behind by a crash between a manifest and the deletion it allows.
            wal::release_through(wal_dir, through)?;
        }
        let segments = wal::list_segments(wal_dir)?;
        let next_segment = segments
            .last()
            .map(|s| s + 1)
            .or(manifests.wal_through.map(|t| t + 1))
            .unwrap_or(0);
        let (kick_tx, kick_rx) = bounded(1);
        let flush_stats = Arc::new(FlushStats::default());
        let apply_pool = match config.apply_threads {
            0 => None,
            n => Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n)
                    .thread_name(|i| format!("strata-apply-{i}"))
                    .build()
                    .map_err(|e| EngineError::Internal(format!("starting apply threads: {e}")))?,
            ),
        };
        let poller = idle_poll::IdlePoll::start(config.idle_poll);
        let engine = Engine {
            inner: Arc::new(Inner {
                catalog,
                store,
                wal: wal::Wal::start(wal_dir.to_owned(), next_segment)?,
                config,
                buffers: DashMap::new(),
                buffered_bytes: AtomicUsize::new(0),
                flush_tid: AtomicI32::new(0),
                flush_lowered: AtomicBool::new(false),
                apply_pool,
                idle_poll: poller,
                write_seq: AtomicU64::new(0),
                epoch: RwLock::new(()),
                flush_stats,
                shutting_down: AtomicBool::new(false),
                flush_failed: AtomicBool::new(false),
                held_bytes: AtomicUsize::new(0),
                flushing_bytes: AtomicUsize::new(0),
                writers_waiting: Arc::default(),
                room: tokio::sync::Notify::new(),
                committed_through: Mutex::new(manifests.wal_through),
                kick: kick_tx,
                coordinator: Mutex::new(None),
                visible: Mutex::new(Visible::new(manifests.entries, held)),
                series: Mutex::new(series),
            }),
        };
        engine.replay(&segments, manifests.wal_through).await?;
        tracing::info!(
            replayed_segments = segments.len(),
            orphans_deleted = orphans,
            buffered_rows = engine.buffered_rows(),
            "engine open"
        );
        engine.start_coordinator(kick_rx)?;
        Ok(engine)
    }

    /// Replays WAL segments into the buffers. Whenever the buffers reach a flush's size, what
    /// is replayed so far is written to Parquet and its segments released before going on:
    /// replay needs no more memory than running does, and a server that crashes again and
    /// again still makes progress instead of replaying an ever longer WAL.
    ///
    /// Segments up to `covered` (the newest manifest's) are in Parquet but for the tables
    /// the manifest lists as held: only their lines are replayed from those segments.
    pub(crate) async fn replay(&self, segments: &[u64], covered: Option<u64>) -> Result<()> {
        let started = std::time::Instant::now();
        let mut records = 0usize;
        let mut cursor = Cursor::default();
        let ids = flush::FileIds::new();
        for (i, &seq) in segments.iter().enumerate() {
            let filtered = covered.is_some_and(|c| seq <= c);
            let contents = wal::read_segment(
                self.inner.config.layout.wal_dir(),
                seq,
                i + 1 == segments.len(),
            )?;
            tracing::info!(
                segment = seq,
                records = contents.writes.len(),
                torn_bytes = contents.torn_bytes,
                "replaying WAL segment"
            );
            for w in contents.writes {
                records += 1;
                let bucket = self.inner.catalog.bucket(w.bucket).ok_or_else(|| {
                    EngineError::Wal(format!(
                        "segment {seq} names bucket {} that the catalog does not know",
                        w.bucket
                    ))
                })?;
                // Limits applied when the lines were accepted; replay must not re-judge them.
                let opts = ParseOptions {
                    precision: w.precision,
                    max_string_bytes: usize::MAX,
                    max_line_bytes: usize::MAX,
                    max_key_bytes: usize::MAX,
                };
                cursor.begin(&self.inner);
                let mut line = Line::default();
                let mut parser = Parser::new(&w.body, opts);
                let visible = self.inner.visible.lock();
                let held = &visible.held;
                while let Some(parsed) = parser.next_into(&mut line) {
                    if filtered
                        && (parsed.is_err()
                            || !held.covers(&(w.bucket, line.measurement.to_string()), seq))
                    {
                        continue;
                    }
                    let applied = match parsed {
                        Ok(()) => self.apply(&bucket, &line, w.default_time_ns, &mut cursor)?,
                        Err(e) => Applied::Rejected(RejectReason::Parse(e.kind)),
                    };
                    match applied {
                        Applied::Written => {}
                        Applied::NeedsColumns => {
                            return Err(EngineError::Wal(format!(
                                "segment {seq}: a logged point of measurement \"{}\" needs columns the catalog lacks",
                                layout::short_name(&line.measurement),
                            )))
                        }
                        Applied::Rejected(reason) => {
                            tracing::warn!(segment = seq, %reason, "a logged point no longer validates; skipped")
                        }
                    }
                }
                drop(visible);
            }
            cursor.settle(&self.inner);
            // Not while replaying covered segments: a manifest for them exists already.
            if !filtered
                && self.inner.buffered_bytes.load(Ordering::SeqCst)
                    >= self.inner.config.flush_table_bytes
            {
                cursor.begin(&self.inner);
                let jobs = self.take_buffers();
                self.persist(jobs, seq, &ids, "replay", false, std::time::Instant::now())
                    .await?;
            }
        }
        cursor.settle(&self.inner);
        if records > 0 {
            tracing::info!(
                records,
                ms = started.elapsed().as_millis() as u64,
                "WAL replay done"
            );
        }
        Ok(())
    }
}
