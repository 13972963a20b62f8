//! C ABI over the qssm engine (being written in its own issue).
