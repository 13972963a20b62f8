//! Latency summary of timed engine calls ([`Latency`]): percentiles by the nearest-rank
//! method over every recorded duration, in microseconds.
use std::time::Duration;

/// Collected durations of one kind of call (e.g. `Stream::push`).
#[derive(Clone, Debug, Default)]
pub struct Latency {
    /// every duration, nanoseconds, in call order
    ns: Vec<u64>,
}

impl Latency {
    /// Records one call.
    pub fn record(&mut self, d: Duration) {
        self.ns
            .push(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    }

    /// Number of calls recorded.
    pub fn count(&self) -> usize {
        self.ns.len()
    }

    /// The `p`-th percentile (0 < p ≤ 100, nearest rank: the ⌈p/100·n⌉-th smallest), µs;
    /// `None` when nothing was recorded or `p` is out of range.
    pub fn percentile_us(&self, p: f64) -> Option<f64> {
        if self.ns.is_empty() || !(p > 0.0 && p <= 100.0) {
            return None;
        }
        let mut v = self.ns.clone();
        v.sort_unstable();
        let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
        Some(v[rank.clamp(1, v.len()) - 1] as f64 / 1e3)
    }

    /// Mean, µs (`None` when nothing was recorded).
    pub fn mean_us(&self) -> Option<f64> {
        (!self.ns.is_empty())
            .then(|| self.ns.iter().map(|&n| n as f64).sum::<f64>() / self.ns.len() as f64 / 1e3)
    }

    /// Largest, µs (`None` when nothing was recorded).
    pub fn max_us(&self) -> Option<f64> {
        self.ns.iter().max().map(|&n| n as f64 / 1e3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut l = Latency::default();
        assert_eq!(l.percentile_us(50.0), None);
        for us in (1..=100).rev() {
            l.record(Duration::from_micros(us));
        }
        assert_eq!(l.count(), 100);
        assert_eq!(l.percentile_us(50.0), Some(50.0));
        assert_eq!(l.percentile_us(99.0), Some(99.0));
        assert_eq!(l.percentile_us(100.0), Some(100.0));
        assert_eq!(l.percentile_us(0.0), None);
        assert_eq!(l.max_us(), Some(100.0));
        assert_eq!(l.mean_us(), Some(50.5));
    }
}
