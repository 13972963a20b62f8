//! Random-weight EEG-size model files for the streaming bench (64 channels, PyTorch-style init
//! scales, reference `state_dict` names): 3b `TrueClassicalMamba` (D 128, E 256, N 16, 2 blocks),
//! the causal 1b `QuantumMambaSSM` (D 128, N 16, Q 6, 2 blocks and circuit layers, chunks of
//! 32) and mg `QuantumMambaGated` (n 6, 2 circuit layers, H 64, chunk 8, unified ansatz), 2
//! classes. Built by hand (no trainer dependency); the engine validates every name and shape.
use crate::tensors::{
    coefficients, dt_bias, layernorm, linear, CardInfo, Lcg, Tensor, C, D, E, H, K, LAYERS, N, Q,
};
use qssm_formats::model_file::TensorDtype;

/// A model of the bench.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    /// registry id
    pub id: &'static str,
    /// label in the bench names
    pub label: &'static str,
    class_name: &'static str,
    /// window length the bench cycles through (3.1 s; mg at its 80 Hz protocol)
    pub t: usize,
    /// samples per recurrent step (hop of the bench)
    pub step: usize,
    tensors: fn(&mut Lcg) -> Vec<Tensor>,
}

/// The three streamed models.
pub const SPECS: [Spec; 3] = [
    Spec {
        id: "3b",
        label: "3b",
        class_name: "TrueClassicalMamba",
        t: 497,
        step: 1,
        tensors: tensors_3b,
    },
    Spec {
        id: "1b",
        label: "1b_causal",
        class_name: "QuantumMambaSSM",
        t: 497,
        step: 32,
        tensors: tensors_1b,
    },
    Spec {
        id: "mg",
        label: "mg",
        class_name: "QuantumMambaGated",
        t: 249,
        step: 8,
        tensors: tensors_mg,
    },
];

/// Every 3b tensor (spec §4.5).
fn tensors_3b(rng: &mut Lcg) -> Vec<Tensor> {
    let r = D.div_ceil(16);
    let mut v = linear(rng, "embedding", C, D, true);
    for l in 0..LAYERS {
        let p = |s: &str| format!("layers.{l}.{s}");
        let a_log: Vec<f32> = (0..E * N).map(|i| ((i % N) as f32 + 1.0).ln()).collect();
        v.extend(linear(rng, &p("in_proj"), D, 2 * E, false));
        v.extend(linear(rng, &p("x_proj"), E, r + 2 * N, false));
        v.extend([
            (
                p("conv1d.weight"),
                vec![E, 1, 4],
                rng.uniform(E * 4, -0.5, 0.5),
            ),
            (p("conv1d.bias"), vec![E], rng.uniform(E, -0.5, 0.5)),
            (p("ssm.A_log"), vec![E, N], a_log),
            (p("ssm.D"), vec![E], vec![1.0; E]),
        ]);
        v.extend(linear(rng, &p("ssm.dt_proj"), r, E, false));
        v.push((p("ssm.dt_proj.bias"), vec![E], dt_bias(rng, E)));
        v.extend(linear(rng, &p("out_proj"), E, D, false));
        v.push((p("norm.weight"), vec![D], vec![1.0; D]));
    }
    v.push(("final_norm.weight".into(), vec![D], vec![1.0; D]));
    v.extend(linear(rng, "classifier", D, K, true));
    v
}

/// Every causal-1b tensor (spec §4.2; the unused `mamba_layers.i.norm` left out).
fn tensors_1b(rng: &mut Lcg) -> Vec<Tensor> {
    let (r, k) = (E / 16, 5 * Q * LAYERS);
    let qp = "quantum_processor.";
    let mut v = linear(rng, "feature_proj.0", C, D, true);
    v.extend(layernorm("feature_proj.1", D));
    v.extend(linear(
        rng,
        &format!("{qp}chunk_attention.0"),
        D,
        D / 2,
        true,
    ));
    v.extend(linear(
        rng,
        &format!("{qp}chunk_attention.2"),
        D / 2,
        1,
        true,
    ));
    let qb = format!("{qp}quantum_branches.");
    v.extend(coefficients(rng, &qb));
    for i in 1..=3 {
        v.extend(linear(rng, &format!("{qb}proj{i}"), D, k, true));
    }
    v.extend(linear(rng, &format!("{qb}input_proj"), D, Q, true));
    v.extend(linear(rng, &format!("{qp}output_proj.0"), 9 * Q, D, true));
    v.extend(layernorm(&format!("{qp}output_proj.1"), D));
    for l in 0..LAYERS {
        let p = |s: &str| format!("mamba_layers.{l}.{s}");
        let a_log: Vec<f32> = (0..N).map(|i| (i as f32 + 1.0).ln()).collect();
        v.extend(linear(rng, &p("in_proj"), D, 2 * E, false));
        v.extend([
            (
                p("conv1d.weight"),
                vec![E, 1, 4],
                rng.uniform(E * 4, -0.5, 0.5),
            ),
            (p("conv1d.bias"), vec![E], rng.uniform(E, -0.5, 0.5)),
            (p("ssm.A_log"), vec![N], a_log),
            (p("ssm.D"), vec![E], vec![1.0; E]),
        ]);
        v.extend(linear(rng, &p("ssm.x_proj"), E, r + 2 * N, false));
        v.extend(linear(rng, &p("ssm.dt_proj"), r, E, false));
        v.push((p("ssm.dt_proj.bias"), vec![E], dt_bias(rng, E)));
        v.extend(linear(rng, &p("ssm.out_proj"), E, E, false));
        v.extend(linear(rng, &p("out_proj"), E, D, false));
    }
    v.extend(layernorm("output_norm", D));
    v.extend(linear(rng, "output_layer.0", D, D, true));
    v.extend(linear(rng, "output_layer.3", D, K, true));
    v
}

/// Every mg tensor (gated spec §1.9).
fn tensors_mg(rng: &mut Lcg) -> Vec<Tensor> {
    let p = 5 * Q * LAYERS;
    let mut v = linear(rng, "feature_proj", C, C, true);
    let qs = "gated_recurrence.quantum_superposition.";
    v.extend(coefficients(rng, qs));
    for i in 1..=3 {
        v.extend(linear(rng, &format!("{qs}proj{i}"), C, p, true));
    }
    for i in 1..=3 {
        let base = rng.uniform(p, 0.0, std::f32::consts::TAU);
        v.push((format!("{qs}branch{i}.base_params"), vec![p], base));
    }
    v.extend(linear(rng, "gated_recurrence.chunk_agg.0", 3 * Q, H, true));
    v.extend(layernorm("gated_recurrence.chunk_agg.1", H));
    for g in ["forget_gate", "input_gate", "output_gate", "candidate"] {
        v.extend(linear(
            rng,
            &format!("gated_recurrence.{g}.0"),
            2 * H,
            H,
            true,
        ));
    }
    v.extend(linear(rng, "output_layer.0", H, H, true));
    v.extend(linear(rng, "output_layer.3", H, K, true));
    v
}

/// The model file of `spec` (causal card, 64 channels in mV, 160 Hz) with `dtype` weights.
pub fn model_file(spec: &Spec, dtype: TensorDtype) -> Vec<u8> {
    let info = CardInfo {
        id: spec.id,
        class_name: spec.class_name,
        t: spec.t,
        sfreq: 160.0,
        causal: true,
        circuit_chunk: (spec.id != "3b").then_some(spec.step),
    };
    crate::tensors::model_file(&info, &(spec.tensors)(&mut Lcg(42)), dtype)
}
