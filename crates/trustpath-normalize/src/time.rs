//! Event time: which field holds it, and parsing every timestamp shape the sources write.
//!
//! [`parse_time`] accepts RFC 3339 with any fraction length (.NET writes 7 digits), no
//! offset (taken as UTC: the unified audit log writes `2023-09-26T01:56:15`), a space
//! instead of `T`, a space before the offset (`2016-08-19 08:06:57.658 +09:00`),
//! PowerShell 5 `/Date(1693526400000)/` (with or without `+0000`), and epoch seconds,
//! milliseconds, microseconds or nanoseconds as numbers or numeric strings (told apart by
//! magnitude). Parsing is hand-written: it runs once per record on the hot path.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::Offset;
use serde_json::Value;
use trustpath_event::{ErrorKind, Fields, Origin, RecordError};

/// The instant `v` names, if it is a timestamp in one of the accepted shapes.
pub fn parse_time(v: &Value) -> Option<Timestamp> {
    match v {
        Value::String(s) => parse_time_str(s),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                from_epoch_int(i)
            } else {
                n.as_f64().and_then(from_epoch_float)
            }
        }
        _ => None,
    }
}

/// A timestamp string (see the module docs for the accepted shapes).
pub(crate) fn parse_time_str(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    if let Some(rest) = s.strip_prefix("/Date(") {
        return parse_dotnet_date(rest);
    }
    if is_numeric(s) {
        return match s.parse::<i64>() {
            Ok(i) => from_epoch_int(i),
            Err(_) => from_epoch_decimal(s),
        };
    }
    parse_datetime(s)
}

/// The first of `fields` in `map` that holds a parseable time, with its field name.
///
/// The error names every field looked at: `MissingField` when none is present,
/// `Malformed` (quoting the value) when one is present but is not a time.
pub(crate) fn find_time(
    map: &Fields,
    fields: &[&str],
    origin: &Origin,
) -> Result<Timestamp, RecordError> {
    let mut unparseable: Option<(&str, &Value)> = None;
    for &field in fields {
        let Some(value) = map.get(field) else {
            continue;
        };
        if let Some(t) = parse_time(value) {
            return Ok(t);
        }
        if unparseable.is_none() && !is_blank(value) {
            unparseable = Some((field, value));
        }
    }
    Err(time_error(fields, unparseable, origin))
}

fn time_error(
    fields: &[&str],
    unparseable: Option<(&str, &Value)>,
    origin: &Origin,
) -> RecordError {
    match unparseable {
        Some((field, value)) => RecordError::new(
            origin.clone(),
            ErrorKind::Malformed,
            format!(
                "event time field `{field}` is not a timestamp: {}",
                excerpt(value)
            ),
        ),
        None => RecordError::new(
            origin.clone(),
            ErrorKind::MissingField,
            format!("no event time: none of {} is present", fields.join(", ")),
        ),
    }
}

fn is_blank(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

/// At most 60 characters of a value, for error messages.
pub(crate) fn excerpt(v: &Value) -> String {
    let text = v.to_string();
    match text.char_indices().nth(60) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

fn is_numeric(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    !digits.is_empty()
        && digits.bytes().any(|b| b.is_ascii_digit())
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && digits.bytes().filter(|&b| b == b'.').count() <= 1
}

/// Epoch seconds, milliseconds, microseconds or nanoseconds, by magnitude.
fn from_epoch_int(i: i64) -> Option<Timestamp> {
    let magnitude = i.unsigned_abs();
    if magnitude < 100_000_000_000 {
        Timestamp::from_second(i).ok()
    } else if magnitude < 100_000_000_000_000 {
        Timestamp::from_millisecond(i).ok()
    } else if magnitude < 100_000_000_000_000_000 {
        Timestamp::from_microsecond(i).ok()
    } else {
        Timestamp::from_nanosecond(i128::from(i)).ok()
    }
}

/// Epoch with a fraction, from a number: rounded to the microsecond (f64 cannot hold
/// nanoseconds of a current epoch exactly).
fn from_epoch_float(f: f64) -> Option<Timestamp> {
    if !f.is_finite() {
        return None;
    }
    let to_micros = match f.abs() {
        m if m < 1e11 => 1e6,
        m if m < 1e14 => 1e3,
        m if m < 1e17 => 1.0,
        _ => 1e-3,
    };
    let micros = (f * to_micros).round();
    if micros.abs() > 1e17 {
        return None;
    }
    // `as` saturates; the range was checked above.
    Timestamp::from_microsecond(micros as i64).ok()
}

/// Epoch with a fraction, from text (`"1693526400.25"`): exact for seconds.
fn from_epoch_decimal(s: &str) -> Option<Timestamp> {
    let (whole, fraction) = s.split_once('.')?;
    let seconds: i64 = match whole {
        "" | "-" => 0,
        w => w.parse().ok()?,
    };
    if seconds.unsigned_abs() >= 100_000_000_000 {
        return s.parse::<f64>().ok().and_then(from_epoch_float);
    }
    let mut nanos: i64 = 0;
    for (i, b) in fraction.bytes().take(9).enumerate() {
        nanos += i64::from(b - b'0') * 10_i64.pow(8 - i as u32);
    }
    let nanos = if s.starts_with('-') { -nanos } else { nanos };
    Timestamp::new(seconds, i32::try_from(nanos).ok()?).ok()
}

/// The rest of `/Date(1693526400000)/` or `/Date(1693526400000+0000)/` (epoch ms, UTC).
fn parse_dotnet_date(rest: &str) -> Option<Timestamp> {
    let body = rest.strip_suffix(")/")?;
    let (sign, digits) = match body.strip_prefix('-') {
        Some(d) => (-1, d),
        None => (1, body),
    };
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    let (number, offset) = digits.split_at(end);
    if number.is_empty() || !(offset.is_empty() || is_compact_offset(offset)) {
        return None;
    }
    let ms: i64 = number.parse().ok()?;
    Timestamp::from_millisecond(sign * ms).ok()
}

fn is_compact_offset(s: &str) -> bool {
    s.len() == 5
        && (s.starts_with('+') || s.starts_with('-'))
        && s[1..].bytes().all(|b| b.is_ascii_digit())
}

/// A cursor over the bytes of a date-time string.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, n: usize) -> Option<i32> {
        let slice = self.bytes.get(self.pos..self.pos + n)?;
        let mut value = 0i32;
        for &b in slice {
            if !b.is_ascii_digit() {
                return None;
            }
            value = value * 10 + i32::from(b - b'0');
        }
        self.pos += n;
        Some(value)
    }

    fn eat(&mut self, accept: impl Fn(u8) -> bool) -> bool {
        match self.bytes.get(self.pos) {
            Some(&b) if accept(b) => {
                self.pos += 1;
                true
            }
            _ => false,
        }
    }

    fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }
}

/// `YYYY-MM-DD[(T| )HH:MM[:SS[.fraction]]][ ][Z|±HH[:]MM|±HH]`; no offset means UTC.
fn parse_datetime(s: &str) -> Option<Timestamp> {
    let (dt, offset_seconds) = datetime_parts(s)?;
    Offset::from_seconds(offset_seconds.unwrap_or(0))
        .ok()?
        .to_timestamp(dt)
        .ok()
}

/// The civil date-time of a timestamp string written **without** any zone or offset
/// (`2025-03-11 14:02:03`), or `None` (it has one, or is not such a string). What such
/// a string means depends on who wrote it: the unified audit log writes UTC, NXLog
/// `EventTime` the host's local time.
pub(crate) fn zone_less(s: &str) -> Option<DateTime> {
    match datetime_parts(s.trim())? {
        (dt, None) => Some(dt),
        (_, Some(_)) => None,
    }
}

/// The civil date-time and the offset written (seconds east of UTC; `None` when the
/// string has no zone at all).
fn datetime_parts(s: &str) -> Option<(DateTime, Option<i32>)> {
    let mut c = Cursor {
        bytes: s.as_bytes(),
        pos: 0,
    };
    let year = c.digits(4)?;
    c.eat(|b| b == b'-').then_some(())?;
    let month = c.digits(2)?;
    c.eat(|b| b == b'-').then_some(())?;
    let day = c.digits(2)?;
    let (mut hour, mut minute, mut second, mut nanos) = (0, 0, 0, 0);
    if c.eat(|b| b == b'T' || b == b't' || b == b' ') {
        hour = c.digits(2)?;
        c.eat(|b| b == b':').then_some(())?;
        minute = c.digits(2)?;
        if c.eat(|b| b == b':') {
            second = c.digits(2)?;
            if c.eat(|b| b == b'.' || b == b',') {
                nanos = fraction_nanos(&mut c)?;
            }
        }
    }
    while c.eat(|b| b == b' ') {}
    let offset_seconds = if c.at_end() {
        None
    } else {
        Some(parse_offset(&mut c)?)
    };
    if !c.at_end() {
        return None;
    }
    let dt = DateTime::new(
        i16::try_from(year).ok()?,
        i8::try_from(month).ok()?,
        i8::try_from(day).ok()?,
        i8::try_from(hour).ok()?,
        i8::try_from(minute).ok()?,
        // A leap second (`:60`) is read as the last second of the minute.
        i8::try_from(second.min(59)).ok()?,
        nanos,
    )
    .ok()?;
    Some((dt, offset_seconds))
}

/// Fraction digits after the separator, as nanoseconds (digits past the 9th ignored).
fn fraction_nanos(c: &mut Cursor<'_>) -> Option<i32> {
    let start = c.pos;
    let mut nanos = 0i32;
    let mut count = 0;
    while let Some(&b) = c.bytes.get(c.pos) {
        if !b.is_ascii_digit() {
            break;
        }
        if count < 9 {
            nanos = nanos * 10 + i32::from(b - b'0');
            count += 1;
        }
        c.pos += 1;
    }
    if c.pos == start {
        return None;
    }
    for _ in count..9 {
        nanos *= 10;
    }
    Some(nanos)
}

/// `Z`, `UTC`, `±HH:MM`, `±HHMM`, `±HH`, or nothing (UTC); seconds east of UTC.
fn parse_offset(c: &mut Cursor<'_>) -> Option<i32> {
    if c.at_end() || c.eat(|b| b == b'Z' || b == b'z') {
        return Some(0);
    }
    if c.bytes.get(c.pos..) == Some(b"UTC".as_slice()) {
        c.pos += 3;
        return Some(0);
    }
    let sign = match c.bytes.get(c.pos)? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    c.pos += 1;
    let hours = c.digits(2)?;
    c.eat(|b| b == b':');
    let minutes = if c.at_end() { 0 } else { c.digits(2)? };
    // Real offsets run from -12:00 to +14:00; `+25:00` is not a time zone.
    if hours > 14 || minutes > 59 {
        return None;
    }
    Some(sign * (hours * 3600 + minutes * 60))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(v: Value) -> Option<String> {
        parse_time(&v).map(|t| t.to_string())
    }

    #[test]
    fn impossible_offsets_are_refused() {
        assert_eq!(t(json!("2025-03-11T10:00:00+25:00")), None);
        assert_eq!(t(json!("2025-03-11T10:00:00+05:60")), None);
        assert_eq!(
            t(json!("2025-03-11T10:00:00+14:00")),
            Some("2025-03-10T20:00:00Z".into())
        );
    }

    #[test]
    fn rfc3339_and_friends() {
        assert_eq!(
            t(json!("2023-09-26T01:56:15Z")),
            Some("2023-09-26T01:56:15Z".into())
        );
        assert_eq!(
            t(json!("2023-09-26T01:56:15")),
            Some("2023-09-26T01:56:15Z".into())
        );
        assert_eq!(
            t(json!("2023-09-26 01:56:15")),
            Some("2023-09-26T01:56:15Z".into())
        );
        assert_eq!(
            t(json!("2021-08-02T13:09:20.0412345Z")),
            Some("2021-08-02T13:09:20.0412345Z".into())
        );
        assert_eq!(
            t(json!("2025-12-15T11:40:20.681977123456Z")),
            Some("2025-12-15T11:40:20.681977123Z".into())
        );
        assert_eq!(
            t(json!("2016-08-19 08:06:57.658 +09:00")),
            Some("2016-08-18T23:06:57.658Z".into())
        );
        assert_eq!(
            t(json!("2023-09-26T01:56:15+0200")),
            Some("2023-09-25T23:56:15Z".into())
        );
        assert_eq!(
            t(json!("2023-09-26T01:56:15-05:30")),
            Some("2023-09-26T07:26:15Z".into())
        );
        assert_eq!(
            t(json!("2023-09-26T01:56")),
            Some("2023-09-26T01:56:00Z".into())
        );
        assert_eq!(t(json!("2023-09-26")), Some("2023-09-26T00:00:00Z".into()));
        assert_eq!(
            t(json!(" 2020-09-22 04:28:20 ")),
            Some("2020-09-22T04:28:20Z".into())
        );
        assert_eq!(
            t(json!("2016-12-31T23:59:60Z")),
            Some("2016-12-31T23:59:59Z".into())
        );
    }

    #[test]
    fn powershell_dates_and_epochs() {
        let expect = Some("2023-09-01T00:00:00Z".to_owned());
        assert_eq!(t(json!("/Date(1693526400000)/")), expect);
        assert_eq!(t(json!("/Date(1693526400000+0000)/")), expect);
        assert_eq!(t(json!(1693526400)), expect);
        assert_eq!(t(json!(1693526400000_i64)), expect);
        assert_eq!(t(json!("1693526400")), expect);
        assert_eq!(t(json!("1693526400000")), expect);
        assert_eq!(t(json!(1693526400000000_i64)), expect);
        assert_eq!(
            t(json!(1693526400.5)),
            Some("2023-09-01T00:00:00.5Z".into())
        );
        assert_eq!(
            t(json!("1693526400.25")),
            Some("2023-09-01T00:00:00.25Z".into())
        );
    }

    #[test]
    fn not_times() {
        for v in [
            json!("9/20/2023 4:05:03 AM"),
            json!("yesterday"),
            json!(""),
            json!("2023-13-01T00:00:00Z"),
            json!("2023-02-30"),
            json!("2023-09-26T01:56:15Zjunk"),
            json!("/Date(abc)/"),
            json!("/Date(1693526400000"),
            json!("-"),
            json!("."),
            json!(null),
            json!(true),
            json!({"SystemTime": "2023-09-26T01:56:15Z"}),
            json!(f64::MAX),
        ] {
            assert_eq!(t(v.clone()), None, "{v}");
        }
    }

    #[test]
    fn find_time_names_the_fields() {
        let origin = Origin::file("x.json").with_line(3);
        let map = trustpath_event::fields_from(json!({"a": 1}));
        let err =
            find_time(&map, &["CreationTime", "TimeGenerated"], &origin).expect_err("no time");
        assert_eq!(err.kind, ErrorKind::MissingField);
        assert!(
            err.reason.contains("CreationTime, TimeGenerated"),
            "{}",
            err.reason
        );
        let map = trustpath_event::fields_from(json!({"CreationTime": "soon"}));
        let err = find_time(&map, &["CreationTime"], &origin).expect_err("no time");
        assert_eq!(err.kind, ErrorKind::Malformed);
        assert!(err.to_string().starts_with("x.json:3"), "{err}");
        let map = json!({"CreationTime": "", "TimeGenerated": "2021-08-02T13:32:07Z"});
        let map = trustpath_event::fields_from(map);
        assert!(find_time(&map, &["CreationTime", "TimeGenerated"], &origin).is_ok());
    }
}
