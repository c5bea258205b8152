//! A replay of the requests Grafana's InfluxQL data source sends (its backend's request shape:
//! `db`, `epoch=ms`, optional `rp` in the URL, `q` in the URL for GET or in a form body for POST,
//! `User-Agent: Grafana`, basic auth or `u`/`p`): the health check, the query builder's metadata
//! queries, `$timeFilter` / `$__interval` panels, and the answers Grafana parses from them.

use serde_json::Value;
use strata_e2e::{anonymous_client, client, TestServer, TOKEN};

/// 2024-01-01T00:00:00Z in ms.
const T0_MS: i64 = 1_704_067_200_000;

#[derive(Clone, Copy, Debug)]
enum Mode {
    Get,
    Post,
}

/// Sends `q` as Grafana does in `mode`, with basic auth (the data source's "Basic auth" with the
/// token as password); returns the status and the parsed body.
fn grafana(server: &TestServer, mode: Mode, q: &str, rp: Option<&str>) -> (u16, Value) {
    let mut params = vec![("db", "telegraf"), ("epoch", "ms")];
    if let Some(rp) = rp {
        params.push(("rp", rp));
    }
    let http = anonymous_client();
    let req = match mode {
        Mode::Get => {
            params.push(("q", q));
            http.get(server.url("/query")).query(&params)
        }
        Mode::Post => http
            .post(server.url("/query"))
            .query(&params)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!("q={}", form_encode(q))),
    };
    let resp = req
        .header("User-Agent", "Grafana")
        .basic_auth("grafana", Some(TOKEN))
        .send()
        .expect("send");
    let status = resp.status().as_u16();
    let body: Value = serde_json::from_str(&resp.text().expect("body")).expect("json");
    (status, body)
}

/// `application/x-www-form-urlencoded` as Go's `url.Values.Encode` writes it.
fn form_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn series(body: &Value) -> &Vec<Value> {
    body["results"][0]["series"]
        .as_array()
        .unwrap_or_else(|| panic!("no series in {body}"))
}

fn names(body: &Value) -> Vec<String> {
    series(body)[0]["values"]
        .as_array()
        .expect("values")
        .iter()
        .map(|r| r[0].as_str().expect("name").to_owned())
        .collect()
}

fn server_with_telegraf_data() -> TestServer {
    let server = TestServer::spawn(&[]);
    let mut lines = String::new();
    for minute in 0..60 {
        let t = T0_MS + minute * 60_000;
        for host in ["a", "b"] {
            lines.push_str(&format!(
                "cpu,host={host},cpu=cpu-total usage_idle={}.5,usage_user={} {t}\nmem,host={host} used_percent={} {t}\n",
                90 - minute % 7,
                minute % 13,
                40 + minute % 5
            ));
        }
    }
    let resp = client()
        .post(server.url("/write?db=telegraf&precision=ms"))
        .body(lines)
        .send()
        .expect("send");
    assert_eq!(resp.status(), 204);
    server
}

#[test]
fn grafana_health_check_metadata_and_panels() {
    let server = server_with_telegraf_data();
    for mode in [Mode::Get, Mode::Post] {
        // "Save & test": the health check.
        let (status, body) = grafana(&server, mode, "SHOW measurements", None);
        assert_eq!(status, 200, "{mode:?}: {body}");
        assert_eq!(names(&body), ["cpu", "mem"], "{mode:?}");

        // The query builder's metadata queries.
        let (_, body) = grafana(
            &server,
            mode,
            "SHOW RETENTION POLICIES on \"telegraf\"",
            None,
        );
        assert_eq!(names(&body), ["autogen"], "{mode:?}: {body}");
        let (_, body) = grafana(
            &server,
            mode,
            "SHOW MEASUREMENTS WITH MEASUREMENT =~ /(?i)cp/ LIMIT 100",
            None,
        );
        assert_eq!(names(&body), ["cpu"], "{mode:?}");
        let (_, body) = grafana(&server, mode, "SHOW TAG KEYS FROM \"cpu\"", None);
        assert_eq!(names(&body), ["cpu", "host"], "{mode:?}");
        let (_, body) = grafana(&server, mode, "SHOW FIELD KEYS FROM \"cpu\"", None);
        assert_eq!(names(&body), ["usage_idle", "usage_user"], "{mode:?}");
        assert_eq!(
            series(&body)[0]["columns"],
            serde_json::json!(["fieldKey", "fieldType"])
        );
        let (_, body) = grafana(
            &server,
            mode,
            "SHOW TAG VALUES FROM \"cpu\" WITH KEY = \"host\" WHERE \"cpu\" =~ /^cpu-total$/",
            None,
        );
        let values: Vec<&str> = series(&body)[0]["values"]
            .as_array()
            .expect("values")
            .iter()
            .map(|r| r[1].as_str().expect("value"))
            .collect();
        assert_eq!(values, ["a", "b"], "{mode:?}");

        // A panel: `$timeFilter` as epoch milliseconds, `$__interval` 5m, one series per host.
        let q = format!(
            "SELECT mean(\"usage_idle\") FROM \"autogen\".\"cpu\" WHERE (\"cpu\" = 'cpu-total') AND time >= {}ms and time <= {}ms GROUP BY time(5m), \"host\" fill(null)",
            T0_MS,
            T0_MS + 3_599_999
        );
        let (status, body) = grafana(&server, mode, &q, Some("autogen"));
        assert_eq!(status, 200, "{body}");
        let s = series(&body);
        assert_eq!(s.len(), 2, "{body}");
        assert_eq!(s[0]["tags"], serde_json::json!({"host": "a"}));
        let rows = s[0]["values"].as_array().expect("values");
        assert_eq!(rows.len(), 12);
        // Times are integers in ms, as `epoch=ms` asks; Grafana reads them as such.
        assert_eq!(rows[0][0], serde_json::json!(T0_MS));
        assert_eq!(rows[1][0], serde_json::json!(T0_MS + 300_000));
        // Minutes 0..4 of host a: usage_idle 90.5, 89.5, 88.5, 87.5, 86.5.
        assert_eq!(rows[0][1], serde_json::json!(88.5));

        // Two panels' queries in one request, as Grafana batches the targets of a panel.
        let q = format!(
            "SELECT last(\"used_percent\") FROM \"mem\" WHERE time >= {T0_MS}ms GROUP BY \"host\";SELECT max(\"usage_user\") FROM \"cpu\" WHERE time >= {T0_MS}ms"
        );
        let (_, body) = grafana(&server, mode, &q, None);
        let results = body["results"].as_array().expect("results");
        assert_eq!(results.len(), 2, "{body}");
        assert_eq!(results[0]["series"].as_array().map(Vec::len), Some(2));
        assert_eq!(results[1]["series"][0]["values"][0][1].as_f64(), Some(12.0));

        // A template variable query, and an ad-hoc filter's key lookup.
        let (_, body) = grafana(&server, mode, "SHOW TAG VALUES WITH KEY = \"host\"", None);
        assert_eq!(series(&body).len(), 2, "one series per measurement: {body}");
        let (_, body) = grafana(&server, mode, "SHOW TAG KEYS", None);
        assert_eq!(series(&body).len(), 2, "{body}");
    }

    // The data source's "User" / "Password" fields without basic auth: `u` and `p` in the URL.
    let resp = anonymous_client()
        .get(server.url("/query"))
        .query(&[
            ("db", "telegraf"),
            ("epoch", "ms"),
            ("q", "SHOW measurements"),
            ("u", "grafana"),
            ("p", TOKEN),
        ])
        .send()
        .expect("send");
    assert_eq!(resp.status(), 200);
    // A wrong password is the error Grafana shows on "Save & test".
    let resp = anonymous_client()
        .get(server.url("/query"))
        .query(&[("db", "telegraf"), ("q", "SHOW measurements")])
        .basic_auth("grafana", Some("wrong"))
        .send()
        .expect("send");
    assert_eq!(resp.status(), 401);
}
