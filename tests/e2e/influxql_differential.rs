//! The same data written through `/write` to Strata and to the real InfluxDB 1.x, then every
//! statement of `influxql_differential/queries.influxql` asked of both on `/query`: the answers
//! must agree (series, tags, columns, values; floats to 1e-9 relative; points of one time in
//! any order), except where
//! `influxql_differential/differences.txt` lists a statement with the reason it differs. A listed
//! statement that has come to agree fails the test too, so the list stays true.

use std::collections::BTreeMap;

use serde_json::Value;
use strata_e2e::influxd::Influxd;
use strata_e2e::{anonymous_client, client, Rng, TestServer};

const QUERIES: &str = include_str!("influxql_differential/queries.influxql");
const DIFFERENCES: &str = include_str!("influxql_differential/differences.txt");
const START_S: i64 = 1_704_067_200; // 2024-01-01T00:00:00Z

/// Line protocol (precision s) in three batches: before and after the 00:30 flush of Strata,
/// and rewrites of points already written (fields merged, the later value winning).
fn batches() -> [String; 3] {
    let mut rng = Rng(0xD1FF);
    let (mut early, mut late) = (String::new(), String::new());
    for step in 0..360 {
        let t = START_S + step * 10;
        let out = if step < 180 { &mut early } else { &mut late };
        for h in 0..4 {
            let region = ["eu", "us"][h % 2];
            let user = (rng.next_u64() % 9_900 + 50) as f64 / 100.0;
            let system = match step % 7 {
                3 => String::new(),
                _ => format!(
                    ",usage_system={}",
                    (rng.next_u64() % 4_000) as f64 / 100.0 + 0.5
                ),
            };
            // host_1 counts up and resets now and then; the others are noise.
            let requests = match h {
                1 => (step * 13) % 1000,
                _ => (rng.next_u64() % 1000) as i64,
            };
            let ok = !rng.next_u64().is_multiple_of(3);
            out.push_str(&format!(
                "cpu,host=host_{h},region={region} usage_user={user}{system},requests={requests}i,ok={ok} {t}\n"
            ));
            if step % 6 == 0 {
                let status = ["ok", "warn", "crit"][(rng.next_u64() % 3) as usize];
                let used = 1_000_000 + (rng.next_u64() % 50_000) as i64 * (step % 5 + 1);
                let swap = match (h, step % 18) {
                    (0, 0) | (2, 6) => format!(",swap={}", (rng.next_u64() % 400) as f64 / 4.0),
                    _ => String::new(),
                };
                out.push_str(&format!(
                    "mem,host=host_{h} used={used}i,status=\"{status}\"{swap} {t}\n"
                ));
            }
            if step % 30 == 0 && h < 2 {
                for path in ["/", "/var"] {
                    let free = (rng.next_u64() % 10_000) as i64 * 1_000;
                    out.push_str(&format!(
                        "disk,host=host_{h},path={path} free={free}i {t}\n"
                    ));
                }
            }
        }
    }
    let rewrites = format!(
        "cpu,host=host_0,region=eu usage_user=12.5,requests=7i {}\nmem,host=host_1 status=\"rewritten\" {}\n",
        START_S + 1200,
        START_S + 1800
    );
    [early, late, rewrites]
}

/// Statements with their extra parameters (`?epoch=ms SELECT …`).
fn queries() -> Vec<(String, Vec<(String, String)>)> {
    QUERIES
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(
            |l| match l.strip_prefix('?').and_then(|r| r.split_once(' ')) {
                Some((params, q)) => {
                    let params = params
                        .split('&')
                        .filter_map(|kv| kv.split_once('='))
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .collect();
                    (q.to_owned(), params)
                }
                None => (l.to_owned(), Vec::new()),
            },
        )
        .collect()
}

/// `Q: <line of queries.influxql>` followed by `why: <reason>`.
fn differences() -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut pending: Option<String> = None;
    for line in DIFFERENCES.lines() {
        if let Some(q) = line.strip_prefix("Q: ") {
            pending = Some(q.trim().to_owned());
        } else if let Some(why) = line.strip_prefix("why: ") {
            let q = pending.take().expect("`why:` follows a `Q:` line");
            out.insert(q, why.trim().to_owned());
        }
    }
    assert!(pending.is_none(), "a `Q:` without its `why:`");
    out
}

/// Whether two answers agree: same shape, strings and booleans equal, numbers within 1e-9
/// relative (1.x's JSON writes a whole float without a fraction, so the types are not compared).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs())
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// Rows of one series at the same time sorted by their values: 1.x returns points of
/// different series at the same time in its series-id order, which is no order a client can
/// rely on.
fn normalize(v: &mut Value) {
    for result in v["results"].as_array_mut().into_iter().flatten() {
        for series in result["series"].as_array_mut().into_iter().flatten() {
            let Some(rows) = series["values"].as_array_mut() else {
                continue;
            };
            let mut i = 0;
            while i < rows.len() {
                let j = (i..rows.len())
                    .find(|&j| rows[j].get(0) != rows[i].get(0))
                    .unwrap_or(rows.len());
                rows[i..j].sort_by_key(|r| r.to_string());
                i = j;
            }
        }
    }
}

fn ask(
    http: &reqwest::blocking::Client,
    url: &str,
    q: &str,
    params: &[(String, String)],
) -> (u16, Value) {
    let mut form = vec![
        ("db".to_owned(), "diff".to_owned()),
        ("q".to_owned(), q.to_owned()),
    ];
    form.extend_from_slice(params);
    let resp = http.post(url).form(&form).send().expect("send");
    let status = resp.status().as_u16();
    let body = resp.text().expect("body");
    let mut json = serde_json::from_str(&body).unwrap_or(Value::String(body));
    normalize(&mut json);
    (status, json)
}

fn clip(v: &Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(700) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}

#[test]
fn influxql_answers_as_influxdb_1x() {
    let Some(influx) = Influxd::spawn() else {
        return;
    };
    let strata = TestServer::spawn(&[]);
    let (ours, theirs) = (client(), anonymous_client());
    for (http, base) in [(&ours, strata.url("")), (&theirs, influx.url(""))] {
        let resp = http
            .post(format!("{base}/query"))
            .form(&[("q", "CREATE DATABASE diff")])
            .send()
            .expect("send");
        assert_eq!(resp.status(), 200, "CREATE DATABASE on {base}");
    }
    let [early, late, rewrites] = batches();
    for (i, body) in [early, late, rewrites].into_iter().enumerate() {
        for (http, base) in [(&ours, strata.url("")), (&theirs, influx.url(""))] {
            let resp = http
                .post(format!("{base}/write?db=diff&precision=s"))
                .body(body.clone())
                .send()
                .expect("send");
            assert_eq!(resp.status(), 204, "write to {base}: {:?}", resp.text());
        }
        if i == 0 {
            // The first half is in a Parquet file before the rest arrives.
            let flushed = strata_e2e::wait_for(std::time::Duration::from_secs(20), || {
                (!strata.parquet_files().is_empty()).then_some(())
            });
            assert!(flushed.is_some(), "no flush: {}", strata.log());
        }
    }
    let known = differences();
    let queries = queries();
    assert!(queries.len() >= 150, "{} statements", queries.len());
    let mut unexpected = Vec::new();
    let mut now_agree = Vec::new();
    for (q, params) in &queries {
        let a = ask(&ours, &strata.url("/query"), q, params);
        let b = ask(&theirs, &influx.url("/query"), q, params);
        let agree = a.0 == b.0 && same(&a.1, &b.1);
        match (agree, known.contains_key(q)) {
            (false, false) => unexpected.push(format!(
                "{q}\n  strata   {} {}\n  influxdb {} {}",
                a.0,
                clip(&a.1),
                b.0,
                clip(&b.1)
            )),
            (true, true) => now_agree.push(q.clone()),
            _ => {}
        }
    }
    for q in known.keys() {
        assert!(
            queries.iter().any(|(x, _)| x == q),
            "differences.txt lists a statement queries.influxql lacks: {q}"
        );
    }
    eprintln!(
        "{} statements: {} agree, {} listed differences, {} unexpected",
        queries.len(),
        queries.len() - known.len() - unexpected.len() + now_agree.len(),
        known.len() - now_agree.len(),
        unexpected.len()
    );
    assert!(
        unexpected.is_empty() && now_agree.is_empty(),
        "{} answers differ from InfluxDB 1.x:\n\n{}\n\nlisted in differences.txt but now agree:\n{}",
        unexpected.len(),
        unexpected.join("\n\n"),
        now_agree.join("\n")
    );
}
