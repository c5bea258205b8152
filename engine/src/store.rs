//! The embedded object store: `object_store`'s `LocalFileSystem`, made durable.
//!
//! `LocalFileSystem` writes a staging file and renames it into place, but never fsyncs: after a
//! power loss a Parquet file, a manifest or a catalog record it reported as stored can be
//! missing or empty. That breaks the chain the WAL relies on (a segment is deleted once a
//! manifest names the files holding its rows), so every object written through
//! [`SyncedLocalStore`] is fsync'd, and so are the directories whose entries the write changed
//! (its parent, which got the rename that published it, and the parent of each directory
//! `LocalFileSystem` created on the way), before the write returns. Deletes are not synced: a delete lost to a power cut brings back an orphan Parquet
//! file, which start-up deletes again, or an expired one, which retention deletes again.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, UploadPart,
};

/// A local-directory object store whose writes are durable when they return.
#[derive(Debug)]
pub struct SyncedLocalStore {
    inner: LocalFileSystem,
    root: PathBuf,
    syncs: Arc<AtomicU64>,
}

impl SyncedLocalStore {
    /// A store rooted at `root` (which must exist).
    pub fn new(root: impl AsRef<std::path::Path>) -> object_store::Result<Self> {
        let root = std::fs::canonicalize(root.as_ref()).map_err(|e| generic(root.as_ref(), e))?;
        Ok(SyncedLocalStore {
            inner: LocalFileSystem::new_with_prefix(&root)?,
            root,
            syncs: Arc::default(),
        })
    }

    /// Objects made durable so far (for tests and `/metrics`).
    pub fn synced_objects(&self) -> u64 {
        self.syncs.load(Ordering::Relaxed)
    }

    /// What to sync after writing `location`; called before the write, to see which
    /// directories it will create.
    fn syncer(&self, location: &Path) -> object_store::Result<Syncer> {
        let file = self.inner.path_to_filesystem(location)?;
        // The parent gets the new entry; each directory the write creates is a new entry in
        // its own parent. Directories that exist already and gain nothing are left alone:
        // each needless directory fsync is one more journal commit that WAL syncs queue behind.
        let mut dirs: Vec<PathBuf> = file.parent().map(PathBuf::from).into_iter().collect();
        let mut dir = file.parent();
        while let Some(d) = dir {
            if d == self.root || !d.starts_with(&self.root) || d.exists() {
                break;
            }
            dirs.extend(d.parent().map(PathBuf::from));
            dir = d.parent();
        }
        Ok(Syncer {
            file,
            dirs,
            syncs: Arc::clone(&self.syncs),
        })
    }
}

impl fmt::Display for SyncedLocalStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SyncedLocalStore({})", self.root.display())
    }
}

/// Makes one object durable: the file, then the directories whose entries changed.
#[derive(Debug, Clone)]
struct Syncer {
    file: PathBuf,
    /// Directories whose entries the write changes, innermost first.
    dirs: Vec<PathBuf>,
    syncs: Arc<AtomicU64>,
}

impl Syncer {
    async fn sync(self) -> object_store::Result<()> {
        tokio::task::spawn_blocking(move || self.sync_blocking())
            .await
            .map_err(|e| object_store::Error::Generic {
                store: "SyncedLocalStore",
                source: Box::new(e),
            })?
    }

    fn sync_blocking(&self) -> object_store::Result<()> {
        let sync = |p: &std::path::Path| {
            std::fs::File::open(p)
                .and_then(|f| f.sync_all())
                .map_err(|e| generic(p, e))
        };
        let file = std::fs::File::open(&self.file).map_err(|e| generic(&self.file, e))?;
        write_back_paced(&file);
        file.sync_all().map_err(|e| generic(&self.file, e))?;
        for d in &self.dirs {
            sync(d)?;
        }
        self.syncs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// Bytes written back per step before an object's fsync.
const WRITEBACK_STEP: u64 = 256 << 10;

/// Writes a file's dirty pages back a step at a time, waiting for each, so that the fsync that
/// follows finds little left to do. One fsync of a whole flush's file (tens of MB) would hold
/// the disk's queue for tens of milliseconds, and every WAL sync behind it, i.e. every write
/// acknowledgement, would wait that long; in steps, a WAL sync waits for one step at most.
/// Best effort: the fsync after it is what makes the file durable.
#[cfg(target_os = "linux")]
fn write_back_paced(file: &std::fs::File) {
    use std::os::fd::AsRawFd;
    let Ok(len) = file.metadata().map(|m| m.len()) else {
        return;
    };
    let flags = libc::SYNC_FILE_RANGE_WAIT_BEFORE
        | libc::SYNC_FILE_RANGE_WRITE
        | libc::SYNC_FILE_RANGE_WAIT_AFTER;
    let mut at = 0;
    while at < len {
        let (Ok(off), Ok(n)) = (i64::try_from(at), i64::try_from(WRITEBACK_STEP)) else {
            return;
        };
        // SAFETY: `file` is an open descriptor for the call's duration; the call only reads
        // its arguments.
        if unsafe { libc::sync_file_range(file.as_raw_fd(), off, n, flags) } != 0 {
            return;
        }
        at += WRITEBACK_STEP;
    }
}

#[cfg(not(target_os = "linux"))]
fn write_back_paced(_file: &std::fs::File) {}

fn generic(path: &std::path::Path, e: std::io::Error) -> object_store::Error {
    object_store::Error::Generic {
        store: "SyncedLocalStore",
        source: format!("syncing {}: {e}", path.display()).into(),
    }
}

/// The [`ObjectStore`] methods a wrapper that changes only writes and reads passes on to its
/// `inner` store as they are: deleting and listing (the synchronous ones; `async_trait`
/// rewrites `async fn`s before a macro could expand).
macro_rules! forward_streams {
    () => {
        fn delete_stream(
            &self,
            locations: futures::stream::BoxStream<'static, object_store::Result<Path>>,
        ) -> futures::stream::BoxStream<'static, object_store::Result<Path>> {
            self.inner.delete_stream(locations)
        }

        fn list(
            &self,
            prefix: Option<&Path>,
        ) -> futures::stream::BoxStream<'static, object_store::Result<object_store::ObjectMeta>> {
            self.inner.list(prefix)
        }

        fn list_with_offset(
            &self,
            prefix: Option<&Path>,
            offset: &Path,
        ) -> futures::stream::BoxStream<'static, object_store::Result<object_store::ObjectMeta>> {
            self.inner.list_with_offset(prefix, offset)
        }
    };
}
#[cfg(feature = "test-helpers")]
pub(crate) use forward_streams;

#[async_trait]
impl ObjectStore for SyncedLocalStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        let syncer = self.syncer(location)?;
        let result = self.inner.put_opts(location, payload, opts).await?;
        syncer.sync().await?;
        Ok(result)
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        let syncer = self.syncer(location)?;
        let inner = self.inner.put_multipart_opts(location, opts).await?;
        Ok(Box::new(SyncedUpload { inner, syncer }))
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
        self.inner.get_ranges(location, ranges).await
    }

    forward_streams!();

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        let syncer = self.syncer(to)?;
        self.inner.copy_opts(from, to, options).await?;
        syncer.sync().await
    }

    async fn rename_opts(
        &self,
        from: &Path,
        to: &Path,
        options: RenameOptions,
    ) -> object_store::Result<()> {
        let syncer = self.syncer(to)?;
        self.inner.rename_opts(from, to, options).await?;
        syncer.sync().await
    }
}

/// Most bytes copied into the page cache by one `write` call.
const WRITE_STEP: usize = 256 << 10;

/// The same bytes in chunks of at most [`WRITE_STEP`] (slices, no copy): the local store
/// writes a payload one chunk per system call, and on a kernel without preemption
/// (`PREEMPT_NONE`, common in VMs) a single multi-megabyte copy holds its CPU for
/// milliseconds, during which even the real-time WAL thread cannot run there.
fn in_steps(data: PutPayload) -> PutPayload {
    if data.iter().all(|chunk| chunk.len() <= WRITE_STEP) {
        return data;
    }
    let mut chunks = Vec::new();
    for chunk in &data {
        let mut at = 0;
        while at < chunk.len() {
            let end = chunk.len().min(at + WRITE_STEP);
            chunks.push(chunk.slice(at..end));
            at = end;
        }
    }
    PutPayload::from_iter(chunks)
}

/// A multipart upload whose completion syncs the object it published.
#[derive(Debug)]
struct SyncedUpload {
    inner: Box<dyn MultipartUpload>,
    syncer: Syncer,
}

#[async_trait]
impl MultipartUpload for SyncedUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        self.inner.put_part(in_steps(data))
    }

    async fn complete(&mut self) -> object_store::Result<PutResult> {
        let result = self.inner.complete().await?;
        self.syncer.clone().sync().await?;
        Ok(result)
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        self.inner.abort().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::{ObjectStoreExt, WriteMultipart};

    #[test]
    fn payloads_are_split_into_small_writes_without_changing_bytes() {
        let big: Vec<u8> = (0..WRITE_STEP * 2 + 17).map(|i| (i % 251) as u8).collect();
        let payload = PutPayload::from_iter([Bytes::from_static(b"head"), Bytes::from(big)]);
        let expected: Vec<u8> = payload.iter().flat_map(|c| c.iter().copied()).collect();
        let split = in_steps(payload);
        assert!(split.iter().all(|c| c.len() <= WRITE_STEP));
        assert_eq!(split.iter().count(), 4);
        let got: Vec<u8> = split.iter().flat_map(|c| c.iter().copied()).collect();
        assert_eq!(got, expected);
    }

    #[tokio::test]
    async fn every_published_object_is_synced_and_readable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SyncedLocalStore::new(dir.path()).expect("store");
        store
            .put(&Path::from("a/b/one.json"), PutPayload::from_static(b"1"))
            .await
            .expect("put");
        assert_eq!(store.synced_objects(), 1);

        let upload = store
            .put_multipart(&Path::from("c/two.parquet"))
            .await
            .expect("multipart");
        let mut w = WriteMultipart::new(upload);
        w.write(b"two");
        w.finish().await.expect("complete");
        assert_eq!(store.synced_objects(), 2);

        store
            .copy(&Path::from("c/two.parquet"), &Path::from("d/three.parquet"))
            .await
            .expect("copy");
        assert_eq!(store.synced_objects(), 3);

        let got = store
            .get(&Path::from("d/three.parquet"))
            .await
            .expect("get")
            .bytes()
            .await
            .expect("bytes");
        assert_eq!(&got[..], b"two");
        assert!(dir.path().join("a/b/one.json").is_file());
    }

    #[tokio::test]
    async fn new_directories_are_synced_in_their_parents_and_nothing_else() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SyncedLocalStore::new(dir.path()).expect("store");
        let root = store.root.clone();
        let first = store.syncer(&Path::from("a/b/one.json")).expect("syncer");
        assert_eq!(first.dirs, [root.join("a/b"), root.join("a"), root.clone()]);
        store
            .put(&Path::from("a/b/one.json"), PutPayload::from_static(b"1"))
            .await
            .expect("put");
        let second = store.syncer(&Path::from("a/b/two.json")).expect("syncer");
        assert_eq!(second.dirs, [root.join("a/b")]);
    }

    #[tokio::test]
    async fn a_failed_sync_fails_the_write() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SyncedLocalStore::new(dir.path()).expect("store");
        // The object exists, but one directory on its way to the root cannot be opened for
        // syncing (removed behind the store's back): the put must not report success.
        std::fs::write(dir.path().join("x"), b"x").expect("file");
        let syncer = Syncer {
            file: dir.path().join("x"),
            dirs: vec![dir.path().join("gone")],
            syncs: Arc::default(),
        };
        assert!(syncer.sync().await.is_err());
        assert_eq!(store.synced_objects(), 0);
    }
}
