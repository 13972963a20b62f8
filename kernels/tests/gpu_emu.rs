//! Every GPU-backend op, its `.cu` kernels compiled for the host through the emulation header,
//! against the CPU backend on the same inputs (small grids: each emulated GPU thread is an OS
//! thread).
#![cfg(feature = "cuda-emu")]
use qssm_kernels::backend::cpu::Cpu;
use qssm_kernels::backend::gpu::check::{compare, linear_outputs, op_outputs, CheckSize};
use qssm_kernels::backend::gpu::emu::EmuDevice;
use qssm_kernels::backend::gpu::Gpu;

fn check(cpu: &[(String, Vec<f32>)], gpu: &[(String, Vec<f32>)]) {
    let (lines, ok) = compare(cpu, gpu, 2e-5);
    for l in &lines {
        println!("{l}");
    }
    assert!(
        ok,
        "GPU kernels (emulated) differ from the CPU backend:\n{}",
        lines.join("\n")
    );
}

fn check_ops(s: CheckSize) {
    check(&op_outputs(&Cpu, s), &op_outputs(&Gpu::new(EmuDevice), s));
}

#[test]
fn every_op_matches_the_cpu_backend() {
    check_ops(CheckSize {
        b: 3,
        l: 7,
        d: 8,
        e: 12,
        n: 5,
        heads: 2,
        k: 4,
    });
}

#[test]
fn split_k_weight_gradient_matches() {
    // 1100 rows into a 20×24 weight: one output tile, so dW takes the split-K path
    check(
        &linear_outputs(&Cpu, 1100, 24, 20),
        &linear_outputs(&Gpu::new(EmuDevice), 1100, 24, 20),
    );
}

#[test]
fn scan_with_more_states_than_a_warp_matches() {
    // N = 40 > 32: each lane of a channel's group holds two states
    check_ops(CheckSize {
        b: 2,
        l: 5,
        d: 8,
        e: 3,
        n: 40,
        heads: 2,
        k: 3,
    });
}

#[test]
fn quantum_feature_ops_match_the_cpu_backend() {
    use qssm_kernels::backend::gpu::check_features::{feature_outputs, FeatureSize};
    // T = 13 with chunks of 4: a partial last chunk (pad rows, and the causal mask)
    let s = FeatureSize {
        b: 2,
        t: 13,
        cs: 4,
        f: 40,
        q: 4,
        layers: 2,
    };
    check(
        &feature_outputs(&Cpu, s),
        &feature_outputs(&Gpu::new(EmuDevice), s),
    );
    // 6 qubits: 32 amplitude pairs, every lane of a circuit's warp busy (the models' size;
    // the emulated model test runs 3 qubits)
    let s6 = FeatureSize {
        b: 1,
        t: 9,
        q: 6,
        ..s
    };
    check(
        &feature_outputs(&Cpu, s6),
        &feature_outputs(&Gpu::new(EmuDevice), s6),
    );
}
