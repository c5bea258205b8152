//! The InfluxQL statements v1 clients send before writing — `CREATE DATABASE`, `DROP DATABASE`,
//! `SHOW DATABASES`, `CREATE|ALTER|DROP RETENTION POLICY`, `SHOW RETENTION POLICIES` — parsed and
//! executed as bucket and DBRP operations. A database + retention policy is the bucket `db/rp`
//! with an explicit mapping; the retention policy's duration is the bucket's retention.
//!
//! Anything else is an error for that statement only (1.x answers 200 with a per-statement
//! error; so do we).
//!
//! Self-contained on purpose (it uses `catalog`, never another `server` module), so a real
//! InfluxQL parser can replace it without touching the handlers.

mod duration;
mod execute;
mod parse;

pub(crate) use duration::parse_duration;
pub(crate) use execute::execute;
pub(crate) use parse::{parse_query, Statement};
