//! The regression state (being written).
