//! Classification metrics (being written).
