//! Where a scan's inputs can hold the same point twice: the times covered by two or more of
//! them. Only rows at those times need the merge; every other row is in exactly one input and
//! is read as it is. Consecutive flushes usually share a timestamp or two (a batch of series at
//! one time split by the flush), so the windows are narrow even when every file touches the
//! next — merging whole overlapping files instead would merge a day's data on every query.

/// At most this many windows: more are merged across their smallest gaps (a larger window
/// only sends more rows through the merge, which is still correct).
const MAX_WINDOWS: usize = 16;

/// The inclusive time ranges covered by at least two of `inputs` (inclusive ranges), sorted and
/// disjoint, at most [`MAX_WINDOWS`] of them.
pub(crate) fn windows(inputs: &[(i64, i64)]) -> Vec<(i64, i64)> {
    // +1 where an input starts, -1 just past where it ends; an end at i64::MAX never ends.
    let mut events: Vec<(i64, i32)> = Vec::with_capacity(inputs.len() * 2);
    for &(lo, hi) in inputs {
        if lo > hi {
            continue;
        }
        events.push((lo, 1));
        if let Some(past) = hi.checked_add(1) {
            events.push((past, -1));
        }
    }
    events.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::new();
    let mut depth = 0i32;
    let mut start = 0i64;
    let mut i = 0;
    while i < events.len() {
        let at = events[i].0;
        let before = depth;
        while i < events.len() && events[i].0 == at {
            depth += events[i].1;
            i += 1;
        }
        if before < 2 && depth >= 2 {
            start = at;
        } else if before >= 2 && depth < 2 {
            out.push((start, at - 1));
        }
    }
    if depth >= 2 {
        out.push((start, i64::MAX));
    }
    coalesce(out, MAX_WINDOWS)
}

/// `windows` (sorted, disjoint) merged across their smallest gaps down to `max`.
fn coalesce(mut windows: Vec<(i64, i64)>, max: usize) -> Vec<(i64, i64)> {
    while windows.len() > max.max(1) {
        let Some(at) =
            (0..windows.len() - 1).min_by_key(|&k| windows[k + 1].0.saturating_sub(windows[k].1))
        else {
            break;
        };
        windows[at].1 = windows[at + 1].1;
        windows.remove(at + 1);
    }
    windows
}

/// Whether `(lo, hi)` meets any of `windows`.
pub(crate) fn touches(windows: &[(i64, i64)], lo: i64, hi: i64) -> bool {
    windows.iter().any(|&(a, b)| a <= hi && lo <= b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_times_two_inputs_share() {
        // Consecutive flushes sharing their boundary timestamp, and one input inside another.
        let w = windows(&[(0, 10), (10, 20), (20, 30), (40, 50), (42, 44)]);
        assert_eq!(w, vec![(10, 10), (20, 20), (42, 44)]);
        assert!(
            windows(&[(0, 10), (11, 20)]).is_empty(),
            "touching is not sharing"
        );
        assert!(windows(&[(0, 10)]).is_empty());
        assert_eq!(
            windows(&[(5, i64::MAX), (7, i64::MAX)]),
            vec![(7, i64::MAX)]
        );
        assert_eq!(
            windows(&[(i64::MIN, 3), (i64::MIN, 1)]),
            vec![(i64::MIN, 1)]
        );
    }

    #[test]
    fn many_windows_merge_across_the_smallest_gaps() {
        let inputs: Vec<(i64, i64)> = (0..40).map(|k| (k * 10, k * 10 + 10)).collect();
        let w = windows(&inputs);
        assert_eq!(w.len(), MAX_WINDOWS);
        // Still covers every shared time.
        for k in 1..40 {
            assert!(touches(&w, k * 10, k * 10), "{k}");
        }
        assert!(w.windows(2).all(|p| p[0].1 < p[1].0), "sorted and disjoint");
    }
}
