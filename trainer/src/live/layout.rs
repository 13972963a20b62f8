//! What a live EEG stream says about itself ([`StreamLayout`]: channel labels, units, rate,
//! from the LSL stream's description, XDF meta-data convention `desc/channels/channel/{label,
//! unit}`), checked against the model card once, before any sample is pushed
//! ([`InputMap::new`]), and the per-sample mapping it gives ([`InputMap::map`]: pick the card's
//! channels in card order, convert each to the card's unit).
use super::LiveError;
use crate::replay::pick_channels;
use qssm_engine::{Model, Unit};

/// The description of a live stream.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StreamLayout {
    /// stream name (for messages)
    pub name: String,
    /// number of channels per sample
    pub channel_count: usize,
    /// nominal rate, Hz (0 = irregular)
    pub sfreq: f64,
    /// channel labels (empty when the stream does not describe its channels)
    pub labels: Vec<String>,
    /// channel units as written in the description (empty strings where absent)
    pub units: Vec<String>,
}

/// How each sample of a checked stream becomes the model's input.
#[derive(Clone, Debug, PartialEq)]
pub struct InputMap {
    /// for each card channel (card order), its index in the stream's sample
    pub picks: Vec<usize>,
    /// for each card channel, the factor from the stream channel's unit to the card's unit
    pub factors: Vec<f32>,
    /// the unit of each picked stream channel
    pub units: Vec<Unit>,
    /// the stream's rate, Hz
    pub sfreq: f64,
    /// the stream's channel count
    pub channel_count: usize,
}

impl InputMap {
    /// Checks `layout` against `model`'s card: every card channel must be found by label
    /// ([`pick_channels`]), every picked channel must carry a voltage unit (or `unit` declares
    /// the unit of all channels, overriding the description), and the rate must be regular.
    /// A rate other than the model's is accepted here (the session resamples it causally).
    ///
    /// Errors (one line each, naming the stream): [`LiveError::NoChannels`],
    /// [`LiveError::NoLabels`], [`LiveError::MissingChannels`], [`LiveError::NoUnit`],
    /// [`LiveError::BadUnit`], [`LiveError::IrregularRate`], [`LiveError::UnknownCardUnit`].
    pub fn new(
        model: &Model,
        layout: &StreamLayout,
        unit: Option<Unit>,
    ) -> Result<Self, LiveError> {
        let stream = layout.name.clone();
        let card_unit = model
            .unit()
            .ok_or_else(|| LiveError::UnknownCardUnit(model.input_unit().to_string()))?;
        if layout.channel_count == 0 {
            return Err(LiveError::NoChannels { stream });
        }
        if !(layout.sfreq.is_finite() && layout.sfreq > 0.0) {
            return Err(LiveError::IrregularRate {
                stream,
                sfreq: layout.sfreq,
                model: model.sfreq(),
            });
        }
        if layout.labels.len() != layout.channel_count
            || layout.labels.iter().all(|l| l.trim().is_empty())
        {
            return Err(LiveError::NoLabels {
                stream,
                channels: layout.channel_count,
                needed: model.n_channels(),
            });
        }
        let picks = pick_channels(model.channels(), &layout.labels).map_err(|missing| {
            LiveError::MissingChannels {
                stream: stream.clone(),
                missing,
                available: layout.channel_count,
            }
        })?;
        let mut units = Vec::with_capacity(picks.len());
        for &k in &picks {
            let u = match unit {
                Some(u) => u,
                None => {
                    let written = layout.units.get(k).map(|s| s.trim()).unwrap_or("");
                    if written.is_empty() {
                        return Err(LiveError::NoUnit {
                            stream,
                            channel: layout.labels[k].clone(),
                        });
                    }
                    Unit::parse(written).ok_or_else(|| LiveError::BadUnit {
                        stream: stream.clone(),
                        channel: layout.labels[k].clone(),
                        unit: written.to_string(),
                    })?
                }
            };
            units.push(u);
        }
        Ok(Self {
            factors: units.iter().map(|u| u.factor_to(card_unit)).collect(),
            picks,
            units,
            sfreq: layout.sfreq,
            channel_count: layout.channel_count,
        })
    }

    /// Writes the model's input for one stream sample (`raw`: the stream's channel count, in
    /// the stream's order and units) into `out` (C values, card order and unit).
    pub fn map(&self, raw: &[f32], out: &mut [f32]) {
        for ((o, &k), &f) in out.iter_mut().zip(&self.picks).zip(&self.factors) {
            *o = raw[k] * f;
        }
    }
}
