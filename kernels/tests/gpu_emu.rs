//! Every GPU-backend op, its `.cu` kernels compiled for the host through the emulation header,
//! against the CPU backend on the same inputs (small grids: each emulated GPU thread is an OS
//! thread).
#![cfg(feature = "cuda-emu")]
use qssm_kernels::backend::cpu::Cpu;
use qssm_kernels::backend::gpu::check::{compare, linear_outputs, op_outputs, CheckSize};
use qssm_kernels::backend::gpu::emu::EmuDevice;
use qssm_kernels::backend::gpu::Gpu;

#[test]
fn every_op_matches_the_cpu_backend() {
    let s = CheckSize {
        b: 3,
        l: 7,
        d: 8,
        e: 12,
        n: 5,
        heads: 2,
        k: 4,
    };
    let cpu = op_outputs(&Cpu, s);
    let gpu = op_outputs(&Gpu::new(EmuDevice), s);
    let (lines, ok) = compare(&cpu, &gpu, 2e-5);
    for l in &lines {
        println!("{l}");
    }
    assert!(
        ok,
        "GPU kernels (emulated) differ from the CPU backend:\n{}",
        lines.join("\n")
    );
}

#[test]
fn split_k_weight_gradient_matches() {
    // 1100 rows into a 20×24 weight: one output tile, so dW takes the split-K path
    let cpu = linear_outputs(&Cpu, 1100, 24, 20);
    let gpu = linear_outputs(&Gpu::new(EmuDevice), 1100, 24, 20);
    let (lines, ok) = compare(&cpu, &gpu, 2e-5);
    assert!(ok, "{}", lines.join("\n"));
}

#[test]
fn scan_with_more_states_than_a_warp_matches() {
    // N = 40 > 32: each lane of a channel's group holds two states
    let s = CheckSize {
        b: 2,
        l: 5,
        d: 8,
        e: 3,
        n: 40,
        heads: 2,
        k: 3,
    };
    let cpu = op_outputs(&Cpu, s);
    let gpu = op_outputs(&Gpu::new(EmuDevice), s);
    let (lines, ok) = compare(&cpu, &gpu, 2e-5);
    assert!(ok, "{}", lines.join("\n"));
}
