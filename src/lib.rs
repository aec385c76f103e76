//! evalkit: tiered model evaluation.
//!
//! The pipeline, in the order a model goes through it:
//!
//! 1. **Predictions** — a prediction file (Arrow IPC, memory-mapped; or IPC
//!    stream, Parquet, CSV) is read and validated once by
//!    [`data::read_predictions`] into [`data::Predictions`].
//! 2. **Fast tier** — [`fast::fast`] estimates loss and accuracy on a
//!    stratified, seeded sample, with standard errors ([`sample`]).
//! 3. **Full tier** — [`full::full`] computes every metric of the task on
//!    every row: for binary tasks one sort, then single passes
//!    ([`metrics::curves`], [`metrics::binary`], [`metrics::calibration`]),
//!    with bootstrap intervals for every metric and DeLong's for ROC-AUC
//!    ([`uncertainty`]).
//! 4. **Compare** — [`compare::compare`] runs a candidate and a baseline on
//!    the same rows through the same resamples: paired intervals of every
//!    metric's difference, DeLong's paired test.
//! 6. **Report** — [`report::build`] gathers every candidate's metrics,
//!    curves and tables into a model that [`report::html::render`] turns
//!    into one self-contained HTML page.
//! 5. **Slices** — [`slices::full_sliced`] runs the full tier per value of
//!    passthrough columns (one column, or several crossed), in parallel.
//!
//! ```
//! use std::sync::Arc;
//! use arrow::array::{ArrayRef, Float64Array, Int64Array};
//! use evalkit::data::Predictions;
//! use evalkit::full::{full, FullOptions};
//!
//! let labels: ArrayRef = Arc::new(Int64Array::from(vec![0, 0, 1, 1]));
//! let scores: ArrayRef = Arc::new(Float64Array::from(vec![0.1, 0.4, 0.35, 0.8]));
//! let preds = Predictions::from_arrays("example", labels, vec![scores], None, None, None)?;
//! let result = full(&preds, &FullOptions::default())?;
//! assert_eq!(result.metrics().value("roc_auc"), Some(0.75));
//! # Ok::<(), evalkit::Error>(())
//! ```
//!
//! The library never prints and never exits: the `evalkit` binary (and the
//! Python module) are thin faces over it.

#![deny(missing_docs)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

// The command line (`cli`) names the library `evalkit::`, as the binary did.
extern crate self as evalkit;

pub mod alloc;
pub mod cli;
pub mod clusters;
pub mod compare;
pub mod costs;
pub mod data;
pub mod error;
pub mod fast;
pub mod format;
pub mod full;
pub mod infer;
pub mod json;
pub mod metrics;
pub mod multiplicity;
pub mod operating;
pub mod output_file;
pub mod partial;
pub mod power;
pub mod profile;
pub mod report;
pub mod rng;
pub mod sample;
pub mod slices;
pub mod state;
pub mod suite;
pub mod uncertainty;

pub use error::{Error, ErrorKind, Result};

/// evalkit's version, as recorded in outputs.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
