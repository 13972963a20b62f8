//! PhysioNet EEG Motor Movement/Imagery (EEGMMIDB) epochs, as the reference loader
//! `data_loaders/Load_PhysioNet_EEG_NoPrompt.py` builds them with MNE (spec
//! gated-and-protocols §2.1).
//!
//! Per subject `SNNN`, runs R04, R08, R12 (imagined left/right fist) are read in that order
//! from `<root>/SNNN/SNNNRKK.edf`. Per run:
//! 1. read the EDF ([`qssm_formats::edf`]), take every non-annotation signal (the 64 EEG
//!    channels, EDF order; names are checked against [`EEGMMIDB_CHANNELS`] unless disabled);
//! 2. resample the whole run to the target rate with MNE's FFT method
//!    ([`super::resample`], `raw.resample(sfreq, npad='auto')`); any native rate works, so the
//!    full 109-subject download, where a few subjects (88, 92, 100) are recorded at 128 Hz,
//!    is handled the same way;
//! 3. events from the EDF+ annotations: T1 → label 0 (left fist), T2 → label 1 (right fist),
//!    T0 (rest) and anything else ignored; onset sample = round(onset_s · sfreq) (half to
//!    even, as `raw.time_as_index(..., use_rounding=True)`);
//! 4. window samples `[onset + round(tmin·sfreq), onset + round(tmax·sfreq)]`, both ends
//!    included (tmin = 1.0 s, tmax = 4.1 s ⇒ T = 125 / 249 / 497 at 40 / 80 / 160 Hz), kept only
//!    if it lies entirely inside its run (MNE drops the others as crossing a 'BAD boundary' or
//!    'TOO_SHORT');
//! 5. volts × 1e3 = **millivolts**, cast to `f32`. No filtering, baseline or normalisation.
//!
//! Runs and subjects are concatenated in the order given (the split-list order of
//! [`super::split`]). A run file that does not exist is skipped and recorded in
//! [`EpochSet::missing_runs`] (S024 has no R12 in any source); a subject without any run file
//! is an error.

use super::resample::{round_half_even, FftResampler};
use qssm_formats::edf::{Edf, EdfError};
use qssm_kernels::signal::Sos;
use std::path::{Path, PathBuf};

/// The 64 EEGMMIDB EEG channel labels in EDF order, exactly as stored in the files (the dots
/// are padding in BCI2000's labels; MNE keeps them, and so does this loader).
pub const EEGMMIDB_CHANNELS: [&str; 64] = [
    "Fc5.", "Fc3.", "Fc1.", "Fcz.", "Fc2.", "Fc4.", "Fc6.", "C5..", "C3..", "C1..", "Cz..", "C2..",
    "C4..", "C6..", "Cp5.", "Cp3.", "Cp1.", "Cpz.", "Cp2.", "Cp4.", "Cp6.", "Fp1.", "Fpz.", "Fp2.",
    "Af7.", "Af3.", "Afz.", "Af4.", "Af8.", "F7..", "F5..", "F3..", "F1..", "Fz..", "F2..", "F4..",
    "F6..", "F8..", "Ft7.", "Ft8.", "T7..", "T8..", "T9..", "T10.", "Tp7.", "Tp8.", "P7..", "P5..",
    "P3..", "P1..", "Pz..", "P2..", "P4..", "P6..", "P8..", "Po7.", "Po3.", "Poz.", "Po4.", "Po8.",
    "O1..", "Oz..", "O2..", "Iz..",
];

/// Motor-imagery runs used by the reference (imagine opening/closing left or right fist).
pub const IMAGERY_RUNS: [u8; 3] = [4, 8, 12];

/// Errors of the EEGMMIDB loader. Every message names the file or directory involved.
#[derive(Debug, thiserror::Error)]
pub enum EegError {
    /// The dataset root directory does not exist.
    #[error("EEGMMIDB data directory {0} does not exist")]
    MissingDataDir(PathBuf),
    /// A subject has no directory or none of the requested run files.
    #[error("subject S{subject:03} not found: no run file {runs} under {dir}")]
    MissingSubject {
        /// Subject id.
        subject: u32,
        /// Directory searched.
        dir: PathBuf,
        /// Runs looked for, e.g. "R04/R08/R12".
        runs: String,
    },
    /// The EDF file could not be read or parsed (not EDF, truncated, bad header, ...).
    #[error("{path}: {source}")]
    Edf {
        /// File.
        path: PathBuf,
        /// Reader error.
        #[source]
        source: EdfError,
    },
    /// The run cannot be resampled to the target rate (a rate of 0, or an absurdly long FFT).
    #[error("{path}: {source}")]
    Resample {
        /// the run file
        path: PathBuf,
        /// the plan that was refused
        source: crate::data::resample::PlanError,
    },
    /// A run has no T1/T2 cue annotation.
    #[error("{0}: EDF without the expected annotations (no T1/T2 cues)")]
    NoCueAnnotations(PathBuf),
    /// Channel count or names differ from the expected/first run.
    #[error("{path}: channel mismatch: {detail}")]
    ChannelMismatch {
        /// File.
        path: PathBuf,
        /// What differs.
        detail: String,
    },
    /// A sample is NaN or infinite.
    #[error("{path}: non-finite sample in channel {channel} at sample {sample}")]
    NonFinite {
        /// File.
        path: PathBuf,
        /// Channel index.
        channel: usize,
        /// Sample index (after resampling).
        sample: usize,
    },
    /// Directory listing or file-system error.
    #[error("{path}: {source}")]
    Io {
        /// Path.
        path: PathBuf,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// An epoch cache file could not be written.
    #[error("epoch cache {path}: {reason}")]
    Cache {
        /// Cache file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// Two epoch sets with different layouts were concatenated.
    #[error("cannot concatenate epoch sets: {0}")]
    Incompatible(String),
}

/// Loader settings; [`EegmmidbConfig::new`] gives the reference's.
#[derive(Debug, Clone, PartialEq)]
pub struct EegmmidbConfig {
    /// Dataset root holding `SNNN/SNNNRKK.edf`.
    pub root: PathBuf,
    /// Target sample rate, Hz (reference: 40, 80 or 160).
    pub sfreq: u32,
    /// Runs per subject, in loading order (reference: 4, 8, 12).
    pub runs: Vec<u8>,
    /// Window start after the cue, seconds (reference: 1.0).
    pub tmin_s: f64,
    /// Window end after the cue, seconds, included (reference: 4.1).
    pub tmax_s: f64,
    /// Channel labels every run must have, in order; `None` only checks that all runs agree.
    pub expected_channels: Option<Vec<String>>,
    /// Causal IIR filter run over each whole run (after resampling, in millivolts, from a zero
    /// state at the run's first sample) before the windows are cut: what the engine's stream
    /// applies to every pushed sample. Identity by default.
    pub filter: Sos,
}

impl EegmmidbConfig {
    /// Reference settings: runs 4/8/12, window 1.0–4.1 s, the 64 [`EEGMMIDB_CHANNELS`].
    pub fn new(root: impl Into<PathBuf>, sfreq: u32) -> Self {
        EegmmidbConfig {
            root: root.into(),
            sfreq,
            runs: IMAGERY_RUNS.to_vec(),
            tmin_s: 1.0,
            tmax_s: 4.1,
            expected_channels: Some(EEGMMIDB_CHANNELS.iter().map(|s| s.to_string()).collect()),
            filter: Sos::identity(),
        }
    }

    /// Window start offset in samples, `round(tmin·sfreq)`.
    pub fn window_start(&self) -> i64 {
        round_half_even(self.tmin_s * self.sfreq as f64) as i64
    }

    /// Window length T = `round(tmax·sfreq) − round(tmin·sfreq) + 1` (125/249/497 at
    /// 40/80/160 Hz).
    pub fn n_times(&self) -> usize {
        let end = round_half_even(self.tmax_s * self.sfreq as f64) as i64;
        (end - self.window_start() + 1).max(0) as usize
    }

    /// Directory of one subject, `<root>/SNNN`.
    pub fn subject_dir(&self, subject: u32) -> PathBuf {
        self.root.join(format!("S{subject:03}"))
    }

    /// Path of one run, `<root>/SNNN/SNNNRKK.edf`.
    pub fn run_path(&self, subject: u32, run: u8) -> PathBuf {
        self.subject_dir(subject)
            .join(format!("S{subject:03}R{run:02}.edf"))
    }
}

/// Epoched trials: `x` is (N, C, T) with N trials, C channels, T time samples.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochSet {
    /// Trials, shape (N, C, T), row-major (trial, then channel, then time), **millivolts**.
    pub x: Vec<f32>,
    /// Labels, shape (N,): 0 = T1 (left fist), 1 = T2 (right fist).
    pub y: Vec<u8>,
    /// Subject id of each trial, shape (N,).
    pub subject: Vec<u32>,
    /// Run number (4, 8, 12) of each trial, shape (N,).
    pub run: Vec<u8>,
    /// C channel labels, EDF order (e.g. "Fc5.").
    pub channel_names: Vec<String>,
    /// Sample rate of `x`, Hz.
    pub sfreq: u32,
    /// C.
    pub n_channels: usize,
    /// T.
    pub n_times: usize,
    /// `(subject, run)` pairs whose EDF file did not exist and were skipped.
    pub missing_runs: Vec<(u32, u8)>,
}

impl EpochSet {
    /// An empty set with the given layout.
    pub fn empty(channel_names: Vec<String>, sfreq: u32, n_times: usize) -> Self {
        EpochSet {
            x: Vec::new(),
            y: Vec::new(),
            subject: Vec::new(),
            run: Vec::new(),
            n_channels: channel_names.len(),
            channel_names,
            sfreq,
            n_times,
            missing_runs: Vec::new(),
        }
    }

    /// N, the number of trials.
    pub fn n_trials(&self) -> usize {
        self.y.len()
    }

    /// Trial `i` as a (C, T) channel-major slice, millivolts.
    ///
    /// # Panics
    /// If `i >= n_trials()`.
    pub fn trial(&self, i: usize) -> &[f32] {
        let sz = self.n_channels * self.n_times;
        &self.x[i * sz..(i + 1) * sz]
    }

    /// Append `other`'s trials (and missing runs) after this set's.
    ///
    /// # Errors
    /// [`EegError::Incompatible`] if channels, rate or T differ (an empty `self` with no
    /// channels adopts `other`'s layout).
    pub fn append(&mut self, other: EpochSet) -> Result<(), EegError> {
        if self.n_trials() == 0 && self.channel_names.is_empty() {
            let missing = std::mem::take(&mut self.missing_runs);
            *self = other;
            self.missing_runs.splice(0..0, missing);
            return Ok(());
        }
        if self.channel_names != other.channel_names
            || self.sfreq != other.sfreq
            || self.n_times != other.n_times
        {
            return Err(EegError::Incompatible(format!(
                "({} ch, {} Hz, T={}) vs ({} ch, {} Hz, T={}) or different channel names",
                self.n_channels,
                self.sfreq,
                self.n_times,
                other.n_channels,
                other.sfreq,
                other.n_times
            )));
        }
        self.x.extend(other.x);
        self.y.extend(other.y);
        self.subject.extend(other.subject);
        self.run.extend(other.run);
        self.missing_runs.extend(other.missing_runs);
        Ok(())
    }

    /// Concatenate sets in order.
    ///
    /// # Errors
    /// As [`EpochSet::append`].
    pub fn concat(sets: Vec<EpochSet>) -> Result<EpochSet, EegError> {
        let mut it = sets.into_iter();
        let Some(mut out) = it.next() else {
            return Ok(EpochSet::empty(Vec::new(), 0, 0));
        };
        for s in it {
            out.append(s)?;
        }
        Ok(out)
    }
}

/// Subject ids present under `root`: directories named `S` + digits (e.g. `S001`), sorted.
///
/// # Errors
/// [`EegError::MissingDataDir`] if `root` is not a directory, [`EegError::Io`] on listing
/// failure.
pub fn discover_subjects(root: &Path) -> Result<Vec<u32>, EegError> {
    if !root.is_dir() {
        return Err(EegError::MissingDataDir(root.to_path_buf()));
    }
    let io = |source| EegError::Io {
        path: root.to_path_buf(),
        source,
    };
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(root).map_err(io)? {
        let entry = entry.map_err(io)?;
        if !entry.path().is_dir() {
            continue;
        }
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(digits) = name.strip_prefix('S') {
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                if let Ok(id) = digits.parse::<u32>() {
                    ids.push(id);
                }
            }
        }
    }
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// Epochs of one run at the target rate.
struct RunEpochs {
    x: Vec<f32>,
    y: Vec<u8>,
    channel_names: Vec<String>,
}

fn load_run(cfg: &EegmmidbConfig, path: &Path) -> Result<RunEpochs, EegError> {
    let edf_err = |source| EegError::Edf {
        path: path.to_path_buf(),
        source,
    };
    let edf = Edf::open(path).map_err(edf_err)?;
    // read when the run is first epoched (later loads come from the cache)
    for w in edf.warnings() {
        eprintln!("warning: {}: {w}", path.display());
    }
    let picks = edf.ordinary_signals();
    let channel_names: Vec<String> = picks
        .iter()
        .map(|&i| edf.signals()[i].label.clone())
        .collect();
    if let Some(expected) = &cfg.expected_channels {
        if &channel_names != expected {
            let detail = if channel_names.len() != expected.len() {
                format!(
                    "{} EEG channels, expected {}",
                    channel_names.len(),
                    expected.len()
                )
            } else {
                let k = (0..expected.len())
                    .find(|&k| channel_names[k] != expected[k])
                    .unwrap_or(0);
                format!(
                    "channel {k} is {:?}, expected {:?}",
                    channel_names[k], expected[k]
                )
            };
            return Err(EegError::ChannelMismatch {
                path: path.to_path_buf(),
                detail,
            });
        }
    }
    if picks.is_empty() {
        return Err(EegError::ChannelMismatch {
            path: path.to_path_buf(),
            detail: "no EEG signals".into(),
        });
    }
    let block = edf.data_volts(&picks).map_err(edf_err)?;
    let c = block.n_channels;
    let plan =
        FftResampler::try_new(block.n_times, block.sfreq, cfg.sfreq as f64).map_err(|source| {
            EegError::Resample {
                path: path.to_path_buf(),
                source,
            }
        })?;
    let data = plan.process_channels(&block.data);
    let n = plan.n_out();
    if let Some(bad) = data.iter().position(|v| !v.is_finite()) {
        return Err(EegError::NonFinite {
            path: path.to_path_buf(),
            channel: bad / n.max(1),
            sample: bad % n.max(1),
        });
    }
    // the run in millivolts (the model's unit), filtered causally channel by channel
    let mut mv: Vec<f32> = data.iter().map(|&v| (v * 1e3) as f32).collect();
    cfg.filter.filter_recording(&mut mv, n);

    // Cue events, ordered by onset (MNE sorts events by sample).
    let sf = cfg.sfreq as f64;
    let mut events: Vec<(i64, u8)> = edf
        .annotations()
        .iter()
        .filter_map(|a| {
            let label = match a.text.trim() {
                "T1" => 0u8,
                "T2" => 1u8,
                _ => return None,
            };
            Some((round_half_even(a.onset_s * sf) as i64, label))
        })
        .collect();
    if events.is_empty() {
        return Err(EegError::NoCueAnnotations(path.to_path_buf()));
    }
    events.sort_by_key(|e| e.0);

    let t = cfg.n_times();
    let w0 = cfg.window_start();
    let mut x = Vec::new();
    let mut y = Vec::new();
    for (onset, label) in events {
        let start = onset + w0;
        let end = start + t as i64 - 1;
        if start < 0 || end >= n as i64 || t == 0 {
            continue; // window leaves the run: MNE drops it
        }
        let start = start as usize;
        for ch in 0..c {
            x.extend_from_slice(&mv[ch * n + start..ch * n + start + t]);
        }
        y.push(label);
    }
    Ok(RunEpochs {
        x,
        y,
        channel_names,
    })
}

/// Epochs of one subject (runs in `cfg.runs` order; missing run files skipped and listed in
/// [`EpochSet::missing_runs`]).
///
/// # Errors
/// [`EegError::MissingDataDir`], [`EegError::MissingSubject`] (no directory or no run file at
/// all), [`EegError::Edf`] (non-EDF, truncated, ...), [`EegError::NoCueAnnotations`],
/// [`EegError::ChannelMismatch`] (differs from the expected list or between runs),
/// [`EegError::NonFinite`].
pub fn load_subject(cfg: &EegmmidbConfig, subject: u32) -> Result<EpochSet, EegError> {
    if !cfg.root.is_dir() {
        return Err(EegError::MissingDataDir(cfg.root.clone()));
    }
    let mut out: Option<EpochSet> = None;
    let mut missing = Vec::new();
    for &run in &cfg.runs {
        let path = cfg.run_path(subject, run);
        if !path.is_file() {
            missing.push((subject, run));
            continue;
        }
        let r = load_run(cfg, &path)?;
        let n_trials = r.y.len();
        match &mut out {
            None => {
                let mut set = EpochSet::empty(r.channel_names, cfg.sfreq, cfg.n_times());
                set.x = r.x;
                set.y = r.y;
                out = Some(set);
            }
            Some(set) => {
                if set.channel_names != r.channel_names {
                    return Err(EegError::ChannelMismatch {
                        path,
                        detail: format!(
                            "{} channels differing from the subject's first run ({} channels)",
                            r.channel_names.len(),
                            set.channel_names.len()
                        ),
                    });
                }
                set.x.extend(r.x);
                set.y.extend(r.y);
            }
        }
        if let Some(set) = &mut out {
            set.subject.resize(set.subject.len() + n_trials, subject);
            set.run.resize(set.run.len() + n_trials, run);
        }
    }
    let Some(mut set) = out else {
        return Err(EegError::MissingSubject {
            subject,
            dir: cfg.subject_dir(subject),
            runs: cfg
                .runs
                .iter()
                .map(|r| format!("R{r:02}"))
                .collect::<Vec<_>>()
                .join("/"),
        });
    };
    set.missing_runs = missing;
    Ok(set)
}

/// Epochs of several subjects, loaded in parallel and concatenated in the order given.
///
/// # Errors
/// As [`load_subject`] (the first failing subject in list order), plus
/// [`EegError::Incompatible`] if subjects disagree on channels.
pub fn load_subjects(cfg: &EegmmidbConfig, subjects: &[u32]) -> Result<EpochSet, EegError> {
    use rayon::prelude::*;
    let sets: Vec<Result<EpochSet, EegError>> =
        subjects.par_iter().map(|&s| load_subject(cfg, s)).collect();
    let sets = sets.into_iter().collect::<Result<Vec<_>, _>>()?;
    let mut out = EpochSet::concat(sets)?;
    if out.channel_names.is_empty() {
        out.sfreq = cfg.sfreq;
        out.n_times = cfg.n_times();
    }
    Ok(out)
}
