//! `GET|POST /api/v3/query_sql` (InfluxDB 3's shape): SQL over a bucket's measurements.
//! Parameters `db`, `q`, `format` from the query string, or for POST a JSON body; `db` is a
//! bucket name or a v1 database (its default retention policy's bucket).

use actix_web::{web, HttpRequest, HttpResponse};
use catalog::Bucket;
use query::format::Format;
use query::Param;
use serde::Deserialize;

use crate::auth::{self, Caller};
use crate::body::read_body;
use crate::error::ApiError;
use crate::state::AppState;

/// Registers the SQL route.
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v3/query_sql", web::get().to(query_sql))
        .route("/api/v3/query_sql", web::post().to(query_sql));
}

#[derive(Debug, Default, Deserialize)]
struct SqlParams {
    db: Option<String>,
    q: Option<String>,
    format: Option<String>,
    /// Values of `$name` placeholders: a JSON object (in the query string, its text).
    params: Option<serde_json::Value>,
}

/// `params` as placeholder values; a string in the query string holds the JSON object.
fn placeholders(params: Option<serde_json::Value>) -> Result<Vec<(String, Param)>, ApiError> {
    let bad = |why: String| ApiError::BadRequest(format!("invalid params: {why}"));
    let object = match params {
        None | Some(serde_json::Value::Null) => return Ok(Vec::new()),
        Some(serde_json::Value::String(text)) if text.trim().is_empty() => return Ok(Vec::new()),
        Some(serde_json::Value::String(text)) => {
            serde_json::from_str::<serde_json::Value>(&text).map_err(|e| bad(e.to_string()))?
        }
        Some(v) => v,
    };
    let serde_json::Value::Object(map) = object else {
        return Err(bad("expected a JSON object of name: value".into()));
    };
    map.into_iter()
        .map(|(name, v)| {
            let p = match v {
                serde_json::Value::String(s) => Param::Str(s),
                serde_json::Value::Bool(b) => Param::Bool(b),
                serde_json::Value::Null => Param::Null,
                serde_json::Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
                    (Some(i), _, _) => Param::Int(i),
                    (None, Some(u), _) => Param::UInt(u),
                    (None, None, Some(f)) => Param::Float(f),
                    _ => return Err(bad(format!("{name}: not a number this server reads"))),
                },
                other => return Err(bad(format!("{name}: {other} is not a scalar"))),
            };
            Ok((name, p))
        })
        .collect()
}

async fn query_sql(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(&req, payload, state.max_body_bytes).await?;
    let caller = auth::authenticate(&req, &state.catalog, state.auth_enabled, None)?;
    let mut params = web::Query::<SqlParams>::from_query(req.query_string())
        .map_err(|e| ApiError::BadRequest(format!("invalid query string: {e}")))?
        .into_inner();
    if !body.is_empty() {
        let posted: SqlParams = serde_json::from_slice(&body)
            .map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))?;
        // The body wins where both give one.
        params.db = posted.db.or(params.db);
        params.q = posted.q.or(params.q);
        params.format = posted.format.or(params.format);
        params.params = posted.params.or(params.params);
    }
    let q = params
        .q
        .filter(|q| !q.trim().is_empty())
        .ok_or_else(|| ApiError::BadRequest("missing required parameter \"q\"".into()))?;
    let db = params
        .db
        .filter(|d| !d.is_empty())
        .ok_or(ApiError::DatabaseRequired)?;
    let format: Format = params.format.as_deref().unwrap_or("json").parse()?;
    let bucket = readable_bucket(&state, &caller, &db).await?;
    let values = placeholders(params.params)?;
    let out = state.query.sql_with_params(&bucket, &q, values).await?;
    let bytes = query::format::encode(&out, format)?;
    Ok(HttpResponse::Ok()
        .content_type(format.content_type())
        .body(bytes))
}

/// The bucket `db` names (a bucket name, else a v1 database), if the caller may read it.
async fn readable_bucket(state: &AppState, caller: &Caller, db: &str) -> Result<Bucket, ApiError> {
    let bucket = match state.catalog.bucket_by_name(db) {
        Some(b) => b,
        None => state.catalog.resolve_v1(db, "", false).await?,
    };
    if !caller.can_read(bucket.id) {
        return Err(ApiError::Forbidden);
    }
    Ok(bucket)
}
