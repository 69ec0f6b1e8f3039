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
