//! `lp` owns the InfluxDB line protocol: parsing a request body into borrowed points, and encoding
//! points back into line protocol.
//!
//! It is not: a validator against any schema, a timestamp source (lines without a timestamp come
//! back with `timestamp: None`; the caller decides the receive time), or anything that knows about
//! HTTP, Arrow or storage. It depends on nothing but `memchr`.
//!
//! # Overview
//! - [`Parser`] walks a whole body (`&[u8]`, any bytes) and yields one [`Line`] or one
//!   [`LineError`] per non-blank, non-comment physical line. Errors are data: the parser never
//!   stops at a bad line, so a caller can write the good lines (1.x "partial write" semantics).
//! - [`Parser::next_into`] refills a caller-owned [`Line`], reusing its tag and field vectors, so a
//!   hot loop allocates nothing per line. The [`Iterator`] impl is the convenient, allocating form.
//! - Strings are [`Cow`]: borrowed from the body unless they contained escapes.
//! - [`chunks`] cuts a large body into runs of whole lines that parsers on several threads can
//!   take on at once, with the same spans, line numbers and errors as one parser.
//! - [`encode_line`] writes a [`Line`] back, escaping what must be escaped; `parse(encode(x)) == x`.
//!
//! The grammar is InfluxDB 1.x's (`models/points.go`), including its quirks where clients rely on
//! them; see `ARCHITECTURE.md` for the few places we are deliberately stricter.
//!
//! ```
//! use lp::{FieldValue, ParseOptions, Parser};
//!
//! let body = b"home,room=kitchen temp=72 1463683075\nbad line\n";
//! let opts = ParseOptions { precision: lp::Precision::Seconds, ..ParseOptions::default() };
//! let results: Vec<_> = Parser::new(body, opts).collect();
//! let line = results[0].as_ref().unwrap();
//! assert_eq!(line.measurement, "home");
//! assert_eq!(line.tags[0].value, "kitchen");
//! assert_eq!(line.fields[0].value, FieldValue::F64(72.0));
//! assert_eq!(line.timestamp, Some(1_463_683_075_000_000_000));
//! let err = results[1].as_ref().unwrap_err();
//! assert_eq!(err.line, 2);
//! assert_eq!(err.kind.to_string(), "invalid field format");
//! ```
#![deny(missing_docs)]

mod chunk;
mod encode;
mod error;
mod parse;
mod precision;
mod scan;
#[cfg(any(test, feature = "test-helpers"))]
pub mod test_helpers;

use std::borrow::Cow;
use std::ops::Range;

pub use chunk::{chunks, Chunk};
pub use encode::{encode_line, EncodeError};
pub use error::{ErrorKind, LineError, EXCERPT_BYTES};
pub use parse::{ParseOptions, Parser};
pub use precision::{Precision, UnknownPrecision, MAX_NANOS, MIN_NANOS};

/// The largest string field value accepted by default, as InfluxDB 1.x (64 KiB).
pub const DEFAULT_MAX_STRING_BYTES: usize = 64 * 1024;

/// The longest series key (measurement and tags as written) InfluxDB 1.x accepts: 65,535
/// bytes (`models.MaxKeyLength`).
pub const MAX_KEY_BYTES: usize = 65_535;

/// One tag: `key=value`, both unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag<'a> {
    /// Tag key.
    pub key: Cow<'a, str>,
    /// Tag value (never empty).
    pub value: Cow<'a, str>,
}

/// A field value in one of line protocol's five types.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue<'a> {
    /// `1`, `1.5`, `-2e3` (never NaN or infinite).
    F64(f64),
    /// `1i`
    I64(i64),
    /// `1u`
    U64(u64),
    /// `"text"`, unescaped.
    String(Cow<'a, str>),
    /// `t`, `true`, `F`, …
    Bool(bool),
}

impl FieldValue<'_> {
    /// The type's name as InfluxDB 1.x spells it in error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            FieldValue::F64(_) => "float",
            FieldValue::I64(_) => "integer",
            FieldValue::U64(_) => "unsigned",
            FieldValue::String(_) => "string",
            FieldValue::Bool(_) => "boolean",
        }
    }
}

/// One field: `key=value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Field<'a> {
    /// Field key, unescaped.
    pub key: Cow<'a, str>,
    /// Field value.
    pub value: FieldValue<'a>,
}

/// One parsed point.
///
/// Tags are sorted by key and unique; field keys are unique (a repeated key keeps its last value,
/// as 1.x does).
#[derive(Debug, Clone, Default)]
pub struct Line<'a> {
    /// Measurement name, unescaped.
    pub measurement: Cow<'a, str>,
    /// Tags, sorted by key.
    pub tags: Vec<Tag<'a>>,
    /// Fields, at least one when produced by the parser.
    pub fields: Vec<Field<'a>>,
    /// Timestamp in nanoseconds since the epoch (already scaled from the request's precision), or
    /// `None` when the line had none.
    pub timestamp: Option<i64>,
    /// 1-based physical line number of the line's first byte in the body.
    pub line_no: usize,
    /// Byte range of the line in the body, without its line terminator.
    pub span: Range<usize>,
    /// Strings of earlier lines' unescaped values, reused by [`Parser::next_into`] so that
    /// escapes cost no allocation once warm. Not part of the point.
    pub(crate) spare: Spare,
}

/// Recycled `String`s for unescaped values, and whether any is out in the current line (if
/// none is, clearing the line needs no walk over its strings).
#[derive(Debug, Clone, Default)]
pub(crate) struct Spare {
    pub(crate) strings: Vec<String>,
    pub(crate) lent: bool,
}

impl Spare {
    /// An empty string to unescape into, reusing an earlier line's allocation when there is one.
    pub(crate) fn take(&mut self) -> String {
        self.lent = true;
        let mut s = self.strings.pop().unwrap_or_default();
        // A recycled string still holds the earlier line's text.
        s.clear();
        s
    }
}

impl PartialEq for Line<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.measurement == other.measurement
            && self.tags == other.tags
            && self.fields == other.fields
            && self.timestamp == other.timestamp
            && self.line_no == other.line_no
            && self.span == other.span
    }
}

impl<'a> Line<'a> {
    /// A line with a measurement and nothing else; for building points in tests and generators.
    pub fn new(measurement: impl Into<Cow<'a, str>>) -> Self {
        Line {
            measurement: measurement.into(),
            ..Line::default()
        }
    }

    /// Adds a tag (builder style). Tags are not re-sorted here; [`Line::sort_tags`] does that.
    pub fn tag(mut self, key: impl Into<Cow<'a, str>>, value: impl Into<Cow<'a, str>>) -> Self {
        self.tags.push(Tag {
            key: key.into(),
            value: value.into(),
        });
        self
    }

    /// Adds a field (builder style).
    pub fn field(mut self, key: impl Into<Cow<'a, str>>, value: FieldValue<'a>) -> Self {
        self.fields.push(Field {
            key: key.into(),
            value,
        });
        self
    }

    /// Sets the timestamp in nanoseconds (builder style).
    pub fn at(mut self, timestamp_ns: i64) -> Self {
        self.timestamp = Some(timestamp_ns);
        self
    }

    /// Sorts tags by key, the order the parser produces.
    pub fn sort_tags(&mut self) {
        self.tags.sort_by(|a, b| a.key.cmp(&b.key));
    }
}
