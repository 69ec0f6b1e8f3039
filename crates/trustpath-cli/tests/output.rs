//! What `trustpath hunt` shows, as a user runs it (issue 13, points 3, 5, 6, 7): a Sigma
//! hit says why it fired in every format; the table fits 100 columns without colour when
//! not on a terminal, collapses evidence and starts large runs with a summary; the HTML
//! report puts the worst open finding first and has its charts; OCSF declares profiles.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    trustpath_testkit::workspace_root()
}

fn trustpath(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trustpath"))
        .args(args)
        .current_dir(root())
        .env_remove("NO_COLOR")
        .output()
        .expect("run trustpath")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const HOSTS: &str = "examples/logs/hosts/evtx-dump.jsonl.gz";

/// A process-creation rule that fires on every Edge start in the example hosts' logs.
fn rule(dir: &Path) -> PathBuf {
    let path = dir.join("edge.yml");
    std::fs::write(
        &path,
        "title: Edge started\nid: 0d4c6b0e-5a61-4c33-9d7e-6a1b2c3d4e5f\nstatus: test\nlevel: low\n\
         logsource:\n  category: process_creation\n  product: windows\n\
         detection:\n  selection:\n    Image|endswith: '\\msedge.exe'\n  condition: selection\n\
         fields:\n  - CommandLine\n  - ParentImage\n",
    )
    .expect("write rule");
    path
}

#[test]
fn sigma_hits_say_why_in_jsonl_table_and_csv() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rule = rule(dir.path());
    let rule = rule.to_string_lossy();
    let out = trustpath(&[
        "hunt",
        "--no-builtin",
        "-r",
        &rule,
        HOSTS,
        "-f",
        "jsonl",
        "-q",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let findings: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert!(!findings.is_empty());
    for f in &findings {
        let matched = f["matched"].as_array().expect("matched fields");
        assert_eq!(matched[0]["selection"], "selection");
        let value = matched[0]["value"].as_str().unwrap_or_default();
        assert!(value.to_lowercase().ends_with("msedge.exe"), "{f}");
        assert_eq!(f["fields"][0]["field"], "CommandLine", "{f}");
    }

    let out = trustpath(&[
        "hunt",
        "--no-builtin",
        "-r",
        &rule,
        HOSTS,
        "-f",
        "table",
        "-q",
    ]);
    let table = text(&out.stdout);
    assert!(table.contains("details: "), "{table}");
    assert!(table.contains("msedge.exe"));
    assert!(!table.contains('\u{1b}'), "no colour when not a terminal");
    assert!(
        table.lines().all(|l| l.chars().count() <= 100),
        "100 columns when not a terminal"
    );
    if findings.len() > 50 {
        assert!(table.contains("a summary first"), "{table}");
        assert!(table.contains("By host"));
        assert!(table.contains("more: use -f jsonl"));
    }
    assert!(table.contains("file:line = line"), "legend");

    let out = trustpath(&[
        "hunt",
        "--no-builtin",
        "-r",
        &rule,
        HOSTS,
        "-f",
        "csv",
        "-q",
    ]);
    let csv = text(&out.stdout);
    assert!(csv.lines().next().unwrap_or_default().contains("details"));
    assert!(csv.contains("CommandLine: "));
}

#[test]
fn example_tenant_table_html_and_ocsf() {
    let out = trustpath(&["hunt", "examples/", "-f", "table"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert!(table.lines().all(|l| l.chars().count() <= 100), "{table}");
    // Repeated sign-ins are one line.
    assert!(table.contains("× SignIn from"), "{table}");
    // No jargon in the run summary; no mailbox repeated in one reason.
    assert!(!stderr.contains("late 0"), "{stderr}");
    assert!(!stderr.contains("evicted 0,"), "{stderr}");
    assert!(
        !table.contains("payroll@contoso.com, payroll@contoso.com"),
        "{table}"
    );

    let out = trustpath(&["hunt", "examples/", "-f", "html", "-q"]);
    let page = text(&out.stdout);
    assert!(page.contains("Findings over the period"));
    assert!(page.contains("Events per source per day"));
    assert!(page.contains("By mailbox"));
    let first = page
        .split("<details class=\"finding\" data-level=\"")
        .nth(1)
        .unwrap_or_default();
    assert!(first.starts_with("critical\""), "worst first");
    assert!(first.contains("st-alert"), "an open alert first");

    let out = trustpath(&["hunt", "examples/", "-f", "ocsf", "-q"]);
    for line in text(&out.stdout).lines() {
        let o: serde_json::Value = serde_json::from_str(line).expect("json");
        let profiles = o["metadata"]["profiles"].as_array().expect("profiles");
        assert!(profiles.iter().any(|p| p == "security_control"));
        if o.get("cloud").is_some() {
            assert!(profiles.iter().any(|p| p == "cloud"));
        }
        if o.get("actor").is_some() || o.get("device").is_some() {
            assert!(profiles.iter().any(|p| p == "host"));
        }
        assert!(
            o.get("src_endpoint").is_none(),
            "not a Detection Finding attribute"
        );
    }
}
