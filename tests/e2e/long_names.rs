//! Measurement names of any valid length are stored under bounded directory names, flushed and
//! read back (the real name is in each file's metadata); a key past 1.x's limit is refused per
//! line; a table whose flush fails is held and retried while the others flush.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use strata_e2e::{client, parquet_measurement, read_parquet, render_rows, wait_for, TestServer};

/// The longest name a file system takes for one path segment.
const NAME_MAX: usize = 255;

fn names() -> Vec<String> {
    vec![
        format!("m{}", "a".repeat(299)),
        "n".repeat(60_000),
        // 200 bytes of non-ASCII (600 bytes once percent-encoded)
        "é".repeat(100),
        "cpu".to_owned(),
        // a name that would be a path trick if used raw
        "../up, and=more".to_owned(),
    ]
}

fn escape(name: &str) -> String {
    name.replace(',', "\\,").replace(' ', "\\ ")
}

/// Rows per measurement (the real name, from the file metadata) across every Parquet file.
fn stored(server: &TestServer) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for file in server.parquet_files() {
        let name = parquet_measurement(&file).expect("every file names its measurement");
        out.entry(name)
            .or_default()
            .extend(render_rows(&read_parquet(&file)));
    }
    for rows in out.values_mut() {
        rows.sort();
    }
    out
}

fn assert_segments_bounded(root: &Path) {
    for file in walk(root) {
        for part in file.strip_prefix(root).expect("under root").components() {
            let len = part.as_os_str().len();
            assert!(
                len <= 100,
                "path segment of {len} bytes in {}",
                file.display()
            );
            assert!(len <= NAME_MAX);
        }
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        }
        out.push(p);
    }
    out
}

fn health(server: &TestServer) -> (u16, serde_json::Value) {
    let resp = client().get(server.url("/health")).send().expect("health");
    let status = resp.status().as_u16();
    (status, resp.json().expect("json"))
}

#[test]
fn long_names_are_written_flushed_and_read_back_across_restarts() {
    let mut server = TestServer::spawn(&[]);
    let http = client();
    let names = names();
    let body: String = names
        .iter()
        .enumerate()
        .map(|(i, n)| format!("{},host=h{i} v={i}i 1000{i}\n", escape(n)))
        .collect();
    let resp = http
        .post(server.url("/write?db=db"))
        .body(body)
        .send()
        .expect("write");
    assert_eq!(resp.status(), 204, "{:?}", resp.text());

    // one line past the key limit: refused with the reason, the others in its body written
    let too_long = "k".repeat(65_536);
    let resp = http
        .post(server.url("/write?db=db"))
        .body(format!(
            "cpu,host=h9 v=9i 9\n{too_long} v=1i 1\ncpu,host=h9 v=10i 10\n"
        ))
        .send()
        .expect("write");
    assert_eq!(resp.status(), 400);
    let reply: serde_json::Value = resp.json().expect("json");
    let error = reply["error"].as_str().expect("error text");
    assert!(
        error.contains("max key length exceeded: 65536 > 65535"),
        "{}",
        &error[..error.len().min(300)]
    );
    assert_eq!(reply["written"], 2);

    let expected = |extra: bool| {
        let mut want: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (i, n) in names.iter().enumerate() {
            let mut rows = vec![format!("host=tag:h{i} v=i64:{i} time=ts:1000{i}")];
            if extra {
                rows.push(format!("host=tag:h{i} v=i64:{} time=ts:2000{i}", i + 100));
            }
            want.insert(n.clone(), rows);
        }
        let cpu = want.get_mut("cpu").expect("cpu");
        cpu.push("host=tag:h9 v=i64:9 time=ts:9".to_owned());
        cpu.push("host=tag:h9 v=i64:10 time=ts:10".to_owned());
        for rows in want.values_mut() {
            rows.sort();
        }
        want
    };
    let flushed = wait_for(Duration::from_secs(30), || {
        let got = stored(&server);
        (got == expected(false)).then_some(got)
    });
    assert!(
        flushed.is_some(),
        "not flushed as written: {:?}",
        stored(&server).keys().map(|k| k.len()).collect::<Vec<_>>()
    );
    let (status, body) = health(&server);
    assert_eq!(status, 200);
    assert_eq!(body["status"], "pass");
    assert_eq!(body["checks"], serde_json::json!([]), "{body}");

    // a restart changes nothing
    assert!(server.stop().success(), "{}", server.log());
    server.start();
    assert_eq!(stored(&server), expected(false));

    // more points on the same names land beside the first ones
    let body: String = names
        .iter()
        .enumerate()
        .map(|(i, n)| format!("{},host=h{i} v={}i 2000{i}\n", escape(n), i + 100))
        .collect();
    let resp = http
        .post(server.url("/write?db=db"))
        .body(body)
        .send()
        .expect("write");
    assert_eq!(resp.status(), 204);
    assert!(server.stop().success(), "{}", server.log());
    assert_eq!(stored(&server), expected(true));
    assert_segments_bounded(server.data_dir());
    server.start();
    let (status, _) = health(&server);
    assert_eq!(status, 200);
    assert_eq!(stored(&server), expected(true));
}

#[test]
fn a_long_name_in_the_wal_replays_and_flushes_after_a_crash() {
    // No flush before the kill: the only copy is the WAL record, as a directory written by an
    // earlier version that could not flush it would hold (the WAL format is unchanged).
    let mut server = TestServer::spawn(&["--flush-interval-ms=3600000"]);
    let name = "w".repeat(300);
    let resp = client()
        .post(server.url("/write?db=db"))
        .body(format!("{name} v=1i 1\nok v=2i 2\n"))
        .send()
        .expect("write");
    assert_eq!(resp.status(), 204);
    server.kill9();
    assert!(server.parquet_files().is_empty());
    server.start();
    let (status, _) = health(&server);
    assert_eq!(status, 200);
    assert!(server.stop().success(), "{}", server.log());
    let got = stored(&server);
    assert_eq!(got[&name], vec!["v=i64:1 time=ts:1"]);
    assert_eq!(got["ok"], vec!["v=i64:2 time=ts:2"]);
    assert_segments_bounded(server.data_dir());
}

#[test]
fn a_table_that_cannot_be_flushed_is_held_while_others_flush() {
    let server = TestServer::spawn(&[]);
    let http = client();
    let write = |body: &str| {
        let resp = http
            .post(server.url("/write?db=db"))
            .body(body.to_owned())
            .send()
            .expect("write");
        assert_eq!(resp.status(), 204, "{:?}", resp.text());
    };
    write("ok v=1i 1\n");
    let bucket_dir = wait_for(Duration::from_secs(30), || {
        let file = server.parquet_files().into_iter().next()?;
        // buckets/<id>/ok/<date>/<file>
        file.ancestors().nth(3).map(Path::to_path_buf)
    })
    .expect("first flush");
    // A plain file where the table's directory must go: every flush of `blocked` fails.
    let blocker = bucket_dir.join("blocked");
    std::fs::write(&blocker, b"not a directory").expect("blocker");
    write("blocked v=1i 1\nok v=2i 2\n");

    let problem = wait_for(Duration::from_secs(30), || {
        let (status, body) = health(&server);
        assert_eq!(status, 200, "a held table leaves the server healthy");
        let tables = body["checks"][0]["tables"].as_array()?.clone();
        (!tables.is_empty()).then_some(tables)
    })
    .expect("the failing table is reported");
    assert_eq!(problem[0]["measurement"], "blocked");
    assert_eq!(problem[0]["rows"], 1);

    // other tables keep flushing and writes keep being acknowledged
    write("ok v=3i 3\n");
    let others = wait_for(Duration::from_secs(30), || {
        let rows = stored(&server).remove("ok")?;
        (rows.len() == 3).then_some(rows)
    });
    assert!(others.is_some(), "{:?}", stored(&server));
    let metrics = http
        .get(server.url("/metrics"))
        .send()
        .expect("metrics")
        .text()
        .expect("text");
    assert!(
        metrics.contains("strata_flush_tables_failing 1"),
        "{metrics}"
    );
    assert!(server.log().contains("blocked"), "{}", server.log());

    // cause removed: the held rows are flushed by the back-off retry, once
    std::fs::remove_file(&blocker).expect("remove blocker");
    let healed = wait_for(Duration::from_secs(90), || {
        let rows = stored(&server).remove("blocked")?;
        Some(rows)
    })
    .expect("flushed once the cause is gone");
    assert_eq!(healed, vec!["v=i64:1 time=ts:1"]);
    let cleared = wait_for(Duration::from_secs(10), || {
        let (_, body) = health(&server);
        (body["checks"] == serde_json::json!([])).then_some(())
    });
    assert!(cleared.is_some());
}
