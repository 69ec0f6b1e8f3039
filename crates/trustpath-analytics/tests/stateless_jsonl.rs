//! `Detector::stateless_jsonl` writes the lines `encode_jsonl` makes of
//! `Detector::stateless_findings`, byte for byte, without building the findings. The hunt
//! streams Sigma findings through it, so these tests hold the two paths to one output:
//! over the bundled example logs (UAL JSON, Purview CSV, Entra, Winlogbeat, evtx_dump)
//! and over flat Windows events whose values need escaping, with rules that have
//! `fields:`, ATT&CK tags, several selections, no level and an unknown level.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use trustpath_analytics::{Detector, DetectorOptions, Matched};
use trustpath_event::Event;
use trustpath_pipeline::{ScanConfig, scan};
use trustpath_report::{Encoder, FindingKind};

const RULES: &[(&str, &str)] = &[
    (
        "mailbox-ops.yml",
        r#"title: 'Mailbox operation "quoted" — ünïcode'
id: 0f6c3a52-7a4e-4f51-9b0e-0d7c1f5e2a01
status: test
level: high
tags:
    - attack.persistence
    - attack.t1098.002
logsource:
    product: m365
    service: audit
detection:
    selection:
        Operation|contains: 'Mailbox'
    condition: selection
fields:
    - UserId
    - ClientIP
    - Operation
"#,
    ),
    (
        "any-audit.yml",
        r#"title: Any audit record with a user
id: 0f6c3a52-7a4e-4f51-9b0e-0d7c1f5e2a02
status: test
logsource:
    product: m365
    service: audit
detection:
    selection:
        UserId|contains: '@'
    filter:
        Operation: 'NoSuchOperation'
    condition: selection and not filter
"#,
    ),
    (
        "windows-any.yml",
        r#"title: Windows event of a known id
id: 0f6c3a52-7a4e-4f51-9b0e-0d7c1f5e2a03
status: test
level: Weird
logsource:
    product: windows
detection:
    by_id:
        EventID:
            - 1
            - 4104
            - 4624
            - 4688
    condition: by_id
fields:
    - CommandLine
    - Image
"#,
    ),
    (
        "process-cmd.yml",
        r#"title: Process with a command line
id: 0f6c3a52-7a4e-4f51-9b0e-0d7c1f5e2a04
status: test
level: low
tags:
    - attack.execution
    - attack.t1059.001
logsource:
    category: process_creation
    product: windows
detection:
    img:
        Image|endswith: '.exe'
    cmd:
        CommandLine|contains:
            - ' '
            - '"'
            - '\'
    condition: img and cmd
"#,
    ),
    (
        "process-cmd-twice.yml",
        r#"title: Registry tool whose command line is read by two selections
id: 0f6c3a52-7a4e-4f51-9b0e-0d7c1f5e2a06
status: test
level: high
logsource:
    category: process_creation
    product: windows
detection:
    tool:
        CommandLine|contains: 'reg'
    action:
        CommandLine|contains: ' add '
    image:
        Image|endswith: 'reg.exe'
    also_tool:
        CommandLine|contains: 'exe'
    condition: tool and action and image and also_tool
"#,
    ),
    (
        "entra-signin.yml",
        r#"title: Entra sign-in or directory change
id: 0f6c3a52-7a4e-4f51-9b0e-0d7c1f5e2a05
status: test
level: medium
logsource:
    product: entra
detection:
    keywords:
        - 'a'
    condition: keywords
"#,
    ),
];

/// Flat Sysmon process-creation events (SigmaHQ's regression-data shape) whose values
/// need JSON escaping: quotes, backslashes, control characters, non-ASCII, and one
/// longer than an explanation keeps.
fn windows_events(dir: &Path) -> PathBuf {
    let long = "A".repeat(700);
    let command_lines = [
        r#""C:\WINDOWS\system32\reg.exe" add "HKCU\Software\Microsoft" /v X /d 0 /f"#.to_owned(),
        "powershell.exe -c \"Write-Host `a\u{7}bell\ttab\"".to_owned(),
        "cmd.exe /c echo ünïcode ✓ \u{1b}[31mred\u{1b}[0m & whoami".to_owned(),
        format!("notepad.exe {long}"),
        "C:\\x.exe \u{2028}line\u{2029}para <script>".to_owned(),
    ];
    let mut text = String::new();
    for (i, command_line) in command_lines.iter().enumerate() {
        let event = serde_json::json!({
            "EventID": 1,
            "UtcTime": format!("2025-12-25 14:30:2{i}.352"),
            "ProcessGuid": format!("0197231E-4A83-694D-9E0E-00000000080{i}"),
            "ProcessId": 14144 + i,
            "Image": "C:\\Windows\\System32\\reg.exe",
            "CommandLine": command_line,
            "User": "CONTOSO\\jdoe",
            "Computer": "ws-hr-03.contoso.com",
            "Channel": "Microsoft-Windows-Sysmon/Operational",
            "Provider_Name": "Microsoft-Windows-Sysmon",
            "EventRecordID": 100 + i,
        });
        text.push_str(&event.to_string());
        text.push('\n');
    }
    let path = dir.join("sysmon-flat.jsonl");
    std::fs::write(&path, text).unwrap();
    path
}

fn detector(rules: &Path) -> Detector {
    let (detector, problems) = Detector::build(DetectorOptions {
        builtin: false,
        rule_paths: vec![rules.to_path_buf()],
        ..DetectorOptions::default()
    });
    assert!(problems.rules.is_empty(), "{:?}", problems.rules);
    detector
}

fn matches(detector: &Detector, input: &Path) -> Vec<Matched> {
    let (inputs, errors) = trustpath_read::expand_inputs(&[input.to_path_buf()]);
    assert!(errors.is_empty(), "{errors:?}");
    let result = scan(&inputs, &ScanConfig::default(), |event: &Arc<Event>| {
        detector.match_shared(Arc::clone(event))
    });
    let (matched, _): (Vec<Matched>, Vec<()>) = result.into_parts();
    matched
}

/// Every match's stateless findings both ways; returns how many findings were compared,
/// how many carried `fields` and `matched`, and how many repeated a matched value (the
/// fast path copies a value equal to the one before it).
fn compare(detector: &Detector, matched: &[Matched]) -> (usize, usize, usize, usize) {
    let (mut compared, mut with_fields, mut with_matched, mut repeated) = (0, 0, 0, 0);
    for m in matched {
        let findings = detector.stateless_findings(m);
        let mut slow = Vec::new();
        let mut slow_ends = Vec::new();
        for finding in &findings {
            // The hunt's jsonl path takes these as given for the lines' counts.
            assert!(finding.authorized.is_none() && finding.kind == FindingKind::Alert);
            Encoder::Jsonl.encode(finding, &mut slow).unwrap();
            slow_ends.push((finding.severity.level, slow.len()));
            with_fields += usize::from(!finding.fields.is_empty());
            with_matched += usize::from(!finding.matched.is_empty());
            repeated += usize::from(
                finding
                    .matched
                    .windows(2)
                    .any(|pair| pair[0].value == pair[1].value),
            );
        }
        let (mut fast, mut fast_ends) = (Vec::new(), Vec::new());
        detector
            .stateless_jsonl(m, &mut fast, &mut fast_ends)
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&fast),
            String::from_utf8_lossy(&slow),
            "event at {}",
            m.event.origin
        );
        assert_eq!(fast_ends, slow_ends);
        compared += findings.len();
    }
    (compared, with_fields, with_matched, repeated)
}

fn rules_dir(dir: &Path) -> PathBuf {
    let rules = dir.join("rules");
    std::fs::create_dir_all(&rules).unwrap();
    for (name, text) in RULES {
        std::fs::write(rules.join(name), text).unwrap();
    }
    rules
}

#[test]
fn the_example_logs_give_the_same_lines_both_ways() {
    let tmp = tempfile::tempdir().unwrap();
    let detector = detector(&rules_dir(tmp.path()));
    let examples = trustpath_testkit::workspace_root().join("examples/logs");
    let matched = matches(&detector, &examples);
    let (compared, with_fields, with_matched, _) = compare(&detector, &matched);
    // Not vacuous: the rules match audit, Windows and Entra records of the examples.
    assert!(compared >= 50, "only {compared} findings compared");
    assert!(with_fields > 0 && with_matched > 0);
}

#[test]
fn values_that_need_escaping_give_the_same_lines_both_ways() {
    let tmp = tempfile::tempdir().unwrap();
    let detector = detector(&rules_dir(tmp.path()));
    let events = windows_events(tmp.path());
    let matched = matches(&detector, &events);
    assert_eq!(matched.len(), 5, "every event matches");
    let (compared, with_fields, with_matched, repeated) = compare(&detector, &matched);
    assert_eq!(
        compared, 11,
        "two rules per event, three on the `reg add` one"
    );
    assert!(with_fields == 5 && with_matched == 11);
    assert_eq!(repeated, 1, "the command line read by three selections");
}
