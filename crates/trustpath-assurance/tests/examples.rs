//! Coverage and inventory over the generated example tenant (`examples/logs`), checked
//! against the generator's ground truth (`examples/ground-truth.toml`).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use trustpath_analytics::Metadata;
use trustpath_assurance::inventory::{MailboxPermission, Seen};
use trustpath_assurance::{
    BlindSpotKind, CoverageCollector, CoverageOptions, InventoryCollector, Verdict,
};
use trustpath_context::Context;
use trustpath_event::{Event, SourceKind};
use trustpath_normalize::Normalizer;
use trustpath_read::{ReadOptions, expand_inputs, read_input};
use trustpath_simulate::GroundTruth;

fn examples() -> PathBuf {
    trustpath_testkit::workspace_root().join("examples")
}

fn catalog() -> Vec<Metadata> {
    trustpath_analytics::catalog()
        .into_iter()
        .map(|(m, _)| m)
        .collect()
}

fn context() -> Context {
    Context::load(&examples().join("trustpath.toml")).expect("example context loads")
}

/// Calls `f` for every normalized event of every file under `path`.
fn for_each_event(path: &Path, f: &mut dyn FnMut(&Event)) {
    let (inputs, errors) = expand_inputs(&[path.to_path_buf()]);
    assert!(errors.is_empty(), "input errors: {errors:?}");
    for input in &inputs {
        let mut normalizer = Normalizer::new(Default::default());
        let mut batch = Vec::new();
        read_input(input, &ReadOptions::default(), &mut |item| {
            if let Ok(raw) = item {
                normalizer.push(raw, &mut batch);
                for event in batch.drain(..).flatten() {
                    f(&event);
                }
            }
        });
        normalizer.finish(&mut batch);
        for event in batch.drain(..).flatten() {
            f(&event);
        }
    }
}

/// One pass over the example logs: a coverage collector per source kind (merged later,
/// as the CLI merges per-file collectors) and one inventory collector.
struct Collected {
    coverage_by_source: Vec<(SourceKind, CoverageCollector)>,
    inventory: InventoryCollector,
}

fn collected() -> &'static Collected {
    static COLLECTED: OnceLock<Collected> = OnceLock::new();
    COLLECTED.get_or_init(|| {
        let mut coverage_by_source: Vec<(SourceKind, CoverageCollector)> = SourceKind::ALL
            .into_iter()
            .map(|k| (k, CoverageCollector::default()))
            .collect();
        let mut inventory = InventoryCollector::default();
        for_each_event(&examples().join("logs"), &mut |event| {
            if let Some((_, c)) = coverage_by_source
                .iter_mut()
                .find(|(k, _)| *k == event.source)
            {
                c.observe(event);
            }
            inventory.observe(event);
        });
        Collected {
            coverage_by_source,
            inventory,
        }
    })
}

fn merged_coverage(skip: &[SourceKind]) -> CoverageCollector {
    let mut all = CoverageCollector::default();
    for (kind, collector) in &collected().coverage_by_source {
        if !skip.contains(kind) {
            all.merge(collector.clone());
        }
    }
    all
}

#[test]
fn full_example_data_covers_every_analytic() {
    let catalog = catalog();
    assert!(!catalog.is_empty(), "the analytics catalog is empty");
    let report = merged_coverage(&[]).report(&catalog, &context(), &CoverageOptions::default());
    let mut table = Vec::new();
    report.write_table(&mut table).expect("table");
    let table = String::from_utf8(table).expect("utf-8");
    println!("{table}");
    for analytic in &report.analytics {
        let spots: Vec<String> = analytic
            .all_blind_spots()
            .map(|(step, b)| format!("step {step}: {}", b.what))
            .collect();
        assert_eq!(
            analytic.verdict,
            Verdict::Covered,
            "{} is not covered: {spots:?}",
            analytic.id
        );
    }
    assert!(report.partner_ip.events > 0, "partner events are counted");
    let layer = report.to_navigator_layer();
    let techniques = layer["techniques"].as_array().expect("techniques");
    assert!(
        techniques
            .iter()
            .any(|t| t["techniqueID"] == "T1199" && t["score"] == 100)
    );
    let json = serde_json::to_string(&report).expect("report serializes");
    assert!(json.contains("\"verdict\":\"covered\""));
}

#[test]
fn without_sign_in_logs_an1350_step_3_names_the_missing_log() {
    let catalog = catalog();
    let report = merged_coverage(&[SourceKind::EntraSignIn]).report(
        &catalog,
        &context(),
        &CoverageOptions::default(),
    );
    let an1350 = report.analytic("AN1350").expect("AN1350 in the catalog");
    let step3 = &an1350.steps[2];
    assert_eq!(
        step3.verdict,
        Verdict::Blind,
        "sign-ins are step 3's main evidence"
    );
    let missing = step3
        .blind_spots
        .iter()
        .find(|b| b.kind == BlindSpotKind::MissingSource && b.what.contains("entra_signin"))
        .expect("a blind spot names the missing sign-in logs");
    assert!(
        missing.enable.contains("Entra sign-in logs"),
        "the blind spot says which log to turn on: {}",
        missing.enable
    );
    assert_ne!(an1350.verdict, Verdict::Covered);
}

#[test]
fn inventory_matches_the_planted_grants() {
    let truth = GroundTruth::load(&examples().join("ground-truth.toml")).expect("ground truth");
    let inventory = collected().inventory.report(&context());
    let mut json = Vec::new();
    inventory.write_json(&mut json).expect("json");
    let listed: Vec<&MailboxPermission> = inventory.permissions.iter().collect();
    let mut unmatched: Vec<&MailboxPermission> = listed.clone();
    for grant in &truth.grants {
        let found = listed.iter().position(|p| grant_matches(p, grant));
        let Some(i) = found else {
            panic!(
                "planted grant not in the inventory: {grant:?}\ninventory: {}",
                describe(&listed)
            );
        };
        let p = listed[i];
        assert_eq!(p.standing, grant.standing, "standing of {grant:?}: {p:?}");
        let expected_seen = if grant.evidence == "host" {
            Seen::Host
        } else {
            Seen::Audit
        };
        let seen = p.evidence.expect("a grant has evidence");
        assert!(
            seen == expected_seen || seen == Seen::Both,
            "evidence of {grant:?}: {seen:?}"
        );
        if grant.evidence == "host" {
            assert_eq!(seen, Seen::Host, "host-only grant {grant:?}");
        }
        if let Some(removed_at) = &grant.removed_at {
            let removed = p.removed.as_ref().expect("removal listed");
            let at: jiff::Timestamp = removed_at.parse().expect("time");
            assert!(removed.time.duration_since(at).abs() <= jiff::SignedDuration::from_hours(1));
        }
        unmatched.retain(|q| !std::ptr::eq(*q, p));
    }
    assert!(
        unmatched.is_empty(),
        "inventory lists changes that were not planted:\n{}",
        describe(&unmatched)
    );
    assert_eq!(
        inventory.system_noise as usize, truth.system_permission_cmdlets,
        "system noise is counted"
    );
    let fabrikam = inventory
        .partners
        .iter()
        .find(|p| p.partner_tenant == "c0ffee00-1b2c-4d3e-9f40-5a6b7c8d9e0f")
        .expect("Fabrikam relationship listed");
    assert!(fabrikam.standing && !fabrikam.approved);
    assert_eq!(fabrikam.name.as_deref(), Some("Fabrikam Managed Services"));
    assert!(
        fabrikam
            .events
            .iter()
            .any(|e| e.activity.starts_with("Add member to role")),
        "GDAP role assignment attributed to the partner"
    );
    let approved: Vec<_> = inventory
        .permissions
        .iter()
        .filter_map(|p| p.approved.as_deref())
        .collect();
    assert!(
        approved.contains(&"CHG0041"),
        "ticketed grant approved: {approved:?}"
    );
}

fn grant_matches(p: &MailboxPermission, grant: &trustpath_simulate::GrantTruth) -> bool {
    let Some(granted) = &p.granted else {
        return false;
    };
    let (mailbox, folder) = match grant.mailbox.split_once(':') {
        Some((m, f)) => (m.to_owned(), Some(f.to_owned())),
        None => (grant.mailbox.clone(), None),
    };
    let at: jiff::Timestamp = grant.time.parse().expect("time");
    p.mailbox == mailbox.to_lowercase()
        && p.folder.as_deref().map(str::to_lowercase) == folder.map(|f| f.to_lowercase())
        && p.trustee.as_deref() == Some(grant.trustee.to_lowercase().as_str())
        && p.right
            .trim_start_matches("Role:")
            .eq_ignore_ascii_case(&grant.rights)
        && granted.time.duration_since(at).abs() <= jiff::SignedDuration::from_hours(1)
}

fn describe(permissions: &[&MailboxPermission]) -> String {
    permissions
        .iter()
        .map(|p| {
            format!(
                "  {} {:?} {:?} {} granted={:?} removed={:?} standing={}",
                p.mailbox,
                p.folder,
                p.trustee,
                p.right,
                p.granted
                    .as_ref()
                    .map(|g| (g.time.to_string(), g.actor.clone(), g.evidence)),
                p.removed.as_ref().map(|g| g.time.to_string()),
                p.standing
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}
