//! `GET|POST /query` (InfluxDB v1): InfluxQL. Parameters from the query string and, for POST, a
//! urlencoded form body (the body wins); the statements are parsed here (a parse error is the
//! request's 400), run by the query engine, and rendered as 1.x renders them: JSON (chunked on
//! request), CSV for `Accept: application/csv`, gzip when the client accepts it.

mod render;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::auth;
use crate::body::read_body;
use crate::error::ApiError;
use crate::state::AppState;

pub(crate) use render::Epoch;

/// Registers the route.
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/query", web::get().to(query))
        .route("/query", web::post().to(query));
}

#[derive(Debug, Default, Deserialize)]
struct Params {
    q: Option<String>,
    db: Option<String>,
    rp: Option<String>,
    epoch: Option<String>,
    chunked: Option<String>,
    chunk_size: Option<String>,
    pretty: Option<String>,
    params: Option<String>,
}

impl Params {
    /// `other`'s values where it gives one (the form body over the query string).
    fn overlaid(self, other: Params) -> Params {
        Params {
            q: other.q.or(self.q),
            db: other.db.or(self.db),
            rp: other.rp.or(self.rp),
            epoch: other.epoch.or(self.epoch),
            chunked: other.chunked.or(self.chunked),
            chunk_size: other.chunk_size.or(self.chunk_size),
            pretty: other.pretty.or(self.pretty),
            params: other.params.or(self.params),
        }
    }
}

/// Empty means not given (node-influx always sends `epoch=`, `rp=`).
fn given(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty())
}

/// Parses the form of `text`, first value of a key winning (as Go's `url.Values.Get`).
fn form(text: &str) -> Params {
    let mut p = Params::default();
    for (k, v) in url_pairs(text) {
        let slot = match k.as_str() {
            "q" => &mut p.q,
            "db" => &mut p.db,
            "rp" => &mut p.rp,
            "epoch" => &mut p.epoch,
            "chunked" => &mut p.chunked,
            "chunk_size" => &mut p.chunk_size,
            "pretty" => &mut p.pretty,
            "params" => &mut p.params,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(v);
        }
    }
    p
}

fn url_pairs(text: &str) -> Vec<(String, String)> {
    web::Query::<Vec<(String, String)>>::from_query(text)
        .map(web::Query::into_inner)
        .unwrap_or_default()
}

async fn query(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(&req, payload, state.max_body_bytes).await?;
    let form_body = (!body.is_empty()).then_some(body.as_slice());
    let caller = auth::authenticate(&req, &state.catalog, state.auth_enabled, form_body)?;
    let mut params = form(req.query_string());
    if let Some(text) = form_body.and_then(|b| std::str::from_utf8(b).ok()) {
        params = params.overlaid(form(text));
    }
    let q = given(params.q)
        .ok_or_else(|| ApiError::BadRequest("missing required parameter \"q\"".into()))?;
    let bound = bind_params(given(params.params))?;
    let statements = influxql::parse_query_with_params(&q, &bound)
        .map_err(|e| ApiError::BadRequest(format!("error parsing query: {e}")))?;
    let (db, rp) = (given(params.db), given(params.rp));
    let can_read = |b: catalog::BucketId| caller.can_read(b);
    let request = query::v1::V1Request {
        db: db.as_deref(),
        rp: rp.as_deref(),
        operator: caller.is_operator(),
        can_read: &can_read,
        now_ns: now_ns(),
    };
    let results = state.query.influxql(&statements, &request).await?;
    let epoch = Epoch::parse(given(params.epoch).as_deref());
    let wants_csv = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| {
            a.split(',')
                .any(|t| t.trim().starts_with("application/csv"))
        });
    let (content_type, mut bytes) = if wants_csv {
        ("application/csv", render::csv(&results, epoch))
    } else if given(params.chunked).is_some_and(|c| c == "true") {
        let size = given(params.chunk_size)
            .and_then(|s| s.parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or(10_000);
        ("application/json", render::chunked(&results, epoch, size))
    } else {
        let pretty = given(params.pretty).is_some_and(|p| p == "true");
        ("application/json", render::json(&results, epoch, pretty))
    };
    let mut response = HttpResponse::Ok();
    response.content_type(content_type);
    if accepts_gzip(&req) {
        bytes = gzip(&bytes)?;
        response.insert_header((header::CONTENT_ENCODING, "gzip"));
    }
    Ok(response.body(bytes))
}

fn accepts_gzip(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")))
}

fn gzip(bytes: &[u8]) -> Result<Vec<u8>, ApiError> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes)
        .and_then(|()| enc.finish())
        .map_err(|source| ApiError::Io {
            context: "gzip".into(),
            source,
        })
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64)
}

/// `params=` (a JSON object) as InfluxQL parameter values; `{}` and empty mean none.
fn bind_params(text: Option<String>) -> Result<influxql::Params, ApiError> {
    let Some(text) = text else {
        return Ok(influxql::Params::new());
    };
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| ApiError::BadRequest(format!("error parsing query parameters: {e}")))?;
    let serde_json::Value::Object(map) = value else {
        return Err(ApiError::BadRequest(
            "error parsing query parameters: expected a JSON object".into(),
        ));
    };
    Ok(map.into_iter().map(|(k, v)| (k, param(v))).collect())
}

fn param(v: serde_json::Value) -> influxql::ParamValue {
    use influxql::ParamValue as P;
    match v {
        serde_json::Value::Null => P::Null,
        serde_json::Value::Bool(b) => P::Bool(b),
        serde_json::Value::Number(n) => P::Number(n.to_string()),
        serde_json::Value::String(s) => P::String(s),
        serde_json::Value::Array(a) => P::Array(a.into_iter().map(param).collect()),
        serde_json::Value::Object(o) => {
            P::Object(o.into_iter().map(|(k, v)| (k, param(v))).collect())
        }
    }
}
