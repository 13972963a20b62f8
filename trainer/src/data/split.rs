//! The reference's subject split, reproduced bit for bit (spec gated-and-protocols §2.2).
//!
//! The reference calls scikit-learn twice:
//! `train_test_split(ids, test_size=0.3, random_state=seed)` and then
//! `train_test_split(temp, test_size=0.5, random_state=seed)` on the 30 % part
//! (`data_loaders/Load_PhysioNet_EEG_NoPrompt.py`). With an integer seed scikit-learn draws
//! `np.random.RandomState(seed).permutation(n)`, which this file rebuilds from scratch:
//!
//! * [`Mt19937`]: Mersenne Twister MT19937 seeded by `init_genrand` (Knuth's 1812433253
//!   recurrence), as numpy's legacy `RandomState(int)` does;
//! * [`legacy_permutation`]: numpy's legacy Fisher–Yates shuffle of `arange(n)` (i = n−1 down to
//!   1, `j = bounded(i)` by masked rejection on 32-bit outputs);
//! * [`train_test_split`]: `n_test = ⌈test_size·n⌉`, test = first `n_test` entries of the
//!   permutation, train = the rest, both kept in permutation order;
//! * [`subject_split`]: the two-stage split giving train / val / test subject lists.
//!
//! The list order matters: it is the order in which the reference loads and concatenates
//! subjects.

/// MT19937 32-bit Mersenne Twister, as used by numpy's legacy `RandomState`.
#[derive(Clone)]
pub struct Mt19937 {
    mt: [u32; 624],
    idx: usize,
}

impl std::fmt::Debug for Mt19937 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mt19937")
            .field("idx", &self.idx)
            .finish_non_exhaustive()
    }
}

impl Mt19937 {
    const N: usize = 624;
    const M: usize = 397;

    /// Seed with `init_genrand(seed)` (= numpy `RandomState(seed)` for an integer seed).
    pub fn new(seed: u32) -> Self {
        let mut mt = [0u32; 624];
        mt[0] = seed;
        for i in 1..Self::N {
            let prev = mt[i - 1];
            mt[i] = 1_812_433_253u32
                .wrapping_mul(prev ^ (prev >> 30))
                .wrapping_add(i as u32);
        }
        Mt19937 { mt, idx: Self::N }
    }

    fn twist(&mut self) {
        const UPPER: u32 = 0x8000_0000;
        const LOWER: u32 = 0x7fff_ffff;
        const MATRIX_A: u32 = 0x9908_b0df;
        for i in 0..Self::N {
            let y = (self.mt[i] & UPPER) | (self.mt[(i + 1) % Self::N] & LOWER);
            let mut v = self.mt[(i + Self::M) % Self::N] ^ (y >> 1);
            if y & 1 != 0 {
                v ^= MATRIX_A;
            }
            self.mt[i] = v;
        }
        self.idx = 0;
    }

    /// Next tempered 32-bit output (`genrand_int32`).
    pub fn next_u32(&mut self) -> u32 {
        if self.idx >= Self::N {
            self.twist();
        }
        let mut y = self.mt[self.idx];
        self.idx += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^= y >> 18;
        y
    }

    /// Uniform integer in `[0, max]` by numpy's legacy masked rejection (`random_interval`):
    /// mask = smallest 2^k − 1 ≥ max, draw `next_u32() & mask` until ≤ max. `max = 0` draws
    /// nothing.
    pub fn bounded(&mut self, max: u32) -> u32 {
        if max == 0 {
            return 0;
        }
        let mut mask = max;
        mask |= mask >> 1;
        mask |= mask >> 2;
        mask |= mask >> 4;
        mask |= mask >> 8;
        mask |= mask >> 16;
        loop {
            let v = self.next_u32() & mask;
            if v <= max {
                return v;
            }
        }
    }
}

/// `np.random.RandomState(seed).permutation(n)`: legacy Fisher–Yates over `0..n`.
///
/// # Panics
/// If `n` exceeds `u32::MAX` (numpy would switch to 64-bit draws there; never reached for
/// subject lists).
pub fn legacy_permutation(n: usize, seed: u32) -> Vec<usize> {
    assert!(
        n <= u32::MAX as usize,
        "permutation length {n} exceeds u32 range"
    );
    let mut rng = Mt19937::new(seed);
    let mut a: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = rng.bounded(i as u32) as usize;
        a.swap(i, j);
    }
    a
}

/// scikit-learn `train_test_split(items, test_size=test_size, random_state=seed)` with
/// `shuffle=True` and no stratification. Returns `(train, test)`:
/// `n_test = ⌈test_size·n⌉` (computed in f64 as Python does), `test = items[perm[..n_test]]`,
/// `train = items[perm[n_test..]]`, in permutation order.
///
/// # Panics
/// If `test_size` is not in (0, 1) (scikit-learn raises there).
pub fn train_test_split<T: Clone>(items: &[T], test_size: f64, seed: u32) -> (Vec<T>, Vec<T>) {
    assert!(
        test_size > 0.0 && test_size < 1.0,
        "test_size must be in (0, 1), got {test_size}"
    );
    let n = items.len();
    let n_test = ((test_size * n as f64).ceil() as usize).min(n);
    let perm = legacy_permutation(n, seed);
    let test = perm[..n_test].iter().map(|&i| items[i].clone()).collect();
    let train = perm[n_test..].iter().map(|&i| items[i].clone()).collect();
    (train, test)
}

/// Subject lists of one split, each in the reference's (loading) order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectSplit {
    /// Training subjects (≈70 %).
    pub train: Vec<u32>,
    /// Validation subjects (the "train" half of the 30 % part).
    pub val: Vec<u32>,
    /// Test subjects (the "test" half of the 30 % part).
    pub test: Vec<u32>,
}

/// The reference's two-stage subject split: `train_test_split(ids, 0.3, seed)`, then
/// `train_test_split(temp, 0.5, seed)` on the 30 % part with a fresh `RandomState(seed)`
/// (val = its "train" part, test = its "test" part).
///
/// The reference passes `ids = [1, …, N]`; e.g. N = 109 gives 76/16/17 subjects, N = 50 gives
/// 35/7/8, N = 24 gives 16/4/4.
pub fn subject_split(ids: &[u32], seed: u32) -> SubjectSplit {
    let (train, temp) = train_test_split(ids, 0.3, seed);
    let (val, test) = train_test_split(&temp, 0.5, seed);
    SubjectSplit { train, val, test }
}

/// [`subject_split`] of `1..=n_subjects`, exactly the reference's `sample_size` argument.
pub fn reference_subject_split(n_subjects: u32, seed: u32) -> SubjectSplit {
    let ids: Vec<u32> = (1..=n_subjects).collect();
    subject_split(&ids, seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mt19937_known_outputs() {
        assert_eq!(Mt19937::new(0).next_u32(), 2_357_136_044);
        assert_eq!(Mt19937::new(5489).next_u32(), 3_499_211_612);
        // Further outputs of the reference generator (mt19937ar.c, init_genrand(5489)).
        let mut r = Mt19937::new(5489);
        let v: Vec<u32> = (0..3).map(|_| r.next_u32()).collect();
        assert_eq!(v, vec![3_499_211_612, 581_869_302, 3_890_346_734]);
        // The 10000th output of the default-seeded generator (C++ std::mt19937 requirement).
        let mut r = Mt19937::new(5489);
        let mut last = 0;
        for _ in 0..10_000 {
            last = r.next_u32();
        }
        assert_eq!(last, 4_123_659_995);
    }

    #[test]
    fn permutation_is_a_permutation() {
        for n in [0usize, 1, 2, 7, 109] {
            let mut p = legacy_permutation(n, 2024);
            p.sort_unstable();
            assert_eq!(p, (0..n).collect::<Vec<_>>());
        }
    }
}
