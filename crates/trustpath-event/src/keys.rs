//! Values that correlation reads from every retained event, on every run: computed once
//! per event on first use and kept with it ([`Event::keys`]).
//!
//! The service re-runs the analytics over a tenant's retained events for each batch that
//! changes the tenant, so reading `tp.tenant`, `tp.actor`, `tp.ip` … out of the field map
//! (a hash lookup and a lower-case copy each) on every run made a batch cost grow with
//! everything the tenant retains. [`Keys`] holds them lower-cased and parsed, next to the
//! event; `hunt` computes them once per matched event as well.
//!
//! Guarantee: the keys are those of the event's fields when first asked for. Events are
//! not changed once detection reads them; a clone (the way an event is changed later, e.g.
//! tenant attribution of a retained host event) starts with no keys. Debug builds check
//! that the cached keys still match the fields.

use crate::{Event, SourceKind, norm};
use serde_json::Value;
use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::OnceLock;

/// Normalized keys of one event: trimmed, lower-case, `None` when absent or empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keys {
    /// Customer tenant ([`norm::TENANT`]).
    pub tenant: Option<Box<str>>,
    /// Acting principal ([`norm::ACTOR`]).
    pub actor: Option<Box<str>>,
    /// Client IP as written ([`norm::IP`]).
    pub ip: Option<Box<str>>,
    /// The client IP parsed, when it is an address.
    pub ip_addr: Option<IpAddr>,
    /// The actor's home tenant ([`norm::ACTOR_TENANT`]).
    pub actor_tenant: Option<Box<str>>,
    /// The partner tenant the record names ([`norm::PARTNER_TENANT`]).
    pub partner_tenant: Option<Box<str>>,
    /// The record had no event time ([`norm::TIME_MISSING`]).
    pub time_missing: bool,
    /// The record reports failure: a sign-in with an error code, a directory change with
    /// result `failure`, an audit record with `ResultStatus` failed/false/failure or a
    /// non-zero `ErrorNumber` / `LogonError`.
    pub failed: bool,
}

impl Keys {
    /// The keys of `event`'s current fields.
    pub fn of(event: &Event) -> Keys {
        let text = |key: &str| -> Option<Box<str>> {
            let v = event.fields.get(key)?.as_str()?.trim();
            (!v.is_empty()).then(|| v.to_lowercase().into_boxed_str())
        };
        let ip = text(norm::IP);
        Keys {
            tenant: text(norm::TENANT),
            actor: text(norm::ACTOR),
            ip_addr: ip.as_deref().and_then(|s| s.parse().ok()),
            ip,
            actor_tenant: text(norm::ACTOR_TENANT),
            partner_tenant: text(norm::PARTNER_TENANT),
            time_missing: event.time_missing(),
            failed: failed(event),
        }
    }
}

/// Whether the record reports failure (see [`Keys::failed`]).
fn failed(event: &Event) -> bool {
    let text = |key: &str| -> Option<Cow<'_, str>> {
        match event.get(key)? {
            Value::String(s) => Some(Cow::Borrowed(s.trim())),
            Value::Number(n) => Some(Cow::Owned(n.to_string())),
            Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
            _ => None,
        }
    };
    let nonzero = |v: Option<Cow<'_, str>>| v.is_some_and(|v| !v.is_empty() && v != "0");
    match event.source {
        SourceKind::EntraSignIn => {
            nonzero(text("status.errorCode"))
                || nonzero(text("ResultType"))
                || nonzero(text("Status.errorCode"))
        }
        SourceKind::EntraAudit => text("result")
            .or_else(|| text("Result"))
            .is_some_and(|r| r.eq_ignore_ascii_case("failure")),
        _ => {
            let status = text("ResultStatus").unwrap_or_default();
            ["failed", "false", "failure"]
                .iter()
                .any(|f| status.eq_ignore_ascii_case(f))
                || nonzero(text("ErrorNumber"))
                || nonzero(text("LogonError"))
        }
    }
}

/// The cache slots inside [`Event`]: its [`Keys`] and its record key, each empty until
/// [`Event::keys`] / [`Event::record_key_str`] fills it. A clone starts empty (a clone is
/// how an event gets changed); code that changes an event in place after they may have
/// been read resets the cell. Never serialised or compared.
#[derive(Default)]
pub struct KeysCell(OnceLock<Box<Keys>>, OnceLock<Box<str>>);

impl KeysCell {
    pub(crate) fn get_or_init(&self, event: &Event) -> &Keys {
        let keys = self.0.get_or_init(|| Box::new(Keys::of(event)));
        debug_assert!(
            **keys == Keys::of(event),
            "an event changed after its keys were read: {}",
            event.origin
        );
        keys
    }

    /// The event's record key ([`crate::identity::record_key`]), kept: the hunt takes it
    /// to drop duplicates and again for the ids of the event's findings.
    pub(crate) fn record_key(&self, event: &Event) -> &str {
        let key = self
            .1
            .get_or_init(|| crate::identity::record_key(event).into_boxed_str());
        debug_assert!(
            **key == *crate::identity::record_key(event),
            "an event changed after its record key was read: {}",
            event.origin
        );
        key
    }
}

impl Clone for KeysCell {
    fn clone(&self) -> Self {
        KeysCell::default()
    }
}

impl PartialEq for KeysCell {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for KeysCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() || self.1.get().is_some() {
            "KeysCell(cached)"
        } else {
            "KeysCell"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Format, Origin};
    use serde_json::json;

    fn event(source: SourceKind, fields: Value) -> Event {
        Event {
            time: jiff::Timestamp::UNIX_EPOCH,
            source,
            format: Format::UalJson,
            origin: Origin::file("t.json"),
            fields: crate::fields_from(fields),
            keys: KeysCell::default(),
        }
    }

    #[test]
    fn keys_are_trimmed_lower_case_and_parsed() {
        let e = event(
            SourceKind::M365Audit,
            json!({"tp.tenant": " ABC ", "tp.actor": "Admin@Contoso.COM", "tp.ip": "10.0.0.1",
                   "tp.actor_tenant": "", "ResultStatus": "Succeeded"}),
        );
        let k = e.keys();
        assert_eq!(k.tenant.as_deref(), Some("abc"));
        assert_eq!(k.actor.as_deref(), Some("admin@contoso.com"));
        assert_eq!(k.ip_addr, "10.0.0.1".parse().ok());
        assert_eq!(k.actor_tenant, None);
        assert!(!k.failed && !k.time_missing);
    }

    #[test]
    fn failure_per_source() {
        let signin = event(
            SourceKind::EntraSignIn,
            json!({"status": {"errorCode": 50126}}),
        );
        assert!(signin.keys().failed);
        let ok = event(SourceKind::EntraSignIn, json!({"status": {"errorCode": 0}}));
        assert!(!ok.keys().failed);
        let audit = event(SourceKind::EntraAudit, json!({"result": "Failure"}));
        assert!(audit.keys().failed);
        let ual = event(SourceKind::M365Audit, json!({"ResultStatus": "False"}));
        assert!(ual.keys().failed);
        let logon = event(
            SourceKind::M365Audit,
            json!({"LogonError": "InvalidUserNameOrPassword"}),
        );
        assert!(logon.keys().failed);
    }

    #[test]
    fn a_clone_recomputes_its_keys() {
        let e = event(SourceKind::M365Audit, json!({"tp.tenant": "a"}));
        assert_eq!(e.keys().tenant.as_deref(), Some("a"));
        let mut c = e.clone();
        c.fields.insert("tp.tenant".into(), json!("b"));
        assert_eq!(c.keys().tenant.as_deref(), Some("b"));
        assert_eq!(e.keys().tenant.as_deref(), Some("a"));
    }
}
