//! The unit and layout codes of signal buffers ([`QssmUnit`], [`QssmLayout`]). They are plain
//! `uint32_t` codes in C, not Rust enums: a C caller can pass any integer, and an unknown one
//! must be an error (`QSSM_STATUS_UNKNOWN_UNIT` / `_UNKNOWN_LAYOUT`), not undefined behaviour.
use crate::status::{Error, QssmStatus, Result};
use qssm_engine::{Model, Unit};

/// The physical unit of signal values passed in: one of `QSSM_UNIT_MICROVOLT`,
/// `QSSM_UNIT_MILLIVOLT`, `QSSM_UNIT_VOLT`, or `QSSM_UNIT_NONE` for a model whose input has no
/// physical unit. Values are scaled (in f32) to the model card's unit before use. 0 is
/// deliberately not a unit, so zeroed memory is rejected.
pub type QssmUnit = u32;
/// Microvolts, µV = 1e-6 V (BrainFlow's EXG unit, LSL's "microvolts", most EDF files).
pub const QSSM_UNIT_MICROVOLT: QssmUnit = 1;
/// Millivolts, mV = 1e-3 V (the reference models' unit).
pub const QSSM_UNIT_MILLIVOLT: QssmUnit = 2;
/// Volts (SI; MNE's `get_data`).
pub const QSSM_UNIT_VOLT: QssmUnit = 3;
/// No physical unit: values passed as they are, for a model whose card's input unit is `none`
/// (the paper models' image inputs, e.g. `qt-cnn`: normalised pixels), and only for one.
pub const QSSM_UNIT_NONE: QssmUnit = 4;

/// The memory order of a chunk of n samples × C channels passed to `qssm_stream_push`: one of
/// `QSSM_LAYOUT_SAMPLE_MAJOR`, `QSSM_LAYOUT_CHANNEL_MAJOR`. 0 is deliberately not a layout.
pub type QssmLayout = u32;
/// Sample-major (interleaved): `x[t·C + c]`, one sample of all C channels after another (LSL's
/// `pull_chunk` order).
pub const QSSM_LAYOUT_SAMPLE_MAJOR: QssmLayout = 1;
/// Channel-major: `x[c·n + t]`, all n samples of channel 0, then channel 1, … (BrainFlow's and
/// MNE's order, and the order of windows).
pub const QSSM_LAYOUT_CHANNEL_MAJOR: QssmLayout = 2;

/// The engine unit of a C unit code.
pub(crate) fn unit(code: QssmUnit) -> Result<Unit> {
    match code {
        QSSM_UNIT_MICROVOLT => Ok(Unit::Microvolt),
        QSSM_UNIT_MILLIVOLT => Ok(Unit::Millivolt),
        QSSM_UNIT_VOLT => Ok(Unit::Volt),
        other => Err(Error::new(
            QssmStatus::UnknownUnit,
            format!(
                "unit code {other} is not QSSM_UNIT_MICROVOLT (1), QSSM_UNIT_MILLIVOLT (2), QSSM_UNIT_VOLT (3) or QSSM_UNIT_NONE (4)"
            ),
        )),
    }
}

/// The C code of an engine unit.
pub(crate) fn code(unit: Unit) -> QssmUnit {
    match unit {
        Unit::Microvolt => QSSM_UNIT_MICROVOLT,
        Unit::Millivolt => QSSM_UNIT_MILLIVOLT,
        Unit::Volt => QSSM_UNIT_VOLT,
    }
}

/// A checked layout code: `true` for sample-major, `false` for channel-major.
pub(crate) fn sample_major(code: QssmLayout) -> Result<bool> {
    match code {
        QSSM_LAYOUT_SAMPLE_MAJOR => Ok(true),
        QSSM_LAYOUT_CHANNEL_MAJOR => Ok(false),
        other => Err(Error::new(
            QssmStatus::UnknownLayout,
            format!(
                "layout code {other} is not QSSM_LAYOUT_SAMPLE_MAJOR (1) or QSSM_LAYOUT_CHANNEL_MAJOR (2)"
            ),
        )),
    }
}

/// The model card's unit, or `QSSM_STATUS_UNKNOWN_UNIT` if it is not µV / mV / V.
pub(crate) fn model_unit(model: &Model) -> Result<Unit> {
    model.unit().ok_or_else(|| {
        Error::new(
            QssmStatus::UnknownUnit,
            format!(
                "the model card's input unit '{}' is not µV, mV or V: values cannot be converted to it",
                model.input_unit()
            ),
        )
    })
}

/// Whether the model's input has no physical unit (card unit `none`).
pub(crate) fn unitless(model: &Model) -> bool {
    model.input_unit() == "none"
}

/// The factor from `from` (a C code) to the model's unit, both checked: 1 for
/// `QSSM_UNIT_NONE` into a unitless model; `QSSM_STATUS_UNKNOWN_UNIT` when one side has a unit
/// and the other has none.
pub(crate) fn factor(from: QssmUnit, model: &Model) -> Result<f32> {
    match (from == QSSM_UNIT_NONE, unitless(model)) {
        (true, true) => Ok(1.0),
        (true, false) => Err(Error::new(
            QssmStatus::UnknownUnit,
            format!(
                "QSSM_UNIT_NONE is for models whose input has no unit; this model takes '{}'",
                model.input_unit()
            ),
        )),
        (false, true) => {
            unit(from)?;
            Err(Error::new(
                QssmStatus::UnknownUnit,
                "this model's input has no physical unit (card unit 'none', e.g. image pixels): \
                 pass QSSM_UNIT_NONE",
            ))
        }
        (false, false) => Ok(unit(from)?.factor_to(model_unit(model)?)),
    }
}
