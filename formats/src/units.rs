//! Physical units and sample-rate limits shared by every reader of EEG data and model cards
//! (the EDF reader, the model-card check), so a file and a card are judged by the same rules.
use alloc::string::String;

/// The lowest sample rate of an EEG signal (EDF ordinary signal, model card `input.sfreq`)
/// accepted, Hz.
pub const MIN_SFREQ_HZ: f64 = 1e-3;
/// The highest sample rate accepted, Hz (EEG amplifiers sample at most a few tens of kHz; a
/// larger value is a damaged record duration or card).
pub const MAX_SFREQ_HZ: f64 = 100_000.0;

/// Volts per unit of a physical-dimension string (`nV` 1e-9, `uV`/`µV`/`μV` 1e-6, `mV` 1e-3,
/// `V` 1), case-insensitive, or `None` for anything else.
pub fn volts_per_unit(dimension: &str) -> Option<f64> {
    let d: String = dimension.trim().to_lowercase();
    match d.as_str() {
        "v" => Some(1.0),
        "mv" => Some(1e-3),
        "uv" | "\u{b5}v" | "\u{3bc}v" => Some(1e-6),
        "nv" => Some(1e-9),
        _ => None,
    }
}

/// Volts per unit of a unit as a model card (or a live stream's metadata) must write it, or
/// `None`: the symbols `µV` / `μV` / `uV` (1e-6), `mV` (1e-3), `V` (1), case-sensitive (`MV`
/// is not `mV`), or the words `microvolt(s)`, `millivolt(s)`, `volt(s)` in any case;
/// surrounding spaces ignored. Stricter than [`volts_per_unit`], which reads the spellings
/// found in EDF files in the wild (the EDF reader warns about non-standard ones).
pub fn card_unit_volts(s: &str) -> Option<f64> {
    let s = s.trim();
    match s {
        "\u{b5}V" | "\u{3bc}V" | "uV" => return Some(1e-6),
        "mV" => return Some(1e-3),
        "V" => return Some(1.0),
        _ => {}
    }
    let word = s.strip_suffix('s').unwrap_or(s);
    if word.eq_ignore_ascii_case("microvolt") {
        Some(1e-6)
    } else if word.eq_ignore_ascii_case("millivolt") {
        Some(1e-3)
    } else if word.eq_ignore_ascii_case("volt") {
        Some(1.0)
    } else {
        None
    }
}
