//! Mergeable evaluation states: rows fold into a state of sufficient
//! statistics, states merge exactly, and one finish turns a state into the
//! same metrics the full tier computes (see `docs/architecture.md`).
//!
//! Exact and order-free: the state of any split of the rows into shards,
//! merged in any tree, finishes to bit-identical metrics, because counts are
//! integers and every float sum is an [`exact::ExactSum`].
//!
//! So far: the binary task's point metrics ([`binary::BinaryState`]). The
//! tiers do not read states yet.

pub mod binary;
pub mod exact;
