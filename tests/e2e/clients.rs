//! The real client libraries users point at Strata, driven by small scripts in `tests/clients`
//! (installed by `scripts/test`): node-influx (npm `influx` 5.12) and influxdb-python (PyPI
//! `influxdb` 5.3.2). Each script creates its database, writes, and checks the client saw
//! success (and an error for a bad point); then the Parquet files must hold exactly the points.

use std::path::PathBuf;
use std::process::Command;

use strata_e2e::{read_parquet, render_rows, TestServer, TOKEN};

fn clients_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("clients")
}

/// Runs a client script; returns its stdout.
fn run(mut cmd: Command, what: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what} failed (scripts/test installs the clients):\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn rows_of(server: &TestServer, measurement: &str) -> Vec<String> {
    let mut rows: Vec<String> = server
        .parquet_files()
        .iter()
        .filter(|p| p.to_string_lossy().contains(&format!("/{measurement}/")))
        .flat_map(|p| render_rows(&read_parquet(p)))
        .collect();
    rows.sort();
    rows
}

#[test]
fn node_influx_writes_land() {
    let mut server = TestServer::spawn(&["--flush-interval-ms=3600000"]);
    let (host, port) = server.addr.split_once(':').expect("host:port");
    let dir = clients_dir().join("node");
    assert!(
        dir.join("node_modules/influx").exists(),
        "node-influx is not installed: run scripts/test"
    );
    let mut cmd = Command::new("node");
    cmd.arg(dir.join("write.js"))
        .args([host, port, TOKEN, "nodedb"]);
    run(cmd, "node-influx");
    assert!(server.stop().success());
    assert_eq!(
        rows_of(&server, "node_cpu"),
        [
            "host=tag:a count=i64:3 note=str:\"hello \\\"world\\\"\" up=bool:true usage=f64:0.5 time=ts:1700000000000000000",
            "host=tag:b count=i64:-7 note=str:\"x,y z\" up=bool:false usage=f64:1.25 time=ts:1700000001000000000",
        ]
    );
    assert_eq!(
        rows_of(&server, "node_mem"),
        ["host=tag:a used=f64:42.0 time=ts:1700000002000000000"]
    );
}

#[test]
fn influxdb_python_writes_land() {
    let mut server = TestServer::spawn(&["--flush-interval-ms=3600000"]);
    let (host, port) = server.addr.split_once(':').expect("host:port");
    let mut cmd = Command::new("python3");
    cmd.arg(clients_dir().join("python/write.py"))
        .args([host, port, TOKEN, "pydb"]);
    let stdout = run(cmd, "influxdb-python");
    let base: i64 = stdout
        .trim()
        .strip_prefix("ok ")
        .and_then(|b| b.parse().ok())
        .unwrap_or_else(|| panic!("unexpected output {stdout:?}"));
    assert!(server.stop().success());
    let rows = rows_of(&server, "py_cpu");
    assert_eq!(rows.len(), 25, "{rows:?}");
    let seventh = format!(
        "host=tag:h1 count=i64:7 label=str:\"n7\" ok=bool:false usage=f64:3.5 time=ts:{}",
        (base + 7) * 1_000_000_000
    );
    assert!(rows.contains(&seventh), "{seventh} not in {rows:?}");
    assert!(server
        .parquet_files()
        .iter()
        .all(|p| !p.to_string_lossy().contains("/py_cpu/")
            || p.to_string_lossy()
                .contains(&bucket_dir(&server, "pydb/week"))));
    assert_eq!(
        rows_of(&server, "py_line"),
        ["host=tag:x v=i64:1 time=ts:1700000000000000000"]
    );
}

/// The directory of bucket `name` (buckets/<id>), found through the admin API.
fn bucket_dir(server: &TestServer, name: &str) -> String {
    // The server is stopped: read the catalog through a fresh one.
    let mut again = TestServer::spawn_on(server.data_dir());
    let buckets: serde_json::Value = strata_e2e::client()
        .get(again.url("/api/v2/buckets"))
        .send()
        .expect("send")
        .json()
        .expect("json");
    let id = buckets["buckets"]
        .as_array()
        .expect("list")
        .iter()
        .find(|b| b["name"] == name)
        .and_then(|b| b["id"].as_str())
        .unwrap_or_else(|| panic!("no bucket {name}: {buckets}"))
        .to_owned();
    assert!(again.stop().success());
    format!("/buckets/{id}/")
}
