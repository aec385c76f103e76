//! Multiclass state tests (being written).
