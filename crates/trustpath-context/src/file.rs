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

/// `[analytics]`: one table per analytic.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawAnalytics {
    #[serde(rename = "AN1350")]
    pub an1350: RawAn1350,
    #[serde(rename = "AN1052")]
    pub an1052: RawAn1052,
    #[serde(rename = "AN1051")]
    pub an1051: RawAn1051,
    #[serde(rename = "AN1347")]
    pub an1347: RawAn1347,
}

/// `[analytics.AN1350]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawAn1350 {
    pub window: Option<Spanned<String>>,
    #[serde(rename = "MailboxDelegateAllowList")]
    pub mailbox_delegate_allow_list: Option<Vec<String>>,
}

/// `[analytics.AN1052]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawAn1052 {
    #[serde(rename = "PowerShellCmdletFilter")]
    pub powershell_cmdlet_filter: Option<Vec<String>>,
    #[serde(rename = "ExecutionParent")]
    pub execution_parent: Option<Vec<String>>,
    #[serde(rename = "TimeWindow")]
    pub time_window: Option<Spanned<String>>,
}

/// `[analytics.AN1051]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawAn1051 {
    #[serde(rename = "DelegatePermissionLevel")]
    pub delegate_permission_level: Option<Vec<String>>,
    #[serde(rename = "FolderTargetScope")]
    pub folder_target_scope: Option<Vec<String>>,
    #[serde(rename = "DelegatorToDelegatePairing")]
    pub delegator_to_delegate_pairing: Option<Vec<RawPairing>>,
}

/// One `{ delegator = …, delegate = … }` pair.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPairing {
    pub delegator: String,
    pub delegate: String,
}

/// `[analytics.AN1347]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawAn1347 {
    #[serde(rename = "TrustedPartnerTenantIDs")]
    pub trusted_partner_tenant_ids: Option<Vec<Spanned<String>>>,
    #[serde(rename = "RequiredMFA")]
    pub required_mfa: Option<bool>,
    #[serde(rename = "RoleScopeAllowList")]
    pub role_scope_allow_list: Option<Vec<String>>,
}
