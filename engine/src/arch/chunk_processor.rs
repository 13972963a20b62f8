//! `ChunkedQuantumProcessor` (reference `models/QuantumSSM.py`, spec §2.5) for inference:
//! zero-pad u (T, F) to nc·cs rows at the end of time (nc = ⌈T/cs⌉), score every row with
//! `chunk_attention` = Linear(F, F/2) → tanh → Linear(F/2, 1), softmax-pool each chunk of cs
//! rows (**pad rows included**, as in the reference: they score a constant and dilute the last
//! chunk), run the [`QsbQssm`] branches on each chunk summary, then `output_proj` =
//! Linear(9Q, D) → LayerNorm(D) → SiLU. Output (nc, D).
use super::layers::{LayerNorm, Linear};
use super::qsb::QsbQssm;
use crate::error::EngineError;
use crate::weights::Loader;
use alloc::format;
use alloc::vec;
use alloc::vec::Vec;
use qssm_kernels::ops::activation::{silu_forward, tanh_forward};
use qssm_kernels::ops::chunk_pool::chunk_pool_forward;

/// The chunk processor over input width F, chunk size cs, output width D.
#[derive(Clone, Debug)]
pub(crate) struct ChunkProcessor {
    cs: usize,
    f: usize,
    att0: Linear,
    att2: Linear,
    qsb: QsbQssm,
    out0: Linear,
    out_ln: LayerNorm,
}

impl ChunkProcessor {
    /// Loads `<prefix>chunk_attention.{0,2}`, `<prefix>quantum_branches.*`,
    /// `<prefix>output_proj.{0,1}` for Q qubits and `n_layers` circuit layers.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn load(
        ld: &mut Loader<'_, '_>,
        prefix: &str,
        f: usize,
        d: usize,
        cs: usize,
        q: usize,
        n_layers: usize,
    ) -> Result<Self, EngineError> {
        let att0 = Linear::load(ld, &format!("{prefix}chunk_attention.0"), f, f / 2, true)?;
        let att2 = Linear::load(ld, &format!("{prefix}chunk_attention.2"), f / 2, 1, true)?;
        let qsb = QsbQssm::load(ld, &format!("{prefix}quantum_branches."), f, q, n_layers)?;
        let out0 = Linear::load(
            ld,
            &format!("{prefix}output_proj.0"),
            qsb.out_dim(),
            d,
            true,
        )?;
        let out_ln = LayerNorm::load(ld, &format!("{prefix}output_proj.1"), d)?;
        Ok(Self {
            cs,
            f,
            att0,
            att2,
            qsb,
            out0,
            out_ln,
        })
    }

    /// Number of chunks ⌈T/cs⌉.
    pub(crate) fn n_chunks(&self, t: usize) -> usize {
        t.div_ceil(self.cs)
    }

    /// u (T, F) → (nc, D). `mask_pad`: the causal variant, whose pad rows get no softmax
    /// weight (score −∞) instead of the reference's constant score.
    pub(crate) fn apply(&self, u: &[f32], t: usize, mask_pad: bool) -> Vec<f32> {
        let (cs, f) = (self.cs, self.f);
        let nc = self.n_chunks(t);
        let rows = nc * cs;
        let mut up = vec![0.0; rows * f];
        up[..t * f].copy_from_slice(&u[..t * f]);
        let a1 = self.att0.apply(&up, rows);
        let mut t1 = vec![0.0; a1.len()];
        tanh_forward(&mut t1, &a1);
        let mut scores = self.att2.apply(&t1, rows);
        if mask_pad {
            scores[t..].iter_mut().for_each(|v| *v = f32::NEG_INFINITY);
        }
        let (mut s, mut wts) = (vec![0.0; nc * f], vec![0.0; rows]);
        chunk_pool_forward(&mut s, &mut wts, &up, &scores, nc, cs, f);
        let qv = self.qsb.apply(&s, nc);
        let o0 = self.out0.apply(&qv, nc);
        let o1 = self.out_ln.apply(&o0, nc);
        let mut out = vec![0.0; o1.len()];
        silu_forward(&mut out, &o1);
        out
    }
}
