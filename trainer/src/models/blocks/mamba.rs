//! Mamba block, shared by 1b (`MambaBlock` of `models/QuantumSSM.py`, spec §3.4) and 3b
//! (`MambaBlock` of `models/TrueClassicalMamba.py`, spec §3.6):
//!
//! `[v = RMSNorm(u)]; x ‖ z = in_proj(v); x = SiLU(conv1d(x)); y = SSM(x); out = out_proj(y ⊙ SiLU(z)) [+ u]`
//!
//! 1b: no pre-norm (its `norm` LayerNorm is constructed but unused), no inner residual, SSM of
//! the QuantumSSM.py flavour whose initial state can come from the previous block.
//! 3b: RMSNorm pre-norm, residual inside, SSM of the TrueClassicalMamba.py flavour.
use super::conv::CausalConv;
use super::linear::Linear;
use super::norm::{LayerNorm, NormCache, RmsNorm};
use super::ssm::{dt_rank_ceil, SelectiveSsm, SsmCache, SsmNames};
use crate::params::ParamLayout;
use qssm_kernels::ops::activation::{silu_backward, silu_forward};

/// One Mamba block over sequences of width D (`d_model`) with inner width E (`d_inner`).
#[derive(Clone, Debug)]
pub struct MambaBlock {
    norm: Option<RmsNorm>,
    in_proj: Linear,
    conv: CausalConv,
    ssm: SelectiveSsm,
    out_proj: Linear,
    residual: bool,
    d: usize,
    e: usize,
}

/// Activations saved by [`MambaBlock::forward`] (one sample).
#[derive(Clone, Debug, Default)]
pub struct MambaBlockCache {
    v: Vec<f32>,
    norm: NormCache,
    xz: Vec<f32>,
    xin: Vec<f32>,
    conv: Vec<f32>,
    xc: Vec<f32>,
    z: Vec<f32>,
    sz: Vec<f32>,
    /// the SSM's cache (its states give the final state)
    pub ssm: SsmCache,
    y: Vec<f32>,
    gated: Vec<f32>,
}

impl MambaBlock {
    /// 1b's block `mamba_layers.i` (QuantumSSM.py): d_conv 4, dt_rank E/16, A_log (N) shared.
    pub fn quantum_ssm(lay: &mut ParamLayout, prefix: &str, d: usize, e: usize, n: usize) -> Self {
        let in_proj = Linear::new(lay, &format!("{prefix}.in_proj"), d, 2 * e, false);
        let conv = CausalConv::new(lay, &format!("{prefix}.conv1d"), e, 4);
        let names = [
            format!("{prefix}.ssm.x_proj"),
            format!("{prefix}.ssm.dt_proj"),
            format!("{prefix}.ssm.A_log"),
            format!("{prefix}.ssm.D"),
            format!("{prefix}.ssm.out_proj"),
        ];
        let ssm = SelectiveSsm::new(
            lay,
            SsmNames {
                x_proj: &names[0],
                dt_proj: &names[1],
                a_log: &names[2],
                d: &names[3],
                out_proj: Some(&names[4]),
            },
            e,
            n,
            e / 16,
            true,
            0.0,
        );
        let out_proj = Linear::new(lay, &format!("{prefix}.out_proj"), e, d, false);
        LayerNorm::register_unused(lay, &format!("{prefix}.norm"), d);
        Self {
            norm: None,
            in_proj,
            conv,
            ssm,
            out_proj,
            residual: false,
            d,
            e,
        }
    }

    /// 3b's block `layers.i` (TrueClassicalMamba.py): RMSNorm pre-norm, d_conv 4,
    /// dt_rank ⌈D/16⌉, A_log (E, N), residual inside.
    pub fn true_classical(
        lay: &mut ParamLayout,
        prefix: &str,
        d: usize,
        e: usize,
        n: usize,
    ) -> Self {
        let in_proj = Linear::new(lay, &format!("{prefix}.in_proj"), d, 2 * e, false);
        let names = [
            format!("{prefix}.x_proj"),
            format!("{prefix}.ssm.dt_proj"),
            format!("{prefix}.ssm.A_log"),
            format!("{prefix}.ssm.D"),
        ];
        let ssm = SelectiveSsm::new(
            lay,
            SsmNames {
                x_proj: &names[0],
                dt_proj: &names[1],
                a_log: &names[2],
                d: &names[3],
                out_proj: None,
            },
            e,
            n,
            dt_rank_ceil(d),
            false,
            1e-4,
        );
        let conv = CausalConv::new(lay, &format!("{prefix}.conv1d"), e, 4);
        let out_proj = Linear::new(lay, &format!("{prefix}.out_proj"), e, d, false);
        let norm = RmsNorm::new(lay, &format!("{prefix}.norm"), d);
        Self {
            norm: Some(norm),
            in_proj,
            conv,
            ssm,
            out_proj,
            residual: true,
            d,
            e,
        }
    }

    /// Size E·N of the SSM state.
    pub fn state_len(&self) -> usize {
        self.ssm.state_len()
    }

    /// u (L, D) → out (L, D); `h0` (E, N) initial SSM state (zeros if `None`).
    /// The final state is `c.ssm.final_state(l, E·N)`.
    pub fn forward(
        &self,
        p: &[f32],
        u: &[f32],
        l: usize,
        h0: Option<&[f32]>,
        c: &mut MambaBlockCache,
    ) -> Vec<f32> {
        let (d, e) = (self.d, self.e);
        let v: &[f32] = match &self.norm {
            Some(norm) => {
                c.v = vec![0.0; l * d];
                norm.forward(p, u, l, &mut c.v, &mut c.norm);
                &c.v
            }
            None => u,
        };
        c.xz = self.in_proj.apply(p, v, l);
        c.xin = vec![0.0; l * e];
        c.z = vec![0.0; l * e];
        for t in 0..l {
            c.xin[t * e..(t + 1) * e].copy_from_slice(&c.xz[t * 2 * e..t * 2 * e + e]);
            c.z[t * e..(t + 1) * e].copy_from_slice(&c.xz[t * 2 * e + e..(t + 1) * 2 * e]);
        }
        c.conv = vec![0.0; l * e];
        self.conv.forward(p, &c.xin, l, &mut c.conv);
        c.xc = vec![0.0; l * e];
        silu_forward(&mut c.xc, &c.conv);
        c.y = vec![0.0; l * e];
        self.ssm.forward(p, &c.xc, l, h0, &mut c.ssm, &mut c.y);
        c.sz = vec![0.0; l * e];
        silu_forward(&mut c.sz, &c.z);
        c.gated = c.y.iter().zip(&c.sz).map(|(a, b)| a * b).collect();
        let mut out = self.out_proj.apply(p, &c.gated, l);
        if self.residual {
            out.iter_mut().zip(u).for_each(|(o, x)| *o += x);
        }
        out
    }

    /// Backward of [`Self::forward`]: accumulates parameter gradients into `g` and du (L, D);
    /// `dh_last` is the upstream gradient on the final SSM state, `dh0` receives the gradient
    /// w.r.t. `h0`.
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &self,
        p: &[f32],
        g: &mut [f32],
        u: &[f32],
        l: usize,
        c: &MambaBlockCache,
        dout: &[f32],
        dh_last: Option<&[f32]>,
        du: &mut [f32],
        dh0: Option<&mut [f32]>,
    ) {
        let (d, e) = (self.d, self.e);
        if self.residual {
            du.iter_mut().zip(dout).for_each(|(a, b)| *a += b);
        }
        let mut dgated = vec![0.0; l * e];
        self.out_proj
            .backward(p, g, &c.gated, dout, l, Some(&mut dgated));
        let dy: Vec<f32> = dgated.iter().zip(&c.sz).map(|(a, b)| a * b).collect();
        let dsz: Vec<f32> = dgated.iter().zip(&c.y).map(|(a, b)| a * b).collect();
        let mut dz = vec![0.0; l * e];
        silu_backward(&mut dz, &dsz, &c.z);
        let mut dxc = vec![0.0; l * e];
        self.ssm
            .backward(p, g, &c.xc, l, &c.ssm, &dy, dh_last, &mut dxc, dh0);
        let mut dconv = vec![0.0; l * e];
        silu_backward(&mut dconv, &dxc, &c.conv);
        let mut dxin = vec![0.0; l * e];
        self.conv.backward(p, g, &c.xin, &dconv, l, &mut dxin);
        let mut dxz = vec![0.0; l * 2 * e];
        for t in 0..l {
            dxz[t * 2 * e..t * 2 * e + e].copy_from_slice(&dxin[t * e..(t + 1) * e]);
            dxz[t * 2 * e + e..(t + 1) * 2 * e].copy_from_slice(&dz[t * e..(t + 1) * e]);
        }
        match &self.norm {
            Some(norm) => {
                let mut dv = vec![0.0; l * d];
                self.in_proj.backward(p, g, &c.v, &dxz, l, Some(&mut dv));
                norm.backward(p, g, u, &dv, l, &c.norm, du);
            }
            None => self.in_proj.backward(p, g, u, &dxz, l, Some(du)),
        }
    }
}
