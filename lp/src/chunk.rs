//! Cutting a body into runs of whole lines that separate parsers can take on at once.
//!
//! A cut must fall where one parser over the whole body would start a line, and the parser of
//! the part after it must know that line's number. A newline ends a line everywhere except
//! inside a string field value, which may hold newlines; telling an opening quote from a quote
//! in a key or tag value (where it is an ordinary character) needs the parse itself. So a body
//! is only cut where no `"` comes before the cut: then no string can be open there. Bodies with
//! string fields in their first part are parsed whole, as before.

use std::ops::Range;

use memchr::memchr2_iter;

use crate::{ParseOptions, Parser};

/// A run of whole lines of a body (see [`chunks`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// Byte range in the body; starts at a line start, ends after a line terminator (or at the
    /// end of the body).
    pub range: Range<usize>,
    /// Physical line number (1-based) of the chunk's first byte.
    pub first_line: usize,
}

impl Chunk {
    /// A parser over this chunk of `body`: spans, line numbers and errors are the ones a parser
    /// over the whole body gives for the same lines.
    pub fn parser<'a>(&self, body: &'a [u8], opts: ParseOptions) -> Parser<'a> {
        Parser::over_chunk(body, self.range.clone(), self.first_line, opts)
    }
}

/// Cuts `body` into at most `max` chunks, each at least `min_bytes` of an even share, cutting
/// at the first line start past each share. The chunks cover the body in order. One chunk (the
/// whole body) when the body is too small to cut, or when a `"` comes before a cut (see the
/// module docs).
pub fn chunks(body: &[u8], max: usize, min_bytes: usize) -> Vec<Chunk> {
    let whole = vec![Chunk {
        range: 0..body.len(),
        first_line: 1,
    }];
    let parts = max.min(body.len() / min_bytes.max(1)).max(1);
    if parts < 2 {
        return whole;
    }
    let share = body.len() / parts;
    let mut out = Vec::with_capacity(parts);
    let mut start = 0;
    let mut first_line = 1;
    // Line number of the byte after the last newline seen.
    let mut line = 1;
    for i in memchr2_iter(b'\n', b'"', body) {
        if out.len() + 1 == parts {
            break;
        }
        if body.get(i) == Some(&b'"') {
            return whole;
        }
        line += 1;
        if i + 1 >= start + share && i + 1 < body.len() {
            out.push(Chunk {
                range: start..i + 1,
                first_line,
            });
            start = i + 1;
            first_line = line;
        }
    }
    if out.is_empty() {
        return whole;
    }
    out.push(Chunk {
        range: start..body.len(),
        first_line,
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranges(body: &[u8], max: usize, min: usize) -> Vec<(Range<usize>, usize)> {
        chunks(body, max, min)
            .into_iter()
            .map(|c| (c.range, c.first_line))
            .collect()
    }

    #[test]
    fn cuts_at_the_first_line_start_past_each_share() {
        let body = b"m f=1\nm f=2\nm f=3\nm f=4\n";
        assert_eq!(ranges(body, 2, 1), vec![(0..12, 1), (12..24, 3)]);
        assert_eq!(
            ranges(body, 4, 1),
            vec![(0..6, 1), (6..12, 2), (12..18, 3), (18..24, 4)]
        );
        // Blank lines and CRLF count as lines.
        assert_eq!(
            ranges(b"m f=1\r\n\nm f=2\nm f=3\n", 2, 1),
            vec![(0..14, 1), (14..20, 4)]
        );
    }

    #[test]
    fn small_bodies_and_single_lines_are_not_cut() {
        let body = b"m f=1\nm f=2\n";
        assert_eq!(ranges(body, 2, 64), vec![(0..12, 1)]);
        assert_eq!(ranges(body, 1, 1), vec![(0..12, 1)]);
        assert_eq!(ranges(b"m f=1 1\n", 4, 1), vec![(0..8, 1)]);
        assert_eq!(ranges(b"", 4, 1), vec![(0..0, 1)]);
    }

    #[test]
    fn a_quote_before_a_cut_keeps_the_body_whole() {
        // The string holds a newline: a cut after it would start inside the string.
        let body = b"m s=\"a\nb\"\nm f=2\nm f=3\nm f=4\n";
        assert_eq!(ranges(body, 2, 1), vec![(0..body.len(), 1)]);
        // A quote after the last cut cannot be open at any cut.
        let body = b"m f=1\nm f=2\nm s=\"a\nb\"\n";
        assert_eq!(ranges(body, 2, 1), vec![(0..12, 1), (12..body.len(), 3)]);
    }
}
