//! `ChunkedGatedSuperposition` (reference `models/QuantumGatedRecurrence.py`, spec
//! gated-and-protocols §1.5) for inference, the sequence mixer of `mg` and `hg`:
//!
//! x (T, F) → per time step q_t = QSB(x_t) ([`QsbQgr`], Q = 3n) → per chunk
//! c = [cC, min((c+1)C, T)) (no padding: the last chunk may be short and is averaged over its
//! true length) μ_c = mean_t q_t → u_c = SiLU(LN(W_a·μ_c + b_a)) (H) → z = [h_{c−1}; u_c] (2H) →
//! f, i, o = σ(W_{f,i,o}·z + b), g = tanh(W_g·z + b) → h_c = o ⊙ tanh(f ⊙ h_{c−1} + i ⊙ g)
//! ([`gated_cell_forward`]), h_0 = 0. Output h_{n_c} (H).
//!
//! Tensors under `<prefix>`: `quantum_superposition.*`, `chunk_agg.0` (Linear(Q, H)),
//! `chunk_agg.1` (LayerNorm(H)), `{forget_gate,input_gate,output_gate,candidate}.0`
//! (Linear(2H, H)).
//!
//! Recurrent mode (streaming, spec §1.11: causal chunk by chunk): the state is h (H) and the
//! running sum of the current chunk's q_t (Q); [`GatedRecurrence::step`] adds one time step
//! and closes the chunk when it is complete, [`GatedRecurrence::peek`] gives the h the window
//! path would end with after any number of steps (a partial last chunk closed tentatively, in
//! scratch). Nothing is allocated.
use super::layers::{LayerNorm, Linear};
use super::qsb_qgr::QsbQgr;
use crate::error::EngineError;
use crate::weights::Loader;
use alloc::format;
use qssm_kernels::circuit::Program;
use qssm_kernels::ops::activation::silu_forward;
use qssm_kernels::ops::gated::gated_cell_forward;

/// Gate names in the order of the kernel's pre-activation rows `[a_f; a_i; a_o; a_g]`.
const GATES: [&str; 4] = ["forget_gate", "input_gate", "output_gate", "candidate"];

/// The chunked gated recurrence over inputs of width F, hidden size H, chunk size C.
#[derive(Clone, Debug)]
pub(crate) struct GatedRecurrence {
    qsb: QsbQgr,
    agg: Linear,
    agg_ln: LayerNorm,
    gates: [Linear; 4],
    /// Q = 3n
    q: usize,
    h: usize,
    chunk: usize,
}

impl GatedRecurrence {
    /// Loads the tensors under `prefix` (e.g. `gated_recurrence.`) for input width `f`, hidden
    /// size `h`, chunk size `chunk` ≥ 1 and the circuit `program`.
    pub(crate) fn load(
        ld: &mut Loader<'_, '_>,
        prefix: &str,
        f: usize,
        h: usize,
        chunk: usize,
        program: Program,
    ) -> Result<Self, EngineError> {
        let qsb = QsbQgr::load(ld, &format!("{prefix}quantum_superposition."), f, program)?;
        let q = qsb.out_dim();
        let agg = Linear::load(ld, &format!("{prefix}chunk_agg.0"), q, h, true)?;
        let agg_ln = LayerNorm::load(ld, &format!("{prefix}chunk_agg.1"), h)?;
        let [g0, g1, g2, g3] = GATES;
        let gates = [
            Linear::load(ld, &format!("{prefix}{g0}.0"), 2 * h, h, true)?,
            Linear::load(ld, &format!("{prefix}{g1}.0"), 2 * h, h, true)?,
            Linear::load(ld, &format!("{prefix}{g2}.0"), 2 * h, h, true)?,
            Linear::load(ld, &format!("{prefix}{g3}.0"), 2 * h, h, true)?,
        ];
        Ok(Self {
            qsb,
            agg,
            agg_ln,
            gates,
            q,
            h,
            chunk,
        })
    }

    /// Floats of recurrent state: h (H), then the running sum of q_t over the current chunk (Q).
    pub(crate) fn state_len(&self) -> usize {
        self.h + self.q
    }

    /// Floats of scratch [`Self::step`] and [`Self::peek`] need.
    pub(crate) fn step_scratch_len(&self) -> usize {
        // q_t (Q) or the tentative (h, μ) (H + Q), then the QSB's or the chunk update's own
        self.h + self.q + self.qsb.scratch_len().max(self.close_scratch_len())
    }

    /// Consumes time step `t` (0-based since the zero state): x (F), the model's input to the
    /// recurrence at that step. Adds q_t to the chunk sum and, when the chunk is complete
    /// ((t+1) mod C = 0), advances h and clears the sum. `scratch` ≥
    /// [`Self::step_scratch_len`]. No allocation.
    pub(crate) fn step(&self, x: &[f32], t: u64, state: &mut [f32], scratch: &mut [f32]) {
        let (h, rest) = state.split_at_mut(self.h);
        let sum = &mut rest[..self.q];
        let (qt, rest) = scratch.split_at_mut(self.h + self.q);
        let qt = &mut qt[..self.q];
        self.qsb.apply_one(qt, x, rest);
        sum.iter_mut().zip(qt.iter()).for_each(|(a, b)| *a += b);
        if (t + 1).is_multiple_of(self.chunk as u64) {
            self.close_chunk(h, sum, self.chunk, rest);
            sum.fill(0.0);
        }
    }

    /// h after `t ≥ 1` steps, as the window path over those t steps ends: the state's h at a
    /// chunk boundary, otherwise h advanced (in scratch) by the partial chunk of t mod C steps.
    /// The state is unchanged. No allocation.
    pub(crate) fn peek<'s>(&self, t: u64, state: &[f32], scratch: &'s mut [f32]) -> &'s [f32] {
        let (hs, rest) = scratch.split_at_mut(self.h);
        let (mu, rest) = rest.split_at_mut(self.q);
        hs.copy_from_slice(&state[..self.h]);
        let len = (t % self.chunk as u64) as usize;
        if len > 0 {
            mu.copy_from_slice(&state[self.h..self.h + self.q]);
            self.close_chunk(hs, mu, len, rest);
        }
        hs
    }

    /// Floats of scratch [`Self::close_chunk`] needs: a (H), z = [h; u] (2H), pre (4H),
    /// gates (4H), tanh(cell) (H).
    fn close_scratch_len(&self) -> usize {
        12 * self.h
    }

    /// Ends a chunk of `len` steps whose q_t sum to `sum` (Q; scaled in place to μ): h ← the
    /// gated update of h with u = SiLU(LN(agg(μ))). No allocation.
    fn close_chunk(&self, h: &mut [f32], sum: &mut [f32], len: usize, scratch: &mut [f32]) {
        let hd = self.h;
        let inv = 1.0 / len as f32;
        sum.iter_mut().for_each(|v| *v *= inv);
        let (a, rest) = scratch.split_at_mut(hd);
        let (z, rest) = rest.split_at_mut(2 * hd);
        let (pre, rest) = rest.split_at_mut(4 * hd);
        let (gates, rest) = rest.split_at_mut(4 * hd);
        let tc = &mut rest[..hd];
        self.agg.apply_one(a, sum);
        let (zh, zu) = z.split_at_mut(hd);
        self.agg_ln.apply_one(zu, a);
        a.copy_from_slice(zu);
        silu_forward(zu, a);
        zh.copy_from_slice(h);
        for (lin, out) in self.gates.iter().zip(pre.chunks_exact_mut(hd)) {
            lin.apply_one(out, z);
        }
        // h_c = o ⊙ tanh(f ⊙ h_{c−1} + i ⊙ g): h_{c−1} is still in z[..H]
        gated_cell_forward(h, gates, tc, pre, &z[..hd]);
    }
}
