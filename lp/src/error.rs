use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

/// Why a line was rejected. The `Display` texts are InfluxDB 1.x's where 1.x has one, so clients
/// that match on them keep working.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The line starts with `,`.
    MissingMeasurement,
    /// `cpu,=a` or `cpu,,`.
    MissingTagKey,
    /// `cpu,host` or `cpu,host= v=1`.
    MissingTagValue,
    /// An unescaped `=` inside a tag value.
    InvalidTagFormat,
    /// The same tag key twice.
    DuplicateTags,
    /// No field section.
    MissingFields,
    /// `cpu =1` or `cpu a=1,=2`.
    MissingFieldKey,
    /// `cpu a=` or `cpu a=,b=1`.
    MissingFieldValue,
    /// A field without `=`, or text after a closing quote.
    InvalidFieldFormat,
    /// A string field value without its closing quote.
    UnbalancedQuotes,
    /// A malformed number, NaN or infinity.
    InvalidNumber,
    /// An integer (`i`) outside i64.
    IntegerOutOfRange,
    /// An unsigned (`u`) outside u64.
    UnsignedOutOfRange,
    /// A float that overflows f64.
    InvalidFloat,
    /// Not one of `t T true True TRUE f F false False FALSE`.
    InvalidBoolean,
    /// A value that starts like no type does (`cpu a=x`).
    InvalidFieldValue,
    /// A string field value over the configured limit.
    StringTooLong {
        /// The limit in bytes.
        limit: usize,
    },
    /// A line over the configured limit.
    LineTooLong {
        /// The limit in bytes.
        limit: usize,
    },
    /// A series key (measurement and tags, as written) over the limit.
    KeyTooLong {
        /// The key's length in bytes.
        len: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// A timestamp that is not an integer.
    BadTimestamp,
    /// A timestamp that, scaled to nanoseconds, leaves 1.x's range.
    TimestampOutOfRange,
    /// Something other than spaces after the timestamp.
    InvalidPoint,
    /// Bytes that are not UTF-8.
    InvalidUtf8,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            ErrorKind::MissingMeasurement => "missing measurement",
            ErrorKind::MissingTagKey => "missing tag key",
            ErrorKind::MissingTagValue => "missing tag value",
            ErrorKind::InvalidTagFormat => "invalid tag format",
            ErrorKind::DuplicateTags => "duplicate tags",
            ErrorKind::MissingFields => "missing fields",
            ErrorKind::MissingFieldKey => "missing field key",
            ErrorKind::MissingFieldValue => "missing field value",
            ErrorKind::InvalidFieldFormat => "invalid field format",
            ErrorKind::UnbalancedQuotes => "unbalanced quotes",
            ErrorKind::InvalidNumber => "invalid number",
            ErrorKind::IntegerOutOfRange => "integer value out of range",
            ErrorKind::UnsignedOutOfRange => "unsigned value out of range",
            ErrorKind::InvalidFloat => "invalid float",
            ErrorKind::InvalidBoolean => "invalid boolean",
            ErrorKind::InvalidFieldValue => {
                "invalid field value (expected a number, a quoted string or a boolean)"
            }
            ErrorKind::StringTooLong { limit } => {
                return write!(f, "string field value longer than {limit} bytes")
            }
            ErrorKind::LineTooLong { limit } => return write!(f, "line longer than {limit} bytes"),
            ErrorKind::KeyTooLong { len, limit } => {
                return write!(f, "max key length exceeded: {len} > {limit}")
            }
            ErrorKind::BadTimestamp => "bad timestamp",
            ErrorKind::TimestampOutOfRange => "time outside range",
            ErrorKind::InvalidPoint => "point is invalid",
            ErrorKind::InvalidUtf8 => "invalid UTF-8",
        };
        f.write_str(s)
    }
}

/// A rejected line: where it is, why, and how to show it. Holds no copy of the body (a hostile body
/// of many bad lines costs no memory beyond the errors themselves).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// 1-based physical line number of the line's first byte (blank, comment and quoted-newline
    /// lines counted).
    pub line: usize,
    /// 1-based byte column within the line where the problem was found.
    pub column: usize,
    /// Why.
    pub kind: ErrorKind,
    /// Byte range of the whole rejected line in the body, without its terminator.
    pub span: Range<usize>,
}

/// How many bytes of a rejected line error messages show.
pub const EXCERPT_BYTES: usize = 64;

impl LineError {
    /// The rejected line as text for messages: lossy UTF-8, cut at [`EXCERPT_BYTES`] on a
    /// character boundary, with `…` when cut.
    pub fn excerpt<'b>(&self, body: &'b [u8]) -> Cow<'b, str> {
        let line = body.get(self.span.clone()).unwrap_or_default();
        if line.len() <= EXCERPT_BYTES {
            return String::from_utf8_lossy(line);
        }
        let mut cut = EXCERPT_BYTES;
        // Back off to a UTF-8 boundary: continuation bytes are 0b10xx_xxxx.
        while cut > 0 && line.get(cut).is_some_and(|b| b & 0xC0 == 0x80) {
            cut -= 1;
        }
        let mut s = String::from_utf8_lossy(line.get(..cut).unwrap_or_default()).into_owned();
        s.push('…');
        Cow::Owned(s)
    }
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (line {}, column {})",
            self.kind, self.line, self.column
        )
    }
}

impl std::error::Error for LineError {}
