//! Text from logs on its way to a terminal: control characters (C0, C1, DEL — which
//! carry OSC 8 links, OSC 52 clipboard writes, title changes, cursor moves and the CR/LF
//! that forge table lines), Unicode line/paragraph separators and bidirectional controls
//! (U+202E right-to-left override) are written as visible `\u{…}` escapes.

use std::borrow::Cow;

/// Whether `c` must not reach a terminal raw.
pub fn is_unsafe_for_terminal(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// `text` with every unsafe character written as `\u{…}` (borrowed when already safe).
pub fn terminal_text(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe_for_terminal) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe_for_terminal(c) {
            out.push_str(&format!("\\u{{{:X}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_reach_the_terminal_as_text() {
        let hostile =
            "a\u{1b}]8;;http://evil\u{7}link\u{1b}]8;;\u{7}\r\nFAKE ROW\u{202E}txt\u{9b}2J";
        let safe = terminal_text(hostile);
        assert!(!safe.chars().any(is_unsafe_for_terminal), "{safe}");
        assert!(safe.contains("\\u{1B}") && safe.contains("\\u{202E}") && safe.contains("\\u{A}"));
        assert!(matches!(terminal_text("plain ü"), Cow::Borrowed(_)));
    }
}
