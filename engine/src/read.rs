//! Reading columns of a Parquet file through the object store, by byte range: only the footer
//! and the chunks of the columns asked for travel (start-up's series index reads tag columns).

use std::ops::Range;
use std::sync::Arc;

use arrow::record_batch::RecordBatch;
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::arrow::{ParquetRecordBatchStreamBuilder, ProjectionMask};
use parquet::errors::ParquetError;
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};

use crate::{EngineError, Result};

/// One object, read by range; its size is known from the manifest.
struct Ranged {
    store: Arc<dyn ObjectStore>,
    path: Path,
    size: u64,
}

fn external(e: object_store::Error) -> ParquetError {
    ParquetError::External(Box::new(e))
}

impl AsyncFileReader for Ranged {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        async move {
            self.store
                .get_range(&self.path, range)
                .await
                .map_err(external)
        }
        .boxed()
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<Range<u64>>,
    ) -> BoxFuture<'_, parquet::errors::Result<Vec<Bytes>>> {
        async move {
            self.store
                .get_ranges(&self.path, &ranges)
                .await
                .map_err(external)
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        _options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        async move {
            let size = self.size;
            let metadata = ParquetMetaDataReader::new()
                .load_and_finish(&mut *self, size)
                .await?;
            Ok(Arc::new(metadata))
        }
        .boxed()
    }
}

/// The dictionary-encoded (tag) columns of the file at `path` (`size` bytes). A file that is
/// not readable Parquet is [`EngineError::Corrupt`], named.
pub(crate) async fn tag_columns(
    store: &Arc<dyn ObjectStore>,
    path: &str,
    size: u64,
) -> Result<Vec<RecordBatch>> {
    let corrupt = |e: ParquetError| EngineError::Corrupt {
        path: path.to_owned(),
        source: Box::new(e),
    };
    let reader = Ranged {
        store: Arc::clone(store),
        path: crate::layout::object_path(path),
        size,
    };
    let builder = ParquetRecordBatchStreamBuilder::new(reader)
        .await
        .map_err(corrupt)?;
    let tags = crate::buffer::tag_indices(builder.schema());
    let mask = ProjectionMask::roots(builder.parquet_schema(), tags);
    let stream = builder.with_projection(mask).build().map_err(corrupt)?;
    stream.try_collect().await.map_err(corrupt)
}
