//! Coverage on small hand-written inputs: blind, partial and covered steps, gaps,
//! retention, partner IP context, merging and the Navigator layer.

use serde_json::{Value, json};
use trustpath_analytics::Metadata;
use trustpath_assurance::{
    BlindSpotKind, CoverageCollector, CoverageOptions, CoverageReport, Verdict,
};
use trustpath_context::Context;
use trustpath_event::{Event, Format, Origin, SourceKind};

fn catalog() -> Vec<Metadata> {
    trustpath_analytics::catalog()
        .into_iter()
        .map(|(m, _)| m)
        .collect()
}

fn event(source: SourceKind, time: &str, fields: Value) -> Event {
    let format = match source {
        SourceKind::M365Audit => Format::UalJson,
        SourceKind::EntraSignIn => Format::GraphSignIn,
        SourceKind::EntraAudit => Format::GraphDirectoryAudit,
        SourceKind::Windows => Format::EvtxJson,
        SourceKind::Generic => Format::GenericJson,
    };
    Event {
        time: time.parse().expect("time"),
        source,
        format,
        origin: Origin::file("test.json").with_line(1),
        fields: trustpath_event::fields_from(fields),
        keys: Default::default(),
    }
}

fn admin_record(time: &str) -> Event {
    event(
        SourceKind::M365Audit,
        time,
        json!({"Operation": "Add-MailboxPermission", "RecordType": 1, "UserId": "admin@contoso.com",
               "Parameters": [{"Name": "Identity", "Value": "ceo@contoso.com"}],
               "tp.ip": "198.18.10.5",
               "tp.permission_change": [{"cmdlet": "Add-MailboxPermission", "action": "grant"}]}),
    )
}

fn signin(time: &str, ip: &str) -> Event {
    event(
        SourceKind::EntraSignIn,
        time,
        json!({"ipAddress": ip, "crossTenantAccessType": "none", "homeTenantId": "t",
               "resourceTenantId": "t", "authenticationRequirement": "multiFactorAuthentication",
               "tp.ip": ip}),
    )
}

fn report_of(events: &[Event], context: &Context) -> CoverageReport {
    let mut collector = CoverageCollector::default();
    for e in events {
        collector.observe(e);
    }
    collector.report(&catalog(), context, &CoverageOptions::default())
}

#[test]
fn audit_only_input_makes_an1350_step_3_blind_and_names_sign_in_logs() {
    let events = vec![
        admin_record("2025-03-01T10:00:00Z"),
        admin_record("2025-03-09T10:00:00Z"),
    ];
    let report = report_of(&events, &Context::default());
    let step3 = &report.analytic("AN1350").expect("AN1350").steps[2];
    assert_eq!(step3.verdict, Verdict::Blind, "{step3:#?}");
    let spot = step3
        .blind_spots
        .iter()
        .find(|b| b.kind == BlindSpotKind::MissingSource)
        .expect("missing source named");
    assert!(spot.what.contains("entra_signin"), "{}", spot.what);
    assert!(
        spot.enable.contains("Entra sign-in logs"),
        "{}",
        spot.enable
    );
    // AN1347 reads only sign-ins and directory audits: blind.
    assert_eq!(
        report.analytic("AN1347").expect("AN1347").verdict,
        Verdict::Blind
    );
    let mut text = Vec::new();
    report.write_table(&mut text).expect("table");
    let text = String::from_utf8(text).expect("utf-8");
    assert!(text.contains("AN1350 step 3"), "{text}");
    assert!(text.contains("enable: Entra sign-in logs"), "{text}");
}

#[test]
fn sign_ins_without_ips_are_a_named_blind_spot() {
    let events = vec![
        signin("2025-03-01T10:00:00Z", ""),
        signin("2025-03-01T11:00:00Z", ""),
    ];
    let report = report_of(&events, &Context::default());
    let step1 = &report.analytic("AN1347").expect("AN1347").steps[0];
    assert_eq!(step1.verdict, Verdict::Partial);
    let spot = step1
        .blind_spots
        .iter()
        .find(|b| b.kind == BlindSpotKind::EmptyField)
        .expect("empty IP field named");
    assert!(spot.what.contains("ipAddress"), "{}", spot.what);
    let source = &report.sources[0];
    assert_eq!((source.events, source.with_ip), (2, 0));
}

#[test]
fn silence_longer_than_the_threshold_is_a_gap() {
    let mut events = vec![
        signin("2025-03-01T00:30:00Z", "198.18.1.1"),
        signin("2025-03-04T12:30:00Z", "198.18.1.1"),
    ];
    for hour in 0..84 {
        let t = format!("2025-03-{:02}T{:02}:10:00Z", 1 + hour / 24, hour % 24);
        events.push(admin_record(&t));
    }
    let report = report_of(&events, &Context::default());
    let signins = report
        .sources
        .iter()
        .find(|s| s.source == SourceKind::EntraSignIn)
        .expect("sign-ins");
    assert_eq!(signins.gaps.len(), 1, "{:?}", signins.gaps);
    assert_eq!(signins.gaps[0].hours, 83);
    let audits = report
        .sources
        .iter()
        .find(|s| s.source == SourceKind::M365Audit)
        .expect("audit");
    assert!(audits.gaps.is_empty(), "{:?}", audits.gaps);
    let step = &report.analytic("AN1347").expect("AN1347").steps[0];
    assert!(
        step.blind_spots
            .iter()
            .any(|b| b.kind == BlindSpotKind::Gap)
    );
    assert_ne!(step.verdict, Verdict::Covered);
}

#[test]
fn input_shorter_than_the_window_is_a_retention_blind_spot() {
    let events = vec![
        admin_record("2025-03-01T10:00:00Z"),
        admin_record("2025-03-02T10:00:00Z"),
    ];
    let report = report_of(&events, &Context::default());
    let an1350 = report.analytic("AN1350").expect("AN1350");
    let retention = an1350.retention.as_ref().expect("AN1350 has a window");
    assert!(!retention.sufficient);
    assert_eq!(retention.window, "7d");
    assert!(
        an1350
            .blind_spots
            .iter()
            .any(|b| b.kind == BlindSpotKind::Retention)
    );
}

#[test]
fn partner_ip_context_is_checked_against_configured_ranges() {
    let context = Context::from_toml_str(
        r#"
[[partners]]
name = "Northwind"
tenant_id = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
cidrs = ["198.51.100.0/24"]
approved = true

[[partners]]
name = "No Ranges Ltd"
tenant_id = "11111111-2222-4333-8444-555555555555"
"#,
        std::path::Path::new("."),
    )
    .expect("context");
    let partner = |ip: Option<&str>| {
        let mut f = json!({"tp.partner_tenant": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"});
        if let Some(ip) = ip {
            f["tp.ip"] = json!(ip);
        }
        event(SourceKind::EntraSignIn, "2025-03-01T10:00:00Z", f)
    };
    let events = vec![
        partner(Some("198.51.100.7")),
        partner(Some("198.51.100.8")),
        partner(Some("203.0.113.9")),
        partner(None),
    ];
    let report = report_of(&events, &context);
    let p = &report.partner_ip;
    assert_eq!((p.events, p.with_ip, p.in_ranges), (4, 3, 2));
    assert!(!p.reliable);
    assert_eq!(p.unconfigured_partners, vec!["No Ranges Ltd".to_owned()]);
    let northwind = &p.partners[0];
    assert_eq!(northwind.ips_outside_ranges, vec!["203.0.113.9".to_owned()]);
    assert_eq!(northwind.without_ip, 1);
    assert!(
        p.warnings
            .iter()
            .any(|w| w.contains("outside the configured ranges"))
    );
}

#[test]
fn merged_collectors_equal_one_collector() {
    let events = vec![
        admin_record("2025-03-01T10:00:00Z"),
        signin("2025-03-02T10:00:00Z", "198.18.1.1"),
        admin_record("2025-03-09T10:00:00Z"),
    ];
    let whole = report_of(&events, &Context::default());
    let mut a = CoverageCollector::default();
    let mut b = CoverageCollector::default();
    a.observe(&events[0]);
    b.observe(&events[1]);
    b.observe(&events[2]);
    a.merge(b);
    let merged = a.report(&catalog(), &Context::default(), &CoverageOptions::default());
    assert_eq!(whole, merged);
}

#[test]
fn navigator_layer_scores_each_technique_by_its_best_analytic() {
    let events = vec![
        admin_record("2025-03-01T10:00:00Z"),
        admin_record("2025-03-09T10:00:00Z"),
    ];
    let layer = report_of(&events, &Context::default()).to_navigator_layer();
    assert_eq!(layer["versions"]["layer"], "4.5");
    assert_eq!(layer["versions"]["attack"], "18");
    assert_eq!(layer["versions"]["navigator"], "5.1.0");
    assert_eq!(layer["domain"], "enterprise-attack");
    assert!(
        layer["gradient"]["colors"]
            .as_array()
            .is_some_and(|c| c.len() == 3)
    );
    assert_eq!(layer["legendItems"].as_array().map(Vec::len), Some(3));
    let techniques = layer["techniques"].as_array().expect("techniques");
    let t1199 = techniques
        .iter()
        .find(|t| t["techniqueID"] == "T1199")
        .expect("T1199");
    // AN1347 is blind (no Entra logs) but AN1350 is partial: best-of gives 50.
    assert_eq!(t1199["score"], 50);
    assert!(
        t1199["comment"]
            .as_str()
            .is_some_and(|c| c.contains("AN1347"))
    );
    assert!(t1199["metadata"].as_array().is_some_and(|m| !m.is_empty()));
    assert!(techniques.iter().any(|t| t["techniqueID"] == "T1098.002"));
    assert!(
        techniques
            .iter()
            .any(|t| t["techniqueID"] == "T1098" && t["showSubtechniques"] == true)
    );
}

#[test]
fn empty_input_is_blind_everywhere() {
    let report = report_of(&[], &Context::default());
    assert!(report.analytics.iter().all(|a| a.verdict == Verdict::Blind));
    assert!(!report.partner_ip.reliable);
}
