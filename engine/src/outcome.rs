//! What a write did: points written, and why each rejected one was not.

use std::fmt;

use catalog::FieldType;
use lp::{LineError, ParseOptions, Parser, Precision};

use crate::EngineConfig;

/// Why one point was not written. Not `#[non_exhaustive]`: the server's metrics match it
/// exhaustively, so a new reason must be given a metric label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RejectReason {
    /// The line did not parse.
    Parse(lp::ErrorKind),
    /// A field's type differs from the type the measurement already has for it.
    FieldTypeConflict {
        /// Field name.
        field: String,
        /// Measurement name.
        measurement: String,
        /// Type in this point.
        got: FieldType,
        /// Type already recorded.
        existing: FieldType,
    },
    /// A tag uses the name of an existing field, or a field the name of an existing tag.
    ColumnKindConflict {
        /// Column name.
        name: String,
        /// Measurement name.
        measurement: String,
        /// What the column already is: `tag` or `field`.
        existing: &'static str,
    },
    /// The point is older than the bucket's retention period allows.
    BeyondRetention,
    /// `time` is reserved for the timestamp.
    ReservedName {
        /// Measurement name.
        measurement: String,
        /// Whether a tag (else a field) used the name.
        tag: bool,
    },
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RejectReason::Parse(kind) => write!(f, "{kind}"),
            RejectReason::FieldTypeConflict {
                field,
                measurement,
                got,
                existing,
            } => write!(
                f,
                "field type conflict: input field \"{field}\" on measurement \"{measurement}\" is type {}, already exists as type {}",
                got.name(),
                existing.name()
            ),
            RejectReason::ColumnKindConflict {
                name,
                measurement,
                existing,
            } => write!(
                f,
                "column conflict: \"{name}\" on measurement \"{measurement}\" already exists as a {existing}"
            ),
            RejectReason::BeyondRetention => f.write_str("points beyond retention policy"),
            RejectReason::ReservedName { measurement, tag } => {
                if *tag {
                    write!(f, "invalid tag key: input tag \"time\" on measurement \"{measurement}\" is invalid")
                } else {
                    write!(f, "invalid field name: input field \"time\" on measurement \"{measurement}\" is invalid")
                }
            }
        }
    }
}

/// A point that was not written, for the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// 1-based physical line number in the body.
    pub line: usize,
    /// 1-based byte column, when the problem has a position.
    pub column: Option<usize>,
    /// Why.
    pub reason: RejectReason,
    /// The line, truncated for display.
    pub text: String,
}

/// What a write did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteOutcome {
    /// Points written.
    pub written: usize,
    /// The first [`REJECTIONS_KEPT`] rejected points, in body order.
    pub rejected: Vec<Rejection>,
    /// All rejected points.
    pub rejected_total: usize,
}

/// The outcome of a body in which no line parses (`None` if at least one does): lets a caller
/// refuse such a request before it changes anything, e.g. before creating a bucket for it.
pub fn unparseable(
    body: &[u8],
    precision: Precision,
    limits: &EngineConfig,
) -> Option<WriteOutcome> {
    let mut outcome = WriteOutcome::default();
    let opts = ParseOptions {
        precision,
        max_string_bytes: limits.max_string_bytes,
        max_line_bytes: limits.max_line_bytes,
        max_key_bytes: lp::MAX_KEY_BYTES,
    };
    for line in Parser::new(body, opts) {
        match line {
            Ok(_) => return None,
            Err(e) => outcome.reject_parse(body, &e),
        }
    }
    Some(outcome).filter(|o| o.rejected_total > 0)
}

/// How many rejections a [`WriteOutcome`] details (the count covers all).
pub const REJECTIONS_KEPT: usize = 100;

impl WriteOutcome {
    pub(crate) fn reject(
        &mut self,
        body: &[u8],
        err_line: usize,
        column: Option<usize>,
        span: std::ops::Range<usize>,
        reason: RejectReason,
    ) {
        self.rejected_total += 1;
        if self.rejected.len() < REJECTIONS_KEPT {
            let text = LineError {
                line: err_line,
                column: 0,
                kind: lp::ErrorKind::InvalidPoint,
                span,
            }
            .excerpt(body)
            .into_owned();
            self.rejected.push(Rejection {
                line: err_line,
                column,
                reason,
                text,
            });
        }
    }

    pub(crate) fn reject_parse(&mut self, body: &[u8], e: &LineError) {
        self.reject(
            body,
            e.line,
            Some(e.column),
            e.span.clone(),
            RejectReason::Parse(e.kind),
        );
    }
}
