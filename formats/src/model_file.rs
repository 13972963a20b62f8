//! Model file (being written).
