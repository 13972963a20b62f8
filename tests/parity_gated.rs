//! Reference parity of the gated models (being written).
