//! The validated, typed context: what the analytics and the report read.

use crate::glob::Glob;
use ipnet::IpNet;
use jiff::civil::{Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use std::net::IpAddr;
use std::path::PathBuf;

/// `[settings]`: engine settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Allowed lateness of events in streaming mode (default 12 h).
    pub lateness: SignedDuration,
    /// History of a tenant's data needed before an actor can be called "first seen"
    /// (default 7 days before the event).
    pub first_seen_learning: SignedDuration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            lateness: SignedDuration::from_hours(12),
            first_seen_learning: SignedDuration::from_hours(7 * 24),
        }
    }
}

/// A partner (CSP / MSP) tenant with delegated access to this organisation.
#[derive(Debug, Clone, PartialEq)]
pub struct Partner {
    /// Display name (defaults to the tenant id).
    pub name: String,
    /// The partner's tenant id, lower-case.
    pub tenant_id: String,
    /// Address ranges the partner's technicians work from.
    pub cidrs: Vec<IpNet>,
    /// Whether the delegated-admin relationship is approved by this organisation.
    pub approved: bool,
    /// Roles the approved relationship grants (empty = not restricted).
    pub approved_roles: Vec<String>,
    /// When the partner may work; empty = no windows configured.
    pub support_windows: Vec<SupportWindow>,
    /// DNS domains of the partner's own accounts (lower-case, e.g. `fabrikam-msp.com`):
    /// an account `x@<domain>` or `x@sub.<domain>` is one of the partner's principals.
    pub domains: Vec<String>,
}

impl Partner {
    /// Whether `account` (a UPN or address) is in one of the partner's domains.
    pub fn owns_account(&self, account: &str) -> bool {
        if self.domains.is_empty() {
            return false;
        }
        let Some((_, domain)) = account.trim().rsplit_once('@') else {
            return false;
        };
        // ASCII case-insensitive, without a copy (called for every event of a tenant).
        self.domains.iter().any(|d| {
            let Some(cut) = domain.len().checked_sub(d.len()) else {
                return false;
            };
            let tail_matches = domain
                .get(cut..)
                .is_some_and(|tail| tail.eq_ignore_ascii_case(d));
            tail_matches && (cut == 0 || domain.as_bytes()[cut - 1] == b'.')
        })
    }

    /// Whether `ip` lies in one of the partner's ranges (IPv4-mapped IPv6 is unmapped).
    pub fn owns_ip(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.cidrs.iter().any(|net| net.contains(&ip))
    }

    /// `Some(true)` inside one of the support windows, `Some(false)` outside all of
    /// them, `None` when the partner has no windows (unknown: not a reason to raise).
    pub fn in_support_window(&self, time: Timestamp) -> Option<bool> {
        if self.support_windows.is_empty() {
            return None;
        }
        Some(self.support_windows.iter().any(|w| w.contains(time)))
    }
}

/// A weekly support window in a time zone: `days`, `start`–`end` local time.
#[derive(Debug, Clone, PartialEq)]
pub struct SupportWindow {
    /// Weekdays the window applies to.
    pub days: Vec<Weekday>,
    /// Local start time (inclusive).
    pub start: Time,
    /// Local end time (exclusive; `24:00` is written as [`Time::MAX`], inclusive).
    pub end: Time,
    /// The IANA time zone name as written.
    pub timezone_name: String,
    /// The resolved time zone.
    pub timezone: TimeZone,
}

impl SupportWindow {
    /// Whether an instant falls inside this window in the window's time zone.
    pub fn contains(&self, time: Timestamp) -> bool {
        let local = time.to_zoned(self.timezone.clone());
        let clock = local.time();
        self.days.contains(&local.weekday())
            && clock >= self.start
            && (clock < self.end || self.end == Time::MAX)
    }
}

/// A sensitive-mailbox category (`executive`, `finance`, …) and its patterns.
#[derive(Debug, Clone, PartialEq)]
pub struct SensitiveCategory {
    /// Category name as written in `[sensitive_mailboxes]`.
    pub name: String,
    /// Case-insensitive glob patterns.
    pub patterns: Vec<Glob>,
}

/// `[admins]`: known administrator accounts and admin workstations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Admins {
    /// Accounts (UPN or `DOMAIN\user`), compared case-insensitively.
    pub accounts: Vec<String>,
    /// Host names, compared case-insensitively, with or without the DNS suffix.
    pub hosts: Vec<String>,
}

/// One approved change from the change-ticket CSV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    /// Ticket id (`CHG0001234`).
    pub id: String,
    /// Start of the approved change window.
    pub start: Timestamp,
    /// End of the approved change window (inclusive).
    pub end: Timestamp,
    /// Who may act (empty = anyone).
    pub actor: String,
    /// What may be changed (mailbox / object; empty = anything).
    pub target: String,
    /// The approved action: a glob if it holds `*`/`?`, else a substring (empty = any).
    pub action: String,
    /// The customer tenant the change is approved in (lower-case GUID; empty = any
    /// tenant). A ticket naming a tenant never covers a change in another tenant, nor one
    /// whose tenant is unknown.
    pub tenant: String,
    /// Line of the row in the CSV.
    pub line: u64,
}

/// One `DelegatorToDelegatePairing` entry (AN1051): an expected delegate relationship.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelegatePair {
    /// The mailbox owner.
    pub delegator: String,
    /// The expected delegate.
    pub delegate: String,
}

/// The organisation's context (`trustpath.toml`), validated.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Context {
    /// `[settings]`.
    pub settings: Settings,
    /// `[[partners]]`, in file order.
    pub partners: Vec<Partner>,
    /// `[sensitive_mailboxes]`, categories in alphabetical order.
    pub sensitive_mailboxes: Vec<SensitiveCategory>,
    /// `[admins]`.
    pub admins: Admins,
    /// The change-ticket CSV (`[change_tickets] csv`), resolved against the file's folder.
    pub change_tickets_csv: Option<PathBuf>,
    /// The rows of the change-ticket CSV, in file order.
    pub tickets: Vec<Ticket>,
    /// `[analytics.*]` tunables, checked against what the analytics declare
    /// ([`crate::Schema`]), defaults filled in.
    pub analytics: crate::Tunables,
    /// `[host_timezones]`: the local time zone of hosts whose logs write local time
    /// without a zone (NXLog `EventTime`); see [`Context::host_time_zone`].
    pub host_timezones: Vec<HostTimeZone>,
}

/// One `[host_timezones]` entry: hosts (a name or a glob, case-insensitive; a short name
/// also matches the host's FQDN) and the IANA time zone their local times are in.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTimeZone {
    /// The host name or glob as written.
    pub hosts: Glob,
    /// The IANA name as written (`America/New_York`).
    pub timezone_name: String,
    /// The time zone.
    pub timezone: TimeZone,
}

impl HostTimeZone {
    /// Whether this entry names `host` (`ws-ny-01.contoso.local` matches `WS-NY-01`).
    pub fn matches(&self, host: &str) -> bool {
        let host = host.trim();
        let short = host.split('.').next().unwrap_or(host);
        self.hosts.matches(host) || self.hosts.matches(short)
    }
}

#[cfg(test)]
mod tests {
    use super::Partner;

    fn partner(domains: &[&str]) -> Partner {
        Partner {
            name: "Fabrikam".into(),
            tenant_id: "p".into(),
            cidrs: Vec::new(),
            approved: false,
            approved_roles: Vec::new(),
            support_windows: Vec::new(),
            domains: domains.iter().map(|d| (*d).to_owned()).collect(),
        }
    }

    #[test]
    fn accounts_in_a_domain_or_its_subdomains_case_insensitively() {
        let p = partner(&["fabrikam-msp.com"]);
        assert!(p.owns_account("tech@fabrikam-msp.com"));
        assert!(p.owns_account(" Tech@EU.Fabrikam-MSP.com "));
        assert!(!p.owns_account("tech@notfabrikam-msp.com"));
        assert!(!p.owns_account("tech@fabrikam-msp.com.evil"));
        assert!(!p.owns_account("fabrikam-msp.com"));
        assert!(!p.owns_account("tech@msp.com"));
        assert!(!p.owns_account("tech@é.fabrikam-msp.co"));
        assert!(!partner(&[]).owns_account("tech@fabrikam-msp.com"));
    }
}
