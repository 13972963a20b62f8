//! A block's streaming form against its full-sequence form, over random inputs and random push
//! patterns: a sequence u (B, L, D) stepped through [`MambaBlock::step`] in chunks of random
//! sizes (1 … 7 tokens, a fresh plan per chunk length) gives, token for token, the output of
//! [`MambaBlock::forward`] over the whole sequence from zero states, and ends in the same SSM
//! state. For both kinds of Mamba block of the zoo (3b's `true_classical` with its RMSNorm and
//! Δ·B·x input term, and the QuantumSSM.py block of 1b).
use qssm_kernels::backend::cpu::{Cpu, CpuBuf};
use qssm_models::nn::{MambaBlock, ProjKind};
use qssm_models::params::ParamLayout;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Tokens t0..t0+len of every stream of u (B, L, D), as a (B, len, D) buffer.
fn tokens(u: &[f32], b: usize, l: usize, d: usize, t0: usize, len: usize) -> CpuBuf<'static> {
    let v: Vec<f32> = (0..b)
        .flat_map(|s| u[(s * l + t0) * d..(s * l + t0 + len) * d].to_vec())
        .collect();
    CpuBuf::from_vec(v, &[b, len, d])
}

/// Random push pattern: chunk lengths of 1 … 7 tokens summing to `l`.
fn push_pattern(rng: &mut ChaCha8Rng, l: usize) -> Vec<usize> {
    let mut left = l;
    let mut out = Vec::new();
    while left > 0 {
        let n = rng.gen_range(1..=7usize).min(left);
        out.push(n);
        left -= n;
    }
    out
}

/// Max |stepped − forward| over every token and over the final SSM state.
fn step_vs_forward(block: &MambaBlock, lay: &ParamLayout, d: usize, seed: u64) -> (f32, f32) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // perturbed init: zero-initialised tensors (biases) take part too
    let p: Vec<f32> = lay
        .init(&mut rng)
        .iter()
        .map(|v| v + rng.gen_range(-0.05..0.05))
        .collect();
    let (b, l) = (rng.gen_range(1..=3usize), rng.gen_range(1..=40usize));
    let u: Vec<f32> = (0..b * l * d).map(|_| rng.gen_range(-1.0..1.0)).collect();

    let mut whole = block.plan(&Cpu, b, l);
    block.forward(&Cpu, &p, &tokens(&u, b, l, d, 0, l), None, &mut whole);
    let want = whole.out.as_slice();

    let mut st = block.plan_state(&Cpu, b);
    let (mut t0, mut d_out) = (0, 0.0f32);
    for len in push_pattern(&mut rng, l) {
        let mut a = block.plan(&Cpu, b, len);
        block.step(&Cpu, &p, &tokens(&u, b, l, d, t0, len), &mut st, &mut a);
        let got = a.out.as_slice();
        for s in 0..b {
            for i in 0..len * d {
                let w = want[(s * l + t0) * d + i];
                d_out = d_out.max((got[s * len * d + i] - w).abs());
            }
        }
        t0 += len;
    }
    let d_state =
        st.h.as_slice()
            .iter()
            .zip(whole.ssm.h_last.as_slice())
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max);
    (d_out, d_state)
}

#[test]
fn true_classical_mamba_block_steps_equal_its_forward_for_random_push_patterns() {
    for seed in 0..12u64 {
        let (d, e, n) = (8 + 4 * (seed as usize % 3), 16 + 8 * (seed as usize % 2), 4);
        let mut lay = ParamLayout::new();
        let block = MambaBlock::true_classical(&mut lay, "layers.0", (d, e, n), &ProjKind::Linear);
        let (d_out, d_state) = step_vs_forward(&block, &lay, d, seed);
        assert!(
            d_out <= 1e-5 && d_state <= 1e-5,
            "seed {seed}: outputs differ by {d_out:e}, final states by {d_state:e}"
        );
    }
}

#[test]
fn quantum_ssm_mamba_block_steps_equal_its_forward_for_random_push_patterns() {
    for seed in 0..12u64 {
        let (d, n) = (8 + 8 * (seed as usize % 2), 4 + 4 * (seed as usize % 2));
        let mut lay = ParamLayout::new();
        let block = MambaBlock::quantum_ssm(&mut lay, "mamba_layers.0", d, 2 * d, n);
        let (d_out, d_state) = step_vs_forward(&block, &lay, d, 100 + seed);
        assert!(
            d_out <= 1e-5 && d_state <= 1e-5,
            "seed {seed}: outputs differ by {d_out:e}, final states by {d_state:e}"
        );
    }
}
