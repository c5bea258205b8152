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
        .prop_filter("representable", |s| {
            let b = s.as_bytes();
            !matches!(b.first(), Some(b'\t' | b'#'))
                && !b.iter().enumerate().any(|(i, &c)| {
                    c == b'\\'
                        && b.get(i + 1)
                            .is_none_or(|n| matches!(n, b',' | b' ' | b'=' | b'\\'))
                })
        })
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
    (
        name(),
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
        })
}
