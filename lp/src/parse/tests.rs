//! Table tests for the grammar. Each case is `(body, expected)` where expected renders every
//! line as either a point (`m|tag=v|field=<type>:<value>|@ts`) or an error
//! (`ERR line:column reason`), one per line of output.

use super::*;

fn render(body: &[u8], precision: Precision) -> String {
    let opts = ParseOptions {
        precision,
        max_string_bytes: 16,
        max_line_bytes: 120,
        max_key_bytes: 120,
    };
    let mut out = Vec::new();
    for item in Parser::new(body, opts) {
        match item {
            Ok(line) => {
                let mut s = format!("{}", line.measurement);
                for t in &line.tags {
                    s.push_str(&format!("|{}={}", t.key, t.value));
                }
                for f in &line.fields {
                    let v = match &f.value {
                        FieldValue::F64(v) => format!("f:{v:?}"),
                        FieldValue::I64(v) => format!("i:{v}"),
                        FieldValue::U64(v) => format!("u:{v}"),
                        FieldValue::String(v) => format!("s:{v:?}"),
                        FieldValue::Bool(v) => format!("b:{v}"),
                    };
                    s.push_str(&format!("|{}={v}", f.key));
                }
                if let Some(ts) = line.timestamp {
                    s.push_str(&format!("|@{ts}"));
                }
                s.push_str(&format!(" #{}", line.line_no));
                out.push(s);
            }
            Err(e) => out.push(format!("ERR {}:{} {}", e.line, e.column, e.kind)),
        }
    }
    out.join("\n")
}

fn check(cases: &[(&str, &str)]) {
    check_with(Precision::Nanoseconds, cases);
}

fn check_with(precision: Precision, cases: &[(&str, &str)]) {
    let mut failures = Vec::new();
    for (body, expected) in cases {
        let got = render(body.as_bytes(), precision);
        if got != *expected {
            failures.push(format!(
                "input:    {body:?}\nexpected: {expected}\ngot:      {got}\n"
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn structure() {
    check(&[
        ("cpu value=1", "cpu|value=f:1.0 #1"),
        ("cpu value=1 123", "cpu|value=f:1.0|@123 #1"),
        (
            "cpu,host=a,region=b value=1 -5",
            "cpu|host=a|region=b|value=f:1.0|@-5 #1",
        ),
        // tags come out sorted
        ("cpu,z=1,a=2 v=1", "cpu|a=2|z=1|v=f:1.0 #1"),
        ("cpu,a=1,a=2 v=1", "ERR 1:4 duplicate tags"),
        ("cpu", "ERR 1:4 missing fields"),
        ("cpu,host=a", "ERR 1:11 missing fields"),
        ("cpu,host=a ", "ERR 1:12 missing fields"),
        ("cpu ", "ERR 1:5 missing fields"),
        (",host=a v=1", "ERR 1:1 missing measurement"),
        ("cpu,=a v=1", "ERR 1:5 missing tag key"),
        ("cpu,,a=1 v=1", "ERR 1:5 missing tag key"),
        ("cpu,host v=1", "ERR 1:9 missing tag value"),
        ("cpu,host= v=1", "ERR 1:10 missing tag value"),
        ("cpu,host=a=b v=1", "ERR 1:11 invalid tag format"),
        ("cpu,host==b v=1", "ERR 1:10 invalid tag format"),
        ("cpu =1", "ERR 1:5 missing field key"),
        ("cpu a=1,=2", "ERR 1:9 missing field key"),
        ("cpu a=1,,b=2", "ERR 1:9 missing field key"),
        ("cpu a=", "ERR 1:7 missing field value"),
        ("cpu a=,b=1", "ERR 1:7 missing field value"),
        ("cpu a= 1", "ERR 1:7 missing field value"),
        ("cpu a", "ERR 1:6 invalid field format"),
        ("cpu a=1,b", "ERR 1:10 invalid field format"),
        ("cpu a=\"x\"y", "ERR 1:10 invalid field format"),
        // several spaces between sections, trailing spaces
        ("cpu   a=1   7   ", "cpu|a=f:1.0|@7 #1"),
        ("cpu a=1 7 8", "ERR 1:11 point is invalid"),
        // measurements may contain '='; keys may not start a section with it
        ("a=b c=1", "a=b|c=f:1.0 #1"),
        // last value of a repeated field key wins, whatever its type
        ("cpu a=1,b=2,a=3i", "cpu|b=f:2.0|a=i:3 #1"),
    ]);
}

#[test]
fn escapes() {
    check(&[
        (
            r"c\,p\ u,t\ k=t\,v\=x f\=k=1",
            r"c,p u|t k=t,v=x|f=k=f:1.0 #1",
        ),
        (r"c\=pu v=1", "c=pu|v=f:1.0 #1"),
        // a backslash before any other byte is literal, including a second backslash
        (r"c\pu,t=a\b v=1", r"c\pu|t=a\b|v=f:1.0 #1"),
        (r"cpu,t=a\\ v=1", r"cpu|t=a\\|v=f:1.0 #1"),
        (r"cpu,t=a\\\ b v=1", r"cpu|t=a\\ b|v=f:1.0 #1"),
        // string fields: \" and \\ resolve, other backslashes stay
        (r#"cpu s="a\"b\\c\d""#, r#"cpu|s=s:"a\"b\\c\\d" #1"#),
        (r#"cpu s="""#, r#"cpu|s=s:"" #1"#),
        (r#"cpu s="a,b c=d""#, r#"cpu|s=s:"a,b c=d" #1"#),
        // a trailing backslash at the end of the line is literal
        ("cpu,t=a\\", "ERR 1:9 missing fields"),
    ]);
}

#[test]
fn numbers() {
    check(&[
        (
            "m a=1,b=1.,c=.5,d=-0,e=1e10,f=1E-5,g=-1.5e+3",
            "m|a=f:1.0|b=f:1.0|c=f:0.5|d=f:-0.0|e=f:10000000000.0|f=f:1e-5|g=f:-1500.0 #1",
        ),
        (
            "m a=0.1,b=123456789012345678901234",
            "m|a=f:0.1|b=f:1.2345678901234569e23 #1",
        ),
        ("m a=1e400", "ERR 1:5 invalid float"),
        ("m a=NaN", "ERR 1:5 invalid number"),
        ("m a=nan", "ERR 1:5 invalid number"),
        ("m a=Inf", "ERR 1:5 invalid number"),
        ("m a=-Inf", "ERR 1:5 invalid number"),
        ("m a=+1", "ERR 1:5 invalid number"),
        ("m a=1.2.3", "ERR 1:5 invalid number"),
        ("m a=1e", "ERR 1:5 invalid number"),
        ("m a=-", "ERR 1:5 invalid number"),
        ("m a=.", "ERR 1:5 invalid number"),
        ("m a=1x", "ERR 1:5 invalid number"),
        (
            "m a=1i,b=-9223372036854775808i,c=9223372036854775807i",
            "m|a=i:1|b=i:-9223372036854775808|c=i:9223372036854775807 #1",
        ),
        (
            "m a=9223372036854775808i",
            "ERR 1:5 integer value out of range",
        ),
        (
            "m a=-9223372036854775809i",
            "ERR 1:5 integer value out of range",
        ),
        ("m a=1.5i", "ERR 1:5 invalid number"),
        ("m a=i", "ERR 1:5 invalid number"),
        ("m a=-i", "ERR 1:5 invalid number"),
        ("m a=9i10", "ERR 1:5 invalid number"),
        (
            "m a=0u,b=18446744073709551615u",
            "m|a=u:0|b=u:18446744073709551615 #1",
        ),
        (
            "m a=18446744073709551616u",
            "ERR 1:5 unsigned value out of range",
        ),
        ("m a=-1u", "ERR 1:5 invalid number"),
        ("m a=1.0u", "ERR 1:5 invalid number"),
    ]);
}

#[test]
fn booleans() {
    check(&[
        (
            "m a=t,b=T,c=true,d=True,e=TRUE",
            "m|a=b:true|b=b:true|c=b:true|d=b:true|e=b:true #1",
        ),
        (
            "m a=f,b=F,c=false,d=False,e=FALSE",
            "m|a=b:false|b=b:false|c=b:false|d=b:false|e=b:false #1",
        ),
        ("m a=tRUE", "ERR 1:5 invalid boolean"),
        (
            "m a=yes",
            "ERR 1:5 invalid field value (expected a number, a quoted string or a boolean)",
        ),
        ("m a=truex", "ERR 1:5 invalid boolean"),
    ]);
}

#[test]
fn strings() {
    check(&[
        // 16 bytes is the limit in these tests
        ("m s=\"0123456789abcdef\"", "m|s=s:\"0123456789abcdef\" #1"),
        (
            "m s=\"0123456789abcdefg\"",
            "ERR 1:5 string field value longer than 16 bytes",
        ),
        ("m s=\"open", "ERR 1:5 unbalanced quotes"),
        ("m s=\"é\"", "m|s=s:\"é\" #1"),
    ]);
}

#[test]
fn line_limit() {
    // 120 bytes is the line limit in these tests
    let fits = format!("m,t={} a=1", "x".repeat(112));
    let over = format!("m,t={} a=1", "x".repeat(113));
    assert_eq!(fits.len(), 120);
    assert!(render(fits.as_bytes(), Precision::Nanoseconds).starts_with("m|t=x"));
    assert_eq!(
        render(format!("{over}\nm v=1").as_bytes(), Precision::Nanoseconds),
        "ERR 1:1 line longer than 120 bytes\nm|v=f:1.0 #2"
    );
}

#[test]
fn key_limit() {
    // The key is the measurement and tags as written (escapes count), checked once the key
    // is complete; the line after it still parses.
    let opts = ParseOptions {
        max_key_bytes: 12,
        ..ParseOptions::default()
    };
    let lines = |body: &str| -> Vec<Result<String, String>> {
        Parser::new(body.as_bytes(), opts)
            .map(|r| {
                r.map(|l| l.measurement.to_string())
                    .map_err(|e| e.to_string())
            })
            .collect()
    };
    assert_eq!(lines("m,t=abcdefgh v=1"), vec![Ok("m".to_string())]);
    assert_eq!(
        lines("m,t=abcdefghi v=1\nok v=2"),
        vec![
            Err("max key length exceeded: 13 > 12 (line 1, column 1)".to_string()),
            Ok("ok".to_string())
        ]
    );
    assert_eq!(
        lines("m\\ abcdefghij v=1"),
        vec![Err(
            "max key length exceeded: 13 > 12 (line 1, column 1)".to_string()
        )]
    );
    // 1.x's limit by default.
    let at = format!("{} v=1", "k".repeat(crate::MAX_KEY_BYTES));
    let over = format!("{} v=1", "k".repeat(crate::MAX_KEY_BYTES + 1));
    assert!(Parser::new(at.as_bytes(), ParseOptions::default()).all(|r| r.is_ok()));
    assert!(
        Parser::new(over.as_bytes(), ParseOptions::default()).all(|r| matches!(
            r,
            Err(LineError {
                kind: ErrorKind::KeyTooLong {
                    len: 65_536,
                    limit: 65_535
                },
                ..
            })
        ))
    );
}

#[test]
fn lines_and_numbers() {
    check(&[
        (
            "a v=1\nb v=2\r\nc v=3\r\n",
            "a|v=f:1.0 #1\nb|v=f:2.0 #2\nc|v=f:3.0 #3",
        ),
        ("\n\n  \n# comment v=1\n\ta v=1\n", "a|v=f:1.0 #5"),
        ("\r\n\r\na v=1 5\r", "a|v=f:1.0|@5 #3"),
        // a newline inside a quoted string is part of the line and still counts
        (
            "a s=\"x\ny\"\nb v=1\nbad\n",
            "a|s=s:\"x\\ny\" #1\nb|v=f:1.0 #3\nERR 4:4 missing fields",
        ),
        // after a bad line, parsing goes on with the next one
        (
            "a v=\nb v=1\nc\n",
            "ERR 1:5 missing field value\nb|v=f:1.0 #2\nERR 3:2 missing fields",
        ),
        // an unbalanced quote swallows the rest of the body, as in 1.x
        ("a s=\"x\nb v=1\n", "ERR 1:5 unbalanced quotes"),
        // a bad line that holds a quoted newline is skipped whole
        (
            "a s=\"x\ny\"z\nb v=1",
            "ERR 1:10 invalid field format\nb|v=f:1.0 #3",
        ),
        // columns count from the physical start of the line, leading whitespace included
        ("  a v=", "ERR 1:7 missing field value"),
        ("", ""),
        ("# only a comment", ""),
    ]);
}

#[test]
fn timestamps() {
    check(&[
        ("m v=1 -1", "m|v=f:1.0|@-1 #1"),
        ("m v=1 12a", "ERR 1:9 bad timestamp"),
        ("m v=1 1.5", "ERR 1:8 bad timestamp"),
        ("m v=1 -", "ERR 1:7 bad timestamp"),
        ("m v=1 9223372036854775807", "ERR 1:7 time outside range"),
        (
            "m v=1 9223372036854775806",
            "m|v=f:1.0|@9223372036854775806 #1",
        ),
        ("m v=1 99999999999999999999", "ERR 1:7 time outside range"),
    ]);
    check_with(
        Precision::Seconds,
        &[
            ("m v=1 2", "m|v=f:1.0|@2000000000 #1"),
            ("m v=1 9300000000", "ERR 1:7 time outside range"),
        ],
    );
    check_with(
        Precision::Hours,
        &[("m v=1 1", "m|v=f:1.0|@3600000000000 #1")],
    );
    check_with(
        Precision::Minutes,
        &[("m v=1 1", "m|v=f:1.0|@60000000000 #1")],
    );
    check_with(
        Precision::Microseconds,
        &[("m v=1 1", "m|v=f:1.0|@1000 #1")],
    );
    check_with(
        Precision::Milliseconds,
        &[("m v=1 1", "m|v=f:1.0|@1000000 #1")],
    );
}

#[test]
fn invalid_utf8_rejects_only_its_line() {
    let body = b"a v=1\nb\xff v=1\nc,t=\xe2\x82 v=2\nd v=\"\xc3\xa9\"\n";
    assert_eq!(
        render(body, Precision::Nanoseconds),
        "a|v=f:1.0 #1\nERR 2:2 invalid UTF-8\nERR 3:5 invalid UTF-8\nd|v=s:\"é\" #4"
    );
    // an invalid byte in a comment does not disturb later lines
    assert_eq!(
        render(b"# \xff\na v=1", Precision::Nanoseconds),
        "a|v=f:1.0 #2"
    );
}

#[test]
fn borrowed_unless_escaped() {
    let body = br#"cpu,host=a\ b v="x",w="y\"z""#;
    let line = Parser::new(body, ParseOptions::default())
        .next()
        .and_then(Result::ok)
        .expect("parses");
    assert!(matches!(line.measurement, Cow::Borrowed(_)));
    assert!(matches!(line.tags[0].key, Cow::Borrowed(_)));
    assert!(matches!(line.tags[0].value, Cow::Owned(_)));
    assert!(matches!(
        &line.fields[0].value,
        FieldValue::String(Cow::Borrowed(_))
    ));
    assert!(matches!(
        &line.fields[1].value,
        FieldValue::String(Cow::Owned(_))
    ));
    assert_eq!(line.span, 0..body.len());
}

#[test]
fn next_into_reuses_the_line() {
    let body = b"a,t=1 v=1,w=2\nb v=3\n";
    let mut parser = Parser::new(body, ParseOptions::default());
    let mut line = Line::default();
    assert_eq!(parser.next_into(&mut line), Some(Ok(())));
    assert_eq!((line.tags.len(), line.fields.len()), (1, 2));
    assert_eq!(parser.next_into(&mut line), Some(Ok(())));
    assert_eq!((line.tags.len(), line.fields.len()), (0, 1));
    assert_eq!(line.measurement, "b");
    assert_eq!(line.span, 14..19);
    assert_eq!(parser.next_into(&mut line), None);
}

#[test]
fn recycled_strings_start_empty() {
    // Every name here has an escape, so each is unescaped into a string the line before
    // gave back.
    let body = b"a\\ b,t\\ 1=x\\ y f\\ 1=1\nc\\ d,u\\ 2=z\\ w g\\ 2=2\n";
    let mut parser = Parser::new(body, ParseOptions::default());
    let mut line = Line::default();
    assert_eq!(parser.next_into(&mut line), Some(Ok(())));
    assert_eq!(line.measurement, "a b");
    assert_eq!(parser.next_into(&mut line), Some(Ok(())));
    assert_eq!(line.measurement, "c d");
    assert_eq!((&*line.tags[0].key, &*line.tags[0].value), ("u 2", "z w"));
    assert_eq!(line.fields[0].key, "g 2");
}

#[test]
fn excerpt_is_bounded() {
    let long = format!("{} v=", "m".repeat(200));
    let err = Parser::new(long.as_bytes(), ParseOptions::default())
        .next()
        .and_then(Result::err)
        .expect("error");
    let text = err.excerpt(long.as_bytes());
    assert!(text.ends_with('…'));
    assert_eq!(text.chars().count(), crate::error::EXCERPT_BYTES + 1);
}

/// Every fast path for decimals (one-word, Clinger up to 2^53 with up to 19 digits) must give
/// exactly what the correctly rounding std parser gives, including around 2^53 and at 19 digits.
#[test]
fn decimal_fast_paths_round_correctly() {
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut cases: Vec<String> = vec![
        "9007199254740992".into(),
        "9007199254740993".into(),
        "0.9007199254740993".into(),
        "900719925474099.3".into(),
        "1844674407370955161".into(),
        "0.1844674407370955161".into(),
        "9999999999999999999".into(),
        "0.0000000000000000001".into(),
        "-0.0".into(),
        "12.34".into(),
    ];
    for _ in 0..20_000 {
        let digits = 1 + (next() % 19) as usize;
        let mut s: String = (0..digits)
            .map(|_| char::from(b'0' + (next() % 10) as u8))
            .collect();
        let dot = (next() % (digits as u64 + 1)) as usize;
        s.insert(dot, '.');
        if next() % 2 == 0 {
            s.insert(0, '-');
        }
        cases.push(s);
    }
    for text in cases {
        let body = format!("m v={text}");
        let line = Parser::new(body.as_bytes(), ParseOptions::default())
            .next()
            .and_then(Result::ok);
        let expected: f64 = text.parse().expect("std parses it");
        match line.as_ref().map(|l| &l.fields[0].value) {
            Some(FieldValue::F64(v)) => {
                assert_eq!(v.to_bits(), expected.to_bits(), "{text}: {v} vs {expected}")
            }
            other => panic!("{text}: {other:?}"),
        }
    }
}
