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
mod tunables;
mod validate;

pub use duration::parse_duration;
pub use error::{ContextError, TicketError};
pub use glob::Glob;
pub use model::{
    Admins, Context, DelegatePair, HostTimeZone, Partner, SensitiveCategory, Settings,
    SupportWindow, Ticket,
};
pub use tunables::{ContextSet, Schema, TunableSpec, TunableType, TunableValue, Tunables};

use error::Source;
use jiff::Timestamp;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::Path;

impl Context {
    /// Loads and validates a context file and the change-ticket CSV it names
    /// (resolved relative to the context file's folder).
    /// `[analytics.*]` is checked against the built-in analytics' tunables
    /// ([`Schema::builtin`]).
    pub fn load(path: &Path) -> Result<Context, ContextError> {
        Self::load_with(path, Schema::builtin())
    }

    /// [`load`](Self::load) with the tunables of another set of analytics (built-in ones
    /// plus folders loaded at run time).
    pub fn load_with(path: &Path, schema: &Schema) -> Result<Context, ContextError> {
        let text = std::fs::read_to_string(path).map_err(|source| ContextError::Io {
            path: path.to_path_buf(),
            what: "context file".into(),
            source,
        })?;
        let base_dir = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, path.display().to_string(), base_dir, schema)
    }

    /// Parses context TOML held in memory; `base_dir` resolves the ticket CSV path.
    /// Messages call the text `trustpath.toml`.
    pub fn from_toml_str(text: &str, base_dir: &Path) -> Result<Context, ContextError> {
        Self::from_toml_str_with(text, base_dir, Schema::builtin())
    }

    /// [`from_toml_str`](Self::from_toml_str) with the tunables of `schema`.
    pub fn from_toml_str_with(
        text: &str,
        base_dir: &Path,
        schema: &Schema,
    ) -> Result<Context, ContextError> {
        Self::parse(text, "trustpath.toml".to_string(), base_dir, schema)
    }

    /// No partners, admins, tickets, and no tunables at all (not even defaults).
    pub(crate) fn empty() -> Context {
        Context {
            settings: Settings::default(),
            partners: Vec::new(),
            sensitive_mailboxes: Vec::new(),
            admins: Admins::default(),
            change_tickets_csv: None,
            tickets: Vec::new(),
            analytics: Schema::default().defaults(),
            host_timezones: Vec::new(),
        }
    }

    fn parse(
        text: &str,
        label: String,
        base_dir: &Path,
        schema: &Schema,
    ) -> Result<Context, ContextError> {
        let src = Source { label, text };
        let raw: file::RawContext = toml::from_str(text).map_err(|e| src.syntax(&e))?;
        let mut context = validate::validate(raw, &src, base_dir, schema)?;
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
            .globs("AN1350", "MailboxDelegateAllowList")
            .iter()
            .any(|g| g.matches(mailbox))
    }

    /// Whether a partner tenant is trusted for AN1347: listed in
    /// `TrustedPartnerTenantIDs` or configured as an approved `[[partners]]` entry.
    pub fn is_trusted_partner_tenant(&self, tenant_id: &str) -> bool {
        let tenant_id = tenant_id.trim();
        self.analytics
            .strings("AN1347", "TrustedPartnerTenantIDs")
            .iter()
            .any(|t| t.eq_ignore_ascii_case(tenant_id))
            || self
                .partner_by_tenant(tenant_id)
                .is_some_and(|p| p.approved)
    }

    /// The values of a context set a tunable's placeholder adds.
    pub fn context_set(&self, set: ContextSet) -> Vec<String> {
        match set {
            ContextSet::ApprovedPartnerTenants => self
                .partners
                .iter()
                .filter(|p| p.approved)
                .map(|p| p.tenant_id.to_lowercase())
                .collect(),
        }
    }

    /// Sigma `|expand` placeholders: every declared tunable that names one (with the
    /// context sets it adds), plus the context's own `%AdminAccounts%` (`[admins]`
    /// accounts) and `%PartnerTenantIDs%` (every `[[partners]]` tenant). A tunable
    /// the context was loaded without (another schema) expands to its default.
    pub fn placeholders(&self, schema: &Schema) -> BTreeMap<String, Vec<String>> {
        let mut out = BTreeMap::new();
        for (analytic, specs) in schema.iter() {
            for spec in specs {
                let Some(name) = &spec.placeholder else {
                    continue;
                };
                // A context loaded without this analytic's schema has its default.
                let values = match self.analytics.get(analytic, spec.key()) {
                    Some(value) => value.placeholder_values(),
                    None => spec
                        .default_value()
                        .map(|v| v.placeholder_values())
                        .unwrap_or_default(),
                };
                let values = if spec.placeholder_adds.is_empty() {
                    values
                } else {
                    let mut set: BTreeSet<String> =
                        values.iter().map(|v| v.to_lowercase()).collect();
                    for add in &spec.placeholder_adds {
                        set.extend(self.context_set(*add));
                    }
                    set.into_iter().collect()
                };
                out.insert(name.clone(), values);
            }
        }
        out.insert("AdminAccounts".to_owned(), self.admins.accounts.clone());
        out.insert(
            "PartnerTenantIDs".to_owned(),
            self.partners
                .iter()
                .map(|p| p.tenant_id.to_lowercase())
                .collect(),
        );
        out
    }
}
