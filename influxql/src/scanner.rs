//! The scanner: characters to tokens, with 1.x's token boundaries, texts and positions.
//!
//! A regex can only be told from a division by the parser, so [`Scanner::scan_regex`] is a
//! separate entry point the parser calls where a regex may appear.

use crate::reader::{Reader, EOF};
use crate::token::{lookup, Pos, Tok, Token};

#[derive(Debug)]
pub(crate) struct Scanner<'a> {
    pub(crate) r: Reader<'a>,
}

fn is_ws(c: char) -> bool {
    c == ' ' || c == '\t' || c == '\n'
}

fn is_letter(c: char) -> bool {
    c.is_ascii_alphabetic()
}

fn is_digit(c: char) -> bool {
    c.is_ascii_digit()
}

pub(crate) fn is_ident_char(c: char) -> bool {
    is_letter(c) || is_digit(c) || c == '_'
}

pub(crate) fn is_ident_first_char(c: char) -> bool {
    is_letter(c) || c == '_'
}

fn tok(tok: Tok, pos: Pos) -> Token {
    Token {
        tok,
        pos,
        lit: String::new(),
    }
}

fn tok_lit(tok: Tok, pos: Pos, lit: String) -> Token {
    Token { tok, pos, lit }
}

/// Why a quoted string did not scan.
enum StringError {
    /// End of input or a newline before the closing quote.
    Unterminated,
    /// A backslash before anything but `n`, `\`, `"` or `'`; carries the two characters.
    BadEscape(String),
}

impl<'a> Scanner<'a> {
    pub(crate) fn new(input: &'a str) -> Self {
        Scanner {
            r: Reader::new(input),
        }
    }

    /// The next token.
    pub(crate) fn scan(&mut self) -> Token {
        let (ch0, pos) = self.r.read();
        if is_ws(ch0) {
            return self.scan_whitespace();
        }
        if is_letter(ch0) || ch0 == '_' {
            self.r.unread();
            return self.scan_ident(true);
        }
        if is_digit(ch0) {
            return self.scan_number();
        }
        match ch0 {
            EOF => tok(Tok::Eof, pos),
            '"' => {
                self.r.unread();
                self.scan_ident(true)
            }
            '\'' => self.scan_string(),
            '.' => {
                let (ch1, _) = self.r.read();
                self.r.unread();
                if is_digit(ch1) {
                    self.scan_number()
                } else {
                    tok(Tok::Dot, pos)
                }
            }
            '$' => {
                let t = self.scan_ident(false);
                let lit = format!("${}", t.lit);
                if t.tok == Tok::Ident {
                    tok_lit(Tok::BoundParam, pos, lit)
                } else {
                    tok_lit(t.tok, pos, lit)
                }
            }
            '+' => tok(Tok::Add, pos),
            '-' => {
                if self.r.read().0 == '-' {
                    self.skip_line();
                    return tok(Tok::Comment, pos);
                }
                self.r.unread();
                tok(Tok::Sub, pos)
            }
            '*' => tok(Tok::Mul, pos),
            '/' => {
                if self.r.read().0 == '*' {
                    if self.skip_block_comment() {
                        return tok(Tok::Comment, pos);
                    }
                    return tok(Tok::Illegal, pos);
                }
                self.r.unread();
                tok(Tok::Div, pos)
            }
            '%' => tok(Tok::Mod, pos),
            '&' => tok(Tok::BitAnd, pos),
            '|' => tok(Tok::BitOr, pos),
            '^' => tok(Tok::BitXor, pos),
            '=' => {
                if self.r.read().0 == '~' {
                    return tok(Tok::EqRegex, pos);
                }
                self.r.unread();
                tok(Tok::Eq, pos)
            }
            '!' => match self.r.read().0 {
                '=' => tok(Tok::Neq, pos),
                '~' => tok(Tok::NeqRegex, pos),
                _ => {
                    self.r.unread();
                    tok_lit(Tok::Illegal, pos, "!".to_string())
                }
            },
            '>' => {
                if self.r.read().0 == '=' {
                    return tok(Tok::Gte, pos);
                }
                self.r.unread();
                tok(Tok::Gt, pos)
            }
            '<' => match self.r.read().0 {
                '=' => tok(Tok::Lte, pos),
                '>' => tok(Tok::Neq, pos),
                _ => {
                    self.r.unread();
                    tok(Tok::Lt, pos)
                }
            },
            '(' => tok(Tok::LParen, pos),
            ')' => tok(Tok::RParen, pos),
            ',' => tok(Tok::Comma, pos),
            ';' => tok(Tok::Semicolon, pos),
            ':' => {
                if self.r.read().0 == ':' {
                    return tok(Tok::DoubleColon, pos);
                }
                self.r.unread();
                tok(Tok::Colon, pos)
            }
            other => tok_lit(Tok::Illegal, pos, other.to_string()),
        }
    }

    fn scan_whitespace(&mut self) -> Token {
        let (ch, pos) = self.r.curr();
        let mut lit = String::from(ch);
        loop {
            let (c, _) = self.r.read();
            if c == EOF {
                break;
            }
            if !is_ws(c) {
                self.r.unread();
                break;
            }
            lit.push(c);
        }
        tok_lit(Tok::Ws, pos, lit)
    }

    fn skip_line(&mut self) {
        loop {
            let (c, _) = self.r.read();
            if c == '\n' || c == EOF {
                return;
            }
        }
    }

    /// Skips to the end of a `/* */` comment; false if the input ends first.
    fn skip_block_comment(&mut self) -> bool {
        loop {
            let (c, _) = self.r.read();
            if c == EOF {
                return false;
            }
            if c == '*' {
                loop {
                    match self.r.read().0 {
                        '/' => return true,
                        '*' => continue,
                        EOF => return false,
                        _ => break,
                    }
                }
            }
        }
    }

    /// A bare or double-quoted identifier. A quoted part ends the identifier and replaces what
    /// came before it (`ab"c d"` is `c d`), as 1.x.
    fn scan_ident(&mut self, keyword_lookup: bool) -> Token {
        let (_, pos) = self.r.read();
        self.r.unread();
        let mut lit = String::new();
        loop {
            let (c, _) = self.r.read();
            if c == EOF {
                break;
            } else if c == '"' {
                let t = self.scan_string();
                if t.tok == Tok::BadString || t.tok == Tok::BadEscape {
                    return t;
                }
                return tok_lit(Tok::Ident, pos, t.lit);
            } else if is_ident_char(c) {
                self.r.unread();
                self.scan_bare_ident(&mut lit);
            } else {
                self.r.unread();
                break;
            }
        }
        if keyword_lookup {
            let t = lookup(&lit);
            if t != Tok::Ident {
                return tok(t, pos);
            }
        }
        tok_lit(Tok::Ident, pos, lit)
    }

    fn scan_bare_ident(&mut self, out: &mut String) {
        loop {
            let (c, _) = self.r.read();
            if c == EOF {
                break;
            }
            if !is_ident_char(c) {
                self.r.unread();
                break;
            }
            out.push(c);
        }
    }

    /// A string quoted by the character just read (`'` or `"`).
    fn scan_string(&mut self) -> Token {
        self.r.unread();
        let (_, pos) = self.r.curr();
        match self.read_quoted() {
            Ok(s) => tok_lit(Tok::Str, pos, s),
            Err((StringError::Unterminated, partial)) => tok_lit(Tok::BadString, pos, partial),
            Err((StringError::BadEscape(esc), _)) => {
                let (_, pos) = self.r.curr();
                tok_lit(Tok::BadEscape, pos, esc)
            }
        }
    }

    fn read_quoted(&mut self) -> Result<String, (StringError, String)> {
        let (ending, _) = self.r.read();
        if ending == EOF {
            return Err((StringError::Unterminated, String::new()));
        }
        let mut buf = String::new();
        loop {
            let (c, _) = self.r.read();
            if c == ending {
                return Ok(buf);
            } else if c == EOF || c == '\n' {
                return Err((StringError::Unterminated, buf));
            } else if c == '\\' {
                let (c1, _) = self.r.read();
                match c1 {
                    'n' => buf.push('\n'),
                    '\\' | '"' | '\'' => buf.push(c1),
                    _ => {
                        let esc = format!("\\{c1}");
                        return Err((StringError::BadEscape(esc), String::new()));
                    }
                }
            } else {
                buf.push(c);
            }
        }
    }

    /// A `/regex/`; `\/` is an escaped slash, any other backslash is kept for the regex engine.
    /// The position is that of the character before the opening slash, as 1.x reports it.
    pub(crate) fn scan_regex(&mut self) -> Token {
        let (_, pos) = self.r.curr();
        let (open, _) = self.r.read();
        if open != '/' || open == EOF {
            return tok(Tok::BadRegex, pos);
        }
        let mut buf = String::new();
        loop {
            let (c, _) = self.r.read();
            if c == '/' {
                return tok_lit(Tok::Regex, pos, buf);
            } else if c == EOF || c == '\n' {
                return tok(Tok::BadRegex, pos);
            } else if c == '\\' {
                let (c1, _) = self.r.read();
                if c1 == EOF {
                    return tok(Tok::BadRegex, pos);
                }
                if c1 == '/' {
                    buf.push('/');
                } else {
                    self.r.unread();
                    buf.push('\\');
                }
            } else {
                buf.push(c);
            }
        }
    }

    fn scan_number(&mut self) -> Token {
        let (ch, pos) = self.r.curr();
        if ch == '.' {
            let (c1, _) = self.r.read();
            self.r.unread();
            if !is_digit(c1) {
                return tok_lit(Tok::Illegal, pos, ".".to_string());
            }
        }
        self.r.unread();
        let mut lit = String::new();
        self.scan_digits(&mut lit);
        let mut decimal = false;
        let (c0, _) = self.r.read();
        if c0 == '.' {
            decimal = true;
            let (c1, _) = self.r.read();
            if is_digit(c1) {
                lit.push('.');
                lit.push(c1);
                self.scan_digits(&mut lit);
            } else {
                self.r.unread();
            }
        } else {
            self.r.unread();
        }
        if decimal {
            return tok_lit(Tok::Number, pos, lit);
        }
        let (c0, _) = self.r.read();
        if !(is_letter(c0) || c0 == 'µ') {
            self.r.unread();
            return tok_lit(Tok::Integer, pos, lit);
        }
        lit.push(c0);
        loop {
            let (c, _) = self.r.read();
            if !(is_letter(c) || c == 'µ') {
                self.r.unread();
                break;
            }
            lit.push(c);
        }
        loop {
            let (c, _) = self.r.read();
            if !(is_letter(c) || c == 'µ' || is_digit(c)) {
                self.r.unread();
                break;
            }
            lit.push(c);
        }
        tok_lit(Tok::DurationVal, pos, lit)
    }

    fn scan_digits(&mut self, out: &mut String) {
        loop {
            let (c, _) = self.r.read();
            if !is_digit(c) {
                self.r.unread();
                break;
            }
            out.push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(s: &str) -> Vec<(Tok, String)> {
        let mut sc = Scanner::new(s);
        let mut out = Vec::new();
        for _ in 0..100 {
            let t = sc.scan();
            if t.tok == Tok::Eof {
                break;
            }
            if t.tok != Tok::Ws {
                out.push((t.tok, t.lit));
            }
        }
        out
    }

    #[test]
    fn literals() {
        use Tok::*;
        let s = |v: &str| v.to_string();
        assert_eq!(
            all(r#"cpu "a \"b\"" 'it\'s' 10 1.5 .5 10s 1h30m 10µ $x $"a b" 2."#),
            vec![
                (Ident, s("cpu")),
                (Ident, s("a \"b\"")),
                (Str, s("it's")),
                (Integer, s("10")),
                (Number, s("1.5")),
                (Number, s(".5")),
                (DurationVal, s("10s")),
                (DurationVal, s("1h30m")),
                (DurationVal, s("10µ")),
                (BoundParam, s("$x")),
                (BoundParam, s("$a b")),
                (Number, s("2")),
            ]
        );
    }

    #[test]
    fn operators_and_comments() {
        use Tok::*;
        let toks: Vec<Tok> = all("a -- c\n=~ !~ <> <= :: /* x */ - / !")
            .into_iter()
            .map(|t| t.0)
            .collect();
        assert_eq!(
            toks,
            vec![
                Ident,
                Comment,
                EqRegex,
                NeqRegex,
                Neq,
                Lte,
                DoubleColon,
                Comment,
                Sub,
                Div,
                Illegal
            ]
        );
    }

    #[test]
    fn bad_strings() {
        assert_eq!(all("'abc")[0], (Tok::BadString, "abc".to_string()));
        assert_eq!(all(r"'a\qb'")[0], (Tok::BadEscape, r"\q".to_string()));
    }

    #[test]
    fn regex_escapes() {
        let mut sc = Scanner::new(r"/a\/b\d/");
        let t = sc.scan_regex();
        assert_eq!((t.tok, t.lit.as_str()), (Tok::Regex, r"a/b\d"));
    }
}
