//! The analyst's experience (issue 13), command by command as a new user tried it: one
//! test per numbered point of the issue. Point 2 (exports saved by Excel) is
//! `analyst_excel.rs`; points 3, 6 and 7 are also covered in depth by `output.rs`
//! (Sigma details), `trustpath-assurance/tests/html_browser.rs` (the report in Chromium)
//! and `trustpath-report/tests/ocsf_schema.rs` (OCSF 1.3 schema).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn root() -> PathBuf {
    trustpath_testkit::workspace_root()
}

fn trustpath(args: &[&str]) -> Output {
    trustpath_env(args, &[])
}

fn trustpath_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_trustpath"));
    command
        .args(args)
        .current_dir(root())
        .env_remove("NO_COLOR");
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("run trustpath")
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

fn level_rank(level: &str) -> u8 {
    match level {
        "critical" => 4,
        "high" => 3,
        "medium" => 2,
        "low" => 1,
        _ => 0,
    }
}

// 1. Mistakes pass silently.

#[test]
fn point1_a_mistyped_input_or_rule_path_is_an_error_naming_it() {
    let out = trustpath(&["hunt", "exprts/"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("exprts/"), "{stderr}");
    assert!(!stderr.contains("No findings"), "{stderr}");

    let out = trustpath(&["validate", "/nonexistent"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("/nonexistent"));

    let out = trustpath(&["hunt", "examples/", "-r", "no-such-rules/", "-q"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no-such-rules/"));

    for command in ["normalize", "coverage", "inventory"] {
        let out = trustpath(&[command, "exprts/"]);
        assert_eq!(out.status.code(), Some(1), "{command}");
        assert!(text(&out.stderr).contains("exprts/"), "{command}");
    }

    // A folder with nothing to read is not "No findings".
    let empty = tempfile::tempdir().expect("tempdir");
    std::fs::write(empty.path().join("notes.md"), "case notes").expect("write");
    let dir = empty.path().to_string_lossy().into_owned();
    let out = trustpath(&["hunt", &dir]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("notes.md"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn point1_an_unwritable_output_fails_before_the_work_naming_the_path() {
    let out = trustpath(&["hunt", "examples/", "-o", "/nonexistent/dir/x.jsonl"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("/nonexistent/dir/x.jsonl"), "{stderr}");
    // Failed before reading: no run summary.
    assert!(!stderr.contains("read 8 inputs"), "{stderr}");
}

#[test]
fn point1_running_without_the_context_one_folder_up_is_announced() {
    let out = trustpath(&["hunt", "examples/logs", "-f", "jsonl"]);
    assert_eq!(out.status.code(), Some(0));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("no context file"), "{stderr}");
    assert!(
        stderr.contains("--context examples/trustpath.toml"),
        "{stderr}"
    );
    // With the context: announced as used.
    let out = trustpath(&["hunt", "examples/", "-f", "jsonl"]);
    assert!(text(&out.stderr).contains("context examples/trustpath.toml"));
    assert!(!text(&out.stderr).contains("no context file"));
}

// 4. No filters.

#[test]
fn point4_from_to_and_min_level_filter_the_hunt() {
    let all = findings(&trustpath(&["hunt", "examples/", "-f", "jsonl", "-q"]));
    let out = trustpath(&[
        "hunt",
        "examples/",
        "-f",
        "jsonl",
        "--from",
        "2025-03-20",
        "--to",
        "2025-03-25",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let some = findings(&out);
    assert!(!some.is_empty() && some.len() < all.len(), "{}", some.len());
    for f in &some {
        for e in f["evidence"].as_array().expect("evidence") {
            let time = e["time"].as_str().expect("time");
            assert!(
                ("2025-03-20".."2025-03-26").contains(&time),
                "evidence outside the range: {time}"
            );
        }
    }
    assert!(text(&out.stderr).contains("outside --from/--to"));

    // An empty range is a mistake, said at once.
    let out = trustpath(&[
        "hunt",
        "examples/",
        "--from",
        "2025-03-25",
        "--to",
        "2025-03-20",
    ]);
    assert_eq!(out.status.code(), Some(1));

    let out = trustpath(&["hunt", "examples/", "-f", "jsonl", "--min-level", "HIGH"]);
    assert_eq!(out.status.code(), Some(0));
    let high = findings(&out);
    assert!(!high.is_empty() && high.len() < all.len());
    assert!(
        high.iter()
            .all(|f| level_rank(f["severity"]["level"].as_str().unwrap_or("")) >= 3)
    );
    let below = all.len() - high.len();
    assert!(
        text(&out.stderr).contains(&format!("below --min-level {below}")),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn point4_enum_values_are_case_insensitive() {
    let out = trustpath(&[
        "hunt",
        "examples/",
        "-f",
        "JSONL",
        "--fail-on",
        "HIGH",
        "-q",
    ]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(!findings(&out).is_empty());
    let out = trustpath(&["hunt", "examples/", "-f", "Table", "--color", "NEVER", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

/// A process-creation event in the flat JSON shape winlogbeat/Sysmon exports use.
fn process_event(i: usize) -> String {
    serde_json::json!({
        "@timestamp": format!("2025-03-10T10:{:02}:{:02}Z", (i / 60) % 60, i % 60),
        "EventID": 1,
        "Channel": "Microsoft-Windows-Sysmon/Operational",
        "Computer": format!("ws{:02}.contoso.local", i % 7),
        "Image": "C:\\Windows\\System32\\whoami.exe",
        "CommandLine": "whoami /all",
        "User": "CONTOSO\\alice",
    })
    .to_string()
}

const RULE_STABLE: &str = "title: Whoami run
id: 0b7e1d2a-5d3e-4a8e-9b1c-2f3a4b5c6d7e
status: stable
logsource:
  category: process_creation
  product: windows
detection:
  selection:
    Image|endswith: '\\whoami.exe'
  condition: selection
fields:
  - CommandLine
level: medium
";

const RULE_EXPERIMENTAL: &str = "title: Whoami all
id: 1c8f2e3b-6e4f-4b9f-8c2d-3a4b5c6d7e8f
status: experimental
logsource:
  category: process_creation
  product: windows
detection:
  selection:
    CommandLine|contains: '/all'
  condition: selection
level: low
";

fn sigma_case(events: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("rules")).expect("mkdir");
    std::fs::create_dir_all(dir.path().join("logs")).expect("mkdir");
    std::fs::write(dir.path().join("rules/stable.yml"), RULE_STABLE).expect("write");
    std::fs::write(dir.path().join("rules/experimental.yml"), RULE_EXPERIMENTAL).expect("write");
    let lines: Vec<String> = (0..events).map(process_event).collect();
    std::fs::write(dir.path().join("logs/sysmon.jsonl"), lines.join("\n")).expect("write");
    dir
}

fn path(dir: &Path, sub: &str) -> String {
    dir.join(sub).to_string_lossy().into_owned()
}

#[test]
fn point4_status_keeps_only_rules_of_those_statuses() {
    let case = sigma_case(10);
    let (rules, logs) = (path(case.path(), "rules"), path(case.path(), "logs"));
    let out = trustpath(&["hunt", "--no-builtin", "-r", &rules, &logs, "-f", "jsonl"]);
    let titles: std::collections::BTreeSet<String> = findings(&out)
        .iter()
        .map(|f| f["rule"]["title"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(titles.len(), 2, "{titles:?}");
    let out = trustpath(&[
        "hunt",
        "--no-builtin",
        "-r",
        &rules,
        &logs,
        "-f",
        "jsonl",
        "--status",
        "Stable,test",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let found = findings(&out);
    assert_eq!(found.len(), 10);
    assert!(found.iter().all(|f| f["rule"]["title"] == "Whoami run"));
    assert!(text(&out.stderr).contains("1 of your rules left out by --status"));
}

#[test]
fn point4_timezone_shows_times_in_the_zone_in_table_and_csv() {
    let out = trustpath(&[
        "hunt",
        "examples/",
        "-f",
        "table",
        "--timezone",
        "Europe/Berlin",
        "-q",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("When (Europe/Berlin)"));
    let out = trustpath(&[
        "hunt",
        "examples/",
        "-f",
        "csv",
        "--timezone",
        "Europe/Berlin",
        "-q",
    ]);
    let csv = text(&out.stdout);
    // March 2025 before the 30th: CET, UTC+1; from the 30th CEST, UTC+2.
    assert!(
        csv.lines()
            .skip(1)
            .all(|l| l.contains("+01:00,") || l.contains("+02:00,")),
        "{csv}"
    );
    let out = trustpath(&["hunt", "examples/", "--timezone", "Mars/Base"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("Mars/Base"));
}

// 5. The terminal table does not scale.

#[test]
fn point5_color_follows_the_flag_and_no_color() {
    let ansi = |out: &Output| text(&out.stdout).contains("\u{1b}[");
    let out = trustpath(&[
        "hunt",
        "examples/",
        "-f",
        "table",
        "-q",
        "--color",
        "always",
    ]);
    assert!(ansi(&out));
    let out = trustpath(&["hunt", "examples/", "-f", "table", "-q", "--color", "never"]);
    assert!(!ansi(&out));
    // auto: not a terminal here, so no colour, NO_COLOR or not.
    let out = trustpath_env(
        &["hunt", "examples/", "-f", "table", "-q"],
        &[("NO_COLOR", "1")],
    );
    assert!(!ansi(&out));
}

#[test]
fn point5_thousands_of_sigma_findings_give_a_summary_not_a_wall() {
    let case = sigma_case(3000);
    let (rules, logs) = (path(case.path(), "rules"), path(case.path(), "logs"));
    let out = trustpath(&[
        "hunt",
        "--no-builtin",
        "-r",
        &rules,
        &logs,
        "-f",
        "table",
        "-q",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(table.contains("6000 findings: a summary first"), "{table}");
    // By rule and by host, then the worst findings: bounded, not 6,000 rows.
    assert!(
        table.contains("By rule") && table.contains("By host"),
        "{table}"
    );
    assert!(table.contains("ws03.contoso.local"), "{table}");
    assert!(
        table.lines().count() < 1200,
        "{} lines",
        table.lines().count()
    );
    assert!(table.lines().all(|l| l.chars().count() <= 100));
}

// 8. Papercuts.

/// Run with stdout piped, read one line, close the pipe (like `| head -1`), and wait.
fn closed_early(args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_trustpath"))
        .args(args)
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut first = String::new();
    BufReader::new(stdout)
        .read_line(&mut first)
        .expect("a line");
    // The reader is dropped here: the pipe is closed.
    let out = child.wait_with_output().expect("wait");
    (out.status.code(), text(&out.stderr))
}

#[test]
fn point8_a_closed_pipe_is_a_normal_end() {
    for args in [
        &["normalize", "examples/"][..],
        &["hunt", "examples/", "-f", "jsonl"][..],
        &["hunt", "examples/", "-f", "table"][..],
    ] {
        let (code, stderr) = closed_early(args);
        assert_eq!(code, Some(0), "{args:?}: {stderr}");
        assert!(
            !stderr.to_lowercase().contains("broken pipe"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn point8_every_tunable_explain_names_is_accepted_by_the_context_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    for id in ["AN1350", "AN1052", "AN1051", "AN1347"] {
        let out = trustpath(&["explain", id, "--json"]);
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        let mut toml = format!("[analytics.{id}]\n");
        for t in doc["metadata"]["tunables"].as_array().expect("tunables") {
            let key = t["key"].as_str().or(t["name"].as_str()).expect("key");
            // The text explain prints names this key.
            assert!(text(&trustpath(&["explain", id]).stdout).contains(key));
            toml.push_str(&format!("{key} = {}\n", t["default"]));
        }
        let context = dir.path().join(format!("{id}.toml"));
        std::fs::write(&context, &toml).expect("write");
        let ctx = context.to_string_lossy().into_owned();
        let out = trustpath(&["hunt", "examples/logs", "-c", &ctx, "-f", "jsonl", "-q"]);
        assert_eq!(out.status.code(), Some(0), "{toml}\n{}", text(&out.stderr));
    }
}

#[test]
fn point8_durations_read_as_people_write_them() {
    let out = trustpath(&["coverage", "examples/", "--gap", "1 hour"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("gap threshold 1h"));
    let dir = tempfile::tempdir().expect("tempdir");
    let context = dir.path().join("trustpath.toml");
    std::fs::write(&context, "[analytics.AN1350]\nwindow = \"2 days\"\n").expect("write");
    let ctx = context.to_string_lossy().into_owned();
    let out = trustpath(&["hunt", "examples/logs", "-c", &ctx, "-f", "jsonl", "-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let out = trustpath(&["coverage", "examples/", "--gap", "1 month"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("1 month"));
}

#[test]
fn point8_simulate_says_when_a_format_cannot_apply() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_dir = dir.path().to_string_lossy().into_owned();
    let out = trustpath(&[
        "simulate",
        "AN1052",
        "-f",
        "graph-signin-json",
        "-o",
        &out_dir,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("graph-signin-json") && stderr.contains("purview-csv"),
        "{stderr}"
    );
    let out = trustpath(&["simulate", "AN1052", "-f", "PURVIEW-CSV", "-o", &out_dir]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn point8_serve_explains_an_unreachable_nats_and_logs_without_colour() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A port nothing listens on: bind, read the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let config = dir.path().join("serve.toml");
    std::fs::write(
        &config,
        format!(
            "nats_url = \"nats://127.0.0.1:{port}\"\nstore = \"{}\"\n\n[partitions]\ntotal = 1\nowned = [0]\n",
            dir.path().join("state.redb").display()
        ),
    )
    .expect("write");
    let cfg = config.to_string_lossy().into_owned();
    let out = trustpath(&["serve", "--config", &cfg]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("no NATS server answered"), "{stderr}");
    assert!(stderr.contains(&format!("127.0.0.1:{port}")), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "ANSI codes in a redirected log: {stderr}"
    );
}

// 3, 6, 7 as the user ran them (in depth: output.rs, html_browser.rs, ocsf_schema.rs).

#[test]
fn point3_a_sigma_hit_shows_the_values_that_matched() {
    let case = sigma_case(1);
    let (rules, logs) = (path(case.path(), "rules"), path(case.path(), "logs"));
    let out = trustpath(&[
        "hunt",
        "--no-builtin",
        "-r",
        &rules,
        &logs,
        "-f",
        "table",
        "-q",
    ]);
    let table = text(&out.stdout);
    assert!(table.contains("whoami.exe"), "{table}");
    assert!(table.contains("CommandLine"), "the rule's fields: {table}");
}

#[test]
fn point6_thousands_of_findings_make_a_paged_report_worst_first() {
    let case = sigma_case(3000);
    let (rules, logs) = (path(case.path(), "rules"), path(case.path(), "logs"));
    let out = trustpath(&[
        "hunt",
        "--no-builtin",
        "-r",
        &rules,
        &logs,
        "-f",
        "html",
        "-q",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let page = text(&out.stdout);
    assert!(page.contains("all 6000 are listed below"), "paged list");
    // Full cards only for the most serious ones: the page stays a few MB.
    assert!(page.len() < 8_000_000, "{} bytes", page.len());
    let first = page
        .split("<details class=\"finding\" data-level=\"")
        .nth(1)
        .unwrap_or_default();
    assert!(first.starts_with("medium\""), "the worst level first");
    assert!(page.contains("Findings over the period"));
    assert!(page.contains("Events per source per day"));
}

#[test]
fn point7_ocsf_names_sub_techniques_and_puts_rollback_in_remediation() {
    let out = trustpath(&["hunt", "examples/", "-f", "ocsf", "-q"]);
    assert_eq!(out.status.code(), Some(0));
    let mut sub_techniques = 0;
    for line in text(&out.stdout).lines() {
        let o: serde_json::Value = serde_json::from_str(line).expect("json");
        for attack in o["finding_info"]["attacks"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let technique = attack["technique"]["uid"].as_str().unwrap_or("");
            assert!(
                !technique.contains('.'),
                "a sub-technique as technique: {attack}"
            );
            if attack["sub_technique"]["uid"] == "T1098.002" {
                assert_eq!(technique, "T1098");
                sub_techniques += 1;
            }
        }
        for command in o["unmapped"]["rollback"].as_array().into_iter().flatten() {
            let desc = o["remediation"]["desc"].as_str().unwrap_or("");
            assert!(
                desc.contains(command.as_str().unwrap_or("?")),
                "rollback belongs in remediation: {o}"
            );
        }
    }
    assert!(sub_techniques > 0, "AN1051/AN1052 findings carry T1098.002");
}
