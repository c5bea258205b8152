//! kill -9 at a random moment while 4 clients write: after a restart, every point that got a 204
//! is present exactly once, and no point is present twice.
//!
//! Iterations: `STRATA_CRASH_ITERATIONS` (default 20, what CI runs).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use strata_e2e::{client, clock_seed, read_parquet, Rng, TestServer};

const CLIENTS: u64 = 4;
const POINTS_PER_REQUEST: u64 = 50;
/// Client 0's requests: bodies over 128 KiB, which the server cuts into parts done on several
/// threads and logs as one record.
const LARGE_POINTS_PER_REQUEST: u64 = 3_000;
/// Upper bound on one iteration's write phase.
const WRITE_PHASE_MAX: Duration = Duration::from_secs(10);

fn ids_in_parquet(server: &TestServer) -> HashMap<i64, usize> {
    use arrow::array::{Array, Int64Array};
    let mut seen: HashMap<i64, usize> = HashMap::new();
    for file in server.parquet_files() {
        for batch in read_parquet(&file) {
            let Some(col) = batch.column_by_name("id") else {
                continue;
            };
            let ids = col
                .as_any()
                .downcast_ref::<Int64Array>()
                .expect("id is i64");
            for i in 0..ids.len() {
                if ids.is_valid(i) {
                    *seen.entry(ids.value(i)).or_default() += 1;
                }
            }
        }
    }
    seen
}

#[test]
fn kill9_loses_no_acknowledged_point_and_duplicates_none() {
    let iterations: usize = std::env::var("STRATA_CRASH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let seed = clock_seed();
    eprintln!("crash test: {iterations} iterations, seed {seed}");
    let mut rng = Rng(seed);
    // Short flush interval and small buffers: flushes, manifests and WAL deletion all race
    // with the kill.
    let mut server = TestServer::spawn(&["--flush-interval-ms=150", "--flush-table-bytes=200000"]);
    let acked: Arc<Mutex<Vec<i64>>> = Arc::new(Mutex::new(Vec::new()));
    let mut next_id: i64 = 0;
    let mut total_acked = 0;
    for iteration in 0..iterations {
        let stop = Arc::new(AtomicBool::new(false));
        let mut handles = Vec::new();
        for c in 0..CLIENTS {
            let url = server.url("/write?db=crash&precision=ns");
            let acked = Arc::clone(&acked);
            let stop = Arc::clone(&stop);
            // Each client owns a disjoint id range per iteration.
            let base = next_id + (c as i64) * 10_000_000;
            handles.push(std::thread::spawn(move || {
                let http = client();
                let started = Instant::now();
                let mut id = base;
                while !stop.load(Ordering::Relaxed) && started.elapsed() < WRITE_PHASE_MAX {
                    let mut body = String::new();
                    let first = id;
                    let points = if c == 0 {
                        LARGE_POINTS_PER_REQUEST
                    } else {
                        POINTS_PER_REQUEST
                    };
                    for _ in 0..points {
                        body.push_str(&format!(
                            "crash,client=c{c} id={id}i,v=1.5 {}\n",
                            1_700_000_000_000_000_000 + id
                        ));
                        id += 1;
                    }
                    match http.post(&url).body(body).send() {
                        Ok(r) if r.status() == 204 => {
                            acked.lock().expect("lock").extend(first..id);
                        }
                        // Killed mid-request, or refused while shutting down: not acknowledged.
                        _ => break,
                    }
                }
            }));
        }
        next_id += CLIENTS as i64 * 10_000_000;
        // The random moment is measured from the first acknowledgement, so a slow start-up
        // (a big replay) cannot leave an iteration with nothing written.
        let started = Instant::now();
        while acked.lock().expect("lock").len() == total_acked
            && started.elapsed() < WRITE_PHASE_MAX
        {
            std::thread::sleep(Duration::from_millis(2));
        }
        std::thread::sleep(Duration::from_millis(rng.next_u64() % 700));
        server.kill9();
        stop.store(true, Ordering::Relaxed);
        for h in handles {
            h.join().expect("client thread");
        }
        server.start();
        let acked_now = acked.lock().expect("lock").len();
        assert!(
            acked_now > total_acked,
            "iteration {iteration}: no write was acknowledged:\n{}",
            server.log()
        );
        total_acked = acked_now;
    }
    assert!(server.stop().success(), "{}", server.log());
    let seen = ids_in_parquet(&server);
    let acked = acked.lock().expect("lock");
    let missing: Vec<_> = acked
        .iter()
        .filter(|id| !seen.contains_key(id))
        .take(10)
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledged points lost (first 10): {missing:?}\n{}",
        server.log()
    );
    let dups: Vec<_> = seen.iter().filter(|(_, &n)| n > 1).take(10).collect();
    assert!(
        dups.is_empty(),
        "points present more than once (id, count): {dups:?}"
    );
    eprintln!(
        "crash test: {iterations} kills, {} acknowledged points all present once, {} points in Parquet",
        acked.len(),
        seen.len()
    );
}
