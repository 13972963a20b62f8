//! hg — `QuantumHydraGated` (reference `models/QuantumGatedRecurrence.py`; spec
//! gated-and-protocols §1.7), bidirectional:
//!
//! x (C, T) → token-major (T, F), F = C → Dropout → x_p = Linear(F, F) (T, F; no SiLU) →
//! * h_f = CGS_fwd(x_p) (H),
//! * h_b = CGS_bwd(reverse_time(x_p)) (H): chunks anchored at the **end** of the original
//!   sequence (backward chunk j covers original steps [T−(j+1)C, T−jC) ∩ [0, T); the short
//!   remainder holds the first samples and is processed last),
//! * h_g = Linear(Q, H)(QSB_glob(mean_t x_p)) (H), one QSB call per sample;
//!
//! s = α h_f + β h_b + γ h_g ∈ ℂ^H with trainable complex α, β, γ (stored as (re, im) pairs,
//! shape (1, 2)); ŝ_k = |s_k| / √(Σ_j |s_j|² + 1e-8); logits = Linear(H, O)(ŝ).
//! Dropout sites (§1.8): the input (shared by all branches) and u_c in every chunk of both
//! gated branches. Not causal (§1.11); `ModelConfig::causal` is ignored.
//!
//! Parameter count at the EEG config (F = 64, n = 6, 2 circuit layers, H = 64, O = 2), complex
//! scalars counted once: 109,903 with the unified ansatz (109,906 stored reals), 102,775 with the
//! legacy one, for every T and C.
use crate::models::blocks::gated_recurrence::gated_program;
use crate::models::blocks::qsb_qgr::{QsbQgr, QsbQgrCache};
use crate::models::blocks::reverse::reverse_time;
use crate::models::blocks::{CgsCache, ChunkedGatedSuperposition, Dropout, Linear};
use crate::models::objective::{loss_with_grad, Target};
use crate::models::{to_token_major, ModelConfig, SampleModel, SampleOutput};
use crate::params::{Init, ParamLayout};
use rand_chacha::ChaCha8Rng;
use std::ops::Range;

/// ε inside the norm of the complex mix (reference: `+ 1e-8`).
const MIX_EPS: f32 = 1e-8;

/// hg QuantumHydraGated.
pub struct QuantumHydraGated {
    cfg: ModelConfig,
    lay: ParamLayout,
    /// α, β, γ: ranges of (re, im)
    coeffs: [Range<usize>; 3],
    feature_proj: Linear,
    fwd: ChunkedGatedSuperposition,
    bwd: ChunkedGatedSuperposition,
    glob: QsbQgr,
    global_proj: Linear,
    output_layer: Linear,
    drop: Dropout,
}

#[derive(Default)]
struct Cache {
    /// dropout(x) (T, F)
    xd: Vec<f32>,
    mask_in: Vec<f32>,
    /// x_p (T, F)
    xp: Vec<f32>,
    /// reverse_time(x_p) (T, F)
    xr: Vec<f32>,
    cf: CgsCache,
    cb: CgsCache,
    hf: Vec<f32>,
    hb: Vec<f32>,
    /// mean_t x_p (F)
    mean: Vec<f32>,
    cg: QsbQgrCache,
    /// QSB_glob(mean) (Q)
    qg: Vec<f32>,
    /// h_g (H)
    hg: Vec<f32>,
    /// Re s, Im s, |s| (H)
    re: Vec<f32>,
    im: Vec<f32>,
    modulus: Vec<f32>,
    /// √(Σ|s|² + ε)
    norm: f32,
    /// ŝ (H)
    feat: Vec<f32>,
    logits: Vec<f32>,
}

impl QuantumHydraGated {
    /// Builds the layout for `cfg` (F = `n_channels`, n = `n_qubits`, circuit layers =
    /// `n_layers`, H = `hidden_dim`, C = `chunk_size`, O = `n_classes`, circuit from
    /// `ansatz`), in the reference's `state_dict` order: `alpha`, `beta`, `gamma`,
    /// `feature_proj`, `branch_forward.*`, `branch_backward.*`, `branch_global.*`,
    /// `global_proj`, `output_layer`.
    pub fn new(cfg: ModelConfig) -> Self {
        let (f, h) = (cfg.n_channels, cfg.hidden_dim);
        let mut lay = ParamLayout::new();
        let coeffs =
            ["alpha", "beta", "gamma"].map(|n| lay.add_complex(n, &[1], Init::Uniform(0.0, 1.0)));
        let feature_proj = Linear::new(&mut lay, "feature_proj", f, f, true);
        let program = gated_program(&cfg);
        let (c, dp) = (cfg.chunk_size, cfg.dropout);
        let fwd = ChunkedGatedSuperposition::new(
            &mut lay,
            "branch_forward.",
            f,
            h,
            c,
            program.clone(),
            dp,
        );
        let bwd = ChunkedGatedSuperposition::new(
            &mut lay,
            "branch_backward.",
            f,
            h,
            c,
            program.clone(),
            dp,
        );
        let glob = QsbQgr::new(&mut lay, "branch_global.", f, program);
        let global_proj = Linear::new(&mut lay, "global_proj", glob.out_dim(), h, true);
        let output_layer = Linear::new(&mut lay, "output_layer", h, cfg.n_classes, true);
        let drop = Dropout { p: cfg.dropout };
        Self {
            cfg,
            lay,
            coeffs,
            feature_proj,
            fwd,
            bwd,
            glob,
            global_proj,
            output_layer,
            drop,
        }
    }

    /// (re, im) of α, β, γ.
    fn coeffs(&self, p: &[f32]) -> [(f32, f32); 3] {
        self.coeffs.clone().map(|r| (p[r.start], p[r.start + 1]))
    }

    fn run(&self, p: &[f32], x: &[f32], mut rng: Option<&mut ChaCha8Rng>) -> Cache {
        let (f, t) = (self.cfg.n_channels, self.cfg.n_times);
        let mut k = Cache {
            xd: to_token_major(x, f, t),
            ..Default::default()
        };
        k.mask_in = self.drop.forward(&mut k.xd, rng.as_deref_mut());
        k.xp = self.feature_proj.apply(p, &k.xd, t);
        k.hf = self.fwd.forward(p, &k.xp, t, rng.as_deref_mut(), &mut k.cf);
        k.xr = reverse_time(&k.xp, t, f);
        k.hb = self.bwd.forward(p, &k.xr, t, rng, &mut k.cb);
        k.mean = crate::models::blocks::pool::mean_pool_forward(&k.xp, t, f);
        k.qg = self.glob.forward(p, &k.mean, 1, &mut k.cg);
        k.hg = self.global_proj.apply(p, &k.qg, 1);
        let [a, b, c] = self.coeffs(p);
        let h = self.cfg.hidden_dim;
        k.re = vec![0.0; h];
        k.im = vec![0.0; h];
        for j in 0..h {
            k.re[j] = a.0 * k.hf[j] + b.0 * k.hb[j] + c.0 * k.hg[j];
            k.im[j] = a.1 * k.hf[j] + b.1 * k.hb[j] + c.1 * k.hg[j];
        }
        k.modulus =
            k.re.iter()
                .zip(&k.im)
                .map(|(r, i)| (r * r + i * i).sqrt())
                .collect();
        k.norm = (k.modulus.iter().map(|m| m * m).sum::<f32>() + MIX_EPS).sqrt();
        k.feat = k.modulus.iter().map(|m| m / k.norm).collect();
        k.logits = self.output_layer.apply(p, &k.feat, 1);
        k
    }

    fn backward(&self, p: &[f32], g: &mut [f32], k: &Cache, dlogits: &[f32]) {
        let (f, t, h) = (self.cfg.n_channels, self.cfg.n_times, self.cfg.hidden_dim);
        let mut dfeat = vec![0.0; h];
        self.output_layer
            .backward(p, g, &k.feat, dlogits, 1, Some(&mut dfeat));
        // ŝ_j = m_j/N, N = √(Σ m² + ε): dm_j = dŝ_j/N − m_j/N³·Σ_k dŝ_k m_k
        let n = k.norm;
        let proj: f32 = dfeat.iter().zip(&k.modulus).map(|(d, m)| d * m).sum();
        let [a, b, c] = self.coeffs(p);
        let (mut dhf, mut dhb, mut dhg) = (vec![0.0; h], vec![0.0; h], vec![0.0; h]);
        let mut dco = [(0.0f32, 0.0f32); 3];
        for j in 0..h {
            let m = k.modulus[j];
            if m <= 0.0 {
                continue; // d|z| = 0 at z = 0 (PyTorch's sgn convention)
            }
            let dm = dfeat[j] / n - m * proj / (n * n * n);
            let (dre, dim) = (dm * k.re[j] / m, dm * k.im[j] / m);
            dhf[j] = a.0 * dre + a.1 * dim;
            dhb[j] = b.0 * dre + b.1 * dim;
            dhg[j] = c.0 * dre + c.1 * dim;
            for (d, hv) in dco.iter_mut().zip([k.hf[j], k.hb[j], k.hg[j]]) {
                d.0 += dre * hv;
                d.1 += dim * hv;
            }
        }
        for (r, d) in self.coeffs.iter().zip(dco) {
            g[r.start] += d.0;
            g[r.start + 1] += d.1;
        }
        let mut dxp = vec![0.0; t * f];
        // global branch: mean_t x_p → QSB → global_proj
        let mut dqg = vec![0.0; self.glob.out_dim()];
        self.global_proj
            .backward(p, g, &k.qg, &dhg, 1, Some(&mut dqg));
        let mut dmean = vec![0.0; f];
        self.glob
            .backward(p, g, &k.mean, 1, &k.cg, &dqg, &mut dmean);
        crate::models::blocks::pool::mean_pool_backward(&mut dxp, &dmean, t, f);
        // backward branch on the reversed sequence
        let mut dxr = vec![0.0; t * f];
        self.bwd.backward(p, g, &k.xr, t, &k.cb, &dhb, &mut dxr);
        for ti in 0..t {
            let src = &dxr[(t - 1 - ti) * f..(t - ti) * f];
            dxp[ti * f..(ti + 1) * f]
                .iter_mut()
                .zip(src)
                .for_each(|(a, b)| *a += b);
        }
        // forward branch
        self.fwd.backward(p, g, &k.xp, t, &k.cf, &dhf, &mut dxp);
        self.feature_proj.backward(p, g, &k.xd, &dxp, t, None);
    }
}

impl SampleModel for QuantumHydraGated {
    fn id(&self) -> &'static str {
        "hg"
    }
    fn class_name(&self) -> &'static str {
        "QuantumHydraGated"
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
    /// `dropout`, `feature_proj` (T, F); `branch_forward*` and `branch_backward*` (see
    /// [`ChunkedGatedSuperposition::trace`]; the backward branch's chunk 0 holds the **last**
    /// C original steps, time-reversed); `branch_global` (Q) with `branch_global.proj{1,2,3}`
    /// (K) and `branch_global.branch{1,2,3}` (Q); `global_proj` = h_g (H); `features` = ŝ (H);
    /// `output_layer` (logits).
    fn trace(&self, p: &[f32], x: &[f32]) -> Vec<(String, Vec<f32>)> {
        let k = self.run(p, x, None);
        let mut out = vec![
            ("dropout".into(), k.xd.clone()),
            ("feature_proj".into(), k.xp.clone()),
        ];
        out.extend(self.fwd.trace("branch_forward", &k.cf));
        out.extend(self.bwd.trace("branch_backward", &k.cb));
        out.push(("branch_global".into(), k.qg.clone()));
        out.extend(self.glob.trace(p, &k.mean, 1, &k.cg, "branch_global."));
        out.push(("global_proj".into(), k.hg.clone()));
        out.push(("features".into(), k.feat.clone()));
        out.push(("output_layer".into(), k.logits));
        out
    }
}
