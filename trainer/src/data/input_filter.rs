//! The input conditioning of the recordings as the model card records it, which is what the
//! engine reads back ([`qssm_formats::model_file::conditioning`]) and applies to every
//! streamed sample: the causal filter ([`super::EegmmidbConfig::filter`], designed by
//! [`qssm_kernels::signal::design`] from `trainer fit --highpass/--lowpass/--notch`;
//! `preprocessing.filter`) and the per-channel normalisation with training statistics
//! (`trainer fit --normalise`; `preprocessing.normalisation`).
use super::EpochSet;
use qssm_kernels::signal::design::FilterSpec;
use qssm_kernels::signal::zscore::normalise_channels;
use qssm_kernels::signal::Sos;
use serde_json::{json, Value};

/// Per-channel statistics of a set of windows (C values each, the windows' unit).
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelStats {
    /// mean of every value of the channel
    pub mean: Vec<f32>,
    /// population standard deviation of every value of the channel (> 0)
    pub std: Vec<f32>,
}

/// Mean and standard deviation of every channel over all windows and time samples of `set`
/// (f64 accumulation, two passes).
///
/// # Errors
/// An empty set, or a channel that is constant over it (nothing to normalise by).
pub fn channel_stats(set: &EpochSet) -> Result<ChannelStats, String> {
    let (c, t, n) = (set.n_channels, set.n_times, set.n_trials());
    if n == 0 || t == 0 {
        return Err("no training windows to compute the normalisation from".into());
    }
    let count = (n * t) as f64;
    let mut mean = vec![0.0f64; c];
    for i in 0..n {
        for (ch, row) in set.trial(i).chunks_exact(t).enumerate() {
            mean[ch] += row.iter().map(|&v| f64::from(v)).sum::<f64>();
        }
    }
    mean.iter_mut().for_each(|m| *m /= count);
    let mut var = vec![0.0f64; c];
    for i in 0..n {
        for (ch, row) in set.trial(i).chunks_exact(t).enumerate() {
            var[ch] += row
                .iter()
                .map(|&v| (f64::from(v) - mean[ch]).powi(2))
                .sum::<f64>();
        }
    }
    let std: Vec<f32> = var.iter().map(|v| (v / count).sqrt() as f32).collect();
    if let Some(ch) = std.iter().position(|&s| !(s > 0.0 && s.is_finite())) {
        let name = set.channel_names.get(ch).map_or("?", String::as_str);
        return Err(format!(
            "channel {ch} ({name}) is constant over the training windows: cannot normalise it"
        ));
    }
    Ok(ChannelStats {
        mean: mean.iter().map(|&m| m as f32).collect(),
        std,
    })
}

/// Normalises every window of `set` in place with `stats` (the engine's formula and code).
pub fn apply_stats(set: &mut EpochSet, stats: &ChannelStats) {
    let t = set.n_times;
    let per = set.n_channels * t;
    if per == 0 {
        return;
    }
    for w in set.x.chunks_exact_mut(per) {
        normalise_channels(w, t, &stats.mean, &stats.std);
    }
}

/// The card's `preprocessing.normalisation` for `stats`.
pub fn normalisation_card(stats: &ChannelStats) -> Value {
    json!({
        "kind": "per_channel_zscore",
        "mean": stats.mean,
        "std": stats.std,
        "applied": "x' = (x - mean[c]) / std[c] per channel, after the filter, in the card's unit",
        "computed_on": "every value of the training windows (training subjects only), after the filter",
    })
}

/// The card's `preprocessing.filter`: `"none"` for the identity, else the cascade's sections
/// as scipy `sos` rows `[b0, b1, b2, 1, a1, a2]` (the f32 coefficients the trainer ran,
/// widened exactly) with the design that produced them.
pub fn card_entry(sos: &Sos, spec: &FilterSpec) -> Value {
    if sos.is_identity() {
        return json!("none");
    }
    let rows: Vec<[f64; 6]> = sos
        .sections()
        .iter()
        .map(|s| {
            let [b0, b1, b2] = s.b.map(f64::from);
            let [a1, a2] = s.a.map(f64::from);
            [b0, b1, b2, 1.0, a1, a2]
        })
        .collect();
    json!({
        "kind": "sos",
        "sos": rows,
        "causal": true,
        "applied": "to each whole recording after resampling, in millivolts, from a zero state at its first sample (transposed direct form II, f32)",
        "design": "Butterworth high-pass, then Butterworth low-pass (bilinear transform, pre-warped; R. Bristow-Johnson, Audio EQ Cookbook), then an RBJ notch: qssm_kernels::signal::design",
        "highpass_hz": spec.highpass_hz,
        "lowpass_hz": spec.lowpass_hz,
        "order": spec.order,
        "notch_hz": spec.notch_hz,
        "notch_q": spec.notch_q,
        "sfreq": spec.fs,
    })
}
