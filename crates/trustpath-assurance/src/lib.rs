//! trustpath **assurance**: what the logs can see, what access stands, and the report.
//!
//! * [`coverage`]: for each analytic and step, which log sources and fields the input
//!   has, over which time range, where the gaps are, and whether partner IP context is
//!   reliable; blind spots are named with what to turn on. Exports an ATT&CK Navigator
//!   layer ([`navigator`]).
//! * [`inventory`]: partner relationships and mailbox permissions reconstructed from the
//!   logs (granted, removed, still standing, approved by a change ticket), for periodic
//!   access review; CSV and JSON.
//! * [`html`]: one self-contained HTML report of findings, run summary and coverage.
//!
//! Both collectors follow the same streaming pattern: one collector per input (any
//! thread), `observe` every event, `merge` the collectors, then `report`.

pub mod collection_facts;
pub mod coverage;
mod coverage_table;
pub mod html;
pub mod inventory;
pub mod navigator;
mod text;

pub use coverage::{
    AnalyticCoverage, BlindSpot, BlindSpotKind, CoverageCollector, CoverageOptions, CoverageReport,
    FieldCoverage, Gap, PartnerIpCoverage, PartnerIpReliability, Retention, SourceCoverage,
    StepCoverage, StepSource, Verdict,
};
pub use inventory::{Inventory, InventoryCollector};
