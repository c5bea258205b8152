//! The one place where errors become HTTP responses. Telegraf and most v1 clients drop a batch on
//! 4xx and retry on 5xx, so a wrong status here loses data or loops forever: every variant is
//! mapped explicitly (no catch-all arm), client faults to 4xx, server faults to 5xx.

use actix_web::http::header::{HeaderValue, CONTENT_TYPE};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use catalog::CatalogError;
use engine::{EngineError, RejectReason, WriteOutcome};
use serde_json::json;

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// `db` missing or empty.
    #[error("database is required")]
    DatabaseRequired,
    /// The query string, a parameter or a header is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// Auth is on and the request carries no credentials.
    #[error("unable to parse authentication credentials{}", hint.as_deref().unwrap_or_default())]
    MissingCredentials {
        /// What the client probably did wrong.
        hint: Option<String>,
    },
    /// The presented token is unknown.
    #[error("authorization failed")]
    AuthFailed,
    /// The token is valid but may not do this.
    #[error("authorization failed")]
    Forbidden,
    /// More concurrent writes than `--max-concurrent-writes` for too long.
    #[error("too many concurrent writes; retry shortly")]
    TooBusy,
    /// Unknown route or resource.
    #[error("{0}")]
    NotFound(String),
    /// The body (as sent, or decompressed) is over the limit.
    #[error("request entity too large")]
    PayloadTooLarge,
    /// Some or all points were rejected; the rest are written.
    #[error("{message}")]
    PartialWrite {
        /// The 1.x-style message.
        message: String,
        /// Details for the JSON body.
        outcome: WriteOutcome,
    },
    /// The catalog refused or failed.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The engine failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// A file-system operation of the server itself failed (start-up, listener file).
    #[error("{context}: {source}")]
    Io {
        /// What the server was doing.
        context: String,
        /// The error.
        source: std::io::Error,
    },
    /// The object store could not be set up.
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
    /// A query failed.
    #[error(transparent)]
    Query(#[from] query::QueryError),
}

impl ApiError {
    /// The response to a write whose outcome has rejections (1.x wording, our line numbers).
    pub(crate) fn from_outcome(outcome: WriteOutcome) -> Self {
        let describe = |r: &engine::Rejection| match &r.reason {
            RejectReason::Parse(kind) => {
                format!("unable to parse '{}' (line {}): {kind}", r.text, r.line)
            }
            other => format!("{other} (line {})", r.line),
        };
        let shown: Vec<String> = outcome.rejected.iter().take(3).map(describe).collect();
        let all_parse = outcome
            .rejected
            .iter()
            .all(|r| matches!(r.reason, RejectReason::Parse(_)));
        let message = if outcome.written == 0 && all_parse {
            shown.join("; ")
        } else {
            format!(
                "partial write: {} dropped={}",
                shown.join("; "),
                outcome.rejected_total
            )
        };
        ApiError::PartialWrite { message, outcome }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::DatabaseRequired
            | ApiError::BadRequest(_)
            | ApiError::PartialWrite { .. } => StatusCode::BAD_REQUEST,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::MissingCredentials { .. } | ApiError::AuthFailed => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::TooBusy => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Io { .. } | ApiError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Catalog(e) => catalog_status(e),
            ApiError::Query(e) => match e {
                query::QueryError::Invalid(_) => StatusCode::BAD_REQUEST,
                query::QueryError::Unauthorized(_) => StatusCode::FORBIDDEN,
                query::QueryError::Memory(_) | query::QueryError::Timeout(_) => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                query::QueryError::Engine(_)
                | query::QueryError::Execution(_)
                | query::QueryError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            },
            ApiError::Engine(e) => match e {
                EngineError::ShuttingDown | EngineError::Poisoned | EngineError::Overloaded => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                EngineError::Catalog(inner) => catalog_status(inner),
                EngineError::Store(_)
                | EngineError::Parquet(_)
                | EngineError::Wal(_)
                | EngineError::Corrupt { .. }
                | EngineError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            },
        }
    }

    fn error_response(&self) -> HttpResponse {
        self.render(Dialect::V1)
    }
}

fn catalog_status(e: &CatalogError) -> StatusCode {
    match e {
        CatalogError::InvalidName { .. } => StatusCode::BAD_REQUEST,
        CatalogError::DatabaseNotFound { .. }
        | CatalogError::RetentionPolicyNotFound { .. }
        | CatalogError::NotFound { .. } => StatusCode::NOT_FOUND,
        CatalogError::Conflict(_) => StatusCode::CONFLICT,
        CatalogError::Storage(_)
        | CatalogError::Corrupt { .. }
        | CatalogError::ConcurrentWriter { .. } => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Which API's error shape to answer in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// InfluxDB 1.x: `{"error": "..."}` plus `X-Influxdb-Error`.
    V1,
    /// InfluxDB 2.x: `{"code": "...", "message": "..."}`.
    V2,
}

/// An [`ApiError`] answered in the v2 shape (for `/api/v2/*`). Same status mapping.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub(crate) struct V2Error(#[from] pub(crate) ApiError);

impl ResponseError for V2Error {
    fn status_code(&self) -> StatusCode {
        self.0.status_code()
    }

    fn error_response(&self) -> HttpResponse {
        self.0.render(Dialect::V2)
    }
}

impl ApiError {
    fn render(&self, dialect: Dialect) -> HttpResponse {
        let status = self.status_code();
        let message = self.to_string();
        if status.is_server_error() {
            tracing::error!(status = status.as_u16(), error = %message, "request failed");
        } else {
            tracing::warn!(status = status.as_u16(), error = %message, "request rejected");
        }
        let body = match (self, dialect) {
            (ApiError::PartialWrite { outcome, .. }, _) => json!({
                "error": message,
                "code": "invalid",
                "message": message,
                "written": outcome.written,
                "rejected": outcome.rejected.iter().map(|r| json!({
                    "line": r.line,
                    "column": r.column,
                    "reason": r.reason.to_string(),
                    "text": r.text,
                })).collect::<Vec<_>>(),
            }),
            (_, Dialect::V1) => json!({ "error": message }),
            (_, Dialect::V2) => json!({ "code": v2_code(status), "message": message }),
        };
        let mut resp = HttpResponse::build(status);
        if status == StatusCode::SERVICE_UNAVAILABLE {
            resp.insert_header(("Retry-After", "1"));
        }
        if status == StatusCode::UNAUTHORIZED {
            resp.insert_header(("WWW-Authenticate", "Token"));
        }
        resp.insert_header((CONTENT_TYPE, HeaderValue::from_static("application/json")));
        // Header values must be visible ASCII; the JSON body keeps the exact text.
        let header: String = message
            .chars()
            .flat_map(|c| match c {
                ' '..='~' => vec![c],
                c if c.is_control() => vec![' '],
                c => c.escape_unicode().collect(),
            })
            .collect();
        if let Ok(v) = HeaderValue::from_str(&header) {
            resp.insert_header(("X-Influxdb-Error", v));
        }
        resp.body(body.to_string())
    }
}

/// InfluxDB 2.x error codes by status.
fn v2_code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 413 => "invalid",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not found",
        409 => "conflict",
        503 => "unavailable",
        _ => "internal error",
    }
}
