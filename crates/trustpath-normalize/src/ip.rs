//! IP address normalization: ports, brackets, zone ids and `::ffff:` prefixes removed.
//!
//! Unified audit log `ClientIP` values come in every shape (logformats.md §4.3.5):
//! `10.11.12.13`, `10.11.12.13:12345`, `[10.11.12.13]:12345`, `::ffff:10.11.12.13`,
//! `[::ffff:10.11.12.13]:12345`, `2001:db8::abcd`, `[2001:db8::abcd]:12345`,
//! `[2001:db8::abcd]`, and host names. Sign-ins write the bare address. Comparing the two
//! needs one canonical form: [`normalize_ip`].

use std::net::{IpAddr, Ipv4Addr};

/// The IP address in `s`, without port, brackets, zone id or IPv4-mapped prefix.
///
/// Accepts `1.2.3.4`, `1.2.3.4:5`, `[1.2.3.4]:5`, `::ffff:1.2.3.4`, `[::ffff:1.2.3.4]:443`,
/// `2001:db8::1`, `[2001:db8::1]`, `[2001:db8::1]:443`, `fe80::1%eth0`, with surrounding
/// white space. Host names, empty strings and anything else give `None`.
pub fn normalize_ip(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    let ip = if let Some(rest) = s.strip_prefix('[') {
        let (inner, after) = rest.split_once(']')?;
        if !(after.is_empty() || is_port_suffix(after)) {
            return None;
        }
        parse_bare(inner)?
    } else if let Some(ip) = parse_bare(s) {
        ip
    } else {
        let (host, port) = s.rsplit_once(':')?;
        if host.contains(':') || !is_port(port) {
            return None;
        }
        IpAddr::V4(host.parse::<Ipv4Addr>().ok()?)
    };
    Some(unmap(ip))
}

/// [`normalize_ip`] as text.
///
/// A bare dotted quad is returned as written: the standard parser accepts exactly the
/// four decimal octets without leading zeros, which is how an `Ipv4Addr` prints, so the
/// text is already canonical and formatting it again is skipped (the hot path: most
/// sources write bare IPv4 addresses).
pub(crate) fn normalize_ip_text(s: &str) -> Option<String> {
    let trimmed = s.trim();
    if trimmed.parse::<Ipv4Addr>().is_ok() {
        return Some(trimmed.to_owned());
    }
    normalize_ip(trimmed).map(|ip| ip.to_string())
}

/// An address without brackets or port; an IPv6 zone id (`%eth0`) is dropped.
fn parse_bare(s: &str) -> Option<IpAddr> {
    let without_zone = s.split_once('%').map_or(s, |(addr, _zone)| addr);
    without_zone.parse().ok()
}

/// `:` followed by a port number.
fn is_port_suffix(s: &str) -> bool {
    s.strip_prefix(':').is_some_and(is_port)
}

fn is_port(s: &str) -> bool {
    !s.is_empty() && s.len() <= 5 && s.bytes().all(|b| b.is_ascii_digit())
}

/// `::ffff:a.b.c.d` becomes `a.b.c.d`.
fn unmap(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> Option<String> {
        normalize_ip(s).map(|ip| ip.to_string())
    }

    #[test]
    fn every_documented_client_ip_shape() {
        let v4 = Some("10.11.12.13".to_owned());
        assert_eq!(norm("10.11.12.13"), v4);
        assert_eq!(norm("10.11.12.13:12345"), v4);
        assert_eq!(norm("[10.11.12.13]:12345"), v4);
        assert_eq!(norm("::ffff:10.11.12.13"), v4);
        assert_eq!(norm("[::ffff:10.11.12.13]:12345"), v4);
        assert_eq!(norm("[::ffff:10.11.12.13]"), v4);
        assert_eq!(norm("  10.11.12.13  "), v4);
        let v6 = Some("2001:db8::abcd".to_owned());
        assert_eq!(norm("2001:db8::abcd"), v6);
        assert_eq!(norm("[2001:db8::abcd]:12345"), v6);
        assert_eq!(norm("[2001:db8::abcd]"), v6);
        assert_eq!(norm("2001:DB8::ABCD"), v6);
        assert_eq!(norm("fe80::1%eth0"), Some("fe80::1".to_owned()));
        assert_eq!(norm("[::1]:443"), Some("::1".to_owned()));
        assert_eq!(
            norm("185.73.124.135:19823"),
            Some("185.73.124.135".to_owned())
        );
    }

    #[test]
    fn text_form_is_the_display_form() {
        for s in [
            "10.11.12.13",
            " 10.11.12.13 ",
            "0.0.0.0",
            "255.255.255.255",
            "010.1.1.1",
            "1.2.3.4:80",
            "::ffff:10.11.12.13",
            "2001:DB8::ABCD",
            "host",
            "",
        ] {
            assert_eq!(normalize_ip_text(s), norm(s), "{s:?}");
        }
    }

    proptest::proptest! {
        /// Whatever the standard parser accepts as an IPv4 address prints as written, so
        /// returning the text unchanged equals formatting the parsed address.
        #[test]
        fn parsed_dotted_quads_print_as_written(s in "[0-9]{1,4}\\.[0-9]{1,4}\\.[0-9]{1,4}\\.[0-9]{1,4}") {
            proptest::prop_assert_eq!(normalize_ip_text(&s), norm(&s));
        }
    }

    #[test]
    fn non_addresses_are_none() {
        for s in [
            "",
            "   ",
            "host.contoso.com",
            "host.contoso.com:443",
            "exchange01",
            "1.2.3",
            "1.2.3.x",
            "[2001:db8::1]junk",
            "[2001:db8::1",
            "1.2.3.4:port",
            "1.2.3.4:123456",
            "-",
        ] {
            assert_eq!(norm(s), None, "{s:?}");
        }
    }
}
