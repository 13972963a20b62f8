//! Inputs and expected outputs for the C and C++ examples (`run-c-tests.sh` runs this).
//!
//! ```text
//! cargo run --release -p qssm-c --example c_inputs -- \
//!     --model runs/3b/model.safetensors --data data/eegmmidb --subject 1 --run 4 --out OUT
//! ```
//!
//! Reads one EEGMMIDB run (EDF, e.g. `S001/S001R04.edf`) with the trainer's data pipeline at the
//! model's sampling rate (FFT resampling, cue-locked T1/T2 windows 1.0–4.1 s, millivolts),
//! picks the model's channels **by name**, and writes to `OUT`:
//!
//! * `windows.f32` — N windows × C channels × T samples, channel-major, little-endian f32, in
//!   **microvolts** (as an amplifier delivers them; the examples pass `QSSM_UNIT_MICROVOLT`);
//! * `expected_classify.txt` — the engine's `Model::classify_window` of each window, scaled to
//!   the model's unit in f32 exactly as the C ABI documents;
//! * `expected_stream.txt` — the engine's `Stream` (hop = T, reset before each window, each
//!   sample pushed in µV with `push_in`): the prediction after the window's T samples;
//! * `labels.txt` — the cue of each window (0 = T1 left fist, 1 = T2 right fist);
//! * `noncausal_1b.safetensors` — an untrained (seeded) 1b `QuantumMambaSSM` with the same
//!   input contract, which cannot stream: `tests/misuse.c` checks `QSSM_STATUS_NOT_CAUSAL`.
//!
//! Prediction lines are `index class logit_0 … logit_{K−1} p_0 … p_{K−1}`, floats with nine
//! significant digits (`%.8e`), which round-trips f32 exactly; lines starting with `#` are
//! comments. The C/C++ examples print the same format, so a plain numeric comparison checks
//! they agree bit for bit.
use qssm_engine::{Model, StreamOptions, Unit};
use qssm_formats::model_file::TensorDtype;
use qssm_trainer::data::{load_subject, EegmmidbConfig};
use qssm_trainer::export::{export, ExportInfo};
use qssm_trainer::models::{registry, ModelConfig};
use rand::SeedableRng;
use std::fmt::Write as _;
use std::path::PathBuf;

struct Args {
    model: PathBuf,
    data: PathBuf,
    subject: u32,
    run: u8,
    out: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        model: PathBuf::new(),
        data: PathBuf::from("data/eegmmidb"),
        subject: 1,
        run: 4,
        out: PathBuf::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--model" => a.model = value.into(),
            "--data" => a.data = value.into(),
            "--subject" => a.subject = value.parse().map_err(|e| format!("--subject: {e}"))?,
            "--run" => a.run = value.parse().map_err(|e| format!("--run: {e}"))?,
            "--out" => a.out = value.into(),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.model.as_os_str().is_empty() || a.out.as_os_str().is_empty() {
        return Err(
            "usage: c_inputs --model FILE --out DIR [--data DIR] [--subject N] [--run N]".into(),
        );
    }
    Ok(a)
}

/// One prediction line (see the module docs).
fn line(out: &mut String, i: usize, class: usize, logits: &[f32], probabilities: &[f32]) {
    let _ = write!(out, "{i} {class}");
    for v in logits.iter().chain(probabilities) {
        let _ = write!(out, " {v:.8e}");
    }
    out.push('\n');
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a = parse_args()?;
    let model = Model::from_path(&a.model)?;
    let (c, t) = (model.n_channels(), model.n_times());
    let sfreq = model.sfreq();
    if sfreq.fract() != 0.0 || sfreq <= 0.0 {
        return Err(format!("model sampling rate {sfreq} Hz is not a whole number").into());
    }
    let mut cfg = EegmmidbConfig::new(&a.data, sfreq as u32);
    cfg.runs = vec![a.run];
    cfg.expected_channels = None; // matched by name below
    let set = load_subject(&cfg, a.subject)?;
    if set.n_times != t {
        return Err(format!(
            "the run gives windows of {} samples, the model takes {t}",
            set.n_times
        )
        .into());
    }
    // the model's channels, found by name in the recording
    let picks: Vec<usize> = model
        .channels()
        .iter()
        .map(|name| {
            set.channel_names
                .iter()
                .position(|n| n == name)
                .ok_or(format!("model channel {name:?} is not in the recording"))
        })
        .collect::<Result<_, _>>()?;
    let model_unit = model.unit().ok_or("the model's unit is not µV, mV or V")?;
    let to_model = Unit::Microvolt.factor_to(model_unit);

    let n = set.n_trials();
    let mut windows = Vec::with_capacity(n * c * t);
    let (mut classify_txt, mut stream_txt, mut labels_txt) =
        (String::new(), String::new(), String::new());
    let header = format!(
        "# {} windows of S{:03}R{:02} ({} channels x {} samples at {sfreq} Hz, model {} from {})\n",
        n,
        a.subject,
        a.run,
        c,
        t,
        model.model_id(),
        a.model.display()
    );
    classify_txt.push_str(&header);
    stream_txt.push_str(&header);
    let mut stream = model.stream(StreamOptions { hop: t }).ok();
    let (mut correct, mut max_diff) = (0usize, 0.0f32);
    let mut sample = vec![0.0f32; c];
    for i in 0..n {
        let trial = set.trial(i); // (C_rec, T) mV, recording order
        let uv: Vec<f32> = picks
            .iter()
            .flat_map(|&ch| trial[ch * t..(ch + 1) * t].iter().map(|v| v * 1e3))
            .collect();
        let scaled: Vec<f32> = uv.iter().map(|v| v * to_model).collect();
        let p = model.classify_window(&scaled)?;
        line(&mut classify_txt, i, p.class, &p.logits, &p.probabilities);
        correct += usize::from(p.class == set.y[i] as usize);
        let _ = writeln!(labels_txt, "{i} {}", set.y[i]);
        if let Some(s) = stream.as_mut() {
            s.reset();
            let mut last = None;
            for ti in 0..t {
                for (ch, v) in sample.iter_mut().enumerate() {
                    *v = uv[ch * t + ti];
                }
                last = s
                    .push_in(&sample, Unit::Microvolt)?
                    .map(|q| q.to_prediction());
            }
            let q = last.ok_or("no stream prediction after T samples")?;
            line(&mut stream_txt, i, q.class, &q.logits, &q.probabilities);
            for (x, y) in q.logits.iter().zip(&p.logits) {
                max_diff = max_diff.max((x - y).abs());
            }
        }
        windows.extend(uv);
    }
    std::fs::create_dir_all(&a.out)?;
    let bytes: Vec<u8> = windows.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(a.out.join("windows.f32"), bytes)?;
    std::fs::write(a.out.join("expected_classify.txt"), classify_txt)?;
    std::fs::write(a.out.join("labels.txt"), labels_txt)?;
    if stream.is_some() {
        std::fs::write(a.out.join("expected_stream.txt"), stream_txt)?;
    }
    write_noncausal(&model, &a.out.join("noncausal_1b.safetensors"))?;
    eprintln!(
        "c_inputs: {n} windows ({c} x {t}, µV) -> {}; window accuracy vs cues {correct}/{n}{}",
        a.out.display(),
        if stream.is_some() {
            format!("; max |stream - window| logit difference {max_diff:.2e}")
        } else {
            "; model cannot stream, no expected_stream.txt".into()
        }
    );
    Ok(())
}

/// An untrained 1b model (seeded initialisation) with `like`'s input contract.
fn write_noncausal(like: &Model, path: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let cfg = ModelConfig {
        n_channels: like.n_channels(),
        n_classes: like.n_classes(),
        ..ModelConfig::eeg(like.n_times())
    };
    let model = registry::build("1b", cfg)?;
    let params = model
        .layout()
        .init(&mut rand_chacha::ChaCha8Rng::seed_from_u64(2024));
    let info = ExportInfo {
        sfreq: like.sfreq(),
        channels: like.channels().to_vec(),
        unit: like.input_unit().into(),
        preprocessing: serde_json::json!({ "note": "untrained test model for misuse.c" }),
        split: None,
        training: serde_json::json!(null),
        metrics: serde_json::json!(null),
    };
    export(path, model.as_ref(), &params, &info, TensorDtype::F32)?;
    Ok(())
}
