//! Field lookup by the names rules use.
//!
//! Resolution order for a path `a.b.c`:
//! 1. the whole path as one key of the top-level map (flattened exports keep dots in keys);
//! 2. segment by segment: in an object, the first key made of the next 1, 2, … segments
//!    (`tp.permission_change.action`), exact, else a case-insensitive match;
//!    in an array, a numeric segment indexes it, a Name/Value bag (`Name`/`Value`,
//!    `name`/`value`, `key`/`value`, `Key`/`Value`) is searched by name, and otherwise
//!    the rest of the path is applied to every element (fan-out);
//! 3. when nothing matched exactly at the top level, a case-insensitive key match.

use crate::{FieldMap, Fields};
use serde_json::Value;

const BAG_KEYS: [(&str, &str); 4] = [
    ("Name", "Value"),
    ("name", "value"),
    ("key", "value"),
    ("Key", "Value"),
];

/// See the module docs. Returns whether anything was found.
pub(crate) fn for_each_value<'a>(
    fields: &'a Fields,
    path: &str,
    f: &mut dyn FnMut(&'a Value),
) -> bool {
    if let Some(v) = fields.get(path) {
        fan_out(v, f);
        return true;
    }
    if !path.contains('.') {
        // One segment (most Sigma fields): only the case-insensitive match is left.
        return fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(path))
            .is_some_and(|(_, v)| walk(v, None, f));
    }
    object_walk(fields, path, f)
}

/// In an object, the first key made of 1, 2, … leading segments of `path` (keys may
/// contain dots, like `tp.permission_change`), then the rest of the path below it. The
/// keys are slices of `path`: a lookup allocates nothing.
fn object_walk<'a>(map: &'a impl FieldMap, path: &str, f: &mut dyn FnMut(&'a Value)) -> bool {
    let mut from = 0;
    loop {
        let dot = path.get(from..).and_then(|p| p.find('.')).map(|i| from + i);
        let key = path.get(..dot.unwrap_or(path.len())).unwrap_or(path);
        if let Some(v) = object_get(map, key) {
            return walk(v, dot.and_then(|i| path.get(i + 1..)), f);
        }
        match dot {
            Some(i) => from = i + 1,
            None => return false,
        }
    }
}

fn object_get<'a>(map: &'a impl FieldMap, key: &str) -> Option<&'a Value> {
    map.field(key).or_else(|| {
        map.entries()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// Calls `f` with `value`, or with each of its items (recursively) when it is a
/// non-empty array: how [`crate::Event::for_each_value`] hands over a field's values.
pub fn fan_out<'a>(value: &'a Value, f: &mut dyn FnMut(&'a Value)) {
    match value {
        Value::Array(items) if !items.is_empty() => items.iter().for_each(|v| fan_out(v, f)),
        other => f(other),
    }
}

/// The values below `value` at `rest`, what is left of the path (`None`: `value`
/// itself); whether anything was found.
fn walk<'a>(value: &'a Value, rest: Option<&str>, f: &mut dyn FnMut(&'a Value)) -> bool {
    let Some(rest) = rest else {
        fan_out(value, f);
        return true;
    };
    let (segment, tail) = match rest.split_once('.') {
        Some((segment, tail)) => (segment, Some(tail)),
        None => (rest, None),
    };
    match value {
        Value::Object(map) => object_walk(map, rest, f),
        Value::Array(items) => {
            if let Ok(index) = segment.parse::<usize>() {
                return items.get(index).is_some_and(|v| walk(v, tail, f));
            }
            if let Some(v) = bag_get(items, segment) {
                return walk(v, tail, f);
            }
            let mut any = false;
            for item in items {
                any |= walk(item, Some(rest), f);
            }
            any
        }
        _ => false,
    }
}

/// The value of the Name/Value pair called `name` in a bag, if `items` is one.
fn bag_get<'a>(items: &'a [Value], name: &str) -> Option<&'a Value> {
    for item in items {
        let Value::Object(pair) = item else {
            return None;
        };
        for (name_key, value_key) in BAG_KEYS {
            if let (Some(Value::String(n)), Some(v)) = (pair.get(name_key), pair.get(value_key))
                && n.eq_ignore_ascii_case(name)
            {
                return Some(v);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn all(v: &Value, path: &str) -> Vec<Value> {
        let map = crate::fields_from(v.clone());
        let mut out = Vec::new();
        for_each_value(&map, path, &mut |x| out.push(x.clone()));
        out
    }

    #[test]
    fn exact_dotted_key_wins() {
        let v = json!({"winlog.event_id": "4104", "winlog": {"event_id": "x"}});
        assert_eq!(all(&v, "winlog.event_id"), vec![json!("4104")]);
    }

    #[test]
    fn nested_and_case_insensitive() {
        let v = json!({"Event": {"System": {"EventID": 1}}});
        assert_eq!(all(&v, "Event.System.EventID"), vec![json!(1)]);
        assert_eq!(all(&v, "event.system.eventid"), vec![json!(1)]);
    }

    #[test]
    fn name_value_bags() {
        let v = json!({"Parameters": [
            {"Name": "Identity", "Value": "ceo@contoso.com"},
            {"Name": "AccessRights", "Value": "FullAccess"}
        ]});
        assert_eq!(
            all(&v, "Parameters.AccessRights"),
            vec![json!("FullAccess")]
        );
        assert!(all(&v, "Parameters.Missing").is_empty());
    }

    #[test]
    fn arrays_fan_out() {
        let v = json!({"targetResources": [
            {"userPrincipalName": "a@x"}, {"userPrincipalName": "b@x"}
        ], "tags": ["p", "q"]});
        assert_eq!(
            all(&v, "targetResources.userPrincipalName"),
            vec![json!("a@x"), json!("b@x")]
        );
        assert_eq!(all(&v, "tags"), vec![json!("p"), json!("q")]);
        assert_eq!(
            all(&v, "targetResources.1.userPrincipalName"),
            vec![json!("b@x")]
        );
    }

    #[test]
    fn keys_with_dots_below_the_top() {
        let v = json!({"tp.permission_change": [{"action": "grant"}], "a": {"b.c": {"d": 1}}});
        assert_eq!(all(&v, "tp.permission_change.action"), vec![json!("grant")]);
        assert_eq!(all(&v, "a.b.c.d"), vec![json!(1)]);
    }

    #[test]
    fn odd_paths_resolve_segment_by_segment() {
        // Empty segments, a trailing dot, and a dotted key in another case below the top.
        assert_eq!(all(&json!({"a": {"": {"b": 1}}}), "a..b"), vec![json!(1)]);
        assert_eq!(all(&json!({"a": {"": 2}}), "a."), vec![json!(2)]);
        assert_eq!(all(&json!({"A": {"B.C": 3}}), "a.b.c"), vec![json!(3)]);
        // The shortest leading key that exists is taken, even if the rest then fails.
        assert!(all(&json!({"a": {"x": 1}, "a.b": {"c": 4}}), "a.b.c").is_empty());
        assert_eq!(
            all(&json!({"a": [{"b": 5}, {"c": 6}]}), "a.b"),
            vec![json!(5)]
        );
    }

    #[test]
    fn missing_vs_null() {
        let v = json!({"a": null});
        let map = crate::fields_from(v.clone());
        let mut seen = 0;
        assert!(for_each_value(&map, "a", &mut |_| seen += 1));
        assert_eq!(seen, 1);
        assert!(!for_each_value(&map, "b", &mut |_| {}));
    }
}
