//! Characters with positions, and up to three characters of push-back.
//!
//! The scanner's error positions must match 1.x's to the character, and 1.x's come from a
//! reader with exactly this behaviour: `\r\n` and a lone `\r` read as `\n`; a NUL reads as end of
//! input; the first end-of-input read takes the position after the last character and every later
//! one the position after that. Reproducing the reader is simpler than reproducing its effects.

use crate::token::Pos;

/// What [`Reader::read`] returns at the end of input (and for a NUL, as 1.x).
pub(crate) const EOF: char = '\0';

const RING: usize = 3;

#[derive(Debug)]
pub(crate) struct Reader<'a> {
    chars: std::str::Chars<'a>,
    /// Position of the next character to read from `chars`.
    pos: Pos,
    seen_eof: bool,
    ring: [(char, Pos); RING],
    /// Index of the most recently read character in `ring`.
    i: usize,
    /// How many characters have been pushed back.
    n: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(input: &'a str) -> Self {
        Reader {
            chars: input.chars(),
            pos: Pos::default(),
            seen_eof: false,
            ring: [(EOF, Pos::default()); RING],
            i: 0,
            n: 0,
        }
    }

    /// The next character and its position.
    pub(crate) fn read(&mut self) -> (char, Pos) {
        if self.n > 0 {
            self.n -= 1;
            return self.curr();
        }
        let ch = match self.chars.next() {
            None => EOF,
            Some('\r') => {
                if self.chars.as_str().starts_with('\n') {
                    self.chars.next();
                }
                '\n'
            }
            Some(c) => c,
        };
        self.i = (self.i + 1) % RING;
        if let Some(slot) = self.ring.get_mut(self.i) {
            *slot = (ch, self.pos);
        }
        if ch == '\n' {
            self.pos.line = self.pos.line.saturating_add(1);
            self.pos.char = 0;
        } else if !self.seen_eof {
            self.pos.char = self.pos.char.saturating_add(1);
        }
        if ch == EOF {
            self.seen_eof = true;
        }
        self.curr()
    }

    /// Push the last read character back. At most [`RING`] deep, as 1.x.
    pub(crate) fn unread(&mut self) {
        self.n += 1;
    }

    /// The character a push-back would return next (the last one read when none is pending).
    pub(crate) fn curr(&self) -> (char, Pos) {
        let idx = (self.i + RING * RING - self.n % RING) % RING;
        self.ring.get(idx).copied().unwrap_or((EOF, Pos::default()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_is_one_newline_and_eof_positions_advance_once() {
        let mut r = Reader::new("a\r\nb");
        assert_eq!(r.read().0, 'a');
        assert_eq!(r.read().0, '\n');
        let (b, pos) = r.read();
        assert_eq!((b, pos), ('b', Pos { line: 1, char: 0 }));
        assert_eq!(r.read(), (EOF, Pos { line: 1, char: 1 }));
        assert_eq!(r.read(), (EOF, Pos { line: 1, char: 2 }));
        assert_eq!(r.read(), (EOF, Pos { line: 1, char: 2 }));
    }

    #[test]
    fn unread_replays() {
        let mut r = Reader::new("xy");
        r.read();
        r.read();
        r.unread();
        assert_eq!(r.curr().0, 'x');
        assert_eq!(r.read().0, 'y');
    }
}
