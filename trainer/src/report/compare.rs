//! Is the reference's result one more draw from our init-seed distribution? A rank test over
//! the split seeds.
//!
//! On each split s we have n_s runs (init seeds) and the reference has one run. If the
//! reference's training were statistically the same as ours, its accuracy would be
//! exchangeable with our n_s accuracies, so its rank R_s (our runs below it, ties counted ½)
//! would be uniform on {0, 1, …, n_s} and independent across splits (ties: equal within the
//! reference's printed resolution, [`super::table::REFERENCE_RESOLUTION`]). The statistic is the mean
//! percentile P = (1/S) Σ R_s / n_s (½ under the hypothesis); its exact distribution is the
//! convolution of the S discrete uniforms, enumerated here (normal approximation beyond 10⁶
//! combinations). P near 1: the reference scores above our spread on most splits. Ties make
//! the test slightly conservative. (A per-split permutation test; cf. the rank statistics of
//! Wilcoxon and Mann–Whitney.)
use super::runs::RunResult;
use super::table::{compare_to_reference, group, ReferenceRun};

/// The test's result for one model and rate.
#[derive(Clone, Debug, PartialEq)]
pub struct Placement {
    /// model id
    pub model: String,
    /// sampling rate, Hz
    pub sfreq: u32,
    /// (split seed, our runs, reference rank R_s) of every split with a reference run
    pub splits: Vec<(u64, usize, f64)>,
    /// mean percentile P of the reference's runs
    pub mean_percentile: f64,
    /// P(P ≥ observed) under the hypothesis: small = the reference scores above our spread
    pub p_above: f64,
    /// P(P ≤ observed): small = the reference scores below our spread
    pub p_below: f64,
    /// reference mean accuracy minus the mean of our per-split means (fraction)
    pub gap: f64,
}

/// Places the reference's runs in our spread, per model and rate (groups without any
/// reference run on a split of theirs are left out).
pub fn placements(runs: &[RunResult], reference: &[ReferenceRun]) -> Vec<Placement> {
    let mut out: Vec<Placement> = Vec::new();
    for g in group(runs, true) {
        let Some(r) = reference
            .iter()
            .find(|r| r.model == g.model && r.sfreq == g.sfreq && Some(r.seed) == g.seed)
        else {
            continue;
        };
        let accs = g.accs();
        let rank = accs
            .iter()
            .map(|&a| match compare_to_reference(a, r.acc) {
                -1 => 1.0,
                0 => 0.5,
                _ => 0.0,
            })
            .sum::<f64>();
        let our_mean = accs.iter().sum::<f64>() / accs.len() as f64;
        let split = (g.seed.unwrap_or_default(), accs.len(), rank);
        match out
            .iter_mut()
            .find(|p| p.model == g.model && p.sfreq == g.sfreq)
        {
            Some(p) => {
                p.splits.push(split);
                p.gap += r.acc - our_mean;
            }
            None => out.push(Placement {
                model: g.model.clone(),
                sfreq: g.sfreq,
                splits: vec![split],
                mean_percentile: 0.0,
                p_above: 1.0,
                p_below: 1.0,
                gap: r.acc - our_mean,
            }),
        }
    }
    for p in &mut out {
        let s = p.splits.len() as f64;
        p.gap /= s;
        p.mean_percentile = p.splits.iter().map(|&(_, n, r)| r / n as f64).sum::<f64>() / s;
        let ns: Vec<usize> = p.splits.iter().map(|&(_, n, _)| n).collect();
        (p.p_above, p.p_below) = tail_probabilities(&ns, p.mean_percentile);
    }
    out
}

/// P(P ≥ obs) and P(P ≤ obs) for P = mean over splits of U_s / n_s, U_s uniform on
/// {0, …, n_s}: exact by enumeration up to 10⁶ combinations, normal approximation beyond.
pub fn tail_probabilities(ns: &[usize], obs: f64) -> (f64, f64) {
    const EPS: f64 = 1e-12;
    let combos = ns
        .iter()
        .try_fold(1usize, |acc, &n| acc.checked_mul(n + 1))
        .unwrap_or(usize::MAX);
    let s = ns.len() as f64;
    if combos <= 1_000_000 {
        // distribution of the sum of U_s / n_s as (value, probability) pairs
        let mut dist: Vec<(f64, f64)> = vec![(0.0, 1.0)];
        for &n in ns {
            let mut next = Vec::with_capacity(dist.len() * (n + 1));
            for &(v, p) in &dist {
                for k in 0..=n {
                    next.push((v + k as f64 / n.max(1) as f64, p / (n + 1) as f64));
                }
            }
            dist = next;
        }
        let total = obs * s;
        let above = dist
            .iter()
            .filter(|(v, _)| *v >= total - EPS)
            .map(|(_, p)| p)
            .sum();
        let below = dist
            .iter()
            .filter(|(v, _)| *v <= total + EPS)
            .map(|(_, p)| p)
            .sum();
        (above, below)
    } else {
        // each U_s / n_s has mean ½ and variance (n_s + 2) / (12 n_s)
        let var: f64 = ns
            .iter()
            .map(|&n| (n as f64 + 2.0) / (12.0 * n as f64))
            .sum::<f64>()
            / (s * s);
        let z = (obs - 0.5) / var.sqrt();
        (1.0 - normal_cdf(z), normal_cdf(z))
    }
}

/// Standard normal CDF (Abramowitz & Stegun 7.1.26 erf, |error| < 1.5e-7).
fn normal_cdf(z: f64) -> f64 {
    let x = z.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-x * x).exp();
    if z >= 0.0 {
        0.5 * (1.0 + erf)
    } else {
        0.5 * (1.0 - erf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_tails_of_one_and_two_splits() {
        // one split of 4 runs: rank uniform on 0..=4
        let (a, b) = tail_probabilities(&[4], 1.0);
        assert!((a - 0.2).abs() < 1e-12 && (b - 1.0).abs() < 1e-12);
        let (a, b) = tail_probabilities(&[4], 0.5);
        assert!((a - 0.6).abs() < 1e-12 && (b - 0.6).abs() < 1e-12);
        // two splits of 1 run: sum of two fair coins; mean 1 only if both are 1
        let (a, _) = tail_probabilities(&[1, 1], 1.0);
        assert!((a - 0.25).abs() < 1e-12);
        // three splits of 10 runs: 0.06311 (counted independently: 84 of 1331 rank triples sum
        // to at least 24)
        let exact = tail_probabilities(&[10, 10, 10], 0.8).0;
        assert!((exact - 84.0 / 1331.0).abs() < 1e-12, "{exact}");
        // beyond 10^6 combinations the normal approximation (no continuity correction) is used:
        // 7 splits of 10 runs around the centre
        let approx = tail_probabilities(&[10; 7], 0.5).0;
        assert!((approx - 0.5).abs() < 1e-9, "{approx}");
        assert!((normal_cdf(1.96) - 0.975).abs() < 1e-4);
    }

    #[test]
    fn a_reference_above_every_run_of_every_split_is_significant() {
        use super::super::runs::tests::results_json;
        let mut runs = Vec::new();
        for seed in [1u64, 2, 3] {
            for init in 0..5 {
                let acc = 0.6 + 0.01 * init as f64;
                runs.push(
                    RunResult::parse(
                        &format!("r{seed}{init}"),
                        &results_json("1b", seed, init, acc),
                    )
                    .unwrap(),
                );
            }
        }
        let reference: Vec<ReferenceRun> = [1u64, 2, 3]
            .iter()
            .map(|&seed| ReferenceRun {
                model: "1b".into(),
                sfreq: 80,
                seed,
                acc: 0.9,
            })
            .collect();
        let p = &placements(&runs, &reference)[0];
        assert_eq!(p.splits.len(), 3);
        assert!((p.mean_percentile - 1.0).abs() < 1e-12);
        assert!(
            (p.p_above - (1.0f64 / 6.0).powi(3)).abs() < 1e-12,
            "{}",
            p.p_above
        );
        assert!((p.gap - (0.9 - 0.62)).abs() < 1e-9, "{}", p.gap);
    }
}
