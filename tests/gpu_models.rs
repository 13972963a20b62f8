//! The GPU backend runs the models written over the backend interface (3a, 3b, 3c) like the
//! CPU backend: logits, loss, every gradient tensor, and the parameters after 3 training
//! steps (gradient clipping + AdamW on the host, and again on the device in a training
//! session), on the same inputs.
//!
//! * Always: on the emulated device (the `.cu` kernels compiled for the host), small shapes.
//! * With `--features cuda`: on GPU 0 at the EEG training shape (B = 32, C = 64, T = 249) —
//!   skipped with a message when no GPU can be opened (`gpu/check.sh` runs it on the H200).
//!
//! `QSSM_ONLY=<id>` restricts a run to one model.
use qssm_kernels::backend::gpu::{Device, Gpu};
use qssm_trainer::models::{registry, DeviceOptim, ModelConfig, Target};
use qssm_trainer::optim::{clip_grad_norm, AdamW, AdamWConfig};
use qssm_trainer::params::ParamLayout;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Largest |a − b| over max(max |a|, floor).
///
/// Gradients are compared with a floor of 1e-3 × the model's largest gradient: some tensors
/// are zero in exact arithmetic (an attention key bias shifts every score of a row alike, so
/// the softmax cancels it) and hold only rounding noise on either backend.
fn rel_err(a: &[f32], b: &[f32], floor: f32) -> f32 {
    assert_eq!(a.len(), b.len());
    let scale = a.iter().fold(floor, |m, v| m.max(v.abs()));
    a.iter()
        .zip(b)
        .map(|(x, y)| {
            if y.is_finite() {
                (x - y).abs() / scale
            } else {
                f32::INFINITY
            }
        })
        .fold(0.0, f32::max)
}

/// Biases whose gradient is zero in exact arithmetic: an attention key bias shifts every
/// score of a row alike, the bias of an attention-pooling score layer every score of a block;
/// the softmax cancels both.
const ZERO_GRAD_BIASES: [&str; 3] = [
    "k_proj.bias",
    "chunk_attention.2.bias",
    "seq_attention.2.bias",
];

/// Parameter error after optimiser steps: the relative error over every tensor but
/// [`ZERO_GRAD_BIASES`]: both backends hold rounding noise there, which Adam divides by √v
/// into steps of up to lr. Those are checked apart, in absolute terms: within 3 steps × 2·lr
/// of each other.
fn param_err(layout: &ParamLayout, a: &[f32], b: &[f32]) -> f32 {
    let (mut ra, mut rb) = (Vec::new(), Vec::new());
    let scale = a.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
    for s in layout.specs() {
        let e = rel_err(&a[s.range.clone()], &b[s.range.clone()], scale);
        if e > 1e-5 {
            println!("  param {:<40} rel.err {e:.2e}", s.name);
        }
        let r = s.range.clone();
        if ZERO_GRAD_BIASES.iter().any(|z| s.name.ends_with(z)) {
            let d = rel_err(&a[r.clone()], &b[r], 1.0);
            assert!(d <= 6e-3, "{}: {d} beyond 3 steps of 2·lr", s.name);
        } else {
            ra.extend_from_slice(&a[r.clone()]);
            rb.extend_from_slice(&b[r]);
        }
    }
    rel_err(&ra, &rb, 1e-3)
}

/// Trains `id` for 3 steps on the CPU and on `dev`; returns report lines and the worst
/// relative error of each kind (logits+loss, gradients, parameters after 3 steps).
fn compare_model<D: Device + 'static>(
    id: &str,
    cfg: ModelConfig,
    b: usize,
    dev: D,
) -> (Vec<String>, [f32; 3]) {
    let cpu = registry::build(id, cfg.clone()).unwrap();
    let gpu = registry::build_on_backend(id, cfg.clone(), Gpu::new(dev)).unwrap();
    let layout = cpu.layout().clone();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let p0 = layout.init(&mut rng);
    let x: Vec<f32> = (0..b * cfg.n_channels * cfg.n_times)
        .map(|_| rng.gen_range(-0.05..0.05))
        .collect();
    let ys: Vec<Target<'_>> = (0..b).map(|i| Target::Class(i % cfg.n_classes)).collect();
    let seeds: Vec<u64> = (0..b as u64).map(|i| 100 + i).collect();
    let active = layout.trainable_ranges();
    let mut lines = Vec::new();
    let mut worst = [0.0f32; 3];
    let (mut pc, mut pg) = (p0.clone(), p0.clone());
    let (mut oc, mut og) = (
        AdamW::new(p0.len(), AdamWConfig::reference()),
        AdamW::new(p0.len(), AdamWConfig::reference()),
    );
    for step in 0..3 {
        let (mut gc, mut gg) = (vec![0.0; p0.len()], vec![0.0; p0.len()]);
        let sc = cpu.train_batch(&pc, &x, b, &ys, Some(&seeds), &mut gc);
        let sg = gpu.train_batch(&pg, &x, b, &ys, Some(&seeds), &mut gg);
        if step == 0 {
            let e_out = rel_err(&sc.logits, &sg.logits, 1e-3)
                .max((sc.loss - sg.loss).abs() / sc.loss.abs().max(1e-3));
            lines.push(format!(
                "{id} logits+loss  rel.err {e_out:.2e}  (loss cpu {:.6} gpu {:.6})",
                sc.loss, sg.loss
            ));
            worst[0] = e_out;
            let gmax = gc.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            for s in layout.specs() {
                let r = s.range.clone();
                if ZERO_GRAD_BIASES.iter().any(|z| s.name.ends_with(z)) {
                    // zero in exact arithmetic: both backends hold rounding noise, which must
                    // stay far below the model's gradient scale
                    let noise = gc[r.clone()]
                        .iter()
                        .chain(&gg[r])
                        .fold(0.0f32, |m, v| m.max(v.abs()));
                    assert!(noise <= 1e-3 * gmax, "{id} {}: |grad| {noise:e}", s.name);
                    continue;
                }
                let e = rel_err(&gc[r.clone()], &gg[r], 1e-3 * gmax);
                worst[1] = worst[1].max(e);
                if e > 1e-4 {
                    lines.push(format!("{id} grad {:<40} rel.err {e:.2e}", s.name));
                }
            }
            lines.push(format!(
                "{id} gradients ({} tensors) worst rel.err {:.2e}",
                layout.specs().len(),
                worst[1]
            ));
        }
        clip_grad_norm(&mut gc, 1.0);
        clip_grad_norm(&mut gg, 1.0);
        oc.step(&mut pc, &gc, &active, 1e-3).unwrap();
        og.step(&mut pg, &gg, &active, 1e-3).unwrap();
    }
    worst[2] = param_err(&layout, &pc, &pg);
    lines.push(format!(
        "{id} params after 3 AdamW steps rel.err {:.2e}",
        worst[2]
    ));
    // the same 3 steps with the clip and AdamW on the device (a training session)
    let opt = DeviceOptim::adamw(&AdamWConfig::reference(), Some(1.0));
    let mut s = gpu
        .device_session(&p0, opt)
        .expect("a GPU model has a device session");
    for _ in 0..3 {
        s.step(&x, b, &ys, Some(&seeds), 1e-3);
    }
    let e = param_err(&layout, &pc, &s.params());
    worst[2] = worst[2].max(e);
    lines.push(format!(
        "{id} params after 3 device AdamW steps rel.err {e:.2e}"
    ));
    (lines, worst)
}

fn check_all<D: Device + Clone + 'static>(dev: D, cfg: ModelConfig, b: usize, tol: [f32; 3]) {
    let mut failed = Vec::new();
    for id in registry::zoo()
        .map(|m| m.id)
        .filter(|m| std::env::var("QSSM_ONLY").map_or(true, |o| o == *m))
    {
        let mut c = cfg.clone();
        if id == "3a" {
            c.d_model = c.d_model.max(8);
        }
        let (lines, worst) = compare_model(id, c, b, dev.clone());
        for l in &lines {
            println!("{l}");
        }
        // NaN fails too
        if worst.iter().zip(tol).any(|(w, t)| w.is_nan() || *w > t) {
            failed.push(format!("{id}: {worst:?} > {tol:?}"));
        }
    }
    assert!(
        failed.is_empty(),
        "GPU backend differs from the CPU backend: {failed:?}"
    );
}

#[test]
fn emulated_gpu_models_match_the_cpu() {
    // 3 qubits (the emulated circuits run a barrier per gate), gated models: chunks of 4 over
    // T = 10 (a short last chunk), hidden size 8
    let cfg = ModelConfig {
        n_channels: 3,
        n_times: 10,
        d_model: 8,
        d_state: 4,
        n_layers: 2,
        n_qubits: 3,
        hidden_dim: 8,
        chunk_size: 4,
        ..ModelConfig::eeg(10)
    };
    // parameters: see `param_err` for the attention key biases
    check_all(
        qssm_kernels::backend::gpu::emu::EmuDevice,
        cfg,
        3,
        [1e-5, 1e-4, 1e-5],
    );
}

#[cfg(feature = "cuda")]
#[test]
fn cuda_models_match_the_cpu_at_the_eeg_shape() {
    use qssm_kernels::backend::gpu::cuda::CudaDevice;
    let dev = match CudaDevice::open() {
        Ok(d) => std::sync::Arc::new(d),
        Err(e) => {
            eprintln!("skipped: {e}");
            return;
        }
    };
    println!("device: {}", dev.device_name());
    check_all(dev, ModelConfig::eeg(249), 32, [1e-4, 1e-3, 1e-4]);
}
