//! Harness for end-to-end tests: starts the real `strata` binary on a free loopback port with a
//! temporary data dir (the server writes its bound address to a file, so there is no port race),
//! and offers HTTP and Parquet helpers. Every wait is bounded.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use arrow::record_batch::RecordBatch;

pub mod influxd;

/// The operator token every test server is started with.
pub const TOKEN: &str = "strata-test-token";

/// How long a server may take to start or stop.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Path of the `strata` binary, built once per test process (a no-op when up to date), so tests
/// never run a stale binary. `STRATA_BIN` overrides it.
pub fn strata_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("STRATA_BIN") {
            return PathBuf::from(bin);
        }
        let exe = std::env::current_exe().expect("current exe");
        // target/<profile>/deps/e2e-… → target/<profile>
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("test binary lives in target/<profile>/deps")
            .to_path_buf();
        let release = profile_dir.file_name().is_some_and(|n| n == "release");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--quiet", "-p", "server", "--bin", "strata"]);
        if release {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("run cargo build");
        assert!(status.success(), "cargo build of strata failed");
        profile_dir.join("strata")
    })
    .clone()
}

/// A running `strata serve`.
#[derive(Debug)]
pub struct TestServer {
    child: Option<Child>,
    /// `host:port` it listens on.
    pub addr: String,
    data_dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    args: Vec<String>,
}

impl TestServer {
    /// Starts a server on a fresh temporary data dir, with a short age flush.
    pub fn spawn(extra_args: &[&str]) -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let data_dir = tmp.path().join("data");
        let args: Vec<String> = extra_args.iter().map(|s| s.to_string()).collect();
        let mut server = TestServer {
            child: None,
            addr: String::new(),
            data_dir,
            _tmp: Some(tmp),
            args,
        };
        server.start();
        server
    }

    /// Starts a server on an existing data dir (e.g. another server's, once that one stopped).
    pub fn spawn_on(data_dir: &Path) -> Self {
        let mut server = TestServer {
            child: None,
            addr: String::new(),
            data_dir: data_dir.to_path_buf(),
            _tmp: None,
            args: Vec::new(),
        };
        server.start();
        server
    }

    /// Starts (again) on the same data dir and arguments.
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "already running");
        let dir = self
            .data_dir
            .parent()
            .expect("data dir has a parent")
            .to_path_buf();
        let listener = dir.join("addr");
        let _ = std::fs::remove_file(&listener);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("server.log"))
            .expect("log file");
        let mut cmd = Command::new(strata_bin());
        cmd.arg("serve")
            .arg("--http-bind=127.0.0.1:0")
            .arg(format!("--data-dir={}", self.data_dir.display()))
            .arg(format!("--listener-file={}", listener.display()))
            .arg("--flush-interval-ms=200")
            .arg("--workers=2")
            .arg("--log=info")
            .arg(format!("--admin-token={TOKEN}"))
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        let child = cmd.spawn().expect("spawn strata");
        self.child = Some(child);
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Ok(addr) = std::fs::read_to_string(&listener) {
                self.addr = addr.trim().to_owned();
                break;
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "strata exited during start-up with {status}:\n{}",
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "strata did not start:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `http://addr{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        let dir = self.data_dir.parent().expect("parent");
        std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
    }

    /// Where the server keeps its state.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// SIGTERM, then waits (bounded) for a graceful exit.
    pub fn stop(&mut self) -> ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        self.wait()
    }

    /// SIGKILL: the crash case.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn wait(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("strata did not stop in time:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Every Parquet file under the data dir, sorted by path.
    pub fn parquet_files(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        walk(&self.data_dir.join("buckets"), &mut out);
        out.retain(|p| p.extension().is_some_and(|e| e == "parquet"));
        out.sort();
        out
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Reads a Parquet file into Arrow batches.
pub fn read_parquet(path: &Path) -> Vec<RecordBatch> {
    let file = std::fs::File::open(path).expect("open parquet");
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .expect("parquet footer")
        .build()
        .expect("reader");
    reader.map(|b| b.expect("batch")).collect()
}

/// The measurement a Parquet file holds, from its key-value metadata (directory names are
/// bounded and may be a hash).
pub fn parquet_measurement(path: &Path) -> Option<String> {
    let file = std::fs::File::open(path).expect("open parquet");
    let reader = parquet::file::reader::SerializedFileReader::new(file).expect("parquet footer");
    use parquet::file::reader::FileReader;
    let meta = reader
        .metadata()
        .file_metadata()
        .key_value_metadata()?
        .clone();
    meta.into_iter()
        .find(|kv| kv.key == "strata.measurement")
        .and_then(|kv| kv.value)
}

/// A blocking HTTP client with a bounded timeout that sends the operator [`TOKEN`].
pub fn client() -> reqwest::blocking::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        reqwest::header::HeaderValue::from_static("Token strata-test-token"),
    );
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .default_headers(headers)
        .build()
        .expect("client")
}

/// A new token that may only write the server's first bucket (made with the operator token).
pub fn write_only_token(server: &TestServer) -> String {
    let buckets: serde_json::Value = client()
        .get(server.url("/api/v2/buckets"))
        .send()
        .expect("send")
        .json()
        .expect("json");
    let id = buckets["buckets"][0]["id"].as_str().expect("id").to_owned();
    let token: serde_json::Value = client()
        .post(server.url("/api/v2/authorizations"))
        .json(&serde_json::json!({"description": "writer", "permissions": [{"action": "write", "resource": {"type": "buckets", "id": id}}]}))
        .send()
        .expect("send")
        .json()
        .expect("json");
    token["token"].as_str().expect("secret").to_owned()
}

/// A blocking HTTP client that sends no credentials.
pub fn anonymous_client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client")
}

/// Gzips bytes.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).expect("gzip");
    enc.finish().expect("gzip")
}

/// Polls `f` every 20 ms until it returns `Some`, for at most `timeout`.
pub fn wait_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Renders every row of `batches` as `col=<type>:<value>` pairs in column order, skipping nulls:
/// `host=tag:a usage=f64:0.5 time=ts:1000`. Makes assertions on Parquet content exact and
/// readable.
pub fn render_rows(batches: &[RecordBatch]) -> Vec<String> {
    use arrow::array::{
        Array, AsArray, BooleanArray, Float64Array, Int64Array, StringArray,
        TimestampNanosecondArray, UInt64Array,
    };
    use arrow::datatypes::{DataType, Int32Type};
    let mut out = Vec::new();
    for batch in batches {
        let schema = batch.schema();
        for row in 0..batch.num_rows() {
            let mut cells = Vec::new();
            for (field, col) in schema.fields().iter().zip(batch.columns()) {
                if col.is_null(row) {
                    continue;
                }
                let value = match field.data_type() {
                    DataType::Dictionary(_, _) => {
                        let dict = col.as_dictionary::<Int32Type>();
                        let values = dict.values().as_string::<i32>();
                        let key = dict.keys().value(row) as usize;
                        format!("tag:{}", values.value(key))
                    }
                    DataType::Float64 => format!(
                        "f64:{:?}",
                        col.as_any()
                            .downcast_ref::<Float64Array>()
                            .expect("f64")
                            .value(row)
                    ),
                    DataType::Int64 => format!(
                        "i64:{}",
                        col.as_any()
                            .downcast_ref::<Int64Array>()
                            .expect("i64")
                            .value(row)
                    ),
                    DataType::UInt64 => format!(
                        "u64:{}",
                        col.as_any()
                            .downcast_ref::<UInt64Array>()
                            .expect("u64")
                            .value(row)
                    ),
                    DataType::Utf8 => format!(
                        "str:{:?}",
                        col.as_any()
                            .downcast_ref::<StringArray>()
                            .expect("str")
                            .value(row)
                    ),
                    DataType::Boolean => format!(
                        "bool:{}",
                        col.as_any()
                            .downcast_ref::<BooleanArray>()
                            .expect("bool")
                            .value(row)
                    ),
                    DataType::Timestamp(_, _) => format!(
                        "ts:{}",
                        col.as_any()
                            .downcast_ref::<TimestampNanosecondArray>()
                            .expect("ts")
                            .value(row)
                    ),
                    other => panic!("unexpected column type {other}"),
                };
                cells.push(format!("{}={value}", field.name()));
            }
            out.push(cells.join(" "));
        }
    }
    out
}

/// A small seeded xorshift generator for bounded randomized tests (the seed is printed by each
/// test so a failure can be replayed).
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A random element.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next_u64() % items.len() as u64) as usize]
    }

    /// Up to `max` random bytes from `alphabet`.
    pub fn bytes(&mut self, max: usize, alphabet: &[u8]) -> Vec<u8> {
        let n = (self.next_u64() % (max as u64 + 1)) as usize;
        (0..n).map(|_| *self.pick(alphabet)).collect()
    }
}

/// A seed from the clock (odd, as xorshift needs a non-zero state).
pub fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        | 1
}

/// Sends `n` writes to `url` at once, one thread each, body `body(i)`; returns their statuses.
pub fn concurrent_writes(url: &str, n: usize, body: impl Fn(usize) -> String) -> Vec<u16> {
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let (url, body) = (url.to_owned(), body(i));
            std::thread::spawn(move || {
                client()
                    .post(&url)
                    .body(body)
                    .send()
                    .expect("send")
                    .status()
                    .as_u16()
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .collect()
}
