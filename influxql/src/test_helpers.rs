//! Checks shared by the unit tests, the fuzz target and the corpus replay.

use crate::{parse_query, Statement};

/// Any input: parsing must not panic, and when it succeeds, printing and parsing again must give
/// the same statements.
pub fn check_invariants(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(stmts) = parse_query(text) {
        check_round_trip(text, &stmts);
    }
}

/// Asserts that `stmts` (parsed from `source`) print to InfluxQL that parses back to themselves.
pub fn check_round_trip(source: &str, stmts: &[Statement]) {
    let printed: Vec<String> = stmts.iter().map(ToString::to_string).collect();
    let joined = printed.join("; ");
    match parse_query(&joined) {
        Ok(again) => assert_eq!(
            again, stmts,
            "round trip changed the AST\n source: {source:?}\nprinted: {joined:?}"
        ),
        Err(e) => {
            panic!("printed form does not parse: {e}\n source: {source:?}\nprinted: {joined:?}")
        }
    }
}
