//! Sigma detection semantics, one test per modifier and condition form, with the edge
//! cases of the specification.

#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use trustpath_event::{Event, Format, Origin, SourceKind};
use trustpath_sigma::{LoadErrorKind, LoadOptions, RuleSet};

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

/// A windows rule (no channel filter) with the given detection body.
fn rule(detection: &str) -> RuleSet {
    let yaml = format!(
        "title: t\nid: r1\nlogsource:\n  product: windows\ndetection:\n{}\n",
        indent(detection)
    );
    let (set, errors) = RuleSet::from_str("test.yml", &yaml, &LoadOptions::default());
    assert!(errors.is_empty(), "{errors:?}");
    set
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

fn hits(set: &RuleSet, fields: Value) -> bool {
    let mut out = Vec::new();
    set.compile().matches(&event(fields), &mut out);
    !out.is_empty()
}

fn load_error(detection: &str) -> (LoadErrorKind, String) {
    let yaml = format!(
        "title: t\nlogsource:\n  product: windows\ndetection:\n{}\n",
        indent(detection)
    );
    let (set, errors) = RuleSet::from_str("bad.yml", &yaml, &LoadOptions::default());
    assert!(set.rules.is_empty());
    assert_eq!(errors.len(), 1, "{errors:?}");
    (errors[0].kind, errors[0].reason.clone())
}

#[test]
fn field_maps_are_and_lists_are_or() {
    let r = rule("sel:\n  Image: 'C:\\x.exe'\n  User: [alice, bob]\ncondition: sel");
    assert!(hits(&r, json!({"Image": "c:\\X.EXE", "User": "BOB"})));
    assert!(!hits(&r, json!({"Image": "c:\\x.exe", "User": "carol"})));
    assert!(!hits(&r, json!({"User": "alice"})));
}

#[test]
fn list_of_maps_is_or() {
    let r = rule("sel:\n  - A: 1\n  - B: 2\ncondition: sel");
    assert!(hits(&r, json!({"B": 2})));
    assert!(!hits(&r, json!({"A": 2, "B": 1})));
}

#[test]
fn numbers_match_numbers_and_numeric_strings() {
    let r = rule("sel:\n  EventID: 4688\ncondition: sel");
    assert!(hits(&r, json!({"EventID": 4688})));
    assert!(hits(&r, json!({"EventID": "4688"})));
    assert!(!hits(&r, json!({"EventID": 46880})));
    let r = rule("sel:\n  EventID: '4688'\ncondition: sel");
    assert!(hits(&r, json!({"EventID": 4688})));
}

#[test]
fn wildcards_and_escapes() {
    let r = rule("sel:\n  F: 'a*b?c'\ncondition: sel");
    assert!(hits(&r, json!({"F": "aXXbYc"})));
    assert!(hits(&r, json!({"F": "abzc"})));
    assert!(!hits(&r, json!({"F": "abc"})));
    let r = rule("sel:\n  F: 'a\\*b\\?c'\ncondition: sel");
    assert!(hits(&r, json!({"F": "a*b?c"})));
    assert!(!hits(&r, json!({"F": "aXbYc"})));
    let r = rule("sel:\n  F: 'C:\\\\Windows\\\\*'\ncondition: sel");
    assert!(hits(&r, json!({"F": "c:\\windows\\system32"})));
    let r = rule("sel:\n  F|endswith: '\\x\\\\'\ncondition: sel");
    assert!(hits(&r, json!({"F": "a\\x\\"})));
    let r = rule("sel:\n  F: '*'\ncondition: sel");
    assert!(hits(&r, json!({"F": ""})));
    assert!(!hits(&r, json!({"G": "x"})));
}

#[test]
fn wildcard_patterns_gated_by_their_longest_literal() {
    // `*rundll32*,#*` runs its regex only on values containing "rundll32": the gate
    // must never hide a match (case, escapes, `?`, several values, `all`, `not`).
    let r = rule("sel:\n  F|contains: 'RunDll32*,#'\ncondition: sel");
    assert!(hits(&r, json!({"F": "C:\\x\\RUNDLL32.exe a.dll,#1"})));
    assert!(hits(&r, json!({"F": ["other", "rundll32 x,#2"]})));
    assert!(!hits(&r, json!({"F": "rundll32.exe a.dll,Entry"})));
    assert!(
        !hits(&r, json!({"F": ["rundll32.exe", ",#1"]})),
        "one value must match"
    );
    let r = rule("sel:\n  F: 'a\\*bcd?e*'\ncondition: sel");
    assert!(hits(&r, json!({"F": "A*BCDxEfg"})));
    assert!(!hits(&r, json!({"F": "aXbcdxe"})));
    let r = rule("sel:\n  F|contains|all:\n    - 'abc*def'\n    - 'xyz'\ncondition: sel");
    assert!(hits(&r, json!({"F": "ABC--DEF xyz"})));
    assert!(!hits(&r, json!({"F": "ABC--DEF"})));
    let r = rule("sel:\n  F|contains: 'evil*.ps1'\ncondition: not sel");
    assert!(hits(&r, json!({"F": "good.ps1"})));
    assert!(!hits(&r, json!({"F": "EVIL-x.PS1"})));
    let r = rule("sel:\n  F|contains|cased: 'Evil*.ps1'\ncondition: sel");
    assert!(hits(&r, json!({"F": "Evil-x.ps1"})) && !hits(&r, json!({"F": "evil-x.ps1"})));
}

#[test]
fn regexes_gated_by_their_prefix_literals() {
    // `ipconfig\s+/all` runs only on values containing "ipconfig" (any case): the gate
    // must never hide a match of the expression as the regex engine decides it.
    let r = rule("sel:\n  F|re: 'ipconfig\\s+/all'\ncondition: sel");
    assert!(hits(&r, json!({"F": "cmd /c ipconfig   /all"})));
    assert!(
        !hits(&r, json!({"F": "cmd /c IPCONFIG /all"})),
        "re is case-sensitive"
    );
    assert!(!hits(&r, json!({"F": "ipconfig"})));
    let r = rule("sel:\n  F|re|i: 'ipconfig\\s+/all'\ncondition: sel");
    assert!(hits(&r, json!({"F": "IPConfig /ALL"})));
    let r = rule("sel:\n  F|re: '(?i)(?:netsh|route)\\s+print'\ncondition: sel");
    assert!(hits(&r, json!({"F": "ROUTE  Print"})) && hits(&r, json!({"F": "netsh print"})));
    assert!(!hits(&r, json!({"F": "arp print"})));
    // `(?i)k` also matches the Kelvin sign; `(?i)s` the long s.
    let r = rule("sel:\n  F|re|i: 'kerberos'\ncondition: sel");
    assert!(hits(&r, json!({"F": "\u{212A}erberos ticket"})));
    let r = rule("sel:\n  F|re|i: 'session'\ncondition: sel");
    assert!(hits(&r, json!({"F": "\u{17F}ession"})));
    let r = rule("sel:\n  F|re: 'Δράση\\d+'\ncondition: sel");
    assert!(hits(&r, json!({"F": "x Δράση42"})) && !hits(&r, json!({"F": "x δράση42"})));
    let r = rule("sel:\n  F|re: '[a-z]+\\.exe$'\ncondition: not sel");
    assert!(!hits(&r, json!({"F": "c:\\evil.exe"})) && hits(&r, json!({"F": "c:\\EVIL.EXE"})));
}

#[test]
fn regexes_gated_by_a_literal_they_require_anywhere() {
    // SigmaHQ's WSASS rule: its prefix `.exe` is in most command lines, the literal it
    // requires further on (`ecure.exe`) in few; the gate is the latter, and must never
    // hide a match, in any case or with the letters `(?i)` also matches outside ASCII.
    let r = rule(
        "sel:\n  F|re: '(?i)\\.exe[\"]?\\s+[^\"]{0,64}werfaultsecure\\.exe[\"]?\\s+\\d{2,10}'\ncondition: sel",
    );
    assert!(hits(
        &r,
        json!({"F": "wsass.exe C:\\x\\WerFaultSecure.exe 612"})
    ));
    assert!(hits(
        &r,
        json!({"F": "WSASS.EXE C:\\W\\WERFAULTSECURE.EXE\" 612"})
    ));
    assert!(hits(&r, json!({"F": "w.exe werfault\u{17F}ecure.exe 612"})));
    assert!(!hits(&r, json!({"F": "w.exe werfaultsecure.exe x"})));
    assert!(!hits(&r, json!({"F": "notepad.exe C:\\a.txt 612"})));
    // Invoke-Obfuscation via stdin: `set` and `invoke` hold `(?i)s` and `(?i)k`; the
    // gate is a branch literal of the alternation that has neither.
    let r = rule(
        "sel:\n  F|re: '(?i)(?:set).*&&\\s?set.*(?:environment|invoke|\\$\\{?input).*&&.*\"'\ncondition: sel",
    );
    assert!(hits(
        &r,
        json!({"F": "cmd /c set x=1&&set y=2 invoke&&echo \"a\""})
    ));
    assert!(hits(
        &r,
        json!({"F": "CMD /C SET X&& SET INVO\u{212A}E&&\""})
    ));
    assert!(hits(
        &r,
        json!({"F": "cmd /c \u{17F}et a&&set ${input}&&\""})
    ));
    assert!(hits(&r, json!({"F": "cmd /c set a&&set EnViRoNmEnT&&\""})));
    assert!(!hits(&r, json!({"F": "cmd /c set a&&set b&&\""})));
    // A branch with no literal leaves the alternation without one: the literal after it
    // is the gate.
    let r = rule("sel:\n  F|re: '(?:\\d+|foo)barbaz'\ncondition: sel");
    assert!(hits(&r, json!({"F": "x12barbaz"})) && hits(&r, json!({"F": "foobarbaz"})));
    assert!(!hits(&r, json!({"F": "foobar baz"})));
}

#[test]
fn null_empty_and_missing() {
    let r = rule("sel:\n  F: null\ncondition: sel");
    assert!(hits(&r, json!({"G": 1})), "missing is null");
    assert!(hits(&r, json!({"F": null})), "JSON null is null");
    assert!(!hits(&r, json!({"F": ""})), "empty string is not null");
    let r = rule("sel:\n  F: ''\ncondition: sel");
    assert!(hits(&r, json!({"F": ""})));
    assert!(!hits(&r, json!({"G": 1})));
    assert!(!hits(&r, json!({"F": null})));
    let r = rule("sel:\n  F: null\ncondition: not sel");
    assert!(hits(&r, json!({"F": "x"})));
}

#[test]
fn contains_startswith_endswith_all() {
    let r = rule("sel:\n  F|contains: Mimi\ncondition: sel");
    assert!(hits(&r, json!({"F": "x mimikatz y"})));
    let r = rule("sel:\n  F|startswith: ab\ncondition: sel");
    assert!(hits(&r, json!({"F": "ABc"})) && !hits(&r, json!({"F": "cab"})));
    let r = rule("sel:\n  F|endswith: ab\ncondition: sel");
    assert!(hits(&r, json!({"F": "cAB"})) && !hits(&r, json!({"F": "abc"})));
    let r = rule("sel:\n  F|contains|all: [a1, b2, c3]\ncondition: sel");
    assert!(hits(&r, json!({"F": "c3 b2 a1"})));
    assert!(!hits(&r, json!({"F": "a1 b2"})));
    let r = rule("sel:\n  F|contains|all: only\ncondition: sel");
    assert!(hits(&r, json!({"F": "the only one"})));
    assert!(!hits(&r, json!({"F": "none"})));
    let r = rule("sel:\n  F|contains: [one, two, three]\ncondition: sel");
    assert!(hits(&r, json!({"F": "xxTWOxx"})) && !hits(&r, json!({"F": "four"})));
}

#[test]
fn empty_and_overlapping_needles_in_one_table() {
    // The empty string starts, ends and is contained in every value, and equals only
    // the empty value; it shares the field's table with other needles.
    for (modifier, empty_hits, text_hits) in [
        ("", true, false),
        ("|startswith", true, true),
        ("|endswith", true, true),
        ("|contains", true, true),
    ] {
        let r = rule(&format!(
            "sel:\n  F{modifier}: ''\nother:\n  F|contains: zz\ncondition: sel or other"
        ));
        assert_eq!(hits(&r, json!({"F": ""})), empty_hits, "{modifier} on ''");
        assert_eq!(
            hits(&r, json!({"F": "abc"})),
            text_hits,
            "{modifier} on abc"
        );
    }
    // Needles that overlap, nest and repeat in a value are each found, at each place
    // their position needs.
    let r = rule(
        "a:\n  F|contains|all: [aba, bab, abab]\nb:\n  F|endswith: ba\n\
         c:\n  F|startswith: ab\ncondition: a and b and c",
    );
    assert!(hits(&r, json!({"F": "ababa"})));
    assert!(!hits(&r, json!({"F": "abab"})), "does not end with ba");
    assert!(!hits(&r, json!({"F": "babab"})), "does not start with ab");
}

#[test]
fn anchored_needles_ending_another_needle_hold_only_where_anchored() {
    // SigmaHQ has both `ShareName: 'Admin$'` and `ShareName: '\\*\ADMIN$'`: one
    // needle ends another, and an automaton state that ends the longer one also
    // reports the shorter one. Where a needle was found decides equality, `startswith`
    // and `endswith`, never that it was found.
    let r = rule("long:\n  F: 'x\\admin$'\nshort:\n  F: 'Admin$'\ncondition: short");
    assert!(hits(&r, json!({"F": "ADMIN$"})));
    assert!(!hits(&r, json!({"F": "x\\ADMIN$"})));
    let r = rule("long:\n  F|startswith: 'zzab'\nshort:\n  F|startswith: 'ab'\ncondition: short");
    assert!(hits(&r, json!({"F": "abc"})));
    assert!(!hits(&r, json!({"F": "zzabc"})));
    let r = rule("long:\n  F|endswith: 'abzz'\nshort:\n  F|endswith: 'zz'\ncondition: short");
    assert!(hits(&r, json!({"F": "xzz"})));
    let r = rule("long:\n  F|endswith: 'zzab'\nshort:\n  F|endswith: 'zz'\ncondition: short");
    assert!(!hits(&r, json!({"F": "xzzab"})));
    assert!(hits(&r, json!({"F": "xzzabzz"})));
}

#[test]
fn literal_tests_fold_case_whatever_the_value() {
    // The shared literal tables scan a lower-cased value: upper, mixed and lower ASCII,
    // non-ASCII text, and positions (equals, starts, ends) on each.
    let r = rule(
        "eq:\n  F: 'Cmd.EXE'\nst:\n  F|startswith: 'Run'\nen:\n  F|endswith: '\\Ünï.Exe'\n\
         co:\n  F|contains: 'MiMi'\ncondition: 1 of them",
    );
    for hit in [
        "CMD.EXE",
        "cmd.exe",
        "RUNDLL32 x",
        "rundll32",
        "c:\\ÜNÏ.EXE",
        "c:\\ünï.exe",
        "xxmimikatz",
        "Ä MIMIKATZ",
    ] {
        assert!(hits(&r, json!({ "F": hit })), "{hit}");
    }
    for miss in ["cmd.exe ", "xrun", "c:\\uni.exe", "ÜNÏ.EXE x", "mim ikatz"] {
        assert!(!hits(&r, json!({ "F": miss })), "{miss}");
    }
}

#[test]
fn cased_is_case_sensitive() {
    let r = rule("sel:\n  F|contains|cased: Abc\ncondition: sel");
    assert!(hits(&r, json!({"F": "xAbcx"})));
    assert!(!hits(&r, json!({"F": "xabcx"})));
}

#[test]
fn base64_and_base64offset() {
    let r = rule("sel:\n  F|base64: 'hello'\ncondition: sel");
    assert!(hits(&r, json!({"F": "aGVsbG8="})));
    let r = rule("sel:\n  F|base64offset|contains: 'http://'\ncondition: sel");
    use base64::Engine;
    for prefix in ["", "a", "ab"] {
        let encoded = base64::engine::general_purpose::STANDARD
            .encode(format!("{prefix}http://evil.example"));
        assert!(hits(&r, json!({"F": encoded})), "offset {}", prefix.len());
    }
    assert!(!hits(&r, json!({"F": "aGVsbG8gd29ybGQ="})));
}

#[test]
fn utf16_variants_then_base64() {
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let le: Vec<u8> = "ab".encode_utf16().flat_map(u16::to_le_bytes).collect();
    let be: Vec<u8> = "ab".encode_utf16().flat_map(u16::to_be_bytes).collect();
    let r = rule("sel:\n  F|wide|base64: ab\ncondition: sel");
    assert!(hits(&r, json!({"F": b64(&le)})));
    let r = rule("sel:\n  F|utf16le|base64: ab\ncondition: sel");
    assert!(hits(&r, json!({"F": b64(&le)})));
    let r = rule("sel:\n  F|utf16be|base64: ab\ncondition: sel");
    assert!(hits(&r, json!({"F": b64(&be)})));
    let mut bom = vec![0xFF, 0xFE];
    bom.extend(&le);
    let r = rule("sel:\n  F|utf16|base64: ab\ncondition: sel");
    assert!(hits(&r, json!({"F": b64(&bom)})));
}

#[test]
fn windash_variants() {
    let r = rule("sel:\n  CommandLine|windash|contains: ' -exec bypass'\ncondition: sel");
    for dash in ["-", "/", "\u{2013}", "\u{2014}", "\u{2015}"] {
        assert!(
            hits(
                &r,
                json!({"CommandLine": format!("powershell {dash}exec bypass")})
            ),
            "{dash}"
        );
    }
    assert!(!hits(&r, json!({"CommandLine": "powershell +exec bypass"})));
}

#[test]
fn regex_with_flags() {
    let r = rule("sel:\n  F|re: 'ab+c'\ncondition: sel");
    assert!(hits(&r, json!({"F": "xxabbbcxx"})), "regex searches");
    assert!(!hits(&r, json!({"F": "ABC"})), "regex is case-sensitive");
    let r = rule("sel:\n  F|re|i: 'ab+c'\ncondition: sel");
    assert!(hits(&r, json!({"F": "ABC"})));
    let r = rule("sel:\n  F|re|m: '^b$'\ncondition: sel");
    assert!(hits(&r, json!({"F": "a\nb\nc"})));
    let r = rule("sel:\n  F|re|s: 'a.b'\ncondition: sel");
    assert!(hits(&r, json!({"F": "a\nb"})));
    let r = rule("sel:\n  F|re: 'a.b'\ncondition: sel");
    assert!(!hits(&r, json!({"F": "a\nb"})));
}

#[test]
fn cidr_v4_and_v6() {
    let r = rule("sel:\n  Ip|cidr: ['10.0.0.0/8', '2001:db8::/32']\ncondition: sel");
    assert!(hits(&r, json!({"Ip": "10.1.2.3"})));
    assert!(hits(&r, json!({"Ip": "2001:db8::1"})));
    assert!(!hits(&r, json!({"Ip": "11.0.0.1"})));
    assert!(!hits(&r, json!({"Ip": "not an ip"})));
}

#[test]
fn exists() {
    let r = rule("sel:\n  F|exists: true\ncondition: sel");
    assert!(hits(&r, json!({"F": ""})) && hits(&r, json!({"F": null})));
    assert!(!hits(&r, json!({"G": 1})));
    let r = rule("sel:\n  F|exists: false\ncondition: sel");
    assert!(hits(&r, json!({"G": 1})) && !hits(&r, json!({"F": 1})));
}

#[test]
fn fieldref() {
    let r = rule("sel:\n  A|fieldref: B\ncondition: sel");
    assert!(hits(&r, json!({"A": "Same", "B": "same"})));
    assert!(!hits(&r, json!({"A": "x", "B": "y"})));
    assert!(!hits(&r, json!({"A": "x"})));
    let r = rule("sel:\n  A|fieldref|startswith: B\ncondition: sel");
    assert!(hits(&r, json!({"A": "prefix-rest", "B": "prefix"})));
}

#[test]
fn numeric_comparisons_accept_string_numbers() {
    let r = rule("sel:\n  N|gt: 10\ncondition: sel");
    assert!(hits(&r, json!({"N": 11})) && hits(&r, json!({"N": "11"})));
    assert!(!hits(&r, json!({"N": 10})) && !hits(&r, json!({"N": "abc"})));
    let r = rule("sel:\n  N|gte: 10\ncondition: sel");
    assert!(hits(&r, json!({"N": " 10 "})));
    let r = rule("sel:\n  N|lt: 2.5\ncondition: sel");
    assert!(hits(&r, json!({"N": 2})) && !hits(&r, json!({"N": 3})));
    let r = rule("sel:\n  N|lte: 2\ncondition: sel");
    assert!(hits(&r, json!({"N": "2"})));
}

#[test]
fn expand_placeholders() {
    let yaml = "title: t\nlogsource: {product: windows}\ndetection:\n  sel:\n    Host|expand: '%admins%'\n  condition: sel\n";
    let mut opts = LoadOptions::default();
    opts.placeholders
        .insert("admins".into(), vec!["adm1".into(), "adm2".into()]);
    let (set, errors) = RuleSet::from_str("x.yml", yaml, &opts);
    assert!(errors.is_empty());
    assert!(hits(&set, json!({"Host": "ADM2"})) && !hits(&set, json!({"Host": "adm3"})));
    let (set, errors) = RuleSet::from_str("x.yml", yaml, &LoadOptions::default());
    assert!(set.rules.is_empty());
    assert_eq!(errors[0].kind, LoadErrorKind::Placeholder);
    assert!(errors[0].reason.contains("%admins%"));
}

#[test]
fn keywords() {
    let r = rule("keywords:\n  - 'mimikatz'\n  - 'sekurlsa'\ncondition: keywords");
    assert!(hits(
        &r,
        json!({"Deep": {"Nested": ["x", "run SEKURLSA::logonpasswords"]}})
    ));
    assert!(!hits(&r, json!({"F": "benign"})));
    let r = rule("keywords:\n  '|all':\n    - 'a1'\n    - 'b2'\ncondition: keywords");
    assert!(hits(&r, json!({"F": "a1", "G": "b2"})));
    assert!(!hits(&r, json!({"F": "a1"})));
}

#[test]
fn keyword_lists_ignore_ascii_case_on_both_sides_at_any_length() {
    // Grouped needles are searched over the value's ASCII lower case (Teddy), or by an
    // ASCII-case-insensitive automaton where there are too many for Teddy: both must
    // give the same answers, whatever the case of the needle as written.
    for count in [2usize, 20, 200] {
        let mut list: Vec<String> = (0..count).map(|i| format!("  - 'Needle{i:03}X'")).collect();
        list.push("  - 'kerberos::PTT'".into());
        list.push("  - 'ÉTÉ::x'".into());
        let r = rule(&format!(
            "keywords:\n{}\ncondition: keywords",
            list.join("\n")
        ));
        let last = format!("{:03}", count - 1);
        let cases = [
            (json!({"F": format!("a NEEDLE{last}x b")}), true),
            (json!({"F": format!("needle{last}X")}), true),
            (json!({"F": "run KERBEROS::ptt now"}), true),
            (json!({"Deep": ["x", {"G": "Kerberos::Ptt"}]}), true),
            (json!({"F": "été::X"}), true),
            (json!({"F": "kerberos::pt"}), false),
            (json!({"F": format!("needle{last}")}), false),
            (json!({"F": 42}), false),
        ];
        for (event, want) in cases {
            assert_eq!(hits(&r, event.clone()), want, "{count} needles, {event}");
        }
    }
}

#[test]
fn keywords_are_found_within_one_value_never_across_two() {
    // The grouped needles are searched for in every value of the event at once: a
    // needle split over two values, or over a key and its value, is not a match.
    let r =
        rule("keywords:\n  - 'sekurlsa::'\n  - 'lsadump::'\n  - 'mimi*katz'\ncondition: keywords");
    for (event, want) in [
        (json!({"A": "sekurl", "B": "sa::x"}), false),
        (json!({"A": ["lsa", "dump::"]}), false),
        (json!({"sekurlsa": "::"}), false),
        (json!({"A": null, "B": "x LSADUMP::sam"}), true),
        (
            json!({"A": 1, "B": true, "C": {"D": ["y", "Sekurlsa::tickets"]}}),
            true,
        ),
        // The wildcard is not a grouped needle: it is tested value by value.
        (json!({"A": "MIMI-the-KATZ"}), true),
        (json!({"A": "mimi", "B": "katz"}), false),
        (json!({}), false),
    ] {
        assert_eq!(hits(&r, event.clone()), want, "{event}");
    }
}

#[test]
fn keyword_values_shorter_than_every_needle_are_skipped_only_when_ascii() {
    // The values joined for a keyword search leave out ASCII values shorter than the
    // shortest keyword needle of the rule set: a value exactly that long still holds
    // it, and a value that is not ASCII is always searched (its lower case can be
    // longer: `İX`, three bytes, lower-cases to four, `i\u{307}x`). Numbers and
    // booleans are searched as text.
    let r = rule(
        "keywords:\n  - 'ab12'\n  - 'i\u{307}x'\n  - 'true'\n  - '4104'\n  - 'longer-needle'\ncondition: keywords",
    );
    for (event, want) in [
        (json!({"A": "AB12"}), true),
        (json!({"A": "AB1", "B": "2"}), false),
        (json!({"A": "xx", "B": "zAb12z"}), true),
        (json!({"A": "İX"}), true),
        (json!({"A": "İ", "B": "X"}), false),
        (json!({"A": true}), true),
        (json!({"A": false}), false),
        (json!({"A": 4104}), true),
        (json!({"A": 410}), false),
        (json!({"A": [1, {"B": "x LONGER-NEEDLE"}]}), true),
    ] {
        assert_eq!(hits(&r, event.clone()), want, "{event}");
    }
}

#[test]
fn one_of_them_vs_all_of_them() {
    let det = "sel_a:\n  A: 1\nsel_b:\n  B: 2\n_aux:\n  C: 3\ncondition: ";
    let any = rule(&format!("{det}1 of them"));
    let all = rule(&format!("{det}all of them"));
    let two = rule(&format!("{det}2 of sel_*"));
    assert!(hits(&any, json!({"B": 2})));
    assert!(!hits(&all, json!({"B": 2})));
    assert!(hits(&all, json!({"A": 1, "B": 2})), "them skips _aux");
    assert!(hits(&two, json!({"A": 1, "B": 2})) && !hits(&two, json!({"A": 1})));
}

#[test]
fn nested_parentheses_and_not_precedence() {
    let det = "a:\n  A: 1\nb:\n  B: 1\nc:\n  C: 1\ncondition: ";
    let r = rule(&format!("{det}not a and b"));
    assert!(hits(&r, json!({"B": 1})) && !hits(&r, json!({"A": 1, "B": 1})));
    let r = rule(&format!("{det}not (a and b)"));
    assert!(hits(&r, json!({"A": 1})) && !hits(&r, json!({"A": 1, "B": 1})));
    let r = rule(&format!("{det}a or b and c"));
    assert!(hits(&r, json!({"A": 1})) && !hits(&r, json!({"B": 1})));
    let r = rule(&format!("{det}((a or b) and (not c))"));
    assert!(hits(&r, json!({"B": 1})) && !hits(&r, json!({"B": 1, "C": 1})));
}

#[test]
fn condition_list_is_or() {
    let r = rule("a:\n  A: 1\nb:\n  B: 1\ncondition:\n  - a\n  - b");
    assert!(hits(&r, json!({"B": 1})) && hits(&r, json!({"A": 1})));
}

#[test]
fn unsupported_forms_have_reasons() {
    let (kind, reason) = load_error("sel:\n  A: 1\ncondition: sel | count() > 5");
    assert_eq!(kind, LoadErrorKind::Unsupported);
    assert!(reason.contains("use a correlation rule"), "{reason}");
    let (kind, _) = load_error("sel:\n  A|nosuchmod: 1\ncondition: sel");
    assert_eq!(kind, LoadErrorKind::Unsupported);
    let (kind, reason) = load_error("sel:\n  A: 1\ncondition: other");
    assert_eq!(kind, LoadErrorKind::Schema);
    assert!(reason.contains("other"));
    let (kind, _) = load_error("sel:\n  A|re: '(unclosed'\ncondition: sel");
    assert_eq!(kind, LoadErrorKind::Unsupported);
}

#[test]
fn collections_yaml_errors_and_correlations_are_located() {
    let text = "title: a\nlogsource: {product: windows}\ndetection: {s: {A: 1}, condition: s}\n---\ntitle: [\n---\ntitle: c\ncorrelation: {type: event_count}\n";
    let (set, errors) = RuleSet::from_str("multi.yml", text, &LoadOptions::default());
    assert_eq!(set.rules.len(), 1);
    assert_eq!(set.rules[0].line, 1);
    assert_eq!(set.correlations.len(), 1);
    assert_eq!(set.correlations[0].line, 7);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].kind, LoadErrorKind::Yaml);
    assert!(
        matches!(errors[0].line, Some(5 | 6)),
        "{:?}",
        errors[0].line
    );
    let collection = "action: global\nlogsource: {product: windows}\n---\ntitle: g\ndetection: {s: {A: 1}, condition: s}\n";
    let (set, errors) = RuleSet::from_str("c.yml", collection, &LoadOptions::default());
    assert!(set.rules.is_empty());
    assert_eq!(errors.len(), 2);
    assert!(errors.iter().all(|e| e.kind == LoadErrorKind::Unsupported));
    assert!(
        errors[0].reason.contains("action: global"),
        "{}",
        errors[0].reason
    );
    assert_eq!(errors[1].line, Some(4));
}

#[test]
fn logsource_mapping_selects_channel_and_renames_4688() {
    let yaml = "title: t\nid: pc\nlogsource: {product: windows, category: process_creation}\ndetection:\n  sel:\n    Image|endswith: '\\whoami.exe'\n  condition: sel\n";
    let (set, errors) = RuleSet::from_str("pc.yml", yaml, &LoadOptions::default());
    assert!(errors.is_empty() && set.warnings.is_empty());
    let sysmon = json!({"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 1, "Image": "C:\\Windows\\whoami.exe"});
    let security = json!({"Channel": "Security", "EventID": 4688, "NewProcessName": "C:\\Windows\\whoami.exe"});
    let wrong_id = json!({"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 3, "Image": "C:\\Windows\\whoami.exe"});
    assert!(hits(&set, sysmon));
    assert!(hits(&set, security));
    assert!(!hits(&set, wrong_id));
}

#[test]
fn unknown_logsources_warn() {
    let yaml = "title: t\nlogsource: {product: windows, category: made_up}\ndetection: {s: {A: 1}, condition: s}\n---\ntitle: u\nlogsource: {product: linux}\ndetection: {s: {A: 1}, condition: s}\n";
    let (set, errors) = RuleSet::from_str("w.yml", yaml, &LoadOptions::default());
    assert!(errors.is_empty());
    assert_eq!(set.warnings.len(), 2);
    assert!(
        hits(&set, json!({"A": 1})),
        "unknown windows category still matches windows events"
    );
}

#[test]
fn matches_are_ascending_and_deduplicated() {
    let yaml = "title: a\nlogsource: {product: windows}\ndetection: {s: {A: 1}, condition: s}\n---\ntitle: b\nlogsource: {product: windows, category: process_creation}\ndetection: {s: {A: 1}, condition: s}\n---\ntitle: c\nlogsource: {product: windows}\ndetection: {s: {A: 1}, condition: s}\n";
    let (set, _) = RuleSet::from_str("o.yml", yaml, &LoadOptions::default());
    let mut out = vec![99];
    set.compile().matches(
        &event(json!({"A": 1, "Channel": "Security", "EventID": 4688})),
        &mut out,
    );
    assert_eq!(out, vec![0, 1, 2]);
}

#[test]
fn cloud_sources() {
    let yaml = "title: t\nlogsource: {product: m365, service: unified_audit}\ndetection: {s: {Operation: Add-MailboxPermission}, condition: s}\n";
    let (set, _) = RuleSet::from_str("m.yml", yaml, &LoadOptions::default());
    let mut e = event(json!({"Operation": "Add-MailboxPermission"}));
    let mut out = Vec::new();
    set.compile().matches(&e, &mut out);
    assert!(out.is_empty(), "windows event must not match an m365 rule");
    e.source = SourceKind::M365Audit;
    set.compile().matches(&e, &mut out);
    assert_eq!(out, vec![0]);
}

#[test]
fn matcher_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<trustpath_sigma::Matcher>();
    assert_send_sync::<RuleSet>();
}

#[test]
fn event_ids_outside_the_logsource_warn() {
    let yaml = "title: t\nlogsource: {product: windows, category: process_creation}\ndetection: {s: {EventID: 4624}, condition: s}\n";
    let (set, errors) = RuleSet::from_str("e.yml", yaml, &LoadOptions::default());
    assert!(errors.is_empty());
    assert_eq!(set.warnings.len(), 1);
    assert!(
        set.warnings[0].reason.contains("4624"),
        "{}",
        set.warnings[0].reason
    );
}

#[test]
fn user_mapping_overrides_builtin_entries() {
    let dir = tempfile::tempdir().unwrap();
    let mapping = dir.path().join("map.yml");
    std::fs::write(
        &mapping,
        "logsources:\n  - product: windows\n    category: process_creation\n    targets:\n      - source: windows\n        channel: ['Custom/Operational']\n        rename: {Image: ExePath}\n",
    )
    .unwrap();
    let opts = LoadOptions {
        mapping: Some(mapping),
        ..LoadOptions::default()
    };
    let yaml = "title: t\nlogsource: {product: windows, category: process_creation}\ndetection: {s: {Image|endswith: '\\\\x.exe'}, condition: s}\n";
    let (set, errors) = RuleSet::from_str("u.yml", yaml, &opts);
    assert!(errors.is_empty(), "{errors:?}");
    assert!(hits(
        &set,
        json!({"Channel": "custom/operational", "ExePath": "C:\\x.exe"})
    ));
    assert!(!hits(
        &set,
        json!({"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 1, "Image": "C:\\x.exe"})
    ));
}

#[test]
fn validate_reports_errors_and_warnings_by_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.yml"),
        "title: a\nlogsource: {product: linux}\ndetection: {s: {A: 1}, condition: s}\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("b.yaml"), "title: b\nlogsource: {product: windows}\ndetection: {s: {A: 1}, condition: s | count() > 3}\n").unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a rule").unwrap();
    let found = trustpath_sigma::validate(&[dir.path().to_path_buf()], &LoadOptions::default());
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].is_warning() && found[0].file.ends_with("a.yml"));
    assert_eq!(found[1].kind, LoadErrorKind::Unsupported);
    assert_eq!(found[1].line, Some(1));
}

#[test]
fn field_names_resolve_like_the_event_lookup() {
    // The matcher finds the fields rules read in one pass over an event's keys; what it
    // finds must be what `Event::for_each_value` (and so `explain`) finds: the key
    // spelled exactly as the field, else the first key equal to it ignoring ASCII case;
    // a dotted name is a nested path unless a key is spelled with the dots.
    let set = rule(
        "sel_image:\n  Image|endswith: '\\evil.exe'\nsel_user:\n  user: alice\nsel_nested:\n  Event.System.Channel: Security\nsel_dotted:\n  winlog.task: Logon\ncondition: 1 of sel_*",
    );
    let cases = [
        (json!({"Image": "C:\\evil.exe"}), true),
        (json!({"IMAGE": "C:\\evil.exe"}), true),
        // The exact spelling wins over an earlier key that differs in case only.
        (
            json!({"image": "C:\\evil.exe", "Image": "C:\\good.exe"}),
            false,
        ),
        (
            json!({"image": "C:\\good.exe", "Image": "C:\\evil.exe"}),
            true,
        ),
        // Without the exact spelling, the first key equal ignoring case.
        (
            json!({"iMage": "C:\\good.exe", "IMAGE": "C:\\evil.exe"}),
            false,
        ),
        (
            json!({"iMage": "C:\\evil.exe", "IMAGE": "C:\\good.exe"}),
            true,
        ),
        (json!({"User": "alice"}), true),
        (json!({"User": "bob", "USER": "alice"}), false),
        (json!({"user": ["bob", "alice"]}), true),
        // Not ASCII: only ASCII letters fold.
        (json!({"Imäge": "C:\\evil.exe"}), false),
        (json!({"Event": {"System": {"Channel": "Security"}}}), true),
        (json!({"event": {"system": {"channel": "Security"}}}), true),
        (json!({"winlog.task": "Logon"}), true),
        (json!({"winlog": {"task": "Logon"}}), true),
        (
            json!({"Imagex": "C:\\evil.exe", "xImage": "C:\\evil.exe"}),
            false,
        ),
    ];
    matcher_and_explain_agree(&set, &cases);
}

#[test]
fn field_positions_kept_between_events_only_for_the_same_keys() {
    // The matcher keeps where the fields were in one event for the next one with the
    // same keys in the same order (per thread). Two matchers of different fields take
    // turns on this thread; events change values, key order, key case and key count.
    let images = rule("sel:\n  Image|endswith: '\\evil.exe'\ncondition: sel");
    let users = rule("sel:\n  User: alice\n  Image|contains: tool\ncondition: sel");
    let (m_images, m_users) = (images.compile(), users.compile());
    let hit = |m: &trustpath_sigma::Matcher, fields: &Value| {
        let mut out = Vec::new();
        m.matches(&event(fields.clone()), &mut out);
        !out.is_empty()
    };
    let events = [
        (
            json!({"A": "x", "Image": "C:\\evil.exe", "User": "alice"}),
            true,
            false,
        ),
        (
            json!({"A": "x", "Image": "C:\\good.exe", "User": "alice"}),
            false,
            false,
        ),
        (
            json!({"A": "x", "Image": "C:\\tool.exe", "User": "alice"}),
            false,
            true,
        ),
        // Same keys, another order: positions must be found again.
        (
            json!({"Image": "C:\\evil.exe", "A": "x", "User": "bob"}),
            true,
            false,
        ),
        (
            json!({"User": "alice", "A": "C:\\evil.exe", "Image": "tool"}),
            false,
            true,
        ),
        // A key that differs in case only, then the exact spelling back.
        (
            json!({"User": "alice", "A": "x", "IMAGE": "C:\\evil.exe"}),
            true,
            false,
        ),
        (
            json!({"User": "alice", "A": "x", "Image": "C:\\good.exe"}),
            false,
            false,
        ),
        // Fewer keys, then more.
        (json!({"User": "alice"}), false, false),
        (
            json!({"User": "alice", "A": "x", "Image": "tool", "Z": 1}),
            false,
            true,
        ),
        (json!({}), false, false),
        (
            json!({"A": "x", "Image": "C:\\evil.exe", "User": "alice"}),
            true,
            false,
        ),
    ];
    // One matcher at a time over the whole sequence (positions kept from event to
    // event), then both taking turns (each finds the other's positions in the scratch).
    for (fields, want, _) in &events {
        assert_eq!(hit(&m_images, fields), *want, "images rule on {fields}");
    }
    for (fields, _, want) in &events {
        assert_eq!(hit(&m_users, fields), *want, "users rule on {fields}");
    }
    for (fields, want_images, want_users) in &events {
        assert_eq!(
            hit(&m_images, fields),
            *want_images,
            "images rule on {fields}"
        );
        assert_eq!(hit(&m_users, fields), *want_users, "users rule on {fields}");
    }
}

#[test]
fn long_value_lists_are_one_or() {
    // Literal needles of a list are folded into word masks of the field's bits: every
    // one of many needles, across several 64-bit words, still matches on its own, and
    // `|all` still needs every one.
    let needles: Vec<String> = (0..150).map(|n| format!("needle{n:03}x")).collect();
    let list = needles
        .iter()
        .map(|n| format!("    - '{n}'"))
        .collect::<Vec<_>>()
        .join("\n");
    let set = rule(&format!(
        "sel:\n  CommandLine|contains:\n{list}\ncondition: sel"
    ));
    for n in [&needles[0], &needles[63], &needles[64], &needles[149]] {
        assert!(
            hits(&set, json!({"CommandLine": format!("run {n} now")})),
            "{n}"
        );
    }
    assert!(!hits(&set, json!({"CommandLine": "run needle150x now"})));
    let all = rule(
        "sel:\n  CommandLine|contains|all:\n    - 'alpha'\n    - 'beta'\n    - 'gamma'\ncondition: sel",
    );
    assert!(hits(&all, json!({"CommandLine": "gamma beta alpha"})));
    assert!(!hits(&all, json!({"CommandLine": "gamma alpha"})));
}

#[test]
fn every_literal_conjunct_is_checked_before_the_rule_is_walked() {
    // The matcher drops a candidate when one of its condition's literal conjuncts has no
    // bit set; what it keeps must be exactly what the detection says (explain agrees).
    let set = rule(
        "sel_img:\n  Image|endswith: '\\reg.exe'\nsel_cli:\n  CommandLine|contains|all:\n    - ' add '\n    - 'Run'\nsel_alt:\n  - ParentImage|endswith: '\\cmd.exe'\n  - ParentCommandLine|contains: 'wscript'\nsel_re:\n  User|re: '^adm'\nfilter:\n  CommandLine|contains: 'trusted'\ncondition: sel_img and sel_cli and sel_alt and sel_re and not filter",
    );
    let base = json!({
        "Image": "C:\\Windows\\reg.exe",
        "CommandLine": "reg ADD HKCU\\...\\Run /v x",
        "ParentImage": "C:\\Windows\\cmd.exe",
        "User": "admin",
    });
    let with = |key: &str, value: Value| {
        let mut v = base.clone();
        if let Some(map) = v.as_object_mut() {
            match value {
                Value::Null => {
                    map.remove(key);
                }
                value => {
                    map.insert(key.into(), value);
                }
            }
        }
        v
    };
    let cases = [
        (base.clone(), true),
        (with("CommandLine", json!("reg add HKCU\\x")), false),
        (with("CommandLine", json!("reg query Run")), false),
        (with("CommandLine", Value::Null), false),
        (with("CommandLine", json!("reg add Run trusted")), false),
        (with("ParentImage", json!("C:\\x\\explorer.exe")), false),
        (
            with("ParentImage", Value::Null)
                .as_object()
                .cloned()
                .map(|mut m| {
                    m.insert("ParentCommandLine".into(), json!("wscript a.vbs"));
                    Value::Object(m)
                })
                .unwrap_or_default(),
            true,
        ),
        (with("User", json!("bob")), false),
        (
            with("Image", json!(["C:\\x\\a.exe", "C:\\Windows\\reg.exe"])),
            true,
        ),
    ];
    matcher_and_explain_agree(&set, &cases);
}

/// Each event matches the set's one rule exactly when `want` says, for the matcher and
/// for `explain` (the readable re-evaluation through `Event::for_each_value`).
fn matcher_and_explain_agree(set: &RuleSet, cases: &[(Value, bool)]) {
    let matcher = set.compile();
    for (fields, want) in cases {
        let e = event(fields.clone());
        let mut out = Vec::new();
        matcher.matches(&e, &mut out);
        assert_eq!(!out.is_empty(), *want, "matcher on {fields}");
        let why = set.rules[0].explain(&e);
        assert_eq!(why.matched, *want, "explain on {fields}");
        if *want {
            // What a finding shows: the same, without the condition evaluated again.
            assert_eq!(
                set.rules[0].explain_match(&e),
                why,
                "explain_match on {fields}"
            );
        }
    }
}

#[test]
fn matching_with_fields_scanned_ahead_agrees_with_matching_one_event_at_a_time() {
    // `Matcher::prepare` scans the large field tables ahead over a chunk of events (the
    // fields matching needed for most events of the thread's previous chunk); what
    // `matches` returns for those events must not change. Two fields have tables larger
    // than the automaton limit (150 `CommandLine` needles, 120 `Image` needles); events
    // hold them spelled exactly, in another case, absent, as lists, as numbers.
    let mut set = RuleSet::default();
    let mut add = |yaml: String| {
        let (one, errors) = RuleSet::from_str("r.yml", &yaml, &LoadOptions::default());
        assert!(errors.is_empty(), "{errors:?}");
        set.extend(one);
    };
    let list = |prefix: &str, n: usize| -> String {
        (0..n).map(|i| format!("'{prefix}{i}x', ")).collect()
    };
    let head = "title: t\nlogsource: {product: windows}\ndetection:\n";
    add(format!(
        "{head}  s: {{CommandLine|contains: [{}]}}\n  condition: s\n",
        list("cmd", 150)
    ));
    add(format!(
        "{head}  s: {{Image|endswith: [{}]}}\n  condition: s\n",
        list("img", 120)
    ));
    add(format!(
        "{head}  a: {{CommandLine|contains|all: [cmd7x, cmd9x]}}\n  b: {{Image|endswith: img3x}}\n  condition: a and not b\n"
    ));
    add(format!(
        "{head}  a: {{CommandLine|startswith: 'run '}}\n  b: {{User: alice}}\n  condition: a or b\n"
    ));
    let matcher = set.compile();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let events: Vec<Event> = (0..700)
        .map(|_| {
            let mut fields = serde_json::Map::new();
            let cmd = format!("run cmd{}x and cmd{}x", next(170), next(170));
            let cmd_key = ["CommandLine", "commandline", "COMMANDLINE"]
                [usize::from(next(8) == 0) * (1 + next(2) as usize)];
            match next(10) {
                0 => {}
                1 => {
                    fields.insert(cmd_key.into(), json!([cmd, "cmd9x"]));
                }
                2 => {
                    fields.insert(cmd_key.into(), json!(7));
                }
                _ => {
                    fields.insert(cmd_key.into(), json!(cmd));
                }
            }
            let image = format!("C:\\img{}x", next(140));
            match next(6) {
                0 => {}
                1 => {
                    fields.insert("image".into(), json!(image));
                }
                _ => {
                    fields.insert("Image".into(), json!(image));
                }
            }
            if next(5) == 0 {
                fields.insert("User".into(), json!("alice"));
            }
            event(Value::Object(fields))
        })
        .collect();
    let one_at_a_time: Vec<Vec<trustpath_sigma::RuleIndex>> = events
        .iter()
        .map(|e| {
            let mut out = Vec::new();
            matcher.matches(e, &mut out);
            out
        })
        .collect();
    assert!(
        one_at_a_time.iter().filter(|m| !m.is_empty()).count() > 300,
        "the events must match often to test anything"
    );
    // A fresh matcher used by four threads at once: its tables are built while the
    // others wait for them or build the rest (side by side), and every thread gets the
    // answers one thread got alone.
    // They start at an event with both large fields, so both tables are needed at once.
    let has = |e: &Event, name: &str| e.fields.keys().any(|k| k.eq_ignore_ascii_case(name));
    let start = events
        .iter()
        .position(|e| has(e, "CommandLine") && has(e, "Image"))
        .unwrap();
    let fresh = set.compile();
    std::thread::scope(|scope| {
        for t in 0..4usize {
            let (fresh, events, expected) = (&fresh, &events, &one_at_a_time);
            scope.spawn(move || {
                let n = events.len();
                for k in 0..n {
                    let i = if t % 2 == 0 {
                        (start + k) % n
                    } else {
                        (start + n - k) % n
                    };
                    let mut out = Vec::new();
                    fresh.matches(&events[i], &mut out);
                    assert_eq!(out, expected[i], "thread {t}, event {i}");
                }
            });
        }
    });
    let mut chose = Vec::new();
    for size in [1, 7, 64, 256] {
        for (c, chunk) in events.chunks(size).enumerate() {
            let base = events
                .iter()
                .position(|e| std::ptr::eq(e, &chunk[0]))
                .unwrap();
            matcher.prepare(chunk.iter());
            chose.push(matcher.scanning_ahead().len());
            // In order, except every third chunk backwards and with an event of
            // another chunk in the middle (matched as if not prepared).
            let mut order: Vec<usize> = (0..chunk.len()).collect();
            if c % 3 == 2 {
                order.reverse();
                let outside = (base + chunk.len()) % events.len();
                let mut out = Vec::new();
                matcher.matches(&events[outside], &mut out);
                assert_eq!(out, one_at_a_time[outside], "event {outside} outside chunk");
            }
            for i in order {
                let mut out = Vec::new();
                matcher.matches(&chunk[i], &mut out);
                assert_eq!(
                    out,
                    one_at_a_time[base + i],
                    "chunk size {size}, event {}",
                    base + i
                );
            }
            matcher.unprepare();
        }
    }
    assert!(
        chose.contains(&2),
        "both large fields were scanned ahead in some chunk (most in one: {:?})",
        chose.iter().max()
    );
    // Another matcher on the same thread starts its own choice over.
    let other = set.compile();
    other.prepare(events[..10].iter());
    assert!(other.scanning_ahead().is_empty());
    other.unprepare();
}
