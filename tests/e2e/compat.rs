//! The compatibility matrix of `shared/spec/http-api.md`, row by row, through the real binary:
//! status codes, exact error bodies and headers, every precision, both write APIs, limits,
//! `/metrics`, configuration, and the seed document's curl commands run by the real `curl`.

use std::process::Command;

use serde_json::{json, Value};
use strata_e2e::{anonymous_client, client, read_parquet, render_rows, TestServer, TOKEN};

fn send(req: reqwest::blocking::RequestBuilder) -> (u16, reqwest::header::HeaderMap, Value) {
    let resp = req.send().expect("send");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().expect("body");
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[test]
fn every_precision_scales_timestamps() {
    let mut server = TestServer::spawn(&["--flush-interval-ms=3600000"]);
    let http = client();
    for (p, ts) in [
        ("ns", 7),
        ("n", 7),
        ("us", 7),
        ("u", 7),
        ("%C2%B5", 7),
        ("ms", 7),
        ("s", 7),
        ("m", 7),
        ("h", 7),
    ] {
        let (status, _, body) = send(
            http.post(server.url(&format!("/write?db=p&precision={p}&consistency=any")))
                .body(format!("m,p={p} v=1 {ts}")),
        );
        assert_eq!(status, 204, "{p}: {body}");
    }
    assert!(server.stop().success());
    let mut rows: Vec<String> = server
        .parquet_files()
        .iter()
        .flat_map(|f| render_rows(&read_parquet(f)))
        .collect();
    rows.sort();
    let times: Vec<&str> = rows
        .iter()
        .filter_map(|r| r.rsplit_once("time=ts:").map(|(_, t)| t))
        .collect();
    for expected in [
        "7",
        "7000",
        "7000000",
        "7000000000",
        "420000000000",
        "25200000000000",
    ] {
        assert!(
            times.contains(&expected),
            "{expected} missing from {rows:?}"
        );
    }
    assert_eq!(rows.len(), 9);
}

#[test]
fn error_bodies_and_headers_are_exact() {
    let server = TestServer::spawn(&[]);
    let http = client();
    // success: exactly 204, empty body, the version headers
    let (status, h, body) = send(
        http.post(server.url("/write?db=db"))
            .body("cpu value=1.5 1"),
    );
    assert_eq!((status, body), (204, Value::String(String::new())));
    assert_eq!(h["x-influxdb-build"], "Strata");
    assert!(
        h.contains_key("x-influxdb-version")
            && h.contains_key("request-id")
            && h.contains_key("x-request-id")
    );
    // type conflict, in 1.x words, with the first line number and dropped count
    let (status, h, body) = send(
        http.post(server.url("/write?db=db"))
            .body("cpu value=2 2\ncpu value=3i 3\ncpu value=\"x\" 4"),
    );
    assert_eq!(status, 400);
    assert_eq!(
        body["error"],
        "partial write: field type conflict: input field \"value\" on measurement \"cpu\" is type integer, already exists as type float (line 2); field type conflict: input field \"value\" on measurement \"cpu\" is type string, already exists as type float (line 3) dropped=2"
    );
    assert_eq!(body["written"], 1);
    assert_eq!(
        body["rejected"][0],
        json!({"line": 2, "column": null, "reason": "field type conflict: input field \"value\" on measurement \"cpu\" is type integer, already exists as type float", "text": "cpu value=3i 3"})
    );
    assert_eq!(h["content-type"], "application/json");
    assert_eq!(
        h["x-influxdb-error"].to_str().expect("ascii"),
        body["error"].as_str().expect("str")
    );
    assert!(
        h.contains_key("x-request-id"),
        "error responses carry request ids too"
    );
    // partial write with a parse error: the spec's example
    let (_, _, body) = send(
        http.post(server.url("/write?db=db"))
            .body("cpu value=1 5\ncpu value=2 6\ncpu,host=a value="),
    );
    assert_eq!(body["error"], "partial write: unable to parse 'cpu,host=a value=' (line 3): missing field value dropped=1");
    // nothing parsed
    let (status, _, body) = send(http.post(server.url("/write?db=db")).body("garbage"));
    assert_eq!(
        (status, body["error"].as_str()),
        (
            400,
            Some("unable to parse 'garbage' (line 1): missing fields")
        )
    );
    // unknown precision, unknown encoding
    let (status, _, body) = send(
        http.post(server.url("/write?db=db&precision=d"))
            .body("m v=1"),
    );
    assert_eq!(status, 400);
    assert!(body["error"].as_str().expect("str").contains("\"d\""));
    let (status, _, _) = send(
        http.post(server.url("/write?db=db"))
            .header("Content-Encoding", "identity")
            .body("m v=1"),
    );
    assert_eq!(status, 204);
    // Content-Type is never a reason to reject a write (influxdb-python, curl)
    for ct in [
        "application/octet-stream",
        "application/x-www-form-urlencoded",
        "text/plain; charset=utf-8",
    ] {
        let (status, _, _) = send(
            http.post(server.url("/write?db=db"))
                .header("Content-Type", ct)
                .body("m v=1"),
        );
        assert_eq!(status, 204, "{ct}");
    }
    // request ids are unique
    let a = send(http.get(server.url("/ping"))).1["x-request-id"].clone();
    let b = send(http.get(server.url("/ping"))).1["x-request-id"].clone();
    assert_ne!(a, b);
    // ping verbose, health
    let (status, h, body) = send(http.get(server.url("/ping?verbose=true")));
    assert_eq!(status, 200);
    assert!(body["version"].is_string() && h.contains_key("x-influxdb-version"));
    let (status, _, body) = send(anonymous_client().get(server.url("/health")));
    assert_eq!(
        (status, body["status"].as_str(), body["name"].as_str()),
        (200, Some("pass"), Some("strata"))
    );
}

#[test]
fn v2_write_api_and_its_error_shape() {
    let server = TestServer::spawn(&[]);
    let http = client();
    // influxdb-client in 1.8 compatibility mode: bucket=db/rp, "Token user:password"
    let (status, _, body) = send(
        anonymous_client()
            .post(server.url("/api/v2/write?org=-&bucket=db%2Frp&precision=ms"))
            .header("Authorization", format!("Token admin:{TOKEN}"))
            .body("m v=1 1"),
    );
    assert_eq!(status, 204, "{body}");
    let (status, _, body) = send(
        http.post(server.url("/api/v2/write?bucket=db%2Frp"))
            .body("m v=1i 2"),
    );
    assert_eq!(status, 400);
    assert_eq!(body["code"], "invalid");
    assert!(body["message"]
        .as_str()
        .expect("message")
        .contains("field type conflict"));
    let (status, _, body) = send(http.post(server.url("/api/v2/write?org=x")).body("m v=1"));
    assert_eq!(
        (status, body["code"].as_str(), body["message"].as_str()),
        (400, Some("invalid"), Some("bucket is required"))
    );
    let (status, _, body) = send(
        anonymous_client()
            .post(server.url("/api/v2/write?bucket=db%2Frp"))
            .body("m v=1"),
    );
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthorized")));
}

#[test]
fn metrics_count_what_happened() {
    let server = TestServer::spawn(&[]);
    let http = client();
    assert_eq!(
        send(
            http.post(server.url("/write?db=db"))
                .body("m v=1 1\nm v=2 2\nm v=x 3")
        )
        .0,
        400
    );
    let (status, h, body) = send(http.get(server.url("/metrics")));
    assert_eq!(status, 200);
    assert!(h["content-type"]
        .to_str()
        .expect("ascii")
        .starts_with("text/plain"));
    let text = body.as_str().expect("text");
    for needle in [
        "strata_points_written_total 2",
        "strata_points_rejected_total{reason=\"parse\"} 1",
        "strata_http_requests_total{route=\"/write\",status=\"400\"} 1",
        "strata_wal_fsync_seconds_bucket{le=\"+Inf\"}",
        "strata_buffer_bytes",
        "strata_parquet_files_total",
        "strata_up 1",
    ] {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }
    assert_eq!(send(anonymous_client().get(server.url("/metrics"))).0, 401);
}

#[test]
fn limits_and_queueing() {
    let server = TestServer::spawn(&["--max-line-bytes=64", "--max-concurrent-writes=1"]);
    let long = format!("m,t={} v=1", "x".repeat(80));
    let (status, _, body) = send(
        client()
            .post(server.url("/write?db=db"))
            .body(format!("m v=1\n{long}\nm v=2")),
    );
    assert_eq!(status, 400);
    assert_eq!(body["written"], 2);
    assert!(
        body["error"]
            .as_str()
            .expect("str")
            .contains("line longer than 64 bytes"),
        "{body}"
    );
    // one write at a time: concurrent clients queue and all succeed
    let url = server.url("/write?db=db");
    for status in strata_e2e::concurrent_writes(&url, 16, |i| format!("q,c=c{i} v=1")) {
        assert_eq!(status, 204);
    }
}

#[test]
fn config_file_fills_in_what_flags_and_env_do_not_set() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("strata.toml");
    std::fs::write(
        &cfg,
        "max-line-bytes = 50\nflush_interval_ms = 3600000\nmax_body_bytes = 999999\n",
    )
    .expect("write");
    // flag beats file: max_body_bytes comes from the flag
    let server = TestServer::spawn(&[
        &format!("--config={}", cfg.display()),
        "--max-body-bytes=100",
    ]);
    let (status, _, _) = send(
        client()
            .post(server.url("/write?db=db"))
            .body("m v=1\n".repeat(30)),
    );
    assert_eq!(status, 413, "the flag's limit applies");
    let (status, _, body) = send(
        client()
            .post(server.url("/write?db=db"))
            .body(format!("m,t={} v=1", "y".repeat(60))),
    );
    assert_eq!(status, 400, "the file's line limit applies: {body}");
    // the harness passes --flush-interval-ms=200 as a flag: it beats the file's value
    assert!(
        server.log().contains("flush_interval_ms=200"),
        "{}",
        server.log()
    );
    // an unknown key is an error naming it
    std::fs::write(&cfg, "max_lines = 5\n").expect("write");
    let out = Command::new(strata_e2e::strata_bin())
        .args(["serve", &format!("--config={}", cfg.display())])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown option \"max_lines\""));
    // --help lists every option with its env twin
    let help = Command::new(strata_e2e::strata_bin())
        .args(["serve", "--help"])
        .output()
        .expect("run");
    let help = String::from_utf8_lossy(&help.stdout);
    for opt in [
        "--http-bind",
        "--data-dir",
        "--wal-dir",
        "--config",
        "--max-body-bytes",
        "--max-line-bytes",
        "--max-concurrent-writes",
        "--max-buffer-bytes",
        "--flush-interval-ms",
        "--admin-token",
        "--without-auth",
        "STRATA_HTTP_BIND",
        "[default: 127.0.0.1:8086]",
    ] {
        assert!(help.contains(opt), "{opt} missing from --help:\n{help}");
    }
}

/// The seed document's three curl examples, run by the real `curl`. The Token form works
/// verbatim; the other two are broken as printed and must get a 401 that explains why (and
/// write nothing); their corrected forms work.
#[test]
fn seed_curl_examples() {
    let mut server = TestServer::spawn(&["--flush-interval-ms=3600000", "--admin-token=API_TOKEN"]);
    let url = server.url("/write?db=DATABASE_NAME&rp=RETENTION_POLICY&precision=s");
    let curl = |args: &[&str]| -> (String, String) {
        let out = Command::new("curl")
            .args(["-s", "-i"])
            .args(args)
            .output()
            .expect("curl");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let status = text.lines().next().unwrap_or_default().to_owned();
        (status, text)
    };
    // Token auth, verbatim
    let (status, text) = curl(&[
        &url,
        "--header",
        "Authorization: Token API_TOKEN",
        "--header",
        "Content-type: text/plain; charset=utf-8",
        "--data-binary",
        "home,room=kitchen temp=72 1463683075",
    ]);
    assert!(status.contains("204"), "{text}");
    // Basic auth, verbatim: curl reads `-user` as `-u ser`
    let (status, text) = curl(&[
        &url,
        "-user",
        "ignored:API_TOKEN",
        "--header",
        "Content-type: text/plain; charset=utf-8",
        "--data-binary",
        "home,room=kitchen temp=73 1463683076",
    ]);
    assert!(status.contains("401"), "{text}");
    // corrected
    let (status, text) = curl(&[
        &url,
        "--user",
        "ignored:API_TOKEN",
        "--header",
        "Content-type: text/plain; charset=utf-8",
        "--data-binary",
        "home,room=kitchen temp=74 1463683077",
    ]);
    assert!(status.contains("204"), "{text}");
    // query-string auth, verbatim: --data-urlencode puts u/p into the body
    let (status, text) = curl(&[
        &url,
        "--header",
        "Content-type: text/plain; charset=utf-8",
        "--data-urlencode",
        "u=ignored",
        "--data-urlencode",
        "p=API_TOKEN",
        "--data-binary",
        "home,room=kitchen temp=75 1463683078",
    ]);
    assert!(status.contains("401"), "{text}");
    assert!(text.contains("put u and p in the URL"), "{text}");
    // corrected: u and p in the URL
    let fixed = format!("{url}&u=ignored&p=API_TOKEN");
    let (status, text) = curl(&[
        &fixed,
        "--header",
        "Content-type: text/plain; charset=utf-8",
        "--data-binary",
        "home,room=kitchen temp=76 1463683079",
    ]);
    assert!(status.contains("204"), "{text}");
    assert!(server.stop().success());
    let mut temps: Vec<String> = server
        .parquet_files()
        .iter()
        .flat_map(|f| render_rows(&read_parquet(f)))
        .collect();
    temps.sort();
    assert_eq!(
        temps,
        [
            "room=tag:kitchen temp=f64:72.0 time=ts:1463683075000000000",
            "room=tag:kitchen temp=f64:74.0 time=ts:1463683077000000000",
            "room=tag:kitchen temp=f64:76.0 time=ts:1463683079000000000",
        ],
        "the rejected forms wrote nothing"
    );
}
