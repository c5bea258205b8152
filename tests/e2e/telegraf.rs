//! A faithful driver of Telegraf's `[[outputs.influxdb]]` HTTP behaviour (there is no Telegraf
//! binary here), written from `plugins/outputs/influxdb/http.go`:
//! - on connect: `POST /query` with form body `q=CREATE DATABASE "telegraf"`, Basic auth;
//! - each batch: `POST /write?db=…&rp=…&consistency=any`, gzip, `Transfer-Encoding: chunked` (no
//!   Content-Length), `Content-Type: text/plain; charset=utf-8`, Basic auth;
//! - the answer: 204 → delivered; a non-JSON error body → retry; `database not found` in the
//!   JSON error → create the database, retry; any other 4xx → drop the batch; anything else →
//!   retry later (the batch stays in the buffer).
//!
//! The test shows that such a Telegraf loses nothing across a server restart and retries only on
//! 5xx or a dead connection.

use std::collections::VecDeque;
use std::io::Read;

use strata_e2e::{read_parquet, TestServer, TOKEN};

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Delivered,
    Dropped(u16, String),
    Retry(String),
    DatabaseNotFound,
}

struct Telegraf {
    http: reqwest::blocking::Client,
    database: String,
    retention_policy: String,
}

impl Telegraf {
    fn create_database(&self, base: &str) -> Result<(), String> {
        let resp = self
            .http
            .post(format!("{base}/query"))
            .basic_auth("telegraf", Some(TOKEN))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!("q=CREATE+DATABASE+%22{}%22", self.database))
            .send()
            .map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let body: serde_json::Value = resp.json().map_err(|e| e.to_string())?;
        if status != 200 || body["results"][0].get("error").is_some() {
            return Err(format!("{status}: {body}"));
        }
        Ok(())
    }

    fn write(&self, base: &str, lines: &str) -> Outcome {
        let url = format!(
            "{base}/write?db={}&rp={}&consistency=any",
            self.database, self.retention_policy
        );
        // A reader body makes the request chunked, without Content-Length, as Telegraf's is.
        let gz = flate2::read::GzEncoder::new(
            std::io::Cursor::new(lines.as_bytes().to_vec()),
            flate2::Compression::default(),
        );
        let resp = match self
            .http
            .post(url)
            .basic_auth("telegraf", Some(TOKEN))
            .header("Content-Type", "text/plain; charset=utf-8")
            .header("Content-Encoding", "gzip")
            .body(reqwest::blocking::Body::new(gz))
            .send()
        {
            Ok(r) => r,
            Err(e) => return Outcome::Retry(format!("connection: {e}")),
        };
        let status = resp.status().as_u16();
        if status == 204 {
            return Outcome::Delivered;
        }
        let mut body = String::new();
        let _ = resp.take(1 << 20).read_to_string(&mut body);
        let Ok(json) = serde_json::from_str::<serde_json::Value>(&body) else {
            return Outcome::Retry(format!("{status}: non-JSON body {body:?}"));
        };
        let desc = json["error"].as_str().unwrap_or_default().to_owned();
        if desc.contains("database not found") {
            return Outcome::DatabaseNotFound;
        }
        if (400..500).contains(&status) {
            return Outcome::Dropped(status, desc);
        }
        Outcome::Retry(format!("{status}: {desc}"))
    }
}

#[test]
fn telegraf_loses_nothing_across_a_restart_and_retries_only_on_5xx() {
    let mut server = TestServer::spawn(&["--flush-interval-ms=3600000"]);
    let telegraf = Telegraf {
        http: reqwest::blocking::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .expect("client"),
        database: "telegraf".into(),
        retention_policy: "autogen".into(),
    };
    telegraf
        .create_database(&server.url(""))
        .expect("CREATE DATABASE at start");

    // 40 batches of 50 metrics, unique ids; batch 7 also carries a point that conflicts.
    let mut buffer: VecDeque<(usize, String)> = (0..40)
        .map(|b| {
            let mut lines = String::new();
            for i in 0..50 {
                let id = b * 50 + i;
                lines.push_str(&format!(
                    "cpu,host=h{},cpu=cpu{} usage_idle={}.5,id={id}i {}\n",
                    id % 5,
                    id % 2,
                    id % 100,
                    1_700_000_000_000_000_000i64 + id as i64
                ));
            }
            if b == 7 {
                lines.push_str("cpu,host=h0 usage_idle=\"oops\" 1\n");
            }
            (b, lines)
        })
        .collect();
    let mut dropped = Vec::new();
    let mut retries = Vec::new();
    let mut restarted = false;
    let mut attempts = 0;
    while let Some((b, lines)) = buffer.front().cloned() {
        attempts += 1;
        assert!(attempts < 500, "no progress: {retries:?}");
        if b == 20 && !restarted {
            // Restart under load: in-flight batches fail and must be retried, not lost.
            server.kill9();
            let outcome = telegraf.write(&server.url(""), &lines);
            assert!(matches!(outcome, Outcome::Retry(_)), "{outcome:?}");
            retries.push(format!("{outcome:?}"));
            server.start();
            restarted = true;
            continue;
        }
        match telegraf.write(&server.url(""), &lines) {
            Outcome::Delivered => {
                buffer.pop_front();
            }
            Outcome::Dropped(status, desc) => {
                dropped.push((b, status, desc));
                buffer.pop_front();
            }
            Outcome::DatabaseNotFound => telegraf.create_database(&server.url("")).expect("create"),
            Outcome::Retry(why) => {
                // Only a dead connection or a 5xx may lead here.
                assert!(
                    why.starts_with("connection") || why.starts_with('5'),
                    "retry on {why}"
                );
                retries.push(why);
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
    }
    // Only the batch with the conflicting point was "dropped" by Telegraf's rules; Strata wrote
    // its other 50 points (partial write), so nothing valid is lost.
    assert_eq!(dropped.len(), 1, "{dropped:?}");
    assert_eq!(dropped[0].0, 7);
    assert_eq!(dropped[0].1, 400);
    assert!(
        dropped[0]
            .2
            .starts_with("partial write: field type conflict"),
        "{}",
        dropped[0].2
    );

    assert!(server.stop().success(), "{}", server.log());
    let mut ids = Vec::new();
    for file in server.parquet_files() {
        for batch in read_parquet(&file) {
            use arrow::array::{Array, Int64Array};
            let col = batch.column_by_name("id").expect("id column");
            let col = col.as_any().downcast_ref::<Int64Array>().expect("i64");
            ids.extend(
                (0..col.len())
                    .filter(|&i| col.is_valid(i))
                    .map(|i| col.value(i)),
            );
        }
    }
    ids.sort_unstable();
    let expected: Vec<i64> = (0..2000).collect();
    assert_eq!(ids, expected, "every metric exactly once");
}
