//! The `trustpath` binary end to end: the README's first command, the documented exit
//! codes, bad input reporting, `simulate` → `hunt` for every analytic and format,
//! `respond`, `coverage`, `inventory`, `validate`, `explain`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn trustpath(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trustpath"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run trustpath")
}

fn root() -> PathBuf {
    trustpath_testkit::workspace_root()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn findings(out: &Output) -> Vec<serde_json::Value> {
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON finding per line"))
        .collect()
}

#[test]
fn readme_hunt_on_examples() {
    let out = trustpath(&["hunt", "examples/", "--format", "jsonl"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let found = findings(&out);
    assert!(found.len() >= 10, "the ten planted chains: {}", found.len());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("context examples/trustpath.toml"),
        "{stderr}"
    );
    assert!(stderr.contains("skipped 0"), "{stderr}");
    for f in &found {
        for key in [
            "id",
            "time",
            "analytic",
            "attack",
            "rule",
            "severity",
            "authorized",
            "entities",
            "evidence",
            "window",
        ] {
            assert!(f.get(key).is_some(), "finding lacks {key}: {f}");
        }
        assert!(
            f["rule"]["id"].is_string()
                && f["rule"]["title"].is_string()
                && f["rule"]["level"].is_string()
        );
        assert!(f["evidence"][0]["origin"]["file"].is_string());
    }
}

/// The README's count: fourteen findings for the ten planted chains (the companion
/// AN1051/AN1347 alerts of P02 and P03, and P08's role assignment without its approval),
/// three of them authorised (CHG0040, CHG0041 twice).
#[test]
fn readme_hunt_on_examples_counts() {
    let out = trustpath(&["hunt", "examples/", "--format", "jsonl"]);
    let found = findings(&out);
    assert_eq!(
        found.len(),
        14,
        "the ten planted chains and their companions"
    );
    let authorised = found.iter().filter(|f| f["authorized"].is_string()).count();
    assert_eq!(authorised, 3, "CHG0040 and CHG0041 (AN1350 and AN1051)");
    let table = trustpath(&["hunt", "examples/", "--format", "table", "-q"]);
    assert!(
        text(&table.stdout).contains("hunting lead"),
        "P02, Fabrikam's partial chain, is a hunting lead"
    );
}

#[test]
fn table_output_is_readable() {
    let out = trustpath(&["hunt", "examples/", "--format", "table", "-q"]);
    let table = text(&out.stdout);
    assert!(table.contains("When (UTC)"), "{table}");
    assert!(table.contains("authorised CHG0041"));
}

fn write(dir: &Path, name: &str, content: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).expect("write");
    path
}

#[test]
fn bad_input_is_counted_located_and_strict_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(
        dir.path(),
        "ual.jsonl",
        b"{\"CreationTime\":\"2025-03-06T10:00:00\",\"Operation\":\"MailItemsAccessed\",\"RecordType\":50,\"OrganizationId\":\"t\",\"UserId\":\"a@b.c\",\"Workload\":\"Exchange\"}\n{\"CreationTime\": \"2025-03-06T10:0\n\xff\xfe not utf8\n",
    );
    let path = dir.path().to_string_lossy().into_owned();
    let out = trustpath(&["hunt", &path, "--format", "jsonl"]);
    assert_eq!(out.status.code(), Some(0));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("skipped 2"), "{stderr}");
    assert!(
        stderr.contains("ual.jsonl:2"),
        "line of the truncated record: {stderr}"
    );
    assert!(
        stderr.contains("ual.jsonl:3"),
        "line of the invalid UTF-8: {stderr}"
    );
    let strict = trustpath(&["hunt", &path, "--strict", "-q"]);
    assert_eq!(strict.status.code(), Some(3));
}

#[test]
fn exit_codes_for_usage_fatal_and_fail_on() {
    assert_eq!(trustpath(&["hunt"]).status.code(), Some(2));
    let fatal = trustpath(&[
        "hunt",
        "examples/",
        "--context",
        "/nonexistent/trustpath.toml",
    ]);
    assert_eq!(fatal.status.code(), Some(1));
    assert!(text(&fatal.stderr).contains("/nonexistent/trustpath.toml"));
    let fail = trustpath(&[
        "hunt",
        "examples/",
        "-q",
        "--fail-on",
        "critical",
        "-f",
        "jsonl",
    ]);
    assert_eq!(fail.status.code(), Some(4));
}

#[test]
fn simulate_then_hunt_fires_for_every_analytic_and_format() {
    let formats = [
        "ual-jsonl",
        "ual-json-array",
        "purview-csv",
        "sentinel-office-activity",
        "graph-signin-json",
        "sentinel-signinlogs",
        "graph-directory-audit-json",
        "sentinel-auditlogs",
        "evtx-dump-jsonl",
        "winlogbeat-jsonl",
        "flat-windows-jsonl",
    ];
    for analytic in ["AN1350", "AN1052", "AN1051", "AN1347"] {
        for format in formats {
            let dir = tempfile::tempdir().expect("tempdir");
            let out_dir = dir.path().to_string_lossy().into_owned();
            let sim = trustpath(&["simulate", analytic, "--format", format, "--out", &out_dir]);
            if sim.status.code() == Some(1)
                && text(&sim.stderr).contains("chain has no")
                && text(&sim.stderr).contains("formats for its logs")
            {
                // A format for a log this chain does not have is refused, said so.
                continue;
            }
            assert_eq!(sim.status.code(), Some(0), "{}", text(&sim.stderr));
            let written = std::fs::read_dir(dir.path()).expect("dir").count();
            assert!(written > 0, "{analytic} {format}: nothing written");
            let hunt = trustpath(&["hunt", &out_dir, "-q", "-f", "jsonl"]);
            let fired = findings(&hunt).iter().any(|f| f["analytic"] == analytic);
            assert!(
                fired,
                "{analytic} did not fire on its simulated chain with {format}"
            );
        }
    }
}

#[test]
fn respond_prints_quoted_rollback() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("f.jsonl");
    let out = trustpath(&[
        "hunt",
        "examples/",
        "-q",
        "-f",
        "jsonl",
        "-o",
        &file.to_string_lossy(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let content = std::fs::read_to_string(&file).expect("findings");
    let with_rollback: serde_json::Value = content
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json"))
        .find(|f| f["rollback"].as_array().is_some_and(|r| !r.is_empty()))
        .expect("a finding with rollback");
    let id = with_rollback["id"].as_str().unwrap_or_default();
    let respond = trustpath(&["respond", &id[..12], "--findings", &file.to_string_lossy()]);
    let script = text(&respond.stdout);
    assert_eq!(respond.status.code(), Some(0), "{}", text(&respond.stderr));
    assert!(
        script.contains("Remove-") && script.contains(" -Identity '"),
        "{script}"
    );
}

#[test]
fn coverage_and_inventory_on_examples() {
    let cov = trustpath(&["coverage", "examples/", "--json"]);
    assert_eq!(cov.status.code(), Some(0), "{}", text(&cov.stderr));
    let report: serde_json::Value = serde_json::from_slice(&cov.stdout).expect("coverage json");
    assert!(report["analytics"].as_array().is_some_and(|a| a.len() == 4));
    let dir = tempfile::tempdir().expect("tempdir");
    let layer = dir.path().join("layer.json");
    let nav = trustpath(&[
        "coverage",
        "examples/",
        "--navigator",
        &layer.to_string_lossy(),
    ]);
    assert_eq!(nav.status.code(), Some(0));
    let layer: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&layer).expect("layer")).expect("json");
    assert_eq!(layer["domain"], "enterprise-attack");
    let inv = trustpath(&["inventory", "examples/", "-f", "csv"]);
    assert_eq!(inv.status.code(), Some(0));
    assert!(text(&inv.stdout).starts_with("type,target,"));
}

#[test]
fn validate_explain_and_list() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "good.yml", b"title: t\nlogsource: {product: windows}\ndetection: {sel: {EventID: 1}, condition: sel}\n");
    write(dir.path(), "bad.yml", b"title: broken\nlogsource: {product: windows}\ndetection: {sel: {EventID: 1}, condition: sel and nope}\n");
    let out = trustpath(&["validate", &dir.path().to_string_lossy()]);
    let report = text(&out.stdout);
    assert!(report.contains("bad.yml"), "{report}");
    assert!(report.contains("1 rules loaded, 1 failed"), "{report}");
    assert_eq!(
        trustpath(&["validate", "--strict", &dir.path().to_string_lossy()])
            .status
            .code(),
        Some(3)
    );
    let explain = trustpath(&["explain", "AN1350", "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&explain.stdout).expect("explain json");
    assert_eq!(doc["metadata"]["technique"], "T1199");
    assert_eq!(doc["metadata"]["steps"].as_array().map(Vec::len), Some(3));
    let list = text(&trustpath(&["list"]).stdout);
    for id in ["AN1350", "AN1052", "AN1051", "AN1347"] {
        assert!(list.contains(id));
    }
}
