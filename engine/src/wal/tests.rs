use super::*;

fn write(bucket: u64, body: &str) -> WalWrite {
    WalWrite {
        bucket: BucketId(bucket),
        precision: Precision::Seconds,
        default_time_ns: 42,
        body: body.as_bytes().to_vec(),
    }
}

fn segment_with(dir: &Path, seq: u64, writes: &[WalWrite]) -> PathBuf {
    let mut f = create_segment(dir, seq).expect("segment");
    let mut buf = Vec::new();
    for w in writes {
        w.frame_into(&mut buf);
    }
    f.write_all(&buf).expect("write");
    segment_path(dir, seq)
}

#[test]
fn framing_round_trips() {
    let dir = tempfile::tempdir().expect("tempdir");
    let writes = [write(1, "a v=1"), write(2, "b v=2\nc v=3")];
    segment_with(dir.path(), 0, &writes);
    let got = read_segment(dir.path(), 0, false).expect("read");
    assert_eq!(got.writes, writes);
    assert_eq!(got.torn_bytes, 0);
}

#[test]
fn empty_segment_has_no_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    segment_with(dir.path(), 3, &[]);
    assert!(read_segment(dir.path(), 3, false)
        .expect("read")
        .writes
        .is_empty());
    // a last segment whose header never reached the disk
    std::fs::write(segment_path(dir.path(), 4), b"ST").expect("write");
    assert_eq!(
        read_segment(dir.path(), 4, true).expect("read").torn_bytes,
        2
    );
}

#[test]
fn torn_tail_of_last_segment_is_cut() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = segment_with(dir.path(), 0, &[write(1, "a v=1"), write(1, "b v=2")]);
    let full = std::fs::read(&path).expect("read");
    std::fs::write(&path, &full[..full.len() - 3]).expect("tear");
    let got = read_segment(dir.path(), 0, true).expect("read");
    assert_eq!(got.writes, [write(1, "a v=1")]);
    assert!(got.torn_bytes > 0);
    // the cut is durable: reading again finds a clean segment
    let again = read_segment(dir.path(), 0, true).expect("read");
    assert_eq!((again.writes.len(), again.torn_bytes), (1, 0));
    // a torn record in a segment that is not the last is corruption
    std::fs::write(&path, &full[..full.len() - 3]).expect("tear");
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
    let mut bytes = std::fs::read(&path).expect("read");
    // flip a byte in the first record's body
    let idx = HEADER_BYTES as usize + RECORD_HEADER_BYTES + 20;
    bytes[idx] ^= 0xff;
    std::fs::write(&path, &bytes).expect("write");
    let err = read_segment(dir.path(), 0, true).expect_err("corrupt");
    let msg = err.to_string();
    assert!(msg.contains("corrupt") && msg.contains("checksum"), "{msg}");
    assert!(msg.contains("00000000000000000000.wal"), "{msg}");
}

#[tokio::test]
async fn group_commit_acks_and_rotation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wal = Wal::start(dir.path().to_path_buf(), 0).expect("start");
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
    assert_eq!(wal.rotate().expect("rotate"), 0);
    assert_eq!(list_segments(dir.path()).expect("list"), [0, 1]);
    wal.stop();
    let got = read_segment(dir.path(), 0, false).expect("read");
    assert_eq!(got.writes.len(), 50);
    assert_eq!(got.writes[7], write(1, "m v=7"));
    assert_eq!(delete_through(dir.path(), 0).expect("delete"), 1);
    assert_eq!(list_segments(dir.path()).expect("list"), [1]);
}
