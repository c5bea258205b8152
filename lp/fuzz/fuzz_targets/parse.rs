//! Any bytes: the parser must not panic, and parse → encode → parse must be stable.
//! Run: `cd lp/fuzz && cargo +nightly fuzz run parse corpus/parse`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    lp::test_helpers::check_invariants(data);
});
