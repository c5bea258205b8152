//! Who is calling. Token sources, all equivalent: `Authorization: Token <t>`,
//! `Authorization: Bearer <t>`, `Authorization: Basic base64(<any user>:<t>)`, and the `p` query
//! (or form) parameter with or without `u`.

use actix_web::http::header::AUTHORIZATION;
use actix_web::{web, HttpRequest};
use base64::Engine as _;
use catalog::{BucketId, Catalog, Token};
use serde::Deserialize;

use crate::error::ApiError;

/// The authenticated caller.
#[derive(Debug, Clone)]
pub(crate) enum Caller {
    /// Auth is off (`--without-auth`): may do everything.
    Unrestricted,
    /// A valid token.
    Token(Token),
}

impl Caller {
    pub(crate) fn is_operator(&self) -> bool {
        match self {
            Caller::Unrestricted => true,
            Caller::Token(t) => t.is_operator(),
        }
    }

    pub(crate) fn can_write(&self, bucket: BucketId) -> bool {
        match self {
            Caller::Unrestricted => true,
            Caller::Token(t) => t.can_write(bucket),
        }
    }

    pub(crate) fn can_read(&self, bucket: BucketId) -> bool {
        match self {
            Caller::Unrestricted => true,
            Caller::Token(t) => t.can_read(bucket),
        }
    }
}

#[derive(Debug, Deserialize)]
struct CredentialParams {
    p: Option<String>,
}

/// The secret the request presents, if any. `form` is a urlencoded body (for `/query`).
pub(crate) fn presented(req: &HttpRequest, form: Option<&[u8]>) -> Option<String> {
    if let Some(value) = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let value = value.trim();
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        let rest = rest.trim();
        if scheme.eq_ignore_ascii_case("token") || scheme.eq_ignore_ascii_case("bearer") {
            return Some(rest.to_owned()).filter(|t| !t.is_empty());
        }
        if scheme.eq_ignore_ascii_case("basic") {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(rest)
                .ok()?;
            let text = String::from_utf8(decoded).ok()?;
            let password = text.split_once(':').map_or(text.as_str(), |(_, p)| p);
            return Some(password.to_owned()).filter(|t| !t.is_empty());
        }
    }
    let from_query = web::Query::<CredentialParams>::from_query(req.query_string())
        .ok()
        .and_then(|q| q.into_inner().p);
    let from_form = form.and_then(serde_urlencoded_form).and_then(|q| q.p);
    from_query.or(from_form).filter(|t| !t.is_empty())
}

fn serde_urlencoded_form(body: &[u8]) -> Option<CredentialParams> {
    web::Query::<CredentialParams>::from_query(std::str::from_utf8(body).ok()?)
        .ok()
        .map(web::Query::into_inner)
}

/// Authenticates a request (not `/ping` or `/health`).
pub(crate) fn authenticate(
    req: &HttpRequest,
    catalog: &Catalog,
    auth_enabled: bool,
    form: Option<&[u8]>,
) -> Result<Caller, ApiError> {
    if !auth_enabled {
        return Ok(Caller::Unrestricted);
    }
    let secret = presented(req, form).ok_or(ApiError::MissingCredentials { hint: None })?;
    catalog
        .authenticate(&secret)
        .map(Caller::Token)
        .ok_or(ApiError::AuthFailed)
}

/// The hint for a request without credentials whose body starts with `u=` or `p=`: the
/// documented query-string-auth curl example (`--data-urlencode "u=…"`) puts the credentials
/// into the body, in front of the line protocol.
pub(crate) fn body_credentials_hint(body: &[u8]) -> Option<String> {
    (body.starts_with(b"u=") || body.starts_with(b"p=")).then(|| {
        ": the request body starts with u=/p=, so the credentials were sent as part of the body \
         (curl --data-urlencode does that); put u and p in the URL (/write?db=...&u=...&p=TOKEN) \
         or send the header 'Authorization: Token TOKEN'"
            .to_owned()
    })
}
