//! Quoting values for PowerShell so that no mailbox or user name can inject code.
//!
//! A single-quoted PowerShell string expands nothing: no `$()`, no variables, no
//! backtick escapes. Its only special characters are the single quote and its Unicode
//! look-alikes (U+2018, U+2019, U+201A, U+201B), each of which PowerShell accepts as a
//! quote; a quote inside the string is written twice. Newlines, semicolons, backticks and
//! `$()` are then plain text.

/// Characters that end or disguise a line for a reader or a line-oriented tool: C0/C1
/// controls, DEL, Unicode line/paragraph separators and bidirectional controls.
pub fn is_unsafe_in_line(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// `value` as a PowerShell expression that evaluates to exactly `value` and fits on one
/// printable line: a single-quoted literal, or — when the value holds a character from
/// [`is_unsafe_in_line`] — a parenthesised concatenation of single-quoted pieces and
/// `[char]0x…` codes, so no line break or terminal control ever reaches the script text.
pub fn quote(value: &str) -> String {
    if !value.chars().any(is_unsafe_in_line) {
        return quote_literal(value);
    }
    let mut parts: Vec<String> = Vec::new();
    let mut run = String::new();
    for c in value.chars() {
        if is_unsafe_in_line(c) {
            if !run.is_empty() {
                parts.push(quote_literal(&run));
                run.clear();
            }
            parts.push(format!("[char]0x{:04X}", u32::from(c)));
        } else {
            run.push(c);
        }
    }
    if !run.is_empty() {
        parts.push(quote_literal(&run));
    }
    // `'' + [char]…` keeps the result a string even when it starts with a [char].
    format!("('' + {})", parts.join(" + "))
}

/// `text` made safe for a `#` comment line and a terminal: every character from
/// [`is_unsafe_in_line`] is written as `\u{…}`, so it can neither end the comment nor
/// act on the terminal.
pub fn comment_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if is_unsafe_in_line(c) {
            out.push_str(&format!("\\u{{{:X}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

fn quote_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}') {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// A command line: `name` followed by `-Param 'value'` pairs; a `None` value writes a
/// switch, `Some` is quoted with [`quote`].
pub fn command_line(name: &str, params: &[(&str, Option<&str>)]) -> String {
    let mut line = name.to_owned();
    for (param, value) in params {
        line.push_str(" -");
        line.push_str(param);
        if let Some(v) = value {
            line.push(' ');
            line.push_str(&quote(v));
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Token, tokenize};

    #[test]
    fn hostile_values_stay_one_string() {
        for hostile in [
            "o'brien@contoso.com",
            "x'; Remove-Mailbox ceo -Confirm:$false; '",
            "$(Invoke-WebRequest evil)",
            "`$x`n",
            "\u{2019}; calc; \u{2018}",
            "semi;colon|pipe&amp",
        ] {
            let tokens = tokenize(&quote(hostile));
            assert_eq!(
                tokens,
                vec![Token::Str {
                    value: hostile.to_owned(),
                    expandable: false
                }],
                "{hostile:?}"
            );
        }
    }

    #[test]
    fn line_breaks_and_controls_become_char_codes_on_one_line() {
        for hostile in [
            "a\nRemove-Mailbox ceo",
            "ceo\r\nGet-Mailbox | Remove-Mailbox",
            "x\u{2028}Remove-Mailbox ceo",
            "\u{1b}]52;c;ZXZpbA==\u{7}",
            "left\u{202E}txt.exe",
        ] {
            let quoted = quote(hostile);
            assert!(!quoted.chars().any(is_unsafe_in_line), "{quoted:?}");
            assert!(quoted.starts_with("('' + "), "{quoted}");
            let text = comment_text(hostile);
            assert!(!text.chars().any(is_unsafe_in_line), "{text:?}");
        }
        assert_eq!(quote("a\nb"), "('' + 'a' + [char]0x000A + 'b')");
    }
}
