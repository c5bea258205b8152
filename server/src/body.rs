//! Reading a request body within the size limit, as sent and again after decompression, so a
//! small gzip bomb costs at most the limit in memory and the time to inflate that much.

use std::io::Read;

use actix_web::http::header::{CONTENT_ENCODING, CONTENT_LENGTH};
use actix_web::{web, HttpRequest};
use flate2::read::MultiGzDecoder;
use futures::StreamExt;

use crate::error::ApiError;

/// Reads the whole body, decompressing `Content-Encoding: gzip`.
pub(crate) async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    max_bytes: usize,
) -> Result<Vec<u8>, ApiError> {
    let encoding = content_encoding(req)?;
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > max_bytes as u64) {
        return Err(ApiError::PayloadTooLarge);
    }
    // Telegraf sends chunked bodies without a length; grow as needed, never past the limit.
    let capacity = declared.map_or(64 * 1024, |n| n as usize);
    let mut wire = Vec::with_capacity(capacity.min(max_bytes));
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::BadRequest(format!("reading the request body: {e}")))?;
        if wire.len() + chunk.len() > max_bytes {
            return Err(ApiError::PayloadTooLarge);
        }
        wire.extend_from_slice(&chunk);
    }
    match encoding {
        Encoding::Identity => Ok(wire),
        // influxdb-python sends `Content-Encoding: gzip` with an empty body on GET /query.
        Encoding::Gzip if wire.is_empty() => Ok(wire),
        Encoding::Gzip => gunzip(&wire, max_bytes),
    }
}

fn gunzip(wire: &[u8], max_bytes: usize) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::with_capacity((wire.len() * 4).min(max_bytes));
    MultiGzDecoder::new(wire)
        .take(max_bytes as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| ApiError::BadRequest(format!("invalid gzip body: {e}")))?;
    if out.len() > max_bytes {
        return Err(ApiError::PayloadTooLarge);
    }
    Ok(out)
}

enum Encoding {
    Identity,
    Gzip,
}

fn content_encoding(req: &HttpRequest) -> Result<Encoding, ApiError> {
    let Some(value) = req.headers().get(CONTENT_ENCODING) else {
        return Ok(Encoding::Identity);
    };
    let value = value.to_str().unwrap_or_default().trim();
    if value.is_empty() || value.eq_ignore_ascii_case("identity") {
        Ok(Encoding::Identity)
    } else if value.eq_ignore_ascii_case("gzip") || value.eq_ignore_ascii_case("x-gzip") {
        Ok(Encoding::Gzip)
    } else {
        Err(ApiError::BadRequest(format!(
            "unsupported content encoding {value:?} (use gzip or identity)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).expect("compress");
        enc.finish().expect("compress")
    }

    #[test]
    fn gunzip_within_limit() {
        let data = b"cpu v=1\n".repeat(100);
        assert_eq!(gunzip(&gzip(&data), data.len()).expect("inflates"), data);
    }

    #[test]
    fn gzip_bomb_is_cut_at_the_limit() {
        let bomb = gzip(&vec![b'a'; 10 * 1024 * 1024]);
        assert!(bomb.len() < 64 * 1024);
        assert!(matches!(
            gunzip(&bomb, 1024),
            Err(ApiError::PayloadTooLarge)
        ));
    }

    #[test]
    fn corrupt_gzip_is_a_client_error() {
        assert!(matches!(
            gunzip(b"not gzip", 1024),
            Err(ApiError::BadRequest(_))
        ));
    }
}
