//! The parser's machinery: a token buffer with push-back, parameter substitution, the statement
//! dispatch, and the small grammar pieces every statement shares.
//!
//! The structure follows 1.x's recursive-descent parser closely on purpose: error positions and
//! expected-token lists fall out of *where* each token is scanned and pushed back, so matching
//! 1.x's texts means scanning in the same order.

mod ddl;
mod expr;
mod select;
mod show;

use crate::ast::{Dimension, Order, Statement};
use crate::duration::{parse_duration, Duration};
use crate::error::ParseError;
use crate::expr::Expr;
use crate::params::{bind_value, Params};
use crate::scanner::Scanner;
use crate::token::{Keyword, Pos, Tok, Token};

/// How deeply parentheses, calls, subqueries and operator chains may nest. 1.x has no limit and
/// overflows its stack on hostile input; we refuse instead. Real queries nest a handful deep.
pub const MAX_DEPTH: usize = 200;

/// How deep an expression tree may grow, counting operator chains (`a OR b OR …` nests to the
/// left one level per operator). Printing, comparing and dropping a tree recurse on it, so it is
/// bounded too, but more loosely than parser nesting: dashboards generate long OR lists.
pub const MAX_TREE_DEPTH: usize = 1000;

/// Nesting levels one subquery uses up: at most `MAX_DEPTH / SUBQUERY_COST` (20) subqueries nest.
const SUBQUERY_COST: usize = 10;

const RING: usize = 3;

pub(crate) struct Parser<'a> {
    s: Scanner<'a>,
    ring: [Token; RING],
    i: usize,
    n: usize,
    /// `None`: keep `$name` in the AST. `Some`: substitute while scanning, as 1.x.
    params: Option<&'a Params>,
    /// Current nesting (parentheses, calls, signs, subqueries).
    depth: usize,
}

impl std::fmt::Debug for Parser<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parser")
            .field("depth", &self.depth)
            .finish_non_exhaustive()
    }
}

type Result<T> = std::result::Result<T, ParseError>;

fn eof_token() -> Token {
    Token {
        tok: Tok::Eof,
        pos: Pos::default(),
        lit: String::new(),
    }
}

impl<'a> Parser<'a> {
    pub(crate) fn new(input: &'a str, params: Option<&'a Params>) -> Self {
        Parser {
            s: Scanner::new(input),
            ring: [eof_token(), eof_token(), eof_token()],
            i: 0,
            n: 0,
            params,
            depth: 0,
        }
    }

    // ---- token buffer -------------------------------------------------------------------

    fn curr(&self) -> Token {
        let idx = (self.i + RING * RING - self.n % RING) % RING;
        self.ring.get(idx).cloned().unwrap_or_else(eof_token)
    }

    fn next_with(&mut self, regex: bool) -> Token {
        let t = if self.n > 0 {
            self.n -= 1;
            self.curr()
        } else {
            self.i = (self.i + 1) % RING;
            let t = if regex {
                self.s.scan_regex()
            } else {
                self.s.scan()
            };
            if let Some(slot) = self.ring.get_mut(self.i) {
                *slot = t.clone();
            }
            t
        };
        self.substitute(t)
    }

    /// A bound parameter with a value becomes the token its value scans as (1.x binds while
    /// scanning, which is why `FROM $m` and `LIMIT $n` work with the right value types).
    fn substitute(&self, mut t: Token) -> Token {
        if t.tok != Tok::BoundParam {
            return t;
        }
        let Some(params) = self.params else { return t };
        let name = t.lit.strip_prefix('$').unwrap_or(&t.lit);
        if name.is_empty() {
            return t;
        }
        if let Some(v) = params.get(name) {
            let (tok, lit) = bind_value(v).token();
            t.tok = tok;
            t.lit = lit;
        }
        t
    }

    pub(crate) fn scan(&mut self) -> Token {
        self.next_with(false)
    }

    pub(crate) fn scan_regex_token(&mut self) -> Token {
        self.next_with(true)
    }

    pub(crate) fn scan_ws(&mut self) -> Token {
        loop {
            let t = self.scan();
            if t.tok != Tok::Ws && t.tok != Tok::Comment {
                return t;
            }
        }
    }

    pub(crate) fn unscan(&mut self) {
        self.n += 1;
    }

    fn consume_ws(&mut self) {
        if self.scan().tok != Tok::Ws {
            self.unscan();
        }
    }

    /// The next character of the input, past any pushed-back tokens (as 1.x peeks).
    fn peek_rune(&mut self) -> char {
        let (c, _) = self.s.r.read();
        if c != crate::reader::EOF {
            self.s.r.unread();
        }
        c
    }

    /// Scans (skipping whitespace) and consumes `k` if it is next; otherwise pushes it back.
    fn accept(&mut self, k: Keyword) -> bool {
        if self.scan_ws().tok.is(k) {
            true
        } else {
            self.unscan();
            false
        }
    }

    /// Requires each keyword in turn, failing with `expected K` on the first mismatch.
    fn expect(&mut self, ks: &[Keyword]) -> Result<()> {
        for k in ks {
            let t = self.scan_ws();
            if !t.tok.is(*k) {
                return Err(ParseError::unexpected(&t, &[k.as_str()]));
            }
        }
        Ok(())
    }

    fn expect_tok(&mut self, tok: Tok) -> Result<()> {
        let t = self.scan_ws();
        if t.tok != tok {
            return Err(ParseError::unexpected(&t, &[tok.name()]));
        }
        Ok(())
    }

    /// Enters one level of nesting, refusing past [`MAX_DEPTH`].
    fn enter(&mut self, pos: Pos) -> Result<()> {
        self.enter_by(1, pos)
    }

    /// A subquery costs [`SUBQUERY_COST`] levels: its parser frames are far larger than an
    /// expression's, and one level each would let a 200-deep subquery chain overflow the stack.
    fn enter_by(&mut self, cost: usize, pos: Pos) -> Result<()> {
        self.depth += cost;
        if self.depth > MAX_DEPTH {
            return Err(ParseError::at("query too deeply nested", pos));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.leave_by(1);
    }

    fn leave_by(&mut self, cost: usize) {
        self.depth = self.depth.saturating_sub(cost);
    }

    // ---- statements ---------------------------------------------------------------------

    /// Statements separated by `;`; empty statements are skipped.
    pub(crate) fn parse_query(&mut self) -> Result<Vec<Statement>> {
        let mut out = Vec::new();
        let mut after_semicolon = true;
        loop {
            let t = self.scan_ws();
            match t.tok {
                Tok::Eof => return Ok(out),
                Tok::Semicolon => after_semicolon = true,
                _ => {
                    if !after_semicolon {
                        return Err(ParseError::unexpected(&t, &[";"]));
                    }
                    self.unscan();
                    out.push(self.parse_statement()?);
                    after_semicolon = false;
                }
            }
        }
    }

    /// Scans a keyword that must be one of `options`, reporting them in this order otherwise.
    fn choose(&mut self, options: &[Keyword]) -> Result<Keyword> {
        let t = self.scan_ws();
        if let Tok::Kw(k) = t.tok {
            if options.contains(&k) {
                return Ok(k);
            }
        }
        let names: Vec<&str> = options.iter().map(|k| k.as_str()).collect();
        Err(ParseError::unexpected(&t, &names))
    }

    pub(crate) fn parse_statement(&mut self) -> Result<Statement> {
        use Keyword::*;
        let first = self.choose(&[
            Select, Delete, Show, Create, Drop, Explain, Grant, Revoke, Alter, Set, Kill,
        ])?;
        match first {
            Select => Ok(Statement::Select(Box::new(self.parse_select(false)?))),
            Delete => self.parse_delete(),
            Show => self.parse_show(),
            Create => self.parse_create(),
            Drop => self.parse_drop(),
            Explain => self.parse_explain(),
            Grant => self.parse_grant(),
            Revoke => self.parse_revoke(),
            Alter => {
                self.choose(&[Retention])?;
                self.choose(&[Policy])?;
                self.parse_alter_retention_policy()
            }
            Set => {
                self.choose(&[Password])?;
                self.choose(&[For])?;
                self.parse_set_password()
            }
            _ => {
                self.choose(&[Query])?;
                self.parse_kill_query()
            }
        }
    }

    // ---- shared pieces ------------------------------------------------------------------

    pub(crate) fn parse_ident(&mut self) -> Result<String> {
        let t = self.scan_ws();
        if t.tok != Tok::Ident {
            return Err(ParseError::unexpected(&t, &["identifier"]));
        }
        Ok(t.lit)
    }

    fn parse_ident_list(&mut self) -> Result<Vec<String>> {
        let mut out = vec![self.parse_ident()?];
        loop {
            if self.scan_ws().tok != Tok::Comma {
                self.unscan();
                return Ok(out);
            }
            out.push(self.parse_ident()?);
        }
    }

    /// `a`, `a.b`, `a.b.c`, `a..c`; stops before a `./regex/` or `.:MEASUREMENT`.
    fn parse_segmented_idents(&mut self) -> Result<Vec<String>> {
        let mut out = vec![self.parse_ident()?];
        loop {
            if self.scan().tok != Tok::Dot {
                self.unscan();
                break;
            }
            match self.peek_rune() {
                '/' | ':' => break,
                '.' => {
                    out.push(String::new());
                    continue;
                }
                _ => {}
            }
            out.push(self.parse_ident()?);
        }
        if out.len() > 3 {
            let quoted = quote_segments(&out);
            return Err(ParseError::at(
                format!("too many segments in {quoted}"),
                Pos::default(),
            ));
        }
        Ok(out)
    }

    fn parse_string(&mut self) -> Result<String> {
        let t = self.scan_ws();
        if t.tok != Tok::Str {
            return Err(ParseError::unexpected(&t, &["string"]));
        }
        Ok(t.lit)
    }

    fn parse_string_list(&mut self) -> Result<Vec<String>> {
        let mut out = vec![self.parse_string()?];
        loop {
            if self.scan_ws().tok != Tok::Comma {
                self.unscan();
                return Ok(out);
            }
            out.push(self.parse_string()?);
        }
    }

    /// An integer in `1..=i32::MAX` (replication factors).
    fn parse_replication(&mut self) -> Result<u32> {
        let t = self.scan_ws();
        if t.tok != Tok::Integer {
            return Err(ParseError::unexpected(&t, &["integer"]));
        }
        let n: i64 = t.lit.parse().map_err(|_| {
            ParseError::at(
                format!("strconv.Atoi: parsing {:?}: value out of range", t.lit),
                t.pos,
            )
        })?;
        match u32::try_from(n) {
            Ok(v) if (1..=i32::MAX as u32).contains(&v) => Ok(v),
            _ => Err(ParseError::at(
                format!("invalid value {n}: must be 1 <= n <= {}", i32::MAX),
                t.pos,
            )),
        }
    }

    fn parse_u64(&mut self) -> Result<u64> {
        let t = self.scan_ws();
        if t.tok != Tok::Integer {
            return Err(ParseError::unexpected(&t, &["integer"]));
        }
        t.lit.parse().map_err(|_| {
            let why = if t.lit.starts_with('-') || t.lit.is_empty() {
                "invalid syntax"
            } else {
                "value out of range"
            };
            ParseError::at(
                format!("strconv.ParseUint: parsing {:?}: {why}", t.lit),
                t.pos,
            )
        })
    }

    /// A duration literal or `INF` (0).
    fn parse_duration(&mut self) -> Result<Duration> {
        let t = self.scan_ws();
        match t.tok {
            Tok::Kw(Keyword::Inf) => Ok(Duration(0)),
            Tok::DurationVal => {
                parse_duration(&t.lit).map_err(|e| ParseError::at(e.to_string(), t.pos))
            }
            _ => Err(ParseError::unexpected(&t, &["duration"])),
        }
    }

    /// `SHARD DURATION d` after `SHARD`; `INF` is refused.
    fn parse_shard_duration(&mut self) -> Result<Duration> {
        let t = self.scan_ws();
        if !t.tok.is(Keyword::Duration) {
            return Err(ParseError::unexpected(&t, &["DURATION"]));
        }
        let t = self.scan_ws();
        if t.tok.is(Keyword::Inf) {
            return Err(ParseError::at(
                "invalid duration INF for shard duration",
                t.pos,
            ));
        }
        self.unscan();
        self.parse_duration()
    }

    /// `KEYWORD n` if present. 1.x reads `LIMIT 0` as no limit, and so do we.
    fn parse_optional_int(&mut self, k: Keyword) -> Result<Option<u64>> {
        if !self.accept(k) {
            return Ok(None);
        }
        let t = self.scan_ws();
        if t.tok != Tok::Integer {
            return Err(ParseError::unexpected(&t, &["integer"]));
        }
        // 1.x ignores overflow here (the value saturates) and refuses only negatives, which only
        // a bound parameter can produce.
        let n: i64 = t.lit.parse().unwrap_or(if t.lit.starts_with('-') {
            i64::MIN
        } else {
            i64::MAX
        });
        if n < 0 {
            return Err(ParseError::at(
                format!("{} must be >= 0", k.as_str()),
                t.pos,
            ));
        }
        Ok(u64::try_from(n).ok().filter(|n| *n > 0))
    }

    fn parse_condition(&mut self) -> Result<Option<Expr>> {
        if !self.accept(Keyword::Where) {
            return Ok(None);
        }
        Ok(Some(self.parse_expr()?))
    }

    fn parse_order_by(&mut self) -> Result<Option<Order>> {
        if !self.accept(Keyword::Order) {
            return Ok(None);
        }
        let t = self.scan_ws();
        if !t.tok.is(Keyword::By) {
            return Err(ParseError::unexpected(&t, &["BY"]));
        }
        let only_time = || ParseError::bare("only ORDER BY time supported at this time");
        let t = self.scan_ws();
        let first = match t.tok {
            Tok::Kw(Keyword::Asc) => Order::Ascending,
            Tok::Kw(Keyword::Desc) => Order::Descending,
            Tok::Ident => {
                self.unscan();
                let o = self.parse_sort_field()?;
                if t.lit != "time" {
                    return Err(only_time());
                }
                o
            }
            _ => return Err(ParseError::unexpected(&t, &["identifier", "ASC", "DESC"])),
        };
        let mut count = 1;
        loop {
            if self.scan_ws().tok != Tok::Comma {
                self.unscan();
                break;
            }
            self.parse_sort_field()?;
            count += 1;
        }
        if count > 1 {
            return Err(only_time());
        }
        Ok(Some(first))
    }

    fn parse_sort_field(&mut self) -> Result<Order> {
        self.parse_ident()?;
        let t = self.scan_ws();
        Ok(match t.tok {
            Tok::Kw(Keyword::Desc) => Order::Descending,
            Tok::Kw(Keyword::Asc) => Order::Ascending,
            _ => {
                self.unscan();
                Order::Ascending
            }
        })
    }

    fn parse_dimensions(&mut self) -> Result<Vec<Dimension>> {
        if !self.accept(Keyword::Group) {
            return Ok(Vec::new());
        }
        let t = self.scan_ws();
        if !t.tok.is(Keyword::By) {
            return Err(ParseError::unexpected(&t, &["BY"]));
        }
        let mut dims = Vec::new();
        loop {
            let expr = match self.parse_regex()? {
                Some(re) => Expr::Regex(re),
                None => {
                    let e = self.parse_expr()?;
                    self.consume_ws();
                    e
                }
            };
            dims.push(Dimension { expr });
            if self.scan().tok != Tok::Comma {
                self.unscan();
                return Ok(dims);
            }
        }
    }
}

/// 1.x's quoting of a dotted name in the `too many segments` message.
fn quote_segments(segments: &[String]) -> String {
    let last = segments.len().saturating_sub(1);
    let mut out = String::new();
    for (i, seg) in segments.iter().enumerate() {
        let needs = crate::quote::ident_needs_quotes(seg)
            || (i < last && !seg.is_empty())
            || ((i == 0 || i == last) && seg.is_empty());
        let escaped = seg
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n");
        if needs {
            out.push('"');
            out.push_str(&escaped);
            out.push('"');
        } else {
            out.push_str(&escaped);
        }
        if i < last {
            out.push('.');
        }
    }
    out
}
