//! A WAL that cannot be written (its disk fills up: a 1 MiB tmpfs) poisons the server: no 204
//! after the failure, `/health` fails, and after a restart with room again every point that did
//! get a 204 is there. Needs root for `mount` (CI runs as root).

use std::path::{Path, PathBuf};
use std::process::Command;

use strata_e2e::{client, read_parquet, render_rows, TestServer};

struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(path: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(path).expect("mount point");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mounting a tmpfs needs root (CI runs as root)"
        );
        Tmpfs(path.to_path_buf())
    }

    fn resize(&self, size: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .expect("run mount");
        assert!(status.success());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn full_wal_disk_poisons_writes_and_loses_nothing_acknowledged() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let wal_dir = tmp.path().join("walfs");
    let fs = Tmpfs::mount(&wal_dir, "1m");
    let wal_arg = format!("--wal-dir={}", wal_dir.display());
    let mut server = TestServer::spawn(&["--flush-interval-ms=3600000", &wal_arg]);
    let http = client();

    let mut acked = Vec::new();
    let mut first_failure = None;
    for batch in 0..200u32 {
        let mut body = String::new();
        for i in 0..100u32 {
            let id = batch * 100 + i;
            body.push_str(&format!(
                "p,b=x id={id}i,pad=\"{}\" {id}\n",
                "x".repeat(100)
            ));
        }
        let resp = http
            .post(server.url("/write?db=db"))
            .body(body)
            .send()
            .expect("send");
        match resp.status().as_u16() {
            204 if first_failure.is_none() => acked.push(batch),
            204 => panic!("batch {batch} acknowledged after the WAL failed"),
            503 => {
                assert!(resp.headers().contains_key("Retry-After"));
                first_failure.get_or_insert(batch);
            }
            other => panic!("unexpected status {other}: {:?}", resp.text()),
        }
    }
    let failed_at = first_failure.expect("a 1 MiB WAL must fill up within 2 MB of writes");
    assert!(!acked.is_empty());
    let health = http.get(server.url("/health")).send().expect("health");
    assert_eq!(health.status(), 503);
    let body: serde_json::Value = health.json().expect("json");
    assert_eq!(body["status"], "fail");
    assert!(
        server.log().contains("refusing all writes"),
        "{}",
        server.log()
    );

    // Room again; restart replays the WAL (cutting the torn record of the failed write).
    server.kill9();
    fs.resize("64m");
    server.start();
    let health = http.get(server.url("/health")).send().expect("health");
    assert_eq!(health.status(), 200);
    assert!(server.stop().success(), "{}", server.log());
    let mut ids = std::collections::BTreeSet::new();
    for file in server.parquet_files() {
        for row in render_rows(&read_parquet(&file)) {
            let id = row
                .split(' ')
                .find_map(|c| c.strip_prefix("id=i64:"))
                .expect("id column");
            ids.insert(id.parse::<u32>().expect("int"));
        }
    }
    for batch in &acked {
        for i in 0..100 {
            assert!(
                ids.contains(&(batch * 100 + i)),
                "acknowledged point {} lost",
                batch * 100 + i
            );
        }
    }
    eprintln!(
        "poison test: WAL full at batch {failed_at}; {} acknowledged batches all present after restart",
        acked.len()
    );
}
