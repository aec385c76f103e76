//! The multiclass state (being written).
