//! `influxql` owns InfluxQL 1.x: it turns the statements v1 clients send (node-influx,
//! influxdb-python, Grafana, Chronograf, TSBS) into an AST a planner can consume, prints that AST
//! back as InfluxQL, and fails with InfluxDB 1.8's error texts to the character.
//!
//! It is not: a planner or executor, a time-zone database (`tz('…')` is kept as written), a regex
//! engine (regexes are kept as source text), or anything that knows about HTTP or storage. It
//! depends on no other crate.
//!
//! # Overview
//! - [`parse_query`] parses `;`-separated statements into [`Statement`]s, keeping `$name`
//!   placeholders as [`Expr::BoundParameter`]; [`bind_parameters`] fills them in later.
//! - [`parse_query_with_params`] binds while scanning, exactly as 1.x's `/query?params=` does
//!   (identifiers in `FROM $m`, integers in `LIMIT $n`). The HTTP layer uses this one.
//! - Every AST type implements `Display`; `parse(print(ast)) == ast` for every AST the parser
//!   produces from text.
//! - [`ParseError`]'s `Display` is 1.x's message (`found X, expected Y at line L, char C`); the
//!   HTTP layer prefixes `error parsing query: `.
//! - Nesting is bounded by [`MAX_DEPTH`] and expression trees by [`MAX_TREE_DEPTH`], so no
//!   input overflows the stack.
//!
//! The grammar and messages are those of the Go module `github.com/influxdata/influxql` at the
//! commit InfluxDB 1.8 pins (`65d3ef7`), including its quirks where clients could notice them.
//!
//! ```
//! use influxql::{parse_query, Expr, Statement};
//!
//! let stmts = parse_query(r#"SELECT mean("value") FROM "cpu" WHERE time > now() - 1h GROUP BY time(1m)"#).unwrap();
//! let Statement::Select(s) = &stmts[0] else { panic!() };
//! assert_eq!(s.fields[0].expr, Expr::call("mean", vec![Expr::var("value")]));
//! assert_eq!(stmts[0].to_string(), "SELECT mean(value) FROM cpu WHERE time > now() - 1h GROUP BY time(1m)");
//!
//! let err = parse_query("SELECT * FROM").unwrap_err();
//! assert_eq!(err.to_string(), "found EOF, expected identifier at line 1, char 15");
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod ast;
mod duration;
mod error;
mod expr;
mod params;
mod parser;
mod print_expr;
mod print_stmt;
mod quote;
mod reader;
mod scanner;
#[cfg(any(test, feature = "test-helpers"))]
pub mod test_helpers;
mod token;

pub use ast::{
    AlterRetentionPolicy, CardinalityOf, CreateContinuousQuery, CreateDatabase,
    CreateRetentionPolicy, CreateSubscription, Dimension, Field, Fill, Order, Privilege,
    RetentionPolicySpec, SelectStatement, SeriesFilter, ShowCardinality, ShowFieldKeys,
    ShowMeasurements, ShowSeries, ShowTagKeys, ShowTagValues, Source, Statement, TagKeyMatch,
};
pub use duration::{parse_duration, Duration, DurationError};
pub use error::ParseError;
pub use expr::{
    BinaryOp, DataType, Expr, Measurement, MeasurementName, Regex, Target, WildcardKind,
};
pub use params::{bind_parameters, ParamValue, Params};
pub use parser::{MAX_DEPTH, MAX_TREE_DEPTH};
pub use quote::{ident_needs_quotes, quote_ident, quote_string};
pub use token::Pos;

/// Parses `;`-separated statements; empty statements are skipped. `$name` placeholders in
/// expressions are kept as [`Expr::BoundParameter`] (1.x, given no parameters, would fail with
/// `missing parameter: name`; call [`bind_parameters`] or use [`parse_query_with_params`]).
pub fn parse_query(query: &str) -> Result<Vec<Statement>, ParseError> {
    parser::Parser::new(query, None).parse_query()
}

/// Parses with 1.x's parameter binding: each `$name` is replaced, as it is scanned, by the token
/// its value stands for; a name with no value fails with `missing parameter: name`.
pub fn parse_query_with_params(query: &str, params: &Params) -> Result<Vec<Statement>, ParseError> {
    parser::Parser::new(query, Some(params)).parse_query()
}

/// Parses exactly one statement (trailing input after it is left unread, as 1.x's
/// `ParseStatement`).
pub fn parse_statement(statement: &str) -> Result<Statement, ParseError> {
    parser::Parser::new(statement, None).parse_statement()
}
