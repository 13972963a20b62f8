//! A Linear followed by a bounded element-wise map, written once over the backend: the
//! per-chunk angle and step-size heads of the group-4 models (spec groups-2-4 §2.5,
//! §3.7–3.11; reference `models/QuantumE2E.py`, `models/QuantumE2E_Superposition.py`):
//!
//! * [`AngleMap::PiTanh`]: `torch.tanh(lin(s)) * np.pi` — `encoding_proj` (embedding angles a)
//!   and `input_injection_proj` (injection angles inj), in (−π, π) rad;
//! * [`AngleMap::Sigmoid`]: `torch.sigmoid(lin(s))` — `dt_proj` (rotation scales dt ∈ (0, 1)).
//!
//! Rows: s (B, L, D) → raw (B, L, O) (the Linear output, the reference's `act.<name>`) → out.
use super::linear::Linear;
use crate::params::ParamLayout;
use qssm_kernels::backend::{Act, Backend, Infer};

const PI_F32: f32 = core::f32::consts::PI;

/// The element-wise map after the Linear.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AngleMap {
    /// π·tanh(x)
    PiTanh,
    /// σ(x)
    Sigmoid,
}

/// `<name>` Linear(D→O) → [`AngleMap`].
#[derive(Clone, Debug)]
pub struct AngleProj {
    lin: Linear,
    map: AngleMap,
}

/// Planned activations of an [`AngleProj`] for (B, L).
pub struct AngleActs<B: Infer> {
    /// Linear output (B, L, O)
    pub raw: B::Buf,
    /// tanh(raw) (PiTanh) or σ(raw) (Sigmoid)
    act: B::Buf,
    /// the mapped output (B, L, O): angles in rad, or scales
    pub out: B::Buf,
    d1: B::Buf,
    d2: B::Buf,
}

impl AngleProj {
    /// Registers `<name>.{weight,bias}` (O, D) with PyTorch's default init.
    pub fn new(lay: &mut ParamLayout, name: &str, d: usize, o: usize, map: AngleMap) -> Self {
        Self {
            lin: Linear::new(lay, name, d, o, true),
            map,
        }
    }

    /// Output width O.
    pub fn width(&self) -> usize {
        self.lin.d_out()
    }

    /// Buffers for (B, L).
    pub fn plan<B: Infer>(&self, be: &B, b: usize, l: usize) -> AngleActs<B> {
        let s = || be.alloc(&[b, l, self.width()]);
        AngleActs {
            raw: s(),
            act: s(),
            out: s(),
            d1: s(),
            d2: s(),
        }
    }

    /// s (B, L, D) → `a.out`.
    pub fn forward<B: Infer>(&self, be: &B, p: &B::Params, s: &B::Buf, a: &mut AngleActs<B>) {
        self.lin.forward(be, p, s, &mut a.raw);
        match self.map {
            AngleMap::PiTanh => {
                be.act(Act::Tanh, &mut a.act, &a.raw);
                be.scale(&mut a.out, &a.act, PI_F32);
            }
            AngleMap::Sigmoid => {
                be.act(Act::Sigmoid, &mut a.act, &a.raw);
                be.copy(&mut a.out, &a.act);
            }
        }
    }

    /// Backward from d out: accumulates the Linear's parameter gradients into `g` and ds.
    #[allow(clippy::too_many_arguments)]
    pub fn backward<B: Backend>(
        &self,
        be: &B,
        p: &B::Params,
        g: &mut B::Params,
        s: &B::Buf,
        a: &mut AngleActs<B>,
        dout: &B::Buf,
        ds: &mut B::Buf,
    ) {
        be.fill(&mut a.d2, 0.0);
        match self.map {
            AngleMap::PiTanh => {
                be.scale(&mut a.d1, dout, PI_F32);
                be.act_bwd(Act::Tanh, &mut a.d2, &a.d1, &a.act);
            }
            AngleMap::Sigmoid => be.act_bwd(Act::Sigmoid, &mut a.d2, dout, &a.act),
        }
        self.lin.backward(be, p, g, s, &a.d2, Some(ds));
    }
}
