//! Quoting identifiers and strings so printed InfluxQL scans back to the same names and values.

use crate::scanner::{is_ident_char, is_ident_first_char};
use crate::token::{lookup, Tok};

/// Whether `ident` must be double-quoted: a keyword, or anything but `[A-Za-z_][A-Za-z0-9_]*`.
pub fn ident_needs_quotes(ident: &str) -> bool {
    if lookup(ident) != Tok::Ident {
        return true;
    }
    ident.chars().enumerate().any(|(i, c)| {
        if i == 0 {
            !is_ident_first_char(c)
        } else {
            !is_ident_char(c)
        }
    })
}

fn escape_into(out: &mut String, s: &str, quote: char) {
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\\' => out.push_str("\\\\"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
}

/// `ident` as it must be written: bare when it can be, else `"…"` with `\"`, `\\`, `\n`; an
/// empty name is always quoted.
pub fn quote_ident(ident: &str) -> String {
    if !ident.is_empty() && !ident_needs_quotes(ident) {
        return ident.to_string();
    }
    let mut out = String::with_capacity(ident.len() + 2);
    out.push('"');
    escape_into(&mut out, ident, '"');
    out.push('"');
    out
}

/// A string literal: `'…'` with `\'`, `\\` and `\n` escaped.
pub fn quote_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    escape_into(&mut out, s, '\'');
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote_ident("cpu"), "cpu");
        assert_eq!(quote_ident("_a1"), "_a1");
        assert_eq!(quote_ident("select"), "\"select\"");
        assert_eq!(quote_ident("a b"), "\"a b\"");
        assert_eq!(quote_ident("1a"), "\"1a\"");
        assert_eq!(quote_ident(""), "\"\"");
        assert_eq!(quote_ident("a\"b\n"), r#""a\"b\n""#);
        assert_eq!(quote_string("it's\\"), r"'it\'s\\'");
    }
}
