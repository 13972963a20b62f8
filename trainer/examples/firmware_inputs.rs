//! Inputs of the Cortex-M7 firmware (`engine/examples/cortex-m7`): one real EEG window and
//! the host engine's predictions for it, streamed sample by sample.
//!
//! ```text
//! cargo run --release -p qssm-trainer --example firmware_inputs -- \
//!     MODEL_F16 MODEL_F32 DATA_DIR OUT_DIR [SUBJECT] [HOP]
//! ```
//! Writes to OUT_DIR (all little-endian f32):
//! * `window.f32`: the first imagery window of SUBJECT (default 1) at the model's rate,
//!   time-major (T, C) in the card's unit (mV), i.e. the samples in push order;
//! * `expected_f16.f32`, `expected_f32.f32`: the logits (K per prediction) of the host engine
//!   streaming that window with hop HOP (default 16) through the f16 and the f32 model file.
use qssm_engine::{Model, StreamOptions};
use qssm_trainer::data::{EegmmidbConfig, EpochCache};
use std::path::PathBuf;

fn stream_logits(model: &Model, window: &[f32], c: usize, hop: usize) -> Vec<f32> {
    let mut stream = model.stream(StreamOptions { hop }).expect("a causal model");
    let mut out = Vec::new();
    for sample in window.chunks_exact(c) {
        if let Some(p) = stream.push(sample).expect("finite EEG") {
            out.extend_from_slice(p.logits);
        }
    }
    out
}

fn write_f32(path: &PathBuf, v: &[f32]) {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 4 {
        eprintln!("usage: firmware_inputs MODEL_F16 MODEL_F32 DATA_DIR OUT_DIR [SUBJECT] [HOP]");
        std::process::exit(2);
    }
    let m16 = Model::from_path(&args[0]).expect("f16 model file");
    let m32 = Model::from_path(&args[1]).expect("f32 model file");
    let out = PathBuf::from(&args[3]);
    let subject: u32 = args.get(4).map_or(1, |s| s.parse().expect("subject id"));
    let hop: usize = args.get(5).map_or(16, |s| s.parse().expect("hop"));
    let sfreq = m16.sfreq().round() as u32;
    let cache = EpochCache::new(out.join("cache"));
    let set = cache
        .load_subjects(&EegmmidbConfig::new(&args[2], sfreq), &[subject])
        .expect("EEGMMIDB subject");
    let (c, t) = (set.n_channels, set.n_times);
    assert_eq!(
        (c, t),
        (m16.n_channels(), m16.n_times()),
        "window shape of the model"
    );
    // channel-major (C, T) → time-major (T, C): the samples in push order
    let mut window = vec![0.0f32; c * t];
    for ch in 0..c {
        for i in 0..t {
            window[i * c + ch] = set.x[ch * t + i];
        }
    }
    std::fs::create_dir_all(&out).expect("output folder");
    write_f32(&out.join("window.f32"), &window);
    let e16 = stream_logits(&m16, &window, c, hop);
    let e32 = stream_logits(&m32, &window, c, hop);
    write_f32(&out.join("expected_f16.f32"), &e16);
    write_f32(&out.join("expected_f32.f32"), &e32);
    let k = m16.n_classes();
    println!(
        "subject {subject}, window 0 (label {}): T = {t}, C = {c}, {} predictions (hop {hop}); last logits f16 {:?}, f32 {:?}",
        set.y[0],
        e16.len() / k,
        &e16[e16.len() - k..],
        &e32[e32.len() - k..]
    );
}
