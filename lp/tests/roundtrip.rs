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
        // The same through one reused `Line`, as the engine parses (its unescaped strings are
        // recycled from line to line).
        let mut parser = Parser::new(&body, ParseOptions::default());
        let mut reused = lp::Line::default();
        for want in &lines {
            match parser.next_into(&mut reused) {
                Some(Ok(())) => prop_assert!(same(want, &reused), "want {:?}\ngot {:?}", want, reused),
                other => prop_assert!(false, "{:?}", other),
            }
        }
        prop_assert!(parser.next_into(&mut reused).is_none());
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

/// Everything a parser yields for `body`, as comparable text (lines with their spans and line
/// numbers, errors with theirs).
fn outcomes<'a>(parsers: impl IntoIterator<Item = Parser<'a>>) -> Vec<String> {
    parsers
        .into_iter()
        .flatten()
        .map(|r| match r {
            Ok(l) => format!(
                "{:?} {:?} {:?} {:?} {} {:?}",
                l.measurement, l.tags, l.fields, l.timestamp, l.line_no, l.span
            ),
            Err(e) => format!("{e:?}"),
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// Chunks parsed one by one give what one parser over the whole body gives: same points,
    /// spans, line numbers and errors, also with blank, comment, CRLF and bad lines, and string
    /// fields holding newlines.
    #[test]
    fn chunks_parse_like_the_whole_body(
        body in r#"(([a-z]{1,3}(,[a-z]=[a-z0-9]{1,3})? [a-z]=([0-9]{1,3}|"[a-z\n]{0,4}"|[a-z\n]{1,3})( [0-9]{1,4})?|#[a-z ]{0,5}|[ a-z=,]{0,6})(\r?\n){1,2}){0,40}"#,
        max in 1usize..6,
        min in 1usize..64,
    ) {
        let body = body.as_bytes();
        let chunks = lp::chunks(body, max, min);
        prop_assert!(!chunks.is_empty() && chunks.len() <= max);
        prop_assert_eq!(chunks.first().map(|c| c.range.start), Some(0));
        prop_assert_eq!(chunks.last().map(|c| c.range.end), Some(body.len()));
        for pair in chunks.windows(2) {
            prop_assert_eq!(pair[0].range.end, pair[1].range.start);
        }
        let whole = outcomes([Parser::new(body, ParseOptions::default())]);
        let parts = outcomes(chunks.iter().map(|c| c.parser(body, ParseOptions::default())));
        prop_assert_eq!(whole, parts, "chunks {:?} of {:?}", chunks, String::from_utf8_lossy(body));
    }
}
