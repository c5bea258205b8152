//! A real InfluxDB 1.x (`influxd` from Debian's `influxdb`) on loopback ports with a temporary
//! directory, for differential tests. Stopped (by its PID) when dropped.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `influxd`.
#[derive(Debug)]
pub struct Influxd {
    child: Child,
    /// `host:port` of its HTTP API.
    pub addr: String,
    dir: tempfile::TempDir,
}

/// A port free on 127.0.0.1 at this instant (influxd cannot report the one it bound).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind a loopback port")
}

impl Influxd {
    /// Starts `influxd`, or returns `None` when it is not installed and `CI` is unset (CI
    /// installs it, so there a missing binary fails the test).
    pub fn spawn() -> Option<Self> {
        if Command::new("influxd").arg("version").output().is_err() {
            assert!(
                std::env::var_os("CI").is_none(),
                "influxd is not installed (apt-get install influxdb)"
            );
            eprintln!("influxd not installed: skipping the comparison with InfluxDB 1.x");
            return None;
        }
        // Another process may take a port between probe and bind: a few attempts.
        for _ in 0..3 {
            if let Some(server) = Self::try_spawn() {
                return Some(server);
            }
        }
        panic!("influxd did not start in three attempts");
    }

    fn try_spawn() -> Option<Self> {
        let dir = tempfile::tempdir().expect("tempdir");
        let (http, rpc) = (free_port(), free_port());
        let root = dir.path().display();
        let conf = format!(
            "reporting-disabled = true\n\
             bind-address = \"127.0.0.1:{rpc}\"\n\
             [meta]\n  dir = \"{root}/meta\"\n\
             [data]\n  dir = \"{root}/data\"\n  wal-dir = \"{root}/wal\"\n  query-log-enabled = false\n\
             [monitor]\n  store-enabled = false\n\
             [http]\n  bind-address = \"127.0.0.1:{http}\"\n  log-enabled = false\n\
             [continuous_queries]\n  enabled = false\n"
        );
        let conf_path = dir.path().join("influxd.conf");
        std::fs::write(&conf_path, conf).expect("write influxd.conf");
        let log = std::fs::File::create(dir.path().join("influxd.log")).expect("log");
        let child = Command::new("influxd")
            .arg("-config")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawn influxd");
        let mut server = Influxd {
            child,
            addr: format!("127.0.0.1:{http}"),
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = crate::anonymous_client();
        while Instant::now() < deadline {
            if server.child.try_wait().ok().flatten().is_some() {
                return None;
            }
            if client
                .get(server.url("/ping"))
                .send()
                .is_ok_and(|r| r.status() == 204)
            {
                return Some(server);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("influxd did not answer /ping:\n{}", server.log());
    }

    /// `http://addr{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("influxd.log")).unwrap_or_default()
    }
}

impl Drop for Influxd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
