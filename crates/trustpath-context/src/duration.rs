//! Durations written as `12h`, `7d`, `1h30m`, `90s`, `2w`.

use jiff::SignedDuration;

/// Parses a duration made of `<integer><unit>` parts, units `s`, `m`, `h`, `d` (24 h), `w`.
pub fn parse_duration(text: &str) -> Result<SignedDuration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration (expected e.g. `12h`, `7d`, `1h30m`)".into());
    }
    let mut total: i64 = 0;
    let mut digits = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let seconds = unit_seconds(c).ok_or_else(|| {
            format!("unknown unit `{c}` in `{text}` (units: s, m, h, d, w; e.g. `12h`)")
        })?;
        let n: i64 = digits
            .parse()
            .map_err(|_| format!("missing number before `{c}` in `{text}`"))?;
        total = n
            .checked_mul(seconds)
            .and_then(|s| total.checked_add(s))
            .ok_or_else(|| format!("duration `{text}` is too large"))?;
        digits.clear();
    }
    if !digits.is_empty() {
        return Err(format!(
            "missing unit after `{digits}` in `{text}` (e.g. `12h`)"
        ));
    }
    Ok(SignedDuration::from_secs(total))
}

fn unit_seconds(unit: char) -> Option<i64> {
    match unit {
        's' => Some(1),
        'm' => Some(60),
        'h' => Some(3_600),
        'd' => Some(86_400),
        'w' => Some(7 * 86_400),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use jiff::SignedDuration;

    #[test]
    fn parses_units_and_combinations() {
        assert_eq!(parse_duration("12h"), Ok(SignedDuration::from_hours(12)));
        assert_eq!(parse_duration("7d"), Ok(SignedDuration::from_hours(168)));
        assert_eq!(parse_duration("1h30m"), Ok(SignedDuration::from_mins(90)));
        assert!(parse_duration("12").is_err());
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("3y").is_err());
        assert!(parse_duration("").is_err());
    }
}
