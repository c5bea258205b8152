//! Routes and handlers. Handlers only translate HTTP into calls on `catalog` and `engine` and
//! back; every error goes through [`ApiError`]'s single mapping.

use actix_web::dev::ServiceResponse;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};
use engine::WriteRequest;
use lp::Precision;
use serde::Deserialize;

use crate::auth;
use crate::body::read_body;
use crate::error::{ApiError, V2Error};
use crate::state::AppState;

/// How long a write waits for a turn under `--max-concurrent-writes`.
const WRITE_QUEUE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// The InfluxDB API version we answer as: the 1.x line that v1 clients were written against.
pub const INFLUXDB_VERSION: &str = "1.8.10";

/// Registers every route.
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/write", web::post().to(write_v1))
        .route("/api/v2/write", web::post().to(write_v2))
        .route("/ping", web::get().to(ping))
        .route("/ping", web::head().to(ping))
        .route("/health", web::get().to(health))
        .route("/metrics", web::get().to(metrics))
        .configure(crate::v1_query::routes)
        .configure(crate::sql::routes)
        .configure(crate::admin::routes);
}

/// Adds the headers every response carries (1.x clients read `X-Influxdb-Version` from `/ping`;
/// influxdb-python crashes without it). Takes the inner service's future so it borrows nothing.
pub(crate) async fn common_headers(
    method: actix_web::http::Method,
    path: String,
    state: Option<web::Data<AppState>>,
    response: impl std::future::Future<Output = Result<ServiceResponse, actix_web::Error>>,
) -> Result<ServiceResponse, actix_web::Error> {
    let started = std::time::Instant::now();
    let mut res = response.await?;
    if let Some(state) = state {
        state.metrics.observe_request(&path, res.status().as_u16());
    }
    let id = uuid::Uuid::new_v4().to_string();
    let headers = res.headers_mut();
    headers.insert(
        HeaderName::from_static("x-influxdb-version"),
        HeaderValue::from_static(INFLUXDB_VERSION),
    );
    headers.insert(
        HeaderName::from_static("x-influxdb-build"),
        HeaderValue::from_static("Strata"),
    );
    if let Ok(v) = HeaderValue::from_str(&id) {
        headers.insert(HeaderName::from_static("request-id"), v.clone());
        headers.insert(HeaderName::from_static("x-request-id"), v);
    }
    tracing::debug!(
        %method,
        path,
        status = res.status().as_u16(),
        us = started.elapsed().as_micros() as u64,
        request_id = id,
        "request"
    );
    Ok(res)
}

#[derive(Debug, Deserialize)]
struct WriteParams {
    db: Option<String>,
    rp: Option<String>,
    precision: Option<String>,
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// `POST /write?db=&rp=&precision=` (InfluxDB v1).
async fn write_v1(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    // One receive time per request, taken before the body is read.
    let received_at_ns = now_ns();
    let params = web::Query::<WriteParams>::from_query(req.query_string())
        .map_err(|e| ApiError::BadRequest(format!("invalid query string: {e}")))?
        .into_inner();
    let db = params
        .db
        .filter(|d| !d.is_empty())
        .ok_or(ApiError::DatabaseRequired)?;
    let precision = parse_precision(params.precision.as_deref())?;
    let target = Target::V1 {
        db,
        rp: params.rp.unwrap_or_default(),
    };
    write(req, payload, state, target, precision, received_at_ns).await
}

#[derive(Debug, Deserialize)]
struct V2WriteParams {
    bucket: Option<String>,
    precision: Option<String>,
}

/// `POST /api/v2/write?bucket=&org=&precision=` (InfluxDB v2; `org` ignored). `bucket` is a
/// bucket name, or `db/rp` as v2 clients send in InfluxDB 1.8 compatibility mode.
async fn write_v2(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, V2Error> {
    let received_at_ns = now_ns();
    let params = web::Query::<V2WriteParams>::from_query(req.query_string())
        .map_err(|e| ApiError::BadRequest(format!("invalid query string: {e}")))?
        .into_inner();
    let bucket = params
        .bucket
        .filter(|b| !b.is_empty())
        .ok_or_else(|| ApiError::BadRequest("bucket is required".into()))?;
    let precision = parse_precision(params.precision.as_deref())?;
    Ok(write(
        req,
        payload,
        state,
        Target::Bucket(bucket),
        precision,
        received_at_ns,
    )
    .await?)
}

fn parse_precision(p: Option<&str>) -> Result<Precision, ApiError> {
    p.unwrap_or_default()
        .parse()
        .map_err(|e: lp::UnknownPrecision| ApiError::BadRequest(e.to_string()))
}

/// Where a write goes.
enum Target {
    /// v1: database + retention policy (empty: the database's default).
    V1 { db: String, rp: String },
    /// v2: a bucket name, or `db/rp`.
    Bucket(String),
}

/// The write path shared by both APIs: authenticate, read the body, resolve the bucket,
/// check permission, write, and answer.
async fn write(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    target: Target,
    precision: Precision,
    received_at_ns: i64,
) -> Result<HttpResponse, ApiError> {
    let caller = match auth::authenticate(&req, &state.catalog, state.auth_enabled, None) {
        Err(ApiError::MissingCredentials { .. }) => {
            // Look at the body only to explain the failure better; nothing is written.
            let body = read_body(&req, payload, state.max_body_bytes)
                .await
                .unwrap_or_default();
            return Err(ApiError::MissingCredentials {
                hint: auth::body_credentials_hint(&body),
            });
        }
        other => other?,
    };
    // Taken before the body is read, so the limit bounds memory as well as CPU.
    let _permit = tokio::time::timeout(WRITE_QUEUE_WAIT, state.write_permits.acquire())
        .await
        .map_err(|_| ApiError::TooBusy)?
        .map_err(|_| ApiError::TooBusy)?;
    let body = read_body(&req, payload, state.max_body_bytes).await?;
    if body.is_empty() {
        return Ok(HttpResponse::NoContent().finish());
    }
    let bucket = match target {
        Target::Bucket(name) => match state.catalog.bucket_by_name(&name) {
            Some(bucket) => bucket,
            None => {
                let (db, rp) = name.split_once('/').unwrap_or((name.as_str(), ""));
                resolve_or_create(&state, &caller, db, rp, &body, precision).await?
            }
        },
        Target::V1 { db, rp } => {
            resolve_or_create(&state, &caller, &db, &rp, &body, precision).await?
        }
    };
    if !caller.can_write(bucket.id) {
        return Err(ApiError::Forbidden);
    }
    let outcome = state
        .engine
        .write(WriteRequest {
            bucket: &bucket,
            body: &body,
            precision,
            received_at_ns,
        })
        .await?;
    state.metrics.observe_write(body.len(), &outcome);
    if outcome.rejected_total > 0 {
        return Err(ApiError::from_outcome(outcome));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Resolves (db, rp) to a bucket; an operator's write may create it, but only if something in
/// the body parses (a request that will write nothing must not change the catalog).
async fn resolve_or_create(
    state: &AppState,
    caller: &auth::Caller,
    db: &str,
    rp: &str,
    body: &[u8],
    precision: Precision,
) -> Result<catalog::Bucket, ApiError> {
    match state.catalog.resolve_v1(db, rp, false).await {
        Ok(bucket) => Ok(bucket),
        Err(
            catalog::CatalogError::DatabaseNotFound { .. }
            | catalog::CatalogError::RetentionPolicyNotFound { .. },
        ) if caller.is_operator() => {
            if let Some(outcome) = engine::unparseable(body, precision, state.engine.config()) {
                return Err(ApiError::from_outcome(outcome));
            }
            Ok(state.catalog.resolve_v1(db, rp, true).await?)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize)]
struct PingParams {
    verbose: Option<String>,
}

/// `GET|HEAD /ping`: 204, or 200 with the version when `verbose=true`.
async fn ping(req: HttpRequest) -> HttpResponse {
    let verbose = web::Query::<PingParams>::from_query(req.query_string())
        .ok()
        .and_then(|q| q.into_inner().verbose)
        .is_some_and(|v| v == "true" || v == "1");
    if verbose {
        HttpResponse::Ok().json(serde_json::json!({ "version": INFLUXDB_VERSION }))
    } else {
        HttpResponse::NoContent().finish()
    }
}

/// `GET /health`: 200 while writes are accepted, 503 when storage failed or the server is
/// stopping (load balancers and probes read the status; humans read the message).
async fn health(state: web::Data<AppState>) -> HttpResponse {
    let healthy = state.engine.is_healthy();
    // A table that cannot be flushed does not stop writes (its rows are held and retried), so
    // the server still passes; the check says which tables and why.
    let problems = state.engine.flush_problems();
    let mut checks = Vec::new();
    let mut message = match healthy {
        true => "ready for queries and writes".to_owned(),
        false => "writes are refused: storage failed or the server is stopping".to_owned(),
    };
    if !problems.is_empty() {
        message.push_str(&format!(
            "; {} table(s) cannot be flushed (their rows are held in memory and the WAL, and retried)",
            problems.len()
        ));
        let tables: Vec<_> = problems
            .iter()
            .map(|p| {
                serde_json::json!({
                    "bucket": p.bucket.to_string(),
                    "measurement": engine::short_name(&p.measurement),
                    "failures": p.failures,
                    "rows": p.rows,
                    "error": p.error,
                    "retry_in_ms": p.retry_in.as_millis() as u64,
                })
            })
            .collect();
        checks.push(serde_json::json!({
            "name": "flush",
            "status": "fail",
            "message": format!("{} table(s) cannot be flushed", problems.len()),
            "tables": tables,
        }));
    }
    let body = serde_json::json!({
        "name": "strata",
        "message": message,
        "status": if healthy { "pass" } else { "fail" },
        "checks": checks,
        "version": INFLUXDB_VERSION,
        "build": concat!("Strata ", env!("CARGO_PKG_VERSION")),
    });
    if healthy {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// `GET /metrics`: Prometheus text (authenticated like every endpoint but `/ping` and `/health`).
async fn metrics(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    auth::authenticate(&req, &state.catalog, state.auth_enabled, None)?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render(&state.engine, state.query.stats())))
}

/// Any other route: a JSON 404 like every other error.
pub(crate) async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NotFound(format!(
        "{} {} not found",
        req.method(),
        req.path()
    )))
}

#[cfg(test)]
mod tests;
