//! Regression state tests (being written).
