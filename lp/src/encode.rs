//! Points → line protocol. The output parses back to the same [`Line`] (tags sorted).

use std::fmt;
use std::io::Write;

use crate::{FieldValue, Line};

/// A point that line protocol cannot express.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeError {
    /// Measurement, tag key/value or field key is empty.
    EmptyName,
    /// A point needs at least one field.
    NoFields,
    /// NaN and ±infinity have no line-protocol form.
    NonFiniteFloat,
    /// A name contains a newline, starts with a tab, ends with a backslash, has a backslash before
    /// an escapable character, or the measurement starts with `#` (the line would be a comment).
    /// InfluxDB 1.x has the same holes in its escaping.
    Unrepresentable(String),
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::EmptyName => f.write_str("empty measurement, tag or field name"),
            EncodeError::NoFields => f.write_str("a point needs at least one field"),
            EncodeError::NonFiniteFloat => f.write_str("NaN and infinity cannot be written"),
            EncodeError::Unrepresentable(s) => {
                write!(f, "{s:?} cannot be written in line protocol")
            }
        }
    }
}

impl std::error::Error for EncodeError {}

/// Appends `line` and a trailing `\n` to `out`. The timestamp, if any, is written as the integer it
/// holds: parse it back with [`crate::Precision::Nanoseconds`] to get the same value. On error
/// nothing is appended.
pub fn encode_line(out: &mut Vec<u8>, line: &Line<'_>) -> Result<(), EncodeError> {
    if line.fields.is_empty() {
        return Err(EncodeError::NoFields);
    }
    if line.measurement.starts_with('#') {
        return Err(EncodeError::Unrepresentable(line.measurement.to_string()));
    }
    let start = out.len();
    let result = encode_into(out, line);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

fn encode_into(out: &mut Vec<u8>, line: &Line<'_>) -> Result<(), EncodeError> {
    write_name(out, &line.measurement, b", ")?;
    for tag in &line.tags {
        out.push(b',');
        write_name(out, &tag.key, b", =")?;
        out.push(b'=');
        write_name(out, &tag.value, b", =")?;
    }
    for (i, field) in line.fields.iter().enumerate() {
        out.push(if i == 0 { b' ' } else { b',' });
        write_name(out, &field.key, b", =")?;
        out.push(b'=');
        write_value(out, &field.value)?;
    }
    if let Some(ts) = line.timestamp {
        out.push(b' ');
        out.extend_from_slice(ts.to_string().as_bytes());
    }
    out.push(b'\n');
    Ok(())
}

fn write_name(out: &mut Vec<u8>, name: &str, escape: &[u8]) -> Result<(), EncodeError> {
    let bytes = name.as_bytes();
    if bytes.is_empty() {
        return Err(EncodeError::EmptyName);
    }
    // A leading tab or NUL would be skipped as whitespace at the start of a line or field set.
    let unrepresentable = matches!(bytes.first(), Some(b'\t' | 0))
        || bytes.iter().enumerate().any(|(i, &b)| {
            b == b'\n'
                || b == b'\r'
                || (b == b'\\'
                    && bytes
                        .get(i + 1)
                        .is_none_or(|n| escape.contains(n) || *n == b'\\' || *n == b'='))
        });
    if unrepresentable {
        return Err(EncodeError::Unrepresentable(name.to_owned()));
    }
    for &b in bytes {
        if escape.contains(&b) {
            out.push(b'\\');
        }
        out.push(b);
    }
    Ok(())
}

fn write_value(out: &mut Vec<u8>, value: &FieldValue<'_>) -> Result<(), EncodeError> {
    match value {
        FieldValue::F64(v) => {
            if !v.is_finite() {
                return Err(EncodeError::NonFiniteFloat);
            }
            // Debug prints the shortest text that round-trips, with an exponent for very large
            // or small magnitudes (Display would print hundreds of digits).
            let _ = write!(out, "{v:?}");
        }
        FieldValue::I64(v) => {
            let _ = write!(out, "{v}i");
        }
        FieldValue::U64(v) => {
            let _ = write!(out, "{v}u");
        }
        FieldValue::Bool(v) => out.push(if *v { b't' } else { b'f' }),
        FieldValue::String(s) => {
            out.push(b'"');
            for &b in s.as_bytes() {
                if b == b'"' || b == b'\\' {
                    out.push(b'\\');
                }
                out.push(b);
            }
            out.push(b'"');
        }
    }
    Ok(())
}
