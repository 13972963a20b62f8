//! Random-weight EEG-size model files for the streaming bench (64 channels, PyTorch-style init
//! scales, reference `state_dict` names): 3b `TrueClassicalMamba` (D 128, E 256, N 16, 2 blocks),
//! the causal 1b `QuantumMambaSSM` (D 128, N 16, Q 6, 2 blocks and circuit layers, chunks of
//! 32) and mg `QuantumMambaGated` (n 6, 2 circuit layers, H 64, chunk 8, unified ansatz), 2
//! classes. Built by hand (no trainer dependency); the engine validates every name and shape.
use qssm_formats::model_file::{
    to_bytes, CircuitLayout, Hyperparameters, InputSpec, ModelCard, TensorDtype, TensorOut,
};

/// Channels.
pub const C: usize = 64;
/// d_model (3b, 1b).
const D: usize = 128;
/// d_inner.
const E: usize = 2 * D;
/// d_state.
const N: usize = 16;
/// Blocks, and circuit layers of the quantum models.
const LAYERS: usize = 2;
/// Classes.
const K: usize = 2;
/// Qubits of the quantum models.
const Q: usize = 6;
/// Hidden size of mg.
const H: usize = 64;

/// A tensor: name, shape, values.
type Tensor = (String, Vec<usize>, Vec<f32>);

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

/// The model file of `spec` (causal card, 64 channels in mV) with `dtype` weights.
pub fn model_file(spec: &Spec, dtype: TensorDtype) -> Vec<u8> {
    let t = (spec.tensors)(&mut Lcg(42));
    let circuit = (spec.id != "3b").then(|| CircuitLayout {
        ansatz: "unified".into(),
        n_qubits: Q,
        n_layers: LAYERS,
        encoding: "see the model's spec".into(),
        measurement: format!("X0..X{q},Y0..Y{q},Z0..Z{q}", q = Q - 1),
        wire_order: "wire 0 = most significant bit".into(),
        chunk_size: spec.step,
    });
    let card = ModelCard {
        qssm_version: "0.1.0".into(),
        model_id: spec.id.into(),
        class_name: spec.class_name.into(),
        causal: true,
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
        circuit,
        input: InputSpec {
            sfreq: 160.0,
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
