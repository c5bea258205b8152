//! Property tests: query-shaped strings built from the grammar, and token soup, must never
//! panic, and whatever parses must print back to InfluxQL that parses to the same AST.

use influxql::test_helpers::{check_invariants, check_round_trip};
use proptest::prelude::*;

fn ident() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec!["cpu", "host", "value", "time", "usage_user", "_x1"])
            .prop_map(String::from),
        "[a-z_][a-z0-9_]{0,6}",
        // Quoted identifiers with escapes, spaces, keywords and non-ASCII text.
        "[ a-zA-Z0-9\"\\\\'.µ-]{0,6}".prop_map(|s| influxql::quote_ident(&s)),
        prop::sample::select(vec!["\"select\"", "\"from\"", "\"true\"", "\"\""])
            .prop_map(String::from),
    ]
}

fn literal() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        (0u32..100_000, 0u32..1000).prop_map(|(a, b)| format!("{a}.{b}")),
        ".5".prop_map(String::from),
        (
            1u32..1000,
            prop::sample::select(vec!["ns", "u", "µ", "ms", "s", "m", "h", "d", "w"])
        )
            .prop_map(|(n, u)| format!("{n}{u}")),
        "[ -~\n]{0,8}".prop_map(|s| influxql::quote_string(&s)),
        prop::sample::select(vec![
            "true",
            "FALSE",
            "now()",
            "'2016-01-01T00:00:00Z'",
            "$p",
            "$\"a b\""
        ])
        .prop_map(String::from),
        "[a-z.^$*+?()|\\[\\]\\\\/]{0,6}".prop_map(|s| format!("/{}/", s.replace('/', "\\/"))),
    ]
}

fn expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        ident(),
        literal(),
        (
            ident(),
            prop::sample::select(vec!["::field", "::tag", "::float", "::integer"])
        )
            .prop_map(|(i, t)| format!("{i}{t}")),
    ];
    leaf.prop_recursive(5, 40, 4, |inner| {
        let op = prop::sample::select(vec![
            "+", "-", "*", "/", "%", "&", "|", "^", "AND", "or", "=", "!=", "<>", "<", "<=", ">",
            ">=",
        ]);
        prop_oneof![
            (inner.clone(), op, inner.clone()).prop_map(|(a, o, b)| format!("{a} {o} {b}")),
            (
                inner.clone(),
                prop::sample::select(vec!["=~", "!~"]),
                "[a-z]{0,4}"
            )
                .prop_map(|(a, o, r)| format!("{a} {o} /{r}/")),
            inner.clone().prop_map(|e| format!("({e})")),
            inner.clone().prop_map(|e| format!("-{e}")),
            (ident(), prop::collection::vec(inner.clone(), 0..3))
                .prop_map(|(f, args)| format!("{f}({})", args.join(", "))),
            ident().prop_map(|i| format!("count(DISTINCT {i})")),
        ]
    })
}

fn select() -> impl Strategy<Value = String> {
    let field = prop_oneof![
        expr(),
        Just("*".to_string()),
        Just("mean(*)".to_string()),
        Just("max(/re/)".to_string()),
        (expr(), ident()).prop_map(|(e, a)| format!("{e} AS {a}")),
    ];
    let source = prop_oneof![
        ident(),
        (ident(), ident()).prop_map(|(a, b)| format!("{a}.{b}")),
        (ident(), ident(), ident()).prop_map(|(a, b, c)| format!("{a}.{b}.{c}")),
        (ident(), ident()).prop_map(|(a, b)| format!("{a}..{b}")),
        "[a-z]{0,4}".prop_map(|r| format!("/{r}/")),
        (ident(), expr()).prop_map(|(m, e)| format!("(SELECT {e} FROM {m})")),
    ];
    let dim = prop_oneof![
        Just("time(10s)".to_string()),
        Just("time(1h, -5m)".to_string()),
        ident(),
        Just("*".to_string()),
        Just("/^h/".to_string()),
    ];
    (
        prop::collection::vec(field, 1..3),
        prop::collection::vec(source, 1..3),
        prop::option::of(expr()),
        prop::collection::vec(dim, 0..3),
        prop::sample::select(vec![
            "",
            " fill(none)",
            " fill(-2)",
            " fill(1.5)",
            " fill(linear)",
            " fill(null)",
        ]),
        prop::sample::select(vec!["", " ORDER BY time DESC", " ORDER BY ASC"]),
        prop::option::of(0u64..100),
        prop::option::of(0u64..100),
        prop::sample::select(vec!["", " tz('Europe/Paris')"]),
    )
        .prop_map(
            |(fields, sources, cond, dims, fill, order, limit, slimit, tz)| {
                let mut q = format!("SELECT {} FROM {}", fields.join(", "), sources.join(", "));
                if let Some(c) = cond {
                    q += &format!(" WHERE {c}");
                }
                if !dims.is_empty() {
                    q += &format!(" GROUP BY {}", dims.join(", "));
                }
                q += fill;
                q += order;
                if let Some(l) = limit {
                    q += &format!(" LIMIT {l} OFFSET {l}");
                }
                if let Some(l) = slimit {
                    q += &format!(" SLIMIT {l} SOFFSET {l}");
                }
                q + tz
            },
        )
}

fn token_soup() -> impl Strategy<Value = String> {
    let tok = prop::sample::select(vec![
        "SELECT",
        "FROM",
        "WHERE",
        "GROUP",
        "BY",
        "SHOW",
        "TAG",
        "VALUES",
        "WITH",
        "KEY",
        "=",
        "=~",
        "(",
        ")",
        ",",
        ";",
        ".",
        "..",
        "::",
        "*",
        "/",
        "/x/",
        "'s'",
        "\"q\"",
        "$p",
        "1",
        "1.5",
        "10s",
        "-",
        "+",
        "--",
        "/*",
        "*/",
        "ON",
        "LIMIT",
        "fill(",
        "tz(",
        "DISTINCT",
        "INTO",
        ":MEASUREMENT",
        "cpu",
        "time",
        "now()",
        "CREATE",
        "DATABASE",
        "RETENTION",
        "POLICY",
        "DURATION",
        "INF",
        "REPLICATION",
        "\n",
        "\t",
        "µ",
        "!",
    ]);
    prop::collection::vec(tok, 0..25).prop_map(|v| v.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn grammar_shaped_selects_round_trip(q in select()) {
        if let Ok(stmts) = influxql::parse_query(&q) {
            check_round_trip(&q, &stmts);
        }
    }

    #[test]
    fn token_soup_never_panics(q in token_soup()) {
        check_invariants(q.as_bytes());
    }

    #[test]
    fn any_text_never_panics(q in "\\PC{0,60}") {
        check_invariants(q.as_bytes());
    }
}

#[test]
fn most_grammar_shaped_selects_parse() {
    // Guards the property above against vacuity: the generator must mostly produce valid input.
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut ok = 0;
    for _ in 0..200 {
        let q = select()
            .new_tree(&mut runner)
            .map(|t| t.current())
            .unwrap_or_default();
        ok += usize::from(influxql::parse_query(&q).is_ok());
    }
    assert!(ok > 100, "only {ok} of 200 generated queries parsed");
}
