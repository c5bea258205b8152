//! Random requests through the HTTP layer — methods, paths, query strings (bad percent-encoding
//! included), headers (encodings, credentials) and bodies (random bytes, line-protocol-shaped
//! noise, gzip of both) — must never get a 5xx, never crash the server, and never change data
//! written before. Seeded and bounded (`STRATA_HTTP_FUZZ_CASES`, default 400).

use strata_e2e::{client, clock_seed, gzip, read_parquet, render_rows, Rng, TestServer, TOKEN};

#[test]
fn random_requests_never_5xx_and_never_touch_existing_data() {
    let cases: usize = std::env::var("STRATA_HTTP_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    let seed = clock_seed();
    eprintln!("http fuzz: {cases} cases, seed {seed}");
    let mut rng = Rng(seed);
    let mut server = TestServer::spawn(&["--flush-interval-ms=3600000", "--max-body-bytes=65536"]);
    let http = client();
    let known = "known,host=a v=1i 1\nknown,host=b v=2i 2\nknown,host=a s=\"keep\" 3\n";
    assert_eq!(
        http.post(server.url("/write?db=keep"))
            .body(known)
            .send()
            .expect("send")
            .status(),
        204
    );

    let raw = reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .expect("client");
    // Weighted toward the endpoints that parse bodies.
    let paths = [
        "/write",
        "/write",
        "/write",
        "/write",
        "/api/v2/write",
        "/api/v2/write",
        "/query",
        "/query",
        "/ping",
        "/health",
        "/metrics",
        "/api/v2/buckets",
        "/api/v2/dbrps",
        "/api/v2/authorizations",
        "/api/v2/buckets/zz",
        "/nope",
        "/write/",
    ];
    let methods = [
        reqwest::Method::POST,
        reqwest::Method::POST,
        reqwest::Method::POST,
        reqwest::Method::POST,
        reqwest::Method::GET,
        reqwest::Method::HEAD,
        reqwest::Method::DELETE,
        reqwest::Method::PATCH,
        reqwest::Method::PUT,
    ];
    let query_bits = [
        "db=fz",
        "db=",
        "db=%",
        "db=%zz",
        "db=a%2Fb%2Fc",
        "rp=x",
        "rp=",
        "precision=s",
        "precision=h",
        "precision=bogus",
        "precision=%C2%B5",
        "consistency=all",
        "bucket=fz%2Frp",
        "bucket=",
        "q=SHOW%20DATABASES",
        "q=CREATE%20DATABASE%20fz",
        "q=DROP%20DATABASE%20fz",
        "q=SELECT%20*",
        "q=%22",
        "u=x",
        &format!("p={TOKEN}"),
        "p=wrong",
        "verbose=true",
        "&&&",
        "=",
        "db=fz&db=other",
    ];
    let lp_alphabet = b"abcxyz0123456789 ,=\\\"\n\r#.-+ietfuTF";
    let any_byte: Vec<u8> = (0..=255).collect();
    let mut statuses = std::collections::BTreeMap::new();
    for case in 0..cases {
        let method = rng.pick(&methods).clone();
        let path = *rng.pick(&paths);
        let n_bits = rng.next_u64() % 4;
        let query: Vec<&str> = (0..n_bits).map(|_| *rng.pick(&query_bits)).collect();
        let url = format!("{}?{}", server.url(path), query.join("&"));
        let mut body = match rng.next_u64() % 3 {
            0 => rng.bytes(300, lp_alphabet),
            1 => rng.bytes(300, &any_byte),
            _ => b"fz,t=1 v=1 1\nfz v=2i 2\nfz v=\"s\" 3\n".to_vec(),
        };
        let mut req = raw.request(method, &url);
        match rng.next_u64() % 6 {
            0 => req = req.header("Authorization", format!("Token {TOKEN}")),
            1 => req = req.header("Authorization", "Basic !!!notbase64"),
            2 => req = req.header("Authorization", format!("Bearer {TOKEN}")),
            3 => req = req.basic_auth("u", Some(TOKEN)),
            4 => req = req.header("Authorization", "Token"),
            _ => {}
        }
        match rng.next_u64() % 5 {
            0 => {
                body = gzip(&body);
                req = req.header("Content-Encoding", "gzip");
            }
            1 => {
                req = req.header(
                    "Content-Encoding",
                    *rng.pick(&["br", "identity", "GZIP", "", "deflate"]),
                )
            }
            2 => {
                req = req.header(
                    "Content-Type",
                    *rng.pick(&[
                        "application/json",
                        "application/x-www-form-urlencoded",
                        "text/plain",
                    ]),
                )
            }
            _ => {}
        }
        // Never aim at the protected data.
        if url.contains("keep") {
            continue;
        }
        let status = req
            .body(body)
            .send()
            .map(|r| r.status().as_u16())
            .unwrap_or_else(|e| panic!("case {case}: {url}: {e}\n{}", server.log()));
        assert!(
            status < 500,
            "case {case}: {url} got {status}\n{}",
            server.log()
        );
        *statuses.entry(status).or_insert(0) += 1;
    }
    eprintln!("http fuzz statuses: {statuses:?}");
    assert_eq!(
        client()
            .get(server.url("/health"))
            .send()
            .expect("health")
            .status(),
        200
    );
    assert!(server.stop().success(), "{}", server.log());
    let mut rows: Vec<String> = server
        .parquet_files()
        .iter()
        .filter(|p| p.to_string_lossy().contains("/known/"))
        .flat_map(|p| render_rows(&read_parquet(p)))
        .collect();
    rows.sort();
    assert_eq!(
        rows,
        [
            "host=tag:a s=str:\"keep\" time=ts:3",
            "host=tag:a v=i64:1 time=ts:1",
            "host=tag:b v=i64:2 time=ts:2"
        ]
    );
}
