//! `trainer bench`: wall time of one training step (forward + backward of B samples, ordered
//! gradient reduction, clip, AdamW) on random millivolt-scale input, like the reference's
//! timing harness (`shared/spec/reference-step-times.md`: mean of steps 2..6).
use crate::device::ComputeDevice;
use crate::fit::BatchWorkspace;
use crate::models::{registry, DeviceOptim, ModelConfig, Target};
use crate::optim::{clip_grad_norm, AdamW, AdamWConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

/// Arguments of `trainer bench`.
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// model ids or class names, comma separated
    #[arg(long, default_value = "1b,3b", value_delimiter = ',')]
    pub model: Vec<String>,
    /// batch size B
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// window length T
    #[arg(long, default_value_t = 249)]
    pub n_times: usize,
    /// channels C
    #[arg(long, default_value_t = 64)]
    pub channels: usize,
    /// chunk size of the gated recurrence (gated models mg/hg; the reference timed 16)
    #[arg(long, default_value_t = 8)]
    pub chunk_size: usize,
    /// timed steps (after one warm-up step)
    #[arg(long, default_value_t = 5)]
    pub steps: usize,
    /// device: `cpu`, or `cuda` (builds with the `cuda` feature; every model)
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// also run N copies of each model at once on the device (the sweep case) and print the
    /// summed throughput
    #[arg(long, default_value_t = 1)]
    pub concurrent: usize,
}

/// Runs the benchmark and prints one line per model.
pub fn run(a: BenchArgs) -> Result<(), Box<dyn std::error::Error>> {
    for (flag, v) in [
        ("--batch-size", a.batch_size),
        ("--n-times", a.n_times),
        ("--channels", a.channels),
        ("--chunk-size", a.chunk_size),
        ("--steps", a.steps),
        ("--concurrent", a.concurrent),
    ] {
        if v == 0 {
            return Err(format!("{flag} must be at least 1").into());
        }
    }
    let device = ComputeDevice::open(&a.device)?;
    // the class column as wide as the longest reference class name
    let w = registry::zoo()
        .map(|e| e.class_name.len())
        .max()
        .unwrap_or(5);
    println!(
        "{:<4} {:<w$} {:>4} {:>5} {:>4} {:>12} {:>12} {:>12}  device={device} threads={}",
        "id",
        "class",
        "B",
        "T",
        "C",
        "step ms",
        "min ms",
        "fwd+bwd ms",
        rayon::current_num_threads()
    );
    for name in &a.model {
        let cfg = ModelConfig {
            n_channels: a.channels,
            n_times: a.n_times,
            chunk_size: a.chunk_size,
            ..ModelConfig::eeg(a.n_times)
        };
        let model = registry::build_on(name, cfg.clone(), &device).map_err(|e| e.to_string())?;
        let (times, passes) = timed_steps(model.as_ref(), &a)?;
        let mean = times.iter().sum::<f64>() / times.len().max(1) as f64;
        let min = times.iter().cloned().fold(f64::INFINITY, f64::min);
        let fb = passes.iter().sum::<f64>() / passes.len().max(1) as f64;
        println!(
            "{:<4} {:<w$} {:>4} {:>5} {:>4} {:>12.2} {:>12.2} {:>12.2}",
            model.id(),
            model.class_name(),
            a.batch_size,
            a.n_times,
            a.channels,
            mean,
            min,
            fb
        );
        if a.concurrent > 1 {
            // N independent runs sharing the device (the sweep case): steps per second summed
            let models = (0..a.concurrent)
                .map(|_| registry::build_on(name, cfg.clone(), &device).map_err(|e| e.to_string()))
                .collect::<Result<Vec<_>, _>>()?;
            let t = Instant::now();
            let results: Vec<_> = std::thread::scope(|s| {
                let hs: Vec<_> = models
                    .iter()
                    .map(|m| s.spawn(|| timed_steps(m.as_ref(), &a).map(|_| ())))
                    .collect();
                hs.into_iter()
                    .map(|h| {
                        h.join()
                            .map_err(|_| "a concurrent run panicked".to_string())
                    })
                    .collect()
            });
            for r in results {
                r?.map_err(|e| e.to_string())?;
            }
            let total = (a.concurrent * (a.steps + 1)) as f64 / t.elapsed().as_secs_f64();
            println!(
                "{:<4} --concurrent {}: {:.1} steps/s in all ({:.1} steps/s for one run alone)",
                model.id(),
                a.concurrent,
                total,
                1e3 / mean
            );
        }
    }
    Ok(())
}

/// Runs one warm-up step and `a.steps` timed training steps of `model` (forward + backward,
/// clip, AdamW) on random input; returns the step times and the forward+backward times (ms).
fn timed_steps(
    model: &dyn crate::models::Model,
    a: &BenchArgs,
) -> Result<(Vec<f64>, Vec<f64>), crate::optim::OptimError> {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut params = model.layout().init(&mut rng);
    let xs: Vec<Vec<f32>> = (0..a.batch_size)
        .map(|_| {
            (0..a.channels * a.n_times)
                .map(|_| rng.gen_range(-0.05..0.05))
                .collect()
        })
        .collect();
    let ys: Vec<Target<'_>> = (0..a.batch_size).map(|i| Target::Class(i % 2)).collect();
    let seeds: Vec<u64> = (0..a.batch_size as u64).collect();
    let windows: Vec<&[f32]> = xs.iter().map(|v| v.as_slice()).collect();
    let mut ws = BatchWorkspace::default();
    let mut grads = vec![0.0; params.len()];
    let mut opt = AdamW::new(params.len(), AdamWConfig::reference());
    let active = model.layout().trainable_ranges();
    let mut times = Vec::new();
    let mut passes = Vec::new();
    let dev_opt = DeviceOptim::adamw(&AdamWConfig::reference(), Some(1.0));
    if let Some(mut s) = model.device_session(&params, dev_opt) {
        // the whole step on the device (clip and AdamW included): "fwd+bwd" = the step
        for i in 0..=a.steps {
            let t = Instant::now();
            s.step(ws.gather(&windows), windows.len(), &ys, Some(&seeds), 1e-3);
            if i > 0 {
                times.push(t.elapsed().as_secs_f64() * 1e3);
                passes.push(t.elapsed().as_secs_f64() * 1e3);
            }
        }
        return Ok((times, passes));
    }
    for i in 0..=a.steps {
        let t = Instant::now();
        ws.forward_backward(model, &params, &windows, &ys, Some(&seeds), &mut grads);
        let fb = t.elapsed().as_secs_f64() * 1e3;
        clip_grad_norm(&mut grads, 1.0);
        opt.step(&mut params, &grads, &active, 1e-3)?;
        if i > 0 {
            times.push(t.elapsed().as_secs_f64() * 1e3);
            passes.push(fb);
        }
    }
    Ok((times, passes))
}
