//! Administration in InfluxDB v2 shapes, so `influx` v2 CLI habits carry over:
//! `/api/v2/buckets`, `/api/v2/dbrps`, `/api/v2/authorizations`. Operator tokens only. Errors use
//! the v2 shape (`{"code","message"}`).

use actix_web::{web, HttpRequest, HttpResponse};
use catalog::{Bucket, BucketId, Dbrp, DbrpId, Permission, Token, TokenId};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth;
use crate::error::{ApiError, V2Error};
use crate::state::AppState;

/// The one organization id we report (v2 clients insist on one; Strata has no orgs).
const ORG_ID: &str = "0000000000000001";

pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/v2/buckets", web::get().to(list_buckets))
        .route("/api/v2/buckets", web::post().to(create_bucket))
        .route("/api/v2/buckets/{id}", web::delete().to(delete_bucket))
        .route("/api/v2/dbrps", web::get().to(list_dbrps))
        .route("/api/v2/dbrps", web::post().to(create_dbrp))
        .route("/api/v2/dbrps/{id}", web::patch().to(patch_dbrp))
        .route("/api/v2/dbrps/{id}", web::delete().to(delete_dbrp))
        .route("/api/v2/authorizations", web::get().to(list_tokens))
        .route("/api/v2/authorizations", web::post().to(create_token))
        .route(
            "/api/v2/authorizations/{id}",
            web::delete().to(delete_token),
        );
}

fn operator(req: &HttpRequest, state: &AppState) -> Result<(), V2Error> {
    if auth::authenticate(req, &state.catalog, state.auth_enabled, None)?.is_operator() {
        Ok(())
    } else {
        Err(ApiError::Forbidden.into())
    }
}

fn parse_id(s: &str) -> Result<u64, V2Error> {
    u64::from_str_radix(s, 16)
        .map_err(|_| ApiError::BadRequest(format!("invalid id {s:?} (16 hex digits)")).into())
}

fn bad_json(e: impl std::fmt::Display) -> V2Error {
    ApiError::BadRequest(format!("invalid JSON body: {e}")).into()
}

fn bucket_json(b: &Bucket) -> Value {
    let rules: Vec<Value> = b
        .retention_ns
        .map(|ns| json!({ "type": "expire", "everySeconds": ns / 1_000_000_000 }))
        .into_iter()
        .collect();
    let mut v =
        json!({ "id": b.id.to_string(), "name": b.name, "orgID": ORG_ID, "retentionRules": rules });
    if let (Some(ns), Some(obj)) = (b.created_ns, v.as_object_mut()) {
        obj.insert("createdAt".into(), json!(rfc3339(ns)));
    }
    v
}

/// `2026-11-25T17:39:51Z` (seconds precision, UTC).
fn rfc3339(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let (day, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        engine::utc_date(day),
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

async fn list_buckets(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, V2Error> {
    operator(&req, &state)?;
    let buckets: Vec<Value> = state.catalog.buckets().iter().map(bucket_json).collect();
    Ok(HttpResponse::Ok().json(json!({ "buckets": buckets })))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RetentionRule {
    every_seconds: i64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewBucket {
    name: String,
    #[serde(default)]
    retention_rules: Vec<RetentionRule>,
}

async fn create_bucket(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, V2Error> {
    operator(&req, &state)?;
    let new: NewBucket = serde_json::from_slice(&body).map_err(bad_json)?;
    if state.catalog.bucket_by_name(&new.name).is_some() {
        return Err(ApiError::Catalog(catalog::CatalogError::Conflict(format!(
            "bucket {:?} already exists",
            new.name
        )))
        .into());
    }
    let retention = new
        .retention_rules
        .first()
        .map(|r| r.every_seconds.saturating_mul(1_000_000_000))
        .filter(|&ns| ns > 0);
    let bucket = state
        .catalog
        .create_bucket(&new.name, retention)
        .await
        .map_err(ApiError::from)?;
    Ok(HttpResponse::Created().json(bucket_json(&bucket)))
}

async fn delete_bucket(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, V2Error> {
    operator(&req, &state)?;
    let id = BucketId(parse_id(&path)?);
    state
        .catalog
        .delete_bucket(id)
        .await
        .map_err(ApiError::from)?;
    Ok(HttpResponse::NoContent().finish())
}

fn dbrp_json(d: &Dbrp) -> Value {
    json!({
        "id": d.id.map(|i| i.to_string()),
        "database": d.database,
        "retention_policy": d.retention_policy,
        "bucketID": d.bucket.to_string(),
        "default": d.default,
        "virtual": d.is_virtual,
        "orgID": ORG_ID,
    })
}

async fn list_dbrps(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, V2Error> {
    operator(&req, &state)?;
    let content: Vec<Value> = state.catalog.dbrps().iter().map(dbrp_json).collect();
    Ok(HttpResponse::Ok().json(json!({ "content": content })))
}

#[derive(Debug, Deserialize)]
struct NewDbrp {
    #[serde(rename = "bucketID")]
    bucket_id: String,
    database: String,
    retention_policy: String,
    #[serde(default)]
    default: bool,
}

async fn create_dbrp(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, V2Error> {
    operator(&req, &state)?;
    let new: NewDbrp = serde_json::from_slice(&body).map_err(bad_json)?;
    let bucket = BucketId(parse_id(&new.bucket_id)?);
    let dbrp = state
        .catalog
        .create_dbrp(&new.database, &new.retention_policy, bucket, new.default)
        .await
        .map_err(ApiError::from)?;
    Ok(HttpResponse::Created().json(dbrp_json(&dbrp)))
}

#[derive(Debug, Deserialize)]
struct PatchDbrp {
    default: Option<bool>,
}

async fn patch_dbrp(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, V2Error> {
    operator(&req, &state)?;
    let id = DbrpId(parse_id(&path)?);
    let patch: PatchDbrp = serde_json::from_slice(&body).map_err(bad_json)?;
    let dbrp = match patch.default {
        Some(default) => state
            .catalog
            .set_dbrp_default(id, default)
            .await
            .map_err(ApiError::from)?,
        None => state
            .catalog
            .dbrps()
            .into_iter()
            .find(|d| d.id == Some(id))
            .ok_or_else(|| ApiError::NotFound(format!("dbrp not found: {id}")))?,
    };
    Ok(HttpResponse::Ok().json(json!({ "content": dbrp_json(&dbrp) })))
}

async fn delete_dbrp(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, V2Error> {
    operator(&req, &state)?;
    state
        .catalog
        .delete_dbrp(DbrpId(parse_id(&path)?))
        .await
        .map_err(ApiError::from)?;
    Ok(HttpResponse::NoContent().finish())
}

fn token_json(t: &Token, secret: Option<&str>) -> Value {
    let permissions: Vec<Value> = t
        .permissions
        .iter()
        .flat_map(|p| match p {
            Permission::All => vec![
                json!({ "action": "read", "resource": { "type": "buckets" } }),
                json!({ "action": "write", "resource": { "type": "buckets" } }),
            ],
            Permission::Read(b) => vec![json!({ "action": "read", "resource": { "type": "buckets", "id": b.to_string() } })],
            Permission::Write(b) => vec![json!({ "action": "write", "resource": { "type": "buckets", "id": b.to_string() } })],
        })
        .collect();
    let mut v = json!({
        "id": t.id.to_string(),
        "description": t.description,
        "status": "active",
        "orgID": ORG_ID,
        "operator": t.is_operator(),
        "permissions": permissions,
    });
    if let (Some(secret), Some(obj)) = (secret, v.as_object_mut()) {
        obj.insert("token".into(), json!(secret));
    }
    v
}

async fn list_tokens(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, V2Error> {
    operator(&req, &state)?;
    let list: Vec<Value> = state
        .catalog
        .tokens()
        .iter()
        .map(|t| token_json(t, None))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "authorizations": list })))
}

#[derive(Debug, Deserialize)]
struct Resource {
    #[serde(rename = "type")]
    kind: String,
    id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct NewPermission {
    action: String,
    resource: Resource,
}

#[derive(Debug, Deserialize)]
struct NewToken {
    #[serde(default)]
    description: String,
    #[serde(default)]
    permissions: Vec<NewPermission>,
    /// Strata extension: an all-access operator token.
    #[serde(default)]
    operator: bool,
}

async fn create_token(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, V2Error> {
    operator(&req, &state)?;
    let new: NewToken = serde_json::from_slice(&body).map_err(bad_json)?;
    let mut permissions = Vec::new();
    if new.operator {
        permissions.push(Permission::All);
    }
    for p in &new.permissions {
        if p.resource.kind != "buckets" {
            return Err(ApiError::BadRequest(format!(
                "unsupported resource type {:?} (only buckets)",
                p.resource.kind
            ))
            .into());
        }
        let Some(id) = &p.resource.id else {
            return Err(ApiError::BadRequest(
                "a bucket permission needs resource.id (or use \"operator\": true)".into(),
            )
            .into());
        };
        let bucket = BucketId(parse_id(id)?);
        if state.catalog.bucket(bucket).is_none() {
            return Err(ApiError::NotFound(format!("bucket not found: {id}")).into());
        }
        permissions.push(match p.action.as_str() {
            "read" => Permission::Read(bucket),
            "write" => Permission::Write(bucket),
            other => {
                return Err(ApiError::BadRequest(format!(
                    "unknown action {other:?} (read or write)"
                ))
                .into())
            }
        });
    }
    if permissions.is_empty() {
        return Err(ApiError::BadRequest("a token needs at least one permission".into()).into());
    }
    let (token, secret) = state
        .catalog
        .create_token(&new.description, permissions, None)
        .await
        .map_err(ApiError::from)?;
    Ok(HttpResponse::Created().json(token_json(&token, Some(&secret))))
}

async fn delete_token(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, V2Error> {
    operator(&req, &state)?;
    state
        .catalog
        .delete_token(TokenId(parse_id(&path)?))
        .await
        .map_err(ApiError::from)?;
    Ok(HttpResponse::NoContent().finish())
}
