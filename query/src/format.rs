//! A query's rows in the formats `/api/v3/query_sql` and `strata query` answer with: `json` (an
//! array of objects), `jsonl` (one object per line), `csv` (with a header), `pretty` (a text
//! table) and `parquet`. Written straight from the Arrow batches.

use std::str::FromStr;

use arrow::record_batch::RecordBatch;

use crate::{QueryError, QueryOutput, Result};

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `[{"col":value,…},…]`.
    Json,
    /// One JSON object per line.
    JsonLines,
    /// Comma-separated, with a header line.
    Csv,
    /// A text table.
    Pretty,
    /// A Parquet file.
    Parquet,
}

impl FromStr for Format {
    type Err = QueryError;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "" | "json" => Ok(Format::Json),
            "jsonl" => Ok(Format::JsonLines),
            "csv" => Ok(Format::Csv),
            "pretty" => Ok(Format::Pretty),
            "parquet" => Ok(Format::Parquet),
            other => Err(QueryError::Invalid(format!(
                "unknown format {other:?}: expected json, jsonl, csv, pretty or parquet"
            ))),
        }
    }
}

impl Format {
    /// The HTTP content type of a body in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::JsonLines => "application/jsonl",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Pretty => "text/plain; charset=utf-8",
            Format::Parquet => "application/vnd.apache.parquet",
        }
    }
}

/// `out` written in `format`.
pub fn encode(out: &QueryOutput, format: Format) -> Result<Vec<u8>> {
    let err = |e: arrow::error::ArrowError| QueryError::Internal(format!("encoding rows: {e}"));
    let batches: Vec<&RecordBatch> = out.batches.iter().filter(|b| b.num_rows() > 0).collect();
    let mut buf = Vec::new();
    match format {
        Format::Json => {
            let mut w = arrow::json::ArrayWriter::new(&mut buf);
            w.write_batches(&batches).map_err(err)?;
            w.finish().map_err(err)?;
            if buf.is_empty() {
                buf.extend_from_slice(b"[]");
            }
        }
        Format::JsonLines => {
            let mut w = arrow::json::LineDelimitedWriter::new(&mut buf);
            w.write_batches(&batches).map_err(err)?;
            w.finish().map_err(err)?;
        }
        Format::Csv => {
            let mut w = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut buf);
            if batches.is_empty() {
                let empty = RecordBatch::new_empty(out.schema.clone());
                w.write(&empty).map_err(err)?;
            }
            for b in &batches {
                w.write(b).map_err(err)?;
            }
        }
        Format::Pretty => {
            let owned: Vec<RecordBatch> = batches.iter().map(|b| (*b).clone()).collect();
            let table = match owned.is_empty() {
                true => arrow::util::pretty::pretty_format_batches(&[RecordBatch::new_empty(
                    out.schema.clone(),
                )]),
                false => arrow::util::pretty::pretty_format_batches(&owned),
            }
            .map_err(err)?;
            buf = format!("{table}\n").into_bytes();
        }
        Format::Parquet => {
            let perr = |e: parquet::errors::ParquetError| {
                QueryError::Internal(format!("encoding rows: {e}"))
            };
            let mut w = parquet::arrow::ArrowWriter::try_new(&mut buf, out.schema.clone(), None)
                .map_err(perr)?;
            for b in &batches {
                w.write(b).map_err(perr)?;
            }
            w.close().map_err(perr)?;
        }
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{ArrayRef, Float64Array, StringArray};
    use std::sync::Arc;

    fn output() -> QueryOutput {
        let b = RecordBatch::try_from_iter([
            (
                "host",
                Arc::new(StringArray::from(vec!["a", "b"])) as ArrayRef,
            ),
            (
                "usage",
                Arc::new(Float64Array::from(vec![Some(1.5), None])) as ArrayRef,
            ),
        ])
        .expect("batch");
        QueryOutput {
            schema: b.schema(),
            batches: vec![b],
        }
    }

    #[test]
    fn each_format_writes_the_rows() {
        let out = output();
        let json = String::from_utf8(encode(&out, Format::Json).expect("json")).expect("utf8");
        assert_eq!(json, r#"[{"host":"a","usage":1.5},{"host":"b"}]"#);
        let lines =
            String::from_utf8(encode(&out, Format::JsonLines).expect("jsonl")).expect("utf8");
        assert_eq!(lines.lines().count(), 2);
        let csv = String::from_utf8(encode(&out, Format::Csv).expect("csv")).expect("utf8");
        assert_eq!(csv, "host,usage\na,1.5\nb,\n");
        let pretty =
            String::from_utf8(encode(&out, Format::Pretty).expect("pretty")).expect("utf8");
        assert!(pretty.contains("| host | usage |"), "{pretty}");
        let parquet = encode(&out, Format::Parquet).expect("parquet");
        assert_eq!(&parquet[..4], b"PAR1");
    }

    #[test]
    fn no_rows_is_an_empty_array_and_a_header() {
        let mut out = output();
        out.batches.clear();
        assert_eq!(encode(&out, Format::Json).expect("json"), b"[]");
        assert_eq!(encode(&out, Format::Csv).expect("csv"), b"host,usage\n");
        assert!("xml".parse::<Format>().is_err());
    }
}
