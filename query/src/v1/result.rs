//! 1.x's answer model: each statement gives series (a name, the tags it is grouped by, columns
//! and rows) or an error of its own; the HTTP layer renders them (JSON, CSV, chunks) and the
//! times in them (RFC3339 or an `epoch` unit).

/// One value of a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// No value (a fill, a missing field).
    Null,
    /// A signed integer.
    Integer(i64),
    /// An unsigned integer.
    Unsigned(u64),
    /// A float.
    Float(f64),
    /// A string.
    String(String),
    /// A boolean.
    Boolean(bool),
    /// A timestamp (ns since the epoch, UTC): rendered as the request's `epoch` asks.
    Time(i64),
    /// A timestamp shown on a zone's clock (`tz('…')`): ns since the epoch and the zone's
    /// offset east of UTC at that instant, in seconds.
    ZonedTime(i64, i32),
}

/// One series of a statement's answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// The measurement (or `databases`, `measurements`, …); `None` where 1.x gives none.
    pub name: Option<String>,
    /// The tags the rows are grouped by (empty: not grouped), in key order.
    pub tags: Vec<(String, String)>,
    /// Column names.
    pub columns: Vec<String>,
    /// Rows, each as long as `columns`.
    pub values: Vec<Vec<Value>>,
}

impl Series {
    /// A series of `name` with `columns` and no rows yet.
    pub fn new(name: Option<&str>, columns: &[&str]) -> Series {
        Series {
            name: name.map(str::to_owned),
            tags: Vec::new(),
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            values: Vec::new(),
        }
    }
}

/// One statement's answer: its series (none: an empty result), or its error text.
pub type StatementResult = std::result::Result<Vec<Series>, String>;
