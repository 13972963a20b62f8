//! hg — `QuantumHydraGated` (reference `models/QuantumGatedRecurrence.py`; spec
//! gated-and-protocols §1.7), bidirectional, written once over the backend:
//!
//! x (B, C, T) → token-major (B, T, F), F = C → Dropout → x_p = Linear(F, F) (T, F; no SiLU) →
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
use crate::nn::gated_recurrence::gated_program;
use crate::nn::{BranchActs, Branches, GatedActs, GatedRecurrence, Io, Linear, Net};
use crate::params::{Init, ParamLayout};
use crate::prelude::*;
use crate::ModelConfig;
use qssm_kernels::backend::{Backend, DropoutCfg, Infer, Superpose, SuperposeP};

/// ε inside the norm of the complex mix (reference: `+ 1e-8`).
const MIX_EPS: f32 = 1e-8;
/// Dropout sites: the input, u_c of the forward and of the backward branch.
const SITES: [u32; 3] = [0, 1, 2];

/// hg QuantumHydraGated.
pub struct QuantumHydraGated {
    cfg: ModelConfig,
    lay: ParamLayout,
    /// s = α h_f + β h_b + γ h_g with the raw complex α, β, γ
    mix: SuperposeP,
    feature_proj: Linear,
    fwd: GatedRecurrence,
    bwd: GatedRecurrence,
    glob: Branches,
    global_proj: Linear,
    output_layer: Linear,
}

/// Planned buffers of one batch.
pub struct Acts<B: Infer> {
    io: Io<B>,
    /// dropout(x) (B, T, F)
    xd: B::Buf,
    mask_in: B::Buf,
    /// x_p (B, T, F)
    xp: B::Buf,
    /// reverse_time(x_p)
    xr: B::Buf,
    cf: GatedActs<B>,
    cb: GatedActs<B>,
    /// mean_t x_p (B, F)
    mean: B::Buf,
    cg: BranchActs<B>,
    /// h_g (B, H)
    hg: B::Buf,
    /// |s| (B, H), ŝ (B, H), its norm (B)
    modulus: B::Buf,
    feat: B::Buf,
    norm: B::Buf,
    dropped: bool,
    // backward scratch
    dfeat: B::Buf,
    dmod: B::Buf,
    dh: [B::Buf; 3],
    dqg: B::Buf,
    dmean: B::Buf,
    dxr: B::Buf,
    dxp: B::Buf,
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
        let c = cfg.chunk_size.max(1);
        let fwd = GatedRecurrence::new(
            &mut lay,
            "branch_forward.",
            (f, h, c),
            program.clone(),
            SITES[1],
        );
        let bwd = GatedRecurrence::new(
            &mut lay,
            "branch_backward.",
            (f, h, c),
            program.clone(),
            SITES[2],
        );
        let glob = Branches::qgr(&mut lay, "branch_global.", f, program);
        let global_proj = Linear::new(&mut lay, "global_proj", glob.out_dim(), h, true);
        let output_layer = Linear::new(&mut lay, "output_layer", h, cfg.n_classes, true);
        Self {
            cfg,
            lay,
            mix: SuperposeP {
                coeffs: coeffs.map(|r| [r.start, r.start + 1]),
                eps: 0.0,
                mode: Superpose::ModulusRaw,
            },
            feature_proj,
            fwd,
            bwd,
            glob,
            global_proj,
            output_layer,
        }
    }
}

impl Net for QuantumHydraGated {
    type Acts<B: Infer> = Acts<B>;
    fn id(&self) -> &'static str {
        "hg"
    }
    fn config(&self) -> &ModelConfig {
        &self.cfg
    }
    fn layout(&self) -> &ParamLayout {
        &self.lay
    }
    fn plan<B: Infer>(&self, be: &B, b: usize) -> Acts<B> {
        let (f, t, h) = (self.cfg.n_channels, self.cfg.n_times, self.cfg.hidden_dim);
        let st = |w: usize| be.alloc(&[b, t, w]);
        let v = |w: usize| be.alloc(&[b, w]);
        Acts {
            io: Io::plan(be, b, &self.cfg),
            xd: st(f),
            mask_in: st(f),
            xp: st(f),
            xr: st(f),
            cf: self.fwd.plan(be, b, t),
            cb: self.bwd.plan(be, b, t),
            mean: v(f),
            cg: self.glob.plan(be, b, 1),
            hg: v(h),
            modulus: v(h),
            feat: v(h),
            norm: be.alloc(&[b]),
            dropped: false,
            dfeat: v(h),
            dmod: v(h),
            dh: [0; 3].map(|_| v(h)),
            dqg: be.alloc(&[b, 1, self.glob.out_dim()]),
            dmean: v(f),
            dxr: st(f),
            dxp: st(f),
        }
    }
    fn io<B: Infer>(a: &mut Acts<B>) -> &mut Io<B> {
        &mut a.io
    }
    fn forward<B: Infer>(
        &self,
        be: &B,
        p: &B::Params,
        a: &mut Acts<B>,
        drop: Option<DropoutCfg<'_>>,
    ) {
        let drop = drop.filter(|c| c.p > 0.0);
        a.dropped = drop.is_some();
        be.to_token_major(&mut a.xd, &a.io.x);
        if let Some(cfg) = drop {
            // feature_proj's input gradient is never needed: the mask is not used again
            be.dropout(&mut a.xd, &mut a.mask_in, cfg, SITES[0]);
        }
        self.feature_proj.forward(be, p, &a.xd, &mut a.xp);
        self.fwd.forward(be, p, &a.xp, &mut a.cf, drop);
        be.reverse_time(&mut a.xr, &a.xp);
        self.bwd.forward(be, p, &a.xr, &mut a.cb, drop);
        be.mean_time(&mut a.mean, &a.xp);
        self.glob.forward(be, p, &a.mean, &mut a.cg);
        self.global_proj.forward(be, p, &a.cg.out, &mut a.hg);
        be.superpose(
            &mut a.modulus,
            [a.cf.h_final(), a.cb.h_final(), &a.hg],
            p,
            &self.mix,
        );
        be.l2_normalize(&mut a.feat, &mut a.norm, &a.modulus, MIX_EPS);
        self.output_layer.forward(be, p, &a.feat, &mut a.io.out);
    }
    fn backward<B: Backend>(&self, be: &B, p: &B::Params, g: &mut B::Params, a: &mut Acts<B>) {
        be.fill(&mut a.dfeat, 0.0);
        self.output_layer
            .backward(be, p, g, &a.feat, &a.io.dout, Some(&mut a.dfeat));
        be.fill(&mut a.dmod, 0.0);
        be.l2_normalize_bwd(&mut a.dmod, &a.dfeat, &a.modulus, &a.norm);
        for d in &mut a.dh {
            be.fill(d, 0.0);
        }
        {
            let [df, db, dg] = &mut a.dh;
            let xs = [a.cf.h_final(), a.cb.h_final(), &a.hg];
            be.superpose_bwd([df, db, dg], g, &a.dmod, xs, p, &self.mix);
        }
        be.fill(&mut a.dxp, 0.0);
        // global branch: mean_t x_p → QSB → global_proj
        be.fill(&mut a.dqg, 0.0);
        self.global_proj
            .backward(be, p, g, &a.cg.out, &a.dh[2], Some(&mut a.dqg));
        be.fill(&mut a.dmean, 0.0);
        self.glob
            .backward(be, p, g, &a.mean, &mut a.cg, &a.dqg, &mut a.dmean);
        be.mean_time_bwd(&mut a.dxp, &a.dmean);
        // backward branch on the reversed sequence
        be.fill(&mut a.dxr, 0.0);
        self.bwd
            .backward(be, p, g, &a.xr, &mut a.cb, &a.dh[1], &mut a.dxr);
        be.reverse_time_acc(&mut a.dxp, &a.dxr);
        // forward branch
        self.fwd
            .backward(be, p, g, &a.xp, &mut a.cf, &a.dh[0], &mut a.dxp);
        self.feature_proj.backward(be, p, g, &a.xd, &a.dxp, None);
    }
    /// `dropout`, `feature_proj` (T, F); `branch_forward*` and `branch_backward*` (see
    /// [`GatedRecurrence::trace`]; the backward branch's chunk 0 holds the **last** C original
    /// steps, time-reversed); `branch_global` (Q) with `branch_global.proj{1,2,3}` (K) and
    /// `branch_global.branch{1,2,3}` (Q); `global_proj` = h_g (H); `features` = ŝ (H);
    /// `output_layer` (logits).
    fn trace<'a, B: Infer>(&self, be: &B, a: &'a mut Acts<B>) -> Vec<(String, &'a B::Buf)> {
        self.fwd.trace_views(be, &mut a.cf);
        self.bwd.trace_views(be, &mut a.cb);
        let a: &'a Acts<B> = a;
        let mut out = vec![
            ("dropout".to_string(), &a.xd),
            ("feature_proj".into(), &a.xp),
        ];
        out.extend(self.fwd.trace("branch_forward", &a.cf));
        out.extend(self.bwd.trace("branch_backward", &a.cb));
        out.push(("branch_global".into(), &a.cg.out));
        out.extend(self.glob.trace(&a.cg, "branch_global."));
        out.push(("global_proj".into(), &a.hg));
        out.push(("features".into(), &a.feat));
        out.push(("output_layer".into(), &a.io.out));
        out
    }
}
