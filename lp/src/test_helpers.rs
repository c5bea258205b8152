//! proptest strategies for arbitrary points that line protocol can express, for round-trip
//! property tests here and in the fuzz crate.

use std::borrow::Cow;

use proptest::prelude::*;

use crate::{Field, FieldValue, Line, Tag};

/// Names drawn from characters that exercise every escape, plus some multi-byte ones. Names the
/// encoder must refuse (see [`crate::EncodeError::Unrepresentable`]) are filtered out.
pub fn name() -> impl Strategy<Value = String> {
    proptest::string::string_regex(r#"[a-zA-Z0-9_ ,="\\#é€\t-]{1,12}"#)
        .expect("valid regex")
        .prop_filter("representable", |s| representable(s))
}

fn representable(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && !matches!(b.first(), Some(b'\t' | b'#'))
        && !b.iter().any(|&c| c == b'\n' || c == b'\r')
        && !b.iter().enumerate().any(|(i, &c)| {
            c == b'\\'
                && b.get(i + 1)
                    .is_none_or(|n| matches!(n, b',' | b' ' | b'=' | b'\\'))
        })
}

/// Measurement names as clients may send them: any UTF-8, with what paths trip over (`/`,
/// `..`, `%`, `~`, spaces, commas, `=`) often, short or long — up to [`crate::MAX_KEY_BYTES`]
/// as written, escapes included. Names the encoder must refuse are filtered out.
pub fn measurement() -> impl Strategy<Value = String> {
    let piece = || {
        prop_oneof![
            4 => proptest::string::string_regex(r#"[a-z/.%~ ,=é한]{1,8}"#).expect("valid regex"),
            1 => Just("..".to_owned()),
            2 => any::<String>(),
        ]
    };
    let short = proptest::collection::vec(piece(), 1..4).prop_map(|p| p.concat());
    // Escaped, `,` and ` ` take two bytes: a repeat of up to 32 bytes per piece stays under
    // the key limit at 1,000 repeats.
    let long = (piece(), 8usize..=1000).prop_map(|(p, n)| p.repeat(n));
    let at_limit = Just("é".repeat(crate::MAX_KEY_BYTES / 2) + "x");
    prop_oneof![8 => short, 2 => long, 1 => at_limit]
        .prop_filter("representable", |s| representable(s))
}

/// Any field value line protocol can carry.
pub fn field_value() -> impl Strategy<Value = FieldValue<'static>> {
    prop_oneof![
        any::<f64>()
            .prop_filter("finite", |v| v.is_finite())
            .prop_map(FieldValue::F64),
        any::<i64>().prop_map(FieldValue::I64),
        any::<u64>().prop_map(FieldValue::U64),
        any::<bool>().prop_map(FieldValue::Bool),
        proptest::string::string_regex(r#"[a-z "\\,=\n\r\té€]{0,16}"#)
            .expect("valid regex")
            .prop_map(|s| FieldValue::String(Cow::Owned(s))),
    ]
}

/// A whole point: unique sorted tag keys, unique field keys, optional timestamp in 1.x's range.
pub fn line() -> impl Strategy<Value = Line<'static>> {
    line_named(name())
}

/// [`line`] with measurement names from `measurement`.
pub fn line_named(
    measurement: impl Strategy<Value = String>,
) -> impl Strategy<Value = Line<'static>> {
    (
        measurement,
        proptest::collection::btree_map(name(), name(), 0..5),
        proptest::collection::btree_map(name(), field_value(), 1..6),
        proptest::option::of(crate::precision::MIN_NANOS..=crate::precision::MAX_NANOS),
    )
        .prop_map(|(measurement, tags, fields, timestamp)| Line {
            measurement: Cow::Owned(measurement),
            tags: tags
                .into_iter()
                .map(|(k, v)| Tag {
                    key: Cow::Owned(k),
                    value: Cow::Owned(v),
                })
                .collect(),
            fields: fields
                .into_iter()
                .map(|(k, value)| Field {
                    key: Cow::Owned(k),
                    value,
                })
                .collect(),
            timestamp,
            line_no: 0,
            span: 0..0,
            spare: Default::default(),
        })
}

/// Whether two points are the same point (positions aside; floats compared by bits so `-0.0`
/// and `0.0` differ).
pub fn same_point(a: &Line<'_>, b: &Line<'_>) -> bool {
    a.measurement == b.measurement
        && a.tags == b.tags
        && a.timestamp == b.timestamp
        && a.fields.len() == b.fields.len()
        && a.fields.iter().zip(&b.fields).all(|(x, y)| {
            x.key == y.key
                && match (&x.value, &y.value) {
                    (FieldValue::F64(p), FieldValue::F64(q)) => p.to_bits() == q.to_bits(),
                    (p, q) => p == q,
                }
        })
}

/// The invariants the fuzz target checks on any input, as a function so the committed corpus is
/// replayed by an ordinary test too: no panic; errors point inside the body with line numbers
/// that never go backwards; every parsed point that the encoder can express parses back to
/// itself (parse → encode → parse is stable).
pub fn check_invariants(body: &[u8]) {
    let mut last_line = 0;
    let mut items = 0usize;
    for item in crate::Parser::new(body, crate::ParseOptions::default()) {
        items += 1;
        assert!(items <= body.len() + 1, "more items than bytes");
        let (line_no, span) = match &item {
            Ok(line) => (line.line_no, line.span.clone()),
            Err(e) => (e.line, e.span.clone()),
        };
        assert!(
            line_no > last_line,
            "line numbers go backwards: {line_no} after {last_line}"
        );
        last_line = line_no;
        assert!(
            span.start <= span.end && span.end <= body.len(),
            "span {span:?} outside body"
        );
        if let Err(e) = &item {
            assert!(e.column >= 1);
            let _ = e.excerpt(body);
        }
        if let Ok(line) = item {
            let mut encoded = Vec::new();
            if crate::encode_line(&mut encoded, &line).is_ok() {
                let again: Vec<_> =
                    crate::Parser::new(&encoded, crate::ParseOptions::default()).collect();
                assert_eq!(again.len(), 1, "one point encodes to one line: {encoded:?}");
                match &again[0] {
                    Ok(l) => assert!(same_point(l, &line), "{line:?} -> {encoded:?} -> {l:?}"),
                    Err(e) => panic!("{line:?} encoded to {encoded:?}, which fails: {e}"),
                }
            }
        }
    }
}
