//! Small helpers over a record's field map shared by the per-format normalizers.
//!
//! All lookups here are by exact key: the names are the documented ones, and the hot path
//! must not scan maps case-insensitively.

use crate::ip::normalize_ip_text;
use serde_json::{Map, Value};

/// A record's field map.
pub(crate) use trustpath_event::{Fields, fields_with_capacity, to_fields};

/// A JSON object nested in a field's value.
pub(crate) type Object = Map<String, Value>;

/// The string at `key` if present and not blank (Graph writes `""` for missing values).
pub(crate) fn text<'a>(map: &'a Fields, key: &str) -> Option<&'a str> {
    non_blank(map.get(key)?)
}

/// `v` as a string if it is one and not blank.
pub(crate) fn non_blank(v: &Value) -> Option<&str> {
    v.as_str().map(str::trim).filter(|s| !s.is_empty())
}

/// The first non-blank string among `keys`.
pub(crate) fn first_text<'a>(map: &'a Fields, keys: &[&str]) -> Option<&'a str> {
    keys.iter().find_map(|k| text(map, k))
}

/// The value of the pair named `name` in a Name/Value list (`Parameters`, …).
pub(crate) fn bag_value<'a>(list: &'a Value, name: &str) -> Option<&'a Value> {
    list.as_array()?.iter().find_map(|pair| {
        let pair = pair.as_object()?;
        (pair.get("Name")?.as_str()? == name)
            .then(|| pair.get("Value"))
            .flatten()
    })
}

/// The non-blank string at the dotted object path `path` (no arrays, no bags).
pub(crate) fn path_text<'a>(map: &'a Fields, path: &[&str]) -> Option<&'a str> {
    let (first, rest) = path.split_first()?;
    let mut value = map.get(*first)?;
    for key in rest {
        value = value.as_object()?.get(*key)?;
    }
    non_blank(value)
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// Parses every top-level string that looks like a JSON array or object and is one.
///
/// Sentinel stores dynamic columns (`Parameters`, `Folders`, `InitiatedBy`, `Status` …)
/// as JSON text; after this they are addressable like the native API's nested values.
pub(crate) fn parse_json_strings(map: &mut Fields) {
    for value in map.values_mut() {
        if let Some(parsed) = json_in_string(value) {
            *value = parsed;
        }
    }
}

/// The JSON array or object a string value holds, if it holds one.
pub(crate) fn json_in_string(value: &Value) -> Option<Value> {
    let s = value.as_str()?;
    let first = s.trim_start().as_bytes().first()?;
    if *first != b'[' && *first != b'{' {
        return None;
    }
    serde_json::from_str::<Value>(s)
        .ok()
        .filter(|v| v.is_array() || v.is_object())
}

/// An integer in a string (`"50"`) as a JSON number; `None` for anything else.
pub(crate) fn number_in_string(value: &Value) -> Option<Value> {
    let s = value.as_str()?.trim();
    if let Ok(i) = s.parse::<i64>() {
        return Some(Value::from(i));
    }
    s.parse::<u64>().ok().map(Value::from)
}

/// Replaces the value at `key` with its number when it is an integer string.
pub(crate) fn numberize(map: &mut Fields, key: &str) {
    if let Some(value) = map.get_mut(key)
        && let Some(number) = number_in_string(value)
    {
        *value = number;
    }
}

/// Inserts `to` = a copy of `from` when `from` has a value (not null, not `""`) and `to`
/// is absent.
pub(crate) fn alias(map: &mut Fields, from: &str, to: &str) {
    if map.contains_key(to) {
        return;
    }
    if let Some(value) = map.get(from).filter(|v| !is_empty(v)) {
        let copy = value.clone();
        map.insert(to.to_owned(), copy);
    }
}

/// Inserts a `tp.*` string; UPN-like values (containing `@`) are lower-cased.
pub(crate) fn set_norm(map: &mut Fields, key: &str, value: String) {
    let value = if value.contains('@') {
        value.to_lowercase()
    } else {
        value
    };
    map.insert(key.to_owned(), Value::String(value));
}

/// Inserts a `tp.*` string that the caller has already normalized.
pub(crate) fn set_norm_as_is(map: &mut Fields, key: &str, value: String) {
    map.insert(key.to_owned(), Value::String(value));
}

/// Inserts `tp.ip` when `raw` is an IP address in any accepted shape.
pub(crate) fn set_norm_ip(map: &mut Fields, raw: &str) -> bool {
    match normalize_ip_text(raw) {
        Some(ip) => {
            map.insert(trustpath_event::norm::IP.to_owned(), Value::String(ip));
            true
        }
        None => false,
    }
}

/// Inserts `tp.ip` from the first of `keys` that holds an IP address.
pub(crate) fn set_first_ip(map: &mut Fields, keys: &[&str]) {
    let found = keys
        .iter()
        .filter_map(|k| text(map, k))
        .find_map(normalize_ip_text);
    if let Some(ip) = found {
        map.insert(trustpath_event::norm::IP.to_owned(), Value::String(ip));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_strings_are_parsed_only_when_they_parse() {
        let mut map = trustpath_event::fields_from(json!({
            "Parameters": "[{\"Name\":\"Identity\",\"Value\":\"a@b\"}]",
            "Status": " {\"errorCode\":0}",
            "Broken": "[not json",
            "Plain": "hello",
            "Quoted": "\"x\"",
        }));
        parse_json_strings(&mut map);
        assert_eq!(
            bag_value(&map["Parameters"], "Identity"),
            Some(&json!("a@b"))
        );
        assert_eq!(map["Status"], json!({"errorCode": 0}));
        assert_eq!(map["Broken"], json!("[not json"));
        assert_eq!(map["Quoted"], json!("\"x\""));
    }

    #[test]
    fn numbers_and_aliases() {
        let mut map = trustpath_event::fields_from(
            json!({"RecordType": "50", "UserType": "Regular", "A": 1}),
        );
        numberize(&mut map, "RecordType");
        numberize(&mut map, "UserType");
        alias(&mut map, "A", "B");
        alias(&mut map, "Missing", "C");
        assert_eq!(map["RecordType"], json!(50));
        assert_eq!(map["UserType"], json!("Regular"));
        assert_eq!(map["B"], json!(1));
        assert!(!map.contains_key("C"));
    }
}
