//! The Sigma `condition` expression: `and`, `or`, `not`, parentheses, and the
//! quantifiers `1 of sel*`, `all of sel*`, `x of them`.
//!
//! Precedence (highest first): parentheses, `x of`, `not`, `and`, `or`. Identifiers are
//! resolved to search indices while parsing; a pattern (`sel*`) or `them` expands to the
//! matching searches (`them` skips identifiers starting with `_`, as the spec says).

use crate::error::RuleProblem;

/// A compiled condition over the searches of one detection (by index).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Expr {
    /// One search identifier.
    Search(usize),
    /// Negation.
    Not(Box<Expr>),
    /// Every operand holds.
    And(Vec<Expr>),
    /// Any operand holds.
    Or(Vec<Expr>),
    /// At least `n` of the searches hold.
    AtLeast(usize, Vec<usize>),
}

impl Expr {
    /// The searches this condition reads outside any `not`, sorted, each once: what an
    /// explanation reports (kept as [`crate::detection::Detection::positive`]).
    pub(crate) fn positive_searches(&self) -> Vec<usize> {
        let mut out = Vec::new();
        self.collect_positive(true, &mut out);
        out.sort_unstable();
        out.dedup();
        out
    }

    fn collect_positive(&self, positive: bool, out: &mut Vec<usize>) {
        match self {
            Expr::Search(i) => {
                if positive {
                    out.push(*i);
                }
            }
            Expr::Not(inner) => inner.collect_positive(!positive, out),
            Expr::And(list) | Expr::Or(list) => {
                for e in list {
                    e.collect_positive(positive, out);
                }
            }
            Expr::AtLeast(_, list) => {
                if positive {
                    out.extend(list.iter().copied());
                }
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Open,
    Close,
    Word(String),
}

fn tokenize(text: &str) -> Result<Vec<Token>, RuleProblem> {
    let mut tokens = Vec::new();
    let mut word = String::new();
    let flush = |word: &mut String, tokens: &mut Vec<Token>| {
        if !word.is_empty() {
            tokens.push(Token::Word(std::mem::take(word)));
        }
    };
    for c in text.chars() {
        match c {
            '(' | ')' => {
                flush(&mut word, &mut tokens);
                tokens.push(if c == '(' { Token::Open } else { Token::Close });
            }
            '|' => return Err(aggregation_error()),
            c if c.is_whitespace() => flush(&mut word, &mut tokens),
            c => word.push(c),
        }
    }
    flush(&mut word, &mut tokens);
    Ok(tokens)
}

fn aggregation_error() -> RuleProblem {
    RuleProblem::unsupported(
        "Sigma 1.0 aggregation expressions ('| count() …', 'near') are deprecated; use a correlation rule",
    )
}

/// Parses `text` with `names` as the search identifiers (index = position).
pub(crate) fn parse(text: &str, names: &[String]) -> Result<Expr, RuleProblem> {
    let tokens = tokenize(text)?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        names,
    };
    let expr = parser.or()?;
    match parser.tokens.get(parser.pos) {
        None => Ok(expr),
        Some(t) => Err(RuleProblem::schema(format!(
            "condition '{text}': unexpected {} after a complete expression",
            describe(t)
        ))),
    }
}

fn describe(token: &Token) -> String {
    match token {
        Token::Open => "'('".to_owned(),
        Token::Close => "')'".to_owned(),
        Token::Word(w) => format!("'{w}'"),
    }
}

struct Parser<'a> {
    tokens: Vec<Token>,
    pos: usize,
    names: &'a [String],
}

impl Parser<'_> {
    fn peek_word(&self, keyword: &str) -> bool {
        matches!(self.tokens.get(self.pos), Some(Token::Word(w)) if w.eq_ignore_ascii_case(keyword))
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn or(&mut self) -> Result<Expr, RuleProblem> {
        let mut operands = vec![self.and()?];
        while self.peek_word("or") {
            self.pos += 1;
            operands.push(self.and()?);
        }
        Ok(collapse(operands, Expr::Or))
    }

    fn and(&mut self) -> Result<Expr, RuleProblem> {
        let mut operands = vec![self.not()?];
        while self.peek_word("and") {
            self.pos += 1;
            operands.push(self.not()?);
        }
        Ok(collapse(operands, Expr::And))
    }

    fn not(&mut self) -> Result<Expr, RuleProblem> {
        if self.peek_word("not") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, RuleProblem> {
        match self.next() {
            Some(Token::Open) => {
                let inner = self.or()?;
                match self.next() {
                    Some(Token::Close) => Ok(inner),
                    _ => Err(RuleProblem::schema("condition: missing ')'")),
                }
            }
            Some(Token::Word(word)) => self.word(word),
            Some(Token::Close) => Err(RuleProblem::schema("condition: unexpected ')'")),
            None => Err(RuleProblem::schema(
                "condition ends where an operand is expected",
            )),
        }
    }

    fn word(&mut self, word: String) -> Result<Expr, RuleProblem> {
        let lower = word.to_ascii_lowercase();
        if matches!(lower.as_str(), "and" | "or") {
            return Err(RuleProblem::schema(format!(
                "condition: '{word}' where an operand is expected"
            )));
        }
        if lower == "near" {
            return Err(aggregation_error());
        }
        if self.peek_word("of") {
            self.pos += 1;
            return self.quantifier(&lower);
        }
        self.names
            .iter()
            .position(|n| *n == word)
            .map(Expr::Search)
            .ok_or_else(|| {
                RuleProblem::schema(format!(
                    "condition names '{word}', which is not a search identifier of the detection"
                ))
            })
    }

    fn quantifier(&mut self, count: &str) -> Result<Expr, RuleProblem> {
        let Some(Token::Word(target)) = self.next() else {
            return Err(RuleProblem::schema(
                "condition: 'of' must be followed by 'them' or a name pattern",
            ));
        };
        let searches = self.select(&target)?;
        if count == "all" {
            return Ok(collapse(
                searches.into_iter().map(Expr::Search).collect(),
                Expr::And,
            ));
        }
        let n = if count == "any" {
            Ok(1)
        } else {
            count.parse::<usize>()
        };
        match n {
            Ok(0) | Err(_) => Err(RuleProblem::schema(format!(
                "condition: '{count} of' needs 'all' or a positive number"
            ))),
            Ok(1) => Ok(collapse(
                searches.into_iter().map(Expr::Search).collect(),
                Expr::Or,
            )),
            Ok(n) => Ok(Expr::AtLeast(n, searches)),
        }
    }

    /// The searches named by `them` or a wildcard pattern.
    fn select(&self, target: &str) -> Result<Vec<usize>, RuleProblem> {
        let chosen: Vec<usize> = self
            .names
            .iter()
            .enumerate()
            .filter(|(_, name)| {
                if target == "them" {
                    !name.starts_with('_')
                } else {
                    wildcard_match(target, name)
                }
            })
            .map(|(i, _)| i)
            .collect();
        if chosen.is_empty() {
            return Err(RuleProblem::schema(format!(
                "condition: '{target}' matches no search identifier"
            )));
        }
        Ok(chosen)
    }
}

fn collapse(mut operands: Vec<Expr>, make: fn(Vec<Expr>) -> Expr) -> Expr {
    if operands.len() == 1 {
        operands.remove(0)
    } else {
        make(operands)
    }
}

/// `*` matches any run of characters in identifier patterns.
fn wildcard_match(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (Some(first), Some(last)) = (parts.first(), parts.last()) else {
        return false;
    };
    if parts.len() == 1 {
        return pattern == name;
    }
    if !name.starts_with(first) || name.len() < first.len() + last.len() || !name.ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(at) => rest = &rest[at + middle.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn precedence_not_binds_tighter_than_and_than_or() {
        let n = names(&["a", "b", "c"]);
        let e = parse("a or not b and c", &n).unwrap();
        assert_eq!(
            e,
            Expr::Or(vec![
                Expr::Search(0),
                Expr::And(vec![Expr::Not(Box::new(Expr::Search(1))), Expr::Search(2)])
            ])
        );
    }

    #[test]
    fn quantifiers_and_them() {
        let n = names(&["sel1", "sel2", "_hidden", "filter"]);
        assert_eq!(
            parse("1 of them", &n).unwrap(),
            Expr::Or(vec![Expr::Search(0), Expr::Search(1), Expr::Search(3)])
        );
        assert_eq!(
            parse("all of sel*", &n).unwrap(),
            Expr::And(vec![Expr::Search(0), Expr::Search(1)])
        );
        assert_eq!(
            parse("2 of them", &n).unwrap(),
            Expr::AtLeast(2, vec![0, 1, 3])
        );
        assert!(parse("1 of nothing*", &n).is_err());
    }

    #[test]
    fn aggregations_are_rejected_with_advice() {
        let err = parse("sel | count() > 5", &names(&["sel"])).unwrap_err();
        assert!(err.reason.contains("correlation rule"));
        assert!(parse("sel near other", &names(&["sel", "other"])).is_err());
    }

    #[test]
    fn wildcard_identifiers() {
        assert!(wildcard_match("sel*", "selection"));
        assert!(wildcard_match("*_cli", "proc_cli"));
        assert!(wildcard_match("a*b*c", "a_x_b_y_c"));
        assert!(!wildcard_match("sel*", "filter"));
    }
}
