//! EEG datasets (being written).
