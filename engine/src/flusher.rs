//! The flush thread: buffers taken under the epoch lock, written to Parquet per table (a table
//! that fails is held and retried), recorded in a manifest, WAL segments released.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use catalog::BucketId;
use crossbeam::channel::{Receiver, RecvTimeoutError, Sender};
use object_store::ObjectStoreExt;

use crate::held::TableKey;
use crate::watch;
use crate::{
    flush, layout, manifest, now_ns, sched, wal, Engine, EngineError, FlushProblem, Result, Taken,
};

/// How often the flush thread looks for files past their bucket's retention.
const RETENTION_CHECK_INTERVAL: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub(crate) enum Kick {
    /// A buffer is over its size threshold.
    Flush,
    /// Flush everything and answer.
    FlushAndTell(tokio::sync::oneshot::Sender<Result<()>>),
    /// Flush everything, then stop; answers when done.
    Stop(Sender<Result<()>>),
}

impl Engine {
    pub(crate) fn start_coordinator(&self, kick_rx: Receiver<Kick>) -> Result<()> {
        let weak = Arc::downgrade(&self.inner);
        let interval = self.inner.config.flush_interval;
        let period = (interval / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
        let handle = std::thread::Builder::new()
            .name("strata-flush".into())
            .spawn(move || {
                let poison = {
                    let weak = weak.clone();
                    move || {
                        if let Some(inner) = weak.upgrade() {
                            inner.flush_failed.store(true, Ordering::SeqCst);
                        }
                    }
                };
                let _watch = watch::OnPanic::new("strata-flush", poison.clone());
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        tracing::error!(error = %e, "flush thread cannot start its runtime; refusing writes");
                        poison();
                        return;
                    }
                };
                let ids = flush::FileIds::new();
                let mut last_expiry: Option<std::time::Instant> = None;
                loop {
                    if last_expiry.is_none_or(|t| t.elapsed() >= RETENTION_CHECK_INTERVAL) {
                        if let Some(inner) = weak.upgrade() {
                            if let Err(e) = (Engine { inner }).expire(&rt, now_ns()) {
                                tracing::warn!(error = %e, "deleting expired files failed; will retry");
                            }
                        }
                        last_expiry = Some(std::time::Instant::now());
                    }
                    let msg = kick_rx.recv_timeout(period);
                    let Some(inner) = weak.upgrade() else { return };
                    let engine = Engine { inner };
                    if engine.inner.visible.lock().retired_count() > 0 {
                        rt.block_on(engine.delete_retired());
                    }
                    // A flush that panics poisons the engine before its caller hears back
                    // (an answer dropped by the unwinding would otherwise race the poison),
                    // and the thread ends: its state can no longer be trusted.
                    let flush = |reason: &str, retry_all: bool| {
                        let run = || engine.flush(&rt, &ids, reason, retry_all);
                        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)) {
                            Ok(result) => (result, false),
                            Err(_) => {
                                tracing::error!(reason, "a flush panicked; refusing writes until restart (acknowledged data is safe in the WAL)");
                                poison();
                                (Err(EngineError::Poisoned), true)
                            }
                        }
                    };
                    let died = match msg {
                        Ok(Kick::Stop(done)) => {
                            let _ = done.send(flush("shutdown", true).0);
                            return;
                        }
                        Ok(Kick::Flush) => flush("size", false).1,
                        Ok(Kick::FlushAndTell(done)) => {
                            let (result, died) = flush("requested", true);
                            let _ = done.send(result);
                            died
                        }
                        Err(RecvTimeoutError::Timeout) => {
                            if engine.oldest_is_older_than(interval) {
                                flush("age", false).1
                            } else if engine.held_due() {
                                flush("retry", false).1
                            } else {
                                false
                            }
                        }
                        Err(RecvTimeoutError::Disconnected) => return,
                    };
                    if died {
                        return;
                    }
                }
            })
            .map_err(|e| EngineError::Internal(format!("starting the flush thread: {e}")))?;
        *self.inner.coordinator.lock() = Some(handle);
        Ok(())
    }

    fn oldest_is_older_than(&self, age: Duration) -> bool {
        self.inner.buffers.iter().any(|bucket| {
            bucket
                .value()
                .iter()
                .any(|t| t.value().oldest().is_some_and(|o| o.elapsed() >= age))
        })
    }

    /// Whether a held table is due for another attempt.
    fn held_due(&self) -> bool {
        self.inner
            .visible
            .lock()
            .held
            .any_due(std::time::Instant::now())
    }

    /// The tables whose flush is failing (their rows are held in memory and the WAL, and
    /// retried with back-off).
    pub fn flush_problems(&self) -> Vec<FlushProblem> {
        self.inner.visible.lock().held.problems()
    }

    /// One flush: rotate + take (exclusive epoch), write files, manifest, delete WAL segments.
    /// `retry_all` attempts held tables whatever their back-off (an explicit request, stop).
    pub(crate) fn flush(
        &self,
        rt: &tokio::runtime::Runtime,
        ids: &flush::FileIds,
        reason: &str,
        retry_all: bool,
    ) -> Result<()> {
        if self.inner.flush_failed.load(Ordering::SeqCst) {
            return Err(EngineError::Poisoned);
        }
        let started = std::time::Instant::now();
        // Behind, it competes with writers as an equal; otherwise it yields to them (a flush
        // is a long burst of CPU that would stretch the latency of writes in flight) — but
        // only after the exclusive section below: every writer waits for it, so it must not
        // be preempted by them while it holds the lock (priority inversion). Writers bring it
        // back to the default class if it falls behind meanwhile (`Cursor::settle`).
        let behind =
            self.inner.buffered_bytes.load(Ordering::Relaxed) > self.inner.flush_backlog_bytes();
        let (rotation, jobs) = {
            let _epoch = self.inner.epoch.write();
            let held_due = {
                let held = &self.inner.visible.lock().held;
                match retry_all {
                    true => !held.is_empty(),
                    false => held.any_due(std::time::Instant::now()),
                }
            };
            if self.inner.buffered_bytes.load(Ordering::SeqCst) == 0
                && self.buffered_rows() == 0
                && !held_due
            {
                return Ok(());
            }
            // Queued, not awaited: the WAL's order alone puts every record of the rows taken
            // here in the segment it closes, and later ones in the next. Waiting here for the
            // WAL thread (behind a sync in progress, a few ms; a disk stall, hundreds) held every
            // writer for as long.
            let rotation = self.inner.wal.start_rotation()?;
            (rotation, self.take_buffers())
        };
        // Writers waited this long (the epoch lock), the latency a flush adds to writes.
        tracing::debug!(
            paused_writes_ms = started.elapsed().as_secs_f64() * 1e3,
            "buffers taken, WAL rotation queued"
        );
        let closed = rotation.recv().map_err(|_| EngineError::ShuttingDown)??;
        if !behind {
            self.inner
                .flush_tid
                .store(sched::thread_id(), Ordering::Relaxed);
            sched::to_background();
            self.inner.flush_lowered.store(true, Ordering::Release);
        }
        let result = rt.block_on(self.persist(jobs, closed, ids, reason, retry_all, started));
        // Between flushes the thread waits at the default class, so that a flush starts
        // as soon as it is due even on a saturated CPU.
        if self.inner.flush_lowered.swap(false, Ordering::AcqRel) {
            sched::to_foreground(0);
        }
        result
    }

    /// Moves every buffer's rows to the flush in progress ([`crate::visible::Visible::begin_flush`]), leaving
    /// the buffers empty, and returns their tables. Only pointer swaps: turning the buffers
    /// into Arrow arrays happens in [`Self::persist`], so writers (who wait while a flush holds
    /// the epoch lock) wait for this, not for the flush.
    pub(crate) fn take_buffers(&self) -> Vec<TableKey> {
        let mut taken = Vec::new();
        for bucket in &self.inner.buffers {
            for table in bucket.value().iter() {
                let parts = table.value().take_all();
                if !parts.is_empty() {
                    taken.push(((*bucket.key(), table.key().clone()), parts));
                }
            }
        }
        let bytes = self.inner.buffered_bytes.swap(0, Ordering::SeqCst);
        self.inner.flushing_bytes.fetch_add(bytes, Ordering::SeqCst);
        let mut visible = self.inner.visible.lock();
        taken
            .into_iter()
            .map(|(key, parts)| {
                visible.begin_flush(key.clone(), parts);
                key
            })
            .collect()
    }

    /// Writes each table's Parquet files (the rows taken from the buffers and those held from
    /// failed flushes), then the manifest saying WAL segments up to `through` are in Parquet
    /// but for the tables still held, then releases the segments no held table needs. A table
    /// whose files cannot be written is held and retried later (`held`); the others go on.
    /// Readers see every row all along ([`crate::visible`]). `Err` only for a bug, which poisons the
    /// engine.
    pub(crate) async fn persist(
        &self,
        taken: Vec<TableKey>,
        through: u64,
        ids: &flush::FileIds,
        reason: &str,
        retry_all: bool,
        started: std::time::Instant,
    ) -> Result<()> {
        // However it ends, the rows taken are then in files, held (counted there) or only
        // in the WAL (poisoned).
        struct Released<'a>(&'a crate::Inner);
        impl Drop for Released<'_> {
            fn drop(&mut self) {
                self.0.flushing_bytes.store(0, Ordering::SeqCst);
                self.0.room.notify_waiters();
            }
        }
        let _released = Released(&self.inner);
        let now = std::time::Instant::now();
        let first_new = self.inner.committed_through.lock().map_or(0, |t| t + 1);
        let mut work = taken;
        for key in self.inner.visible.lock().held.keys() {
            if !work.contains(&key) {
                work.push(key);
            }
        }
        tracing::info!(
            reason,
            tables = work.len(),
            wal_segment = through,
            "flush started"
        );
        let settings = flush::FlushSettings {
            store: Arc::clone(&self.inner.store),
            layout: self.inner.config.layout.clone(),
            row_group_rows: self.inner.config.row_group_rows,
            stats: Arc::clone(&self.inner.flush_stats),
            writers_waiting: Arc::clone(&self.inner.writers_waiting),
        };
        let mut files = Vec::new();
        // Tables whose files were written, with their rows (shared with `visible`): held
        // again if the manifest fails.
        let mut written: Vec<(TableKey, u64, Vec<Taken>)> = Vec::new();
        let mut failed = 0usize;
        let mut rows = 0usize;
        for key in work {
            let (since, parts) = {
                let mut visible = self.inner.visible.lock();
                let since = visible.held.since(&key, first_new);
                if !(retry_all || visible.held.is_due(&key, now)) {
                    visible
                        .postpone(key, since)
                        .map_err(|e| self.flush_bug(e))?;
                    continue;
                }
                let rows = visible.attempt_rows(&key).map_err(|e| self.flush_bug(e))?;
                (since, rows)
            };
            let n: usize = parts.iter().map(|t| t.batch.num_rows()).sum();
            if n == 0 {
                // Held after a restart, but none of its lines came back from the WAL.
                written.push((key, since, Vec::new()));
                continue;
            }
            rows += n;
            match flush::write_job(&settings, ids, key.0, &key.1, &parts).await {
                Ok(entries) => {
                    files.extend(entries);
                    written.push((key, since, parts));
                }
                Err(e) => {
                    failed += 1;
                    self.hold_failed(key, since, parts, e.to_string());
                }
            }
        }
        let retained = self.retained_for_manifest();
        // Only this thread adds files, so what is new to a day now is new at the commit.
        let mut file_series = Vec::with_capacity(files.len());
        {
            let mut series = self.inner.series.lock();
            for f in &mut files {
                let e = &f.entry;
                let (ids, new) = series
                    .prepare(BucketId(e.bucket), &e.measurement, f.day, &f.tags)
                    .map_err(|e| self.flush_bug(e))?;
                f.entry.new_series = Some(new);
                file_series.push(ids);
            }
        }
        let committed = match manifest::commit(
            self.inner.store.as_ref(),
            &self.inner.config.layout,
            through,
            files.iter().map(|f| f.entry.clone()).collect(),
            retained,
        )
        .await
        {
            Ok(()) => Ok(()),
            // A commit reported as failed may still have landed (a reply lost after the
            // write): then it stands, and deleting its files would lose rows.
            Err(e) => match manifest::exists(
                self.inner.store.as_ref(),
                &self.inner.config.layout,
                through,
            )
            .await
            {
                true => Ok(()),
                false => Err(e),
            },
        };
        if let Err(e) = committed {
            // Nothing of this flush is durable: its files are orphans, its rows held.
            for f in &files {
                let _ = self
                    .inner
                    .store
                    .delete(&layout::object_path(&f.entry.path))
                    .await;
            }
            for (key, since, parts) in written {
                if !parts.is_empty() {
                    self.hold_failed(key, since, parts, format!("writing the manifest: {e}"));
                }
            }
            self.inner
                .flush_stats
                .failures
                .fetch_add(1, Ordering::Relaxed);
            self.note_held_bytes();
            tracing::error!(error = %e, "writing the flush manifest failed; every table of this flush is held and retried (its rows are safe in the WAL)");
            return Ok(());
        }
        *self.inner.committed_through.lock() = Some(through);
        let n = files.len();
        {
            let mut series = self.inner.series.lock();
            for (f, ids) in files.iter().zip(&file_series) {
                let e = &f.entry;
                series.add_file(BucketId(e.bucket), &e.measurement, f.day, ids);
            }
        }
        let oldest_held = {
            let flushed: Vec<TableKey> = written.into_iter().map(|(key, _, _)| key).collect();
            let mut visible = self.inner.visible.lock();
            visible.commit(files.into_iter().map(|f| f.entry).collect(), &flushed);
            visible.held.oldest_since()
        };
        self.note_held_bytes();
        let deleted = match release_point(Some(through), oldest_held) {
            Some(upto) => match wal::release_through(self.inner.config.layout.wal_dir(), upto) {
                Ok(n) => n,
                Err(e) => {
                    // The segments stay; a later flush or start-up releases them.
                    tracing::warn!(error = %e, "releasing WAL segments failed");
                    0
                }
            },
            None => 0,
        };
        self.inner
            .flush_stats
            .flushes
            .fetch_add(1, Ordering::Relaxed);
        tracing::info!(
            reason,
            rows,
            files = n,
            tables_held = failed,
            wal_segments_deleted = deleted,
            ms = started.elapsed().as_millis() as u64,
            "flush done"
        );
        Ok(())
    }

    /// Holds a table's rows after a failed attempt, and says so.
    fn hold_failed(&self, key: TableKey, since: u64, rows: Vec<Taken>, error: String) {
        let n: usize = rows.iter().map(|t| t.batch.num_rows()).sum();
        let failures = self
            .inner
            .visible
            .lock()
            .hold(key.clone(), since, rows, error.clone());
        self.inner
            .flush_stats
            .table_failures
            .fetch_add(1, Ordering::Relaxed);
        tracing::error!(
            bucket = %key.0,
            measurement = %layout::short_name(&key.1),
            rows = n,
            failures,
            error,
            "flushing a table failed; its rows stay in memory and in the WAL, and are retried"
        );
        self.note_held_bytes();
    }

    fn note_held_bytes(&self) {
        let bytes = self.inner.visible.lock().held.bytes();
        self.inner.held_bytes.store(bytes, Ordering::Relaxed);
    }

    /// What the next manifest records of the held tables.
    fn retained_for_manifest(&self) -> Vec<manifest::Retained> {
        self.inner
            .visible
            .lock()
            .held
            .retained()
            .into_iter()
            .map(|((bucket, measurement), since)| manifest::Retained {
                bucket: bucket.0,
                measurement,
                since,
            })
            .collect()
    }

    /// A bug in a flush: the rows it held are gone from memory (they are in the WAL), so no
    /// later flush may release segments past them. Refuse writes until a restart replays them.
    fn flush_bug(&self, e: EngineError) -> EngineError {
        self.inner.flush_failed.store(true, Ordering::SeqCst);
        self.inner
            .flush_stats
            .failures
            .fetch_add(1, Ordering::Relaxed);
        tracing::error!(error = %e, "flush failed on a bug; refusing writes until restart (data is safe in the WAL)");
        e
    }
}

/// The newest WAL segment that may be released: every one up to the newest manifest's, but
/// none a held table still needs.
pub(crate) fn release_point(covered: Option<u64>, oldest_held: Option<u64>) -> Option<u64> {
    match oldest_held {
        Some(since) => covered.min(since.checked_sub(1)),
        None => covered,
    }
}
