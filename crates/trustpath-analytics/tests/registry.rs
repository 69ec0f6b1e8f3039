//! An analytic is one folder: the registry reads it, and everything else — the
//! context's tunables, placeholders, fold priority, coverage window, simulator entry,
//! `list` and `explain` — comes from it. These tests fail when a folder lacks a piece,
//! and show that a new analytic in a temporary folder needs no edit anywhere else.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use trustpath_analytics::{Baseline, Detector, DetectorOptions, Matched, Registry};
use trustpath_context::{Context, Schema};
use trustpath_event::Event;
use trustpath_pipeline::{ScanConfig, scan};
use trustpath_report::Finding;

#[test]
fn every_builtin_analytic_is_complete() {
    let registry = Registry::builtin();
    assert_eq!(
        registry
            .iter()
            .map(|d| d.meta.id.as_str())
            .collect::<Vec<_>>(),
        ["AN1051", "AN1052", "AN1347", "AN1350"]
    );
    let problems = registry.check();
    assert!(problems.is_empty(), "{problems:#?}");
    for def in registry.iter() {
        if let Some(generator) = &def.meta.simulator {
            assert!(
                trustpath_simulate::GENERATORS.contains(&generator.as_str()),
                "{}: simulator `{generator}` is not a trustpath-simulate generator",
                def.meta.id
            );
        }
    }
}

#[test]
fn the_context_checks_exactly_the_declared_tunables() {
    // trustpath-context embeds the same analytic.toml files (its build.rs uses the
    // registry's folder discovery): the two views cannot differ.
    assert_eq!(Schema::builtin(), &Registry::builtin().schema());
    // Every tunable `explain` names is accepted by the context, at its default.
    for def in Registry::builtin().iter() {
        for t in &def.meta.tunables {
            let text = format!("[analytics.{}]\n{} = {}\n", def.meta.id, t.key(), t.default);
            let loaded = Context::from_toml_str(&text, Path::new("."));
            assert!(loaded.is_ok(), "{text}: {loaded:?}");
        }
    }
}

#[test]
fn defaults_placeholders_and_priorities_come_from_the_metadata() {
    let context = Context::default();
    assert_eq!(
        context.analytics.duration("AN1350", "window"),
        Some(jiff::SignedDuration::from_hours(7 * 24))
    );
    assert_eq!(
        context.analytics.duration("AN1052", "TimeWindow"),
        Some(jiff::SignedDuration::from_hours(1))
    );
    assert_eq!(context.analytics.flag("AN1347", "RequiredMFA"), Some(true));
    assert_eq!(
        context.analytics.strings("AN1347", "RoleScopeAllowList"),
        ["Exchange Administrator", "Helpdesk Administrator"]
    );
    let placeholders = Registry::builtin().placeholders(&context);
    let names: Vec<&str> = placeholders.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "AdminAccounts",
            "DelegatePermissionLevel",
            "ExecutionParent",
            "FolderTargetScope",
            "PartnerTenantIDs",
            "PowerShellCmdletFilter",
            "RoleScopeAllowList",
            "TrustedPartnerTenantIDs",
        ]
    );
    assert_eq!(placeholders["PowerShellCmdletFilter"].len(), 6);
    // Approved partners are trusted like TrustedPartnerTenantIDs (placeholder_adds).
    let context = Context::from_toml_str(
        "[[partners]]\ntenant_id = \"AAAAAAAA-0000-0000-0000-000000000001\"\napproved = true\n\
         [analytics.AN1347]\nTrustedPartnerTenantIDs = [\"bbbbbbbb-0000-0000-0000-000000000002\"]\n",
        Path::new("."),
    )
    .expect("context");
    assert_eq!(
        Registry::builtin().placeholders(&context)["TrustedPartnerTenantIDs"],
        [
            "aaaaaaaa-0000-0000-0000-000000000001",
            "bbbbbbbb-0000-0000-0000-000000000002"
        ]
    );
    let registry = Registry::builtin();
    let order = |id| registry.fold_priority(Some(id));
    assert!(order("AN1350") < order("AN1052"));
    assert!(order("AN1052") < order("AN1347"));
    assert!(order("AN1347") < order("AN1051"));
    assert!(order("AN1051") < registry.fold_priority(None));
    assert_eq!(
        registry.coverage_window("AN1350", &Context::default()),
        Some(jiff::SignedDuration::from_hours(7 * 24))
    );
    assert_eq!(
        registry.coverage_window("AN1347", &Context::default()),
        None
    );
}

const ID: &str = "AN9001";

const METADATA: &str = r#"id = "AN9001"
title = "Inbox rule that forwards mail"
platform = "Office Suite"
technique = "T1114.003"
technique_name = "Email Collection: Email Forwarding Rule"
strategy = "DET9001"
strategy_name = "Test strategy"
summary = "An inbox rule created or changed by one of ForwardingOperations."
base_level = "medium"
fold_priority = 9
simulator = "an1051"
false_positives = ["Users forwarding their own mail on purpose."]
response = ["Remove the rule."]

[[steps]]
rule = "an9001_forwarding_rule"
name = "Inbox rule created"
sources = ["m365_audit"]
fields = ["Operation"]
enable = "Mailbox auditing"

[[tunables]]
name = "ForwardingOperations"
type = "strings"
non_empty = true
default = ["New-InboxRule"]
placeholder = "ForwardingOperations"
effect = "Operations that count."
"#;

const RULES: &str = r"title: AN9001 inbox rule
id: 4b1c8a52-9001-4d1e-9a3b-000000009001
name: an9001_forwarding_rule
status: test
tags:
  - attack.collection
  - attack.t1114.003
logsource:
  product: m365
  service: exchange
detection:
  rule:
    Operation|expand: '%ForwardingOperations%'
  condition: rule
level: high
";

const README: &str = "# AN9001 - Inbox rule that forwards mail\n\n## Contract\n\n\
- An operation in ForwardingOperations fires; any other operation stays silent.\n";

fn ual(id: &str, operation: &str) -> String {
    format!(
        r#"{{"CreationTime":"2025-03-06T09:00:18","Id":"{id}","Operation":"{operation}","OrganizationId":"6f1c3b2a-9d4e-4c1b-8a7f-2e5d0c9b1a34","RecordType":1,"ResultStatus":"True","UserKey":"1003BBC86B7BFBD2","UserType":0,"Version":1,"Workload":"Exchange","UserId":"ceo@contoso.com","ClientIP":"198.18.10.33","ObjectId":"ceo@contoso.com\\Forward","Parameters":[{{"Name":"ForwardTo","Value":"drop@fabrikam.example"}}]}}"#
    )
}

/// Writes the test analytic's folder; `skip` leaves a file or folder out.
fn write_analytic(root: &Path, skip: &[&str]) -> PathBuf {
    let dir = root.join(ID);
    let file = |rel: &str, text: &str| {
        if skip.iter().any(|s| rel.starts_with(s)) {
            return;
        }
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    };
    file("analytic.toml", METADATA);
    file("rules.yml", RULES);
    file("README.md", README);
    file(
        "fixtures/positive/ual-jsonl/forward.jsonl",
        &ual("9a000000-0000-4000-8000-000000000001", "New-InboxRule"),
    );
    file(
        "fixtures/benign/other.jsonl",
        &ual("9a000000-0000-4000-8000-000000000002", "Get-InboxRule"),
    );
    file("snapshots/AN9001-ual-jsonl.snap", "one finding\n");
    dir
}

fn run(registry: &Registry, context: Context, path: &Path) -> Vec<Finding> {
    let (detector, problems) = Detector::build_with(
        DetectorOptions {
            builtin: true,
            context,
            ..DetectorOptions::default()
        },
        registry,
    );
    assert!(problems.analytics.is_empty(), "{:?}", problems.analytics);
    assert!(
        problems.rules.iter().all(|p| p.is_warning()),
        "{:?}",
        problems.rules
    );
    let (inputs, errors) = trustpath_read::expand_inputs(&[path.to_path_buf()]);
    assert!(errors.is_empty(), "{errors:?}");
    let result = scan(&inputs, &ScanConfig::default(), |event: &Arc<Event>| {
        detector.match_shared(Arc::clone(event))
    });
    let (matched, _): (Vec<Matched>, Vec<()>) = result.into_parts();
    detector.findings(matched, &Baseline::default()).findings
}

#[test]
fn a_folder_is_an_analytic_with_no_edit_elsewhere() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = write_analytic(tmp.path(), &[]);
    let registry = Registry::builtin()
        .clone()
        .with(Registry::from_dir(tmp.path()));
    // Listed and documented, complete.
    let def = registry.get(ID).expect("listed");
    assert_eq!(def.meta.title, "Inbox rule that forwards mail");
    assert!(def.doc.contains("## Contract"));
    assert!(registry.check().is_empty(), "{:#?}", registry.check());
    assert_eq!(registry.iter().count(), 5);

    // Its tunables are validated from its declaration, with file:line:column.
    let ctx = dir.join("trustpath.toml");
    std::fs::write(
        &ctx,
        "[analytics.AN9001]\nForwardingOperations = [\"Set-InboxRule\"]\n",
    )
    .expect("write");
    let context = registry.load_context(&ctx).expect("accepted");
    assert_eq!(
        context.analytics.strings(ID, "ForwardingOperations"),
        ["Set-InboxRule"]
    );
    std::fs::write(&ctx, "[analytics.AN9001]\n\nForwardingOps = []\n").expect("write");
    let err = registry
        .load_context(&ctx)
        .expect_err("misspelt key")
        .to_string();
    assert!(
        err.contains(":3:1:") && err.contains("ForwardingOps"),
        "{err}"
    );
    std::fs::write(&ctx, "[analytics.AN9001]\nForwardingOperations = \"x\"\n").expect("write");
    let err = registry
        .load_context(&ctx)
        .expect_err("wrong type")
        .to_string();
    assert!(
        err.contains(":2:") && err.contains("a list of strings"),
        "{err}"
    );
    std::fs::write(&ctx, "[analytics.AN9001]\nForwardingOperations = []\n").expect("write");
    let err = registry
        .load_context(&ctx)
        .expect_err("non_empty")
        .to_string();
    assert!(err.contains("may not be empty"), "{err}");
    // The built-in schema does not know it: a context naming it needs its registry.
    let err = Context::from_toml_str("[analytics.AN9001]\n", Path::new("."))
        .expect_err("unknown analytic")
        .to_string();
    assert!(err.contains("unknown analytic `AN9001`"), "{err}");

    // Its rules run with its tunables as placeholders; findings carry its id and fold
    // priority; the benign look-alike stays silent.
    let positive = dir.join("fixtures/positive");
    let findings = run(&registry, Context::default(), &positive);
    let ours: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.analytic.as_deref() == Some(ID))
        .collect();
    assert_eq!(ours.len(), 1, "{findings:#?}");
    assert_eq!(ours[0].attack.technique, ["T1114.003"]);
    assert_eq!(registry.fold_priority(Some(ID)), 9);
    assert!(run(&registry, Context::default(), &dir.join("fixtures/benign")).is_empty());
    // Tuned away: the operation is no longer in ForwardingOperations.
    let tuned = Context::from_toml_str_with(
        "[analytics.AN9001]\nForwardingOperations = [\"Set-InboxRule\"]\n",
        Path::new("."),
        &registry.schema(),
    )
    .expect("context");
    assert!(run(&registry, tuned, &positive).is_empty());
}

#[test]
fn a_folder_missing_a_piece_is_reported() {
    for (skip, expected) in [
        ("README.md", "no README.md"),
        ("fixtures/benign", "no fixtures/benign/"),
        ("fixtures/positive", "no fixtures/positive/"),
        ("snapshots", "no snapshots/"),
    ] {
        let tmp = tempfile::tempdir().expect("tempdir");
        write_analytic(tmp.path(), &[skip]);
        let problems = Registry::from_dir(tmp.path()).check();
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "{skip}: {problems:#?}"
        );
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = write_analytic(tmp.path(), &[]);
    std::fs::write(dir.join("README.md"), "# AN9001\n\nNo contract here.\n").expect("write");
    let problems = Registry::from_dir(tmp.path()).check();
    assert!(
        problems.iter().any(|p| p.contains("no Contract section")),
        "{problems:#?}"
    );
    // Metadata: a missing field or an unknown key is an error naming file:line:column.
    std::fs::write(
        dir.join("analytic.toml"),
        METADATA.replace("fold_priority = 9", "fold_priorty = 9"),
    )
    .expect("write");
    let problems = Registry::from_dir(tmp.path()).check();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("analytic.toml:10:1:") && p.contains("fold_priorty")),
        "{problems:#?}"
    );
    std::fs::write(
        dir.join("analytic.toml"),
        METADATA.replace(
            "default = [\"New-InboxRule\"]",
            "default = \"New-InboxRule\"",
        ),
    )
    .expect("write");
    let problems = Registry::from_dir(tmp.path()).check();
    assert!(
        problems.iter().any(|p| p.contains("ForwardingOperations")),
        "{problems:#?}"
    );
}
