//! SQL on `/api/v3/query_sql` and `strata query --sql` through the real binary: rows are read
//! back before a flush, after one and while flushes run under a write load; a point written in
//! two flushes is one merged row; bad queries and callers get clear errors.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use strata_e2e::{anonymous_client, client, strata_bin, wait_for, TestServer, TOKEN};

fn sql(server: &TestServer, db: &str, q: &str) -> (u16, String) {
    let resp = client()
        .get(server.url("/api/v3/query_sql"))
        .query(&[("db", db), ("q", q)])
        .send()
        .expect("query");
    (resp.status().as_u16(), resp.text().expect("body"))
}

fn count(server: &TestServer, db: &str, measurement: &str) -> u64 {
    let (status, body) = sql(
        server,
        db,
        &format!("SELECT count(*) AS n FROM {measurement}"),
    );
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).expect("json");
    v[0]["n"]
        .as_u64()
        .unwrap_or_else(|| panic!("count in {body}"))
}

fn write(server: &TestServer, db: &str, body: &str) {
    let resp = client()
        .post(server.url(&format!("/write?db={db}")))
        .body(body.to_owned())
        .send()
        .expect("write");
    assert_eq!(resp.status(), 204, "{:?}", resp.text());
}

#[test]
fn rows_are_read_back_before_and_after_a_flush_and_a_rewritten_point_merges() {
    let mut server = TestServer::spawn(&["--flush-interval-ms=3600000"]);
    write(
        &server,
        "telegraf",
        "cpu,host=a usage=1,idle=9i 1000\ncpu,host=b usage=2 1000\n",
    );
    assert_eq!(count(&server, "telegraf", "cpu"), 2, "before any flush");
    // Stopping flushes; the next start reads the file.
    assert!(server.stop().success(), "{}", server.log());
    server.start();
    assert!(!server.parquet_files().is_empty());
    assert_eq!(count(&server, "telegraf", "cpu"), 2, "from the file");

    // The same point again: a new usage, idle untouched; then a second file.
    write(&server, "telegraf", "cpu,host=a usage=5 1000\n");
    assert!(server.stop().success(), "{}", server.log());
    server.start();
    assert_eq!(server.parquet_files().len(), 2);
    let (status, body) = sql(
        &server,
        "telegraf/autogen",
        "SELECT host, usage, idle, time FROM cpu ORDER BY host",
    );
    assert_eq!(status, 200, "{body}");
    let rows: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(rows.as_array().map(Vec::len), Some(2), "{body}");
    assert_eq!(rows[0]["host"], "a");
    assert_eq!(rows[0]["usage"], 5.0, "the later write wins");
    assert_eq!(rows[0]["idle"], 9, "the field it did not write is kept");
    assert_eq!(rows[1]["usage"], 2.0);

    // Formats.
    let get = |format: &str| {
        let resp = client()
            .get(server.url("/api/v3/query_sql"))
            .query(&[
                ("db", "telegraf"),
                ("q", "SELECT host, usage FROM cpu ORDER BY host"),
                ("format", format),
            ])
            .send()
            .expect("query");
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (
            resp.status().as_u16(),
            ct,
            resp.bytes().expect("body").to_vec(),
        )
    };
    let (status, ct, body) = get("csv");
    assert_eq!((status, ct.starts_with("text/csv")), (200, true));
    assert_eq!(String::from_utf8_lossy(&body), "host,usage\na,5.0\nb,2.0\n");
    let (_, _, body) = get("jsonl");
    assert_eq!(String::from_utf8_lossy(&body).lines().count(), 2);
    let (_, _, body) = get("pretty");
    assert!(String::from_utf8_lossy(&body).contains("| host | usage |"));
    let (_, _, body) = get("parquet");
    assert_eq!(&body[..4], b"PAR1");
    let (status, _, _) = get("xml");
    assert_eq!(status, 400);

    // POST with a JSON body, and the CLI.
    let resp = client()
        .post(server.url("/api/v3/query_sql"))
        .json(&json!({"db": "telegraf", "q": "SELECT count(*) AS n FROM cpu"}))
        .send()
        .expect("post");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().expect("json")[0]["n"], 2);
    // Placeholders, from a JSON body and from the query string.
    let resp = client()
        .post(server.url("/api/v3/query_sql"))
        .json(&json!({"db": "telegraf", "q": "SELECT usage FROM cpu WHERE host = $host", "params": {"host": "b"}}))
        .send()
        .expect("post");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().expect("json")[0]["usage"], 2.0);
    let resp = client()
        .get(server.url("/api/v3/query_sql"))
        .query(&[
            ("db", "telegraf"),
            ("q", "SELECT count(*) AS n FROM cpu WHERE usage > $min"),
            ("params", r#"{"min": 3}"#),
        ])
        .send()
        .expect("get");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().expect("json")[0]["n"], 1);
    let out = std::process::Command::new(strata_bin())
        .args([
            "query",
            "--host",
            &server.url(""),
            "--token",
            TOKEN,
            "--db",
            "telegraf",
            "--sql",
        ])
        .arg("SELECT host, usage FROM cpu ORDER BY host")
        .output()
        .expect("strata query");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("| a    | 5.0   |"), "{text}");
    assert!(server.stop().success(), "{}", server.log());
}

#[test]
fn bad_queries_and_callers_get_clear_errors() {
    let mut server = TestServer::spawn(&[]);
    write(&server, "telegraf", "cpu,host=a usage=1 1000\n");
    for (q, status) in [
        ("SELEC 1", 400),
        ("SELECT * FROM nope", 400),
        ("SELECT nope FROM cpu", 400),
    ] {
        let (got, body) = sql(&server, "telegraf", q);
        assert_eq!(got, status, "{q}: {body}");
        let v: Value = serde_json::from_str(&body).expect("json error");
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{body}");
    }
    let (status, body) = sql(&server, "nodb", "SELECT 1");
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("database not found"), "{body}");
    let resp = client()
        .get(server.url("/api/v3/query_sql?db=telegraf"))
        .send()
        .expect("send");
    assert_eq!(resp.status(), 400, "no q");
    let resp = anonymous_client()
        .get(server.url("/api/v3/query_sql?db=telegraf&q=SELECT%201"))
        .send()
        .expect("send");
    assert_eq!(resp.status(), 401);

    // A write-only token may write but not read.
    let secret = strata_e2e::write_only_token(&server);
    let resp = anonymous_client()
        .get(server.url("/api/v3/query_sql?db=telegraf&q=SELECT%201"))
        .header("Authorization", format!("Token {secret}"))
        .send()
        .expect("send");
    assert_eq!(resp.status(), 403);
    assert_eq!(
        count(&server, "telegraf", "cpu"),
        1,
        "no query changed anything"
    );
    assert!(server.stop().success(), "{}", server.log());
}

/// While one client writes and flushes run (every 100 ms), a loop of `count(*)` is never below
/// what was acknowledged before it started nor above what was sent before it ended.
#[test]
fn counts_under_a_concurrent_write_load_are_never_short_or_over() {
    let mut server = TestServer::spawn(&["--flush-interval-ms=100"]);
    write(&server, "load", "m,host=x v=0i 1\n");
    let acked = Arc::new(AtomicU64::new(1));
    let sent = Arc::new(AtomicU64::new(1));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (acked, sent, stop) = (Arc::clone(&acked), Arc::clone(&sent), Arc::clone(&stop));
        let url = server.url("/write?db=load");
        std::thread::spawn(move || {
            let http = client();
            let started = Instant::now();
            let mut next = 2u64;
            while !stop.load(Ordering::SeqCst) && started.elapsed() < Duration::from_secs(30) {
                let body: String = (next..next + 500)
                    .map(|t| format!("m,host=h{} v={t}i {t}\n", t % 7))
                    .collect();
                sent.fetch_add(500, Ordering::SeqCst);
                let status = http.post(&url).body(body).send().expect("write").status();
                assert_eq!(status, 204);
                acked.fetch_add(500, Ordering::SeqCst);
                next += 500;
            }
        })
    };
    let mut queries = 0;
    let started = Instant::now();
    while queries < 60 && started.elapsed() < Duration::from_secs(20) {
        let before = acked.load(Ordering::SeqCst);
        let n = count(&server, "load", "m");
        let after = sent.load(Ordering::SeqCst);
        assert!(before <= n && n <= after, "{before} <= {n} <= {after}");
        queries += 1;
    }
    stop.store(true, Ordering::SeqCst);
    writer.join().expect("writer");
    let files = wait_for(Duration::from_secs(10), || {
        let n = server.parquet_files().len();
        (n >= 2).then_some(n)
    });
    assert!(files.is_some(), "flushes ran during the load");
    assert_eq!(count(&server, "load", "m"), acked.load(Ordering::SeqCst));
    assert!(server.stop().success(), "{}", server.log());
}
