//! `strata bucket|dbrp|token …`: administration of a running server through its v2-shaped HTTP
//! API, so the CLI needs nothing but the URL and an operator token; `strata query` reads.

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use crate::error::ApiError;

/// Which server, as whom.
#[derive(Debug, Clone, Args)]
pub struct Target {
    /// Base URL of the server.
    #[arg(
        long,
        env = "STRATA_HOST",
        default_value = "http://127.0.0.1:8086",
        global = true
    )]
    pub host: String,
    /// Operator token.
    #[arg(long, env = "STRATA_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
}

/// `strata bucket …`
#[derive(Debug, Clone, Subcommand)]
pub enum BucketAction {
    /// List buckets.
    List,
    /// Create a bucket.
    Create {
        /// Name: `db/rp` or a single name.
        name: String,
        /// Retention, as an InfluxQL duration (`30d`, `12h`); default: keep forever.
        #[arg(long)]
        retention: Option<String>,
    },
    /// Delete a bucket by id.
    Delete {
        /// Bucket id (16 hex digits).
        id: String,
    },
}

/// `strata dbrp …`
#[derive(Debug, Clone, Subcommand)]
pub enum DbrpAction {
    /// List mappings (stored and virtual).
    List,
    /// Map a v1 database + retention policy to a bucket.
    Create {
        /// v1 database.
        #[arg(long)]
        db: String,
        /// v1 retention policy.
        #[arg(long)]
        rp: String,
        /// Target bucket id.
        #[arg(long)]
        bucket_id: String,
        /// Make it the database's default retention policy.
        #[arg(long)]
        default: bool,
    },
    /// Delete a mapping by id.
    Delete {
        /// Mapping id.
        id: String,
    },
}

/// `strata token …`
#[derive(Debug, Clone, Subcommand)]
pub enum TokenAction {
    /// List tokens (never their secrets).
    List,
    /// Create a token; its secret is printed once.
    Create {
        /// What it is for.
        #[arg(long, default_value = "")]
        description: String,
        /// All access: write and read everything, create buckets and mappings.
        #[arg(long)]
        operator: bool,
        /// Bucket ids it may write (repeatable).
        #[arg(long = "write-bucket")]
        write: Vec<String>,
        /// Bucket ids it may read (repeatable).
        #[arg(long = "read-bucket")]
        read: Vec<String>,
    },
    /// Delete a token by id.
    Delete {
        /// Token id.
        id: String,
    },
}

/// Options of `strata query`.
#[derive(Debug, Clone, Args)]
pub struct QueryArgs {
    /// Bucket, or v1 database, to query.
    #[arg(long)]
    pub db: String,
    /// The query is SQL (else InfluxQL, sent to `/query`).
    #[arg(long)]
    pub sql: bool,
    /// Output: `table`, `json` or `csv`.
    #[arg(long, default_value = "table")]
    pub format: String,
    /// The query.
    pub query: String,
}

/// `strata query`: prints the answer of a running server.
pub(crate) fn query(target: &Target, args: QueryArgs) -> Result<(), ApiError> {
    if !args.sql {
        let path = format!(
            "/query?db={}&q={}",
            urlencode(&args.db),
            urlencode(&args.query)
        );
        return call(target, reqwest::Method::GET, &path, None);
    }
    let format = match args.format.as_str() {
        "table" => "pretty",
        "json" => "json",
        "csv" => "csv",
        other => {
            return Err(ApiError::BadRequest(format!(
                "unknown format {other:?}: expected table, json or csv"
            )))
        }
    };
    let body = json!({ "db": args.db, "q": args.query, "format": format });
    let text = send(
        target,
        reqwest::Method::POST,
        "/api/v3/query_sql",
        Some(body),
    )?;
    print!("{text}");
    if format != "pretty" && !text.ends_with('\n') {
        println!();
    }
    Ok(())
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn call(
    target: &Target,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Result<(), ApiError> {
    let text = send(target, method, path, body)?;
    if !text.is_empty() {
        let pretty = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or(text);
        println!("{pretty}");
    }
    Ok(())
}

/// The body of a successful answer; an error status is an error with the server's message.
fn send(
    target: &Target,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Result<String, ApiError> {
    let client = reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .map_err(|e| ApiError::BadRequest(format!("HTTP client: {e}")))?;
    let mut req = client.request(
        method,
        format!("{}{path}", target.host.trim_end_matches('/')),
    );
    if let Some(token) = &target.token {
        req = req.header("Authorization", format!("Token {token}"));
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req
        .send()
        .map_err(|e| ApiError::BadRequest(format!("cannot reach {}: {e}", target.host)))?;
    let status = resp.status();
    let text = resp.text().unwrap_or_default();
    if !status.is_success() {
        let message = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| {
                v["message"]
                    .as_str()
                    .or(v["error"].as_str())
                    .map(str::to_owned)
            })
            .unwrap_or(text);
        return Err(ApiError::BadRequest(format!("{status}: {message}")));
    }
    Ok(text)
}

pub(crate) fn bucket(target: &Target, action: BucketAction) -> Result<(), ApiError> {
    match action {
        BucketAction::List => call(target, reqwest::Method::GET, "/api/v2/buckets", None),
        BucketAction::Create { name, retention } => {
            let rules = match retention {
                Some(r) => {
                    let ns = influxql::parse_duration(&r)
                        .map_err(|_| {
                            ApiError::BadRequest(format!("invalid retention {r:?} (e.g. 30d, 12h)"))
                        })?
                        .0;
                    json!([{ "type": "expire", "everySeconds": ns / 1_000_000_000 }])
                }
                None => json!([]),
            };
            call(
                target,
                reqwest::Method::POST,
                "/api/v2/buckets",
                Some(json!({ "name": name, "retentionRules": rules })),
            )
        }
        BucketAction::Delete { id } => call(
            target,
            reqwest::Method::DELETE,
            &format!("/api/v2/buckets/{id}"),
            None,
        ),
    }
}

pub(crate) fn dbrp(target: &Target, action: DbrpAction) -> Result<(), ApiError> {
    match action {
        DbrpAction::List => call(target, reqwest::Method::GET, "/api/v2/dbrps", None),
        DbrpAction::Create {
            db,
            rp,
            bucket_id,
            default,
        } => call(
            target,
            reqwest::Method::POST,
            "/api/v2/dbrps",
            Some(
                json!({ "database": db, "retention_policy": rp, "bucketID": bucket_id, "default": default }),
            ),
        ),
        DbrpAction::Delete { id } => call(
            target,
            reqwest::Method::DELETE,
            &format!("/api/v2/dbrps/{id}"),
            None,
        ),
    }
}

pub(crate) fn token(target: &Target, action: TokenAction) -> Result<(), ApiError> {
    match action {
        TokenAction::List => call(target, reqwest::Method::GET, "/api/v2/authorizations", None),
        TokenAction::Create {
            description,
            operator,
            write,
            read,
        } => {
            let perm = |action: &str, id: &String| json!({ "action": action, "resource": { "type": "buckets", "id": id } });
            let permissions: Vec<Value> = write
                .iter()
                .map(|id| perm("write", id))
                .chain(read.iter().map(|id| perm("read", id)))
                .collect();
            call(
                target,
                reqwest::Method::POST,
                "/api/v2/authorizations",
                Some(
                    json!({ "description": description, "operator": operator, "permissions": permissions }),
                ),
            )
        }
        TokenAction::Delete { id } => call(
            target,
            reqwest::Method::DELETE,
            &format!("/api/v2/authorizations/{id}"),
            None,
        ),
    }
}
