//! Naming rules for databases, retention policies and buckets.

use crate::{CatalogError, Result};

/// Checks a bucket name: one part, or `db/rp` (exactly one `/`).
pub fn validate_bucket_name(name: &str) -> Result<()> {
    let mut parts = name.splitn(2, '/');
    let first = parts.next().unwrap_or_default();
    validate_part(first)?;
    if let Some(second) = parts.next() {
        validate_part(second).map_err(|e| match e {
            CatalogError::InvalidName { rule, .. } => CatalogError::InvalidName {
                name: name.to_owned(),
                rule: if rule == "must not contain '/'" {
                    "must contain at most one '/'"
                } else {
                    rule
                },
            },
            other => other,
        })?;
    }
    Ok(())
}

/// Checks one part of a v1 name (database or retention policy).
pub fn validate_part(part: &str) -> Result<()> {
    let rule = if part.is_empty() {
        "must not be empty"
    } else if part.len() > 255 {
        "must be at most 255 bytes"
    } else if part.contains('/') {
        "must not contain '/'"
    } else if part.chars().any(char::is_control) {
        "must not contain control characters"
    } else {
        return Ok(());
    };
    Err(CatalogError::InvalidName {
        name: part.to_owned(),
        rule,
    })
}
