//! Reference parity of the hydra models (being written).
