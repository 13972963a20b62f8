//! Reference parity of the transformers models (being written).
