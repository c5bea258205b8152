//! Any UTF-8 input: the parser must not panic, and parse → print → parse must be stable.
//! Run: `cd influxql/fuzz && cargo +nightly fuzz run parse corpus/parse`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    influxql::test_helpers::check_invariants(data);
});
