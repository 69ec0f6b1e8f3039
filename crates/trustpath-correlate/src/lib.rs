//! Sigma correlation rules on event time: the stateful half of **detect**.
//!
//! ```text
//! CorrelationDoc* ──compile──► CorrelationSet ──► Engine::push(event, matched rules)
//!                                                   │  event-time queue + watermark
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
//! * [`Engine`] runs them on event time. Windows slide: a window is anchored at each
//!   event and two events share it when their times differ by at most `timespan`
//!   (inclusive). Streaming uses a watermark (latest event time − allowed lateness,
//!   default 12 h); batch mode sorts everything at [`Engine::finish`]. Late events are
//!   counted and listed, state is bounded by a [`StateBudget`] with listed evictions, and
//!   the whole state can be snapshotted and restored.
//! * Each [`CorrelationResult`] carries its evidence events, group key, captures, window,
//!   partial flag and a stable id: the same input in any order, split over any number of
//!   engines by group key, gives the same ids.

mod chain;
mod engine;
mod keyed;
mod ordered;
mod result;
mod spec;

pub use chain::{Captures, ChainSpec, CidrSet, Require, ValueSet};
pub use engine::{Engine, EngineConfig, EngineStats, SnapshotError, StateBudget};
pub use result::{CorrelationResult, EvictReason, Evicted, Evidence, LateEvent};
pub use spec::{
    Condition, ContextSets, Correlation, CorrelationDoc, CorrelationLoadError, CorrelationSet,
    CorrelationType, RuleCatalog, RuleRef, Source, parse_timespan,
};
