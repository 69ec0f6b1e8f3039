//! Quoting values for PowerShell so that no mailbox or user name can inject code.
//!
//! A single-quoted PowerShell string expands nothing: no `$()`, no variables, no
//! backtick escapes. Its only special characters are the single quote and its Unicode
//! look-alikes (U+2018, U+2019, U+201A, U+201B), each of which PowerShell accepts as a
//! quote; a quote inside the string is written twice. Newlines, semicolons, backticks and
//! `$()` are then plain text.

/// `value` as a single-quoted PowerShell string literal.
pub fn quote(value: &str) -> String {
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
            "a\nRemove-Mailbox ceo",
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
}
