//! Turns the raw TOML schema into the typed [`Context`], checking every value.
//!
//! Each check names the key path and the line of the rejected value.

use crate::duration::parse_duration;
use crate::error::{ContextError, Source};
use crate::file::{RawContext, RawPartner, RawSupportWindow};
use crate::glob::Glob;
use crate::model::{
    Admins, Context, HostTimeZone, Partner, SensitiveCategory, Settings, SupportWindow,
};
use ipnet::IpNet;
use jiff::SignedDuration;
use jiff::civil::{Time, Weekday};
use jiff::tz::TimeZone;
use std::net::IpAddr;
use std::path::Path;
use toml::Spanned;

type Result<T> = std::result::Result<T, ContextError>;

/// Validates everything but the ticket CSV (which the caller loads afterwards).
pub(crate) fn validate(
    raw: RawContext,
    src: &Source<'_>,
    base_dir: &Path,
    schema: &crate::Schema,
) -> Result<Context> {
    let defaults = Context {
        settings: Settings::default(),
        ..Context::empty()
    };
    let settings = Settings {
        lateness: duration_or(
            src,
            "settings.lateness",
            raw.settings.lateness.as_ref(),
            defaults.settings.lateness,
        )?,
        first_seen_learning: duration_or(
            src,
            "settings.first_seen_learning",
            raw.settings.first_seen_learning.as_ref(),
            defaults.settings.first_seen_learning,
        )?,
    };
    let partners = raw
        .partners
        .iter()
        .enumerate()
        .map(|(i, p)| partner(src, i, p))
        .collect::<Result<Vec<_>>>()?;
    let sensitive_mailboxes = raw
        .sensitive_mailboxes
        .iter()
        .map(|(name, patterns)| SensitiveCategory {
            name: name.clone(),
            patterns: patterns.iter().map(|p| Glob::new(p)).collect(),
        })
        .collect();
    let admins = Admins {
        accounts: raw.admins.accounts,
        hosts: raw.admins.hosts,
    };
    let change_tickets_csv = raw
        .change_tickets
        .csv
        .as_ref()
        .map(|csv| base_dir.join(csv.get_ref()));
    let analytics = crate::tunables::validate(src, &raw.analytics, schema)?;
    let host_timezones = raw
        .host_timezones
        .iter()
        .map(|(hosts, tz)| host_timezone(src, hosts, tz))
        .collect::<Result<Vec<_>>>()?;
    Ok(Context {
        settings,
        partners,
        sensitive_mailboxes,
        admins,
        change_tickets_csv,
        tickets: Vec::new(),
        analytics,
        host_timezones,
    })
}

fn duration_or(
    src: &Source<'_>,
    key: &str,
    value: Option<&Spanned<String>>,
    default: SignedDuration,
) -> Result<SignedDuration> {
    match value {
        None => Ok(default),
        Some(v) => match parse_duration(v.get_ref()) {
            Ok(d) if d.is_positive() => Ok(d),
            Ok(_) => Err(src.invalid(key, v.span(), "duration must be greater than zero")),
            Err(reason) => Err(src.invalid(key, v.span(), reason)),
        },
    }
}

fn partner(src: &Source<'_>, index: usize, raw: &RawPartner) -> Result<Partner> {
    let key = format!("partners[{index}]");
    let tenant_id = tenant_id(src, &format!("{key}.tenant_id"), &raw.tenant_id)?;
    let cidrs = raw
        .cidrs
        .iter()
        .enumerate()
        .map(|(i, c)| cidr(src, &format!("{key}.cidrs[{i}]"), c))
        .collect::<Result<Vec<_>>>()?;
    let support_windows = raw
        .support_windows
        .iter()
        .enumerate()
        .map(|(i, w)| support_window(src, &format!("{key}.support_windows[{i}]"), w))
        .collect::<Result<Vec<_>>>()?;
    let domains = raw
        .domains
        .iter()
        .enumerate()
        .map(|(i, d)| partner_domain(src, &format!("{key}.domains[{i}]"), d))
        .collect::<Result<Vec<_>>>()?;
    Ok(Partner {
        name: raw.name.clone().unwrap_or_else(|| tenant_id.clone()),
        tenant_id,
        cidrs,
        approved: raw.approved,
        approved_roles: raw.approved_roles.clone(),
        support_windows,
        domains,
    })
}

/// A partner domain: a DNS name without `@`, stored lower-case.
fn partner_domain(src: &Source<'_>, key: &str, value: &Spanned<String>) -> Result<String> {
    let text = value.get_ref().trim().trim_start_matches('.');
    let valid = !text.is_empty()
        && text.contains('.')
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    if valid {
        Ok(text.to_ascii_lowercase())
    } else {
        Err(src.invalid(
            key,
            value.span(),
            format!(
                "`{}` is not a domain name (expected e.g. fabrikam-msp.com, without `@`)",
                value.get_ref()
            ),
        ))
    }
}

/// A tenant id must be a GUID; it is stored lower-case.
fn tenant_id(src: &Source<'_>, key: &str, value: &Spanned<String>) -> Result<String> {
    let text = value.get_ref().trim();
    if is_guid(text) {
        Ok(text.to_ascii_lowercase())
    } else {
        Err(src.invalid(
            key,
            value.span(),
            format!("`{text}` is not a tenant id (expected a GUID like 00000000-0000-0000-0000-000000000000)"),
        ))
    }
}

pub(crate) fn is_guid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    let lengths = [8, 4, 4, 4, 12];
    groups.len() == lengths.len()
        && groups
            .iter()
            .zip(lengths)
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// A CIDR range; a bare address is accepted as a single-host range.
fn cidr(src: &Source<'_>, key: &str, value: &Spanned<String>) -> Result<IpNet> {
    let text = value.get_ref().trim();
    if let Ok(net) = text.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(IpNet::from(ip));
    }
    Err(src.invalid(
        key,
        value.span(),
        format!("`{text}` is not a CIDR range (expected e.g. 198.51.100.0/24 or 2001:db8::/48)"),
    ))
}

/// One `[host_timezones]` entry: a host name or glob and an IANA time zone.
fn host_timezone(src: &Source<'_>, hosts: &str, tz: &Spanned<String>) -> Result<HostTimeZone> {
    let key = format!("host_timezones.{hosts}");
    if hosts.trim().is_empty() {
        return Err(src.invalid(
            &key,
            tz.span(),
            "a host name or glob is needed before `=` (e.g. \"WS-NY-01\" or \"*.nyc.contoso.local\")"
                .to_string(),
        ));
    }
    let timezone = TimeZone::get(tz.get_ref()).map_err(|e| {
        src.invalid(
            &key,
            tz.span(),
            format!(
                "unknown time zone `{}` (expected an IANA name like America/New_York): {e}",
                tz.get_ref()
            ),
        )
    })?;
    Ok(HostTimeZone {
        hosts: Glob::new(hosts.trim()),
        timezone_name: tz.get_ref().clone(),
        timezone,
    })
}

fn support_window(src: &Source<'_>, key: &str, raw: &RawSupportWindow) -> Result<SupportWindow> {
    let days = raw
        .days
        .iter()
        .enumerate()
        .map(|(i, d)| weekday(src, &format!("{key}.days[{i}]"), d))
        .collect::<Result<Vec<_>>>()?;
    let start = clock_time(src, &format!("{key}.start"), &raw.start)?;
    let end = clock_time(src, &format!("{key}.end"), &raw.end)?;
    if end <= start {
        return Err(src.invalid(
            &format!("{key}.end"),
            raw.end.span(),
            format!(
                "end {} is not after start {} (split an overnight window into two windows)",
                raw.end.get_ref(),
                raw.start.get_ref()
            ),
        ));
    }
    let (timezone_name, timezone) = match &raw.timezone {
        None => ("UTC".to_string(), TimeZone::UTC),
        Some(tz) => (
            tz.get_ref().clone(),
            TimeZone::get(tz.get_ref()).map_err(|e| {
                src.invalid(
                    &format!("{key}.timezone"),
                    tz.span(),
                    format!(
                        "unknown time zone `{}` (expected an IANA name like Europe/London): {e}",
                        tz.get_ref()
                    ),
                )
            })?,
        ),
    };
    Ok(SupportWindow {
        days,
        start,
        end,
        timezone_name,
        timezone,
    })
}

fn weekday(src: &Source<'_>, key: &str, value: &Spanned<String>) -> Result<Weekday> {
    let text = value.get_ref().trim().to_ascii_lowercase();
    let day = match text.as_str() {
        "mon" | "monday" => Weekday::Monday,
        "tue" | "tues" | "tuesday" => Weekday::Tuesday,
        "wed" | "wednesday" => Weekday::Wednesday,
        "thu" | "thur" | "thurs" | "thursday" => Weekday::Thursday,
        "fri" | "friday" => Weekday::Friday,
        "sat" | "saturday" => Weekday::Saturday,
        "sun" | "sunday" => Weekday::Sunday,
        _ => {
            return Err(src.invalid(
                key,
                value.span(),
                format!(
                    "unknown weekday `{}` (expected mon, tue, wed, thu, fri, sat or sun)",
                    value.get_ref()
                ),
            ));
        }
    };
    Ok(day)
}

/// `HH:MM` or `HH:MM:SS`; `24:00` means the end of the day.
fn clock_time(src: &Source<'_>, key: &str, value: &Spanned<String>) -> Result<Time> {
    let text = value.get_ref().trim();
    if text == "24:00" || text == "24:00:00" {
        return Ok(Time::MAX);
    }
    text.parse::<Time>().map_err(|e| {
        src.invalid(
            key,
            value.span(),
            format!("`{text}` is not a time of day (expected HH:MM, e.g. 08:00): {e}"),
        )
    })
}
