//! Optimisers and schedules (being written).
