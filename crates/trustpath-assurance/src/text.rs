//! Small text helpers shared by the outputs: value emptiness, time and duration text.

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

/// Whether a field value carries information: not null, not blank, not `-` (the Windows
/// placeholder), not an empty list or object.
pub(crate) fn non_empty(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => {
            let s = s.trim();
            !s.is_empty() && s != "-"
        }
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

/// `2025-03-04 09:00:00Z`: RFC 3339 to the second, readable in tables.
pub(crate) fn time_text(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M:%SZ").to_string()
}

/// `7d`, `36h`, `1h30m`, `45s`: the largest whole units.
pub(crate) fn duration_text(d: SignedDuration) -> String {
    let total = d.as_secs();
    if total == 0 {
        return "0s".to_owned();
    }
    let sign = if total < 0 { "-" } else { "" };
    let mut rest = total.unsigned_abs();
    let mut out = String::from(sign);
    for (unit, secs) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if rest >= secs {
            out.push_str(&format!("{}{unit}", rest / secs));
            rest %= secs;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration_text(SignedDuration::from_hours(168)), "7d");
        assert_eq!(duration_text(SignedDuration::from_secs(5400)), "1h30m");
        assert_eq!(duration_text(SignedDuration::ZERO), "0s");
    }

    #[test]
    fn emptiness() {
        assert!(!non_empty(&json!("")));
        assert!(!non_empty(&json!("-")));
        assert!(!non_empty(&json!([])));
        assert!(!non_empty(&Value::Null));
        assert!(non_empty(&json!("10.0.0.1")));
        assert!(non_empty(&json!(0)));
    }
}
