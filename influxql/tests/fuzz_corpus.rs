//! Replays the committed fuzz corpus (`influxql/fuzz/corpus/parse`) through the fuzz target's
//! checks, so every CI run covers what fuzzing found without needing nightly or libFuzzer.

#[test]
fn fuzz_corpus_replays_clean() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/parse");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("corpus dir") {
        let path = entry.expect("entry").path();
        // A local fuzzing run may replace files while we list them.
        let Ok(data) = std::fs::read(&path) else {
            continue;
        };
        influxql::test_helpers::check_invariants(&data);
        n += 1;
    }
    assert!(n >= 30, "corpus has only {n} inputs");
}
