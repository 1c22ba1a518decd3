//! A small deterministic pseudo-random number generator for simulated work.

use std::ops::RangeInclusive;

/// The SplitMix64 generator: a 64-bit state, and statistics good enough for picking
/// simulated durations. Not for cryptography.
#[derive(Clone, Debug)]
pub(crate) struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// Creates a generator seeded with the 64-bit FNV-1a hash of `key`, so that the same
    /// key always yields the same sequence.
    pub(crate) fn from_key(key: &str) -> Self {
        const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
        const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
        let hash = key.bytes().fold(FNV_OFFSET_BASIS, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(FNV_PRIME)
        });
        Self { state: hash }
    }

    /// Returns the next 64 pseudo-random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Returns a value in `range`. The modulo makes small values very slightly more
    /// likely, which does not matter for simulated durations.
    pub(crate) fn in_range(&mut self, range: RangeInclusive<u64>) -> u64 {
        let (low, high) = (*range.start(), *range.end());
        if low >= high {
            return low;
        }
        let span = high - low + 1;
        low + self.next_u64() % span
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_key_gives_same_sequence() {
        let mut a = SplitMix64::from_key("job-0001");
        let mut b = SplitMix64::from_key("job-0001");
        for _ in 0..10 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
    }

    #[test]
    fn different_keys_give_different_values() {
        let a = SplitMix64::from_key("job-0001").next_u64();
        let b = SplitMix64::from_key("job-0002").next_u64();
        assert_ne!(a, b);
    }

    #[test]
    fn in_range_stays_in_range() {
        let mut rng = SplitMix64::from_key("range");
        for _ in 0..1000 {
            let value = rng.in_range(10..=20);
            assert!((10..=20).contains(&value), "{value} is outside 10..=20");
        }
        assert_eq!(rng.in_range(7..=7), 7);
    }
}
