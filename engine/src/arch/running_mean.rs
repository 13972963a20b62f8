//! The running mean of a stream of rows (D), for the mean pools of the streamed models (3b over
//! samples, causal 1b over chunks): a Kahan-compensated sum held as two state vectors, sum (D)
//! and compensation (D), so `sum − comp` is the exact running sum to ~1 ulp however long the
//! stream; the mean of n rows is `(sum − comp)·(1/n)`, the window path's order (sum, then
//! × 1/L). No allocation.

/// Adds row `v` (D) to the compensated sum (`sum`, `comp`: D each).
pub(crate) fn add(sum: &mut [f32], comp: &mut [f32], v: &[f32]) {
    for ((s, c), &x) in sum.iter_mut().zip(comp.iter_mut()).zip(v) {
        let y = x - *c;
        let next = *s + y;
        *c = (next - *s) - y;
        *s = next;
    }
}

/// The mean of the `n ≥ 1` rows summed in (`sum`, `comp`), written into `out` (D).
pub(crate) fn mean(out: &mut [f32], sum: &[f32], comp: &[f32], n: u64) {
    let inv = 1.0 / n as f32;
    for ((o, &s), &c) in out.iter_mut().zip(sum).zip(comp) {
        *o = (s - c) * inv;
    }
}
