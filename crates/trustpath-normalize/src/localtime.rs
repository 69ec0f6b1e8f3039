//! Zone-less local times of Windows hosts.
//!
//! Plain NXLog (`im_msvistalog` + `to_json`) writes `EventTime` and `EventReceivedTime` in
//! the host's local time without a zone (`2025-03-11 14:02:03`). When a record's time comes
//! from one of those fields and has no offset, it is placed in the host's time zone from
//! [`HostTimeZones`] (the context's `[host_timezones]`); with none known it is kept, read
//! as if UTC, and flagged [`TIME_ZONE_MISSING`] so the run can warn and analytics can say
//! so. Either way the text as written stays in [`TIME_LOCAL`].

use crate::fields::Fields;
use crate::time::zone_less;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::Value;
use std::fmt;
use std::sync::Arc;

/// `true` on an event whose time was a zone-less local time of a host with no known
/// time zone (read as if UTC).
pub const TIME_ZONE_MISSING: &str = trustpath_event::norm::TIME_ZONE_MISSING;
/// The time zone a zone-less local time was placed in.
pub const TIME_ZONE: &str = trustpath_event::norm::TIME_ZONE;
/// A zone-less local time as written.
pub const TIME_LOCAL: &str = trustpath_event::norm::TIME_LOCAL;

/// Fields that hold a host's local time when written without a zone.
const LOCAL_TIME_FIELDS: [&str; 2] = ["EventTime", "EventReceivedTime"];

type Lookup = dyn Fn(&str) -> Option<(String, TimeZone)> + Send + Sync;

/// The time zone of each host's local times (host name as the record writes it →
/// zone name and zone). Empty by default: no host has a known zone.
#[derive(Clone, Default)]
pub struct HostTimeZones(Option<Arc<Lookup>>);

impl HostTimeZones {
    /// Zones from a lookup (e.g. the context's `host_time_zone`).
    pub fn new(
        lookup: impl Fn(&str) -> Option<(String, TimeZone)> + Send + Sync + 'static,
    ) -> Self {
        HostTimeZones(Some(Arc::new(lookup)))
    }

    /// The zone name and zone of `host`, if known.
    pub fn get(&self, host: &str) -> Option<(String, TimeZone)> {
        self.0.as_ref().and_then(|lookup| lookup(host))
    }
}

impl fmt::Debug for HostTimeZones {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "HostTimeZones(lookup)"
        } else {
            "HostTimeZones(none)"
        })
    }
}

/// If the event time came from a zone-less local-time field (the first of `tried` that
/// holds a time), place it in the host's zone or flag it; returns the event time to use.
pub(crate) fn place(
    map: &mut Fields,
    tried: &[&str],
    time: Timestamp,
    zones: &HostTimeZones,
) -> Timestamp {
    let Some(field) = tried
        .iter()
        .find(|f| map.get(**f).and_then(crate::parse_time).is_some())
    else {
        return time;
    };
    if !LOCAL_TIME_FIELDS.contains(field) {
        return time;
    }
    let Some(written) = map.get(*field).and_then(Value::as_str).map(str::to_owned) else {
        return time;
    };
    let Some(local) = zone_less(&written) else {
        return time;
    };
    let host = ["Computer", "Hostname"]
        .iter()
        .find_map(|k| map.get(*k).and_then(Value::as_str))
        .unwrap_or("")
        .to_owned();
    map.insert(TIME_LOCAL.to_owned(), Value::String(written));
    match zones.get(&host) {
        Some((name, zone)) => match local.to_zoned(zone) {
            Ok(zoned) => {
                map.insert(TIME_ZONE.to_owned(), Value::String(name));
                zoned.timestamp()
            }
            Err(_) => {
                map.insert(TIME_ZONE_MISSING.to_owned(), Value::Bool(true));
                time
            }
        },
        None => {
            map.insert(TIME_ZONE_MISSING.to_owned(), Value::Bool(true));
            time
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn nxlog(event_time: &str) -> Fields {
        trustpath_event::fields_from(
            json!({"EventTime": event_time, "Computer": "WS-NY-01.contoso.local", "EventID": 4104}),
        )
    }

    fn new_york() -> HostTimeZones {
        HostTimeZones::new(|host| {
            host.to_lowercase()
                .starts_with("ws-ny-")
                .then(|| {
                    TimeZone::get("America/New_York")
                        .ok()
                        .map(|z| ("America/New_York".to_owned(), z))
                })
                .flatten()
        })
    }

    fn utc_read(s: &str) -> Timestamp {
        crate::parse_time(&json!(s)).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn local_time_in_the_hosts_zone() {
        let mut map = nxlog("2025-03-06 04:01:30");
        let t = place(
            &mut map,
            &["@timestamp", "EventTime"],
            utc_read("2025-03-06 04:01:30"),
            &new_york(),
        );
        assert_eq!(t.to_string(), "2025-03-06T09:01:30Z");
        assert_eq!(map[TIME_ZONE], json!("America/New_York"));
        assert_eq!(map[TIME_LOCAL], json!("2025-03-06 04:01:30"));
        assert!(!map.contains_key(TIME_ZONE_MISSING));
        // Daylight saving time follows the zone's rules (EDT from 9 March 2025).
        let mut map = nxlog("2025-03-11 14:02:03");
        let t = place(
            &mut map,
            &["EventTime"],
            utc_read("2025-03-11 14:02:03"),
            &new_york(),
        );
        assert_eq!(t.to_string(), "2025-03-11T18:02:03Z");
    }

    #[test]
    fn unknown_zone_is_flagged_and_kept() {
        let mut map = nxlog("2025-03-06 04:01:30");
        let before = utc_read("2025-03-06 04:01:30");
        let t = place(&mut map, &["EventTime"], before, &HostTimeZones::default());
        assert_eq!(t, before);
        assert_eq!(map[TIME_ZONE_MISSING], json!(true));
    }

    #[test]
    fn times_with_a_zone_or_from_utc_fields_do_not_move() {
        for (field, value) in [
            ("EventTime", "2025-03-06T04:01:30-05:00"),
            ("EventTime", "2025-03-06 09:01:30Z"),
            ("@timestamp", "2025-03-06 09:01:30"),
        ] {
            let mut map = nxlog("x");
            map.insert(field.to_owned(), json!(value));
            let before = utc_read(value);
            let t = place(&mut map, &["@timestamp", "EventTime"], before, &new_york());
            assert_eq!(t, before, "{field} {value}");
            assert!(!map.contains_key(TIME_ZONE_MISSING));
            assert!(!map.contains_key(TIME_ZONE));
        }
    }
}
