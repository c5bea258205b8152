//! Property: encode(points) → parse → the same points, for arbitrary names and values including
//! every escape; and parsing arbitrary bytes never panics.

use lp::{encode_line, ParseOptions, Parser};
use proptest::prelude::*;

use lp::test_helpers::same_point as same;

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn encode_then_parse_is_identity(lines in proptest::collection::vec(lp::test_helpers::line(), 1..8)) {
        let mut body = Vec::new();
        for line in &lines {
            encode_line(&mut body, line).map_err(|e| TestCaseError::fail(e.to_string()))?;
        }
        let parsed: Vec<_> = Parser::new(&body, ParseOptions::default()).collect();
        prop_assert_eq!(parsed.len(), lines.len(), "body: {:?}", String::from_utf8_lossy(&body));
        for (want, got) in lines.iter().zip(parsed) {
            let got = got.map_err(|e| TestCaseError::fail(format!("{e}: {:?}", String::from_utf8_lossy(&body))))?;
            prop_assert!(same(want, &got), "want {:?}\ngot {:?}\nbody {:?}", want, got, String::from_utf8_lossy(&body));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..256)) {
        let mut n = 0;
        for item in Parser::new(&body, ParseOptions::default()) {
            if let Err(e) = item {
                prop_assert!(e.span.end <= body.len());
                prop_assert!(e.line >= 1);
            }
            n += 1;
            prop_assert!(n <= body.len() + 1);
        }
    }

    #[test]
    fn lp_shaped_noise_never_panics(body in r#"[a-z0-9 ,=\\"\n\r#.ietfuTF-]{0,200}"#) {
        for line in Parser::new(body.as_bytes(), ParseOptions::default()).flatten() {
            {
                // whatever parses must encode and parse back the same
                let mut out = Vec::new();
                if encode_line(&mut out, &line).is_ok() {
                    let again = Parser::new(&out, ParseOptions::default()).next();
                    prop_assert!(matches!(&again, Some(Ok(l)) if same(l, &line)), "{:?} -> {:?}", line, again);
                }
            }
        }
    }
}
