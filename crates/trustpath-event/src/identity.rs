//! Record identity: which input record an event is, whatever file, path spelling or export
//! it was read from.
//!
//! Finding ids and de-duplication use [`record_key`], never the [`Origin`](crate::Origin)
//! (the path as typed and the position in the file): the same audit record exported twice
//! (portal CSV and API JSON, two overlapping date ranges, `exports/` and `./exports`) is one
//! record.
//!
//! | source | identity |
//! |---|---|
//! | unified audit log (JSON, Purview CSV, Sentinel `OfficeActivity`) | `Id` (`OfficeId`) |
//! | Entra sign-ins and directory audits (Graph, Sentinel) | `id` (`Id`) |
//! | Windows events (every rendering) | `EventRecordID` + `Computer` + `Channel` |
//! | anything else, or a record without its id | SHA-256 of the record's fields |
//!
//! Ids are compared case-insensitively (GUIDs are written in both cases). The content hash
//! covers the record's own fields (not the `tp.*` fields normalization adds) with object
//! keys sorted, so key order does not matter. A reassembled 4104 script block is the
//! record of its part 1; the alternative reassemblies of a block with conflicting parts
//! carry [`VARIANT_FIELD`] and are distinct records. The tenant (`tp.tenant`, once
//! known) is part of the identity: the same id in two tenants' data is two records.

use crate::{Event, SourceKind};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::borrow::Cow;

/// Field that tells apart several events made from one record (the alternative
/// reassemblies of a 4104 block with conflicting parts): part of the identity.
pub const VARIANT_FIELD: &str = crate::norm::SCRIPT_BLOCK_VARIANT;

/// The identity of the record `event` was normalized from, as a printable string:
/// `m365_audit:id:<id>`, `entra_signin:id:<id>`, `windows:<computer>/<channel>/<record>`,
/// or `<source>:sha256:<hex>`.
pub fn record_key(event: &Event) -> String {
    // Written into one string: every event's key is taken for de-duplication and again
    // for its findings' ids.
    let mut key = String::with_capacity(64);
    // The same record id in two tenants' data (a replayed or copied export, a test
    // tenant) is two records: findings of different tenants never share an id.
    if let Some(tenant) = event.tenant() {
        push_lower(&mut key, tenant.trim());
        key.push('/');
    }
    key.push_str(event.source.as_str());
    key.push(':');
    let own = match event.source {
        SourceKind::M365Audit => push_own_id(&mut key, event, &["Id", "OfficeId", "id"]),
        SourceKind::EntraSignIn | SourceKind::EntraAudit => {
            push_own_id(&mut key, event, &["id", "Id"])
        }
        SourceKind::Windows => push_windows_id(&mut key, event),
        SourceKind::Generic => false,
    };
    if !own {
        key.push_str("sha256:");
        key.push_str(&content_hash(event));
    }
    if let Some(variant) = event.fields.get(VARIANT_FIELD) {
        key.push('#');
        key.push_str(scalar(variant).as_deref().unwrap_or_default());
    }
    key
}

/// A 128-bit digest of [`record_key`], for sets of seen records.
pub fn record_digest(event: &Event) -> u128 {
    let digest = Sha256::digest(event.record_key_str().as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    u128::from_be_bytes(bytes)
}

/// `digest` of a record naming no tenant, within the attribution `scope` it will take
/// its tenant from (the tenants of its folder): the same tenant-less record in two
/// tenants' folders is two records, in one tenant's folders one. An empty scope leaves
/// the digest as it is.
pub fn scoped_digest(digest: u128, scope: &str) -> u128 {
    if scope.is_empty() {
        return digest;
    }
    let hash = Sha256::digest(scope.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hash[..16]);
    digest ^ u128::from_be_bytes(bytes)
}

/// Appends `text` lower-cased (ASCII).
fn push_lower(out: &mut String, text: &str) {
    let start = out.len();
    out.push_str(text);
    if let Some(added) = out.get_mut(start..) {
        added.make_ascii_lowercase();
    }
}

/// Appends `id:<id>` from the first of `keys` the event has; false when it has none.
fn push_own_id(key: &mut String, event: &Event, keys: &[&str]) -> bool {
    let Some(id) = keys
        .iter()
        .find_map(|k| event.fields.get(*k).and_then(scalar))
    else {
        return false;
    };
    key.push_str("id:");
    push_lower(key, &id);
    true
}

/// Appends `<computer>/<channel>/<record>`; false without an `EventRecordID`.
fn push_windows_id(key: &mut String, event: &Event) -> bool {
    let Some(record) = event.fields.get("EventRecordID").and_then(scalar) else {
        return false;
    };
    for name in ["Computer", "Channel"] {
        if let Some(text) = event.fields.get(name).and_then(scalar) {
            push_lower(key, &text);
        }
        key.push('/');
    }
    key.push_str(&record);
    true
}

/// A string (trimmed, not blank) or a number, as text.
fn scalar(value: &Value) -> Option<Cow<'_, str>> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(Cow::Borrowed(s.trim())),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        _ => None,
    }
}

fn content_hash(event: &Event) -> String {
    let mut hasher = Sha256::new();
    let mut keys: Vec<&String> = event
        .fields
        .keys()
        .filter(|k| !k.starts_with("tp."))
        .collect();
    keys.sort();
    for key in keys {
        hasher.update(key.as_bytes());
        hasher.update([0]);
        if let Some(value) = event.fields.get(key) {
            hash_value(&mut hasher, value);
        }
        hasher.update([0]);
    }
    hex::encode(&hasher.finalize()[..16])
}

/// Feeds `value` to the hasher with object keys sorted and a tag per JSON type.
fn hash_value(hasher: &mut Sha256, value: &Value) {
    match value {
        Value::Null => hasher.update(b"n"),
        Value::Bool(b) => hasher.update(if *b { b"t" } else { b"f" }),
        Value::Number(n) => {
            hasher.update(b"#");
            hasher.update(n.to_string().as_bytes());
        }
        Value::String(s) => {
            hasher.update(b"s");
            hasher.update((s.len() as u64).to_be_bytes());
            hasher.update(s.as_bytes());
        }
        Value::Array(items) => {
            hasher.update(b"[");
            hasher.update((items.len() as u64).to_be_bytes());
            for item in items {
                hash_value(hasher, item);
            }
        }
        Value::Object(map) => {
            hasher.update(b"{");
            hasher.update((map.len() as u64).to_be_bytes());
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for key in keys {
                hasher.update((key.len() as u64).to_be_bytes());
                hasher.update(key.as_bytes());
                if let Some(v) = map.get(key) {
                    hash_value(hasher, v);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Format, Origin};
    use serde_json::json;

    fn event(source: SourceKind, format: Format, file: &str, fields: Value) -> Event {
        Event {
            time: jiff::Timestamp::UNIX_EPOCH,
            source,
            format,
            origin: Origin::file(file).with_line(3),
            fields: crate::fields_from(fields),
            keys: Default::default(),
        }
    }

    #[test]
    fn ual_id_whatever_the_path_and_format() {
        let a = event(
            SourceKind::M365Audit,
            Format::UalJson,
            "exports/a.jsonl",
            json!({"Id": "ABC-1", "Operation": "x"}),
        );
        let b = event(
            SourceKind::M365Audit,
            Format::PurviewCsv,
            "./other.csv",
            json!({"Id": "abc-1", "Operation": "x", "tp.actor": "y"}),
        );
        assert_eq!(record_key(&a), "m365_audit:id:abc-1");
        assert_eq!(record_key(&a), record_key(&b));
        assert_eq!(record_digest(&a), record_digest(&b));
    }

    #[test]
    fn windows_record_id_computer_and_channel() {
        let f = |computer: &str, rec: u64| json!({"EventRecordID": rec, "Computer": computer, "Channel": "Security"});
        let a = event(SourceKind::Windows, Format::EvtxJson, "a", f("WS1", 7));
        let b = event(SourceKind::Windows, Format::Winlogbeat, "b", f("ws1", 7));
        let c = event(SourceKind::Windows, Format::EvtxJson, "a", f("WS2", 7));
        assert_eq!(record_key(&a), record_key(&b));
        assert_ne!(record_key(&a), record_key(&c));
    }

    #[test]
    fn content_hash_ignores_key_order_and_tp_fields() {
        let a = event(
            SourceKind::Generic,
            Format::GenericJson,
            "a",
            json!({"x": 1, "y": {"b": 2, "a": [1, "z"]}, "tp.source": "generic"}),
        );
        let b = event(
            SourceKind::Generic,
            Format::GenericJson,
            "b",
            json!({"y": {"a": [1, "z"], "b": 2}, "x": 1}),
        );
        let c = event(
            SourceKind::Generic,
            Format::GenericJson,
            "b",
            json!({"y": {"a": [1, "z"], "b": 3}, "x": 1}),
        );
        assert_eq!(record_key(&a), record_key(&b));
        assert_ne!(record_key(&a), record_key(&c));
        assert!(record_key(&a).starts_with("generic:sha256:"));
    }

    #[test]
    fn variants_are_distinct_records() {
        let mut a = event(
            SourceKind::Windows,
            Format::EvtxJson,
            "a",
            json!({"EventRecordID": 1, "Computer": "h", "Channel": "c"}),
        );
        let plain = record_key(&a);
        a.fields.insert(VARIANT_FIELD.to_owned(), json!(2));
        assert_eq!(record_key(&a), format!("{plain}#2"));
    }
}
