//! Shared builders of the engine benches' random-weight EEG-size model files (64 channels,
//! PyTorch-style init scales, reference `state_dict` names), included by `stream.rs` and
//! `window.rs`: the shape constants, a deterministic generator, `nn.Linear` / `nn.LayerNorm`
//! tensors, Mamba's dt bias, complex branch coefficients, and the model file itself (card +
//! safetensors). Built by hand (no trainer dependency); the engine validates every name and
//! shape.
#![allow(dead_code)]
use qssm_formats::model_file::{
    to_bytes, CircuitLayout, Hyperparameters, InputSpec, ModelCard, TensorDtype, TensorOut,
};

/// C: EEG channels.
pub const C: usize = 64;
/// d_model.
pub const D: usize = 128;
/// d_inner.
pub const E: usize = 2 * D;
/// d_state.
pub const N: usize = 16;
/// Blocks and circuit layers.
pub const LAYERS: usize = 2;
/// Classes.
pub const K: usize = 2;
/// Qubits.
pub const Q: usize = 6;
/// Hidden size of the gated models.
pub const H: usize = 64;

/// A tensor: name, shape, values.
pub type Tensor = (String, Vec<usize>, Vec<f32>);

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
pub fn linear(rng: &mut Lcg, name: &str, inp: usize, out: usize, bias: bool) -> Vec<Tensor> {
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
pub fn layernorm(name: &str, d: usize) -> Vec<Tensor> {
    vec![
        (format!("{name}.weight"), vec![d], vec![1.0; d]),
        (format!("{name}.bias"), vec![d], vec![0.0; d]),
    ]
}

/// Mamba's dt_proj bias: softplus⁻¹(dt), dt log-uniform in [1e-3, 0.1].
pub fn dt_bias(rng: &mut Lcg, e: usize) -> Vec<f32> {
    rng.uniform(e, (1e-3f32).ln(), (0.1f32).ln())
        .iter()
        .map(|u| {
            let dt = u.exp();
            dt + (-(-dt).exp_m1()).ln()
        })
        .collect()
}

/// The complex branch coefficients `<prefix>{alpha,beta,gamma}_{real,imag}`.
pub fn coefficients(rng: &mut Lcg, prefix: &str) -> Vec<Tensor> {
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

/// What a bench model's card says besides the shared hyperparameters.
pub struct CardInfo<'a> {
    /// registry id
    pub id: &'a str,
    /// reference class name
    pub class_name: &'a str,
    /// T: window length
    pub t: usize,
    /// sampling rate, Hz
    pub sfreq: f64,
    /// causal flag of the card
    pub causal: bool,
    /// chunk size of the circuit layout; `None` for a model without circuits
    pub circuit_chunk: Option<usize>,
}

/// The model file (card + tensors, 64 channels in mV) with `dtype` weights.
pub fn model_file(info: &CardInfo<'_>, tensors: &[Tensor], dtype: TensorDtype) -> Vec<u8> {
    let circuit = info.circuit_chunk.map(|chunk_size| CircuitLayout {
        ansatz: "unified".into(),
        n_qubits: Q,
        n_layers: LAYERS,
        encoding: "see the model's spec".into(),
        measurement: format!("X0..X{q},Y0..Y{q},Z0..Z{q}", q = Q - 1),
        wire_order: "wire 0 = most significant bit".into(),
        chunk_size,
    });
    let card = ModelCard {
        qssm_version: "0.1.0".into(),
        model_id: info.id.into(),
        class_name: info.class_name.into(),
        causal: info.causal,
        hyperparameters: Hyperparameters {
            n_channels: C,
            n_times: info.t,
            d_model: D,
            d_state: N,
            n_qubits: Q,
            n_layers: LAYERS,
            n_classes: K,
            dropout: 0.1,
        },
        circuit,
        architecture: None,
        input: InputSpec {
            sfreq: info.sfreq,
            n_times: info.t,
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
    let outs: Vec<TensorOut<'_>> = tensors
        .iter()
        .map(|(name, shape, data)| TensorOut { name, shape, data })
        .collect();
    to_bytes(&card, &outs, dtype).expect("serialises")
}
