//! Sigma correlation rules on event time, in batch: the stateful half of **detect**.
//!
//! ```text
//! CorrelationDoc* ──compile──► CorrelationSet ──► Engine::push(event, matched rules)
//!                                                   │  collected; sorted at finish
//!                                                   ▼
//!                                   keyed state (windows, chains) ──► CorrelationResult
//! ```
//!
//! * [`CorrelationSet::compile`] turns the YAML documents with a `correlation:` key
//!   (as JSON, one per document) into typed correlations: all Sigma 2.1 types, `group-by`,
//!   `timespan`, `aliases`, `generate`, conditions with ranges, correlations of
//!   correlations (cycles are load errors), and the `x-trustpath` chain extension
//!   (captures, requirements on value and CIDR sets, chain keys, partial chains; see
//!   `EXTENSION.md`).
//! * [`Engine`] runs them in batch over a set of matched events: [`Engine::push`] collects,
//!   [`Engine::finish`] sorts once by event time and processes everything. Windows slide:
//!   a window is anchored at each event and two events share it when their times differ
//!   by at most `timespan` (inclusive). State is bounded by a [`StateBudget`] with
//!   counted, listed evictions.
//! * Each [`CorrelationResult`] carries its evidence events, group key, captures, window,
//!   partial flag and a stable id: the same input in any order, split over any number of
//!   engines by group key, gives the same ids.
//!
//! There is no streaming mode (watermark, late events, snapshots): `hunt` and the service
//! both run the detector in batch over the matched events they retain, and the service
//! enforces lateness before matching (see `ARCHITECTURE.md`).

mod chain;
mod engine;
mod keyed;
mod ordered;
mod result;
mod spec;

pub use chain::{Captures, ChainSpec, CidrSet, Require, ValueSet};
pub use engine::{Engine, EngineStats, StateBudget};
pub use result::{CorrelationResult, EvictReason, Evicted, Evidence};
pub use spec::{
    Condition, ContextSets, Correlation, CorrelationDoc, CorrelationLoadError, CorrelationSet,
    CorrelationType, RuleCatalog, RuleRef, Source, parse_timespan,
};
