//! A cheap test that lets callers skip [`commands`](crate::commands) on text that cannot
//! name a cmdlet.
//!
//! Every cmdlet name has a dash (`Verb-Noun`). [`commands`](crate::commands) only ever
//! returns names made of the text's own characters (backticks removed, the Unicode dash
//! look-alikes kept as written), with three exceptions, which the rule covers:
//!
//! * a built-in alias ([`BUILTIN_ALIASES`]: `iex`, `sal`, `nal`) resolves to a dashed
//!   name (`Invoke-Expression` …), also when written with backticks (`i``e``x`);
//! * string concatenation (`& ('Add-Mail'+'boxPermission')`, `$c = 'a' + 'b'`) joins
//!   literals, which needs a `+`;
//! * `-Command`, `-EncodedCommand` and `cmd /c` re-read text (decoded base64, or
//!   rendered tokens that re-add a `-` in front of parameters), which needs a parameter,
//!   i.e. a dash.
//!
//! The rule ([`may_name_cmdlet`]): the text may name a cmdlet when it contains a dash
//! PowerShell accepts (`-`, `–`, `—`, `―`), a `+`, or a built-in alias name (ASCII
//! case-insensitive, backticks ignored). Otherwise every invocation
//! [`commands`](crate::commands) finds has a dash-free name: no cmdlet, no permission
//! change, nothing a caller listing cmdlets would keep.
//!
//! A second rule covers the usual process command line, a quoted executable path with
//! arguments (`"C:\Program Files (x86)\…\msedge.exe" --single-argument https://…`):
//! when the text starts (after spaces and tabs) with a `"` string that is not a script
//! host (`powershell`, `pwsh`, `powershell_ise`, `cmd`, whose arguments are read as a
//! script) and nothing after that string's end is one of `;`, newline, `|`, `(`, `)`,
//! `{`, `}`, the tokens form a single pipeline element led by a program that runs no
//! PowerShell. The string's end is found exactly as the
//! tokenizer finds it (backtick escapes, doubled quotes, Unicode quote look-alikes); an
//! unterminated string swallows the rest of the text.

use crate::cmdlets::BUILTIN_ALIASES;
use crate::token::is_double_quote;

/// UTF-8 of the dash look-alikes PowerShell accepts besides `-`: U+2013, U+2014, U+2015.
const UNICODE_DASHES: [[u8; 3]; 3] = [[0xE2, 0x80, 0x93], [0xE2, 0x80, 0x94], [0xE2, 0x80, 0x95]];

/// `false` only when [`commands`](crate::commands) on `src` cannot return an invocation
/// whose name contains a dash (so no cmdlet, no permission change): callers may skip
/// tokenizing such text.
///
/// `true` when the text has a dash PowerShell accepts (`-`, `–`, `—`, `―`), a `+`
/// (literal concatenation) or a built-in alias (`iex`, `sal`, `nal`; any case,
/// backticks ignored) — unless it is a quoted executable with plain arguments (starts
/// with a `"` string after which none of `;`, newline, `|`, `(`, `)`, `{`, `}` occurs:
/// one pipeline element led by a string, which runs nothing). Every other text has only
/// dash-free command names.
pub fn may_name_cmdlet(src: &str) -> bool {
    let bytes = src.as_bytes();
    let may_by_characters = bytes.contains(&b'-')
        || bytes.contains(&b'+')
        || has_unicode_dash(bytes)
        || contains_alias(bytes);
    may_by_characters && !is_quoted_path_with_plain_arguments(src)
}

/// Characters that end a pipeline element or open / close a group.
const ELEMENT_BREAKS: [u8; 7] = [b';', b'\n', b'|', b'(', b')', b'{', b'}'];

/// `"…" args` where `args` has no [`ELEMENT_BREAKS`]: one element led by a string.
fn is_quoted_path_with_plain_arguments(src: &str) -> bool {
    let Some(after_quote) = src.trim_start_matches([' ', '\t']).strip_prefix('"') else {
        return false;
    };
    match end_of_double_quoted(after_quote) {
        Some(rest) => {
            let program = &after_quote[..after_quote.len() - rest.len()];
            !is_script_host(program) && !rest.bytes().any(|b| ELEMENT_BREAKS.contains(&b))
        }
        None => true,
    }
}

/// Whether a quoted program is one whose arguments [`commands`](crate::commands) reads
/// as a script (`powershell`, `pwsh`, `powershell_ise`, `cmd`).
fn is_script_host(quoted: &str) -> bool {
    crate::command::is_quoted_script_host(
        quoted.trim_end_matches(['"', '\u{201C}', '\u{201D}', '\u{201E}']),
    )
}

/// The text after the double-quoted string whose body starts `body`, read like the
/// tokenizer does; `None` when the string is never closed.
fn end_of_double_quoted(body: &str) -> Option<&str> {
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '`' {
            chars.next();
            continue;
        }
        if is_double_quote(c) {
            if chars.peek().is_some_and(|&(_, next)| is_double_quote(next)) {
                chars.next();
                continue;
            }
            return Some(&body[i + c.len_utf8()..]);
        }
    }
    None
}

fn has_unicode_dash(bytes: &[u8]) -> bool {
    bytes.contains(&0xE2)
        && bytes
            .windows(3)
            .any(|w| UNICODE_DASHES.iter().any(|d| w == d))
}

/// A [`BUILTIN_ALIASES`] name occurs in `haystack`, ASCII case-insensitively, with any
/// number of backticks between its letters.
///
/// One pass: the last 8 non-backtick bytes, lower-cased, are kept packed in a `u64`
/// whose low bytes are compared with each packed alias.
fn contains_alias(haystack: &[u8]) -> bool {
    let mut window = 0u64;
    for &b in haystack {
        if b == b'`' {
            continue;
        }
        window = (window << 8) | u64::from(b.to_ascii_lowercase());
        if PACKED_ALIASES
            .iter()
            .any(|&(packed, mask)| window & mask == packed)
        {
            return true;
        }
    }
    false
}

/// Each built-in alias as (big-endian packed bytes, mask of its length); no alias has a
/// NUL byte, so a window shorter than the alias never matches.
const PACKED_ALIASES: [(u64, u64); BUILTIN_ALIASES.len()] = pack_aliases();

/// Packs [`BUILTIN_ALIASES`]; a compile error if one is empty, longer than 8 bytes or not
/// lower-case ASCII.
const fn pack_aliases() -> [(u64, u64); BUILTIN_ALIASES.len()] {
    let mut out = [(0, 0); BUILTIN_ALIASES.len()];
    let mut i = 0;
    while i < BUILTIN_ALIASES.len() {
        let bytes = BUILTIN_ALIASES[i].0.as_bytes();
        assert!(!bytes.is_empty() && bytes.len() <= 8);
        let mut packed = 0u64;
        let mut j = 0;
        while j < bytes.len() {
            assert!(bytes[j].is_ascii_lowercase());
            packed = (packed << 8) | bytes[j] as u64;
            j += 1;
        }
        out[i] = (packed, u64::MAX >> (64 - 8 * bytes.len()));
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands;
    use base64::Engine;

    /// Texts the pre-check passes on must still yield their cmdlets; texts it rejects
    /// must yield none.
    fn agrees(src: &str) {
        let named = commands(src).iter().any(|inv| inv.name.contains('-'));
        if named {
            assert!(
                may_name_cmdlet(src),
                "pre-check would hide a cmdlet in {src:?}"
            );
        }
    }

    #[test]
    fn plain_command_lines_without_dash_are_skipped() {
        for src in [
            "\"C:\\Windows\\System32\\notepad.exe\" C:\\Users\\Public\\notes.txt",
            "\"C:\\Windows\\System32\\cmd.exe\" /c ipconfig /all",
            "\"C:\\Program Files\\Microsoft Office\\root\\Office16\\EXCEL.EXE\" /dde",
            "",
            "`",
        ] {
            assert!(!may_name_cmdlet(src), "{src:?}");
            assert!(commands(src).iter().all(|inv| !inv.name.contains('-')));
        }
    }

    #[test]
    fn quoted_executables_with_plain_arguments_are_skipped() {
        for src in [
            "\"C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe\" --single-argument https://contoso.sharepoint.com/",
            "  \"C:\\a-b\\x.exe\" -Flag value -Other:1 iex",
            "\"unterminated -Command Add-MailboxPermission; x | y",
            "\"a\"\"b-c\" -x",
            "\"a`\"b-c\" -x",
        ] {
            assert!(!may_name_cmdlet(src), "{src:?}");
            assert!(commands(src).is_empty(), "{src:?}: {:?}", commands(src));
        }
        for src in [
            "\"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe\" -NoProfile -Command Get-Process | Sort-Object CPU",
            "\"x.exe\"; Add-MailboxPermission ceo -User eve",
            "\"x.exe\" (Get-Mailbox)",
            "\"x.exe\" {Set-Mailbox x}",
            "\"x.exe\"\nSet-Mailbox x",
            "\"x\u{201D}; Set-Mailbox x",
            "\"x\u{201D}\u{201C}; Set-Mailbox x\" ; Get-Item y",
            "& \"Add-MailboxPermission\" ceo",
            "'x.exe' ; Get-Item y",
        ] {
            assert!(may_name_cmdlet(src), "{src:?}");
            agrees(src);
        }
    }

    #[test]
    fn obfuscated_and_indirect_cmdlets_pass() {
        let script: Vec<u8> = "Add-MailboxPermission -Identity ceo -User eve"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let encoded = format!(
            "cmd /c powershell -enc {}",
            base64::engine::general_purpose::STANDARD.encode(script)
        );
        let encoded = encoded.as_str();
        for src in [
            "Add-Ma`i`lboxPermission ceo -User eve",
            "aDd-mA`Il`BoxPeRmIssIoN 'ceo@contoso.com' -u eve@contoso.com -Acc FullAccess",
            "$p=@{Identity='ceo@contoso.com'}; ADD-mailbox`Permission @p -u eve@contoso.com",
            "Add\u{2013}MailboxPermission ceo",
            "Set\u{2014}Mailbox ceo \u{2015}GrantSendOnBehalfTo eve",
            encoded,
            "powershell -e QQBkAGQA",
            "iex 'Get-Process'",
            "IEX $x",
            "i`E`x $x",
            "sal a b; a",
            "NAL a b",
            "& ('i'+'ex') 'x'",
            "$c='Add-Mailbox'+'Permission'; & $c",
            "x;Sal a b",
            "\u{201C}iex\u{201D} 'x'",
        ] {
            assert!(may_name_cmdlet(src), "{src:?}");
            agrees(src);
        }
        assert!(
            commands(encoded)
                .iter()
                .any(|c| c.name == "Add-MailboxPermission")
        );
        assert!(
            commands("i`E`x $x")
                .iter()
                .any(|c| c.name == "Invoke-Expression")
        );
    }

    #[test]
    fn every_builtin_alias_is_covered() {
        for (alias, target) in BUILTIN_ALIASES {
            assert!(target.contains('-'), "{target}");
            assert!(may_name_cmdlet(alias), "{alias}");
            let spaced: String = alias.chars().flat_map(|c| ['`', c]).collect();
            assert!(may_name_cmdlet(&format!("x {spaced} y")), "{spaced}");
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            /// Random PowerShell-ish text: whenever `commands` names a cmdlet, the
            /// pre-check says it may.
            #[test]
            fn never_hides_a_cmdlet(src in "[a-zA-Z `'\"&$@(){};|=+.\\-/\u{2013}]{0,40}") {
                agrees(&src);
            }

            /// The same for command lines that start with a quoted path.
            #[test]
            fn never_hides_a_cmdlet_after_a_quoted_path(
                path in "[a-zA-Z :\\\\()`\"\u{201D}-]{0,12}",
                rest in "[a-zA-Z `'\"\u{201D}&$@(){};|\n=+.\\-/]{0,30}",
            ) {
                agrees(&format!("\"{path}\"{rest}"));
            }
        }
    }
}
