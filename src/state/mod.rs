//! Mergeable evaluation states: rows fold into a state of sufficient
//! statistics, states merge exactly, and one finish turns a state into the
//! same metrics the full tier computes (see `docs/architecture.md`).
//!
//! Exact and order-free: the state of any split of the rows into shards,
//! merged in any tree, finishes to bit-identical metrics, because counts are
//! integers and every float sum is an [`exact::ExactSum`]. States encode to
//! bytes ([`codec`], `docs/state-format.md`) canonically: equal states give
//! equal bytes.

pub mod binary;
pub mod codec;
pub mod exact;
pub mod file;
pub mod inputs;
pub mod multiclass;
pub mod paired;
pub mod ranges;
pub mod regression;
