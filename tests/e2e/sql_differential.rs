//! The same questions asked of Strata's `/api/v3/query_sql` and of DuckDB (PyPI `duckdb`, run
//! by `tests/clients/python/duckdb_reference.py`) reading Strata's Parquet files, after a
//! flush of data written without duplicates: the rows must agree.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::{json, Value};
use strata_e2e::{client, parquet_measurement, Rng, TestServer};

const START_S: i64 = 1_704_067_200; // 2024-01-01T00:00:00Z

/// TSBS-like data: 10 hosts in 3 regions, `cpu` every 10 s and `mem` every 60 s for 2 h.
fn data() -> String {
    let mut rng = Rng(0x5EED);
    let mut out = String::new();
    for step in 0..720 {
        let t = START_S + step * 10;
        for h in 0..10 {
            let region = ["eu", "us", "ap"][h % 3];
            let user = (rng.next_u64() % 10_000) as f64 / 100.0;
            let system = (rng.next_u64() % 5_000) as f64 / 100.0;
            let requests = rng.next_u64() % 1000;
            let ok = !rng.next_u64().is_multiple_of(4);
            out.push_str(&format!(
                "cpu,host=host_{h},region={region} usage_user={user},usage_system={system},requests={requests}i,ok={ok} {t}\n"
            ));
            if step % 6 == 0 {
                let status = ["ok", "warn", "crit"][(rng.next_u64() % 3) as usize];
                let used = rng.next_u64() % 1_000_000;
                let swap = match step % 12 {
                    0 => format!(",swap={}", (rng.next_u64() % 100) as f64 / 4.0),
                    _ => String::new(),
                };
                out.push_str(&format!(
                    "mem,host=host_{h} used={used}i,status=\"{status}\"{swap} {t}\n"
                ));
            }
        }
    }
    out
}

/// (Strata's SQL, DuckDB's SQL when it differs).
fn queries() -> Vec<(&'static str, Option<&'static str>)> {
    vec![
        ("SELECT count(*) AS n FROM cpu", None),
        ("SELECT host, count(*) AS n FROM cpu GROUP BY host", None),
        ("SELECT host, max(usage_user) AS m FROM cpu GROUP BY host", None),
        ("SELECT region, avg(usage_system) AS a FROM cpu GROUP BY region", None),
        ("SELECT host, region, sum(requests) AS s FROM cpu GROUP BY host, region", None),
        ("SELECT min(usage_user) AS lo, max(usage_user) AS hi FROM cpu WHERE host = 'host_3'", None),
        ("SELECT count(*) AS n FROM cpu WHERE usage_user > 50", None),
        (
            "SELECT host, usage_user, requests FROM cpu WHERE host = 'host_1' AND requests > 500 ORDER BY requests DESC, usage_user LIMIT 5",
            None,
        ),
        ("SELECT host FROM cpu GROUP BY host HAVING avg(usage_user) > 49.5", None),
        ("SELECT count(DISTINCT host) AS n FROM cpu", None),
        ("SELECT region, count(DISTINCT host) AS n FROM cpu GROUP BY region", None),
        (
            "SELECT count(*) AS n FROM cpu WHERE time >= '2024-01-01T00:30:00Z' AND time < '2024-01-01T01:00:00Z'",
            None,
        ),
        (
            "SELECT date_part('epoch', date_bin(INTERVAL '10 minutes', time, TIMESTAMP '1970-01-01T00:00:00Z')) AS b, max(usage_user) AS m FROM cpu GROUP BY 1",
            Some("SELECT epoch(time_bucket(INTERVAL '10 minutes', time)) AS b, max(usage_user) AS m FROM cpu GROUP BY 1"),
        ),
        (
            "SELECT date_part('epoch', date_bin(INTERVAL '1 hour', time, TIMESTAMP '1970-01-01T00:00:00Z')) AS b, host, avg(usage_user) AS a FROM cpu GROUP BY 1, 2",
            Some("SELECT epoch(time_bucket(INTERVAL '1 hour', time)) AS b, host, avg(usage_user) AS a FROM cpu GROUP BY 1, 2"),
        ),
        ("SELECT host, max(usage_user) AS m FROM cpu GROUP BY host ORDER BY m DESC, host LIMIT 3", None),
        ("SELECT count(*) AS n FROM cpu WHERE ok", None),
        ("SELECT status, count(*) AS n FROM mem GROUP BY status", None),
        (
            "SELECT c.host, count(*) AS n FROM cpu c JOIN mem m ON c.host = m.host AND c.time = m.time GROUP BY c.host",
            None,
        ),
        (
            "SELECT host, date_part('epoch', max(time)) AS last FROM cpu GROUP BY host",
            Some("SELECT host, epoch(max(time)) AS last FROM cpu GROUP BY host"),
        ),
        (
            "SELECT count(*) AS n FROM cpu WHERE host IN ('host_1', 'host_2') AND usage_system < 30",
            None,
        ),
        ("SELECT count(*) AS n FROM cpu WHERE host LIKE 'host_1%'", None),
        ("SELECT host, stddev(usage_user) AS s FROM cpu GROUP BY host", None),
        ("SELECT count(swap) AS n, sum(swap) AS s FROM mem", None),
        ("SELECT host, sum(usage_user + usage_system) AS t FROM cpu GROUP BY host", None),
        (
            "SELECT host, requests FROM cpu WHERE region = 'ap' AND time BETWEEN '2024-01-01T01:00:00Z' AND '2024-01-01T01:00:30Z' ORDER BY host, requests",
            None,
        ),
    ]
}

/// A value as compared: numbers to 9 significant digits, the rest as they are.
fn norm(v: &Value) -> String {
    match v {
        Value::Number(n) => match n.as_f64() {
            Some(0.0) => "0".into(),
            Some(f) => format!("{f:.9e}"),
            None => n.to_string(),
        },
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

/// Rows as maps of every column (a column an object lacks is null), in order if `ordered`.
fn rows(
    result: &Value,
    columns: &BTreeSet<String>,
    ordered: bool,
) -> Vec<BTreeMap<String, String>> {
    let mut out: Vec<BTreeMap<String, String>> = result
        .as_array()
        .map(|rows| {
            rows.iter()
                .map(|r| {
                    columns
                        .iter()
                        .map(|c| (c.clone(), norm(r.get(c).unwrap_or(&Value::Null))))
                        .collect()
                })
                .collect()
        })
        .unwrap_or_default();
    if !ordered {
        out.sort();
    }
    out
}

#[test]
fn strata_and_duckdb_agree_on_the_same_files() {
    let mut server = TestServer::spawn(&["--flush-interval-ms=3600000"]);
    let resp = client()
        .post(server.url("/write?db=bench&precision=s"))
        .body(data())
        .send()
        .expect("write");
    assert_eq!(resp.status(), 204, "{:?}", resp.text());
    // A graceful stop flushes; the restarted server reads only files.
    assert!(server.stop().success(), "{}", server.log());
    server.start();
    let mut tables: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in server.parquet_files() {
        let m = parquet_measurement(&f).expect("measurement");
        tables.entry(m).or_default().push(f.display().to_string());
    }
    assert_eq!(tables.keys().collect::<Vec<_>>(), ["cpu", "mem"]);

    let queries = queries();
    let duck_sql: Vec<&str> = queries.iter().map(|(s, d)| d.unwrap_or(s)).collect();
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("clients/python/duckdb_reference.py");
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 (scripts/test installs duckdb)");
    let input = json!({ "tables": tables, "queries": duck_sql }).to_string();
    std::io::Write::write_all(child.stdin.as_mut().expect("stdin"), input.as_bytes())
        .expect("to duckdb");
    drop(child.stdin.take());
    let out = child.wait_with_output().expect("duckdb");
    assert!(
        out.status.success(),
        "duckdb failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reference: Vec<Value> = serde_json::from_slice(&out.stdout).expect("duckdb json");
    assert_eq!(reference.len(), queries.len());

    for ((strata_sql, _), expected) in queries.iter().zip(&reference) {
        let resp = client()
            .get(server.url("/api/v3/query_sql"))
            .query(&[("db", "bench"), ("q", strata_sql)])
            .send()
            .expect("query");
        let status = resp.status();
        let body = resp.text().expect("body");
        assert_eq!(status, 200, "{strata_sql}: {body}");
        let got: Value = serde_json::from_str(&body).expect("json");
        let columns: BTreeSet<String> = expected
            .as_array()
            .and_then(|r| r.first())
            .and_then(Value::as_object)
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        assert!(!columns.is_empty(), "{strata_sql}: DuckDB returned no rows");
        let ordered = strata_sql.contains("ORDER BY");
        assert_eq!(
            rows(&got, &columns, ordered),
            rows(expected, &columns, ordered),
            "{strata_sql}"
        );
    }
    assert!(server.stop().success(), "{}", server.log());
}
