//! For tests of this crate and of its users (feature `test-helpers`): an object store that
//! injects failures and counts reads.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions,
};
use parking_lot::Mutex;

/// A store that refuses to create objects whose path contains `fail` (the injected error), or
/// panics on them when `fail` starts with `panic:` (a bug in a flush).
/// It also notes which Parquet files are read (`parquet_reads`).
#[derive(Debug)]
pub struct Faulty {
    /// The store that does the work.
    pub inner: Arc<dyn ObjectStore>,
    /// Objects whose path contains this are refused (`panic:` first: writing them panics).
    pub fail: Arc<Mutex<Option<String>>>,
    /// Parquet files read so far.
    pub parquet_reads: Arc<Mutex<BTreeSet<String>>>,
}

impl std::fmt::Display for Faulty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Faulty({})", self.inner)
    }
}

impl Faulty {
    /// A store over `inner` that fails nothing yet.
    pub fn over(inner: Arc<dyn ObjectStore>) -> Self {
        Faulty {
            inner,
            fail: Arc::default(),
            parquet_reads: Arc::default(),
        }
    }

    fn count_read(&self, location: &Path) {
        if location.as_ref().ends_with(".parquet") {
            self.parquet_reads.lock().insert(location.to_string());
        }
    }

    fn check(&self, location: &Path) -> object_store::Result<()> {
        match &*self.fail.lock() {
            Some(part)
                if part
                    .strip_prefix("panic:")
                    .is_some_and(|p| location.as_ref().contains(p)) =>
            {
                panic!("injected panic for {location}")
            }
            Some(part) if location.as_ref().contains(part.as_str()) => {
                Err(object_store::Error::Generic {
                    store: "Faulty",
                    source: format!("injected failure for {location}").into(),
                })
            }
            _ => Ok(()),
        }
    }
}

#[async_trait]
impl ObjectStore for Faulty {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.check(location)?;
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.check(location)?;
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.count_read(location);
        self.inner.get_opts(location, options).await
    }

    // `get_ranges` is the trait's: by way of `get_opts`, so ranged reads are counted too.

    crate::store::forward_streams!();

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.check(to)?;
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(
        &self,
        from: &Path,
        to: &Path,
        options: RenameOptions,
    ) -> object_store::Result<()> {
        self.check(to)?;
        self.inner.rename_opts(from, to, options).await
    }
}
