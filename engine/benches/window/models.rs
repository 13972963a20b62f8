//! Random-weight EEG-size model files for the window bench (64 channels, PyTorch-style init
//! scales, reference `state_dict` names, 2 classes), built by hand (no trainer dependency;
//! the engine validates every name and shape):
//! * 1c `QuantumHydraSSM` (spec §4.3): D 128, E 256, N 16, Q 6, 2 Hydra blocks and circuit
//!   layers, three chunk processors (cs 32), T 497 (3.1 s at 160 Hz);
//! * hg `QuantumHydraGated` (gated spec §1.7): n 6, 2 circuit layers, H 64, chunk 8, unified
//!   ansatz, T 249 (its 80 Hz protocol).
use crate::tensors::{
    coefficients, dt_bias, layernorm, linear, CardInfo, Lcg, Tensor, C, D, E, H, K, LAYERS, N, Q,
};
use qssm_formats::model_file::TensorDtype;

/// A model of the bench.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    /// registry id (also the label in the bench names)
    pub id: &'static str,
    class_name: &'static str,
    /// T: window length
    pub t: usize,
    /// sampling rate of the card, Hz
    sfreq: f64,
    /// chunk size recorded in the card's circuit layout
    chunk: usize,
    tensors: fn(&mut Lcg) -> Vec<Tensor>,
}

/// The window-only models benched.
pub const SPECS: [Spec; 2] = [
    Spec {
        id: "1c",
        class_name: "QuantumHydraSSM",
        t: 497,
        sfreq: 160.0,
        chunk: 32,
        tensors: tensors_1c,
    },
    Spec {
        id: "hg",
        class_name: "QuantumHydraGated",
        t: 249,
        sfreq: 80.0,
        chunk: 8,
        tensors: tensors_hg,
    },
];

/// Top-level complex64 (1) parameters `alpha`, `beta`, `gamma`, stored (1, 2) = (re, im).
fn top_coefficients(rng: &mut Lcg) -> Vec<Tensor> {
    ["alpha", "beta", "gamma"]
        .iter()
        .map(|c| (c.to_string(), vec![1, 2], rng.uniform(2, 0.0, 1.0)))
        .collect()
}

/// A `ChunkedQuantumProcessor` (1b/1c, spec §2.5) under `prefix` (e.g. `quantum_forward.`).
fn chunk_processor(rng: &mut Lcg, prefix: &str) -> Vec<Tensor> {
    let k = 5 * Q * LAYERS;
    let mut v = linear(rng, &format!("{prefix}chunk_attention.0"), D, D / 2, true);
    v.extend(linear(
        rng,
        &format!("{prefix}chunk_attention.2"),
        D / 2,
        1,
        true,
    ));
    let qb = format!("{prefix}quantum_branches.");
    v.extend(coefficients(rng, &qb));
    for i in 1..=3 {
        v.extend(linear(rng, &format!("{qb}proj{i}"), D, k, true));
    }
    v.extend(linear(rng, &format!("{qb}input_proj"), D, Q, true));
    v.extend(linear(
        rng,
        &format!("{prefix}output_proj.0"),
        9 * Q,
        D,
        true,
    ));
    v.extend(layernorm(&format!("{prefix}output_proj.1"), D));
    v
}

/// A `MambaSelectiveSSM` (QuantumSSM.py, spec §3.3) registered as `module`.
fn selective_ssm(rng: &mut Lcg, module: &str) -> Vec<Tensor> {
    let r = E / 16;
    let a_log: Vec<f32> = (0..N).map(|i| (i as f32 + 1.0).ln()).collect();
    let mut v = vec![
        (format!("{module}.A_log"), vec![N], a_log),
        (format!("{module}.D"), vec![E], vec![1.0; E]),
    ];
    v.extend(linear(
        rng,
        &format!("{module}.x_proj"),
        E,
        r + 2 * N,
        false,
    ));
    v.extend(linear(rng, &format!("{module}.dt_proj"), r, E, false));
    v.push((format!("{module}.dt_proj.bias"), vec![E], dt_bias(rng, E)));
    v.extend(linear(rng, &format!("{module}.out_proj"), E, E, false));
    v
}

/// Every 1c tensor (spec §4.3; the unused `norm`s left out).
fn tensors_1c(rng: &mut Lcg) -> Vec<Tensor> {
    let mut v = top_coefficients(rng);
    v.extend(linear(rng, "feature_proj.0", C, D, true));
    v.extend(layernorm("feature_proj.1", D));
    for p in ["quantum_forward.", "quantum_backward.", "quantum_diagonal."] {
        v.extend(chunk_processor(rng, p));
    }
    for l in 0..LAYERS {
        let b = format!("hydra_layers.{l}");
        let s = format!("{b}.bidirectional_ssm");
        v.extend(linear(rng, &format!("{b}.in_proj"), D, 2 * E, false));
        v.extend([
            (format!("{s}.alpha"), vec![1], vec![1.0]),
            (format!("{s}.beta"), vec![1], vec![1.0]),
            (format!("{s}.gamma"), vec![1], vec![0.5]),
        ]);
        v.extend(selective_ssm(rng, &format!("{s}.forward_ssm")));
        v.extend(selective_ssm(rng, &format!("{s}.backward_ssm")));
        v.extend(linear(rng, &format!("{s}.diagonal"), E, E, false));
        v.extend(linear(rng, &format!("{s}.out_proj"), E, E, false));
        v.extend(linear(rng, &format!("{b}.out_proj"), E, D, false));
    }
    v.extend(layernorm("output_norm", D));
    v.extend(linear(rng, "output_layer", D, K, true));
    v
}

/// A QGR-flavour branch block (gated spec §1.4) under `prefix`, F = C inputs.
fn qsb_qgr(rng: &mut Lcg, prefix: &str) -> Vec<Tensor> {
    let p = 5 * Q * LAYERS;
    let mut v = coefficients(rng, prefix);
    for i in 1..=3 {
        v.extend(linear(rng, &format!("{prefix}proj{i}"), C, p, true));
    }
    for i in 1..=3 {
        let base = rng.uniform(p, 0.0, std::f32::consts::TAU);
        v.push((format!("{prefix}branch{i}.base_params"), vec![p], base));
    }
    v
}

/// A `ChunkedGatedSuperposition` (gated spec §1.5) under `prefix`.
fn gated_branch(rng: &mut Lcg, prefix: &str) -> Vec<Tensor> {
    let mut v = qsb_qgr(rng, &format!("{prefix}quantum_superposition."));
    v.extend(linear(rng, &format!("{prefix}chunk_agg.0"), 3 * Q, H, true));
    v.extend(layernorm(&format!("{prefix}chunk_agg.1"), H));
    for g in ["forget_gate", "input_gate", "output_gate", "candidate"] {
        v.extend(linear(rng, &format!("{prefix}{g}.0"), 2 * H, H, true));
    }
    v
}

/// Every hg tensor (gated spec §1.7).
fn tensors_hg(rng: &mut Lcg) -> Vec<Tensor> {
    let mut v = top_coefficients(rng);
    v.extend(linear(rng, "feature_proj", C, C, true));
    v.extend(gated_branch(rng, "branch_forward."));
    v.extend(gated_branch(rng, "branch_backward."));
    v.extend(qsb_qgr(rng, "branch_global."));
    v.extend(linear(rng, "global_proj", 3 * Q, H, true));
    v.extend(linear(rng, "output_layer", H, K, true));
    v
}

/// The model file of `spec` (window-only card, 64 channels in mV) with `dtype` weights.
pub fn model_file(spec: &Spec, dtype: TensorDtype) -> Vec<u8> {
    let info = CardInfo {
        id: spec.id,
        class_name: spec.class_name,
        t: spec.t,
        sfreq: spec.sfreq,
        causal: false,
        circuit_chunk: Some(spec.chunk),
    };
    crate::tensors::model_file(&info, &(spec.tensors)(&mut Lcg(42)), dtype)
}
