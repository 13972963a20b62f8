//! 2b — `ClassicalMambaQuantumSSM` and 2c — `ClassicalHydraQuantumSSM` (reference
//! `models/QuantumMixingSSM.py`, spec groups-2-4 §3.2, §3.3):
//!
//! x (C, T) → [`ChunkFront`]: Drop(`feature_extractor.embedding`(x_t)) → ChunkPool(16, D/2) →
//! Drop ⇒ z (nc, D) → 2 residual quantum mixing layers z ← z + y → r = mean_j
//! LN_`output_norm`(z_j) → H_relu (`classifier.0` → ReLU → Drop → `classifier.3`).
//!
//! * 2b: layer l = [`QuantumSsmCore`] `quantum_ssm_layers.l` run from h₀; **layer 1 starts from
//!   layer 0's final state** (h₀ of layer 0 = 0), so the backward carries d loss/d h from
//!   layer 1's first step into layer 0's last step.
//! * 2c: layer l = `quantum_hydra_layers.l` (`QuantumBidirectionalSSMCore`): f = QSSM_fwd(z, 0),
//!   g = reverse_j(QSSM_bwd(reverse_j z, 0)), d = `diagonal`(z), t = |α|+|β|+|γ|+1e-8 with real
//!   signed (1,) parameters α, β, γ, y = `out_proj`((α/t)·f + (β/t)·g + (γ/t)·d).
//!
//! Both are window models (not streamable, spec §4.3 R3/R4). Their recurrences are chaotic
//! (spec §5.1): parity with the reference is only possible for short windows (nc ≤ 8).
use crate::models::blocks::chunk_front::{ChunkFront, ChunkFrontCache};
use crate::models::blocks::pool::{mean_pool_backward, mean_pool_forward};
use crate::models::blocks::quantum_ssm_core::{QssmCache, QuantumSsmCore};
use crate::models::blocks::reverse::reverse_time;
use crate::models::blocks::{ClassifierHead, HeadAct, HeadCache, LayerNorm, Linear, NormCache};
use crate::models::objective::{loss_with_grad, Target};
use crate::models::{ModelConfig, SampleModel, SampleOutput};
use crate::params::{Init, ParamLayout};
use rand_chacha::ChaCha8Rng;
use std::ops::Range;

/// Chunk size of the group-2 chunk pooling (constructor default, never overridden).
pub const CHUNK_SIZE: usize = 16;

/// Guard of the L1 normalisation of α, β, γ (reference `+ 1e-8`).
const COEFF_EPS: f32 = 1e-8;

/// One `QuantumBidirectionalSSMCore` (2c layer; see the module docs).
#[derive(Clone, Debug)]
struct HydraLayer {
    /// α, β, γ, each (1,)
    coeffs: [Range<usize>; 3],
    fwd: QuantumSsmCore,
    bwd: QuantumSsmCore,
    diagonal: Linear,
    out_proj: Linear,
    d: usize,
    q: usize,
}

#[derive(Clone, Debug, Default)]
struct HydraLayerCache {
    fwd: QssmCache,
    bwd: QssmCache,
    z: Vec<f32>,
    /// f, g (original chunk order), d
    branches: [Vec<f32>; 3],
    /// (α, β, γ) and t
    a: [f32; 3],
    t: f32,
    m: Vec<f32>,
}

impl HydraLayer {
    fn new(lay: &mut ParamLayout, name: &str, cfg: &ModelConfig) -> Self {
        let (d, q) = (cfg.d_model, cfg.n_qubits);
        let coeffs = [("alpha", 1.0), ("beta", 1.0), ("gamma", 0.5)]
            .map(|(k, v)| lay.add(format!("{name}.{k}"), &[1], Init::Const(v)));
        let core = |lay: &mut ParamLayout, dir: &str| {
            QuantumSsmCore::new(
                lay,
                &format!("{name}.{dir}"),
                d,
                cfg.d_state,
                q,
                cfg.n_layers,
            )
        };
        let fwd = core(lay, "forward_ssm");
        let bwd = core(lay, "backward_ssm");
        let diagonal = Linear::new(lay, &format!("{name}.diagonal"), d, d, true);
        let out_proj = Linear::new(lay, &format!("{name}.out_proj"), d, d, true);
        Self {
            coeffs,
            fwd,
            bwd,
            diagonal,
            out_proj,
            d,
            q,
        }
    }

    fn forward(&self, p: &[f32], z: &[f32], l: usize, c: &mut HydraLayerCache) -> Vec<f32> {
        let d = self.d;
        let h0 = vec![0.0f32; self.q];
        c.z = z.to_vec();
        let f = self.fwd.forward(p, z, l, &h0, &mut c.fwd);
        let gr = self
            .bwd
            .forward(p, &reverse_time(z, l, d), l, &h0, &mut c.bwd);
        let dg = self.diagonal.apply(p, z, l);
        c.a = self.coeffs.clone().map(|r| p[r.start]);
        c.t = c.a[0].abs() + c.a[1].abs() + c.a[2].abs() + COEFF_EPS;
        let w = c.a.map(|v| v / c.t);
        c.branches = [f, reverse_time(&gr, l, d), dg];
        let [f, g, dg] = &c.branches;
        c.m = (0..l * d)
            .map(|i| w[0] * f[i] + w[1] * g[i] + w[2] * dg[i])
            .collect();
        self.out_proj.apply(p, &c.m, l)
    }

    fn backward(
        &self,
        p: &[f32],
        g: &mut [f32],
        c: &HydraLayerCache,
        dy: &[f32],
        l: usize,
        dz: &mut [f32],
    ) {
        let d = self.d;
        let mut dm = vec![0.0; l * d];
        self.out_proj.backward(p, g, &c.m, dy, l, Some(&mut dm));
        // m = Σ_k (a_k/t)·b_k, t = Σ|a_i| + ε: dL/da_k = G_k/t − sign(a_k)·Σ_i G_i a_i/t²,
        // G_k = Σ dm ⊙ b_k (sign(0) = 0 as PyTorch's abs backward)
        let gk: Vec<f64> = c
            .branches
            .iter()
            .map(|b| dm.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum())
            .collect();
        let t = c.t as f64;
        let s: f64 = (0..3).map(|i| gk[i] * c.a[i] as f64).sum();
        for (k, r) in self.coeffs.iter().enumerate() {
            let sign = if c.a[k] > 0.0 {
                1.0
            } else if c.a[k] < 0.0 {
                -1.0
            } else {
                0.0
            };
            g[r.start] += (gk[k] / t - sign * s / (t * t)) as f32;
        }
        let w = c.a.map(|v| v / c.t);
        let zeros = vec![0.0f32; self.q];
        let df: Vec<f32> = dm.iter().map(|v| w[0] * v).collect();
        self.fwd.backward(p, g, &c.fwd, &df, &zeros, dz);
        let dgr: Vec<f32> = reverse_time(&dm, l, d).iter().map(|v| w[1] * v).collect();
        let mut dzr = vec![0.0; l * d];
        self.bwd.backward(p, g, &c.bwd, &dgr, &zeros, &mut dzr);
        dz.iter_mut()
            .zip(reverse_time(&dzr, l, d))
            .for_each(|(a, b)| *a += b);
        let ddg: Vec<f32> = dm.iter().map(|v| w[2] * v).collect();
        self.diagonal.backward(p, g, &c.z, &ddg, l, Some(dz));
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Mamba,
    Hydra,
}

/// 2b `ClassicalMambaQuantumSSM` (86,023 parameters at the EEG config, every T) or 2c
/// `ClassicalHydraQuantumSSM` (204,433): see the module docs.
pub struct QuantumMixingSsm {
    kind: Kind,
    cfg: ModelConfig,
    lay: ParamLayout,
    front: ChunkFront,
    mamba: Vec<QuantumSsmCore>,
    hydra: Vec<HydraLayer>,
    out_norm: LayerNorm,
    head: ClassifierHead,
}

#[derive(Default)]
struct Cache {
    front: ChunkFrontCache,
    /// layer inputs z (nc, D)
    inputs: Vec<Vec<f32>>,
    /// layer outputs y (nc, D)
    ys: Vec<Vec<f32>>,
    mamba: Vec<QssmCache>,
    hydra: Vec<HydraLayerCache>,
    z: Vec<f32>,
    on: Vec<f32>,
    onc: NormCache,
    pooled: Vec<f32>,
    head: HeadCache,
    logits: Vec<f32>,
}

impl QuantumMixingSsm {
    fn build(kind: Kind, cfg: ModelConfig) -> Self {
        let (c, d, q) = (cfg.n_channels, cfg.d_model, cfg.n_qubits);
        let mut lay = ParamLayout::new();
        let front = ChunkFront::new(&mut lay, c, d, CHUNK_SIZE, cfg.dropout);
        let (mut mamba, mut hydra) = (Vec::new(), Vec::new());
        for l in 0..cfg.n_layers {
            match kind {
                Kind::Mamba => mamba.push(QuantumSsmCore::new(
                    &mut lay,
                    &format!("quantum_ssm_layers.{l}"),
                    d,
                    cfg.d_state,
                    q,
                    cfg.n_layers,
                )),
                Kind::Hydra => hydra.push(HydraLayer::new(
                    &mut lay,
                    &format!("quantum_hydra_layers.{l}"),
                    &cfg,
                )),
            }
        }
        let out_norm = LayerNorm::new(&mut lay, "output_norm", d);
        let head = ClassifierHead::new(
            &mut lay,
            "classifier",
            d,
            d,
            cfg.n_classes,
            HeadAct::Relu,
            cfg.dropout,
        );
        Self {
            kind,
            cfg,
            lay,
            front,
            mamba,
            hydra,
            out_norm,
            head,
        }
    }

    /// 2b `ClassicalMambaQuantumSSM` for `cfg` (`n_layers` stacked cores of `n_layers`
    /// circuit layers each, as the reference's `create_model`).
    pub fn mamba(cfg: ModelConfig) -> Self {
        Self::build(Kind::Mamba, cfg)
    }

    /// 2c `ClassicalHydraQuantumSSM` for `cfg`.
    pub fn hydra(cfg: ModelConfig) -> Self {
        Self::build(Kind::Hydra, cfg)
    }

    fn run(&self, p: &[f32], x: &[f32], mut rng: Option<&mut ChaCha8Rng>) -> Cache {
        let (t, d) = (self.cfg.n_times, self.cfg.d_model);
        let nc = self.front.n_chunks(t);
        let mut k = Cache::default();
        self.front
            .forward(p, x, t, rng.as_deref_mut(), &mut k.front);
        let mut z = k.front.s.clone();
        let mut h = vec![0.0f32; self.cfg.n_qubits];
        for l in 0..self.cfg.n_layers {
            let y = match self.kind {
                Kind::Mamba => {
                    let mut c = QssmCache::default();
                    let y = self.mamba[l].forward(p, &z, nc, &h, &mut c);
                    h = c.h_final().to_vec();
                    k.mamba.push(c);
                    y
                }
                Kind::Hydra => {
                    let mut c = HydraLayerCache::default();
                    let y = self.hydra[l].forward(p, &z, nc, &mut c);
                    k.hydra.push(c);
                    y
                }
            };
            k.inputs.push(z.clone());
            z.iter_mut().zip(&y).for_each(|(a, b)| *a += b);
            k.ys.push(y);
        }
        k.on = vec![0.0; nc * d];
        self.out_norm.forward(p, &z, nc, &mut k.on, &mut k.onc);
        k.z = z;
        k.pooled = mean_pool_forward(&k.on, nc, d);
        k.logits = self.head.forward(p, &k.pooled, rng, &mut k.head);
        k
    }

    fn backward(&self, p: &[f32], g: &mut [f32], k: &Cache, dlogits: &[f32]) {
        let (t, d) = (self.cfg.n_times, self.cfg.d_model);
        let nc = self.front.n_chunks(t);
        let mut dpooled = vec![0.0; d];
        self.head.backward(p, g, &k.head, dlogits, &mut dpooled);
        let mut don = vec![0.0; nc * d];
        mean_pool_backward(&mut don, &dpooled, nc, d);
        let mut dz = vec![0.0; nc * d];
        self.out_norm
            .backward(p, g, &k.z, &don, nc, &k.onc, &mut dz);
        // d loss/d h carried from layer l+1's first step into layer l's last step (2b)
        let mut dh = vec![0.0f32; self.cfg.n_qubits];
        for l in (0..self.cfg.n_layers).rev() {
            let mut dprev = dz.clone(); // residual path
            match self.kind {
                Kind::Mamba => {
                    dh = self.mamba[l].backward(p, g, &k.mamba[l], &dz, &dh, &mut dprev);
                }
                Kind::Hydra => self.hydra[l].backward(p, g, &k.hydra[l], &dz, nc, &mut dprev),
            }
            dz = dprev;
        }
        self.front.backward(p, g, &k.front, dz);
    }
}

impl SampleModel for QuantumMixingSsm {
    fn id(&self) -> &'static str {
        match self.kind {
            Kind::Mamba => "2b",
            Kind::Hydra => "2c",
        }
    }
    fn class_name(&self) -> &'static str {
        match self.kind {
            Kind::Mamba => "ClassicalMambaQuantumSSM",
            Kind::Hydra => "ClassicalHydraQuantumSSM",
        }
    }
    fn config(&self) -> &ModelConfig {
        &self.cfg
    }
    fn layout(&self) -> &ParamLayout {
        &self.lay
    }
    fn forward_eval(&self, p: &[f32], x: &[f32]) -> Vec<f32> {
        self.run(p, x, None).logits
    }
    fn forward_backward(
        &self,
        p: &[f32],
        x: &[f32],
        target: Target<'_>,
        scale: f32,
        rng: Option<&mut ChaCha8Rng>,
        g: &mut [f32],
    ) -> SampleOutput {
        let k = self.run(p, x, rng);
        let (loss, dlogits) = loss_with_grad(&k.logits, target, scale);
        self.backward(p, g, &k, &dlogits);
        SampleOutput {
            loss,
            logits: k.logits,
        }
    }
    fn trace(&self, p: &[f32], x: &[f32]) -> Vec<(String, Vec<f32>)> {
        let k = self.run(p, x, None);
        let mut out = self.front.trace(p, &k.front);
        let prefix = match self.kind {
            Kind::Mamba => "quantum_ssm_layers",
            Kind::Hydra => "quantum_hydra_layers",
        };
        for (l, y) in k.ys.iter().enumerate() {
            out.push((format!("{prefix}.{l}"), y.clone()));
        }
        out.push(("output_norm".into(), k.on.clone()));
        out.push(("pool".into(), k.pooled.clone()));
        out.push(("classifier.0".into(), k.head.pre.clone()));
        out.push(("classifier.1".into(), k.head.hidden.clone()));
        out.push(("classifier.2".into(), k.head.hidden.clone()));
        out.push(("classifier.3".into(), k.logits.clone()));
        out.push(("classifier".into(), k.logits));
        out
    }
}
