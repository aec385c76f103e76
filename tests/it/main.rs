//! Integration tests: one binary, a module per area.

mod bad_input;
mod chunks;
mod cli;
mod clusters;
mod common;
mod compare;
mod differential;
mod fast_inputs;
mod fast_tier;
mod formats;
mod fuzz_readers;
mod golden;
mod hostile;
mod infer;
mod intervals;
mod multiplicity;
mod properties;
mod report;
mod report_tables;
mod shards;
mod slices;
mod states;
mod states_multiclass;
mod states_regression;
mod suites;
mod writers;
