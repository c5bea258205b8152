//! The parser: one forward pass per line over bytes, producing borrowed strings.
//!
//! UTF-8 is checked once for the whole body up front (`std::str::from_utf8`, which is vectorised);
//! every span the parser hands out is then a sub-slice of that validated `&str` at ASCII delimiter
//! positions, so handing out a `&str` costs a bounds check, not another validation pass. Only a
//! body that contains invalid UTF-8 takes the slow path: the line holding the bad bytes is
//! rejected and validation resumes at the next line.

use std::borrow::Cow;

use std::cell::Cell;

use memchr::{memchr, memchr_iter};

use crate::scan::{digits as scan_digits, long_digits, nineteen_digits, short_number, Classifier};
use crate::{ErrorKind, Field, FieldValue, Line, LineError, Precision, Spare, Tag};

/// How to parse a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOptions {
    /// Unit of the timestamps in the body; they come out in nanoseconds.
    pub precision: Precision,
    /// Longest accepted string field value, in bytes as written (escapes included).
    pub max_string_bytes: usize,
    /// Longest accepted line, in bytes (without its terminator).
    pub max_line_bytes: usize,
    /// Longest accepted series key (measurement and tags as written, escapes included):
    /// [`crate::MAX_KEY_BYTES`], as 1.x, unless a caller re-reads lines it accepted earlier.
    pub max_key_bytes: usize,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            precision: Precision::Nanoseconds,
            max_string_bytes: crate::DEFAULT_MAX_STRING_BYTES,
            max_line_bytes: usize::MAX,
            max_key_bytes: crate::MAX_KEY_BYTES,
        }
    }
}

/// Parses a line-protocol body. See the crate docs.
#[derive(Debug, Clone)]
pub struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
    /// Physical line number of the byte at `pos`.
    line_no: usize,
    opts: ParseOptions,
    /// The longest valid UTF-8 run starting at `text_start` (a line start).
    text: &'a str,
    text_start: usize,
    /// The stop mask (`scan::stop_mask`) of the 64 bytes from `stops_at`, cached: one classification serves every
    /// token that ends in those bytes (a Telegraf line has ~30 tokens in ~260 bytes).
    stops: Cell<u64>,
    stops_at: Cell<usize>,
    classifier: Classifier,
}

/// An error kind and the absolute byte offset where it was found.
type PResult<T> = Result<T, (ErrorKind, usize)>;

/// Powers of ten that f64 represents exactly (the fast path of float parsing).
static POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

impl<'a> Parser<'a> {
    /// A parser over a whole body.
    pub fn new(input: &'a [u8], opts: ParseOptions) -> Self {
        let mut parser = Parser {
            input,
            pos: 0,
            line_no: 1,
            opts,
            text: "",
            text_start: 0,
            stops: Cell::new(0),
            stops_at: Cell::new(0),
            classifier: Classifier::detect(),
        };
        parser.revalidate(0);
        parser
    }

    /// A parser over the lines in `range` of `body` only, the first of them physical line
    /// `first_line` of the body: what [`crate::Chunk::parser`] builds. `range` must start at a
    /// line start outside any string (see [`crate::chunks`]); positions stay relative to `body`.
    pub(crate) fn over_chunk(
        body: &'a [u8],
        range: std::ops::Range<usize>,
        first_line: usize,
        opts: ParseOptions,
    ) -> Self {
        let end = range.end.min(body.len());
        let start = range.start.min(end);
        let mut parser = Parser {
            input: body.get(..end).unwrap_or_default(),
            pos: start,
            line_no: first_line,
            opts,
            text: "",
            text_start: start,
            stops: Cell::new(0),
            stops_at: Cell::new(0),
            classifier: Classifier::detect(),
        };
        parser.revalidate(start);
        parser
    }

    /// Parses the next line into `out`, reusing its vectors. Returns `None` at the end of the body,
    /// `Some(Err)` for a rejected line (parsing continues with the next line on the next call).
    pub fn next_into(&mut self, out: &mut Line<'a>) -> Option<Result<(), LineError>> {
        loop {
            let phys_start = self.pos;
            let mut ls = self.pos;
            while matches!(self.at(ls), Some(b' ' | b'\t' | 0)) {
                ls += 1;
            }
            match self.at(ls) {
                None => {
                    self.pos = self.input.len();
                    return None;
                }
                Some(b'\n') => {
                    self.pos = ls + 1;
                    self.line_no += 1;
                    continue;
                }
                Some(b'\r') if self.is_end(ls) => {
                    self.pos = self.next_line_start(ls);
                    self.line_no += 1;
                    continue;
                }
                Some(b'#') => {
                    let rest = self.input.get(ls..).unwrap_or_default();
                    self.pos = memchr(b'\n', rest).map_or(self.input.len(), |o| ls + o + 1);
                    self.line_no += 1;
                    continue;
                }
                Some(_) => {}
            }
            if ls >= self.valid_end() {
                self.revalidate(ls);
            }
            recycle(out);
            out.timestamp = None;
            out.line_no = self.line_no;
            return Some(match self.parse_line(ls, out) {
                Ok(end) if end.content_end - ls > self.opts.max_line_bytes => {
                    let limit = self.opts.max_line_bytes;
                    Err(self.reject(phys_start, ls, ErrorKind::LineTooLong { limit }, ls))
                }
                Ok(end) => {
                    out.span = ls..end.content_end;
                    self.pos = self.next_line_start(end.content_end);
                    self.line_no += 1 + end.extra_newlines;
                    Ok(())
                }
                Err((kind, at)) => Err(self.reject(phys_start, ls, kind, at)),
            });
        }
    }

    /// Builds the error for a line that failed at `at` and moves past the line.
    fn reject(&mut self, phys_start: usize, ls: usize, kind: ErrorKind, at: usize) -> LineError {
        let le = self.skip_line(ls);
        let content_end = if le > ls && self.at(le - 1) == Some(b'\r') {
            le - 1
        } else {
            le
        };
        // Bytes that are not UTF-8 explain any other failure on the line.
        let valid_end = self.valid_end();
        let (kind, at) = if (ls..le).contains(&valid_end) {
            (ErrorKind::InvalidUtf8, valid_end)
        } else {
            (kind, at)
        };
        let newlines = memchr_iter(b'\n', self.input.get(ls..le).unwrap_or_default()).count();
        let err = LineError {
            line: self.line_no,
            column: at.saturating_sub(phys_start) + 1,
            kind,
            span: ls..content_end,
        };
        self.pos = (le + 1).min(self.input.len());
        self.line_no += 1 + newlines;
        err
    }

    fn valid_end(&self) -> usize {
        self.text_start + self.text.len()
    }

    /// Finds the longest valid UTF-8 run starting at `from`.
    fn revalidate(&mut self, from: usize) {
        let rest = self.input.get(from..).unwrap_or_default();
        // Line protocol is nearly always ASCII: skip it in whole blocks, validate the rest.
        let ascii = self.classifier.ascii_prefix(rest);
        let tail = rest.get(ascii..).unwrap_or_default();
        let valid = match std::str::from_utf8(tail) {
            Ok(_) => rest.len(),
            Err(e) => ascii + e.valid_up_to(),
        };
        let valid = valid.min(rest.len());
        // SAFETY: `rest[..ascii]` is ASCII and `rest[ascii..valid]` is valid UTF-8 (checked just
        // above); an ASCII prefix ends at a char boundary, so together they are valid UTF-8.
        self.text = unsafe { std::str::from_utf8_unchecked(rest.get_unchecked(..valid)) };
        self.text_start = from;
    }

    #[inline(always)]
    fn at(&self, i: usize) -> Option<u8> {
        self.input.get(i).copied()
    }

    /// End of input, `\n`, or a `\r` that ends the line (`\r\n` or `\r` at the very end).
    #[inline(always)]
    fn is_end(&self, i: usize) -> bool {
        match self.at(i) {
            None | Some(b'\n') => true,
            Some(b'\r') => matches!(self.at(i + 1), None | Some(b'\n')),
            Some(_) => false,
        }
    }

    /// Given `i` at a line end (see [`Self::is_end`]), where the next line starts.
    fn next_line_start(&self, i: usize) -> usize {
        match self.at(i) {
            None => i,
            Some(b'\r') if self.at(i + 1) == Some(b'\n') => i + 2,
            Some(_) => i + 1,
        }
    }

    #[inline(always)]
    fn str_of(&self, a: usize, b: usize) -> PResult<&'a str> {
        // With wrapping offsets, these two tests are `text_start <= a <= b <= valid_end`.
        let rel_a = a.wrapping_sub(self.text_start);
        let rel_b = b.wrapping_sub(self.text_start);
        if rel_a > rel_b || rel_b > self.text.len() {
            return Err(self.str_error(a, b));
        }
        debug_assert!(self.text.is_char_boundary(rel_a) && self.text.is_char_boundary(rel_b));
        // SAFETY: the range is inside `text` (checked above). Both ends are char boundaries:
        // every caller passes a token start that follows an ASCII byte (a delimiter, quote,
        // whitespace or newline) or is a line start, and a token end that is an ASCII byte (the
        // delimiter, quote or non-digit that stopped the scan) or the end of `text`; in valid
        // UTF-8 a byte after an ASCII byte, and an ASCII byte itself, always start a char.
        // (The fuzz target runs with debug assertions, which check this.) It saves the two
        // boundary tests per token that `str::get` repeats.
        Ok(unsafe { self.text.get_unchecked(rel_a..rel_b) })
    }

    /// Why `a..b` is not text: it reaches past the valid UTF-8 (reported where that ends).
    #[cold]
    #[inline(never)]
    fn str_error(&self, a: usize, b: usize) -> (ErrorKind, usize) {
        if b > self.valid_end() {
            (ErrorKind::InvalidUtf8, self.valid_end().max(a))
        } else {
            (ErrorKind::InvalidUtf8, a)
        }
    }

    /// The first byte at or after `i` that is in `scan::IDENT_STOP`, or the end of input.
    #[inline(always)]
    fn next_stop(&self, i: usize) -> usize {
        let off = i.wrapping_sub(self.stops_at.get());
        if off < 64 {
            let m = self.stops.get() >> off;
            if m != 0 {
                return i + m.trailing_zeros() as usize;
            }
        }
        self.next_stop_refill(i)
    }

    #[inline(never)]
    fn next_stop_refill(&self, mut i: usize) -> usize {
        loop {
            let m = self.classifier.stop_mask(self.input, i);
            self.stops.set(m);
            self.stops_at.set(i);
            if m != 0 {
                return i + m.trailing_zeros() as usize;
            }
            i += 64;
        }
    }

    /// Scans an identifier from `start`: returns its end (the first unescaped delimiter) and
    /// its text, borrowed unless it held an escape, in which case it is unescaped while being
    /// scanned (into a recycled string). A measurement may contain `=`; keys and tag values
    /// may not.
    #[inline(always)]
    fn ident(
        &self,
        start: usize,
        measurement: bool,
        spare: &mut Spare,
    ) -> PResult<(usize, Cow<'a, str>)> {
        let mut i = start;
        loop {
            i = self.next_stop(i);
            match self.at(i) {
                Some(b'\\') => return self.ident_escaped(start, i, measurement, spare),
                Some(b'=') if measurement => i += 1,
                Some(b'\r') if !self.is_end(i) => i += 1,
                _ => return Ok((i, Cow::Borrowed(self.str_of(start, i)?))),
            }
        }
    }

    /// The rest of [`Self::ident`] from its first backslash (at `i`): unescapes while scanning.
    #[inline(never)]
    fn ident_escaped(
        &self,
        start: usize,
        mut i: usize,
        measurement: bool,
        spare: &mut Spare,
    ) -> PResult<(usize, Cow<'a, str>)> {
        let mut unescaped: Option<String> = None;
        let mut copied = start;
        loop {
            match self.at(i) {
                Some(b'\\') => match self.at(i + 1) {
                    // A newline is never escaped: it always ends the line.
                    None | Some(b'\n' | b'\r') => i += 1,
                    Some(c) => {
                        if is_ident_escape(c) {
                            let out = unescaped.get_or_insert_with(|| spare.take());
                            out.push_str(self.str_of(copied, i)?);
                            out.push(char::from(c));
                            copied = i + 2;
                        }
                        i += 2;
                    }
                },
                Some(b'=') if measurement => i += 1,
                Some(b'\r') if !self.is_end(i) => i += 1,
                _ => break,
            }
            i = self.next_stop(i);
        }
        let text = match unescaped {
            None => Cow::Borrowed(self.str_of(start, i)?),
            Some(mut out) => {
                out.push_str(self.str_of(copied, i)?);
                Cow::Owned(out)
            }
        };
        Ok((i, text))
    }

    fn skip_ws(&self, mut i: usize) -> usize {
        while matches!(self.at(i), Some(b' ' | b'\t')) {
            i += 1;
        }
        i
    }

    /// End of a token (number, boolean): the next `,`, space or line end.
    #[inline(always)]
    fn token_end(&self, mut i: usize) -> usize {
        loop {
            i = self.next_stop(i);
            match self.at(i) {
                None | Some(b',' | b' ' | b'\n') => return i,
                Some(b'\r') if self.is_end(i) => return i,
                Some(_) => i += 1,
            }
        }
    }

    /// Where a rejected line ends, by 1.x's `scanLine` rules: a newline ends the line unless it is
    /// inside a quoted field value. Used only after an error, so that a bad line is skipped
    /// exactly as InfluxDB 1.x would skip it.
    fn skip_line(&self, ls: usize) -> usize {
        let input = self.input;
        let (mut i, mut fields, mut quoted, mut equals, mut commas) = (ls, false, false, 0, 0);
        while let Some(&b) = input.get(i) {
            if b == b'\\' && !matches!(input.get(i + 1), None | Some(b'\n')) {
                i += 2;
                continue;
            }
            if b == b' ' {
                fields = true;
            }
            if fields {
                if !quoted && b == b'=' {
                    equals += 1;
                } else if !quoted && b == b',' {
                    commas += 1;
                } else if b == b'"' && equals > commas {
                    quoted = !quoted;
                }
            }
            if b == b'\n' && !quoted {
                return i;
            }
            i += 1;
        }
        input.len()
    }

    fn parse_line(&self, ls: usize, out: &mut Line<'a>) -> PResult<LineEnd> {
        let (m_end, measurement) = self.ident(ls, true, &mut out.spare)?;
        if m_end == ls {
            return Err((ErrorKind::MissingMeasurement, ls));
        }
        out.measurement = measurement;
        let mut i = m_end;

        if self.at(i) == Some(b',') {
            // Whether keys arrived in ascending order (Telegraf sorts them): then no sort.
            let mut ordered = true;
            loop {
                let ks = i + 1;
                let (ke, key) = self.ident(ks, false, &mut out.spare)?;
                if ke == ks {
                    return Err((ErrorKind::MissingTagKey, ks));
                }
                if self.at(ke) != Some(b'=') {
                    return Err((ErrorKind::MissingTagValue, ke));
                }
                let vs = ke + 1;
                let (ve, value) = self.ident(vs, false, &mut out.spare)?;
                if ve == vs {
                    let kind = if self.at(vs) == Some(b'=') {
                        ErrorKind::InvalidTagFormat
                    } else {
                        ErrorKind::MissingTagValue
                    };
                    return Err((kind, vs));
                }
                if let Some(prev) = out.tags.last() {
                    ordered &= key_ascends(&prev.key, &key);
                }
                out.tags.push(Tag { key, value });
                match self.at(ve) {
                    Some(b',') => i = ve,
                    Some(b' ') => {
                        i = ve;
                        break;
                    }
                    Some(b'=') => return Err((ErrorKind::InvalidTagFormat, ve)),
                    _ => return Err((ErrorKind::MissingFields, ve)),
                }
            }
            if !ordered && !sort_tags(&mut out.tags) {
                return Err((ErrorKind::DuplicateTags, m_end));
            }
        }

        if self.at(i) != Some(b' ') {
            return Err((ErrorKind::MissingFields, i));
        }
        if i - ls > self.opts.max_key_bytes {
            let limit = self.opts.max_key_bytes;
            return Err((ErrorKind::KeyTooLong { len: i - ls, limit }, ls));
        }
        i = self.skip_ws(i);
        if self.is_end(i) {
            return Err((ErrorKind::MissingFields, i));
        }

        let mut extra_newlines = 0;
        // A 64-bit Bloom filter over field keys: a repeated key is rare, so the exact (quadratic)
        // check runs only when two keys share a bit.
        let (mut seen, mut maybe_dup) = (0u64, false);
        loop {
            let ks = i;
            let (ke, key) = self.ident(ks, false, &mut out.spare)?;
            if ke == ks {
                return Err((ErrorKind::MissingFieldKey, ks));
            }
            if self.at(ke) != Some(b'=') {
                return Err((ErrorKind::InvalidFieldFormat, ke));
            }
            let (value, ve) = self.field_value(ke + 1, &mut extra_newlines, &mut out.spare)?;
            let kb = key.as_bytes();
            let h = kb.len()
                ^ (usize::from(kb.first().copied().unwrap_or(0)) << 2)
                ^ (usize::from(kb.last().copied().unwrap_or(0)) << 1);
            let bit = 1u64 << (h & 63);
            maybe_dup |= seen & bit != 0;
            seen |= bit;
            out.fields.push(Field { key, value });
            match self.at(ve) {
                Some(b',') => i = ve + 1,
                Some(b' ') => {
                    i = ve;
                    break;
                }
                _ if self.is_end(ve) => {
                    i = ve;
                    break;
                }
                _ => return Err((ErrorKind::InvalidFieldFormat, ve)),
            }
        }
        if maybe_dup {
            keep_last_fields(&mut out.fields);
        }

        i = self.skip_ws(i);
        if !self.is_end(i) {
            let (ts, te) = self.timestamp(i)?;
            out.timestamp = Some(ts);
            i = self.skip_ws(te);
            if !self.is_end(i) {
                return Err((ErrorKind::InvalidPoint, i));
            }
        }
        Ok(LineEnd {
            content_end: i,
            extra_newlines,
        })
    }

    #[inline(always)]
    fn field_value(
        &self,
        vs: usize,
        extra_newlines: &mut usize,
        spare: &mut Spare,
    ) -> PResult<(FieldValue<'a>, usize)> {
        match self.at(vs) {
            Some(b'"') => self.string_value(vs, extra_newlines, spare),
            Some(b'0'..=b'9' | b'-' | b'.') => self.number_value(vs),
            Some(b't' | b'T' | b'f' | b'F') => {
                let te = self.token_end(vs);
                let value = match self.input.get(vs..te).unwrap_or_default() {
                    b"t" | b"T" | b"true" | b"True" | b"TRUE" => true,
                    b"f" | b"F" | b"false" | b"False" | b"FALSE" => false,
                    _ => return Err((ErrorKind::InvalidBoolean, vs)),
                };
                Ok((FieldValue::Bool(value), te))
            }
            None | Some(b',' | b' ') => Err((ErrorKind::MissingFieldValue, vs)),
            Some(_) if self.is_end(vs) => Err((ErrorKind::MissingFieldValue, vs)),
            Some(b'N' | b'n' | b'I' | b'i' | b'+') => Err((ErrorKind::InvalidNumber, vs)),
            Some(_) => Err((ErrorKind::InvalidFieldValue, vs)),
        }
    }

    /// True if a value token ends at `i`: `,`, space, line end or end of input.
    #[inline(always)]
    fn value_ends_at(&self, i: usize) -> bool {
        match self.at(i) {
            None | Some(b',' | b' ' | b'\n') => true,
            Some(b'\r') => self.is_end(i),
            Some(_) => false,
        }
    }

    /// Parses a number in one pass over its bytes: the common short decimals (`12.34`, `42i`)
    /// never touch the general float parser or scan the token twice.
    #[inline(always)]
    fn number_value(&self, vs: usize) -> PResult<(FieldValue<'a>, usize)> {
        let input = self.input;
        let mut i = vs;
        let negative = input.get(i) == Some(&b'-');
        i += usize::from(negative);
        // `digits[.digits]` in one 8-byte word when it fits (Telegraf's `12.34`, `42i`);
        // otherwise digit runs of any length. Up to 19 digits fit in u64; longer runs take the
        // exact slow paths below.
        let (int_digits, frac_digits, dot, mantissa);
        if let Some(n) = short_number(input, i) {
            (int_digits, frac_digits, dot, mantissa) =
                (n.int_digits, n.frac_digits, n.dot, n.mantissa);
            i = n.end;
        } else {
            let (int_end, m) = scan_digits(input, i, 0);
            int_digits = int_end - i;
            i = int_end;
            dot = input.get(i) == Some(&b'.');
            if dot {
                let (frac_end, m) = scan_digits(input, i + 1, m);
                frac_digits = frac_end - (i + 1);
                mantissa = m;
                i = frac_end;
            } else {
                (frac_digits, mantissa) = (0, m);
            }
        }
        if !dot {
            match input.get(i) {
                Some(b'i') if int_digits > 0 && self.value_ends_at(i + 1) => {
                    if int_digits <= 18 {
                        let v = mantissa as i64;
                        return Ok((FieldValue::I64(if negative { -v } else { v }), i + 1));
                    }
                    return self.number_slow(vs, i + 1);
                }
                Some(b'u') if int_digits > 0 && self.value_ends_at(i + 1) => {
                    if negative {
                        return Err((ErrorKind::InvalidNumber, vs));
                    }
                    if int_digits <= 19 {
                        return Ok((FieldValue::U64(mantissa), i + 1));
                    }
                    return self.number_slow(vs, i + 1);
                }
                _ => {}
            }
        }
        let digits = int_digits + frac_digits;
        if digits > 0 && self.value_ends_at(i) {
            if digits <= 19 && mantissa <= 1 << 53 {
                // Exact (Clinger's fast path): 19 digits cannot wrap a u64, a mantissa up to
                // 2^53 and 10^frac_digits (<= 10^19 < 10^22) are both exact f64s, so one IEEE
                // division is correctly rounded. Covers nearly all 16–17 digit values in [0, 1)
                // as well as every short decimal.
                if let Some(p) = POW10.get(frac_digits) {
                    let v = mantissa as f64 / p;
                    return Ok((FieldValue::F64(if negative { -v } else { v }), i));
                }
            }
            // A plain decimal (sign, digits, one dot) is valid line protocol as scanned: only
            // the correctly rounded conversion is left, which std does without a second
            // validation pass of ours.
            let text = self.str_of(vs, i)?;
            return match text.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok((FieldValue::F64(v), i)),
                _ => Err((ErrorKind::InvalidFloat, vs)),
            };
        }
        self.number_slow(vs, self.token_end(i))
    }

    /// A number token `vs..end` that the one-pass scan could not take (exponents, more than
    /// 19 digits, bad shapes): exact general parsing.
    #[cold]
    #[inline(never)]
    fn number_slow(&self, vs: usize, end: usize) -> PResult<(FieldValue<'a>, usize)> {
        let tok = self.input.get(vs..end).unwrap_or_default();
        let value = match tok.split_last() {
            Some((b'i', digits)) => parse_i64(digits).map(FieldValue::I64),
            Some((b'u', digits)) => parse_u64(digits).map(FieldValue::U64),
            _ => parse_f64(tok).map(FieldValue::F64),
        };
        value.map(|v| (v, end)).map_err(|k| (k, vs))
    }

    fn string_value(
        &self,
        vs: usize,
        extra_newlines: &mut usize,
        spare: &mut Spare,
    ) -> PResult<(FieldValue<'a>, usize)> {
        let input = self.input;
        let start = vs + 1;
        let mut newlines = 0;
        let mut unescaped: Option<String> = None;
        let mut copied = start;
        // Walk the closing quote, backslashes and newlines 64 bytes at a time, unescaping as we
        // go; a backslash hides the byte after it (a newline there still counts as a physical
        // line).
        let mut j = start;
        let end = 'scan: loop {
            let mut m = self.classifier.string_mask(input, j);
            let mut next = j + 64;
            while m != 0 {
                let p = j + m.trailing_zeros() as usize;
                m &= m - 1;
                match input.get(p) {
                    None => return Err((ErrorKind::UnbalancedQuotes, vs)),
                    Some(b'"') => break 'scan p,
                    Some(b'\\') => {
                        let hidden = input.get(p + 1).copied();
                        newlines += usize::from(hidden == Some(b'\n'));
                        if let Some(c) = hidden.filter(|&c| is_string_escape(c)) {
                            let out = unescaped.get_or_insert_with(|| spare.take());
                            out.push_str(self.str_of(copied, p)?);
                            out.push(char::from(c));
                            copied = p + 2;
                        }
                        if p + 1 - j < 64 {
                            m &= !(1u64 << (p + 1 - j));
                        } else {
                            next = p + 2;
                        }
                    }
                    Some(_) => newlines += 1,
                }
            }
            j = next;
        };
        if end - start > self.opts.max_string_bytes {
            return Err((
                ErrorKind::StringTooLong {
                    limit: self.opts.max_string_bytes,
                },
                vs,
            ));
        }
        *extra_newlines += newlines;
        let value = match unescaped {
            None => Cow::Borrowed(self.str_of(start, end)?),
            Some(mut out) => {
                out.push_str(self.str_of(copied, end)?);
                Cow::Owned(out)
            }
        };
        Ok((FieldValue::String(value), end + 1))
    }

    fn timestamp(&self, s: usize) -> PResult<(i64, usize)> {
        let input = self.input;
        let mut i = s;
        let negative = input.get(i) == Some(&b'-');
        i += usize::from(negative);
        let digits_start = i;
        // Up to 19 digits cannot overflow u64: accumulate unchecked, check once.
        let (end, magnitude) = nineteen_digits(input, i).unwrap_or_else(|| long_digits(input, i));
        let digits = end - digits_start;
        i = end;
        if digits == 0 {
            return Err((ErrorKind::BadTimestamp, s));
        }
        if !matches!(input.get(i), Some(b' ' | b'\t')) && !self.is_end(i) {
            return Err((ErrorKind::BadTimestamp, i));
        }
        let value = if digits <= 19 {
            // 19 digits stay below 2^64: exact in u64, then range-checked into i64.
            let v = i128::from(magnitude);
            i64::try_from(if negative { -v } else { v }).ok()
        } else {
            input
                .get(digits_start..i)
                .and_then(|d| parse_i64(d).ok())
                .map(|v| if negative { -v } else { v })
        };
        let ns = value
            .and_then(|v| self.opts.precision.to_nanos(v))
            .ok_or((ErrorKind::TimestampOutOfRange, s))?;
        Ok((ns, i))
    }
}

struct LineEnd {
    /// Offset of the line terminator (or end of input).
    content_end: usize,
    /// Newlines inside quoted string values: they are physical lines too.
    extra_newlines: usize,
}

impl<'a> Iterator for Parser<'a> {
    type Item = Result<Line<'a>, LineError>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut line = Line::default();
        let result = self.next_into(&mut line)?;
        Some(result.map(|()| line))
    }
}

/// Sorts tags by key (1.x's series-key order); false if a key repeats.
fn sort_tags(tags: &mut [Tag<'_>]) -> bool {
    tags.sort_by(|a, b| a.key.cmp(&b.key));
    !tags.windows(2).any(|w| w[0].key == w[1].key)
}

/// `a < b`, deciding on the first byte when it differs (keys usually do).
#[inline(always)]
fn key_ascends(a: &str, b: &str) -> bool {
    match (a.as_bytes().first(), b.as_bytes().first()) {
        (Some(x), Some(y)) if x != y => x < y,
        _ => a < b,
    }
}

/// Drops every field whose key appears again later: the last value wins, as in 1.x.
fn keep_last_fields(fields: &mut Vec<Field<'_>>) {
    let mut i = 0;
    while i < fields.len() {
        let (head, tail) = fields.split_at(i + 1);
        let repeated = head
            .last()
            .is_some_and(|f| tail.iter().any(|g| g.key == f.key));
        if repeated {
            fields.remove(i);
        } else {
            i += 1;
        }
    }
}

/// Most spare strings a [`Line`] keeps for reuse (bounds its memory).
const SPARE_STRINGS_MAX: usize = 64;

/// Clears `line` for the next parse, keeping the allocations of its unescaped strings.
fn recycle(line: &mut Line<'_>) {
    if !line.spare.lent {
        line.tags.clear();
        line.fields.clear();
        return;
    }
    line.spare.lent = false;
    let spare = &mut line.spare.strings;
    let mut keep = |c: Cow<'_, str>| {
        if let (Cow::Owned(s), true) = (c, spare.len() < SPARE_STRINGS_MAX) {
            spare.push(s);
        }
    };
    keep(std::mem::take(&mut line.measurement));
    for tag in line.tags.drain(..) {
        keep(tag.key);
        keep(tag.value);
    }
    for field in line.fields.drain(..) {
        keep(field.key);
        if let FieldValue::String(s) = field.value {
            keep(s);
        }
    }
}

/// `\,` `\ ` `\=` resolve in identifiers.
fn is_ident_escape(c: u8) -> bool {
    matches!(c, b',' | b' ' | b'=')
}

/// `\"` and `\\` resolve in string field values.
fn is_string_escape(c: u8) -> bool {
    matches!(c, b'"' | b'\\')
}

fn parse_i64(digits: &[u8]) -> Result<i64, ErrorKind> {
    let (negative, digits) = match digits.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, digits),
    };
    if digits.is_empty() {
        return Err(ErrorKind::InvalidNumber);
    }
    let mut v: i64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return Err(ErrorKind::InvalidNumber);
        }
        let d = i64::from(b - b'0');
        v = v
            .checked_mul(10)
            .and_then(|v| {
                if negative {
                    v.checked_sub(d)
                } else {
                    v.checked_add(d)
                }
            })
            .ok_or(ErrorKind::IntegerOutOfRange)?;
    }
    Ok(v)
}

fn parse_u64(digits: &[u8]) -> Result<u64, ErrorKind> {
    if digits.is_empty() || digits.first() == Some(&b'-') {
        return Err(ErrorKind::InvalidNumber);
    }
    let mut v: u64 = 0;
    for &b in digits {
        if !b.is_ascii_digit() {
            return Err(ErrorKind::InvalidNumber);
        }
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(b - b'0')))
            .ok_or(ErrorKind::UnsignedOutOfRange)?;
    }
    Ok(v)
}

/// 1.x's float grammar: `-? digits* (. digits*)? ([eE] [+-]? digits+)?` with at least one mantissa
/// digit. Short decimals (≤ 15 digits, no exponent) are computed exactly without the general
/// parser: both the mantissa and the power of ten are exact in f64, so one IEEE division is
/// correctly rounded.
fn parse_f64(tok: &[u8]) -> Result<f64, ErrorKind> {
    let (negative, body) = match tok.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, tok),
    };
    let (mut mantissa, mut digits, mut frac_digits, mut seen_dot) = (0u64, 0usize, 0usize, false);
    let mut i = 0;
    while let Some(&b) = body.get(i) {
        match b {
            b'0'..=b'9' => {
                if digits < 19 {
                    mantissa = mantissa * 10 + u64::from(b - b'0');
                }
                digits += 1;
                frac_digits += usize::from(seen_dot);
            }
            b'.' if !seen_dot => seen_dot = true,
            b'e' | b'E' => break,
            _ => return Err(ErrorKind::InvalidNumber),
        }
        i += 1;
    }
    if digits == 0 {
        return Err(ErrorKind::InvalidNumber);
    }
    let exponent = body.get(i + 1..);
    if let Some(exp) = exponent {
        let exp = match exp.split_first() {
            Some((b'+' | b'-', rest)) => rest,
            _ => exp,
        };
        if exp.is_empty() || !exp.iter().all(u8::is_ascii_digit) {
            return Err(ErrorKind::InvalidNumber);
        }
    } else if digits <= 15 {
        if let Some(p) = POW10.get(frac_digits) {
            let v = mantissa as f64 / p;
            return Ok(if negative { -v } else { v });
        }
    }
    let v: f64 = std::str::from_utf8(tok)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(ErrorKind::InvalidNumber)?;
    if v.is_finite() {
        Ok(v)
    } else {
        Err(ErrorKind::InvalidFloat)
    }
}

#[cfg(test)]
mod tests;
