use std::time::Duration;

use strata_e2e::{client, gzip, read_parquet, render_rows, wait_for, TestServer};

/// The seed's curl example, then points of every field type across two measurements; a graceful
/// stop flushes them; every value, tag and timestamp is read back from the Parquet files.
#[test]
fn every_field_type_across_two_measurements_lands_in_parquet() {
    // The seed's example sends `Authorization: Token API_TOKEN`; make that the operator token.
    let mut server = TestServer::spawn(&["--flush-interval-ms=3600000", "--admin-token=API_TOKEN"]);
    let http = reqwest::blocking::Client::builder()
        .default_headers(
            [(
                reqwest::header::AUTHORIZATION,
                "Token API_TOKEN".parse().expect("header"),
            )]
            .into_iter()
            .collect(),
        )
        .build()
        .expect("client");

    let seed = http
        .post(server.url("/write?db=DATABASE_NAME&rp=RETENTION_POLICY&precision=s"))
        .header("Authorization", "Token API_TOKEN")
        .header("Content-type", "text/plain; charset=utf-8")
        .body("home,room=kitchen temp=72 1463683075")
        .send()
        .expect("seed write");
    assert_eq!(seed.status(), 204, "{:?}", seed.text());

    let body = concat!(
        "cpu,host=b,region=eu usage=0.5,count=3i,total=18446744073709551615u,note=\"a \\\"quoted\\\" note\",up=true 2000\n",
        "cpu,host=a,region=eu usage=-1.25e3,count=-9223372036854775808i,total=0u,note=\"\",up=F 1000\n",
        "# a comment line\n",
        "cpu,host=a,region=eu usage=2,count=4i 3000\r\n",
        "mem,host=a used=1024i,free=0.25 1000\n",
        "mem,host=a,extra=x\\ y used=1i 2000\n",
    );
    let resp = http
        .post(server.url("/write?db=telegraf&rp=autogen"))
        .body(body)
        .send()
        .expect("write");
    assert_eq!(resp.status(), 204, "{:?}", resp.text());

    // gzip, precision=ms, no timestamp → receive time truncated to ms
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos() as i64;
    let resp = http
        .post(server.url("/write?db=telegraf&precision=ms"))
        .header("Content-Encoding", "gzip")
        .body(gzip(b"mem,host=c used=7i\n"))
        .send()
        .expect("gzip write");
    assert_eq!(resp.status(), 204, "{:?}", resp.text());

    assert!(server.stop().success(), "{}", server.log());
    let files = server.parquet_files();
    // home, cpu, and mem split over two UTC days (1970-01-01 and today)
    assert_eq!(files.len(), 4, "{files:?}\n{}", server.log());

    let home: Vec<_> = files
        .iter()
        .filter(|p| p.to_string_lossy().contains("/home/"))
        .collect();
    assert_eq!(home.len(), 1);
    assert!(
        home[0].to_string_lossy().contains("/2016-05-19/"),
        "{home:?}"
    );
    assert_eq!(
        render_rows(&read_parquet(home[0])),
        ["room=tag:kitchen temp=f64:72.0 time=ts:1463683075000000000"]
    );

    let cpu: Vec<_> = files
        .iter()
        .filter(|p| p.to_string_lossy().contains("/cpu/"))
        .collect();
    assert_eq!(cpu.len(), 1);
    // sorted by tags (host, region) then time; columns: tags, fields by name, time
    assert_eq!(
        render_rows(&read_parquet(cpu[0])),
        [
            "host=tag:a region=tag:eu count=i64:-9223372036854775808 note=str:\"\" total=u64:0 up=bool:false usage=f64:-1250.0 time=ts:1000",
            "host=tag:a region=tag:eu count=i64:4 usage=f64:2.0 time=ts:3000",
            "host=tag:b region=tag:eu count=i64:3 note=str:\"a \\\"quoted\\\" note\" total=u64:18446744073709551615 up=bool:true usage=f64:0.5 time=ts:2000",
        ]
    );

    let mem: Vec<_> = files
        .iter()
        .filter(|p| p.to_string_lossy().contains("/mem/"))
        .collect();
    let mut rows: Vec<String> = mem
        .iter()
        .flat_map(|p| render_rows(&read_parquet(p)))
        .collect();
    rows.sort();
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(rows[0], "extra=tag:x y host=tag:a used=i64:1 time=ts:2000");
    assert_eq!(
        rows[1],
        "host=tag:a free=f64:0.25 used=i64:1024 time=ts:1000"
    );
    let (prefix, ts) = rows[2].rsplit_once("time=ts:").expect("time");
    assert_eq!(prefix, "host=tag:c used=i64:7 ");
    let ts: i64 = ts.parse().expect("ts");
    assert_eq!(ts % 1_000_000, 0, "receive time truncated to ms");
    assert!(
        ts >= before - 1_000_000 && ts <= before + 60_000_000_000,
        "{ts} vs {before}"
    );

    // The Parquet schema says what each column is.
    let file = std::fs::File::open(cpu[0]).expect("open");
    let meta = parquet::file::reader::SerializedFileReader::new(file).expect("footer");
    use parquet::file::reader::FileReader;
    let md = meta.metadata();
    let col = md.row_group(0).column(0);
    assert!(
        col.compression().to_string().starts_with("ZSTD"),
        "{:?}",
        col.compression()
    );
}

/// A buffer that passes --flush-table-bytes is flushed while the server keeps running and keeps
/// taking writes.
#[test]
fn size_triggered_flush_happens_while_running() {
    let server = TestServer::spawn(&["--flush-interval-ms=3600000", "--flush-table-bytes=20000"]);
    let http = client();
    let mut body = String::new();
    for i in 0..2_000 {
        body.push_str(&format!("disk,host=h{} free={i}i,used={i}.5 {i}\n", i % 10));
    }
    let resp = http
        .post(server.url("/write?db=db"))
        .body(body)
        .send()
        .expect("write");
    assert_eq!(resp.status(), 204, "{:?}", resp.text());

    let files = wait_for(Duration::from_secs(30), || {
        let f = server.parquet_files();
        (!f.is_empty()).then_some(f)
    })
    .unwrap_or_else(|| panic!("no size-triggered flush:\n{}", server.log()));
    let rows: usize = files
        .iter()
        .flat_map(|p| read_parquet(p))
        .map(|b| b.num_rows())
        .sum();
    assert!(rows > 0 && rows <= 2_000, "{rows}");

    // still serving
    let resp = http
        .post(server.url("/write?db=db"))
        .body("disk,host=x free=1i,used=1.5 1")
        .send()
        .expect("write");
    assert_eq!(resp.status(), 204);
    let ping = http.get(server.url("/ping")).send().expect("ping");
    assert_eq!(ping.status(), 204);
}

/// Age-based flush: points show up in Parquet without a restart.
#[test]
fn age_triggered_flush() {
    let server = TestServer::spawn(&["--flush-interval-ms=100"]);
    let resp = client()
        .post(server.url("/write?db=db"))
        .body("m v=1 1")
        .send()
        .expect("write");
    assert_eq!(resp.status(), 204);
    let files = wait_for(Duration::from_secs(30), || {
        let f = server.parquet_files();
        (!f.is_empty()).then_some(f)
    })
    .unwrap_or_else(|| panic!("no age flush:\n{}", server.log()));
    assert_eq!(
        render_rows(&read_parquet(&files[0])),
        ["v=f64:1.0 time=ts:1"]
    );
}

/// Over --max-buffer-bytes, writes wait for a flush instead of growing memory: with a one-hour
/// flush interval, data still reaches Parquet because back-pressure forces flushes.
#[test]
fn buffer_limit_forces_flushes_instead_of_growing() {
    let server = TestServer::spawn(&["--flush-interval-ms=3600000", "--max-buffer-bytes=30000"]);
    let http = client();
    for batch in 0..40 {
        let mut body = String::new();
        for i in 0..200 {
            body.push_str(&format!("bp,host=h{} v={i}i {}\n", i % 7, batch * 1000 + i));
        }
        let resp = http
            .post(server.url("/write?db=db"))
            .body(body)
            .send()
            .expect("write");
        assert_eq!(resp.status(), 204, "batch {batch}: {:?}", resp.text());
    }
    assert!(!server.parquet_files().is_empty(), "{}", server.log());
    assert!(server.log().contains("flush done"), "{}", server.log());
}

/// Writing the same series and timestamp again overwrites, as in InfluxDB 1.x: one row, the
/// union of the fields, the later value of each.
#[test]
fn same_point_twice_is_one_row_last_write_wins() {
    let mut server = TestServer::spawn(&["--flush-interval-ms=3600000"]);
    let http = client();
    for body in ["m,host=a v=1,w=10i 5", "m,host=a v=2 5", "m,host=b v=7 5"] {
        let resp = http
            .post(server.url("/write?db=db"))
            .body(body)
            .send()
            .expect("write");
        assert_eq!(resp.status(), 204);
    }
    assert!(server.stop().success());
    let rows: Vec<String> = server
        .parquet_files()
        .iter()
        .flat_map(|f| render_rows(&read_parquet(f)))
        .collect();
    assert_eq!(
        rows,
        [
            "host=tag:a v=f64:2.0 w=i64:10 time=ts:5",
            "host=tag:b v=f64:7.0 time=ts:5"
        ]
    );
}

/// A SIGTERM the moment the server says it is ready (its listener file exists) is a graceful
/// stop with exit status 0, never the signal's default action. Points written before it land.
#[test]
fn sigterm_right_after_start_is_a_graceful_stop() {
    let mut server = TestServer::spawn(&[]);
    for round in 0..20 {
        if round == 0 {
            let r = client()
                .post(server.url("/write?db=early"))
                .header("Authorization", format!("Token {}", strata_e2e::TOKEN))
                .body("m v=1 1")
                .send()
                .expect("write");
            assert_eq!(r.status(), 204);
        }
        let status = server.stop();
        assert!(
            status.success(),
            "round {round}: {status}\n{}",
            server.log()
        );
        server.start();
    }
    assert!(server.stop().success());
    assert_eq!(server.parquet_files().len(), 1, "{}", server.log());
}
