//! The parse error, whose `Display` is 1.x's text to the character.
//!
//! The HTTP layer answers `400 {"error":"error parsing query: <this text>"}`, and clients (and
//! their users' scripts) match on it, so every message, position and expected-token list here
//! is 1.x's, including its odd corners (`bad regex:  at …` with two spaces, positionless
//! messages, errors reported at `line 1, char 1`).

use std::fmt;

use crate::token::{Pos, Token};

/// Why a query did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// `found X, expected A, B at line L, char C`.
    Unexpected {
        found: String,
        expected: Vec<String>,
        pos: Pos,
    },
    /// `<message> at line L, char C`.
    At { message: String, pos: Pos },
    /// A message with no position (1.x raises some errors without one).
    Bare(String),
}

impl ParseError {
    pub(crate) fn unexpected(t: &Token, expected: &[&str]) -> Self {
        ParseError {
            kind: Kind::Unexpected {
                found: t.found(),
                expected: expected.iter().map(|s| (*s).to_string()).collect(),
                pos: t.pos,
            },
        }
    }

    pub(crate) fn at(message: impl Into<String>, pos: Pos) -> Self {
        ParseError {
            kind: Kind::At {
                message: message.into(),
                pos,
            },
        }
    }

    pub(crate) fn bare(message: impl Into<String>) -> Self {
        ParseError {
            kind: Kind::Bare(message.into()),
        }
    }

    /// Where the error was found, when 1.x reports a position.
    pub fn pos(&self) -> Option<Pos> {
        match &self.kind {
            Kind::Unexpected { pos, .. } | Kind::At { pos, .. } => Some(*pos),
            Kind::Bare(_) => None,
        }
    }

    /// For `found X, expected …` errors: what was found (1.x's spelling of the token).
    pub fn found(&self) -> Option<&str> {
        match &self.kind {
            Kind::Unexpected { found, .. } => Some(found),
            _ => None,
        }
    }

    /// For `found X, expected …` errors: the expected alternatives, in 1.x's order.
    pub fn expected(&self) -> &[String] {
        match &self.kind {
            Kind::Unexpected { expected, .. } => expected,
            _ => &[],
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Unexpected {
                found,
                expected,
                pos,
            } => write!(
                f,
                "found {found}, expected {} at line {}, char {}",
                expected.join(", "),
                u64::from(pos.line) + 1,
                u64::from(pos.char) + 1
            ),
            Kind::At { message, pos } => write!(
                f,
                "{message} at line {}, char {}",
                u64::from(pos.line) + 1,
                u64::from(pos.char) + 1
            ),
            Kind::Bare(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for ParseError {}
