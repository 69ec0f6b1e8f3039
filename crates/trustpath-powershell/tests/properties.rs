//! Property tests: the tokenizer never panics, and a generated rollback command, read
//! back as PowerShell tokens, has exactly the intended arguments whatever the names hold.

use proptest::prelude::*;
use trustpath_powershell::{command_line, commands, is_unsafe_in_line, tokenize};

fn hostile_string() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "'",
        "\u{2018}",
        "\u{2019}",
        "\u{201A}",
        "\u{201B}",
        "\"",
        "\u{201C}",
        "`",
        "$(",
        ")",
        "$x",
        ";",
        "|",
        "&",
        "\n",
        "\r\n",
        "#",
        "<#",
        "-Confirm",
        " ",
        "@{",
        "}",
        "ceo",
        "@",
        "contoso.com",
        "\u{2013}",
        "\\",
        "\t",
        "é",
        "\0",
    ]);
    prop::collection::vec(pieces, 0..12).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn tokenizer_and_extractor_never_panic(src in any::<String>()) {
        let _ = tokenize(&src);
        let _ = commands(&src);
    }

    #[test]
    fn rollback_arguments_round_trip(identity in hostile_string(), user in hostile_string()) {
        let line = command_line(
            "Remove-MailboxPermission",
            &[("Identity", Some(&identity)), ("User", Some(&user)),
              ("AccessRights", Some("FullAccess")), ("Confirm:$false", None)],
        );
        let cmds = commands(&line);
        prop_assert_eq!(cmds.len(), 1, "{}", line);
        let cmd = &cmds[0];
        prop_assert_eq!(cmd.name.as_str(), "Remove-MailboxPermission");
        prop_assert_eq!(cmd.params.len(), 4, "{:?}", cmd.params);
        // Every line of a rollback script stays one printable line.
        prop_assert!(!line.chars().any(is_unsafe_in_line), "{:?}", line);
        let plain = |v: &str| !v.chars().any(is_unsafe_in_line);
        if plain(&identity) {
            prop_assert_eq!(cmd.param("Identity"), Some(identity.as_str()));
        }
        if plain(&user) {
            prop_assert_eq!(cmd.param("User"), Some(user.as_str()));
        }
        prop_assert_eq!(cmd.param("AccessRights"), Some("FullAccess"));
        prop_assert_eq!(cmd.param("Confirm"), Some("$false"));
        prop_assert!(cmd.positional.is_empty());
    }
}

/// One piece of a concatenation: a single-quoted literal (quote look-alikes doubled, as
/// PowerShell requires) or one character as a `[char]` cast, decimal or hex.
fn piece() -> impl Strategy<Value = (String, String)> {
    let literal = hostile_string().prop_map(|s| {
        let mut quoted = String::from("'");
        for c in s.chars() {
            if matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}') {
                quoted.push(c);
            }
            quoted.push(c);
        }
        quoted.push('\'');
        (quoted, s)
    });
    let code = prop_oneof![
        Just('\n'),
        Just('\''),
        Just('@'),
        Just('$'),
        Just('`'),
        prop::char::range(' ', '~'),
        prop::char::range('\u{a0}', '\u{d7ff}'),
    ];
    let cast = (code, any::<bool>()).prop_map(|(c, hex)| {
        let n = u32::from(c);
        let text = if hex {
            format!("[char]0x{n:X}")
        } else {
            format!("[char]{n}")
        };
        (text, c.to_string())
    });
    prop_oneof![literal, cast]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// `-Identity ('' + 'a' + [char]0x0A + …)`: the parenthesised concatenation
    /// evaluates to exactly the string it spells, whatever the pieces hold; `-f` and
    /// `-join` over the same pieces agree with it.
    #[test]
    fn concatenation_arguments_round_trip(pieces in prop::collection::vec(piece(), 0..8)) {
        let expected: String = pieces.iter().map(|(_, v)| v.as_str()).collect();
        let mut expr = String::from("''");
        for (text, _) in &pieces {
            expr.push_str(" + ");
            expr.push_str(text);
        }
        let script = format!("Add-MailboxPermission -Identity ({expr}) -User eve -AccessRights FullAccess");
        let cmds = commands(&script);
        let add = cmds.iter().find(|c| c.name == "Add-MailboxPermission");
        prop_assert_eq!(add.and_then(|c| c.param("Identity")), Some(expected.as_str()), "{}", script);
        prop_assert_eq!(add.and_then(|c| c.param("User")), Some("eve"));
        if !pieces.is_empty() {
            let list: Vec<&str> = pieces.iter().map(|(t, _)| t.as_str()).collect();
            let join = format!("Add-MailboxPermission -Identity (({}) -join '') -User eve", list.join(", "));
            let cmds = commands(&join);
            let add = cmds.iter().find(|c| c.name == "Add-MailboxPermission");
            prop_assert_eq!(add.and_then(|c| c.param("Identity")), Some(expected.as_str()), "{}", join);
            let slots: String = (0..pieces.len()).map(|i| format!("{{{i}}}")).collect();
            let format = format!("Add-MailboxPermission -Identity ('{slots}' -f {}) -User eve", list.join(", "));
            let cmds = commands(&format);
            let add = cmds.iter().find(|c| c.name == "Add-MailboxPermission");
            prop_assert_eq!(add.and_then(|c| c.param("Identity")), Some(expected.as_str()), "{}", format);
        }
    }
}
