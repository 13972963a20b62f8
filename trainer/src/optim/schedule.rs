//! Learning-rate schedules stepped once per epoch, reproducing `torch.optim.lr_scheduler`.
//!
//! Both schedules keep the current rate as an `f64` (PyTorch stores it as a Python float in the
//! parameter group) and are serialisable for training checkpoints.
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

/// `torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max, eta_min)` without restarts.
///
/// The rate used during epoch `e` (0-based; construction = epoch 0, one [`step`](Self::step)
/// after each epoch's validation) is
///
/// ```text
/// lr_e = eta_min + (base_lr − eta_min) · (1 + cos(π·e/T_max)) / 2
/// ```
///
/// ([`closed_form`](Self::closed_form)). Like PyTorch, [`step`](Self::step) evaluates it with the
/// recursive ("chainable") form `lr_e = (1 + cos(π e/T)) / (1 + cos(π (e−1)/T)) · (lr_{e−1} −
/// eta_min) + eta_min`, with PyTorch's special case at `e = T_max + 1 (mod 2 T_max)`, so the
/// logged rates equal PyTorch's bit for bit; the two forms differ by a few ulps. Past `T_max` the
/// rate rises again (cosine continued), as in PyTorch.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CosineAnnealingLR {
    base_lr: f64,
    t_max: usize,
    eta_min: f64,
    last_epoch: usize,
    lr: f64,
}

impl CosineAnnealingLR {
    /// Schedule starting at `base_lr` (epoch 0), reaching `eta_min` at epoch `t_max`.
    ///
    /// # Panics
    /// If `t_max` is 0 (PyTorch fails with a division by zero on the first step).
    pub fn new(base_lr: f64, t_max: usize, eta_min: f64) -> Self {
        assert!(t_max > 0, "CosineAnnealingLR: T_max must be positive");
        Self {
            base_lr,
            t_max,
            eta_min,
            last_epoch: 0,
            lr: base_lr,
        }
    }

    /// Current rate: the one to use for the epoch [`last_epoch`](Self::last_epoch)
    /// (`scheduler.get_last_lr()[0]`).
    pub fn lr(&self) -> f64 {
        self.lr
    }

    /// Number of [`step`](Self::step) calls so far (PyTorch `last_epoch`).
    pub fn last_epoch(&self) -> usize {
        self.last_epoch
    }

    /// `T_max`.
    pub fn t_max(&self) -> usize {
        self.t_max
    }

    /// Advances one epoch and returns the new rate (`scheduler.step()`).
    pub fn step(&mut self) -> f64 {
        self.last_epoch += 1;
        let e = self.last_epoch as f64;
        let t = self.t_max as f64;
        let period = 2 * self.t_max as i64;
        let lr = if (self.last_epoch as i64 - 1 - self.t_max as i64).rem_euclid(period) == 0 {
            self.lr + (self.base_lr - self.eta_min) * (1.0 - (PI / t).cos()) / 2.0
        } else {
            (1.0 + (PI * e / t).cos()) / (1.0 + (PI * (e - 1.0) / t).cos())
                * (self.lr - self.eta_min)
                + self.eta_min
        };
        self.lr = lr;
        lr
    }

    /// The closed form at any epoch (PyTorch `_get_closed_form_lr`):
    /// `eta_min + (base_lr − eta_min)·(1 + cos(π·epoch/T_max))/2`.
    pub fn closed_form(&self, epoch: usize) -> f64 {
        self.eta_min
            + (self.base_lr - self.eta_min) * (1.0 + (PI * epoch as f64 / self.t_max as f64).cos())
                / 2.0
    }
}

/// Whether a larger or a smaller metric is better ([`ReduceLROnPlateau`] `mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PlateauMode {
    /// `mode="min"` (losses).
    Min,
    /// `mode="max"` (accuracies).
    Max,
}

/// How [`ReduceLROnPlateau`] compares a metric with the best so far (`threshold_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ThresholdMode {
    /// `"rel"`: better means `a > best·(1 + threshold)` (max) / `a < best·(1 − threshold)` (min).
    Rel,
    /// `"abs"`: better means `a > best + threshold` (max) / `a < best − threshold` (min).
    Abs,
}

/// Arguments of `torch.optim.lr_scheduler.ReduceLROnPlateau` (one parameter group).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlateauConfig {
    /// Direction of improvement.
    pub mode: PlateauMode,
    /// Multiplier applied to the rate on a plateau.
    pub factor: f64,
    /// Number of non-improving epochs tolerated; the rate drops when the count exceeds it.
    pub patience: usize,
    /// Minimum improvement to count as better.
    pub threshold: f64,
    /// Relative or absolute threshold.
    pub threshold_mode: ThresholdMode,
    /// Epochs to wait after a reduction before counting bad epochs again.
    pub cooldown: usize,
    /// Lower bound on the rate.
    pub min_lr: f64,
    /// A reduction smaller than this is not applied.
    pub eps: f64,
}

impl Default for PlateauConfig {
    /// PyTorch's defaults: mode min, factor 0.1, patience 10, threshold 1e-4 relative,
    /// cooldown 0, min_lr 0, eps 1e-8.
    fn default() -> Self {
        Self {
            mode: PlateauMode::Min,
            factor: 0.1,
            patience: 10,
            threshold: 1e-4,
            threshold_mode: ThresholdMode::Rel,
            cooldown: 0,
            min_lr: 0.0,
            eps: 1e-8,
        }
    }
}

impl PlateauConfig {
    /// The gated recipe (gated-and-protocols §1.13): mode max on validation accuracy, factor
    /// 0.5, patience 5, threshold 1e-4 relative, cooldown 0, min_lr 0, eps 1e-8.
    pub fn gated_reference() -> Self {
        Self {
            mode: PlateauMode::Max,
            factor: 0.5,
            patience: 5,
            ..Self::default()
        }
    }
}

/// `torch.optim.lr_scheduler.ReduceLROnPlateau`, stepped with the monitored metric once per
/// epoch.
///
/// PyTorch's `step(metric)`: if the metric is better than the best (per mode/threshold; the
/// initial best is −∞ for max, +∞ for min), it becomes the best and the bad-epoch count resets,
/// otherwise the count grows; during cooldown the counter decrements and bad epochs are
/// ignored; when the count exceeds `patience` the rate becomes `max(lr·factor, min_lr)` (only if
/// that lowers it by more than `eps`), the cooldown restarts and the count resets. A NaN metric
/// is never better.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReduceLROnPlateau {
    config: PlateauConfig,
    lr: f64,
    /// Best metric so far; `None` = PyTorch's initial `mode_worse` (∓∞, kept out of the
    /// serialised form because JSON has no infinities).
    best: Option<f64>,
    num_bad_epochs: usize,
    cooldown_counter: usize,
    last_epoch: usize,
}

impl ReduceLROnPlateau {
    /// Scheduler for an optimiser whose rate is `base_lr`.
    pub fn new(base_lr: f64, config: PlateauConfig) -> Self {
        Self {
            config,
            lr: base_lr,
            best: None,
            num_bad_epochs: 0,
            cooldown_counter: 0,
            last_epoch: 0,
        }
    }

    /// Current rate.
    pub fn lr(&self) -> f64 {
        self.lr
    }

    /// Best metric seen so far (`None` before the first better metric).
    pub fn best(&self) -> Option<f64> {
        self.best
    }

    /// Consecutive non-improving epochs counted so far.
    pub fn num_bad_epochs(&self) -> usize {
        self.num_bad_epochs
    }

    /// Number of [`step`](Self::step) calls so far.
    pub fn last_epoch(&self) -> usize {
        self.last_epoch
    }

    /// Settings.
    pub fn config(&self) -> &PlateauConfig {
        &self.config
    }

    fn is_better(&self, a: f64) -> bool {
        let c = &self.config;
        let best = self.best.unwrap_or(match c.mode {
            PlateauMode::Min => f64::INFINITY,
            PlateauMode::Max => f64::NEG_INFINITY,
        });
        match (c.mode, c.threshold_mode) {
            (PlateauMode::Min, ThresholdMode::Rel) => a < best * (1.0 - c.threshold),
            (PlateauMode::Min, ThresholdMode::Abs) => a < best - c.threshold,
            (PlateauMode::Max, ThresholdMode::Rel) => a > best * (c.threshold + 1.0),
            (PlateauMode::Max, ThresholdMode::Abs) => a > best + c.threshold,
        }
    }

    /// Records the epoch's metric and returns the rate for the next epoch
    /// (`scheduler.step(metric)`).
    pub fn step(&mut self, metric: f64) -> f64 {
        self.last_epoch += 1;
        if self.is_better(metric) {
            self.best = Some(metric);
            self.num_bad_epochs = 0;
        } else {
            self.num_bad_epochs += 1;
        }
        if self.cooldown_counter > 0 {
            self.cooldown_counter -= 1;
            self.num_bad_epochs = 0;
        }
        if self.num_bad_epochs > self.config.patience {
            let new_lr = (self.lr * self.config.factor).max(self.config.min_lr);
            if self.lr - new_lr > self.config.eps {
                self.lr = new_lr;
            }
            self.cooldown_counter = self.config.cooldown;
            self.num_bad_epochs = 0;
        }
        self.lr
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cosine_reference_values() {
        let mut s = CosineAnnealingLR::new(1e-3, 50, 0.0);
        let mut lrs = vec![s.lr()];
        for _ in 0..50 {
            lrs.push(s.step());
        }
        assert_eq!(lrs[0], 1e-3);
        assert!((lrs[25] - 0.5e-3).abs() < 1e-18, "{}", lrs[25]);
        assert!(lrs[50].abs() < 1e-18, "{}", lrs[50]);
        for (e, &lr) in lrs.iter().enumerate() {
            let closed = 0.5 * 1e-3 * (1.0 + (PI * e as f64 / 50.0).cos());
            assert!((lr - closed).abs() <= 1e-17, "epoch {e}: {lr} vs {closed}");
            assert_eq!(s.closed_form(e), closed);
        }
        // Monotone decreasing over the half period.
        assert!(lrs.windows(2).all(|w| w[1] < w[0]));
        assert_eq!(s.last_epoch(), 50);
        // Past T_max it rises again (PyTorch's special case at T_max + 1).
        let up = s.step();
        assert!((up - s.closed_form(51)).abs() < 1e-17 && up > 0.0);
    }

    #[test]
    fn cosine_with_eta_min_and_resume() {
        let mut s = CosineAnnealingLR::new(1e-3, 100, 1e-5);
        for _ in 0..37 {
            s.step();
        }
        let json = serde_json::to_string(&s).unwrap();
        let mut r: CosineAnnealingLR = serde_json::from_str(&json).unwrap();
        assert_eq!(r.step(), s.step());
        assert!((s.lr() - s.closed_form(38)).abs() < 1e-17);
        for _ in 38..100 {
            s.step();
        }
        assert!((s.lr() - 1e-5).abs() < 1e-17);
    }

    #[test]
    fn plateau_max_mode_halves_after_patience() {
        let mut s = ReduceLROnPlateau::new(1e-3, PlateauConfig::gated_reference());
        // Improvements keep the rate.
        for acc in [0.5, 0.55, 0.6] {
            assert_eq!(s.step(acc), 1e-3);
        }
        assert_eq!(s.best(), Some(0.6));
        // An improvement below the relative threshold (0.6·1.0001 = 0.60006) is a bad epoch.
        assert_eq!(s.step(0.60005), 1e-3);
        assert_eq!(s.num_bad_epochs(), 1);
        // Four more bad epochs: count 5 = patience, no reduction yet.
        for _ in 0..4 {
            assert_eq!(s.step(0.59), 1e-3);
        }
        assert_eq!(s.num_bad_epochs(), 5);
        // Sixth bad epoch exceeds patience: halve, reset.
        assert_eq!(s.step(0.59), 0.5e-3);
        assert_eq!(s.num_bad_epochs(), 0);
        // Another six bad epochs halve again.
        for _ in 0..5 {
            assert_eq!(s.step(0.6), 0.5e-3);
        }
        assert_eq!(s.step(0.6), 0.25e-3);
        // A real improvement resets the count.
        assert_eq!(s.step(0.7), 0.25e-3);
        assert_eq!(s.num_bad_epochs(), 0);
        assert_eq!(s.best(), Some(0.7));
        // NaN is never better.
        s.step(f64::NAN);
        assert_eq!(s.num_bad_epochs(), 1);
    }

    #[test]
    fn plateau_min_mode_cooldown_and_min_lr() {
        let cfg = PlateauConfig {
            patience: 1,
            cooldown: 2,
            min_lr: 3e-4,
            factor: 0.5,
            ..PlateauConfig::default()
        };
        let mut s = ReduceLROnPlateau::new(1e-3, cfg);
        assert_eq!(s.step(1.0), 1e-3); // best 1.0
        assert_eq!(s.step(1.0), 1e-3); // bad 1
        assert_eq!(s.step(1.0), 0.5e-3); // bad 2 > 1: reduce, cooldown 2
        assert_eq!(s.step(2.0), 0.5e-3); // cooldown: bad ignored (counter 1)
        assert_eq!(s.step(2.0), 0.5e-3); // cooldown: ignored (counter 0)
        assert_eq!(s.step(2.0), 0.5e-3); // bad 1
        assert_eq!(s.step(2.0), 3e-4); // bad 2: max(2.5e-4, min_lr)
        for _ in 0..10 {
            assert_eq!(s.step(2.0), 3e-4); // at min_lr: no further change
        }
        let json = serde_json::to_string(&s).unwrap();
        let back: ReduceLROnPlateau = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
        // Initial state (best = +∞ for min) survives serialisation.
        let fresh = ReduceLROnPlateau::new(1e-3, PlateauConfig::default());
        let back: ReduceLROnPlateau =
            serde_json::from_str(&serde_json::to_string(&fresh).unwrap()).unwrap();
        assert_eq!(back, fresh);
    }
}
