//! Real query strings from the clients Strata serves, each parsed, checked against its expected
//! canonical print (which pins the tree: parentheses, precedence, qualifiers) and round-tripped.
//! A few carry a full expected AST.

use influxql::test_helpers::check_round_trip;
use influxql::*;

/// Parses `query`, asserts it prints as `expected` (statements joined by `; `) and round-trips.
fn check(query: &str, expected: &str) {
    let stmts = match parse_query(query) {
        Ok(s) => s,
        Err(e) => panic!("{query:?}: {e}"),
    };
    let printed: Vec<String> = stmts.iter().map(ToString::to_string).collect();
    assert_eq!(printed.join("; "), expected, "query: {query:?}");
    check_round_trip(query, &stmts);
}

#[test]
fn grafana_influxql_data_source() {
    // Generated panel queries after Grafana's macro substitution ($timeFilter, $__interval).
    check(
        r#"SELECT mean("value") FROM "cpu" WHERE ("host" =~ /^server1$/) AND time >= 1700000000000ms and time <= 1700003600000ms GROUP BY time(10s) fill(null)"#,
        "SELECT mean(value) FROM cpu WHERE (host =~ /^server1$/) AND time >= 1700000000s AND time <= 1700003600s GROUP BY time(10s)",
    );
    check(
        r#"SELECT mean("usage_idle") FROM "autogen"."cpu" WHERE time > now() - 6h GROUP BY time(1m), "host" fill(none)"#,
        "SELECT mean(usage_idle) FROM autogen.cpu WHERE time > now() - 6h GROUP BY time(1m), host fill(none)",
    );
    check(
        r#"SELECT non_negative_derivative(mean("bytes_recv"), 1s) *8 FROM "net" WHERE ("host" =~ /^(a|b)$/) AND time >= now() - 1h GROUP BY time(30s), "interface" fill(previous)"#,
        "SELECT non_negative_derivative(mean(bytes_recv), 1s) * 8 FROM net WHERE (host =~ /^(a|b)$/) AND time >= now() - 1h GROUP BY time(30s), interface fill(previous)",
    );
    check(
        r#"SELECT last("value") FROM "temp" WHERE time >= 1700000000000ms and time <= 1700003600000ms GROUP BY time(1m) fill(linear) tz('America/Chicago')"#,
        "SELECT last(value) FROM temp WHERE time >= 1700000000s AND time <= 1700003600s GROUP BY time(1m) fill(linear) tz('America/Chicago')",
    );
    check("SHOW MEASUREMENTS LIMIT 100", "SHOW MEASUREMENTS LIMIT 100");
    check(r#"SHOW TAG KEYS FROM "cpu""#, "SHOW TAG KEYS FROM cpu");
    check(
        r#"SHOW TAG VALUES FROM "cpu" WITH KEY = "host""#,
        "SHOW TAG VALUES FROM cpu WITH KEY = host",
    );
    check(
        r#"SHOW TAG VALUES FROM "cpu" WITH KEY = "host" WHERE "region" =~ /^us$/"#,
        "SHOW TAG VALUES FROM cpu WITH KEY = host WHERE region =~ /^us$/",
    );
    check(r#"SHOW FIELD KEYS FROM "cpu""#, "SHOW FIELD KEYS FROM cpu");
    check(
        r#"SHOW RETENTION POLICIES on "telegraf""#,
        "SHOW RETENTION POLICIES ON telegraf",
    );
    check(
        "SHOW MEASUREMENTS WITH MEASUREMENT =~ /cpu/ LIMIT 100",
        "SHOW MEASUREMENTS WITH MEASUREMENT =~ /cpu/ LIMIT 100",
    );
    check(
        r#"SHOW TAG KEYS FROM "cpu" WHERE "host" = 'a'"#,
        "SHOW TAG KEYS FROM cpu WHERE host = 'a'",
    );
}

#[test]
fn chronograf() {
    check(
        r#"SELECT mean("usage_user") AS "mean_usage_user" FROM "telegraf"."autogen"."cpu" WHERE time > now() - 1h AND "cpu"='cpu-total' GROUP BY time(10s) FILL(null)"#,
        "SELECT mean(usage_user) AS mean_usage_user FROM telegraf.autogen.cpu WHERE time > now() - 1h AND cpu = 'cpu-total' GROUP BY time(10s)",
    );
    check(
        r#"SHOW TAG VALUES ON "telegraf" FROM "cpu" WITH KEY = "host""#,
        "SHOW TAG VALUES ON telegraf FROM cpu WITH KEY = host",
    );
    check(
        r#"SELECT max("used_percent") AS "max_used" FROM "telegraf"."autogen"."mem" WHERE time > '2023-11-14T22:13:20Z' AND time < '2023-11-14T23:13:20Z' GROUP BY time(1m), "host""#,
        "SELECT max(used_percent) AS max_used FROM telegraf.autogen.mem WHERE time > '2023-11-14T22:13:20Z' AND time < '2023-11-14T23:13:20Z' GROUP BY time(1m), host",
    );
    check("SHOW DATABASES", "SHOW DATABASES");
    check(
        "SHOW RETENTION POLICIES ON \"_internal\"",
        "SHOW RETENTION POLICIES ON _internal",
    );
    check(
        "SHOW MEASUREMENTS ON \"telegraf\" LIMIT 100 OFFSET 100",
        "SHOW MEASUREMENTS ON telegraf LIMIT 100 OFFSET 100",
    );
    check(
        "SHOW FIELD KEYS ON \"telegraf\" FROM \"cpu\"",
        "SHOW FIELD KEYS ON telegraf FROM cpu",
    );
    check(
        "SHOW TAG KEYS ON \"telegraf\" FROM \"cpu\"",
        "SHOW TAG KEYS ON telegraf FROM cpu",
    );
    check("SHOW USERS", "SHOW USERS");
    check("SHOW QUERIES", "SHOW QUERIES");
    check("KILL QUERY 36", "KILL QUERY 36");
    check("SHOW SUBSCRIPTIONS", "SHOW SUBSCRIPTIONS");
    check("SHOW CONTINUOUS QUERIES", "SHOW CONTINUOUS QUERIES");
    check("SHOW GRANTS FOR \"bob\"", "SHOW GRANTS FOR bob");
}

#[test]
fn tsbs_cpu_only() {
    check(
        "SELECT max(usage_user) from cpu where (hostname = 'host_249') and time >= '2016-01-01T07:47:52Z' and time < '2016-01-01T08:47:52Z' group by time(1m)",
        "SELECT max(usage_user) FROM cpu WHERE (hostname = 'host_249') AND time >= '2016-01-01T07:47:52Z' AND time < '2016-01-01T08:47:52Z' GROUP BY time(1m)",
    );
    check(
        "SELECT max(usage_user),max(usage_system),max(usage_idle),max(usage_nice),max(usage_iowait),max(usage_irq),max(usage_softirq),max(usage_steal),max(usage_guest),max(usage_guest_nice) from cpu where (hostname = 'host_9' or hostname = 'host_3') and time >= '2016-01-01T12:17:43Z' and time < '2016-01-01T20:17:43Z' group by time(1h)",
        "SELECT max(usage_user), max(usage_system), max(usage_idle), max(usage_nice), max(usage_iowait), max(usage_irq), max(usage_softirq), max(usage_steal), max(usage_guest), max(usage_guest_nice) FROM cpu WHERE (hostname = 'host_9' OR hostname = 'host_3') AND time >= '2016-01-01T12:17:43Z' AND time < '2016-01-01T20:17:43Z' GROUP BY time(1h)",
    );
    check(
        "SELECT mean(usage_user),mean(usage_system) from cpu where time >= '2016-01-01T00:00:00Z' and time < '2016-01-01T12:00:00Z' group by time(1h),hostname",
        "SELECT mean(usage_user), mean(usage_system) FROM cpu WHERE time >= '2016-01-01T00:00:00Z' AND time < '2016-01-01T12:00:00Z' GROUP BY time(1h), hostname",
    );
    check(
        "SELECT * from cpu where usage_user > 90.0 and time >= '2016-01-01T00:00:00Z' and time < '2016-01-01T12:00:00Z'",
        "SELECT * FROM cpu WHERE usage_user > 90.0 AND time >= '2016-01-01T00:00:00Z' AND time < '2016-01-01T12:00:00Z'",
    );
    check(
        r#"SELECT last(*) FROM "cpu" GROUP BY "hostname""#,
        "SELECT last(*) FROM cpu GROUP BY hostname",
    );
    check(
        "SELECT max(usage_user) from cpu where time < '2016-01-01T12:00:00Z' group by time(1m) ORDER BY time DESC LIMIT 5",
        "SELECT max(usage_user) FROM cpu WHERE time < '2016-01-01T12:00:00Z' GROUP BY time(1m) ORDER BY time DESC LIMIT 5",
    );
}

#[test]
fn node_influx_and_influxdb_python() {
    check(
        r#"select * from "cpu" where "host" = 'a'"#,
        "SELECT * FROM cpu WHERE host = 'a'",
    );
    check("SHOW MEASUREMENTS", "SHOW MEASUREMENTS");
    check(r#"SHOW SERIES FROM "cpu""#, "SHOW SERIES FROM cpu");
    check(r#"CREATE DATABASE "x""#, "CREATE DATABASE x");
    check(r#"DROP DATABASE "x""#, "DROP DATABASE x");
    check("SHOW SERIES", "SHOW SERIES");
    check(
        "select * from cpu_load_short;",
        "SELECT * FROM cpu_load_short",
    );
    check(r#"DROP SERIES FROM "m""#, "DROP SERIES FROM m");
    check(
        r#"create retention policy "rp1" on "db" duration 3d replication 1 default"#,
        "CREATE RETENTION POLICY rp1 ON db DURATION 3d REPLICATION 1 DEFAULT",
    );
    check(
        r#"alter retention policy "rp1" on "db" duration 4d replication 1 shard duration 1h default"#,
        "ALTER RETENTION POLICY rp1 ON db DURATION 4d REPLICATION 1 SHARD DURATION 1h DEFAULT",
    );
    check(
        r#"drop retention policy "rp1" on "db""#,
        "DROP RETENTION POLICY rp1 ON db",
    );
    check(
        r#"create user "bob" with password 'it\'s' with all privileges"#,
        r"CREATE USER bob WITH PASSWORD 'it\'s' WITH ALL PRIVILEGES",
    );
    check(
        r#"grant all privileges to "bob""#,
        "GRANT ALL PRIVILEGES TO bob",
    );
    check(r#"grant read on "db" to "bob""#, "GRANT READ ON db TO bob");
    check(
        r#"revoke all on "db" from "bob""#,
        "REVOKE ALL PRIVILEGES ON db FROM bob",
    );
    check(
        r#"revoke all privileges from "bob""#,
        "REVOKE ALL PRIVILEGES FROM bob",
    );
    check(
        r#"set password for "bob" = 'pw'"#,
        "SET PASSWORD FOR bob = 'pw'",
    );
    check(r#"drop user "bob""#, "DROP USER bob");
    check(r#"DROP MEASUREMENT "cpu""#, "DROP MEASUREMENT cpu");
    check(
        r#"DELETE FROM "cpu" WHERE time < '2020-01-01'"#,
        "DELETE FROM cpu WHERE time < '2020-01-01'",
    );
    check(r#"DELETE WHERE "host" = 'a'"#, "DELETE WHERE host = 'a'");
    check(
        "SELECT value FROM cpu_load_short WHERE region = $region",
        "SELECT value FROM cpu_load_short WHERE region = $region",
    );
}

#[test]
fn every_clause_of_the_spec() {
    // Fields: arithmetic, casts, wildcards, aliases, nested and special calls.
    check(
        r#"SELECT "a"::field + b::tag * 2, *::field, mean(*), max(/re/), top(v, host, 3), count(distinct v), distinct(v), percentile(v, 95.5) AS p FROM m"#,
        "SELECT a::field + b::tag * 2, *::field, mean(*), max(/re/), top(v, host, 3), count(DISTINCT v), distinct(v), percentile(v, 95.5) AS p FROM m",
    );
    check(
        "SELECT -v, -(a + b), - 1.5, -10s, (a - b) / c % 2 FROM m",
        "SELECT -v, -(a + b), -1.5, -10s, (a - b) / c % 2 FROM m",
    );
    check("SELECT /^u/ FROM m", "SELECT /^u/ FROM m");
    // FROM: several, regex, qualified, default rp, subquery.
    check(
        r#"SELECT * FROM a, /^cpu\d/, "db"."rp"."m", "db".."m", rp.m, rp./x/, db../y/"#,
        r"SELECT * FROM a, /^cpu\d/, db.rp.m, db..m, rp.m, rp./x/, db../y/",
    );
    check(
        "SELECT max(m) FROM (SELECT mean(v) AS m FROM cpu GROUP BY time(1m), host) GROUP BY time(1h)",
        "SELECT max(m) FROM (SELECT mean(v) AS m FROM cpu GROUP BY time(1m), host) GROUP BY time(1h)",
    );
    check(
        "SELECT v INTO db.rp.:MEASUREMENT FROM /.*/",
        "SELECT v INTO db.rp.:MEASUREMENT FROM /.*/",
    );
    check(
        r#"SELECT v INTO "x y" FROM m"#,
        r#"SELECT v INTO "x y" FROM m"#,
    );
    // WHERE: operators, precedence, parentheses, time forms.
    check(
        "SELECT v FROM m WHERE a = 1 OR b != 2 AND c <> 3 AND (d =~ /x/ OR e !~ /y/) AND time > 0 AND time <= now() AND x >= -1 AND y < 2.5 AND z = true",
        "SELECT v FROM m WHERE a = 1 OR b != 2 AND c != 3 AND (d =~ /x/ OR e !~ /y/) AND time > 0 AND time <= now() AND x >= -1 AND y < 2.5 AND z = true",
    );
    // GROUP BY forms, fill forms, ORDER BY, limits, tz.
    check(
        "SELECT count(v) FROM m GROUP BY time(1h, 15m), * fill(0) ORDER BY time ASC LIMIT 10 OFFSET 5 SLIMIT 2 SOFFSET 1 tz('UTC')",
        "SELECT count(v) FROM m GROUP BY time(1h, 15m), * fill(0) ORDER BY time ASC LIMIT 10 OFFSET 5 SLIMIT 2 SOFFSET 1 tz('UTC')",
    );
    check(
        "SELECT count(v) FROM m GROUP BY /^h/ fill(-1.0)",
        "SELECT count(v) FROM m GROUP BY /^h/ fill(-1.0)",
    );
    check(
        "SELECT v FROM m ORDER BY DESC",
        "SELECT v FROM m ORDER BY time DESC",
    );
    check("SELECT v FROM m LIMIT 0", "SELECT v FROM m");
    // Comments, keywords in any case, several statements with empty ones.
    check(
        // (`select /* c */ v` fails in 1.x too: after SELECT a `/` starts a regex.)
        "-- leading comment\nselect v /* inline */ from m;; ;show databases;",
        "SELECT v FROM m; SHOW DATABASES",
    );
    // SHOW family.
    check(
        "SHOW MEASUREMENTS ON db WITH MEASUREMENT = cpu WHERE host = 'a' LIMIT 1 OFFSET 2",
        "SHOW MEASUREMENTS ON db WITH MEASUREMENT = cpu WHERE host = 'a' LIMIT 1 OFFSET 2",
    );
    check(
        "SHOW TAG KEYS ON db FROM cpu, mem WHERE a = 'b' LIMIT 1 OFFSET 1 SLIMIT 1 SOFFSET 1",
        "SHOW TAG KEYS ON db FROM cpu, mem WHERE a = 'b' LIMIT 1 OFFSET 1 SLIMIT 1 SOFFSET 1",
    );
    check(
        "SHOW TAG VALUES WITH KEY IN (host, \"region\")",
        "SHOW TAG VALUES WITH KEY IN (host, region)",
    );
    check(
        "SHOW TAG VALUES WITH KEY =~ /h/ LIMIT 3",
        "SHOW TAG VALUES WITH KEY =~ /h/ LIMIT 3",
    );
    check(
        "SHOW TAG VALUES WITH KEY != host",
        "SHOW TAG VALUES WITH KEY != host",
    );
    check(
        "SHOW TAG VALUES WITH KEY !~ /h/",
        "SHOW TAG VALUES WITH KEY !~ /h/",
    );
    check(
        "SHOW SERIES ON db FROM cpu WHERE host = 'a' LIMIT 10 OFFSET 2",
        "SHOW SERIES ON db FROM cpu WHERE host = 'a' LIMIT 10 OFFSET 2",
    );
    check(
        "SHOW SERIES CARDINALITY ON db",
        "SHOW SERIES CARDINALITY ON db",
    );
    check(
        "SHOW SERIES EXACT CARDINALITY FROM cpu GROUP BY host",
        "SHOW SERIES EXACT CARDINALITY FROM cpu GROUP BY host",
    );
    check(
        "SHOW MEASUREMENT CARDINALITY",
        "SHOW MEASUREMENT CARDINALITY",
    );
    check(
        "SHOW MEASUREMENT EXACT CARDINALITY ON db",
        "SHOW MEASUREMENT EXACT CARDINALITY ON db",
    );
    check("SHOW TAG KEY CARDINALITY", "SHOW TAG KEY CARDINALITY");
    check(
        "SHOW TAG KEY EXACT CARDINALITY FROM cpu",
        "SHOW TAG KEY EXACT CARDINALITY FROM cpu",
    );
    check(
        "SHOW TAG VALUES CARDINALITY WITH KEY = host",
        "SHOW TAG VALUES CARDINALITY WITH KEY = host",
    );
    check(
        "SHOW TAG VALUES EXACT CARDINALITY FROM cpu WITH KEY = host",
        "SHOW TAG VALUES EXACT CARDINALITY FROM cpu WITH KEY = host",
    );
    check(
        "SHOW FIELD KEY CARDINALITY ON db",
        "SHOW FIELD KEY CARDINALITY ON db",
    );
    check("SHOW STATS FOR 'shard'", "SHOW STATS FOR 'shard'");
    check(
        "SHOW STATS; SHOW DIAGNOSTICS; SHOW SHARDS; SHOW SHARD GROUPS",
        "SHOW STATS; SHOW DIAGNOSTICS; SHOW SHARDS; SHOW SHARD GROUPS",
    );
    // DDL.
    check(
        "CREATE DATABASE db WITH DURATION 1d REPLICATION 1 SHARD DURATION 1h NAME rp",
        "CREATE DATABASE db WITH DURATION 1d REPLICATION 1 SHARD DURATION 1h NAME rp",
    );
    check(
        "CREATE DATABASE db WITH DURATION INF",
        "CREATE DATABASE db WITH DURATION INF",
    );
    check(
        "ALTER RETENTION POLICY DEFAULT ON db REPLICATION 2",
        r#"ALTER RETENTION POLICY "default" ON db REPLICATION 2"#,
    );
    check(
        "DROP SERIES WHERE host = 'a'",
        "DROP SERIES WHERE host = 'a'",
    );
    check("DROP SHARD 12", "DROP SHARD 12");
    check(
        "KILL QUERY 12 ON \"host:8088\"",
        "KILL QUERY 12 ON \"host:8088\"",
    );
    check(
        "CREATE SUBSCRIPTION s ON db.autogen DESTINATIONS ANY 'udp://a:9090', 'udp://b:9090'",
        "CREATE SUBSCRIPTION s ON db.autogen DESTINATIONS ANY 'udp://a:9090', 'udp://b:9090'",
    );
    check(
        "DROP SUBSCRIPTION s ON db.autogen",
        "DROP SUBSCRIPTION s ON db.autogen",
    );
    check(
        "CREATE CONTINUOUS QUERY cq ON db RESAMPLE EVERY 1m FOR 10m BEGIN SELECT mean(v) INTO m2 FROM m GROUP BY time(5m) END",
        "CREATE CONTINUOUS QUERY cq ON db RESAMPLE EVERY 1m FOR 10m BEGIN SELECT mean(v) INTO m2 FROM m GROUP BY time(5m) END",
    );
    check(
        "DROP CONTINUOUS QUERY cq ON db",
        "DROP CONTINUOUS QUERY cq ON db",
    );
    check(
        "EXPLAIN ANALYZE SELECT v FROM m",
        "EXPLAIN ANALYZE SELECT v FROM m",
    );
}

#[test]
fn full_asts() {
    let stmts = parse_query(r#"SELECT mean("value") AS m FROM "db".."cpu" WHERE host =~ /^a$/ AND time > now() - 1h GROUP BY time(1m), host fill(previous) LIMIT 5"#).expect("should parse");
    let expected = SelectStatement {
        fields: vec![Field {
            expr: Expr::call("mean", vec![Expr::var("value")]),
            alias: Some("m".into()),
        }],
        into: None,
        sources: vec![Source::Measurement(Measurement {
            database: Some("db".into()),
            retention_policy: None,
            name: MeasurementName::Name("cpu".into()),
        })],
        condition: Some(Expr::binary(
            BinaryOp::And,
            Expr::binary(
                BinaryOp::EqRegex,
                Expr::var("host"),
                Expr::Regex(Regex("^a$".into())),
            ),
            Expr::binary(
                BinaryOp::Gt,
                Expr::var("time"),
                Expr::binary(
                    BinaryOp::Sub,
                    Expr::call("now", vec![]),
                    Expr::Duration(Duration(3_600_000_000_000)),
                ),
            ),
        )),
        dimensions: vec![
            Dimension {
                expr: Expr::call("time", vec![Expr::Duration(Duration(60_000_000_000))]),
            },
            Dimension {
                expr: Expr::var("host"),
            },
        ],
        fill: Fill::Previous,
        order: None,
        limit: Some(5),
        offset: None,
        slimit: None,
        soffset: None,
        timezone: None,
    };
    assert_eq!(stmts, vec![Statement::Select(Box::new(expected))]);

    let stmts = parse_query(r#"SHOW TAG VALUES ON "telegraf" FROM "cpu" WITH KEY = "host""#)
        .expect("should parse");
    assert_eq!(
        stmts,
        vec![Statement::ShowTagValues(ShowTagValues {
            database: Some("telegraf".into()),
            sources: vec![Measurement::named("cpu")],
            key: TagKeyMatch::Eq("host".into()),
            condition: None,
            order: None,
            limit: None,
            offset: None,
        })]
    );

    // `-x` is `-1 * x`, and precedence nests to the right only for tighter operators.
    let stmts = parse_query("SELECT a + -b * 2 FROM m").expect("should parse");
    let Statement::Select(s) = &stmts[0] else {
        panic!("not a select")
    };
    assert_eq!(
        s.fields[0].expr,
        Expr::binary(
            BinaryOp::Add,
            Expr::var("a"),
            Expr::binary(
                BinaryOp::Mul,
                Expr::binary(BinaryOp::Mul, Expr::Integer(-1), Expr::var("b")),
                Expr::Integer(2)
            ),
        )
    );
}

#[test]
fn parameters_bind_like_1x() {
    let mut p = Params::new();
    p.insert(
        "m".into(),
        ParamValue::Object(vec![(
            "identifier".into(),
            ParamValue::String("cpu".into()),
        )]),
    );
    p.insert("n".into(), ParamValue::Number("3".into()));
    p.insert("host".into(), ParamValue::String("a".into()));
    p.insert(
        "re".into(),
        ParamValue::Object(vec![("regex".into(), ParamValue::String("^x$".into()))]),
    );
    p.insert(
        "d".into(),
        ParamValue::Object(vec![("duration".into(), ParamValue::String("1h".into()))]),
    );
    let q = "SELECT * FROM $m WHERE host = $host AND r =~ $re AND time > now() - $d LIMIT $n";
    let bound = parse_query_with_params(q, &p).expect("should parse");
    assert_eq!(
        bound[0].to_string(),
        "SELECT * FROM cpu WHERE host = 'a' AND r =~ /^x$/ AND time > now() - 1h LIMIT 3"
    );
    // The after-the-fact binding gives the same tree where placeholders are expressions.
    let mut later = parse_query(
        "SELECT * FROM cpu WHERE host = $host AND r =~ /^x$/ AND time > now() - $d LIMIT 3",
    )
    .expect("should parse");
    bind_parameters(&mut later, &p).expect("should parse");
    assert_eq!(later, bound);
    let mut missing = parse_query("SELECT * FROM cpu WHERE host = $nope").expect("should parse");
    assert_eq!(
        bind_parameters(&mut missing, &p)
            .expect_err("should fail")
            .to_string(),
        "missing parameter: nope"
    );
}
