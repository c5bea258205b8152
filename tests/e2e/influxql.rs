//! InfluxQL on v1 `/query` through the real binary: SHOW, SELECT shapes, response formats and
//! errors, with the data split between a flushed file and the buffers.

use serde_json::{json, Value};
use strata_e2e::{anonymous_client, client, TestServer};

const MINUTE: i64 = 60_000_000_000;
/// 2024-01-01T00:00:00Z.
const T0: i64 = 1_704_067_200_000_000_000;

fn write(server: &TestServer, lines: &str) {
    let resp = client()
        .post(server.url("/write?db=mydb"))
        .body(lines.to_owned())
        .send()
        .expect("send");
    assert_eq!(resp.status(), 204, "{}", resp.text().unwrap_or_default());
}

fn query(server: &TestServer, q: &str, extra: &[(&str, &str)]) -> (u16, String) {
    let mut form = vec![("db", "mydb"), ("q", q)];
    form.extend_from_slice(extra);
    let resp = client()
        .get(server.url("/query"))
        .query(&form)
        .send()
        .expect("send");
    (resp.status().as_u16(), resp.text().expect("body"))
}

fn json_query(server: &TestServer, q: &str, extra: &[(&str, &str)]) -> Value {
    let (status, body) = query(server, q, extra);
    assert_eq!(status, 200, "{q}: {body}");
    serde_json::from_str(&body).expect("json")
}

/// Ten minutes of two hosts; the first five minutes are flushed to Parquet before the rest is
/// written, so every answer below merges a file with the buffers.
fn server_with_data() -> TestServer {
    let server = TestServer::spawn(&[]);
    let lines = |range: std::ops::Range<i64>| {
        range
            .flat_map(|i| {
                let t = T0 + i * MINUTE;
                [
                    format!("cpu,host=a,region=eu usage={}.5,n={i}i {t}", i * 10),
                    format!("cpu,host=b,region=us usage={}.25,n={}i {t}", i * 3, i + 100),
                ]
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    write(&server, &lines(0..5));
    let flushed = strata_e2e::wait_for(std::time::Duration::from_secs(10), || {
        (!server.parquet_files().is_empty()).then_some(())
    });
    assert!(flushed.is_some(), "no flush: {}", server.log());
    write(&server, &lines(5..10));
    write(&server, "mem,host=a free=1i 1704067200000000000");
    server
}

#[test]
fn show_statements_answer_from_metadata() {
    let mut server = server_with_data();
    let body = json_query(&server, "SHOW MEASUREMENTS", &[]);
    assert_eq!(
        body["results"][0]["series"][0]["values"],
        json!([["cpu"], ["mem"]])
    );
    let body = json_query(&server, "SHOW TAG KEYS FROM cpu", &[]);
    assert_eq!(
        body["results"][0]["series"][0]["values"],
        json!([["host"], ["region"]])
    );
    let body = json_query(
        &server,
        r#"SHOW TAG VALUES FROM cpu WITH KEY = "host""#,
        &[],
    );
    assert_eq!(
        body["results"][0]["series"][0]["values"],
        json!([["host", "a"], ["host", "b"]])
    );
    let body = json_query(&server, "SHOW FIELD KEYS FROM cpu", &[]);
    assert_eq!(
        body["results"][0]["series"][0]["values"],
        json!([["n", "integer"], ["usage", "float"]])
    );
    let body = json_query(&server, "SHOW SERIES WHERE host = 'a'", &[]);
    assert_eq!(
        body["results"][0]["series"][0]["values"],
        json!([["cpu,host=a,region=eu"], ["mem,host=a"]])
    );
    // Grafana's health check, and two statements in one request
    let body = json_query(&server, "SHOW measurements; SHOW DATABASES", &[]);
    assert_eq!(body["results"][1]["statement_id"], 1);
    assert_eq!(body["results"][1]["series"][0]["values"], json!([["mydb"]]));
    assert!(server.stop().success(), "{}", server.log());
}

#[test]
fn selects_merge_files_and_buffers_into_series() {
    let mut server = server_with_data();
    // raw points, one series per measurement, tags as columns
    let body = json_query(&server, "SELECT usage FROM cpu WHERE host = 'a'", &[]);
    let values = &body["results"][0]["series"][0]["values"];
    assert_eq!(values.as_array().map(Vec::len), Some(10));
    assert_eq!(values[0], json!(["2024-01-01T00:00:00Z", 0.5]));
    assert_eq!(values[9], json!(["2024-01-01T00:09:00Z", 90.5]));

    // Grafana's panel query: mean by 5m windows and host, epoch=ms
    let body = json_query(
        &server,
        r#"SELECT mean("usage") FROM "cpu" WHERE time >= 1704067200000ms AND time < 1704067800000ms GROUP BY time(5m), "host" fill(null)"#,
        &[("epoch", "ms")],
    );
    let series = &body["results"][0]["series"];
    assert_eq!(series[0]["tags"], json!({"host": "a"}));
    assert_eq!(
        series[0]["values"],
        json!([[1704067200000i64, 20.5], [1704067500000i64, 70.5]])
    );
    assert_eq!(series[1]["tags"], json!({"host": "b"}));
    assert_eq!(
        series[1]["values"],
        json!([[1704067200000i64, 6.25], [1704067500000i64, 21.25]])
    );

    // selectors keep their point's time; count over all time is at epoch 0
    let body = json_query(&server, "SELECT max(n) FROM cpu GROUP BY host", &[]);
    assert_eq!(
        body["results"][0]["series"][1]["values"],
        json!([["2024-01-01T00:09:00Z", 109]])
    );
    let body = json_query(
        &server,
        r#"SELECT count(usage) FROM "mydb"."autogen"."cpu""#,
        &[],
    );
    assert_eq!(
        body["results"][0]["series"][0]["values"],
        json!([["1970-01-01T00:00:00Z", 20]])
    );

    // fill(0) inside the range, ORDER BY time DESC with a per-series LIMIT, SLIMIT
    let body = json_query(
        &server,
        "SELECT sum(n) FROM cpu WHERE time >= '2024-01-01T00:00:00Z' AND time < '2024-01-01T00:20:00Z' GROUP BY time(10m) fill(0)",
        &[],
    );
    assert_eq!(
        body["results"][0]["series"][0]["values"],
        json!([["2024-01-01T00:00:00Z", 1090], ["2024-01-01T00:10:00Z", 0]])
    );
    let body = json_query(
        &server,
        "SELECT usage FROM cpu GROUP BY host ORDER BY time DESC LIMIT 1 SLIMIT 1",
        &[],
    );
    let series = body["results"][0]["series"].as_array().expect("series");
    assert_eq!(series.len(), 1);
    assert_eq!(series[0]["values"], json!([["2024-01-01T00:09:00Z", 90.5]]));
    assert!(server.stop().success(), "{}", server.log());
}

#[test]
fn formats_errors_and_permissions() {
    let mut server = server_with_data();
    // CSV as 1.x writes it
    let (status, csv) = query(
        &server,
        "SELECT usage FROM cpu WHERE host = 'b' LIMIT 2",
        &[],
    );
    assert_eq!(status, 200, "{csv}");
    let resp = client()
        .get(server.url("/query"))
        .query(&[
            ("db", "mydb"),
            ("q", "SELECT usage FROM cpu WHERE host = 'b' LIMIT 2"),
        ])
        .header("Accept", "application/csv")
        .send()
        .expect("send");
    assert_eq!(
        resp.text().expect("csv"),
        "name,tags,time,usage\ncpu,,1704067200000000000,0.25\ncpu,,1704067260000000000,3.25\n"
    );
    // chunked: one JSON object per line
    let (_, body) = query(
        &server,
        "SELECT usage FROM cpu GROUP BY host",
        &[("chunked", "true"), ("chunk_size", "4")],
    );
    let lines: Vec<Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert!(lines.len() >= 2, "{body}");
    // a form POST with $params, as Grafana and node-influx send them
    let resp = client()
        .post(server.url("/query"))
        .form(&[
            ("db", "mydb"),
            ("q", "SELECT count(n) FROM cpu WHERE host = $h"),
            ("params", r#"{"h": "a"}"#),
        ])
        .send()
        .expect("send");
    let body: Value = resp.json().expect("json");
    assert_eq!(body["results"][0]["series"][0]["values"][0][1], 10);

    // a parse error is a 400 with 1.x's text; a statement error sits in its statement
    let (status, body) = query(&server, "SELECT FROM cpu", &[]);
    assert_eq!(status, 400);
    assert!(
        body.contains("error parsing query: found FROM, expected"),
        "{body}"
    );
    let body: Value = client()
        .get(server.url("/query"))
        .query(&[("db", "nope"), ("q", "SELECT usage FROM cpu LIMIT 1")])
        .send()
        .expect("send")
        .json()
        .expect("json");
    assert!(body["results"][0]["error"]
        .as_str()
        .is_some_and(|e| e.contains("database not found")));

    // a write-only token gets 1.x's authorization error
    let secret = strata_e2e::write_only_token(&server);
    let resp = anonymous_client()
        .get(server.url("/query"))
        .query(&[("db", "mydb"), ("q", "SELECT * FROM cpu")])
        .header("Authorization", format!("Token {secret}"))
        .send()
        .expect("send");
    assert_eq!(resp.status(), 403);
    assert!(resp
        .text()
        .expect("body")
        .contains("error authorizing query"));

    // no query changed anything
    let body = json_query(&server, "SELECT count(usage) FROM cpu", &[]);
    assert_eq!(body["results"][0]["series"][0]["values"][0][1], 20);
    assert!(server.stop().success(), "{}", server.log());
}
