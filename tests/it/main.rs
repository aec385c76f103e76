//! Integration tests: one binary, a module per area.

mod bad_input;
mod cli;
mod common;
mod compare;
mod fast_tier;
mod formats;
mod fuzz_readers;
mod golden;
mod infer;
mod intervals;
mod properties;
mod report;
mod slices;
mod suites;
