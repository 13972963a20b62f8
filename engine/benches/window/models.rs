//! Random-weight EEG-size model files for the window bench (64 channels, PyTorch-style init
//! scales, reference `state_dict` names, 2 classes), built by hand (no trainer dependency;
//! the engine validates every name and shape):
//! * 1c `QuantumHydraSSM` (spec §4.3): D 128, E 256, N 16, Q 6, 2 Hydra blocks and circuit
//!   layers, three chunk processors (cs 32), T 497 (3.1 s at 160 Hz);
//! * hg `QuantumHydraGated` (gated spec §1.7): n 6, 2 circuit layers, H 64, chunk 8, unified
//!   ansatz, T 249 (its 80 Hz protocol).
use qssm_formats::model_file::{
    to_bytes, CircuitLayout, Hyperparameters, InputSpec, ModelCard, TensorDtype, TensorOut,
};

/// Channels.
pub const C: usize = 64;
/// d_model (1c).
const D: usize = 128;
/// d_inner (1c).
const E: usize = 2 * D;
/// d_state (1c).
const N: usize = 16;
/// Blocks and circuit layers.
const LAYERS: usize = 2;
/// Classes.
const K: usize = 2;
/// Qubits.
const Q: usize = 6;
/// Hidden size of hg.
const H: usize = 64;

/// A tensor: name, shape, values.
type Tensor = (String, Vec<usize>, Vec<f32>);

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

/// Uniform [lo, hi) values from a linear congruential generator.
pub struct Lcg(pub u64);
impl Lcg {
    /// n values in [lo, hi).
    pub fn uniform(&mut self, n: usize, lo: f32, hi: f32) -> Vec<f32> {
        (0..n)
            .map(|_| {
                self.0 = self
                    .0
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                lo + (hi - lo) * ((self.0 >> 40) as f32 / (1u64 << 24) as f32)
            })
            .collect()
    }
}

/// `nn.Linear(inp, out)` (weight and bias, U(±1/√inp)) named `name`.
fn linear(rng: &mut Lcg, name: &str, inp: usize, out: usize, bias: bool) -> Vec<Tensor> {
    let a = 1.0 / (inp as f32).sqrt();
    let mut v = vec![(
        format!("{name}.weight"),
        vec![out, inp],
        rng.uniform(out * inp, -a, a),
    )];
    if bias {
        v.push((format!("{name}.bias"), vec![out], rng.uniform(out, -a, a)));
    }
    v
}

/// `nn.LayerNorm(d)` (1, 0) named `name`.
fn layernorm(name: &str, d: usize) -> Vec<Tensor> {
    vec![
        (format!("{name}.weight"), vec![d], vec![1.0; d]),
        (format!("{name}.bias"), vec![d], vec![0.0; d]),
    ]
}

/// Mamba's dt_proj bias: softplus⁻¹(dt), dt log-uniform in [1e-3, 0.1].
fn dt_bias(rng: &mut Lcg, e: usize) -> Vec<f32> {
    rng.uniform(e, (1e-3f32).ln(), (0.1f32).ln())
        .iter()
        .map(|u| {
            let dt = u.exp();
            dt + (-(-dt).exp_m1()).ln()
        })
        .collect()
}

/// The complex branch coefficients `<prefix>{alpha,beta,gamma}_{real,imag}`.
fn coefficients(rng: &mut Lcg, prefix: &str) -> Vec<Tensor> {
    ["alpha", "beta", "gamma"]
        .iter()
        .flat_map(|c| {
            [
                (
                    format!("{prefix}{c}_real"),
                    vec![1],
                    rng.uniform(1, 0.0, 1.0),
                ),
                (
                    format!("{prefix}{c}_imag"),
                    vec![1],
                    rng.uniform(1, 0.0, 0.1),
                ),
            ]
        })
        .collect()
}

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
    let t = (spec.tensors)(&mut Lcg(42));
    let card = ModelCard {
        qssm_version: "0.1.0".into(),
        model_id: spec.id.into(),
        class_name: spec.class_name.into(),
        causal: false,
        hyperparameters: Hyperparameters {
            n_channels: C,
            n_times: spec.t,
            d_model: D,
            d_state: N,
            n_qubits: Q,
            n_layers: LAYERS,
            n_classes: K,
            dropout: 0.1,
        },
        circuit: Some(CircuitLayout {
            ansatz: "unified".into(),
            n_qubits: Q,
            n_layers: LAYERS,
            encoding: "see the model's spec".into(),
            measurement: format!("X0..X{q},Y0..Y{q},Z0..Z{q}", q = Q - 1),
            wire_order: "wire 0 = most significant bit".into(),
            chunk_size: spec.chunk,
        }),
        input: InputSpec {
            sfreq: spec.sfreq,
            n_times: spec.t,
            channels: (1..=C).map(|i| format!("Ch{i}")).collect(),
            unit: "mV".into(),
            layout: "channel_major".into(),
        },
        preprocessing: serde_json::json!({}),
        split: None,
        training: serde_json::json!({}),
        metrics: serde_json::json!({}),
        dtype: "f32".into(),
    };
    let outs: Vec<TensorOut<'_>> = t
        .iter()
        .map(|(name, shape, data)| TensorOut { name, shape, data })
        .collect();
    to_bytes(&card, &outs, dtype).expect("serialises")
}
