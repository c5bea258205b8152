//! The series index's table of hashes: open addressing placed by a hash's *top* bits, with
//! linear probing. Placing by the top bits means hashes probed in ascending order walk the
//! table from start to end, so a flush that brings a million series (probed in hash order)
//! streams through memory instead of missing the cache once per series.

/// Two independent 64-bit lanes: a collision needs both to agree.
pub(super) type Hash128 = (u64, u64);

const EMPTY: u32 = u32::MAX;

#[derive(Debug, Clone)]
pub(super) struct Slots {
    /// `(hash, id)`, `id == EMPTY` for a free slot; a power-of-two count.
    entries: Vec<(Hash128, u32)>,
    len: usize,
    /// `64 - log2(entries.len())`: a hash's slot is `hash.0 >> shift`.
    shift: u32,
}

impl Default for Slots {
    fn default() -> Self {
        Slots::with_slots(16)
    }
}

impl Slots {
    fn with_slots(n: usize) -> Self {
        debug_assert!(n.is_power_of_two() && n >= 2);
        Slots {
            entries: vec![((0, 0), EMPTY); n],
            len: 0,
            shift: 64 - n.trailing_zeros(),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Room for `extra` more entries without growing on the way (load stays ≤ 3/4).
    pub(super) fn reserve(&mut self, extra: usize) {
        let want = (self.len + extra).saturating_mul(4) / 3 + 1;
        if want <= self.entries.len() {
            return;
        }
        let mut grown = Slots::with_slots(want.next_power_of_two());
        // Old entries in slot order are (nearly) in hash order: the new table fills in order.
        for &(h, id) in &self.entries {
            if id != EMPTY {
                grown.insert_new(h, id);
            }
        }
        *self = grown;
    }

    /// The id of `h`, or `new_id` after adding it (the bool says it was added).
    #[inline]
    pub(super) fn find_or_insert(&mut self, h: Hash128, new_id: u32) -> (u32, bool) {
        if (self.len + 1) * 4 > self.entries.len() * 3 {
            self.reserve(1);
        }
        let mask = self.entries.len() - 1;
        let mut at = (h.0 >> self.shift) as usize;
        loop {
            let (eh, id) = self.entries[at];
            if id == EMPTY {
                self.entries[at] = (h, new_id);
                self.len += 1;
                return (new_id, true);
            }
            if eh == h {
                return (id, false);
            }
            at = (at + 1) & mask;
        }
    }

    fn insert_new(&mut self, h: Hash128, id: u32) {
        let mask = self.entries.len() - 1;
        let mut at = (h.0 >> self.shift) as usize;
        while self.entries[at].1 != EMPTY {
            at = (at + 1) & mask;
        }
        self.entries[at] = (h, id);
        self.len += 1;
    }

    /// Every `(hash, id)`.
    pub(super) fn iter(&self) -> impl Iterator<Item = (Hash128, u32)> + '_ {
        self.entries.iter().copied().filter(|e| e.1 != EMPTY)
    }
}

/// `probes` reordered by their hashes' top 16 bits (one counting pass): the order that walks
/// a [`Slots`] table forwards.
pub(super) fn in_slot_order<T: Copy>(probes: &[(Hash128, T)]) -> Vec<(Hash128, T)> {
    const BITS: u32 = 16;
    let bucket = |h: &Hash128| (h.0 >> (64 - BITS)) as usize;
    let mut starts = vec![0usize; (1 << BITS) + 1];
    for (h, _) in probes {
        starts[bucket(h) + 1] += 1;
    }
    for i in 1..starts.len() {
        starts[i] += starts[i - 1];
    }
    let Some(&first) = probes.first() else {
        return Vec::new();
    };
    let mut out = vec![first; probes.len()];
    for &p in probes {
        let b = bucket(&p.0);
        out[starts[b]] = p;
        starts[b] += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mix(i: u64) -> Hash128 {
        let a = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (i >> 7);
        (a.rotate_left(17) ^ 0xABCD, i)
    }

    #[test]
    fn finds_what_it_added_across_growth_and_wraps() {
        let mut s = Slots::default();
        for i in 0..10_000u64 {
            assert_eq!(s.find_or_insert(mix(i), i as u32), (i as u32, true));
        }
        // Hashes that all land in the last slot wrap around to the start.
        for i in 0..5u64 {
            assert!(s.find_or_insert((u64::MAX, i), 20_000 + i as u32).1);
        }
        for i in 0..10_000u64 {
            assert_eq!(s.find_or_insert(mix(i), 99), (i as u32, false));
        }
        for i in 0..5u64 {
            assert_eq!(
                s.find_or_insert((u64::MAX, i), 99),
                (20_000 + i as u32, false)
            );
        }
        assert_eq!(s.len(), 10_005);
        assert_eq!(s.iter().count(), 10_005);
        // Lanes are compared both: same first lane, other second is another series.
        assert!(s.find_or_insert((mix(3).0, 12345), 7).1);
    }

    #[test]
    fn slot_order_is_ascending_top_bits_and_a_permutation() {
        let probes: Vec<(Hash128, u32)> = (0..50_000u64).map(|i| (mix(i), i as u32)).collect();
        let ordered = in_slot_order(&probes);
        assert!(ordered
            .windows(2)
            .all(|w| w[0].0 .0 >> 48 <= w[1].0 .0 >> 48));
        let mut rows: Vec<u32> = ordered.iter().map(|p| p.1).collect();
        rows.sort_unstable();
        assert_eq!(rows, (0..50_000).collect::<Vec<_>>());
    }
}
