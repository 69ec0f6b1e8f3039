//! `trustpath collect`: pull the Office 365 Management Activity API (unified audit log)
//! and Microsoft Graph (`auditLogs/signIns`, `auditLogs/directoryAudits`) for one tenant
//! into a case folder that `trustpath hunt` reads as it is.
//!
//! Restart safety: every blob (Management Activity) or page (Graph) is written to its own
//! file by write-temp + fsync + rename, named by the content id (or the ids of the page),
//! then the tenant's state file is written the same way. A kill between the two makes
//! the next run fetch the blob again and overwrite the same file (idempotent); Graph
//! record ids already in the folder are skipped. See README.md for the contract.

pub mod auth;
pub mod collect;
pub mod config;
pub mod contract;
pub mod http;
pub mod secret;
pub mod state;

pub use collect::{CollectError, CollectOptions, Collector, Summary};
pub use config::CollectConfig;
pub use secret::Secret;

/// A terminal spinner for progress lines (hidden when stderr is not a terminal).
pub fn spinner() -> indicatif::ProgressBar {
    indicatif::ProgressBar::new_spinner()
}

/// File names `collect` writes into a case folder that are not logs (`hunt` skips them).
pub const NOT_LOGS: [&str; 2] = [".collect-state.json", "collection.json"];
