//! Streamed replay (causal models): every sample of the recording goes through one engine
//! [`Stream`] with `push_in`, timed; hop predictions as the stream
//! produces them; the stream is reset at each trial window's start and the trial prediction
//! read after its T-th sample ([`Stream::prediction`](qssm_engine::Stream::prediction)).
use super::{
    pace, per_volt, Context, HopPrediction, Latency, Mode, ReplayError, ReplayEvent, ReplayReport,
    TrialResult, DEFAULT_HOP_S,
};
use qssm_engine::{EngineError, Model, Stream, StreamOptions};
use std::time::Instant;

/// A stream over `model` with `hop`, or with the default hop ([`DEFAULT_HOP_S`] · sfreq
/// rounded up to a multiple of the model's step) when `hop` is `None`. Errors: the engine's
/// ([`EngineError::InvalidHop`], a model that cannot stream).
pub fn open_stream(model: &Model, hop: Option<usize>) -> Result<Stream<'_>, EngineError> {
    if let Some(hop) = hop {
        return model.stream(StreamOptions { hop });
    }
    let want = ((DEFAULT_HOP_S * model.sfreq()).round() as usize).max(1);
    match model.stream(StreamOptions { hop: want }) {
        Err(EngineError::InvalidHop { chunk, .. }) if chunk > 0 => {
            let hop = want.div_ceil(chunk) * chunk;
            model.stream(StreamOptions { hop })
        }
        other => other,
    }
}

/// Runs the streamed replay of `ctx` over the planned `trials` ((cue index, window start or
/// why not), in cue order).
pub(super) fn run(
    ctx: &Context<'_>,
    trials: &[(usize, Result<usize, &'static str>)],
    hop: Option<usize>,
    on_event: &mut dyn FnMut(ReplayEvent<'_>),
) -> Result<ReplayReport, ReplayError> {
    let (model, rec) = (ctx.model, ctx.rec);
    let t_len = model.n_times() as u64;
    let mut stream = open_stream(model, hop)?;
    let hop = stream.hop();
    let scale = per_volt(ctx.unit);
    let mut sample = vec![0.0f32; rec.n_channels()];
    let mut latency = Latency::default();
    let mut results = Vec::new();
    let (mut hops, mut skipped) = (0usize, 0usize);
    let mut skip = |cue_index: usize, reason, on_event: &mut dyn FnMut(ReplayEvent<'_>)| {
        skipped += 1;
        on_event(ReplayEvent::Skipped {
            cue_index,
            cue: &rec.cues[cue_index],
            reason,
        });
    };
    // windows that fit, in start order (cues are sorted by onset)
    let mut pending = trials.iter().peekable();
    let mut active: Option<(usize, usize)> = None; // (cue index, start)
    let t0 = Instant::now();
    for t in 0..ctx.n {
        while let Some(&&(i, r)) = pending.peek() {
            match r {
                Err(reason) => skip(i, reason, on_event),
                // starts ascend with the cues' onsets: `<` only for equal onsets
                Ok(start) if start <= t => {
                    if let Some((j, _)) = active.take() {
                        skip(
                            j,
                            "the next trial started before its window ended",
                            on_event,
                        );
                    }
                    stream.reset();
                    active = Some((i, t));
                }
                Ok(_) => break,
            }
            pending.next();
        }
        if ctx.realtime {
            pace(t0, t as f64 / rec.sfreq);
        }
        rec.sample_into(t, scale, &mut sample);
        let call = Instant::now();
        let out = stream.push_in(&sample, ctx.unit)?;
        latency.record(call.elapsed());
        if let Some(p) = out {
            hops += 1;
            let h = HopPrediction {
                sample: t,
                samples_seen: p.samples_seen,
                class: p.class,
                probabilities: p.probabilities.to_vec(),
                trial: active.map(|(i, _)| i),
            };
            on_event(ReplayEvent::Hop(&h));
        }
        if let Some((i, start)) = active {
            if stream.samples_seen() == t_len {
                // Some after T ≥ 1 samples
                let Some(p) = stream.prediction()? else {
                    continue;
                };
                let r = TrialResult {
                    cue_index: i,
                    cue: rec.cues[i].clone(),
                    start,
                    len: model.n_times(),
                    class: p.class,
                    logits: p.logits.to_vec(),
                    probabilities: p.probabilities.to_vec(),
                };
                on_event(ReplayEvent::Trial(&r));
                results.push(r);
                active = None;
            }
        }
    }
    // windows planned inside the replayed part complete; report anything left, never drop it
    if let Some((i, _)) = active {
        skip(i, "the replay ended before its window did", on_event);
    }
    for &(i, _) in pending {
        skip(i, "the replay ended before its window did", on_event);
    }
    Ok(ReplayReport {
        mode: Mode::Streamed { hop },
        unit: ctx.unit,
        samples: ctx.n,
        hops,
        trials: results,
        skipped,
        latency,
        wall_s: t0.elapsed().as_secs_f64(),
    })
}
