//! A recorded EEG session prepared for replay ([`Recording`]): an EDF/EDF+ file read with
//! the formats crate's reader ([`qssm_formats::edf`]), its signals picked **in the model
//! card's channel order**, resampled to the model's rate with the trainer's MNE-compatible
//! FFT resampler ([`crate::data::resample`], whole recording at once, as the training loader
//! does per run), and the motor-imagery cues of its EDF+ annotations.
//!
//! Cues (EEGMMIDB convention, as [`crate::data::eegmmidb`]): `T1` → label 0 (left fist),
//! `T2` → label 1 (right fist), `T0` (rest) and other texts ignored; onset sample =
//! round(onset_s · sfreq) half to even (MNE's `time_as_index(..., use_rounding=True)`).
use super::{pick_channels, ReplayError};
use crate::data::resample::{round_half_even, FftResampler};
use qssm_formats::edf::Edf;
use std::path::Path;

/// One labelled cue of the recording.
#[derive(Clone, Debug, PartialEq)]
pub struct Cue {
    /// annotation text (`T1`, `T2`)
    pub text: String,
    /// class label (T1 → 0, T2 → 1)
    pub label: usize,
    /// onset, seconds from the start of the recording
    pub onset_s: f64,
    /// onset, sample index at the replay rate
    pub onset: i64,
}

/// EEG of one recording at the model's rate, channels in the model's order.
#[derive(Clone, Debug)]
pub struct Recording {
    /// replay rate (the model's), Hz
    pub sfreq: f64,
    /// the file's own rate, Hz
    pub source_sfreq: f64,
    /// channel names as the model card lists them (C)
    pub channels: Vec<String>,
    /// the file's label of each channel (C), e.g. `C3..` for card channel `C3..`
    pub source_labels: Vec<String>,
    /// (C, N) channel-major samples in **volts**
    pub data: Vec<f64>,
    /// N: samples per channel at the replay rate
    pub n_times: usize,
    /// T1/T2 cues sorted by onset
    pub cues: Vec<Cue>,
    /// suspicious but legal features of the file (flat or duplicate channels, a damaged
    /// annotation label, …: [`qssm_formats::edf::EdfWarning`]), one line each
    pub warnings: Vec<String>,
}

impl Recording {
    /// Reads `path` and prepares it for a model that takes `channels` (card order) at `sfreq`
    /// Hz. Each card channel is matched to an EDF signal by [`pick_channels`] (exact label
    /// first, then normalised: `C3..` matches `c3`).
    ///
    /// Errors: [`ReplayError::Edf`] (unreadable, not EDF, mixed rates among the picked
    /// signals, unknown physical unit), [`ReplayError::MissingChannels`] (every card channel
    /// the file lacks), [`ReplayError::BadRate`] (`sfreq` or the file's rate not finite and
    /// positive), [`ReplayError::Empty`] (no samples), [`ReplayError::NonFinite`].
    pub fn load(path: &Path, channels: &[String], sfreq: f64) -> Result<Self, ReplayError> {
        let edf_err = |source| ReplayError::Edf {
            path: path.to_path_buf(),
            source,
        };
        if !(sfreq.is_finite() && sfreq > 0.0) {
            return Err(ReplayError::BadRate {
                what: "model",
                sfreq,
            });
        }
        let edf = Edf::open(path).map_err(edf_err)?;
        let ordinary = edf.ordinary_signals();
        let labels: Vec<&str> = ordinary
            .iter()
            .map(|&i| edf.signals()[i].label.as_str())
            .collect();
        let picks: Vec<usize> = pick_channels(channels, &labels)
            .map_err(|missing| ReplayError::MissingChannels {
                path: path.to_path_buf(),
                missing,
                available: labels.len(),
            })?
            .into_iter()
            .map(|k| ordinary[k])
            .collect();
        let block = edf.data_volts(&picks).map_err(edf_err)?;
        if !(block.sfreq.is_finite() && block.sfreq > 0.0) {
            return Err(ReplayError::BadRate {
                what: "recording",
                sfreq: block.sfreq,
            });
        }
        if block.n_times == 0 {
            return Err(ReplayError::Empty(path.to_path_buf()));
        }
        let plan = FftResampler::try_new(block.n_times, block.sfreq, sfreq).map_err(|e| {
            ReplayError::Resample {
                path: path.to_path_buf(),
                source: e,
            }
        })?;
        let n_times = plan.n_out();
        let data = plan.process_channels(&block.data);
        if let Some(bad) = data.iter().position(|v| !v.is_finite()) {
            return Err(ReplayError::NonFinite {
                path: path.to_path_buf(),
                channel: bad / n_times,
                sample: bad % n_times,
            });
        }
        let mut cues: Vec<Cue> = edf
            .annotations()
            .iter()
            .filter_map(|a| {
                let label = match a.text.trim() {
                    "T1" => 0,
                    "T2" => 1,
                    _ => return None,
                };
                Some(Cue {
                    text: a.text.trim().to_string(),
                    label,
                    onset_s: a.onset_s,
                    onset: round_half_even(a.onset_s * sfreq) as i64,
                })
            })
            .collect();
        cues.sort_by_key(|c| c.onset);
        Ok(Self {
            sfreq,
            source_sfreq: block.sfreq,
            channels: channels.to_vec(),
            source_labels: picks
                .iter()
                .map(|&i| edf.signals()[i].label.clone())
                .collect(),
            data,
            n_times,
            cues,
            warnings: edf.warnings().iter().map(|w| w.to_string()).collect(),
        })
    }

    /// C: channels.
    pub fn n_channels(&self) -> usize {
        self.channels.len()
    }

    /// Duration, seconds (N / sfreq).
    pub fn duration_s(&self) -> f64 {
        self.n_times as f64 / self.sfreq
    }

    /// Sample `t` (C values, card channel order) converted from volts by `scale` (values per
    /// volt, e.g. 1e3 for mV), as f32, written into `out`.
    pub fn sample_into(&self, t: usize, scale: f64, out: &mut [f32]) {
        for (c, o) in out.iter_mut().enumerate() {
            *o = (self.data[c * self.n_times + t] * scale) as f32;
        }
    }

    /// The (C, len) channel-major window starting at sample `start`, converted as
    /// [`Self::sample_into`]. `start + len` must be ≤ N.
    pub fn window(&self, start: usize, len: usize, scale: f64) -> Vec<f32> {
        let mut w = Vec::with_capacity(self.n_channels() * len);
        for c in 0..self.n_channels() {
            let row = &self.data[c * self.n_times + start..c * self.n_times + start + len];
            w.extend(row.iter().map(|&v| (v * scale) as f32));
        }
        w
    }
}
