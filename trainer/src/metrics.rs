//! Evaluation metrics, as the reference scripts compute them (spec gated-and-protocols §2.6 for
//! classification, §3.5 for regression).
//!
//! Classification (EEG ablation, gated runs): logits are row-major `(N, C)` `f32`, labels are
//! class indices `0..C`.
//! * accuracy: `mean(argmax(logits) == y)`, ties to the lowest class index (`torch.argmax`);
//! * AUC: `sklearn.metrics.roc_auc_score(y, softmax(logits)[:, 1])` = the Mann–Whitney
//!   statistic with ties counted ½, and **0.0 where sklearn raises** (only one class present,
//!   labels other than 0/1, NaN/infinite scores), because the reference wraps it in
//!   `try/except → 0.0`;
//! * F1: `sklearn.metrics.f1_score(y, pred, average="weighted")` with zero division → 0;
//! * confusion matrix: rows = true class, columns = predicted class.
//!
//! Regression (synthetic benchmarks): MSE and MAE over all elements, and the reference's pooled
//! R². All sums are accumulated in `f64`.
use serde::{Deserialize, Serialize};

/// Index of the largest logit of each row of a row-major `(N, n_classes)` matrix.
///
/// Reproduces `torch.argmax(logits, dim=1)`: ties go to the first (lowest) index and a NaN
/// counts as the maximum (the first NaN wins).
///
/// # Panics
/// If `n_classes` is 0 or does not divide `logits.len()`.
pub fn argmax_rows(logits: &[f32], n_classes: usize) -> Vec<usize> {
    check_rows(logits, n_classes);
    logits
        .chunks_exact(n_classes)
        .map(|row| {
            let mut best = 0;
            for (j, &x) in row.iter().enumerate().skip(1) {
                let b = row[best];
                if b.is_nan() {
                    break;
                }
                if x.is_nan() || x > b {
                    best = j;
                }
            }
            best
        })
        .collect()
}

/// Fraction of predictions equal to the labels, `mean(pred == y)`; NaN for an empty set (the
/// reference would divide by zero).
///
/// # Panics
/// If the lengths differ.
pub fn accuracy(pred: &[usize], labels: &[usize]) -> f64 {
    assert_eq!(
        pred.len(),
        labels.len(),
        "accuracy: {} predictions for {} labels",
        pred.len(),
        labels.len()
    );
    let correct = pred.iter().zip(labels).filter(|(p, y)| p == y).count();
    correct as f64 / labels.len() as f64
}

/// Column 1 of `softmax(logits, dim=1)` for a row-major `(N, n_classes)` matrix (the positive
/// class probability of a binary classifier), computed in `f32` as PyTorch does (max
/// subtraction, exponentials, multiplication by the reciprocal of their sum), so that
/// probabilities saturating to the same `f32` value tie exactly as in the reference's AUC.
///
/// # Panics
/// If `n_classes < 2` or does not divide `logits.len()`.
pub fn positive_class_scores(logits: &[f32], n_classes: usize) -> Vec<f32> {
    assert!(
        n_classes >= 2,
        "positive_class_scores needs at least 2 classes"
    );
    check_rows(logits, n_classes);
    logits
        .chunks_exact(n_classes)
        .map(|row| {
            let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let sum: f32 = row.iter().map(|&x| (x - m).exp()).sum();
            (row[1] - m).exp() * (1.0 / sum)
        })
        .collect()
}

/// Binary ROC AUC of `scores` for labels in {0, 1}: the probability that a random positive
/// scores higher than a random negative, ties counted ½ (Mann–Whitney U / (n₊·n₋)). Equals
/// `sklearn.metrics.roc_auc_score(labels, scores)` up to its trapezoid rounding (~1e-16).
///
/// Computed in O(n log n) by sorting and walking tie groups, with the U statistic (doubled) in
/// exact integer arithmetic and one final division.
///
/// Returns **0.0** where `roc_auc_score` raises and the reference falls back to 0.0: empty
/// input, only one class present, a label other than 0/1, or a NaN/infinite score.
///
/// # Panics
/// If the lengths differ.
pub fn roc_auc(scores: &[f32], labels: &[usize]) -> f64 {
    assert_eq!(
        scores.len(),
        labels.len(),
        "roc_auc: {} scores for {} labels",
        scores.len(),
        labels.len()
    );
    if labels.iter().any(|&y| y > 1) || scores.iter().any(|s| !s.is_finite()) {
        return 0.0;
    }
    let n_pos = labels.iter().filter(|&&y| y == 1).count() as u64;
    let n_neg = labels.len() as u64 - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return 0.0;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    // Finite scores: partial_cmp is total, and -0.0 == 0.0 form one tie group, as in sklearn.
    order.sort_unstable_by(|&a, &b| scores[a].partial_cmp(&scores[b]).expect("finite scores"));
    // u2 = 2·U = Σ over positives of (2·#negatives below + #negatives tied).
    let mut u2: u64 = 0;
    let mut neg_below: u64 = 0;
    let mut i = 0;
    while i < order.len() {
        let s = scores[order[i]];
        let mut pos = 0u64;
        let mut neg = 0u64;
        while i < order.len() && scores[order[i]] == s {
            if labels[order[i]] == 1 {
                pos += 1;
            } else {
                neg += 1;
            }
            i += 1;
        }
        u2 += pos * (2 * neg_below + neg);
        neg_below += neg;
    }
    u2 as f64 / (2 * n_pos * n_neg) as f64
}

/// Column `class` of `softmax(logits, dim=1)` for a row-major `(N, n_classes)` matrix, in
/// `f32` as [`positive_class_scores`] computes column 1.
///
/// # Panics
/// If `class ≥ n_classes` or `n_classes` does not divide `logits.len()`.
pub fn class_scores(logits: &[f32], n_classes: usize, class: usize) -> Vec<f32> {
    assert!(class < n_classes, "class {class} of {n_classes}");
    check_rows(logits, n_classes);
    logits
        .chunks_exact(n_classes)
        .map(|row| {
            let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let sum: f32 = row.iter().map(|&x| (x - m).exp()).sum();
            (row[class] - m).exp() * (1.0 / sum)
        })
        .collect()
}

/// Macro-averaged one-vs-rest ROC AUC of a K-class classifier (K > 2): the mean over the
/// classes c present among the labels (and absent from some) of [`roc_auc`] of the softmax
/// column c against `label == c`, as `sklearn.metrics.roc_auc_score(y, p,
/// multi_class='ovr', average='macro')` when every class is present. 0.0 when no class
/// qualifies or a score is not finite.
///
/// # Panics
/// If `n_classes` does not divide `logits.len()` or the lengths differ.
pub fn roc_auc_ovr(logits: &[f32], labels: &[usize], n_classes: usize) -> f64 {
    check_rows(logits, n_classes);
    let mut sum = 0.0;
    let mut used = 0;
    for c in 0..n_classes {
        let pos = labels.iter().filter(|&&y| y == c).count();
        if pos == 0 || pos == labels.len() {
            continue;
        }
        let onehot: Vec<usize> = labels.iter().map(|&y| usize::from(y == c)).collect();
        let scores = class_scores(logits, n_classes, c);
        if scores.iter().any(|s| !s.is_finite()) {
            return 0.0;
        }
        sum += roc_auc(&scores, &onehot);
        used += 1;
    }
    if used == 0 {
        0.0
    } else {
        sum / used as f64
    }
}

/// `n_classes × n_classes` confusion matrix, `cm[true][predicted]` (sklearn's
/// `confusion_matrix(y, pred)` layout).
///
/// sklearn sizes the matrix by the labels present in `y ∪ pred`, so in the degenerate case where
/// a single class appears in both it returns 1×1; this function always returns the full
/// `n_classes × n_classes` matrix (the spec's 2×2).
///
/// # Panics
/// If the lengths differ or a label/prediction is `≥ n_classes`.
pub fn confusion_matrix(pred: &[usize], labels: &[usize], n_classes: usize) -> Vec<Vec<u64>> {
    assert_eq!(
        pred.len(),
        labels.len(),
        "confusion_matrix: {} predictions for {} labels",
        pred.len(),
        labels.len()
    );
    let mut cm = vec![vec![0u64; n_classes]; n_classes];
    for (&p, &y) in pred.iter().zip(labels) {
        assert!(
            p < n_classes && y < n_classes,
            "class index out of range (pred {p}, label {y}, {n_classes} classes)"
        );
        cm[y][p] += 1;
    }
    cm
}

/// Support-weighted mean of the per-class F1 scores, `f1_score(y, pred, average="weighted",
/// zero_division=0)`.
///
/// Per class c (taken as positive): `F1_c = 2·tp_c / (support_c + predicted_c)`, which is 0 when
/// `tp_c` = 0 (in particular for a class never predicted — sklearn's zero-division case for the
/// precision gives 0 as well). Classes are weighted by their true support; classes absent from
/// `labels` get weight 0, so the result matches sklearn's average over `y ∪ pred`. 0.0 for an
/// empty set.
///
/// # Panics
/// If the lengths differ or a label/prediction is `≥ n_classes`.
pub fn f1_weighted(pred: &[usize], labels: &[usize], n_classes: usize) -> f64 {
    let cm = confusion_matrix(pred, labels, n_classes);
    let n = labels.len();
    if n == 0 {
        return 0.0;
    }
    let mut acc = 0.0;
    for c in 0..n_classes {
        let tp = cm[c][c];
        let support: u64 = cm[c].iter().sum();
        let predicted: u64 = cm.iter().map(|row| row[c]).sum();
        let denom = support + predicted;
        let f1 = if denom == 0 {
            0.0
        } else {
            2.0 * tp as f64 / denom as f64
        };
        acc += f1 * support as f64;
    }
    acc / n as f64
}

/// Deserialises an f64 written by `serde_json`, which writes NaN and ±∞ as `null`: `null`
/// reads back as NaN (a diverged epoch's metrics survive a checkpoint round trip).
pub fn nan_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(<Option<f64> as serde::Deserialize>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// Everything the reference logs for one classification evaluation (`val_*` each epoch,
/// `test_*` once).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassificationMetrics {
    /// Accuracy of `argmax(logits)` (see [`accuracy`], [`argmax_rows`]).
    #[serde(deserialize_with = "nan_if_null")]
    pub acc: f64,
    /// ROC AUC of `softmax(logits)[:, 1]` (see [`roc_auc`]; more than two classes: the
    /// macro one-vs-rest AUC, [`roc_auc_ovr`]); 0.0 where sklearn would raise.
    #[serde(deserialize_with = "nan_if_null")]
    pub auc: f64,
    /// Support-weighted F1 (see [`f1_weighted`]).
    #[serde(deserialize_with = "nan_if_null")]
    pub f1: f64,
    /// Confusion matrix, rows = true class, columns = predicted class (see
    /// [`confusion_matrix`]).
    pub confusion: Vec<Vec<u64>>,
    /// The loss reported with the metrics, supplied by the caller (the reference reports the
    /// mean of the per-batch mean cross-entropies).
    #[serde(deserialize_with = "nan_if_null")]
    pub loss: f64,
}

impl ClassificationMetrics {
    /// Metrics of row-major `(N, n_classes)` logits against `labels` (length N, values
    /// `< n_classes`), with the caller's `loss`.
    ///
    /// # Panics
    /// If `n_classes < 2`, `logits.len() != N·n_classes`, or a label is out of range.
    pub fn compute(logits: &[f32], labels: &[usize], n_classes: usize, loss: f64) -> Self {
        check_rows(logits, n_classes);
        assert_eq!(
            logits.len() / n_classes,
            labels.len(),
            "{} logit rows for {} labels",
            logits.len() / n_classes,
            labels.len()
        );
        let pred = argmax_rows(logits, n_classes);
        let auc = if n_classes == 2 {
            roc_auc(&positive_class_scores(logits, n_classes), labels)
        } else {
            roc_auc_ovr(logits, labels, n_classes)
        };
        Self {
            acc: accuracy(&pred, labels),
            auc,
            f1: f1_weighted(&pred, labels, n_classes),
            confusion: confusion_matrix(&pred, labels, n_classes),
            loss,
        }
    }
}

/// Mean squared error over all elements (`nn.MSELoss` with mean reduction over the whole set;
/// the reference's size-weighted mean of batch means is the same quantity up to rounding). NaN
/// for empty input.
///
/// # Panics
/// If the lengths differ.
pub fn mse(pred: &[f32], target: &[f32]) -> f64 {
    check_same_len(pred, target);
    sum_sq_diff(pred, target) / pred.len() as f64
}

/// Mean absolute error over all elements. NaN for empty input.
///
/// # Panics
/// If the lengths differ.
pub fn mae(pred: &[f32], target: &[f32]) -> f64 {
    check_same_len(pred, target);
    pred.iter()
        .zip(target)
        .map(|(&p, &t)| (f64::from(p) - f64::from(t)).abs())
        .sum::<f64>()
        / pred.len() as f64
}

/// Coefficient of determination `1 − SS_res / SS_tot`, with `SS_tot = Σ (y − ȳ)²` around the
/// **single** mean ȳ of all target elements (the reference's pooled R², spec §3.5), and 0 when
/// `SS_tot` = 0 (or the input is empty).
///
/// For one output per sample this is `sklearn.metrics.r2_score(y, ŷ)`, except that sklearn
/// returns 1.0 for a perfect prediction of a constant target; for several outputs (selective
/// copy) it is the pooled value the reference reports, not sklearn's per-output average.
///
/// # Panics
/// If the lengths differ.
pub fn r2_score(pred: &[f32], target: &[f32]) -> f64 {
    check_same_len(pred, target);
    if target.is_empty() {
        return 0.0;
    }
    let mean = target.iter().map(|&t| f64::from(t)).sum::<f64>() / target.len() as f64;
    let ss_tot: f64 = target.iter().map(|&t| (f64::from(t) - mean).powi(2)).sum();
    if ss_tot == 0.0 {
        return 0.0;
    }
    1.0 - sum_sq_diff(pred, target) / ss_tot
}

/// Regression metrics of one evaluation (synthetic benchmarks).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegressionMetrics {
    /// See [`mse`].
    #[serde(deserialize_with = "nan_if_null")]
    pub mse: f64,
    /// See [`mae`].
    #[serde(deserialize_with = "nan_if_null")]
    pub mae: f64,
    /// See [`r2_score`].
    #[serde(deserialize_with = "nan_if_null")]
    pub r2: f64,
    /// The loss reported with the metrics, supplied by the caller.
    #[serde(deserialize_with = "nan_if_null")]
    pub loss: f64,
}

impl RegressionMetrics {
    /// Metrics of predictions against targets (same layout, any shape), with the caller's
    /// `loss`.
    ///
    /// # Panics
    /// If the lengths differ.
    pub fn compute(pred: &[f32], target: &[f32], loss: f64) -> Self {
        Self {
            mse: mse(pred, target),
            mae: mae(pred, target),
            r2: r2_score(pred, target),
            loss,
        }
    }
}

fn check_rows(logits: &[f32], n_classes: usize) {
    assert!(
        n_classes > 0 && logits.chunks_exact(n_classes).remainder().is_empty(),
        "logits of length {} are not rows of {n_classes} classes",
        logits.len()
    );
}

fn check_same_len(pred: &[f32], target: &[f32]) {
    assert_eq!(
        pred.len(),
        target.len(),
        "{} predictions for {} targets",
        pred.len(),
        target.len()
    );
}

fn sum_sq_diff(pred: &[f32], target: &[f32]) -> f64 {
    pred.iter()
        .zip(target)
        .map(|(&p, &t)| (f64::from(p) - f64::from(t)).powi(2))
        .sum()
}

#[cfg(test)]
mod tests {

    /// Macro one-vs-rest AUC against `sklearn.metrics.roc_auc_score(y, softmax(logits),
    /// multi_class='ovr', average='macro')` (scikit-learn 1.9.1): 0.8833333333333333.
    #[test]
    fn macro_ovr_auc_matches_sklearn() {
        let logits: [f32; 21] = [
            2.0, 0.5, -1.0, 0.1, 0.3, 0.2, -0.5, 1.5, 0.0, 0.0, 0.2, 0.9, 1.0, 1.1, 0.3, 0.3, -0.2,
            0.4, 0.7, 0.1, 0.2,
        ];
        let y = [0, 1, 1, 2, 0, 2, 1];
        let auc = roc_auc_ovr(&logits, &y, 3);
        assert!((auc - 0.8833333333333333).abs() < 1e-12, "{auc}");
        let m = ClassificationMetrics::compute(&logits, &y, 3, 0.0);
        assert_eq!(m.auc, auc);
        // a class absent from the labels is skipped, as is an all-one-class label set
        assert_eq!(roc_auc_ovr(&logits[..6], &[0, 0], 3), 0.0);
    }

    use super::*;

    /// Brute-force AUC over all positive/negative pairs.
    fn auc_pairs(scores: &[f32], labels: &[usize]) -> f64 {
        let mut num = 0.0;
        let mut den = 0.0;
        for (i, &yi) in labels.iter().enumerate() {
            for (j, &yj) in labels.iter().enumerate() {
                if yi == 1 && yj == 0 {
                    den += 1.0;
                    if scores[i] > scores[j] {
                        num += 1.0;
                    } else if scores[i] == scores[j] {
                        num += 0.5;
                    }
                }
            }
        }
        num / den
    }

    #[test]
    fn argmax_and_accuracy() {
        let logits = [0.1, 0.9, 0.5, 0.5, 2.0, -1.0, f32::NAN, 1.0, 1.0, f32::NAN];
        let pred = argmax_rows(&logits, 2);
        assert_eq!(pred, vec![1, 0, 0, 0, 1]); // tie → 0; NaN is the max
        assert_eq!(argmax_rows(&[1.0, 3.0, 3.0, 0.0, 0.0, 0.0], 3), vec![1, 0]);
        let labels = [1, 1, 0, 1, 1];
        assert_eq!(accuracy(&pred, &labels), 0.6);
        assert!(accuracy(&[], &[]).is_nan());
    }

    #[test]
    fn auc_hand_checked_with_ties() {
        // Positives: 0.8, 0.4, 0.4; negatives: 0.4, 0.1.
        // Pairs: (0.8>0.4)=1, (0.8>0.1)=1, (0.4=0.4)=½ twice, (0.4>0.1)=1 twice → 5/6.
        let scores = [0.8_f32, 0.4, 0.4, 0.4, 0.1];
        let labels = [1, 1, 0, 1, 0];
        assert!((roc_auc(&scores, &labels) - 5.0 / 6.0).abs() < 1e-15);
        // All tied: ½.
        assert_eq!(roc_auc(&[0.3; 4], &[0, 1, 0, 1]), 0.5);
        // Perfect and inverted.
        assert_eq!(roc_auc(&[0.1, 0.2, 0.8, 0.9], &[0, 0, 1, 1]), 1.0);
        assert_eq!(roc_auc(&[0.9, 0.8, 0.2, 0.1], &[0, 0, 1, 1]), 0.0);
        // -0.0 and 0.0 tie.
        assert_eq!(roc_auc(&[-0.0, 0.0], &[1, 0]), 0.5);
    }

    #[test]
    fn auc_matches_brute_force_on_many_ties() {
        // Deterministic pseudo-random scores on a coarse grid (many ties).
        let mut x: u64 = 12345;
        let mut scores = Vec::new();
        let mut labels = Vec::new();
        for _ in 0..301 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            scores.push(((x >> 33) % 17) as f32 / 16.0);
            labels.push(usize::from(matches!((x >> 20) % 3, 0)));
        }
        let a = roc_auc(&scores, &labels);
        assert!((a - auc_pairs(&scores, &labels)).abs() < 1e-12, "{a}");
    }

    #[test]
    fn auc_undefined_cases_are_zero() {
        assert_eq!(roc_auc(&[0.1, 0.9], &[1, 1]), 0.0);
        assert_eq!(roc_auc(&[0.1, 0.9], &[0, 0]), 0.0);
        assert_eq!(roc_auc(&[], &[]), 0.0);
        assert_eq!(roc_auc(&[0.1, f32::NAN], &[0, 1]), 0.0);
        assert_eq!(roc_auc(&[0.1, 0.2], &[0, 2]), 0.0);
    }

    #[test]
    fn softmax_scores() {
        let s = positive_class_scores(&[0.0, 0.0, 1.0, 3.0, 100.0, -100.0], 2);
        assert_eq!(s[0], 0.5);
        let expect = 1.0 / (1.0 + (-2.0_f64).exp());
        assert!((f64::from(s[1]) - expect).abs() < 1e-7);
        assert_eq!(s[2], 0.0);
        // Saturation: both rows give exactly 1.0 and therefore tie in the AUC.
        let s = positive_class_scores(&[-50.0, 50.0, -60.0, 60.0], 2);
        assert_eq!(s, vec![1.0, 1.0]);
    }

    #[test]
    fn f1_weighted_hand_checked() {
        // y = [0,0,0,1,1], pred = [0,0,1,1,0].
        // Class 0: tp 2, support 3, predicted 3 → F1 = 4/6. Class 1: tp 1, support 2,
        // predicted 2 → F1 = 2/4. Weighted: (3·2/3 + 2·1/2)/5 = 3/5.
        let y = [0, 0, 0, 1, 1];
        let p = [0, 0, 1, 1, 0];
        assert!((f1_weighted(&p, &y, 2) - 0.6).abs() < 1e-15);
        assert_eq!(confusion_matrix(&p, &y, 2), vec![vec![2, 1], vec![1, 1]]);
    }

    #[test]
    fn f1_weighted_class_never_predicted() {
        // Everything predicted 0; y has 3 zeros and 1 one.
        // Class 0: precision 3/4, recall 1 → F1 = 6/7. Class 1: never predicted → 0.
        // Weighted: 3/4 · 6/7 = 9/14 (sklearn f1_score(average='weighted', zero_division=0)).
        let y = [0, 1, 0, 0];
        let p = [0, 0, 0, 0];
        assert!((f1_weighted(&p, &y, 2) - 9.0 / 14.0).abs() < 1e-15);
        // Predicted-only class (support 0) gets weight 0: y all 0, pred mixed.
        // Class 0: tp 2, support 4, predicted 2 → 4/6; weighted = 2/3.
        assert!((f1_weighted(&[0, 1, 0, 1], &[0, 0, 0, 0], 2) - 2.0 / 3.0).abs() < 1e-15);
        // Single class everywhere and correct: 1.
        assert_eq!(f1_weighted(&[1, 1], &[1, 1], 2), 1.0);
        assert_eq!(f1_weighted(&[], &[], 2), 0.0);
    }

    #[test]
    fn classification_metrics_compute_and_serialize() {
        // Rows: (p1 ordering) sample scores via logits difference.
        let logits = [2.0, 0.0, 0.0, 1.0, 0.5, 0.5, 0.0, 3.0, 1.0, 0.0, 0.0, 0.2];
        let labels = [0, 1, 1, 1, 0, 0];
        let m = ClassificationMetrics::compute(&logits, &labels, 2, 0.42);
        // pred = [0, 1, 0 (tie), 1, 0, 1] → correct: 0,1,_,1,0,_ = 4/6.
        assert!((m.acc - 4.0 / 6.0).abs() < 1e-15);
        assert_eq!(m.confusion, vec![vec![2, 1], vec![1, 2]]);
        let scores = positive_class_scores(&logits, 2);
        assert!((m.auc - auc_pairs(&scores, &labels)).abs() < 1e-15);
        // Class 0: tp 2, support 3, pred 3 → 2/3; class 1 likewise → weighted 2/3.
        assert!((m.f1 - 2.0 / 3.0).abs() < 1e-15);
        assert_eq!(m.loss, 0.42);
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["confusion"], serde_json::json!([[2, 1], [1, 2]]));
        assert_eq!(json["loss"], serde_json::json!(0.42));
    }

    #[test]
    fn regression_metrics() {
        let y = [1.0_f32, 2.0, 3.0, 4.0];
        let p = [1.5_f32, 2.0, 2.0, 4.0];
        assert_eq!(mse(&p, &y), (0.25 + 1.0) / 4.0);
        assert_eq!(mae(&p, &y), 1.5 / 4.0);
        // ȳ = 2.5, SS_tot = 5, SS_res = 1.25 → R² = 0.75.
        assert_eq!(r2_score(&p, &y), 0.75);
        assert_eq!(r2_score(&y, &y), 1.0);
        // Predicting the mean gives 0; worse than the mean is negative.
        assert_eq!(r2_score(&[2.5; 4], &y), 0.0);
        assert!(r2_score(&[4.0, 3.0, 2.0, 1.0], &y) < 0.0);
        // Constant target: 0 (reference), even for a perfect prediction.
        assert_eq!(r2_score(&[1.0, 1.0], &[1.0, 1.0]), 0.0);
        let m = RegressionMetrics::compute(&p, &y, 0.3);
        assert_eq!((m.mse, m.mae, m.r2, m.loss), (0.3125, 0.375, 0.75, 0.3));
    }
}
