//! Selective state-space scan (Mamba S6 recurrence, the reference's discretisation):
//!
//! `h_t[e,n] = exp(Δ_t[e]·A[e,n])·h_{t−1}[e,n] + (Δ_t[e] if dt_on_b else 1)·B_t[n]·x_t[e]`
//! `y_t[e]   = Σ_n C_t[n]·h_t[e,n] + D[e]·x_t[e]`
//!
//! (ZOH for A, Euler for B.) `A = −exp(A_log)` is passed in already negated; it is indexed
//! `a[e·a_row_stride + n]`, so `a_row_stride = 0` gives the (N)-vector shared by all channels
//! of the QuantumSSM.py scan (1b/1c) and `a_row_stride = N` the (E, N) matrix of
//! TrueClassicalMamba/Hydra (3b/3c). Sources: Gu & Dao 2023 (Mamba), reference
//! `models/QuantumSSM.py`, `models/TrueClassicalMamba.py`.

/// Dimensions and variant of one scan.
#[derive(Clone, Copy, Debug)]
pub struct ScanDims {
    /// L: sequence length.
    pub l: usize,
    /// E: channels (`d_inner`).
    pub e: usize,
    /// N: `d_state`.
    pub n: usize,
    /// 0 when A is one (N) vector shared by all channels, N when A is (E, N).
    pub a_row_stride: usize,
    /// Whether the input term is Δ·B·x (Mamba, 1b, 3b) or B·x (3c).
    pub dt_on_b: bool,
}

/// Forward scan. x, delta, y: (L, E); bm, cm: (L, N); a: see [`ScanDims`]; d: (E);
/// `h0`: optional initial state (E, N) (zeros if `None`).
/// `hs` receives every state, (L+1, E, N) with `hs[0] = h0`, kept for the backward; the final
/// state is `hs[L]`.
pub fn scan_forward(y: &mut [f32], hs: &mut [f32], x: &[f32], delta: &[f32], a: &[f32], bm: &[f32], cm: &[f32], d: &[f32], h0: Option<&[f32]>, dims: ScanDims) {
    todo!("helper: ops")
}

/// Gradients of one scan: accumulated into, shapes as in [`scan_forward`].
pub struct ScanGrads<'a> {
    /// (L, E)
    pub dx: &'a mut [f32],
    /// (L, E)
    pub ddelta: &'a mut [f32],
    /// same shape as `a` (N or E·N)
    pub da: &'a mut [f32],
    /// (L, N)
    pub dbm: &'a mut [f32],
    /// (L, N)
    pub dcm: &'a mut [f32],
    /// (E)
    pub dd: &'a mut [f32],
    /// (E, N) gradient w.r.t. the initial state, if wanted.
    pub dh0: Option<&'a mut [f32]>,
}

/// Backward scan. `dy`: (L, E); `dh_last`: optional upstream gradient on the final state
/// (E, N) (used when the final state feeds another block, as in 1b).
pub fn scan_backward(g: ScanGrads<'_>, dy: &[f32], dh_last: Option<&[f32]>, hs: &[f32], x: &[f32], delta: &[f32], a: &[f32], bm: &[f32], cm: &[f32], d: &[f32], dims: ScanDims) {
    todo!("helper: ops")
}
