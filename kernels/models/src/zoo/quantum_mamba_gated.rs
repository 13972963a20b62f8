//! mg — `QuantumMambaGated` (reference `models/QuantumGatedRecurrence.py`; spec
//! gated-and-protocols §1.6), written once over the backend:
//!
//! x (B, C, T) → token-major (B, T, F), F = C → Dropout → x_p = SiLU(Linear(F, F)) (T, F) →
//! [`GatedRecurrence`] (chunk size C = `chunk_size`) h (H) → Linear(H, H) → ReLU →
//! Dropout → Linear(H, O). Dropout sites (§1.8): the input, u_c in every chunk, after the ReLU.
//!
//! Fully causal (§1.11): every per-step op acts on one time step, the gated update fires once
//! per chunk (latency ≤ C samples) and the classifier reads h after the last, possibly short,
//! chunk; `ModelConfig::causal` therefore changes nothing. Its streaming form ([`StepNet`])
//! takes one chunk per step. Parameter count at the EEG config
//! (F = 64, n = 6, 2 circuit layers, H = 64, O = 2): 54,704 with the unified ansatz, 52,328 with
//! the legacy one, for every T and C.
use crate::nn::gated_recurrence::gated_program;
use crate::nn::step::{step_io, stream_window};
use crate::nn::{ClassifierHead, GatedActs, GatedRecurrence, HeadActs, Io, Linear, Net, StepNet};
use crate::params::ParamLayout;
use crate::prelude::*;
use crate::ModelConfig;
use qssm_kernels::backend::{Act, Backend, DropoutCfg, Infer};

/// Dropout sites: the input, u_c (inside the recurrence), after the ReLU.
const SITES: [u32; 3] = [0, 1, 2];

/// mg QuantumMambaGated.
pub struct QuantumMambaGated {
    cfg: ModelConfig,
    lay: ParamLayout,
    feature_proj: Linear,
    cgs: GatedRecurrence,
    /// `output_layer`: Linear(H, H) → ReLU → Dropout → Linear(H, K) (H_relu)
    head: ClassifierHead,
}

/// Planned buffers of one batch.
pub struct Acts<B: Infer> {
    io: Io<B>,
    /// dropout(x) (B, T, F)
    xd: B::Buf,
    mask_in: B::Buf,
    /// feature_proj output before SiLU (B, T, F)
    a: B::Buf,
    /// x_p (B, T, F)
    xp: B::Buf,
    cgs: GatedActs<B>,
    head: HeadActs<B>,
    // backward scratch
    dh: B::Buf,
    dxp: B::Buf,
    da: B::Buf,
}

impl QuantumMambaGated {
    /// Builds the layout for `cfg`: F = `n_channels`, n = `n_qubits`, circuit layers =
    /// `n_layers`, H = `hidden_dim`, C = `chunk_size`, O = `n_classes`, circuit from `ansatz`.
    pub fn new(cfg: ModelConfig) -> Self {
        let (f, h) = (cfg.n_channels, cfg.hidden_dim);
        let mut lay = ParamLayout::new();
        let feature_proj = Linear::new(&mut lay, "feature_proj", f, f, true);
        let cgs = GatedRecurrence::new(
            &mut lay,
            "gated_recurrence.",
            (f, h, cfg.chunk_size.max(1)),
            gated_program(&cfg),
            SITES[1],
        );
        let head = ClassifierHead::new(
            &mut lay,
            "output_layer",
            (h, h, cfg.n_classes),
            Act::Relu,
            SITES[2],
        );
        Self {
            cfg,
            lay,
            feature_proj,
            cgs,
            head,
        }
    }
}

impl Net for QuantumMambaGated {
    type Acts<B: Infer> = Acts<B>;
    fn id(&self) -> &'static str {
        "mg"
    }
    fn config(&self) -> &ModelConfig {
        &self.cfg
    }
    fn layout(&self) -> &ParamLayout {
        &self.lay
    }
    fn is_causal(&self) -> bool {
        true
    }
    fn plan<B: Infer>(&self, be: &B, b: usize) -> Acts<B> {
        let (f, t, h) = (self.cfg.n_channels, self.cfg.n_times, self.cfg.hidden_dim);
        let st = |w: usize| be.alloc(&[b, t, w]);
        let v = |w: usize| be.alloc(&[b, w]);
        Acts {
            io: Io::plan(be, b, &self.cfg),
            xd: st(f),
            mask_in: st(f),
            a: st(f),
            xp: st(f),
            cgs: self.cgs.plan(be, b, t),
            head: self.head.plan(be, b),
            dh: v(h),
            dxp: st(f),
            da: st(f),
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
        be.to_token_major(&mut a.xd, &a.io.x);
        if let Some(cfg) = drop {
            // feature_proj's input gradient is never needed: the mask is not used again
            be.dropout(&mut a.xd, &mut a.mask_in, cfg, SITES[0]);
        }
        self.feature_proj.forward(be, p, &a.xd, &mut a.a);
        be.act(Act::Silu, &mut a.xp, &a.a);
        self.cgs.forward(be, p, &a.xp, &mut a.cgs, drop);
        self.head
            .forward(be, p, a.cgs.h_final(), &mut a.head, &mut a.io.out, drop);
    }
    fn backward<B: Backend>(&self, be: &B, p: &B::Params, g: &mut B::Params, a: &mut Acts<B>) {
        be.fill(&mut a.dh, 0.0);
        let h = a.cgs.h_final();
        self.head
            .backward(be, p, g, h, &mut a.head, &a.io.dout, &mut a.dh);
        be.fill(&mut a.dxp, 0.0);
        self.cgs
            .backward(be, p, g, &a.xp, &mut a.cgs, &a.dh, &mut a.dxp);
        be.fill(&mut a.da, 0.0);
        be.act_bwd(Act::Silu, &mut a.da, &a.dxp, &a.a);
        self.feature_proj.backward(be, p, g, &a.xd, &a.da, None);
    }
    /// `dropout` (T, F), `feature_proj` (T, F, before the functional SiLU),
    /// `feature_proj.silu`, the `gated_recurrence*` names of [`GatedRecurrence::trace`],
    /// `output_layer.{0..3}` and `output_layer` (logits).
    fn trace<'a, B: Infer>(&self, be: &B, a: &'a mut Acts<B>) -> Vec<(String, &'a B::Buf)> {
        self.cgs.trace_views(be, &mut a.cgs);
        let a: &'a Acts<B> = a;
        let mut out = vec![
            ("dropout".to_string(), &a.xd),
            ("feature_proj".into(), &a.a),
            ("feature_proj.silu".into(), &a.xp),
        ];
        out.extend(self.cgs.trace("gated_recurrence", &a.cgs));
        out.extend(ClassifierHead::trace("output_layer", &a.head, &a.io.out));
        out
    }
    fn boundary_outputs(&self, p: &[f32], x: &[f32]) -> Option<Vec<(usize, Vec<f32>)>> {
        // causal chunk by chunk (spec gated §1.11): after chunk c the head reads h_c; the
        // streaming form
        Some(stream_window(self, p, x))
    }
}

/// Planned buffers of one streaming step (one chunk of B streams) and the state h (B, H).
pub struct Step<B: Infer> {
    io: Io<B>,
    xt: B::Buf,
    a: B::Buf,
    xp: B::Buf,
    cgs: GatedActs<B>,
    head: HeadActs<B>,
}

/// The state of mg's stream: the gated recurrence's h (B, H) (`cgs.h`).
pub struct State<B: Infer> {
    h: B::Buf,
}

impl StepNet for QuantumMambaGated {
    type State<B: Infer> = State<B>;
    type Step<B: Infer> = Step<B>;
    fn step_len(&self) -> usize {
        self.cgs.chunk()
    }
    fn plan_state<B: Infer>(&self, be: &B, b: usize) -> State<B> {
        State {
            h: be.alloc(&[b, self.cfg.hidden_dim]),
        }
    }
    fn plan_step<B: Infer>(&self, be: &B, b: usize, len: usize) -> Step<B> {
        // a partial chunk: its mean is over its true length
        let (f, cs) = (self.cfg.n_channels, len.min(self.cgs.chunk()));
        Step {
            io: step_io(be, b, &self.cfg, cs),
            xt: be.alloc(&[b, cs, f]),
            a: be.alloc(&[b, cs, f]),
            xp: be.alloc(&[b, cs, f]),
            cgs: self.cgs.plan_eval(be, b, cs),
            head: self.head.plan(be, b),
        }
    }
    fn step_io<B: Infer>(s: &mut Step<B>) -> &mut Io<B> {
        &mut s.io
    }
    fn state<B: Infer>(st: &mut State<B>) -> Vec<(String, &mut B::Buf)> {
        vec![("cgs.h".into(), &mut st.h)]
    }
    fn for_each_state<B: Infer>(st: &mut State<B>, f: &mut dyn FnMut(&mut B::Buf)) {
        f(&mut st.h);
    }
    fn step<B: Infer>(&self, be: &B, p: &B::Params, st: &mut State<B>, s: &mut Step<B>) {
        self.run_step(be, p, st, s, None);
    }
    /// The chunk mean of the first n samples as attention pooling with uniform scores
    /// ([`GatedRecurrence::step`] with a prefix).
    fn steps_prefix(&self) -> bool {
        true
    }
    fn step_prefix<B: Infer>(
        &self,
        be: &B,
        p: &B::Params,
        st: &mut State<B>,
        s: &mut Step<B>,
        n: usize,
    ) -> bool {
        self.run_step(be, p, st, s, Some(n));
        true
    }
}

impl QuantumMambaGated {
    /// A step over the whole chunk (`prefix` None) or over its first n samples.
    fn run_step<B: Infer>(
        &self,
        be: &B,
        p: &B::Params,
        st: &mut State<B>,
        s: &mut Step<B>,
        prefix: Option<usize>,
    ) {
        be.to_token_major(&mut s.xt, &s.io.x);
        self.feature_proj.forward(be, p, &s.xt, &mut s.a);
        be.act(Act::Silu, &mut s.xp, &s.a);
        self.cgs.step(be, p, &s.xp, &mut st.h, &mut s.cgs, prefix);
        self.head
            .forward(be, p, &st.h, &mut s.head, &mut s.io.out, None);
    }
}
