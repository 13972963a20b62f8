//! Windowed replay (models the engine cannot stream: the reference 1b, 1c, hg, …): each trial
//! window is cut from the recording, converted to the replay unit and then to the card's
//! unit, and classified with one timed [`Model::classify_window`](qssm_engine::Model) call —
//! in real-time mode when its last sample would have arrived. A card with input conditioning
//! (filter, normalisation) has the whole recording conditioned first (as the trainer's runs
//! were), and the windows cut from that.
use super::{
    pace, per_volt, Context, Latency, Mode, ReplayError, ReplayEvent, ReplayReport, TrialResult,
};
use qssm_engine::Unit;
use std::time::Instant;

/// Runs the windowed replay of `ctx` over the planned `trials` ((cue index, window start or
/// why not), in cue order); `reason` says why the model cannot stream.
pub(super) fn run(
    ctx: &Context<'_>,
    trials: &[(usize, Result<usize, &'static str>)],
    card_unit: Unit,
    reason: String,
    on_event: &mut dyn FnMut(ReplayEvent<'_>),
) -> Result<ReplayReport, ReplayError> {
    let (model, rec) = (ctx.model, ctx.rec);
    let len = model.n_times();
    let (scale, factor) = (per_volt(ctx.unit), ctx.unit.factor_to(card_unit));
    // a card with input conditioning (filter, normalisation): the whole recording in the
    // card's unit, conditioned once as the trainer conditioned its runs, windows cut from it
    let conditioned = if model.input_filter().is_identity() && model.normalisation().is_none() {
        None
    } else {
        let n = rec.n_times;
        let mut whole = rec.window(0, n, scale);
        whole.iter_mut().for_each(|v| *v *= factor);
        model.condition_recording(&mut whole, n)?;
        Some(whole)
    };
    let mut latency = Latency::default();
    let mut results = Vec::new();
    let mut skipped = 0;
    let t0 = Instant::now();
    for &(i, r) in trials {
        let cue = &rec.cues[i];
        let start = match r {
            Ok(start) => start,
            Err(reason) => {
                skipped += 1;
                on_event(ReplayEvent::Skipped {
                    cue_index: i,
                    cue,
                    reason,
                });
                continue;
            }
        };
        if ctx.realtime {
            pace(t0, (start + len) as f64 / rec.sfreq);
        }
        let x = match &conditioned {
            Some(whole) => {
                let n = rec.n_times;
                whole
                    .chunks_exact(n)
                    .flat_map(|row| &row[start..start + len])
                    .copied()
                    .collect()
            }
            None => {
                let mut x = rec.window(start, len, scale);
                if factor != 1.0 {
                    x.iter_mut().for_each(|v| *v *= factor);
                }
                x
            }
        };
        let call = Instant::now();
        let p = model.classify_window(&x)?;
        latency.record(call.elapsed());
        let r = TrialResult {
            cue_index: i,
            cue: cue.clone(),
            start,
            len,
            class: p.class,
            logits: p.logits,
            probabilities: p.probabilities,
        };
        on_event(ReplayEvent::Trial(&r));
        results.push(r);
    }
    Ok(ReplayReport {
        mode: Mode::Windowed { reason },
        unit: ctx.unit,
        samples: ctx.n,
        hops: 0,
        trials: results,
        skipped,
        latency,
        wall_s: t0.elapsed().as_secs_f64(),
    })
}
