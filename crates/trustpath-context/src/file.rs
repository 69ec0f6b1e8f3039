//! The TOML schema exactly as written in `trustpath.toml` (before validation).
//!
//! Every table denies unknown keys, so a misspelt key is an error naming it instead of
//! a tunable that silently keeps its default. Values that need semantic checks keep
//! their source span (`toml::Spanned`) so validation errors can name the line.

use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawContext {
    pub settings: RawSettings,
    pub partners: Vec<RawPartner>,
    pub sensitive_mailboxes: BTreeMap<String, Vec<String>>,
    pub admins: RawAdmins,
    pub change_tickets: RawChangeTickets,
    pub analytics: RawAnalytics,
    /// `[host_timezones]`: host name or glob → IANA time zone.
    pub host_timezones: BTreeMap<String, Spanned<String>>,
}

/// `[settings]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawSettings {
    pub lateness: Option<Spanned<String>>,
    pub first_seen_learning: Option<Spanned<String>>,
}

/// One `[[partners]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPartner {
    #[serde(default)]
    pub name: Option<String>,
    pub tenant_id: Spanned<String>,
    #[serde(default)]
    pub cidrs: Vec<Spanned<String>>,
    #[serde(default)]
    pub approved: bool,
    #[serde(default)]
    pub approved_roles: Vec<String>,
    #[serde(default)]
    pub support_windows: Vec<RawSupportWindow>,
    #[serde(default)]
    pub domains: Vec<Spanned<String>>,
}

/// One `[[partners.support_windows]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSupportWindow {
    pub days: Vec<Spanned<String>>,
    pub start: Spanned<String>,
    pub end: Spanned<String>,
    #[serde(default)]
    pub timezone: Option<Spanned<String>>,
}

/// `[admins]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawAdmins {
    pub accounts: Vec<String>,
    pub hosts: Vec<String>,
}

/// `[change_tickets]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawChangeTickets {
    pub csv: Option<Spanned<String>>,
}

/// `[analytics]`: one table per analytic, keys and values with their spans; checked
/// against the declared tunables by [`crate::tunables::validate`].
pub(crate) type RawAnalytics = crate::tunables::RawTunables;
