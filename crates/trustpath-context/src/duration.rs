//! Durations as people write them, parsed by jiff: `12h`, `7d`, `1h30m`, `90s`, `2w`,
//! `1 hour`, `2 days 4 hours`, ISO 8601 `PT1H`. A day is 24 hours and a week 7 days;
//! months and years are rejected (their length varies).

use jiff::{SignedDuration, Span, SpanRelativeTo};

/// Parses a non-negative duration in jiff's friendly format (or ISO 8601).
pub fn parse_duration(text: &str) -> Result<SignedDuration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration (expected e.g. `12h`, `7d`, `1h30m`, `1 hour`)".into());
    }
    let span: Span = text.parse().map_err(|e| {
        format!("`{text}` is not a duration ({e}); write e.g. `12h`, `7d`, `1h30m`, `1 hour`")
    })?;
    let duration = span
        .to_duration(SpanRelativeTo::days_are_24_hours())
        .map_err(|e| {
            format!(
                "`{text}` cannot be a fixed duration ({e}); use days or weeks, not months or years"
            )
        })?;
    if duration.is_negative() {
        return Err(format!(
            "`{text}` is negative; a duration here must be positive or zero"
        ));
    }
    Ok(duration)
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
        assert!(parse_duration("-1h").is_err());
        assert_eq!(parse_duration("2w"), Ok(SignedDuration::from_hours(336)));
        assert_eq!(parse_duration("90s"), Ok(SignedDuration::from_secs(90)));
        // jiff's friendly format, as people write durations.
        assert_eq!(parse_duration("1 hour"), Ok(SignedDuration::from_hours(1)));
        assert_eq!(
            parse_duration("2 days 4 hours"),
            Ok(SignedDuration::from_hours(52))
        );
        assert_eq!(parse_duration("PT1H"), Ok(SignedDuration::from_hours(1)));
    }
}
