//! The causal input filter of the recordings ([`super::EegmmidbConfig::filter`], designed by
//! [`qssm_kernels::signal::design`] from `trainer fit --highpass/--lowpass/--notch`) as the
//! model card records it (`preprocessing.filter`), which is what the engine reads back
//! ([`qssm_formats::model_file::conditioning`]) and applies to every streamed sample.
use qssm_kernels::signal::design::FilterSpec;
use qssm_kernels::signal::Sos;
use serde_json::{json, Value};

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
