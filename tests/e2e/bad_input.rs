use strata_e2e::{client, TestServer};

fn json(resp: reqwest::blocking::Response) -> (u16, serde_json::Value, Option<String>) {
    let status = resp.status().as_u16();
    let header = resp
        .headers()
        .get("X-Influxdb-Error")
        .map(|v| v.to_str().expect("ascii").to_owned());
    assert_eq!(
        resp.headers()
            .get("content-type")
            .map(|v| v.to_str().expect("ascii")),
        Some("application/json")
    );
    (status, resp.json().expect("json body"), header)
}

#[test]
fn missing_db_is_400_database_is_required() {
    let server = TestServer::spawn(&[]);
    let http = client();
    for url in ["/write", "/write?db=", "/write?rp=x"] {
        let (status, body, header) = json(
            http.post(server.url(url))
                .body("m v=1")
                .send()
                .expect("send"),
        );
        assert_eq!(status, 400);
        assert_eq!(body, serde_json::json!({"error": "database is required"}));
        assert_eq!(header.as_deref(), Some("database is required"));
    }
}

#[test]
fn malformed_body_is_400_with_line_numbers_and_nothing_panics() {
    let server = TestServer::spawn(&[]);
    let http = client();
    let (status, body, _) = json(
        http.post(server.url("/write?db=db"))
            .body("\n\nnot line protocol")
            .send()
            .expect("send"),
    );
    assert_eq!(status, 400);
    assert_eq!(
        body["error"],
        "unable to parse 'not line protocol' (line 3): invalid field format"
    );
    assert_eq!(body["written"], 0);
    assert_eq!(body["rejected"][0]["line"], 3);

    // partial write: good lines land, the response names the bad one
    let (status, body, _) = json(
        http.post(server.url("/write?db=db"))
            .body("m v=1 1\nm v= 2\nm v=3 3")
            .send()
            .expect("send"),
    );
    assert_eq!(status, 400);
    assert_eq!(
        body["error"],
        "partial write: unable to parse 'm v= 2' (line 2): missing field value dropped=1"
    );
    assert_eq!(body["written"], 2);

    // garbage bytes, invalid UTF-8, a bad precision, an unknown encoding
    let (status, _, _) = json(
        http.post(server.url("/write?db=db"))
            .body(vec![0xff, 0xfe, b'\n', 0, 1, 2])
            .send()
            .expect("send"),
    );
    assert_eq!(status, 400);
    let (status, body, _) = json(
        http.post(server.url("/write?db=db&precision=fortnights"))
            .body("m v=1")
            .send()
            .expect("send"),
    );
    assert_eq!(status, 400);
    assert!(body["error"].as_str().expect("str").contains("fortnights"));
    let (status, body, _) = json(
        http.post(server.url("/write?db=db"))
            .header("Content-Encoding", "br")
            .body("m v=1")
            .send()
            .expect("send"),
    );
    assert_eq!(status, 400);
    assert!(body["error"].as_str().expect("str").contains("\"br\""));
    let (status, _, _) = json(
        http.post(server.url("/write?db=db"))
            .header("Content-Encoding", "gzip")
            .body("this is not gzip")
            .send()
            .expect("send"),
    );
    assert_eq!(status, 400);

    // the server is still healthy after all that
    let ping = http.head(server.url("/ping")).send().expect("ping");
    assert_eq!(ping.status(), 204);
    assert_eq!(ping.headers()["X-Influxdb-Build"], "Strata");
    assert!(ping.headers().contains_key("X-Influxdb-Version"));
    assert!(ping.headers().contains_key("X-Request-Id"));
    assert!(ping.headers().contains_key("Request-Id"));
}

#[test]
fn oversized_bodies_get_413() {
    let server = TestServer::spawn(&["--max-body-bytes=10000"]);
    let http = client();
    let (status, body, _) = json(
        http.post(server.url("/write?db=db"))
            .body("m v=1\n".repeat(5000))
            .send()
            .expect("send"),
    );
    assert_eq!(status, 413);
    assert_eq!(body["error"], "request entity too large");
    // small on the wire, too large once inflated
    let bomb = strata_e2e::gzip("m v=1\n".repeat(100_000).as_bytes());
    assert!(bomb.len() < 10_000, "{}", bomb.len());
    let (status, _, _) = json(
        http.post(server.url("/write?db=db"))
            .header("Content-Encoding", "gzip")
            .body(bomb)
            .send()
            .expect("send"),
    );
    assert_eq!(status, 413);
}

#[test]
fn empty_body_is_204() {
    let server = TestServer::spawn(&[]);
    let resp = client()
        .post(server.url("/write?db=db"))
        .body("")
        .send()
        .expect("send");
    assert_eq!(resp.status(), 204);
}

/// A ~10 MB body of concatenated gzip members that inflates to ~10 GB: 413, quickly, and the
/// server's memory stays bounded by the body limit (decompression stops at the limit).
#[test]
fn gzip_bomb_is_refused_quickly_with_flat_memory() {
    let server = TestServer::spawn(&[]);
    let member = {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&vec![0u8; 1 << 20]).expect("gzip");
        enc.finish().expect("gzip")
    };
    let members = (10usize << 30) / (1 << 20);
    let mut bomb = Vec::with_capacity(member.len() * members);
    for _ in 0..members {
        bomb.extend_from_slice(&member);
    }
    assert!(bomb.len() < 12 << 20, "{} bytes", bomb.len());
    let started = std::time::Instant::now();
    let (status, body, _) = json(
        client()
            .post(server.url("/write?db=db"))
            .header("Content-Encoding", "gzip")
            .body(bomb)
            .send()
            .expect("send"),
    );
    assert_eq!(status, 413);
    assert_eq!(body["error"], "request entity too large");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid())).expect("proc");
    let peak_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    // 25 MB default limit, plus the wire body, plus the server itself: far from 10 GB.
    assert!(peak_kb < 400 * 1024, "peak RSS {peak_kb} kB");
}
