//! The HTML report in a real headless browser (Debian's `chromium`).
//!
//! Renders a report with hand-built findings, one of them carrying attacker-controlled
//! markup, loads it in headless Chromium, and checks the rendered DOM: the findings are
//! there, the hostile strings are text (no injected element, no script ran), the report's
//! own script ran without errors, and there are no console errors. The screenshot is kept
//! in the target directory (`target/.../tmp/trustpath-report.png`) for a human to look at.
//!
//! Without Chromium the test FAILS, saying to run `scripts/install-deps`, unless
//! `TRUSTPATH_SKIP_BROWSER=1` is set.

use jiff::Timestamp;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use trustpath_assurance::html;
use trustpath_event::{FileSummary, Origin, RunSummary, SourceKind, TimeRange};
use trustpath_report::{
    Attack, Entities, Evidence, Finding, FindingKind, Level, RuleRef, Severity, Window,
};

const HOSTILE_MAILBOX: &str = "ceo@contoso.com\"><script>document.title='pwned'</script><img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">";
const HOSTILE_TITLE: &str = "Grant on <b id=\"injected\">exec</b> mailbox & 'quotes'";

fn ts(text: &str) -> Timestamp {
    text.parse().expect("test time")
}

fn evidence(step: &str, time: &str, summary: &str, line: u64) -> Evidence {
    Evidence {
        step: step.to_owned(),
        time: ts(time),
        origin: Origin::file("logs/m365/unified-audit.jsonl.gz").with_line(line),
        source: "m365_audit/ual_json".to_owned(),
        summary: summary.to_owned(),
        record_id: Some(format!("rec-{line}")),
        ip: None,
    }
}

fn chain_finding() -> Finding {
    let mut severity = Severity::base(Level::High, "complete partner chain (AN1350 base level)");
    severity.raise("ceo@contoso.com is a sensitive mailbox (executive)");
    severity.note("partner Fabrikam Managed Services is not approved");
    Finding {
        id: "3f1d2c0b9a8e7d6c5b4a392817161514".to_owned(),
        time: ts("2025-03-11T22:40:51Z"),
        analytic: Some("AN1350".to_owned()),
        title: "Partner trust path to mailbox access".to_owned(),
        kind: FindingKind::Alert,
        attack: Attack {
            technique: vec!["T1199".to_owned()],
            tactics: vec!["initial-access".to_owned()],
            detection_strategy: Some("DET0488".to_owned()),
        },
        rule: RuleRef {
            id: "an1350".to_owned(),
            title: "AN1350 partner chain".to_owned(),
            level: "high".to_owned(),
        },
        severity,
        authorized: None,
        entities: Entities {
            tenant: Some("6f1c3b2a-9d4e-4c1b-8a7f-2e5d0c9b1a34".to_owned()),
            partner: Some("Fabrikam Managed Services".to_owned()),
            actor: Some("tech.ops@fabrikam-msp.com".to_owned()),
            trustee: Some("tech.ops@fabrikam-msp.com".to_owned()),
            mailbox: Some("ceo@contoso.com".to_owned()),
            ips: vec!["203.0.113.45".to_owned()],
            host: None,
        },
        window: Window {
            start: ts("2025-03-11T22:40:51Z"),
            end: ts("2025-03-12T01:31:34Z"),
        },
        evidence: vec![
            evidence("1", "2025-03-11T22:40:51Z", "Add partner to company. actor=tech.ops@fabrikam-msp.com", 101),
            evidence("2", "2025-03-11T23:35:38Z", "Add-MailboxPermission actor=tech.ops@fabrikam-msp.com target=ceo@contoso.com", 202),
            evidence("2", "2025-03-11T23:37:23Z", "Add-RecipientPermission target=ceo@contoso.com", 203),
            evidence("3", "2025-03-12T01:06:59Z", "MailItemsAccessed ip=203.0.113.45", 304),
            evidence("3", "2025-03-12T01:31:34Z", "MailItemsAccessed ip=203.0.113.45", 305),
        ],
        rollback: vec![
            "Remove-MailboxPermission -Identity 'ceo@contoso.com' -User 'tech.ops@fabrikam-msp.com' -AccessRights FullAccess -Confirm:$false".to_owned(),
        ],
        matched: Vec::new(),
        fields: Vec::new(),
    }
}

fn hostile_finding() -> Finding {
    Finding {
        id: "aa\"bb<cc>".to_owned(),
        time: ts("2025-03-12T14:12:02Z"),
        analytic: Some("AN1052".to_owned()),
        title: HOSTILE_TITLE.to_owned(),
        kind: FindingKind::HuntingLead,
        attack: Attack {
            technique: vec!["T1098.002".to_owned()],
            ..Attack::default()
        },
        rule: RuleRef {
            id: "an1052".to_owned(),
            title: "</td></tr></table><script>document.title='pwned2'</script>".to_owned(),
            level: "medium".to_owned(),
        },
        severity: Severity::base(Level::Medium, "host-only grant <i>no audit record</i>"),
        authorized: None,
        entities: Entities {
            actor: Some("CONTOSO\\jdoe".to_owned()),
            mailbox: Some(HOSTILE_MAILBOX.to_owned()),
            trustee: Some("jdoe.backup@outlook.example".to_owned()),
            host: Some("WS-FIN-07".to_owned()),
            ..Entities::default()
        },
        window: Window {
            start: ts("2025-03-10T14:14:27Z"),
            end: ts("2025-03-10T14:14:27Z"),
        },
        evidence: vec![Evidence {
            step: "an1052_host_cmdlet".to_owned(),
            time: ts("2025-03-10T14:14:27Z"),
            origin: Origin::file("logs/hosts/<evil>.jsonl").with_record(7),
            source: "windows/evtx_json".to_owned(),
            summary: format!("Add-MailboxPermission target={HOSTILE_MAILBOX}"),
            record_id: None,
            ip: None,
        }],
        rollback: vec![format!(
            "Remove-MailboxPermission -Identity '{}' -User 'jdoe.backup@outlook.example' -AccessRights FullAccess -Confirm:$false",
            HOSTILE_MAILBOX.replace('\'', "''")
        )],
        matched: vec![trustpath_report::MatchedField {
            selection: "selection".to_owned(),
            field: "CommandLine".to_owned(),
            value: "<script>document.title='pwned3'</script>".to_owned(),
        }],
        fields: Vec::new(),
    }
}

fn authorised_finding() -> Finding {
    let mut f = chain_finding();
    f.id = "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0".to_owned();
    f.title = "Approved partner grants FullAccess on payroll".to_owned();
    f.authorized = Some("CHG0041".to_owned());
    f.severity = Severity::base(Level::Low, "matches change ticket CHG0041");
    f.evidence.truncate(2);
    f
}

fn summary() -> RunSummary {
    let mut file = FileSummary::new("logs/m365/unified-audit.jsonl.gz");
    file.formats = vec!["ual_json".to_owned()];
    file.events = 18625;
    file.by_source.insert(SourceKind::M365Audit, 18625);
    file.time = TimeRange {
        first: Some(ts("2025-03-03T00:04:39Z")),
        last: Some(ts("2025-03-16T23:59:27Z")),
    };
    RunSummary {
        files: vec![file],
        matched: 42,
        late: 0,
        evicted: 0,
        findings: 3,
        ..RunSummary::default()
    }
}

/// Coverage of a tiny input with one UAL record and no sign-in logs.
fn coverage_without_sign_ins() -> trustpath_assurance::CoverageReport {
    let catalog: Vec<_> = trustpath_analytics::catalog()
        .into_iter()
        .map(|(m, _)| m)
        .collect();
    let mut collector = trustpath_assurance::CoverageCollector::default();
    let fields = serde_json::json!({"Operation": "Add-MailboxPermission", "tp.ip": "198.51.100.7"});
    collector.observe(&trustpath_event::Event {
        time: ts("2025-03-11T23:35:38Z"),
        source: SourceKind::M365Audit,
        format: trustpath_event::Format::UalJson,
        origin: Origin::file("ual.json").with_line(1),
        fields: trustpath_event::fields_from(fields),
        keys: Default::default(),
    });
    collector.report(
        &catalog,
        &trustpath_context::Context::default(),
        &trustpath_assurance::CoverageOptions::default(),
    )
}

/// The browser to use: `$TRUSTPATH_CHROMIUM`, else the first of the usual names in PATH.
fn find_chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("TRUSTPATH_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

fn run_browser(chromium: &Path, args: &[&str]) -> Output {
    let output = Command::new("timeout")
        .arg("120")
        .arg(chromium)
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-extensions",
            "--hide-scrollbars",
        ])
        .args(args)
        .output()
        .expect("run chromium");
    assert!(
        output.status.success(),
        "chromium failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[test]
fn report_renders_in_headless_chromium_and_escapes_hostile_data() {
    let Some(chromium) = find_chromium() else {
        if std::env::var("TRUSTPATH_SKIP_BROWSER").as_deref() == Ok("1") {
            println!("SKIPPED html browser test: TRUSTPATH_SKIP_BROWSER=1");
            return;
        }
        panic!(
            "chromium not found: run scripts/install-deps (CI installs it), \
             or set TRUSTPATH_SKIP_BROWSER=1 to skip this test"
        );
    };
    let findings = vec![chain_finding(), hostile_finding(), authorised_finding()];
    let coverage = coverage_without_sign_ins();
    let page = html::render(&findings, &summary(), Some(&coverage));
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&dir).expect("target tmp dir");
    let html_path = dir.join("trustpath-report.html");
    let png_path = dir.join("trustpath-report.png");
    std::fs::write(&html_path, &page).expect("write report");
    let url = format!("file://{}", html_path.display());

    let dom = run_browser(
        &chromium,
        &["--enable-logging=stderr", "--v=0", "--dump-dom", &url],
    );
    let dom_text = String::from_utf8_lossy(&dom.stdout);
    let log = String::from_utf8_lossy(&dom.stderr);
    assert!(dom_text.contains("Partner trust path to mailbox access"));
    assert!(dom_text.contains("Approved partner grants FullAccess on payroll"));
    assert!(dom_text.contains("AUTHORISED CHG0041"));
    assert!(dom_text.contains("HUNTING LEAD"));
    assert!(
        dom_text.contains("Blind spots"),
        "coverage section rendered"
    );
    assert!(
        dom_text.contains("Entra sign-in logs"),
        "blind spot names the log to add"
    );
    // The report's own script ran, and nothing else did.
    let body_tag = dom_text
        .split("<body")
        .nth(1)
        .and_then(|rest| rest.split('>').next())
        .unwrap_or("");
    assert!(
        body_tag.contains("data-ready=\"1\""),
        "report script did not run"
    );
    assert!(!body_tag.contains("data-pwned"), "injected handler ran");
    assert!(
        dom_text.contains("<div id=\"js-errors\"></div>"),
        "script error reported in the page"
    );
    assert!(
        dom_text.contains("<title>trustpath report</title>"),
        "title changed by injected script"
    );
    assert!(
        !dom_text.contains("<b id=\"injected\""),
        "injected element present"
    );
    assert!(!dom_text.contains("<img"), "injected image present");
    assert_eq!(
        dom_text.matches("<script").count(),
        2,
        "only the report's scripts"
    );
    // The hostile strings are shown as text.
    assert!(dom_text.contains("&lt;script&gt;document.title="));
    assert!(dom_text.contains("&lt;b id=\"injected\"&gt;exec&lt;/b&gt;"));
    for line in log.lines() {
        assert!(
            !(line.contains("Uncaught") || (line.contains("CONSOLE") && line.contains("rror"))),
            "console error: {line}"
        );
    }

    let window = "--window-size=1280,2000";
    let screenshot = format!("--screenshot={}", png_path.display());
    run_browser(&chromium, &[window, &screenshot, &url]);
    let png = std::fs::read(&png_path).expect("screenshot written");
    assert!(png.starts_with(b"\x89PNG"), "screenshot is a PNG");
    assert!(
        png.len() > 10_000,
        "screenshot is not blank ({} bytes)",
        png.len()
    );
    println!("screenshot: {}", png_path.display());
}
