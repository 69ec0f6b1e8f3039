//! The organisation's context and tuning file, `trustpath.toml`.
//!
//! [`Context::load`] parses the TOML into typed structs, validates every value (CIDRs,
//! IANA time zones, weekdays, times, durations, tenant ids), rejects unknown keys, and
//! reads the change-ticket CSV it points to. Errors name the file, the line and the key
//! ([`ContextError`]). [`Context::default`] is the ATT&CK default tuning with no
//! partners, no sensitive mailboxes, no admins and no tickets.
//!
//! The query helpers answer what the analytics ask: which partner owns a tenant or an
//! IP, whether a mailbox is sensitive, whether an account or host is an admin one,
//! whether a partner acted inside its support window, and which change ticket, if any,
//! authorises an action. The schema is documented in `CONTEXT.md` beside this crate.

mod duration;
mod error;
mod file;
mod glob;
mod model;
mod tickets;
mod validate;

pub use duration::parse_duration;
pub use error::{ContextError, TicketError};
pub use glob::Glob;
pub use model::{
    Admins, An1051, An1052, An1347, An1350, Analytics, Context, DEFAULT_CMDLETS, DelegatePair,
    HostTimeZone, Partner, SensitiveCategory, Settings, SupportWindow, Ticket,
};

use error::Source;
use jiff::Timestamp;
use std::net::IpAddr;
use std::path::Path;

impl Context {
    /// Loads and validates a context file and the change-ticket CSV it names
    /// (resolved relative to the context file's folder).
    pub fn load(path: &Path) -> Result<Context, ContextError> {
        let text = std::fs::read_to_string(path).map_err(|source| ContextError::Io {
            path: path.to_path_buf(),
            what: "context file".into(),
            source,
        })?;
        let base_dir = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, path.display().to_string(), base_dir)
    }

    /// Parses context TOML held in memory; `base_dir` resolves the ticket CSV path.
    /// Messages call the text `trustpath.toml`.
    pub fn from_toml_str(text: &str, base_dir: &Path) -> Result<Context, ContextError> {
        Self::parse(text, "trustpath.toml".to_string(), base_dir)
    }

    fn parse(text: &str, label: String, base_dir: &Path) -> Result<Context, ContextError> {
        let src = Source { label, text };
        let raw: file::RawContext = toml::from_str(text).map_err(|e| src.syntax(&e))?;
        let mut context = validate::validate(raw, &src, base_dir)?;
        if let Some(csv) = &context.change_tickets_csv {
            context.tickets = tickets::load(csv)?;
        }
        Ok(context)
    }

    /// The partner with this tenant id (case-insensitive).
    pub fn partner_by_tenant(&self, tenant_id: &str) -> Option<&Partner> {
        let tenant_id = tenant_id.trim();
        self.partners
            .iter()
            .find(|p| p.tenant_id.eq_ignore_ascii_case(tenant_id))
    }

    /// The first partner (in file order) whose ranges contain `ip`.
    pub fn partner_for_ip(&self, ip: IpAddr) -> Option<&Partner> {
        self.partners.iter().find(|p| p.owns_ip(ip))
    }

    /// The sensitive category of a mailbox (first matching category, alphabetical).
    pub fn is_sensitive(&self, mailbox: &str) -> Option<&str> {
        self.sensitive_mailboxes
            .iter()
            .find(|c| c.patterns.iter().any(|g| g.matches(mailbox)))
            .map(|c| c.name.as_str())
    }

    /// Whether an account (UPN or `DOMAIN\user`) is a listed admin (case-insensitive).
    pub fn is_admin_account(&self, account: &str) -> bool {
        let account = account.trim();
        self.admins
            .accounts
            .iter()
            .any(|a| a.eq_ignore_ascii_case(account))
    }

    /// Whether a host is a listed admin host; `adm-ws01.contoso.local` matches `ADM-WS01`.
    pub fn is_admin_host(&self, host: &str) -> bool {
        let host = host.trim();
        let short = host.split('.').next().unwrap_or(host);
        self.admins
            .hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(host) || h.eq_ignore_ascii_case(short))
    }

    /// Whether `time` is inside one of the partner's support windows: `Some(false)` for
    /// a partner with windows and a time outside all of them, `None` for a partner
    /// without windows (unknown — not a reason to raise severity).
    pub fn in_support_window(&self, partner: &Partner, time: Timestamp) -> Option<bool> {
        partner.in_support_window(time)
    }

    /// The first ticket (file order) that covers `actor` doing `action` on `target` at
    /// `time`; see [`Ticket::covers`] for the matching rules. The tenant is unknown, so
    /// tickets that name a tenant are not considered.
    pub fn matching_ticket(
        &self,
        actor: &str,
        target: &str,
        action: &str,
        time: Timestamp,
    ) -> Option<&Ticket> {
        self.matching_ticket_in(None, actor, target, action, time)
    }

    /// A ticket naming `actor` (not a ticket for anyone) whose window holds `time`, in
    /// `tenant`: the ticketed work a partner technician's sign-in belongs to, whatever
    /// the ticket's target and action.
    pub fn ticket_for_session(
        &self,
        tenant: Option<&str>,
        actor: &str,
        time: Timestamp,
    ) -> Option<&Ticket> {
        self.tickets
            .iter()
            .find(|t| !t.actor.is_empty() && t.covers_actor_in(tenant, actor, time))
    }

    /// [`matching_ticket`](Self::matching_ticket) for a change in `tenant`: tickets
    /// without a tenant and tickets naming this tenant ([`Ticket::covers_in`]).
    pub fn matching_ticket_in(
        &self,
        tenant: Option<&str>,
        actor: &str,
        target: &str,
        action: &str,
        time: Timestamp,
    ) -> Option<&Ticket> {
        self.tickets
            .iter()
            .find(|t| t.covers_in(tenant, actor, target, action, time))
    }

    /// The time zone of `host`'s local times (`[host_timezones]`): an entry naming the
    /// host exactly (FQDN or short name) wins over a glob;
    /// globs are tried in alphabetical order of the pattern.
    pub fn host_time_zone(&self, host: &str) -> Option<&HostTimeZone> {
        let host = host.trim();
        let short = host.split('.').next().unwrap_or(host);
        let exact = |z: &&HostTimeZone| {
            let name = z.hosts.as_str();
            name.eq_ignore_ascii_case(host) || name.eq_ignore_ascii_case(short)
        };
        self.host_timezones
            .iter()
            .find(exact)
            .or_else(|| self.host_timezones.iter().find(|z| z.matches(host)))
    }

    /// Whether third parties may manage this mailbox (AN1350 `MailboxDelegateAllowList`).
    pub fn delegate_allowed(&self, mailbox: &str) -> bool {
        self.analytics
            .an1350
            .mailbox_delegate_allow_list
            .iter()
            .any(|g| g.matches(mailbox))
    }

    /// Whether a partner tenant is trusted for AN1347: listed in
    /// `TrustedPartnerTenantIDs` or configured as an approved `[[partners]]` entry.
    pub fn is_trusted_partner_tenant(&self, tenant_id: &str) -> bool {
        let tenant_id = tenant_id.trim();
        self.analytics
            .an1347
            .trusted_partner_tenant_ids
            .iter()
            .any(|t| t.eq_ignore_ascii_case(tenant_id))
            || self
                .partner_by_tenant(tenant_id)
                .is_some_and(|p| p.approved)
    }
}
