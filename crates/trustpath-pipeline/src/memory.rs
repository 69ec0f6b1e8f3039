//! The run's memory budget: how many bytes of events a hunt may retain for correlation
//! and the analytics, and what happens at the limit.
//!
//! Retained events are what grows with the input (a stateless rule's hit is small; an
//! analytic keeps every event it may need). Each kept event is charged its estimated heap
//! size ([`approx_event_bytes`]); when the total reaches the budget the scan stops
//! reading, says where, and the findings are computed from what was retained — never an
//! allocation failure with no output.
//!
//! The default budget is a quarter of the smaller of the machine's memory
//! (`/proc/meminfo`) and the process's address-space limit (`ulimit -v`, `prlimit --as`),
//! so a run under a limit stops cleanly inside it.

use serde_json::Value;
use trustpath_event::Event;

/// Fallback budget where the machine's memory cannot be read: 2 GiB.
const FALLBACK: u64 = 2 * 1024 * 1024 * 1024;

/// Estimated heap bytes of one retained event: its fields (keys, values, map and
/// allocation overhead) plus the event itself and its place in the lists holding it.
///
/// The constants are set from the resident memory that retained events take, measured
/// (200,000 events of each shape kept by a scan, mimalloc as in the CLI): a UAL record of
/// 20 fields with a `Parameters` list took 7,512 bytes each, a flat Sysmon event of 33
/// fields 7,621. The earlier constants (96 per map entry, 16 per string, 512 per event)
/// counted 5,672 and 5,333, so a hunt's memory passed its budget by about 1.4 times; these
/// count 8,120 and 7,596 (0.92 and 1.00 of the measured). A map entry is a 104-byte bucket with its index,
/// in a map made with room for what normalization adds; a string's bytes are rounded up
/// to the allocator's size class.
pub fn approx_event_bytes(event: &Event) -> u64 {
    let fields: u64 = event
        .fields
        .iter()
        .map(|(k, v)| ENTRY + k.len() as u64 + value_bytes(v))
        .sum();
    BASE + event.origin.file.len() as u64 + fields
}

/// Per event: the struct, its `Arc`, the match record and vectors holding it.
const BASE: u64 = 768;
/// Per map entry: the bucket (hash, key and value: 104 bytes), its index, the room a map
/// is made with, and the key's allocation.
const ENTRY: u64 = 150;
/// Per string value: its allocation beyond its bytes (size-class rounding).
const STRING: u64 = 24;

fn value_bytes(v: &Value) -> u64 {
    match v {
        Value::Null | Value::Bool(_) | Value::Number(_) => 0,
        Value::String(s) => STRING + s.len() as u64,
        Value::Array(a) => 32 + a.iter().map(|x| 32 + value_bytes(x)).sum::<u64>(),
        Value::Object(m) => {
            64 + m
                .iter()
                .map(|(k, x)| ENTRY + k.len() as u64 + value_bytes(x))
                .sum::<u64>()
        }
    }
}

/// The default budget for retained events (see the module doc).
pub fn default_budget() -> u64 {
    let machine = mem_total().unwrap_or(FALLBACK * 4);
    let limit = address_space_limit().unwrap_or(u64::MAX);
    machine.min(limit) / 4
}

/// `MemTotal` from `/proc/meminfo`, in bytes.
fn mem_total() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The soft address-space limit from `/proc/self/limits` (`None` when unlimited).
fn address_space_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max address space"))?;
    let soft = line["Max address space".len()..]
        .split_whitespace()
        .next()?;
    soft.parse().ok()
}

/// A size as people write it: `512M`, `2G`, `1.5GiB`, `4096` (bytes).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("{text:?}: expected a size such as 512M or 2G"))?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        other => {
            return Err(format!(
                "{text:?}: unknown unit {other:?} (use K, M, G or T)"
            ));
        }
    };
    let bytes = number * scale as f64;
    if !bytes.is_finite() || bytes < 1.0 {
        return Err(format!(
            "{text:?}: a memory budget must be at least one byte"
        ));
    }
    Ok(bytes as u64)
}

/// Bytes in the units people read.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    if value < 1024.0 {
        return format!("{bytes} B");
    }
    let mut unit = "B";
    for u in UNITS {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = u;
    }
    format!("{value:.1} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("2GiB"), Ok(2 << 30));
        assert_eq!(parse_size("1.5g"), Ok(3 << 29));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("2X").is_err());
        assert!(parse_size("0").is_err());
        assert_eq!(human_bytes(3 << 29), "1.5 GiB");
        assert_eq!(human_bytes(100), "100 B");
    }

    /// The estimate never falls below what an event's fields take in place: per field a
    /// map bucket (hash, key, value) and its index slot, plus the text. A floor only (the
    /// constants come from measured resident memory, see [`approx_event_bytes`]); an
    /// event of 40 fields, as EVTX events have, so that the per-event constant does not
    /// hide a per-field one below a bucket.
    #[test]
    fn the_estimate_covers_the_buckets_and_their_text() {
        let mut fields = trustpath_event::Fields::default();
        for n in 0..40 {
            fields.insert(format!("Field{n}"), Value::String(format!("value {n}")));
        }
        fields.insert(
            "Parameters".into(),
            serde_json::json!([{"Name": "Identity", "Value": "mbx:\\Inbox"}]),
        );
        let event = Event {
            time: jiff::Timestamp::UNIX_EPOCH,
            source: trustpath_event::SourceKind::Windows,
            format: trustpath_event::Format::FlatWindowsJson,
            origin: trustpath_event::Origin::file("t.jsonl"),
            fields,
            keys: Default::default(),
        };
        let slot = std::mem::size_of::<(u64, String, Value)>() + std::mem::size_of::<usize>();
        fn text(v: &Value, slot: usize) -> usize {
            match v {
                Value::String(s) => s.len(),
                Value::Array(a) => a
                    .iter()
                    .map(|x| std::mem::size_of::<Value>() + text(x, slot))
                    .sum(),
                Value::Object(m) => m.iter().map(|(k, x)| slot + k.len() + text(x, slot)).sum(),
                _ => 0,
            }
        }
        let in_place = std::mem::size_of::<Event>()
            + event
                .fields
                .iter()
                .map(|(k, v)| slot + k.len() + text(v, slot))
                .sum::<usize>();
        let estimate = approx_event_bytes(&event);
        assert!(
            estimate >= in_place as u64,
            "estimate {estimate} below the in-place size {in_place}"
        );
    }

    #[test]
    fn the_default_fits_the_machine() {
        let budget = default_budget();
        assert!(budget > 0);
        if let Some(total) = mem_total() {
            assert!(budget <= total / 4);
        }
    }
}
