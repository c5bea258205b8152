//! Error texts, each checked against a running InfluxDB 1.6 (`influxd` 1.6.7, whose vendored
//! influxql parser matches the module version 1.8 pins for everything here); the strings are what
//! follows `error parsing query: ` in its 400 response.

use influxql::{parse_query, parse_query_with_params, ParamValue, Params};

fn check(query: &str, expected: &str) {
    match parse_query(query) {
        Ok(s) => panic!("{query:?} parsed: {s:?}"),
        Err(e) => assert_eq!(e.to_string(), expected, "query: {query:?}"),
    }
}

#[test]
fn errors_match_influxdb_1x() {
    let cases: &[(&str, &str)] = &[
        (
            r#"SELECT"#,
            r#"found EOF, expected identifier, string, number, bool at line 1, char 8"#,
        ),
        (
            r#"SELECT * FROM"#,
            r#"found EOF, expected identifier at line 1, char 15"#,
        ),
        (
            r#"FOO"#,
            r#"found FOO, expected SELECT, DELETE, SHOW, CREATE, DROP, EXPLAIN, GRANT, REVOKE, ALTER, SET, KILL at line 1, char 1"#,
        ),
        (
            r#"SHOW"#,
            r#"found EOF, expected CONTINUOUS, DATABASES, DIAGNOSTICS, FIELD, GRANTS, MEASUREMENT, MEASUREMENTS, QUERIES, RETENTION, SERIES, SHARD, SHARDS, STATS, SUBSCRIPTIONS, TAG, USERS at line 1, char 6"#,
        ),
        (
            r#"SHOW FOO"#,
            r#"found FOO, expected CONTINUOUS, DATABASES, DIAGNOSTICS, FIELD, GRANTS, MEASUREMENT, MEASUREMENTS, QUERIES, RETENTION, SERIES, SHARD, SHARDS, STATS, SUBSCRIPTIONS, TAG, USERS at line 1, char 6"#,
        ),
        (
            r#"CREATE"#,
            r#"found EOF, expected CONTINUOUS, DATABASE, USER, RETENTION, SUBSCRIPTION at line 1, char 8"#,
        ),
        (
            r#"DROP"#,
            r#"found EOF, expected CONTINUOUS, DATABASE, MEASUREMENT, RETENTION, SERIES, SHARD, SUBSCRIPTION, USER at line 1, char 6"#,
        ),
        (
            r#"SELECT 'abc"#,
            r#"found abc, expected identifier, string, number, bool at line 1, char 7"#,
        ),
        (r#"SELECT * FROM /cpu"#, r#"bad regex:  at line 1, char 14"#),
        (r#"SELECT 1e5 FROM b"#, r#"invalid duration"#),
        (
            r#"SELECT * FROM cpu WHERE host = 'a"#,
            r#"found a, expected identifier, string, number, bool at line 1, char 31"#,
        ),
        (
            r#"SELECT * FROM cpu WHERE host =~ 'a'"#,
            r#"found a, expected regex at line 1, char 32"#,
        ),
        (
            r#"SELECT * FROM cpu LIMIT -1"#,
            r#"found -, expected integer at line 1, char 25"#,
        ),
        (
            r#"SELECT * FROM cpu LIMIT x"#,
            r#"found x, expected integer at line 1, char 25"#,
        ),
        (
            r#"SELECT a = 1 FROM cpu"#,
            r#"invalid operator = in SELECT clause at line 1, char 8; operator is intended for WHERE clause"#,
        ),
        (
            r#"SELECT * FROM cpu GROUP BY time(1m) fill(foo)"#,
            r#"expected number argument in fill()"#,
        ),
        (
            r#"SELECT * FROM cpu GROUP BY time(1m) fill()"#,
            r#"fill requires an argument, e.g.: 0, null, none, previous, linear"#,
        ),
        (
            r#"SELECT * FROM cpu ORDER BY host"#,
            r#"only ORDER BY time supported at this time"#,
        ),
        (
            r#"SELECT * FROM cpu ORDER BY time, host"#,
            r#"only ORDER BY time supported at this time"#,
        ),
        (
            r#"SELECT * FROM cpu tz(1)"#,
            r#"expected string argument in tz()"#,
        ),
        (
            r#"SELECT * FROM a.b.c.d"#,
            r#"too many segments in "a"."b"."c".d at line 1, char 1"#,
        ),
        (
            r#"SELECT * FROM cpu; foo"#,
            r#"found foo, expected SELECT, DELETE, SHOW, CREATE, DROP, EXPLAIN, GRANT, REVOKE, ALTER, SET, KILL at line 1, char 20"#,
        ),
        (
            r#"SELECT * FROM cpu foo"#,
            r#"found foo, expected ; at line 1, char 19"#,
        ),
        (
            r#"SELECT a::bogus FROM cpu"#,
            r#"found bogus, expected float, integer, unsigned, string, boolean, field, tag at line 1, char 11"#,
        ),
        (
            r#"SELECT *::bogus FROM cpu"#,
            r#"found bogus, expected field, tag at line 1, char 11"#,
        ),
        (
            r#"SELECT 'a\qb' FROM cpu"#,
            r#"found \q, expected identifier, string, number, bool at line 1, char 11"#,
        ),
        (
            r#"SELECT "a FROM cpu"#,
            r#"found a FROM cpu, expected identifier, string, number, bool at line 1, char 7"#,
        ),
        (r#"SELECT $ FROM cpu"#, r#"empty bound parameter"#),
        (
            r#"SELECT -'a' FROM cpu"#,
            r#"found a, expected identifier, number, duration, ( at line 1, char 8"#,
        ),
        (
            r#"SHOW TAG VALUES FROM cpu"#,
            r#"found EOF, expected WITH at line 1, char 26"#,
        ),
        (
            r#"SHOW TAG VALUES FROM cpu WITH KEY"#,
            r#"found EOF, expected IN, =, =~ at line 1, char 35"#,
        ),
        (
            r#"SHOW TAG VALUES FROM cpu WITH KEY =~ host"#,
            r#"found host, expected regex at line 1, char 38"#,
        ),
        (
            r#"SHOW MEASUREMENTS WITH MEASUREMENT > cpu"#,
            r#"found >, expected =, =~ at line 1, char 36"#,
        ),
        (
            r#"SHOW MEASUREMENT foo"#,
            r#"found foo, expected EXACT, CARDINALITY at line 1, char 18"#,
        ),
        (
            r#"SHOW TAG KEY foo"#,
            r#"found foo, expected EXACT, CARDINALITY at line 1, char 14"#,
        ),
        (
            r#"SHOW RETENTION POLICIES ON"#,
            r#"found EOF, expected identifier at line 1, char 28"#,
        ),
        (
            r#"CREATE DATABASE"#,
            r#"found EOF, expected identifier at line 1, char 17"#,
        ),
        (
            r#"CREATE DATABASE x WITH foo"#,
            r#"found foo, expected DURATION, NAME, REPLICATION, SHARD at line 1, char 24"#,
        ),
        (
            r#"CREATE RETENTION POLICY rp ON db DURATION 1x REPLICATION 1"#,
            r#"invalid duration at line 1, char 43"#,
        ),
        (
            r#"CREATE RETENTION POLICY rp ON db DURATION 1d REPLICATION 0"#,
            r#"invalid value 0: must be 1 <= n <= 2147483647 at line 1, char 58"#,
        ),
        (
            r#"CREATE RETENTION POLICY rp ON db DURATION 1d REPLICATION 1 SHARD DURATION INF"#,
            r#"invalid duration INF for shard duration at line 1, char 75"#,
        ),
        (
            r#"CREATE RETENTION POLICY rp ON db DURATION 106752d REPLICATION 1"#,
            r#"overflowed duration 106752d: choose a smaller duration or INF at line 1, char 43"#,
        ),
        (
            r#"ALTER RETENTION POLICY rp ON db"#,
            r#"found EOF, expected DURATION, REPLICATION, SHARD, DEFAULT at line 1, char 33"#,
        ),
        (
            r#"ALTER RETENTION POLICY rp ON db DURATION 1d DURATION 2d"#,
            r#"found duplicate DURATION option at line 1, char 45"#,
        ),
        (
            r#"DROP SERIES"#,
            r#"found EOF, expected FROM, WHERE at line 1, char 13"#,
        ),
        (
            r#"DROP SERIES FROM db.rp.cpu"#,
            r#"retention policy not supported at line 1, char 1"#,
        ),
        (
            r#"DELETE FROM db..cpu"#,
            r#"database not supported at line 1, char 1"#,
        ),
        (
            r#"GRANT foo"#,
            r#"found foo, expected READ, WRITE, ALL [PRIVILEGES] at line 1, char 7"#,
        ),
        (
            r#"GRANT ALL ON"#,
            r#"found EOF, expected identifier at line 1, char 14"#,
        ),
        (
            r#"REVOKE READ db"#,
            r#"found db, expected ON at line 1, char 13"#,
        ),
        (
            r#"KILL QUERY x"#,
            r#"found x, expected integer at line 1, char 12"#,
        ),
        (
            r#"SET PASSWORD FOR bob 'x'"#,
            r#"found x, expected = at line 1, char 21"#,
        ),
        (
            r#"SELECT * FROM cpu WHERE time > now() - 1h GROUP BY"#,
            r#"found EOF, expected identifier, string, number, bool at line 1, char 52"#,
        ),
        (
            r#"SELECT mean(value FROM cpu"#,
            r#"found FROM, expected ) at line 1, char 19"#,
        ),
        (
            r#"SELECT count(distinct) FROM cpu"#,
            r#"found ), expected (, identifier at line 1, char 22"#,
        ),
        (
            r#"SELECT value FROM cpu WHERE (a = 1"#,
            r#"found EOF, expected ) at line 1, char 35"#,
        ),
        (
            r#"SELECT * FROM cpu /* unterminated"#,
            r#"found  , expected regex at line 1, char 18"#,
        ),
        (
            r#"SELECT -9223372036854775809 FROM cpu"#,
            r#"constant -9223372036854775809 underflows int64"#,
        ),
        (
            r#"SELECT * FROM cpu WHERE a ! b"#,
            r#"found !, expected ; at line 1, char 27"#,
        ),
        (
            r#"SELECT value FROM cpu INTO x"#,
            r#"found INTO, expected ; at line 1, char 23"#,
        ),
        (
            r#"SHOW GRANTS"#,
            r#"found EOF, expected FOR at line 1, char 13"#,
        ),
        (
            r#"DROP SHARD 99999999999999999999999"#,
            r#"strconv.ParseUint: parsing "99999999999999999999999": value out of range at line 1, char 12"#,
        ),
        (
            r#"WHERE"#,
            r#"found WHERE, expected SELECT, DELETE, SHOW, CREATE, DROP, EXPLAIN, GRANT, REVOKE, ALTER, SET, KILL at line 1, char 1"#,
        ),
    ];
    for (q, e) in cases {
        check(q, e);
    }
}

fn params(json_like: &[(&str, ParamValue)]) -> Params {
    json_like
        .iter()
        .map(|(k, v)| ((*k).to_string(), v.clone()))
        .collect()
}

#[test]
fn bound_parameter_errors_match_influxdb_1x() {
    let obj = |k: &str, v: ParamValue| ParamValue::Object(vec![(k.to_string(), v)]);
    let cases: Vec<(&str, Params, &str)> = vec![
        (
            "SELECT * FROM cpu LIMIT $n",
            params(&[("n", ParamValue::Number("-2".into()))]),
            "LIMIT must be >= 0 at line 1, char 25",
        ),
        (
            "SELECT * FROM cpu WHERE a = $x",
            params(&[("x", obj("bogus", ParamValue::Number("1".into())))]),
            "missing parameter: unknown bind object type: bogus",
        ),
        (
            "SELECT * FROM cpu WHERE a = $x",
            params(&[("x", ParamValue::Null)]),
            "missing parameter: unable to bind parameter with type <nil>",
        ),
        (
            "SELECT * FROM cpu WHERE a = $x",
            params(&[("y", ParamValue::Integer(1))]),
            "missing parameter: x",
        ),
        (
            "SELECT * FROM cpu WHERE a = $x",
            Params::new(),
            "missing parameter: x",
        ),
        ("SELECT $ FROM cpu", Params::new(), "empty bound parameter"),
    ];
    for (q, p, e) in cases {
        match parse_query_with_params(q, &p) {
            Ok(s) => panic!("{q:?} parsed: {s:?}"),
            Err(err) => assert_eq!(err.to_string(), e, "query: {q:?}"),
        }
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    for input in [
        "(".repeat(100_000),
        format!("SELECT {} FROM m", "(".repeat(100_000)),
        format!("SELECT {}1 FROM m", "-(".repeat(50_000)),
        format!("SELECT {} FROM m", "f(".repeat(100_000)),
        format!("SELECT * FROM {}", "(SELECT * FROM ".repeat(10_000)),
        format!("SELECT * FROM m WHERE a{}", " + a".repeat(100_000)),
        format!("SELECT * FROM m WHERE a{}", " OR a = 1".repeat(100_000)),
    ] {
        assert!(parse_query(&input).is_err());
    }
    // Chains within the limit still parse (a 900-term OR list, as dashboards generate), and
    // print, compare and drop without overflowing a test thread's 2 MiB stack.
    let q = format!("SELECT * FROM m WHERE h = 'a'{}", " OR h = 'a'".repeat(900));
    let stmts = parse_query(&q).expect("should parse");
    influxql::test_helpers::check_round_trip(&q, &stmts);
}
