//! The hash and the string comparison of the buffers' tag dictionaries and column indexes,
//! tuned for the short keys and values line protocol carries.

/// String equality without a `memcmp` call for the short keys and tag values that dominate
/// (two overlapping word loads for up to 16 bytes).
#[inline(always)]
pub(crate) fn eq_short(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let n = a.len();
    let word = |s: &[u8], at: usize| -> u64 {
        s.get(at..at + 8)
            .and_then(|w| w.try_into().ok())
            .map_or(0, u64::from_le_bytes)
    };
    let half = |s: &[u8], at: usize| -> u32 {
        s.get(at..at + 4)
            .and_then(|w| w.try_into().ok())
            .map_or(0, u32::from_le_bytes)
    };
    match n {
        0..=3 => a.iter().zip(b).all(|(x, y)| x == y),
        4..=7 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        _ => a == b,
    }
}

/// The hash of the tag dictionaries and column indexes. Tag values and names are short, and
/// SipHash (then FNV-1a, a byte at a time) was a large part of ingest time: this one folds up to
/// 8 bytes per step through one 64×64→128-bit multiply. Seeded once per process at random, so
/// clients cannot precompute values that collide in every server.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct WordHasher(u64);

const HASH_K: u64 = 0x9E37_79B9_7F4A_7C15;
const HASH_K2: u64 = 0xD6E8_FEB8_6659_FD93;

#[inline(always)]
fn fold_mul(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

impl std::hash::Hasher for WordHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let n = bytes.len();
        let word = |at: usize| -> u64 {
            bytes
                .get(at..at + 8)
                .and_then(|w| w.try_into().ok())
                .map_or(0, u64::from_le_bytes)
        };
        let half = |at: usize| -> u64 {
            bytes
                .get(at..at + 4)
                .and_then(|w| w.try_into().ok())
                .map_or(0, |w| u64::from(u32::from_le_bytes(w)))
        };
        // Overlapping loads cover short inputs without a byte loop or a copy.
        let (a, b) = match n {
            0 => (0, 0),
            1..=3 => {
                let at = |i: usize| u64::from(bytes.get(i).copied().unwrap_or(0));
                ((at(0) << 16) | (at(n / 2) << 8) | at(n - 1), 0)
            }
            4..=7 => (half(0), half(n - 4)),
            8..=16 => (word(0), word(n - 8)),
            _ => {
                let mut h = self.0;
                let mut at = 0;
                while at + 16 < n {
                    h = fold_mul(fold_mul(h ^ word(at), HASH_K) ^ word(at + 8), HASH_K2);
                    at += 16;
                }
                self.0 = h;
                (word(n - 16), word(n - 8))
            }
        };
        // One multiply per word, each against a constant: folding both words into one
        // product (a × b) collided on zero-padded numbers.
        self.0 = fold_mul(fold_mul(self.0 ^ a, HASH_K ^ n as u64) ^ b, HASH_K2);
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.0 = fold_mul(self.0 ^ u64::from(i), HASH_K);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.0 = fold_mul(self.0 ^ i as u64, HASH_K);
    }
}

/// Builds [`WordHasher`]s starting from the process's random seed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SeededWordHash(u64);

impl Default for SeededWordHash {
    fn default() -> Self {
        static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        SeededWordHash(*SEED.get_or_init(|| {
            use std::hash::BuildHasher;
            std::collections::hash_map::RandomState::new().hash_one(0x5EED_u64) | 1
        }))
    }
}

impl std::hash::BuildHasher for SeededWordHash {
    type Hasher = WordHasher;

    #[inline]
    fn build_hasher(&self) -> WordHasher {
        WordHasher(self.0)
    }
}

#[cfg(test)]
mod eq_short_tests {
    use super::eq_short;

    #[test]
    fn agrees_with_string_equality() {
        let words = [
            "",
            "a",
            "ab",
            "abc",
            "abcd",
            "abce",
            "host",
            "hosts",
            "abcdefg",
            "abcdefh",
            "abcdefgh",
            "abcdefgi",
            "bbcdefgh",
            "usage_user",
            "usage_usex",
            "usage_system_x",
            "a_rather_long_field_name_x",
            "a_rather_long_field_name_y",
            "é",
            "éa",
        ];
        for a in words {
            for b in words {
                assert_eq!(eq_short(a, b), a == b, "{a:?} vs {b:?}");
            }
        }
    }
}

#[cfg(test)]
mod word_hash_tests {
    use super::SeededWordHash;
    use std::collections::HashSet;
    use std::hash::BuildHasher;

    #[test]
    fn distinct_short_values_get_distinct_hashes() {
        let h = SeededWordHash::default();
        let mut seen = HashSet::new();
        let mut n = 0;
        for len in 0..40 {
            for i in 0..2000u32 {
                let v: String = format!("{i:0>len$}").chars().take(len.max(1)).collect();
                let v = if len == 0 { String::new() } else { v };
                if seen.insert(v.clone()) {
                    n += 1;
                }
            }
        }
        let hashes: HashSet<u64> = seen.iter().map(|v| h.hash_one(v.as_str())).collect();
        assert_eq!(hashes.len(), n, "a collision among {n} short strings");
        // Prefixes and a trailing zero byte are different values.
        assert_ne!(h.hash_one("a"), h.hash_one("a\0"));
        assert_ne!(h.hash_one("host-1"), h.hash_one("host-1 "));
    }
}
