//! Every GPU-backend op on a CUDA GPU against the CPU backend on the same inputs, at a small
//! shape (also the compute-sanitizer run of `gpu/check.sh`) and at the EEG training shape.
//! Skipped with a message where no GPU can be opened.
#![cfg(feature = "cuda")]
use qssm_kernels::backend::cpu::Cpu;
use qssm_kernels::backend::gpu::check::{compare, linear_outputs, op_outputs, CheckSize};
use qssm_kernels::backend::gpu::check_features::{feature_outputs, FeatureSize};
use qssm_kernels::backend::gpu::cuda::CudaDevice;
use qssm_kernels::backend::gpu::Gpu;

fn open() -> Option<Gpu<CudaDevice>> {
    match CudaDevice::open() {
        Ok(d) => {
            println!("device: {}", d.device_name());
            Some(Gpu::new(d))
        }
        Err(e) => {
            eprintln!("skipped: {e}");
            None
        }
    }
}

fn check(gpu: &Gpu<CudaDevice>, s: CheckSize, tol: f32) {
    let t = std::time::Instant::now();
    let cpu = op_outputs(&Cpu, s);
    let dev = op_outputs(gpu, s);
    let (lines, ok) = compare(&cpu, &dev, tol);
    println!("{s:?} ({:.1} s)", t.elapsed().as_secs_f64());
    for l in &lines {
        println!("{l}");
    }
    assert!(ok, "GPU ops differ from the CPU backend");
}

#[test]
fn ops_small() {
    if let Some(gpu) = open() {
        check(
            &gpu,
            CheckSize {
                b: 3,
                l: 7,
                d: 8,
                e: 12,
                n: 5,
                heads: 2,
                k: 4,
            },
            2e-5,
        );
        let (lines, ok) = compare(
            &linear_outputs(&Cpu, 1100, 24, 20),
            &linear_outputs(&gpu, 1100, 24, 20),
            2e-5,
        );
        lines.iter().for_each(|l| println!("{l}"));
        assert!(ok);
        check_features(
            &gpu,
            FeatureSize {
                b: 2,
                t: 13,
                cs: 4,
                f: 40,
                q: 4,
                layers: 2,
            },
            2e-5,
        );
    }
}

fn check_features(gpu: &Gpu<CudaDevice>, s: FeatureSize, tol: f32) {
    let (lines, ok) = compare(&feature_outputs(&Cpu, s), &feature_outputs(gpu, s), tol);
    println!("{s:?}");
    lines.iter().for_each(|l| println!("{l}"));
    assert!(ok, "GPU quantum-feature ops differ from the CPU backend");
}

#[test]
fn ops_at_the_eeg_shape() {
    if let Some(gpu) = open() {
        // 3b's shapes: B = 32, T = 249, d_model 128, d_inner 256, d_state 16, conv 4; 4 heads
        check(
            &gpu,
            CheckSize {
                b: 32,
                l: 249,
                d: 128,
                e: 256,
                n: 16,
                heads: 4,
                k: 4,
            },
            1e-4,
        );
    }
}

#[test]
fn quantum_feature_ops_at_the_eeg_shape() {
    if let Some(gpu) = open() {
        // 1b's processor: B = 32, T = 249 in chunks of 32, F = d_model 128, 6 qubits, 2 layers
        check_features(
            &gpu,
            FeatureSize {
                b: 32,
                t: 249,
                cs: 32,
                f: 128,
                q: 6,
                layers: 2,
            },
            1e-4,
        );
    }
}
