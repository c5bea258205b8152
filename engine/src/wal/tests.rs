use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use catalog::BucketId;
use lp::Precision;

use super::record::{close_record, header, salt, salt_record, HEADER_BYTES, RECORD_HEADER_BYTES};
use super::replay::record_at;
use super::segment::{open_segment, segment_path, DIRECT_BLOCK};
use super::spares::{list_spares, prepare_spare, spare_bytes_for, PREP_STEP_BYTES, SPARE_SUFFIX};
use super::writer::SPARE_CHECK_INTERVAL;
use super::*;

fn write(bucket: u64, body: &str) -> WalWrite {
    WalWrite {
        bucket: BucketId(bucket),
        precision: Precision::Seconds,
        default_time_ns: 42,
        body: body.as_bytes().to_vec(),
    }
}

/// The framed records of `writes`, salted for segment `seq` (what the writer thread does).
fn frames(seq: u64, writes: &[WalWrite]) -> Vec<u8> {
    let mut buf = Vec::new();
    for w in writes {
        let start = buf.len();
        w.frame_into(&mut buf);
        salt_record(&mut buf[start..], salt(seq));
    }
    buf
}

/// A segment holding `writes`, not closed (as the last segment is after a crash).
fn segment_with(dir: &Path, seq: u64, writes: &[WalWrite]) -> PathBuf {
    let seg = open_segment(dir, seq).expect("segment");
    seg.file
        .write_all_at(&frames(seq, writes), seg.pos)
        .expect("write");
    segment_path(dir, seq)
}

fn read_all(path: &Path) -> Vec<u8> {
    std::fs::read(path).expect("read")
}

#[test]
fn framing_round_trips() {
    let dir = tempfile::tempdir().expect("tempdir");
    let writes = [write(1, "a v=1"), write(2, "b v=2\nc v=3")];
    segment_with(dir.path(), 0, &writes);
    let got = read_segment(dir.path(), 0, true).expect("read");
    assert_eq!(got.writes, writes);
}

#[test]
fn empty_segment_has_no_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = segment_with(dir.path(), 3, &[]);
    assert!(read_segment(dir.path(), 3, true)
        .expect("read")
        .writes
        .is_empty());
    // Cut to its header at that start-up, it then reads as a clean non-last segment.
    assert_eq!(read_all(&path).len(), HEADER_BYTES);
    assert!(read_segment(dir.path(), 3, false).is_ok());
    // A last segment whose header never reached the disk is made a valid empty one.
    std::fs::write(segment_path(dir.path(), 4), b"ST").expect("write");
    assert_eq!(
        read_segment(dir.path(), 4, true).expect("read").torn_bytes,
        2
    );
    assert!(read_segment(dir.path(), 4, false).is_ok());
}

#[test]
fn torn_tail_of_last_segment_is_cut() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = segment_with(dir.path(), 0, &[write(1, "a v=1"), write(1, "b v=2")]);
    let full = read_all(&path);
    let end = HEADER_BYTES + frames(0, &[write(1, "a v=1"), write(1, "b v=2")]).len();
    std::fs::write(&path, &full[..end - 3]).expect("tear");
    let got = read_segment(dir.path(), 0, true).expect("read");
    assert_eq!(got.writes, [write(1, "a v=1")]);
    assert!(got.torn_bytes > 0);
    // the cut is durable: reading again finds a clean segment
    let again = read_segment(dir.path(), 0, true).expect("read");
    assert_eq!((again.writes.len(), again.torn_bytes), (1, 0));
    // a torn record in a segment that is not the last is corruption
    std::fs::write(&path, &full[..end - 3]).expect("tear");
    assert!(read_segment(dir.path(), 0, false).is_err());
}

#[test]
fn bad_crc_in_the_middle_is_a_loud_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = segment_with(
        dir.path(),
        0,
        &[write(1, "a v=1"), write(1, "b v=2"), write(1, "c v=3")],
    );
    let mut bytes = read_all(&path);
    // flip a byte in the first record's body
    let idx = HEADER_BYTES + RECORD_HEADER_BYTES + 20;
    bytes[idx] ^= 0xff;
    std::fs::write(&path, &bytes).expect("write");
    let err = read_segment(dir.path(), 0, true).expect_err("corrupt");
    let msg = err.to_string();
    assert!(msg.contains("corrupt") && msg.contains("checksum"), "{msg}");
    assert!(msg.contains("00000000000000000000.wal"), "{msg}");
}

/// A reused file keeps an older segment's records after the new ones: they are never read as
/// part of the new segment, whether it was closed or cut short by a crash.
#[test]
fn a_recycled_file_never_replays_its_old_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    let old = [
        write(1, "old v=1"),
        write(1, "old v=2"),
        write(1, "old v=3"),
    ];
    let path = segment_with(dir.path(), 5, &old);
    std::fs::rename(&path, dir.path().join(format!("spare-5{SPARE_SUFFIX}"))).expect("spare");
    // Segment 9 reuses the file: one new record, then (crash) the old ones follow.
    let seg = open_segment(dir.path(), 9).expect("segment");
    assert!(
        seg.allocated > HEADER_BYTES as u64,
        "the spare's blocks came along"
    );
    seg.file
        .write_all_at(&frames(9, &[write(2, "new v=1")]), seg.pos)
        .expect("write");
    let bytes = read_all(&segment_path(dir.path(), 9));
    let got = read_segment(dir.path(), 9, true).expect("last segment reads");
    assert_eq!(got.writes, [write(2, "new v=1")]);
    assert!(got.torn_bytes > 0);
    // Not cut and not closed, as a non-last segment it is refused.
    std::fs::write(segment_path(dir.path(), 9), &bytes).expect("restore");
    assert!(read_segment(dir.path(), 9, false).is_err());
}

/// A format-1 segment from an older version (8-byte header, unsalted checksums) still reads.
#[test]
fn format_1_segments_still_replay() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut bytes = b"STWL\x01\x00\x00\x00".to_vec();
    for w in [write(1, "a v=1"), write(3, "b v=2")] {
        w.frame_into(&mut bytes);
    }
    std::fs::write(segment_path(dir.path(), 2), &bytes).expect("write");
    let got = read_segment(dir.path(), 2, false).expect("read");
    assert_eq!(got.writes, [write(1, "a v=1"), write(3, "b v=2")]);
}

/// Waits (at most 10 s) until the helper thread has prepared a spare.
fn wait_for_spare(dir: &Path) {
    let started = Instant::now();
    while list_spares(dir).expect("spares").is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no spare prepared"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[tokio::test]
async fn group_commit_close_records_and_spares() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wal = Wal::start(dir.path().to_path_buf(), 0).expect("start");
    // With no spare at start, the helper zero-fills one (and then none for PREP_INTERVAL).
    wait_for_spare(dir.path());
    let mut acks = Vec::new();
    for i in 0..50 {
        let mut rec = Vec::new();
        write(1, &format!("m v={i}")).frame_into(&mut rec);
        acks.push(wal.append(rec).expect("append"));
    }
    for a in acks {
        a.await.expect("answered").expect("durable");
    }
    assert!(wal.stats.syncs.load(Ordering::Relaxed) <= 50);
    assert_eq!(wal.stats.records.load(Ordering::Relaxed), 50);
    let closed = wal.rotate().expect("rotate");
    let segments = list_segments(dir.path()).expect("list");
    assert_eq!(segments.last(), Some(&(closed + 1)));
    // Everything written is in the segments up to the closed one, each ending in its close
    // record (reserved space after it is ignored).
    let mut got = Vec::new();
    for &s in segments.iter().filter(|&&s| s <= closed) {
        got.extend(read_segment(dir.path(), s, false).expect("read").writes);
    }
    assert_eq!(got.len(), 50);
    assert_eq!(got[7], write(1, "m v=7"));
    // Released segments become spares (at most SPARES_MAX), and the next segment reuses one.
    assert!(release_through(dir.path(), closed).expect("release") >= 1);
    let spares = list_spares(dir.path()).expect("spares").len();
    // Every released segment is a spare now. Segment `closed + 1` is the zero-filled spare —
    // or a new file, reserved as large, when the writer already left segment 0 for that spare
    // during the appends (a new segment's reserved blocks are unwritten: it moves to a spare
    // at once, see the next test, if the spare took longer than SPARE_CHECK_INTERVAL to come).
    assert!(closed <= 1, "closed {closed}");
    assert_eq!(spares, closed as usize + 1);
    assert_eq!(
        std::fs::metadata(segment_path(dir.path(), closed + 1))
            .expect("segment")
            .len(),
        RESERVED_BYTES
    );
    let next = wal.rotate().expect("rotate");
    assert_eq!(next, closed + 1);
    assert_eq!(
        list_spares(dir.path()).expect("spares").len(),
        spares - 1,
        "the new segment took a spare"
    );
    wal.stop();
    // A stopped WAL keeps no reserved or recycled tail after its last record.
    let open = segment_path(dir.path(), next + 1);
    assert_eq!(
        std::fs::metadata(&open).expect("segment").len(),
        HEADER_BYTES as u64
    );
    let got = read_segment(dir.path(), next + 1, true).expect("trimmed segment reads");
    assert!(got.writes.is_empty() && got.torn_bytes == 0);
}

#[tokio::test]
async fn moves_to_a_spare_before_a_write_would_grow_the_segment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wal = Wal::start(dir.path().to_path_buf(), 0).expect("start");
    wait_for_spare(dir.path());
    // A second spare, so that the writer has somewhere to go once the first is nearly full.
    std::fs::write(
        dir.path().join(format!("spare-test{SPARE_SUFFIX}")),
        vec![0u8; RESERVED_BYTES as usize],
    )
    .expect("spare");
    let big = format!("m s=\"{}\"", "x".repeat(1 << 20));
    for _ in 0..12 {
        // Past the spare-listing throttle, so that only the size rule decides.
        std::thread::sleep(SPARE_CHECK_INTERVAL + Duration::from_millis(10));
        let mut rec = Vec::new();
        write(1, &big).frame_into(&mut rec);
        wal.append(rec)
            .expect("append")
            .await
            .expect("answered")
            .expect("durable");
    }
    wal.stop();
    // Segment 0 is new (its reserved blocks are unwritten, so it is left at once); segments
    // 1 and 2 are the spares, each left before the group that would have outgrown it.
    for seq in 1..=2 {
        let len = std::fs::metadata(segment_path(dir.path(), seq))
            .expect("segment")
            .len();
        assert!(len <= RESERVED_BYTES, "segment {seq} grew to {len}");
    }
}

#[test]
fn spares_are_sized_for_the_load_that_asked_for_them() {
    assert_eq!(spare_bytes_for(HEADER_BYTES as u64), RESERVED_BYTES);
    assert_eq!(spare_bytes_for(RESERVED_BYTES), 2 * RESERVED_BYTES);
    assert_eq!(spare_bytes_for(20 << 20), SEGMENT_BYTES);
    assert_eq!(spare_bytes_for(u64::MAX), SEGMENT_BYTES);
}

#[test]
fn a_small_spare_is_extended_out_of_the_writers_reach() {
    let dir = tempfile::tempdir().expect("tempdir");
    let small = dir.path().join(format!("spare-a{SPARE_SUFFIX}"));
    std::fs::write(&small, b"old records").expect("spare");
    let grown = prepare_spare(dir.path(), 2 * PREP_STEP_BYTES, Some(&small))
        .expect("prepare")
        .expect("the spare was still there");
    assert!(!small.exists());
    assert_eq!(
        list_spares(dir.path()).expect("spares"),
        std::slice::from_ref(&grown)
    );
    assert_eq!(
        std::fs::metadata(&grown).expect("spare").len(),
        2 * PREP_STEP_BYTES
    );
    // Taken by a segment meanwhile: nothing to do.
    assert!(prepare_spare(dir.path(), 2 * PREP_STEP_BYTES, Some(&small))
        .expect("prepare")
        .is_none());
}

#[test]
fn salts_differ_between_segments() {
    let salts: std::collections::HashSet<u32> = (0..10_000).map(salt).collect();
    assert_eq!(salts.len(), 10_000);
    assert!(!salts.contains(&0));
}

#[test]
fn records_built_in_place_equal_framed_ones() {
    let w = WalWrite {
        bucket: BucketId(7),
        precision: Precision::Milliseconds,
        default_time_ns: -5,
        body: b"a v=1\nb v=2\n".to_vec(),
    };
    let mut framed = Vec::new();
    w.frame_into(&mut framed);
    let mut built = vec![1, 2, 3];
    WalWrite::begin_record(&mut built, w.bucket, w.precision, w.default_time_ns);
    push_line(&mut built, b"a v=1");
    push_line(&mut built, b"b v=2");
    finish_record(&mut built);
    assert_eq!(built, framed);
    assert_eq!(
        record_at(&built, 0, 0).map(|(p, n)| (WalWrite::decode(p), n)),
        Ok((Some(w), built.len()))
    );
}

/// The bytes of a segment header and of both kinds of record, laid out by hand from the format
/// in the `wal` module docs (checksums computed outside this code): framing must never change
/// them.
#[test]
fn headers_and_records_keep_their_bytes() {
    assert_eq!(
        header(3),
        [83, 84, 87, 76, 2, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0]
    );
    let mut record = Vec::new();
    WalWrite::begin_record(&mut record, BucketId(7), Precision::Milliseconds, -5);
    push_line(&mut record, b"a v=1");
    finish_record(&mut record);
    let payload = [
        1, 7, 0, 0, 0, 0, 0, 0, 0, 2, 251, 255, 255, 255, 255, 255, 255, 255, 97, 32, 118, 61, 49,
        10,
    ];
    assert_eq!(record[..8], [24, 0, 0, 0, 176, 193, 213, 249]);
    assert_eq!(record[8..], payload);
    // Salted for segment 3 (salt 0xdb01_8fed), as the writer thread writes it.
    salt_record(&mut record, salt(3));
    assert_eq!(record[..8], [24, 0, 0, 0, 93, 78, 212, 34]);
    assert_eq!(record[8..], payload);
    assert_eq!(
        close_record(50, salt(3)),
        [9, 0, 0, 0, 76, 171, 123, 150, 2, 50, 0, 0, 0, 0, 0, 0, 0]
    );
}

/// A record logged after a rotation was queued belongs in the next segment (its rows were not
/// taken by the flush that queued it), even when the writer is free and nothing is queued:
/// the WAL thread has taken the rotation off the queue but not done it yet.
#[tokio::test]
async fn a_record_logged_after_a_queued_rotation_goes_to_the_next_segment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wal = Wal::start(dir.path().to_path_buf(), 0).expect("start");
    // The race it guards against is lost often but not always: 60 rounds.
    for i in 0..60 {
        let held = wal.writer.lock();
        let rotation = wal.start_rotation().expect("rotation queued");
        // The WAL thread has the rotation and waits for the writer.
        let started = Instant::now();
        while !wal.sender().expect("sender").is_empty() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "WAL thread stuck"
            );
            std::thread::yield_now();
        }
        drop(held);
        let mut rec = Vec::new();
        write(1, &format!("m v={i}")).frame_into(&mut rec);
        let ack = wal.append(rec).expect("append");
        let closed = rotation.recv().expect("answered").expect("rotated");
        ack.await.expect("answered").expect("durable");
        let after = read_segment(dir.path(), closed + 1, true).expect("read");
        assert_eq!(
            after.writes,
            vec![write(1, &format!("m v={i}"))],
            "round {i}"
        );
    }
    wal.stop();
}

/// Records of every size around the block boundary, each written and synced on its own: the
/// direct path rewrites the open block's tail each time, and the file must read back as the
/// plain concatenation (the buffered path, forced, must give the same bytes).
#[test]
fn direct_and_buffered_writes_leave_the_same_records() {
    let sizes = [1usize, 7, 4000, 96, 4096, 4079, 1, 10_000, 8192, 3, 70_000];
    let mut files = Vec::new();
    for direct in [true, false] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut seg = open_segment(dir.path(), 3).expect("segment");
        if !direct {
            seg.direct = None;
            seg.tail.clear();
        }
        let writes: Vec<WalWrite> = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| write(i as u64, &"x".repeat(n)))
            .collect();
        let mut scratch = Vec::new();
        for w in &writes {
            let framed = frames(3, std::slice::from_ref(w));
            seg.write_durable(&framed, &mut scratch).expect("write");
            seg.pos += framed.len() as u64;
            if seg.direct.is_some() {
                assert_eq!(seg.tail.len() as u64, seg.pos % DIRECT_BLOCK as u64);
            }
        }
        let end = seg.pos as usize;
        drop(seg);
        let got = read_segment(dir.path(), 3, true).expect("reads");
        assert_eq!(got.writes, writes);
        let bytes = read_all(&segment_path(dir.path(), 3));
        assert_eq!(
            bytes.len(),
            end,
            "the zero padding after the last record is cut"
        );
        files.push(bytes);
    }
    assert_eq!(files[0], files[1]);
}
