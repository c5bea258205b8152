//! Word-at-a-time scanning: the two loops that used to touch every byte of a body one at a
//! time. [`stop_mask`] classifies 64 bytes at once (which of them end an identifier), so the
//! parser finds a token's end with a shift and a trailing-zero count; [`digits`] folds up to
//! eight ASCII digits per step with SWAR arithmetic.
//!
//! Both read only inside the slice they are given and fall back to byte loops near its end.

/// Bytes that end an identifier (measurement, tag key/value, field key) or need a closer look.
pub(crate) static IDENT_STOP: [bool; 256] = {
    let mut t = [false; 256];
    t[b',' as usize] = true;
    t[b' ' as usize] = true;
    t[b'=' as usize] = true;
    t[b'\\' as usize] = true;
    t[b'\n' as usize] = true;
    t[b'\r' as usize] = true;
    t
};

/// Bit `k` is set iff `input[at + k]` is `"`, `\\` or a newline (what matters inside a quoted
/// string field), or `at + k == input.len()`.
#[inline]
pub(crate) fn string_mask(input: &[u8], at: usize) -> u64 {
    match input.get(at..at + 64) {
        Some(block) => block_mask_of(block, &STRING_BYTES),
        None => tail_mask(input, at, |b| STRING_BYTES.contains(&b)),
    }
}

const STRING_BYTES: [u8; 3] = [b'"', b'\\', b'\n'];
const IDENT_BYTES: [u8; 6] = [b',', b' ', b'=', b'\\', b'\n', b'\r'];

fn tail_mask(input: &[u8], at: usize, hit: impl Fn(u8) -> bool) -> u64 {
    let rest = input.get(at..).unwrap_or_default();
    let mut mask = 0u64;
    for (k, &b) in rest.iter().enumerate() {
        mask |= u64::from(hit(b)) << k;
    }
    // Only called with fewer than 64 bytes left, so the end-of-input bit fits.
    mask | (1u64 << rest.len())
}

/// The widest way this CPU has to classify 64 bytes at once, detected once per parser so that
/// the per-block path is one branch, not a feature check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Classifier {
    /// One 64-byte compare per byte value into a mask register (AVX-512BW).
    #[cfg(target_arch = "x86_64")]
    Avx512,
    /// Two 32-byte halves (AVX2).
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// [`block_mask_of`]: SSE2 quarters (or bytes, off x86_64).
    Portable,
}

impl Classifier {
    pub(crate) fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512bw") {
            return Classifier::Avx512;
        }
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            return Classifier::Avx2;
        }
        Classifier::Portable
    }

    /// [`stop_mask`], the same bits.
    #[inline(always)]
    pub(crate) fn stop_mask(self, input: &[u8], at: usize) -> u64 {
        match self {
            // SAFETY: `Avx512` is only ever produced by `detect` on a CPU with AVX-512BW.
            #[cfg(target_arch = "x86_64")]
            Classifier::Avx512 => unsafe { mask_avx512(input, at, &IDENT_BYTES) },
            // SAFETY: `Avx2` is only ever produced by `detect` on a CPU with AVX2.
            #[cfg(target_arch = "x86_64")]
            Classifier::Avx2 => unsafe { mask_avx2(input, at, &IDENT_BYTES) },
            Classifier::Portable => stop_mask(input, at),
        }
    }

    /// The length of the longest prefix of `bytes` that is all ASCII, rounded down to whole
    /// 64-byte blocks (or all of `bytes`): what UTF-8 validation can skip.
    #[inline]
    pub(crate) fn ascii_prefix(self, bytes: &[u8]) -> usize {
        match self {
            // SAFETY: as in `stop_mask`.
            #[cfg(target_arch = "x86_64")]
            Classifier::Avx512 => unsafe { ascii_prefix_avx512(bytes) },
            // AVX2 buys nothing over eight OR'd words here.
            _ => ascii_prefix_swar(bytes),
        }
    }

    /// [`string_mask`], the same bits.
    #[inline(always)]
    pub(crate) fn string_mask(self, input: &[u8], at: usize) -> u64 {
        match self {
            // SAFETY: as in `stop_mask`.
            #[cfg(target_arch = "x86_64")]
            Classifier::Avx512 => unsafe { mask_avx512(input, at, &STRING_BYTES) },
            // SAFETY: as in `stop_mask`.
            #[cfg(target_arch = "x86_64")]
            Classifier::Avx2 => unsafe { mask_avx2(input, at, &STRING_BYTES) },
            Classifier::Portable => string_mask(input, at),
        }
    }
}

/// [`mask_avx512`] with AVX2: the block as two 32-byte halves; near the end, byte by byte.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn mask_avx2<const N: usize>(input: &[u8], at: usize, bytes: &[u8; N]) -> u64 {
    use std::arch::x86_64::{
        __m256i, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_movemask_epi8, _mm256_or_si256,
        _mm256_set1_epi8, _mm256_setzero_si256,
    };
    let Some(block) = input.get(at..at + 64) else {
        return tail_mask(input, at, |b| bytes.contains(&b));
    };
    let p = block.as_ptr();
    // SAFETY: `block` is 64 readable bytes, so both 32-byte loads are in bounds; `loadu` has no
    // alignment requirement; the caller guarantees AVX2.
    let (a, b) = unsafe {
        (
            _mm256_loadu_si256(p.cast::<__m256i>()),
            _mm256_loadu_si256(p.add(32).cast::<__m256i>()),
        )
    };
    let (mut ha, mut hb) = (_mm256_setzero_si256(), _mm256_setzero_si256());
    for &c in bytes {
        let splat = _mm256_set1_epi8(c as i8);
        ha = _mm256_or_si256(ha, _mm256_cmpeq_epi8(a, splat));
        hb = _mm256_or_si256(hb, _mm256_cmpeq_epi8(b, splat));
    }
    u64::from(_mm256_movemask_epi8(ha) as u32) | (u64::from(_mm256_movemask_epi8(hb) as u32) << 32)
}

/// [`Classifier::ascii_prefix`] with AVX-512BW: one sign-bit mask per 64 bytes.
///
/// # Safety
/// The CPU must support AVX-512BW.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512bw")]
unsafe fn ascii_prefix_avx512(bytes: &[u8]) -> usize {
    use std::arch::x86_64::{_mm512_loadu_si512, _mm512_movepi8_mask};
    let mut i = 0;
    while let Some(block) = bytes.get(i..i + 64) {
        // SAFETY: `block` is 64 readable bytes; the caller guarantees AVX-512BW.
        let v = unsafe { _mm512_loadu_si512(block.as_ptr().cast()) };
        if _mm512_movepi8_mask(v) != 0 {
            return i;
        }
        i += 64;
    }
    if bytes.get(i..).is_some_and(|rest| rest.is_ascii()) {
        return bytes.len();
    }
    i
}

/// [`Classifier::ascii_prefix`] eight words at a time.
fn ascii_prefix_swar(bytes: &[u8]) -> usize {
    let mut i = 0;
    while let Some(block) = bytes.get(i..i + 64) {
        let any_high = block
            .chunks_exact(8)
            .map(|w| w.try_into().map_or(u64::MAX, u64::from_le_bytes))
            .fold(0, |acc, w| acc | w);
        if any_high & 0x8080_8080_8080_8080 != 0 {
            return i;
        }
        i += 64;
    }
    if bytes.get(i..).is_some_and(|rest| rest.is_ascii()) {
        return bytes.len();
    }
    i
}

/// Bit `k` set iff `input[at + k]` is one of `bytes`, or `at + k == input.len()`; bits past
/// the end clear. Near the end a masked load reads only the bytes that exist.
///
/// # Safety
/// The CPU must support AVX-512BW.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512bw")]
unsafe fn mask_avx512<const N: usize>(input: &[u8], at: usize, bytes: &[u8; N]) -> u64 {
    use std::arch::x86_64::{
        _mm512_cmpeq_epi8_mask, _mm512_loadu_si512, _mm512_maskz_loadu_epi8, _mm512_set1_epi8,
    };
    let rest = input.get(at..).unwrap_or_default();
    let n = rest.len();
    // SAFETY: with 64 or more bytes left, the unaligned load reads 64 of them; with fewer, the
    // load is masked to the `n` that exist (masked-off bytes are not accessed and read as 0,
    // which is none of `bytes`). The caller guarantees AVX-512BW.
    let v = unsafe {
        if n >= 64 {
            _mm512_loadu_si512(rest.as_ptr().cast())
        } else {
            _mm512_maskz_loadu_epi8((1u64 << n) - 1, rest.as_ptr().cast())
        }
    };
    let mut m = 0u64;
    for &c in bytes {
        m |= _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(c as i8));
    }
    if n < 64 {
        m |= 1u64 << n;
    }
    m
}

/// Bit `k` is set iff `input[at + k]` is in [`IDENT_STOP`] or `at + k == input.len()` (the end
/// of input stops every scan). Bits for positions past the end are clear.
#[inline]
pub(crate) fn stop_mask(input: &[u8], at: usize) -> u64 {
    match input.get(at..at + 64) {
        Some(block) => block_mask_of(block, &IDENT_BYTES),
        None => tail_mask(input, at, |b| IDENT_STOP[b as usize]),
    }
}

/// Bit `k` set iff `block[k]` is one of `bytes` (`block` is 64 bytes), with SSE2 (the x86_64
/// baseline); [`Classifier`] takes the wider paths when the CPU has them.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn block_mask_of<const N: usize>(block: &[u8], bytes: &[u8; N]) -> u64 {
    block_mask_sse2(block, bytes)
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn block_mask_sse2<const N: usize>(block: &[u8], bytes: &[u8; N]) -> u64 {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
        _mm_setzero_si128,
    };
    let mut mask = 0u64;
    for (k, chunk) in block.chunks_exact(16).enumerate() {
        // SAFETY: `chunk` is exactly 16 readable bytes (chunks_exact) and `loadu` has no
        // alignment requirement; SSE2 is part of the x86_64 baseline, so every instruction here
        // exists on any CPU this code is compiled for.
        let hits = unsafe {
            let v = _mm_loadu_si128(chunk.as_ptr().cast::<__m128i>());
            let mut hit = _mm_setzero_si128();
            for &c in bytes {
                hit = _mm_or_si128(hit, _mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8)));
            }
            _mm_movemask_epi8(hit)
        };
        mask |= u64::from(hits as u16) << (k * 16);
    }
    mask
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn block_mask_of<const N: usize>(block: &[u8], bytes: &[u8; N]) -> u64 {
    let mut mask = 0u64;
    for (k, &b) in block.iter().enumerate() {
        mask |= u64::from(bytes.contains(&b)) << k;
    }
    mask
}

const ZEROS: u64 = 0x3030_3030_3030_3030;

/// How many of the 8 bytes of `w` (first byte lowest) are ASCII digits before the first
/// non-digit (8 if all are).
#[inline(always)]
fn leading_digits(w: u64) -> usize {
    (non_digits(w).trailing_zeros() / 8) as usize
}

/// The high bit of each byte of `w` that is not an ASCII digit.
#[inline(always)]
fn non_digits(w: u64) -> u64 {
    let x = w ^ ZEROS;
    // A byte of `x` is a digit iff it is below 10. Masking to 7 bits before adding keeps every
    // byte's sum under 0x100 (no carry into the next byte); `| x` catches bytes >= 0x80.
    (((x & 0x7F7F_7F7F_7F7F_7F7F) + 0x7676_7676_7676_7676) | x) & 0x8080_8080_8080_8080
}

/// The value of 8 ASCII digits, the first in the lowest byte.
#[inline(always)]
fn eight_digits(w: u64) -> u64 {
    let v = w.wrapping_sub(ZEROS);
    // Pairs: byte 2k becomes 10 * d(2k) + d(2k+1).
    let v = v.wrapping_mul(10).wrapping_add(v >> 8);
    let hi = (v & 0x0000_00FF_0000_00FF).wrapping_mul(100 + (1_000_000 << 32));
    let lo = ((v >> 16) & 0x0000_00FF_0000_00FF).wrapping_mul(1 + (10_000 << 32));
    (hi.wrapping_add(lo) >> 32) & 0xFFFF_FFFF
}

/// A number of the form `digits[.digits]` that ends inside one 8-byte word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ShortNumber {
    /// Offset of the first byte after the number.
    pub(crate) end: usize,
    pub(crate) int_digits: usize,
    pub(crate) frac_digits: usize,
    pub(crate) dot: bool,
    /// All digits (integer then fraction) as one integer.
    pub(crate) mantissa: u64,
}

/// Reads `digits[.digits]` at `i` if it ends (at a byte that is neither a digit nor a second
/// dot) within the 8 bytes from `i`: one load, two masks and one [`eight_digits`], instead of a
/// loop per digit run. `None` when it does not fit or fewer than 8 bytes are left.
#[inline(always)]
pub(crate) fn short_number(input: &[u8], i: usize) -> Option<ShortNumber> {
    let w = input
        .get(i..i + 8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_le_bytes)?;
    let non_digit = non_digits(w);
    let n1 = (non_digit.trailing_zeros() / 8) as usize;
    if n1 == 8 {
        return None;
    }
    let dot = (w >> (8 * n1)) as u8 == b'.';
    let (digits, packed, end) = if dot {
        let rest = non_digit & !(0x80u64 << (8 * n1));
        let p2 = (rest.trailing_zeros() / 8) as usize;
        if p2 == 8 {
            return None;
        }
        // Close the gap of the dot: bytes after it move down one place.
        let low = (1u64 << (8 * n1)) - 1;
        (p2 - 1, (w & low) | ((w >> 8) & !low), p2)
    } else {
        (n1, w, n1)
    };
    let mantissa = if digits == 0 {
        0
    } else {
        // `digits` < 8 here: keep them at the top, '0' bytes below.
        eight_digits((packed << (8 * (8 - digits))) | (ZEROS >> (8 * digits)))
    };
    Some(ShortNumber {
        end: i + end,
        int_digits: n1,
        frac_digits: digits - n1.min(digits),
        dot,
        mantissa,
    })
}

static POW10_U64: [u64; 9] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
];

/// Consumes ASCII digits from `i`, folding them into `acc` (wrapping: callers bound the digit
/// count before trusting the value); returns where the digits end and the value.
#[inline(always)]
pub(crate) fn digits(input: &[u8], mut i: usize, mut acc: u64) -> (usize, u64) {
    while let Some(w) = input
        .get(i..i + 8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_le_bytes)
    {
        let n = leading_digits(w);
        if n == 0 {
            return (i, acc);
        }
        // Keep the n digits, shifted to the top, with '0' bytes below them: an 8-digit number
        // with leading zeros.
        let padded = if n == 8 {
            w
        } else {
            (w << (8 * (8 - n))) | (ZEROS >> (8 * n))
        };
        acc = acc
            .wrapping_mul(POW10_U64[n])
            .wrapping_add(eight_digits(padded));
        i += n;
        if n < 8 {
            return (i, acc);
        }
    }
    while let Some(&b) = input.get(i) {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        acc = acc.wrapping_mul(10).wrapping_add(u64::from(d));
        i += 1;
    }
    (i, acc)
}

/// Exactly 19 digits at `i` followed by a non-digit (a nanosecond timestamp of this century),
/// read as three words with no loop: the value and where the digits end. `None` for any other
/// shape, or when fewer than 24 bytes are left.
#[inline(always)]
pub(crate) fn nineteen_digits(input: &[u8], i: usize) -> Option<(usize, u64)> {
    let word = |at: usize| {
        input
            .get(at..at + 8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_le_bytes)
    };
    let (w0, w1, w2) = (word(i)?, word(i + 8)?, word(i + 16)?);
    // Bytes 0-2 of the third word are digits, byte 3 is not.
    if non_digits(w0) | non_digits(w1) != 0 || non_digits(w2) & 0x8080_8080 != 0x8000_0000 {
        return None;
    }
    let last3 = eight_digits((w2 << 40) | (ZEROS >> 24));
    Some((
        i + 19,
        eight_digits(w0) * 100_000_000_000 + eight_digits(w1) * 1_000 + last3,
    ))
}

/// [`digits`] from zero, for long runs (timestamps have 19 digits): whole 8-digit words first.
#[inline(always)]
pub(crate) fn long_digits(input: &[u8], mut i: usize) -> (usize, u64) {
    let mut acc = 0u64;
    while let Some(w) = input
        .get(i..i + 8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_le_bytes)
    {
        if non_digits(w) != 0 {
            break;
        }
        acc = acc.wrapping_mul(100_000_000).wrapping_add(eight_digits(w));
        i += 8;
    }
    digits(input, i, acc)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digits_slow(input: &[u8], mut i: usize, mut acc: u64) -> (usize, u64) {
        while let Some(&b) = input.get(i) {
            if !b.is_ascii_digit() {
                break;
            }
            acc = acc.wrapping_mul(10).wrapping_add(u64::from(b - b'0'));
            i += 1;
        }
        (i, acc)
    }

    fn mask_slow(input: &[u8], at: usize) -> u64 {
        let mut m = 0;
        for k in 0..64 {
            match input.get(at + k) {
                Some(&b) if IDENT_STOP[b as usize] => m |= 1 << k,
                None if at + k == input.len() => m |= 1 << k,
                _ => {}
            }
        }
        m
    }

    #[test]
    fn digit_runs_of_every_length_and_neighbour() {
        let neighbours = [b' ', b',', b'.', b'i', b'/', b':', 0x80, 0xFF, b'\n', b'e'];
        for len in 0..=25 {
            for &n in &neighbours {
                for prefix in 0..3 {
                    let mut s: Vec<u8> = vec![b'x'; prefix];
                    s.extend((0..len).map(|k| b"9081726354"[k % 10]));
                    s.push(n);
                    s.extend_from_slice(b"12345678");
                    assert_eq!(
                        digits(&s, prefix, 7),
                        digits_slow(&s, prefix, 7),
                        "{:?}",
                        String::from_utf8_lossy(&s)
                    );
                    // The same run at the very end of the input (the byte-loop tail).
                    let end = prefix + len;
                    assert_eq!(
                        digits(&s[..end], prefix, 0),
                        digits_slow(&s[..end], prefix, 0)
                    );
                }
            }
        }
        assert_eq!(digits(b"00000000", 0, 0), (8, 0));
        assert_eq!(digits(b"99999999x", 0, 0), (8, 99_999_999));
        assert_eq!(
            digits(b"1700000000000000000 ", 0, 0),
            (19, 1_700_000_000_000_000_000)
        );
    }

    /// What `short_number` must agree with: the digit-run scanner, applied to each side of
    /// the dot.
    fn short_number_slow(input: &[u8], i: usize) -> Option<ShortNumber> {
        let (int_end, m) = digits_slow(input, i, 0);
        let dot = input.get(int_end) == Some(&b'.');
        let (end, mantissa) = if dot {
            digits_slow(input, int_end + 1, m)
        } else {
            (int_end, m)
        };
        (end < i + 8 && input.len() >= i + 8).then_some(ShortNumber {
            end,
            int_digits: int_end - i,
            frac_digits: if dot { end - int_end - 1 } else { 0 },
            dot,
            mantissa,
        })
    }

    #[test]
    fn short_numbers_agree_with_digit_runs() {
        let alphabet = b"0123456789..i, x";
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..200_000 {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let len = (rng % 11) as usize;
            let s: Vec<u8> = (0..len)
                .map(|k| alphabet[((rng >> (4 * k)) % alphabet.len() as u64) as usize])
                .collect();
            for i in 0..=len.min(3) {
                assert_eq!(
                    short_number(&s, i),
                    short_number_slow(&s, i),
                    "{:?} at {i}",
                    String::from_utf8_lossy(&s)
                );
            }
        }
        let n = short_number(b"12.34,usage", 0).expect("fits");
        assert_eq!(
            (n.end, n.mantissa, n.int_digits, n.frac_digits),
            (5, 1234, 2, 2)
        );
    }

    /// Every classifier this CPU can run.
    fn classifiers() -> Vec<Classifier> {
        let mut all = vec![Classifier::Portable];
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                all.push(Classifier::Avx2);
            }
            if std::arch::is_x86_feature_detected!("avx512bw") {
                all.push(Classifier::Avx512);
            }
        }
        all
    }

    #[test]
    fn nineteen_digit_runs_agree_with_digit_runs() {
        let cases: [&[u8]; 7] = [
            b"1700000000000000000\n12345",
            b"9999999999999999999 xxxxx",
            b"0000000000000000001,xxxxx",
            b"17000000000000000001xxxxx",
            b"170000000000000000\nxxxxxx",
            b"1700000000000000000",
            b"1700000000000000000\n1234",
        ];
        for c in cases {
            let slow = digits_slow(c, 0, 0);
            let fast = nineteen_digits(c, 0);
            if slow.0 == 19 && c.len() >= 24 {
                assert_eq!(fast, Some(slow), "{:?}", String::from_utf8_lossy(c));
            } else {
                assert_eq!(fast, None, "{:?}", String::from_utf8_lossy(c));
            }
        }
    }

    #[test]
    fn ascii_prefixes_stop_at_the_first_block_with_a_high_byte() {
        for len in [0usize, 1, 63, 64, 65, 130, 200] {
            let ascii = vec![b'a'; len];
            for c in classifiers() {
                assert_eq!(c.ascii_prefix(&ascii), len, "{c:?}");
            }
            for at in [0, len / 2, len.saturating_sub(1)] {
                if at >= len {
                    continue;
                }
                let mut b = ascii.clone();
                b[at] = 0xC3;
                let want = at / 64 * 64;
                for c in classifiers() {
                    assert_eq!(c.ascii_prefix(&b), want, "{c:?} len {len} at {at}");
                }
            }
        }
    }

    #[test]
    fn stop_masks_match_the_table() {
        let mut rng = 0x1234_5678_9abc_def0u64;
        let alphabet = b"ab,= \\\n\r\"x09";
        for len in [0usize, 1, 5, 63, 64, 65, 127, 128, 200] {
            let body: Vec<u8> = (0..len)
                .map(|_| {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    alphabet[(rng % alphabet.len() as u64) as usize]
                })
                .collect();
            for at in 0..=len {
                assert_eq!(
                    stop_mask(&body, at),
                    mask_slow(&body, at),
                    "len {len} at {at}"
                );
                for c in classifiers() {
                    assert_eq!(
                        c.stop_mask(&body, at),
                        mask_slow(&body, at),
                        "{c:?} len {len} at {at}"
                    );
                    assert_eq!(c.string_mask(&body, at), string_mask(&body, at), "{c:?}");
                }
                // The SSE2 path, whichever one this CPU takes.
                #[cfg(target_arch = "x86_64")]
                if let Some(block) = body.get(at..at + 64) {
                    assert_eq!(block_mask_sse2(block, &IDENT_BYTES), mask_slow(&body, at));
                }
            }
        }
    }
}
