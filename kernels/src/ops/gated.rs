//! The elementwise cell of the chunked gated recurrence (reference
//! `models/QuantumGatedRecurrence.py`, `ChunkedGatedSuperposition.forward`; spec
//! gated-and-protocols §1.5 step 5–6): a GRU/LSTM hybrid with no separate cell state,
//!
//! f, i, o = σ(a_f), σ(a_i), σ(a_o); g = tanh(a_g); h = o ⊙ tanh(f ⊙ h_prev + i ⊙ g).
//!
//! The four gate pre-activations a = [a_f; a_i; a_o; a_g] (4, H) come from the caller's four
//! `Linear(2H, H)` layers on z = [h_prev; u]; this op is only the elementwise part. H hidden.

use super::fastmath::{sigmoid_f32 as sigmoid, tanh_f32};

/// Forward of the gated cell. `pre` (4, H): pre-activations `[a_f; a_i; a_o; a_g]`;
/// `h_prev` (H). Writes `gates` (4, H) = `[f; i; o; g]` (saved for the backward), `tc` (H) =
/// tanh(f ⊙ h_prev + i ⊙ g) (saved) and `h` (H) = o ⊙ tc. H = `h_prev.len()`.
///
/// Panics if a slice is shorter than its shape.
pub fn gated_cell_forward(
    h: &mut [f32],
    gates: &mut [f32],
    tc: &mut [f32],
    pre: &[f32],
    h_prev: &[f32],
) {
    let hd = h_prev.len();
    assert!(pre.len() >= 4 * hd, "gated_cell_forward: pre too short");
    assert!(gates.len() >= 4 * hd, "gated_cell_forward: gates too short");
    assert!(
        h.len() >= hd && tc.len() >= hd,
        "gated_cell_forward: h/tc too short"
    );
    for (gv, &a) in gates[..3 * hd].iter_mut().zip(&pre[..3 * hd]) {
        *gv = sigmoid(a);
    }
    for (gv, &a) in gates[3 * hd..4 * hd].iter_mut().zip(&pre[3 * hd..4 * hd]) {
        *gv = tanh_f32(a);
    }
    let (f, rest) = gates.split_at(hd);
    let (i, rest) = rest.split_at(hd);
    let (o, g) = rest.split_at(hd);
    for k in 0..hd {
        let t = tanh_f32(f[k] * h_prev[k] + i[k] * g[k]);
        tc[k] = t;
        h[k] = o[k] * t;
    }
}

/// Backward of [`gated_cell_forward`] from the saved `gates` (4, H) and `tc` (H): given `dh`
/// (H), **accumulates** `dpre` (4, H) += d/d[a_f; a_i; a_o; a_g] and `dh_prev` (H) += f ⊙ ds,
/// where ds = dh ⊙ o ⊙ (1 − tc²).
///
/// Panics if a slice is shorter than its shape.
pub fn gated_cell_backward(
    dpre: &mut [f32],
    dh_prev: &mut [f32],
    dh: &[f32],
    gates: &[f32],
    tc: &[f32],
    h_prev: &[f32],
) {
    let hd = h_prev.len();
    assert!(dpre.len() >= 4 * hd, "gated_cell_backward: dpre too short");
    assert!(
        gates.len() >= 4 * hd,
        "gated_cell_backward: gates too short"
    );
    assert!(
        dh_prev.len() >= hd && dh.len() >= hd && tc.len() >= hd,
        "gated_cell_backward: dh/dh_prev/tc too short"
    );
    for k in 0..hd {
        let (f, i, o, g) = (
            gates[k],
            gates[hd + k],
            gates[2 * hd + k],
            gates[3 * hd + k],
        );
        let t = tc[k];
        let d_o = dh[k] * t;
        let ds = dh[k] * o * (1.0 - t * t);
        dpre[k] += ds * h_prev[k] * f * (1.0 - f);
        dpre[hd + k] += ds * g * i * (1.0 - i);
        dpre[2 * hd + k] += d_o * o * (1.0 - o);
        dpre[3 * hd + k] += ds * i * (1.0 - g * g);
        dh_prev[k] += ds * f;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testutil::*;

    fn fwd(inp: &[Vec<f32>]) -> Vec<f32> {
        let hd = inp[1].len();
        let (mut h, mut gates, mut tc) = (vec![0.0; hd], vec![0.0; 4 * hd], vec![0.0; hd]);
        gated_cell_forward(&mut h, &mut gates, &mut tc, &inp[0], &inp[1]);
        h
    }

    fn bwd(inp: &[Vec<f32>], r: &[f32], g: &mut [Vec<f32>]) {
        let hd = inp[1].len();
        let (mut h, mut gates, mut tc) = (vec![0.0; hd], vec![0.0; 4 * hd], vec![0.0; hd]);
        gated_cell_forward(&mut h, &mut gates, &mut tc, &inp[0], &inp[1]);
        let (gp, gh) = g.split_at_mut(1);
        gated_cell_backward(&mut gp[0], &mut gh[0], r, &gates, &tc, &inp[1]);
    }

    #[test]
    fn gated_cell_matches_f64() {
        let mut r = rng(71);
        let hd = 37;
        let pre = uniform(&mut r, 4 * hd, -4.0, 4.0);
        let hp = uniform(&mut r, hd, -1.0, 1.0);
        let y = fwd(&[pre.clone(), hp.clone()]);
        let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
        let want: Vec<f64> = (0..hd)
            .map(|k| {
                let f = sig(pre[k] as f64);
                let i = sig(pre[hd + k] as f64);
                let o = sig(pre[2 * hd + k] as f64);
                let g = (pre[3 * hd + k] as f64).tanh();
                o * (f * hp[k] as f64 + i * g).tanh()
            })
            .collect();
        let d = max_abs_diff(&y, &want);
        println!("gated cell forward vs f64: {d:.3e}");
        assert!(d < 1e-6, "{d}");
    }

    #[test]
    fn gated_cell_gradcheck() {
        let mut r = rng(72);
        for hd in [1usize, 8, 64] {
            let pre = grid_uniform(&mut r, 4 * hd, -3.0, 3.0);
            let hp = grid_uniform(&mut r, hd, -1.0, 1.0);
            let errs = gradcheck(&mut r, &[pre, hp], fwd, bwd, FD_STEP);
            report(
                &format!("gated_cell H={hd}"),
                &["pre", "h_prev"],
                &errs,
                1e-3,
            );
        }
    }

    #[test]
    fn gated_cell_recurrence_gradcheck() {
        // Three chained steps: gradients flow through h_prev across cells.
        let mut r = rng(73);
        let hd = 5;
        let pres = grid_uniform(&mut r, 3 * 4 * hd, -2.0, 2.0);
        let h0 = grid_uniform(&mut r, hd, -1.0, 1.0);
        type Saved = (Vec<Vec<f32>>, Vec<Vec<f32>>, Vec<Vec<f32>>);
        let chain = |inp: &[Vec<f32>]| -> Saved {
            let mut hs = vec![inp[1].clone()];
            let (mut gs, mut tcs) = (Vec::new(), Vec::new());
            for s in 0..3 {
                let (mut h, mut g, mut tc) = (vec![0.0; hd], vec![0.0; 4 * hd], vec![0.0; hd]);
                gated_cell_forward(&mut h, &mut g, &mut tc, &inp[0][s * 4 * hd..], &hs[s]);
                hs.push(h);
                gs.push(g);
                tcs.push(tc);
            }
            (hs, gs, tcs)
        };
        let errs = gradcheck(
            &mut r,
            &[pres, h0],
            |inp| chain(inp).0[3].clone(),
            |inp, rr, g| {
                let (hs, gs, tcs) = chain(inp);
                let mut dh = rr.to_vec();
                for s in (0..3).rev() {
                    let mut dprev = vec![0.0; hd];
                    gated_cell_backward(
                        &mut g[0][s * 4 * hd..(s + 1) * 4 * hd],
                        &mut dprev,
                        &dh,
                        &gs[s],
                        &tcs[s],
                        &hs[s],
                    );
                    dh = dprev;
                }
                g[1].iter_mut().zip(&dh).for_each(|(a, b)| *a += b);
            },
            FD_STEP,
        );
        report("gated_cell chain of 3", &["pre", "h0"], &errs, 1e-3);
    }
}
