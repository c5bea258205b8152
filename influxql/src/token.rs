//! Token kinds and keywords, with the names 1.x prints for them in `found X, expected Y`.

/// Defines [`Keyword`] with its upper-case spelling; the order is 1.x's (`token.go`), which only
/// matters for readability: every expected-token list is written out where it is raised.
macro_rules! keywords {
    ($($variant:ident => $text:literal,)*) => {
        /// A reserved word. Keywords are matched case-insensitively and only when unquoted.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(crate) enum Keyword {
            $($variant,)*
        }

        impl Keyword {
            const ALL: &'static [Keyword] = &[$(Keyword::$variant,)*];

            /// The spelling 1.x prints in error messages (always upper case).
            pub(crate) fn as_str(self) -> &'static str {
                match self {
                    $(Keyword::$variant => $text,)*
                }
            }
        }
    };
}

keywords! {
    All => "ALL", Alter => "ALTER", Analyze => "ANALYZE", Any => "ANY", As => "AS", Asc => "ASC",
    Begin => "BEGIN", By => "BY", Cardinality => "CARDINALITY", Create => "CREATE",
    Continuous => "CONTINUOUS", Database => "DATABASE", Databases => "DATABASES",
    Default => "DEFAULT", Delete => "DELETE", Desc => "DESC", Destinations => "DESTINATIONS",
    Diagnostics => "DIAGNOSTICS", Distinct => "DISTINCT", Drop => "DROP", Duration => "DURATION",
    End => "END", Every => "EVERY", Exact => "EXACT", Explain => "EXPLAIN", Field => "FIELD",
    For => "FOR", From => "FROM", Grant => "GRANT", Grants => "GRANTS", Group => "GROUP",
    Groups => "GROUPS", In => "IN", Inf => "INF", Insert => "INSERT", Into => "INTO", Key => "KEY",
    Keys => "KEYS", Kill => "KILL", Limit => "LIMIT", Measurement => "MEASUREMENT",
    Measurements => "MEASUREMENTS", Name => "NAME", Offset => "OFFSET", On => "ON",
    Order => "ORDER", Password => "PASSWORD", Policy => "POLICY", Policies => "POLICIES",
    Privileges => "PRIVILEGES", Queries => "QUERIES", Query => "QUERY", Read => "READ",
    Replication => "REPLICATION", Resample => "RESAMPLE", Retention => "RETENTION",
    Revoke => "REVOKE", Select => "SELECT", Series => "SERIES", Set => "SET", Show => "SHOW",
    Shard => "SHARD", Shards => "SHARDS", Slimit => "SLIMIT", Soffset => "SOFFSET",
    Stats => "STATS", Subscription => "SUBSCRIPTION", Subscriptions => "SUBSCRIPTIONS",
    Tag => "TAG", To => "TO", User => "USER", Users => "USERS", Values => "VALUES",
    Where => "WHERE", With => "WITH", Write => "WRITE",
}

/// What the scanner recognised. `lit` on [`Token`] carries the text where there is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok {
    Illegal,
    Eof,
    Ws,
    Comment,
    Ident,
    BoundParam,
    Number,
    Integer,
    DurationVal,
    Str,
    BadString,
    BadEscape,
    True,
    False,
    Regex,
    BadRegex,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    BitAnd,
    BitOr,
    BitXor,
    And,
    Or,
    Eq,
    Neq,
    EqRegex,
    NeqRegex,
    Lt,
    Lte,
    Gt,
    Gte,
    LParen,
    RParen,
    Comma,
    Colon,
    DoubleColon,
    Semicolon,
    Dot,
    Kw(Keyword),
}

impl Tok {
    /// 1.x's name for the token; empty for the few it never names (comments, bound parameters,
    /// bad regexes), which is why such a token with no text prints as nothing.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Tok::Illegal => "ILLEGAL",
            Tok::Eof => "EOF",
            Tok::Ws => "WS",
            Tok::Comment | Tok::BoundParam | Tok::BadRegex => "",
            Tok::Ident => "IDENT",
            Tok::Number => "NUMBER",
            Tok::Integer => "INTEGER",
            Tok::DurationVal => "DURATIONVAL",
            Tok::Str => "STRING",
            Tok::BadString => "BADSTRING",
            Tok::BadEscape => "BADESCAPE",
            Tok::True => "TRUE",
            Tok::False => "FALSE",
            Tok::Regex => "REGEX",
            Tok::Add => "+",
            Tok::Sub => "-",
            Tok::Mul => "*",
            Tok::Div => "/",
            Tok::Mod => "%",
            Tok::BitAnd => "&",
            Tok::BitOr => "|",
            Tok::BitXor => "^",
            Tok::And => "AND",
            Tok::Or => "OR",
            Tok::Eq => "=",
            Tok::Neq => "!=",
            Tok::EqRegex => "=~",
            Tok::NeqRegex => "!~",
            Tok::Lt => "<",
            Tok::Lte => "<=",
            Tok::Gt => ">",
            Tok::Gte => ">=",
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::Comma => ",",
            Tok::Colon => ":",
            Tok::DoubleColon => "::",
            Tok::Semicolon => ";",
            Tok::Dot => ".",
            Tok::Kw(k) => k.as_str(),
        }
    }

    /// Whether the token is a keyword `k`.
    pub(crate) fn is(self, k: Keyword) -> bool {
        self == Tok::Kw(k)
    }
}

/// The token a word is: a keyword (including `AND`, `OR`, `TRUE`, `FALSE`) or an identifier.
/// Bare identifiers are ASCII, so ASCII case folding is all 1.x's lookup amounts to.
pub(crate) fn lookup(word: &str) -> Tok {
    if word.eq_ignore_ascii_case("and") {
        return Tok::And;
    }
    if word.eq_ignore_ascii_case("or") {
        return Tok::Or;
    }
    if word.eq_ignore_ascii_case("true") {
        return Tok::True;
    }
    if word.eq_ignore_ascii_case("false") {
        return Tok::False;
    }
    Keyword::ALL
        .iter()
        .find(|k| k.as_str().eq_ignore_ascii_case(word))
        .map_or(Tok::Ident, |k| Tok::Kw(*k))
}

/// A position as 1.x counts it: 0-based line and character (in chars, not bytes); printed
/// 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// 0-based line.
    pub line: u32,
    /// 0-based character within the line.
    pub char: u32,
}

/// One scanned token.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) pos: Pos,
    pub(crate) lit: String,
}

impl Token {
    /// How 1.x names this token after `found`: its text if it has any, else its kind.
    pub(crate) fn found(&self) -> String {
        if self.lit.is_empty() {
            self.tok.name().to_string()
        } else {
            self.lit.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_case_insensitive() {
        assert_eq!(lookup("select"), Tok::Kw(Keyword::Select));
        assert_eq!(lookup("SeLeCt"), Tok::Kw(Keyword::Select));
        assert_eq!(lookup("And"), Tok::And);
        assert_eq!(lookup("TRUE"), Tok::True);
        assert_eq!(lookup("cpu"), Tok::Ident);
        assert_eq!(lookup(""), Tok::Ident);
    }
}
