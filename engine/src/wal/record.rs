//! Record framing: the segment header, write and close records, and the one function framing both.

use catalog::BucketId;
use lp::Precision;

pub(super) const MAGIC: &[u8; 4] = b"STWL";
/// Format written; format 1 (no salt, no close record, 8-byte header) is still read.
const VERSION: u16 = 2;
pub(super) const HEADER_V1_BYTES: usize = 8;
pub(super) const HEADER_BYTES: usize = 16;
pub(super) const RECORD_HEADER_BYTES: usize = 8;
const KIND_WRITE: u8 = 1;
pub(super) const KIND_CLOSE: u8 = 2;

/// The checksum salt of segment `seq` (format 2): a recycled file's older records fail the
/// checksum of the segment that reuses it. Never zero, so it never equals format 1's.
pub(super) fn salt(seq: u64) -> u32 {
    let mut z = seq.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) as u32) | 1
}

/// The header of segment `seq`, in the format written ([`VERSION`]).
pub(super) fn header(seq: u64) -> [u8; HEADER_BYTES] {
    let mut h = [0u8; HEADER_BYTES];
    h[..4].copy_from_slice(MAGIC);
    h[4..6].copy_from_slice(&VERSION.to_le_bytes());
    h[8..16].copy_from_slice(&seq.to_le_bytes());
    h
}

/// Frames a finished record — [`RECORD_HEADER_BYTES`] of room, then the payload — by writing
/// into that room the payload's length and its checksum xor `salt`. Every record reaches the
/// disk framed here: a write record by its request, unsalted ([`finish_record`]; the writer
/// salts it for the segment it goes into with [`salt_record`]), a close record at once, salted
/// ([`close_record`]).
fn frame(record: &mut [u8], salt: u32) {
    let payload_len = record.len().saturating_sub(RECORD_HEADER_BYTES) as u32;
    let crc = record
        .get(RECORD_HEADER_BYTES..)
        .map(crc32c::crc32c)
        .unwrap_or_default()
        ^ salt;
    if let Some(header) = record.get_mut(..RECORD_HEADER_BYTES) {
        header[..4].copy_from_slice(&payload_len.to_le_bytes());
        header[4..].copy_from_slice(&crc.to_le_bytes());
    }
}

/// Salts the checksum of a record [`frame`]d unsalted: the same bytes as framing it with
/// `salt`, without hashing the payload again.
pub(super) fn salt_record(record: &mut [u8], salt: u32) {
    if let Some(crc) = record.get_mut(4..RECORD_HEADER_BYTES) {
        let salted = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]) ^ salt;
        crc.copy_from_slice(&salted.to_le_bytes());
    }
}

/// The close record of a segment holding `records` write records, salted with `salt` (the
/// segment's).
pub(super) fn close_record(records: u64, salt: u32) -> Vec<u8> {
    let mut record = Vec::with_capacity(RECORD_HEADER_BYTES + 9);
    record.extend_from_slice(&[0; RECORD_HEADER_BYTES]);
    record.push(KIND_CLOSE);
    record.extend_from_slice(&records.to_le_bytes());
    frame(&mut record, salt);
    record
}

/// One accepted write, as logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WalWrite {
    pub(crate) bucket: BucketId,
    pub(crate) precision: Precision,
    pub(crate) default_time_ns: i64,
    pub(crate) body: Vec<u8>,
}

fn precision_code(p: Precision) -> u8 {
    match p {
        Precision::Nanoseconds => 0,
        Precision::Microseconds => 1,
        Precision::Milliseconds => 2,
        Precision::Seconds => 3,
        Precision::Minutes => 4,
        Precision::Hours => 5,
    }
}

fn precision_from(code: u8) -> Option<Precision> {
    Some(match code {
        0 => Precision::Nanoseconds,
        1 => Precision::Microseconds,
        2 => Precision::Milliseconds,
        3 => Precision::Seconds,
        4 => Precision::Minutes,
        5 => Precision::Hours,
        _ => return None,
    })
}

/// Appends the room for a record header and a write payload's fields before its body
/// ([`RECORD_PREFIX_BYTES`] in all).
fn push_write_prefix(
    out: &mut Vec<u8>,
    bucket: BucketId,
    precision: Precision,
    default_time_ns: i64,
) {
    out.extend_from_slice(&[0; RECORD_HEADER_BYTES]);
    out.push(KIND_WRITE);
    out.extend_from_slice(&bucket.0.to_le_bytes());
    out.push(precision_code(precision));
    out.extend_from_slice(&default_time_ns.to_le_bytes());
}

impl WalWrite {
    /// Appends the framed record (header + payload, unsalted) to `out` (tests frame records
    /// this way; the engine builds them in place with [`Self::begin_record`]).
    #[cfg(test)]
    pub(crate) fn frame_into(&self, out: &mut Vec<u8>) {
        let start = out.len();
        push_write_prefix(out, self.bucket, self.precision, self.default_time_ns);
        out.extend_from_slice(&self.body);
        finish_record(&mut out[start..]);
    }

    /// Starts a framed write record in `out` (cleared), to which [`push_line`] appends accepted
    /// lines and [`finish_record`] adds length and checksum: the record is built once, as the
    /// lines are accepted, instead of collecting them and framing a copy.
    pub(crate) fn begin_record(
        out: &mut Vec<u8>,
        bucket: BucketId,
        precision: Precision,
        default_time_ns: i64,
    ) {
        out.clear();
        push_write_prefix(out, bucket, precision, default_time_ns);
    }

    pub(super) fn decode(payload: &[u8]) -> Option<Self> {
        let (&kind, rest) = payload.split_first()?;
        if kind != KIND_WRITE || rest.len() < 17 {
            return None;
        }
        let (bucket, rest) = rest.split_at(8);
        let (&precision, rest) = rest.split_first()?;
        let (default_time, body) = rest.split_at(8);
        Some(WalWrite {
            bucket: BucketId(u64::from_le_bytes(bucket.try_into().ok()?)),
            precision: precision_from(precision)?,
            default_time_ns: i64::from_le_bytes(default_time.try_into().ok()?),
            body: body.to_vec(),
        })
    }
}

/// Bytes of a record begun by [`WalWrite::begin_record`] before its first line.
pub(crate) const RECORD_PREFIX_BYTES: usize = RECORD_HEADER_BYTES + 1 + 8 + 1 + 8;

/// Appends one accepted line to a record begun by [`WalWrite::begin_record`].
pub(crate) fn push_line(out: &mut Vec<u8>, line: &[u8]) {
    out.extend_from_slice(line);
    out.push(b'\n');
}

/// Completes a record begun by [`WalWrite::begin_record`]: its length and checksum, unsalted
/// (the request does not know the segment; the writer salts it).
pub(crate) fn finish_record(out: &mut [u8]) {
    frame(out, 0);
}
