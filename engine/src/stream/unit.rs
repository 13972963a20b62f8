//! Physical units of EEG samples ([`Unit`]) and the conversion of streamed samples to the
//! model's unit (`input.unit` of the card; millivolts for the reference models, whose data
//! loader multiplies MNE's volts by 1e3 — spec §1).

/// The unit of an EEG sample value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Unit {
    /// µV = 1e-6 V (BrainFlow's EXG unit, LSL's "microvolts")
    Microvolt,
    /// mV = 1e-3 V (the reference models' unit)
    Millivolt,
    /// V (SI; MNE's `get_data`, EDF readers after scaling)
    Volt,
}

impl Unit {
    /// Every unit.
    pub const ALL: [Unit; 3] = [Unit::Microvolt, Unit::Millivolt, Unit::Volt];

    /// Size of the unit in volts (1e-6, 1e-3, 1).
    pub fn volts(self) -> f64 {
        match self {
            Self::Microvolt => 1e-6,
            Self::Millivolt => 1e-3,
            Self::Volt => 1.0,
        }
    }

    /// Symbol: `µV`, `mV`, `V`.
    pub fn symbol(self) -> &'static str {
        match self {
            Self::Microvolt => "µV",
            Self::Millivolt => "mV",
            Self::Volt => "V",
        }
    }

    /// Parses a unit as written in model cards and EEG metadata (surrounding spaces ignored):
    /// `µV` / `μV` / `uV` / `microvolt(s)`, `mV` / `millivolt(s)`, `V` / `volt(s)` (the
    /// symbols case-sensitive — `mV` ≠ `MV` — the words not). `None` for anything else.
    pub fn parse(s: &str) -> Option<Unit> {
        // the one rule for cards and stream metadata (qssm_formats::units)
        let v = qssm_formats::units::card_unit_volts(s)?;
        Self::ALL.into_iter().find(|u| u.volts() == v)
    }

    /// The factor that converts a value in `self` to `to` (`value_to = value_self · factor`),
    /// e.g. µV → mV = 1e-3, V → mV = 1e3; exactly 1 for the same unit.
    pub fn factor_to(self, to: Unit) -> f32 {
        if self == to {
            1.0
        } else {
            (self.volts() / to.volts()) as f32
        }
    }
}

impl core::fmt::Display for Unit {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.symbol())
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    #[test]
    fn parses_symbols_and_words() {
        for (s, u) in [
            ("µV", Unit::Microvolt),
            ("μV", Unit::Microvolt),
            ("uV", Unit::Microvolt),
            ("microvolts", Unit::Microvolt),
            (" mV ", Unit::Millivolt),
            ("Millivolt", Unit::Millivolt),
            ("V", Unit::Volt),
            ("volts", Unit::Volt),
        ] {
            assert_eq!(Unit::parse(s), Some(u), "{s:?}");
        }
        for s in ["", "MV", "mv", "nV", "kV", "uv ", "volt s"] {
            assert_eq!(Unit::parse(s), None, "{s:?}");
        }
        for u in Unit::ALL {
            assert_eq!(Unit::parse(u.symbol()), Some(u));
        }
    }

    #[test]
    fn factors() {
        assert_eq!(Unit::Millivolt.factor_to(Unit::Millivolt), 1.0);
        assert_eq!(Unit::Microvolt.factor_to(Unit::Millivolt), 1e-3);
        assert_eq!(Unit::Volt.factor_to(Unit::Millivolt), 1e3);
        assert_eq!(Unit::Volt.factor_to(Unit::Microvolt), 1e6);
        assert_eq!(Unit::Microvolt.factor_to(Unit::Volt), 1e-6);
    }
}
