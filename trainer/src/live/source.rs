//! A recording played as a live source ([`RecordingSource`]): the samples of a
//! [`Recording`] (channels as loaded, at its rate) one at a time, in a chosen unit, paced at
//! the recording's rate × a speed factor, or as fast as they are pulled. It feeds
//! `qssm replay --lsl-out` (publishing a file as a live LSL stream) and `qssm stream --edf …
//! --continuous` (the same live session as an LSL inlet, from a file).
use super::layout::StreamLayout;
use super::session::{Pulled, SampleSource};
use super::LiveError;
use crate::replay::{per_volt, Recording};
use qssm_engine::Unit;
use std::time::{Duration, Instant};

/// See the [module docs](self).
pub struct RecordingSource<'a> {
    rec: &'a Recording,
    unit: Unit,
    /// values per volt of `unit`
    scale: f64,
    next: usize,
    end: usize,
    /// pace at sfreq × speed (None: as fast as pulled)
    speed: Option<f64>,
    t0: Instant,
}

impl<'a> RecordingSource<'a> {
    /// A source over the first `n` samples of `rec` (all when `None` or larger), values in
    /// `unit`, paced at `speed` × real time when `speed` is `Some` (a positive factor).
    pub fn new(rec: &'a Recording, unit: Unit, n: Option<usize>, speed: Option<f64>) -> Self {
        Self {
            rec,
            unit,
            scale: per_volt(unit),
            next: 0,
            end: n.map_or(rec.n_times, |n| n.min(rec.n_times)),
            speed: speed.filter(|s| s.is_finite() && *s > 0.0),
            t0: Instant::now(),
        }
    }

    /// The stream description: the recording's channel names and rate, every channel in the
    /// source's unit.
    pub fn layout(&self, name: &str) -> StreamLayout {
        StreamLayout {
            name: name.to_string(),
            channel_count: self.rec.n_channels(),
            sfreq: self.rec.sfreq,
            labels: self.rec.channels.clone(),
            units: vec![self.unit.symbol().to_string(); self.rec.n_channels()],
        }
    }

    /// Samples this source delivers.
    pub fn len(&self) -> usize {
        self.end
    }

    /// Whether it delivers no sample.
    pub fn is_empty(&self) -> bool {
        self.end == 0
    }
}

impl SampleSource for RecordingSource<'_> {
    fn pull(&mut self, buf: &mut [f32], _timeout_s: f64) -> Result<Pulled, LiveError> {
        if self.next >= self.end {
            return Ok(Pulled::Ended);
        }
        if self.next == 0 {
            self.t0 = Instant::now();
        }
        if let Some(speed) = self.speed {
            let due = self.t0
                + Duration::try_from_secs_f64(self.next as f64 / (self.rec.sfreq * speed))
                    .unwrap_or_default();
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
        self.rec.sample_into(self.next, self.scale, buf);
        self.next += 1;
        Ok(Pulled::Sample(self.clock()))
    }

    fn clock(&self) -> f64 {
        self.t0.elapsed().as_secs_f64()
    }
}
