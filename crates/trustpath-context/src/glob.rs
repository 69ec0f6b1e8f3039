//! Case-insensitive glob patterns with `*` (any run of characters) and `?` (one character).

use std::fmt;

/// A compiled, case-insensitive glob pattern (`finance*@contoso.com`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    pattern: String,
    lowered: Vec<char>,
}

impl Glob {
    /// Compiles a pattern; every string is a valid pattern.
    pub fn new(pattern: &str) -> Self {
        Glob {
            pattern: pattern.to_string(),
            lowered: pattern.to_lowercase().chars().collect(),
        }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// Whether `text` matches the whole pattern, ignoring case.
    pub fn matches(&self, text: &str) -> bool {
        let text: Vec<char> = text.to_lowercase().chars().collect();
        wildcard_match(&self.lowered, &text)
    }
}

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.pattern)
    }
}

/// Whether a string holds glob metacharacters.
pub(crate) fn has_wildcards(s: &str) -> bool {
    s.contains(['*', '?'])
}

/// Iterative wildcard matching with single-star backtracking (linear in practice).
fn wildcard_match(pattern: &[char], text: &[char]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == '?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    p = star_p + 1;
                    t = star_t + 1;
                    star = Some((star_p, star_t + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::Glob;

    #[test]
    fn matches_stars_and_question_marks_ignoring_case() {
        let g = Glob::new("finance*@contoso.com");
        assert!(g.matches("Finance@Contoso.com"));
        assert!(g.matches("finance-ap@contoso.com"));
        assert!(!g.matches("finance@contoso.com.evil"));
        assert!(Glob::new("us?r@*").matches("USER@x"));
        assert!(!Glob::new("us?r@*").matches("usr@x"));
        assert!(Glob::new("*").matches(""));
        assert!(Glob::new("a*b*c").matches("aXXbYYbc"));
    }
}
