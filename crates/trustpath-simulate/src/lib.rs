//! Realistic Microsoft 365 tenant activity with planted delegated-access attacks.
//!
//! Everything is deterministic: the same [`Scenario`] (and its seed) gives the same
//! bytes. Records are built in the schemas of real exports (see
//! `shared/reference/logformats.md`) and written in the real formats ([`OutFormat`]).
//!
//! * [`simulate`] writes one complete attack chain of an analytic in one format.
//!   A chain spans several log families (unified audit log, Entra sign-ins, Entra
//!   directory audit, Windows events); a format carries one family, so the output
//!   holds the chain's steps that the format can carry and [`chain_steps`] lists every
//!   step with its family. A format that can carry none of the chain's steps is an
//!   error naming the steps and the formats that do carry them.
//! * [`generate_example`] writes the `examples/` test-bed tenant: ~14 days of noise,
//!   the planted chains, authorised look-alikes, `trustpath.toml`, `tickets.csv` and
//!   `ground-truth.toml`, with look-alikes that must stay silent.
//! * [`generate_scale_tenant`] writes one tenant with N internal grants and 5N mailbox
//!   reads around one partner chain (the `scale` benchmark).

mod chains;
mod entra;
mod example;
mod record;
mod render;
mod rng;
mod scale;
mod scenario;
mod ual;
mod windows;

pub use chains::PsVariant;
pub use example::{
    ExampleConfig, GrantTruth, GroundTruth, LookalikeTruth, PlantRecord, PlantTruth,
    generate_example,
};
pub use record::{Body, Family, Record, WinEvent};
pub use render::{OutFormat, render};
pub use rng::Rng;
pub use scale::{ScaleConfig, ScaleTruth, generate_scale_tenant};
pub use scenario::{PartnerSpec, Scenario};

use std::collections::BTreeMap;
use std::path::PathBuf;

/// The chain generators, by the name an analytic's `analytic.toml` gives as
/// `simulator` (`trustpath simulate ID` looks it up there).
pub const GENERATORS: [&str; 4] = ["an1350", "an1052", "an1051", "an1347"];

/// The analytics [`simulate`] knows (the built-in analytics' generators have their
/// ids as names).
pub const ANALYTICS: [&str; 4] = ["AN1350", "AN1052", "AN1051", "AN1347"];

/// Why a simulation failed.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    /// Not one of [`GENERATORS`].
    #[error("no chain generator `{0}` (known: an1350, an1052, an1051, an1347)")]
    UnknownAnalytic(String),
    /// The format carries none of the chain's steps.
    #[error("{format} cannot carry any step of the {analytic} chain; its steps are:\n  {}", .steps.join("\n  "))]
    FormatCannotCarry {
        /// The analytic.
        analytic: String,
        /// The requested format.
        format: OutFormat,
        /// Every step with the formats that carry it.
        steps: Vec<String>,
    },
    /// Writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// The records of one complete chain of the generator `generator` (one of
/// [`GENERATORS`], case-insensitive), in time order, Windows record ids assigned.
pub fn chain_records(generator: &str, s: &Scenario) -> Result<Vec<Record>, SimulateError> {
    let mut rng = Rng::new(s.seed);
    let mut chain = chains::Chain::new(&mut rng, s, None);
    match generator.to_ascii_lowercase().as_str() {
        "an1350" => chains::an1350(&mut chain, true, true, true),
        "an1052" => chains::an1052(&mut chain, PsVariant::WithExchange),
        "an1051" => chains::an1051(&mut chain),
        "an1347" => chains::an1347(&mut chain),
        _ => return Err(SimulateError::UnknownAnalytic(generator.to_string())),
    }
    let mut records = chain.records;
    finalize(&mut records, 1000);
    Ok(records)
}

/// Every step of the chain with the formats that can carry it
/// (`AN1350 step 1: … [graph-directory-audit-json, sentinel-auditlogs]`).
pub fn chain_steps(analytic: &str, s: &Scenario) -> Result<Vec<String>, SimulateError> {
    Ok(chain_records(analytic, s)?
        .iter()
        .map(|r| {
            let formats: Vec<&str> = OutFormat::ALL
                .iter()
                .filter(|f| f.family() == r.family())
                .map(|f| f.name())
                .collect();
            format!("{} [{}]", r.step, formats.join(", "))
        })
        .collect())
}

/// One complete attack chain of `analytic` (AN1350, AN1052, AN1051, AN1347) written in
/// `format`: the steps the format can carry (see the crate docs).
pub fn simulate(analytic: &str, format: OutFormat, s: &Scenario) -> Result<Vec<u8>, SimulateError> {
    let records = chain_records(analytic, s)?;
    if !records.iter().any(|r| r.family() == format.family()) {
        return Err(SimulateError::FormatCannotCarry {
            analytic: analytic.to_ascii_uppercase(),
            format,
            steps: chain_steps(analytic, s)?,
        });
    }
    let refs: Vec<&Record> = records.iter().collect();
    Ok(render(&refs, format, &s.tenant_id))
}

/// Sorts records by time (stable) and numbers Windows events per computer and channel,
/// starting at `first_record_id`.
pub(crate) fn finalize(records: &mut [Record], first_record_id: u64) {
    records.sort_by_key(|r| r.time);
    let mut counters: BTreeMap<(String, String), u64> = BTreeMap::new();
    for r in records.iter_mut() {
        if let Body::Windows(w) = &mut r.body {
            let next = counters
                .entry((w.computer.clone(), w.channel.clone()))
                .or_insert(first_record_id);
            w.record_id = *next;
            *next += 1;
        }
    }
}
