//! The small MLP heads of the group-2/4 models, written once over the backend (spec groups-2-4
//! §3, "Shared heads"):
//!
//! * **OP_k** ([`OutputProj`], its own module: other models use the same block under other
//!   names);
//! * [`ClassifierHead`] **H_silu** (Linear(D→D/2) → SiLU → Dropout → Linear(D/2→K)) and
//!   **H_relu** (Linear(D→D) → ReLU → Dropout → Linear(D→K)), on (B, D);
//! * [`SeqPoolHead`]: per-chunk measurements q (B, nc, k) → OP_k → SeqPool (`seq_attention`,
//!   Pool_{D/4} over the nc chunk features) → H_silu (`classifier`); streamed chunk by chunk
//!   by [`SeqPoolHead::step`].
use super::attention_pool::{AttentionPool, PoolActs, SoftmaxPoolState};
use super::linear::Linear;
use super::output_proj::{OutputProj, OutputProjActs};
use crate::params::ParamLayout;
use crate::prelude::*;
use qssm_kernels::backend::cpu::Cpu;
use qssm_kernels::backend::{Act, Backend, DropoutCfg, Infer};

/// H_silu / H_relu (see the module docs).
#[derive(Clone, Debug)]
pub struct ClassifierHead {
    l0: Linear,
    l3: Linear,
    act: Act,
    site: u32,
}

/// Planned activations of a [`ClassifierHead`] for B rows.
pub struct HeadActs<B: Infer> {
    /// `<name>.0` output (B, H)
    pub pre: B::Buf,
    /// after the activation (B, H)
    pub act: B::Buf,
    /// after dropout (B, H)
    pub hidden: B::Buf,
    mask: B::Buf,
    dropped: bool,
    dh: B::Buf,
    dpre: B::Buf,
}

impl ClassifierHead {
    /// Registers `<name>.0` (D → H) and `<name>.3` (H → K); `act` is [`Act::Silu`] or
    /// [`Act::Relu`]; `site` names its dropout site.
    pub fn new(
        lay: &mut ParamLayout,
        name: &str,
        (d, h, k): (usize, usize, usize),
        act: Act,
        site: u32,
    ) -> Self {
        Self {
            l0: Linear::new(lay, &format!("{name}.0"), d, h, true),
            l3: Linear::new(lay, &format!("{name}.3"), h, k, true),
            act,
            site,
        }
    }

    /// Buffers for B rows.
    pub fn plan<B: Infer>(&self, be: &B, b: usize) -> HeadActs<B> {
        let s = || be.alloc(&[b, self.l0.d_out()]);
        HeadActs {
            pre: s(),
            act: s(),
            hidden: s(),
            mask: s(),
            dropped: false,
            dh: s(),
            dpre: s(),
        }
    }

    /// x (B, D) → y (B, K).
    pub fn forward<B: Infer>(
        &self,
        be: &B,
        p: &B::Params,
        x: &B::Buf,
        a: &mut HeadActs<B>,
        y: &mut B::Buf,
        drop: Option<DropoutCfg<'_>>,
    ) {
        self.l0.forward(be, p, x, &mut a.pre);
        be.act(self.act, &mut a.act, &a.pre);
        be.copy(&mut a.hidden, &a.act);
        a.dropped = drop.is_some();
        if let Some(cfg) = drop {
            be.dropout(&mut a.hidden, &mut a.mask, cfg, self.site);
        }
        self.l3.forward(be, p, &a.hidden, y);
    }

    /// Accumulates parameter gradients and dx (B, D) from dy (B, K).
    #[allow(clippy::too_many_arguments)]
    pub fn backward<B: Backend>(
        &self,
        be: &B,
        p: &B::Params,
        g: &mut B::Params,
        x: &B::Buf,
        a: &mut HeadActs<B>,
        dy: &B::Buf,
        dx: &mut B::Buf,
    ) {
        be.fill(&mut a.dh, 0.0);
        self.l3.backward(be, p, g, &a.hidden, dy, Some(&mut a.dh));
        if a.dropped {
            be.mul(&mut a.dpre, &a.dh, &a.mask);
            core::mem::swap(&mut a.dh, &mut a.dpre);
        }
        be.fill(&mut a.dpre, 0.0);
        be.act_bwd(self.act, &mut a.dpre, &a.dh, &a.pre);
        self.l0.backward(be, p, g, x, &a.dpre, Some(dx));
    }

    /// The reference's `act.*` of the head `name` (an `nn.Sequential`): `<name>.0`
    /// (pre-activation), `<name>.1` (activation), `<name>.2` (after the dropout), each (B, H);
    /// `<name>.3` and `<name>` are the outputs `y` of the forward (B, K).
    pub fn trace<'a, B: Infer>(
        name: &str,
        a: &'a HeadActs<B>,
        y: &'a B::Buf,
    ) -> Vec<(String, &'a B::Buf)> {
        vec![
            (format!("{name}.0"), &a.pre),
            (format!("{name}.1"), &a.act),
            (format!("{name}.2"), &a.hidden),
            (format!("{name}.3"), y),
            (name.to_string(), y),
        ]
    }
}

/// OP_k → SeqPool → H_silu (see the module docs).
#[derive(Clone, Debug)]
pub struct SeqPoolHead {
    op: OutputProj,
    seq: AttentionPool,
    head: ClassifierHead,
    d: usize,
}

/// Planned activations of a [`SeqPoolHead`] for (B, nc).
pub struct SeqPoolActs<B: Infer> {
    /// OP_k
    pub op: OutputProjActs<B>,
    /// SeqPool; its `out` (B, 1, D) is the pooled feature
    pub seq: PoolActs<B>,
    /// H_silu
    pub head: HeadActs<B>,
    dpooled: B::Buf,
    df: B::Buf,
}

impl SeqPoolHead {
    /// Registers `output_proj.{0,1}` (k → D), `seq_attention.{0,2}` (D → D/4 → 1) and
    /// `classifier.{0,3}` (D → D/2 → n_out); dropout sites `sites` (OP_k, classifier).
    pub fn new(lay: &mut ParamLayout, k: usize, d: usize, n_out: usize, sites: [u32; 2]) -> Self {
        let op = OutputProj::new(lay, "output_proj", k, d, sites[0]);
        let seq = AttentionPool::whole(lay, "seq_attention", d, d / 4);
        let head = ClassifierHead::new(lay, "classifier", (d, d / 2, n_out), Act::Silu, sites[1]);
        Self { op, seq, head, d }
    }

    /// Buffers for (B, nc).
    pub fn plan<B: Infer>(&self, be: &B, b: usize, nc: usize) -> SeqPoolActs<B> {
        SeqPoolActs {
            op: self.op.plan(be, b, nc),
            seq: self.seq.plan(be, b, nc),
            head: self.head.plan(be, b),
            dpooled: be.alloc(&[b, 1, self.d]),
            df: be.alloc(&[b, nc, self.d]),
        }
    }

    /// q (B, nc, k) → outputs y (B, n_out).
    pub fn forward<B: Infer>(
        &self,
        be: &B,
        p: &B::Params,
        q: &B::Buf,
        a: &mut SeqPoolActs<B>,
        y: &mut B::Buf,
        drop: Option<DropoutCfg<'_>>,
    ) {
        self.op.forward(be, p, q, &mut a.op, drop);
        self.seq.forward(be, p, &a.op.out, &mut a.seq);
        self.head.forward(be, p, &a.seq.out, &mut a.head, y, drop);
    }

    /// The state of the streamed SeqPool of [`Self::step`] for `b` streams (`seq_attention.*`).
    pub fn plan_state<B: Infer>(&self, be: &B, b: usize) -> SoftmaxPoolState<B> {
        SoftmaxPoolState::plan(be, b, self.d)
    }

    /// Streaming form of [`Self::forward`] (eval mode): the next chunks' measurements q (B, L,
    /// k) (`a` planned for L) advance the SeqPool over every chunk so far, `st`, and y (B,
    /// n_out) ← the outputs over every chunk so far (the forward's over those chunks, to
    /// rounding).
    pub fn step<B: Infer>(
        &self,
        be: &B,
        p: &B::Params,
        q: &B::Buf,
        a: &mut SeqPoolActs<B>,
        st: &mut SoftmaxPoolState<B>,
        y: &mut B::Buf,
    ) {
        self.op.forward(be, p, q, &mut a.op, None);
        self.seq.step(be, p, &a.op.out, &mut a.seq, st);
        self.head.forward(be, p, &a.seq.out, &mut a.head, y, None);
    }

    /// Accumulates parameter gradients and dq (B, nc, k) from dy (B, n_out).
    #[allow(clippy::too_many_arguments)]
    pub fn backward<B: Backend>(
        &self,
        be: &B,
        p: &B::Params,
        g: &mut B::Params,
        q: &B::Buf,
        a: &mut SeqPoolActs<B>,
        dy: &B::Buf,
        dq: &mut B::Buf,
    ) {
        be.fill(&mut a.dpooled, 0.0);
        self.head
            .backward(be, p, g, &a.seq.out, &mut a.head, dy, &mut a.dpooled);
        be.fill(&mut a.df, 0.0);
        self.seq
            .backward(be, p, g, &mut a.seq, &a.dpooled, &mut a.df);
        self.op.backward(be, p, g, q, &mut a.op, &a.df, Some(dq));
    }

    /// The reference's `act.*` of the tail: `output_proj.{0,1,2,3}` and `output_proj`
    /// (nc, D); `seq_attention.{0,1}` (nc, D/4), `seq_attention.2` and `seq_attention` (nc)
    /// scores; `classifier.{0,1,2}` (D/2); `classifier.3` and `classifier` are the outputs,
    /// `y` of the forward.
    pub fn trace<'a, B: Infer>(
        &self,
        a: &'a SeqPoolActs<B>,
        y: &'a B::Buf,
    ) -> Vec<(String, &'a B::Buf)> {
        let mut out = vec![
            ("output_proj.0".to_string(), &a.op.o0),
            ("output_proj.1".into(), &a.op.ln.y),
            ("output_proj.2".into(), a.op.silu()),
            ("output_proj.3".into(), &a.op.out),
            ("output_proj".into(), &a.op.out),
        ];
        out.extend(self.seq.trace("seq_attention", &a.seq));
        out.extend(ClassifierHead::trace("classifier", &a.head, y));
        out
    }

    /// Eval-mode outputs over the first k chunk features, k = 1..=nc (what a chunk-wise stream
    /// emits at each chunk boundary), from the features `f` (nc, D) of one eval forward, on
    /// the CPU; the last equals the full forward's output.
    pub fn prefix_outputs(&self, p: &[f32], f: &[f32], n_out: usize) -> Vec<Vec<f32>> {
        let nc = f.len() / self.d.max(1);
        (1..=nc)
            .map(|k| {
                let mut fa = Cpu.alloc(&[1, k, self.d]);
                Cpu.upload(&mut fa, &f[..k * self.d]);
                let mut s = self.seq.plan(&Cpu, 1, k);
                self.seq.forward(&Cpu, p, &fa, &mut s);
                let mut h = self.head.plan(&Cpu, 1);
                let mut y = Cpu.alloc(&[1, n_out]);
                self.head.forward(&Cpu, p, &s.out, &mut h, &mut y, None);
                y.as_slice().to_vec()
            })
            .collect()
    }
}
