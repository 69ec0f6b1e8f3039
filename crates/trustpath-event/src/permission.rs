//! [`PermissionChange`]: one mailbox permission change, the typed hand-off between
//! normalization (which builds it from every source) and the analytics' tuning,
//! rollback and the permission inventory (which read it). On an event it is
//! `tp.permission_change` ([`crate::norm::PERMISSION_CHANGE`]), a JSON list of
//!
//! ```json
//! {"cmdlet": "Add-MailboxPermission", "action": "grant", "right": "FullAccess",
//!  "mailbox": "ceo@contoso.com", "trustee": "eve@contoso.com", "folder": null,
//!  "params": {"Identity": "ceo@contoso.com", "User": "eve@contoso.com"}}
//! ```
//!
//! in that key order, so Sigma rules address `tp.permission_change.right` etc.

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use std::fmt;

/// Whether a change grants or removes access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PermissionAction {
    /// Access granted (or changed to a new level).
    Grant,
    /// Access removed.
    Remove,
}

impl PermissionAction {
    /// `grant` / `remove`.
    pub fn as_str(self) -> &'static str {
        match self {
            PermissionAction::Grant => "grant",
            PermissionAction::Remove => "remove",
        }
    }
}

/// One mailbox permission change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionChange {
    /// The Exchange cmdlet or mailbox-audit action (`Add-MailboxPermission`,
    /// `AddFolderPermissions`).
    pub cmdlet: String,
    /// Grant or remove.
    pub action: PermissionAction,
    /// The right (`FullAccess`, `SendAs`, `SendOnBehalf`, `Role:ApplicationImpersonation`,
    /// a folder role or MemberRights flags).
    #[serde(default)]
    pub right: String,
    /// The mailbox (lower-case), if one is named and resolved.
    pub mailbox: Option<String>,
    /// Who receives (or loses) the right (lower-case), if named and resolved.
    pub trustee: Option<String>,
    /// The folder (`\Inbox`, `Inbox`), for folder permissions.
    pub folder: Option<String>,
    /// The cmdlet's parameters as written, in order.
    #[serde(default)]
    pub params: Params,
}

/// Cmdlet parameters in the order written (a JSON object of strings).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    /// The value of a parameter (exact name; the last one written wins, as in JSON).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Serialize for Params {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Params {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ParamsVisitor;
        impl<'de> Visitor<'de> for ParamsVisitor {
            type Value = Params;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of parameter names and values")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Params, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = access.next_entry::<String, Value>()? {
                    let text = match v {
                        Value::String(s) => s,
                        Value::Null => String::new(),
                        other => other.to_string(),
                    };
                    out.push((k, text));
                }
                Ok(Params(out))
            }
        }
        deserializer.deserialize_map(ParamsVisitor)
    }
}

impl PermissionChange {
    /// As the JSON object `tp.permission_change` holds.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// One change from its JSON object (`None` if it is not one).
    pub fn from_value(value: &Value) -> Option<PermissionChange> {
        PermissionChange::deserialize(value).ok()
    }

    /// Whether it grants access.
    pub fn grants(&self) -> bool {
        self.action == PermissionAction::Grant
    }
}

impl crate::Event {
    /// The event's permission changes (`tp.permission_change`), in order; entries that
    /// are not a change are skipped.
    pub fn permission_changes(&self) -> Vec<PermissionChange> {
        match self.fields.get(crate::norm::PERMISSION_CHANGE) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(PermissionChange::from_value)
                .collect(),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn same_json_as_written_by_hand() {
        let change = PermissionChange {
            cmdlet: "Add-MailboxPermission".into(),
            action: PermissionAction::Grant,
            right: "FullAccess".into(),
            mailbox: Some("ceo@contoso.com".into()),
            trustee: None,
            folder: None,
            params: Params(vec![
                ("User".into(), "eve@contoso.com".into()),
                ("Identity".into(), "ceo@contoso.com".into()),
            ]),
        };
        let by_hand = json!({
            "cmdlet": "Add-MailboxPermission", "action": "grant", "right": "FullAccess",
            "mailbox": "ceo@contoso.com", "trustee": null, "folder": null,
            "params": {"User": "eve@contoso.com", "Identity": "ceo@contoso.com"},
        });
        assert_eq!(
            serde_json::to_string(&change.to_value()).ok(),
            serde_json::to_string(&by_hand).ok()
        );
        assert_eq!(PermissionChange::from_value(&by_hand), Some(change));
    }
}
