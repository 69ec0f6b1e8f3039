//! Values of PowerShell expressions built from literals, the way PowerShell computes
//! them: string concatenation (`'pay' + 'roll@x'`), the format operator
//! (`'{0}@{1}' -f 'payroll','x'`), `-join` (unary and binary), arrays (`'a','b'`),
//! `[char]` / `[string]` casts (`[char]0x41`, `[char]65`), parentheses and variables the
//! script assigned a string. Anything else (a command, a method call, an unknown
//! variable, an expandable string with `$` in it) has no value here: `None`.
//!
//! Precedence follows about_Operator_Precedence: casts and unary `-join`, then `,`, then
//! `-f`, then `+`, then binary `-join`.

use crate::token::Token;

/// A value: one string or an array of strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Val {
    /// A scalar (strings and numbers alike, as text).
    One(String),
    /// An array.
    Many(Vec<String>),
}

impl Val {
    /// The value as PowerShell turns it into a string (`$OFS`, a space, between items).
    pub(crate) fn text(self) -> String {
        match self {
            Val::One(s) => s,
            Val::Many(items) => items.join(" "),
        }
    }

    /// The value as a parameter argument list (items joined by commas, as the audit log
    /// writes multi-valued parameters).
    pub(crate) fn argument(self) -> String {
        match self {
            Val::One(s) => s,
            Val::Many(items) => items.join(","),
        }
    }

    fn items(self) -> Vec<String> {
        match self {
            Val::One(s) => vec![s],
            Val::Many(items) => items,
        }
    }
}

/// How deep parentheses are followed (the group stack is recursive here).
const MAX_DEPTH: usize = 64;

/// The value of `tokens` as one whole expression, if it has one.
pub(crate) fn evaluate(tokens: &[Token], variable: &dyn Fn(&str) -> Option<String>) -> Option<Val> {
    let mut parser = Parser {
        tokens,
        pos: 0,
        variable,
        depth: 0,
    };
    let value = parser.binary_join()?;
    (parser.pos == tokens.len()).then_some(value)
}

struct Parser<'t, 'v> {
    tokens: &'t [Token],
    pos: usize,
    variable: &'v dyn Fn(&str) -> Option<String>,
    depth: usize,
}

impl Parser<'_, '_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn eat_operator(&mut self, name: &str) -> bool {
        let is = matches!(self.peek(), Some(Token::Param { name: n, colon: false }) if n.eq_ignore_ascii_case(name));
        if is {
            self.pos += 1;
        }
        is
    }

    fn eat(&mut self, token: &Token) -> bool {
        let is = self.peek() == Some(token);
        if is {
            self.pos += 1;
        }
        is
    }

    /// `a -join b` (lowest of the operators handled).
    fn binary_join(&mut self) -> Option<Val> {
        let mut value = self.additive()?;
        while self.eat_operator("join") {
            let separator = self.additive()?.text();
            value = Val::One(value.items().join(&separator));
        }
        Some(value)
    }

    /// `a + b`: string concatenation, or array concatenation when `a` is an array.
    fn additive(&mut self) -> Option<Val> {
        let mut value = self.format()?;
        while self.eat(&Token::Plus) {
            let right = self.format()?;
            value = match value {
                Val::One(mut s) => {
                    s.push_str(&right.text());
                    Val::One(s)
                }
                Val::Many(mut items) => {
                    items.extend(right.items());
                    Val::Many(items)
                }
            };
        }
        Some(value)
    }

    /// `'{0}{1}' -f a, b`.
    fn format(&mut self) -> Option<Val> {
        let mut value = self.array()?;
        while self.eat_operator("f") {
            let args = self.array()?.items();
            value = Val::One(composite_format(&value.text(), &args)?);
        }
        Some(value)
    }

    /// `a, b, c`.
    fn array(&mut self) -> Option<Val> {
        let first = self.unary()?;
        if self.peek() != Some(&Token::Comma) {
            return Some(first);
        }
        let mut items = first.items();
        while self.eat(&Token::Comma) {
            items.extend(self.unary()?.items());
        }
        Some(Val::Many(items))
    }

    /// Unary `-join`, casts, then a primary value.
    fn unary(&mut self) -> Option<Val> {
        if self.eat_operator("join") {
            return Some(Val::One(self.unary()?.items().concat()));
        }
        if let Some(Token::Bracket(cast)) = self.peek() {
            let cast = cast.trim_start_matches('[').trim_end_matches(']').trim();
            let cast = cast.to_ascii_lowercase();
            let cast = cast.strip_prefix("system.").unwrap_or(&cast).to_owned();
            self.pos += 1;
            let value = self.unary()?;
            return match cast.as_str() {
                "char" => Some(Val::One(to_char(&value.text())?.to_string())),
                "string" => Some(Val::One(value.text())),
                _ => None,
            };
        }
        self.primary()
    }

    fn primary(&mut self) -> Option<Val> {
        let token = self.peek()?.clone();
        self.pos += 1;
        match token {
            Token::Str { value, expandable } => {
                (!expandable || !value.contains('$')).then_some(Val::One(value))
            }
            // In expression mode a bare word is a command (`(Get-Mailbox ceo)`), not a
            // string; only numbers (`[char]0x0A`) have a value.
            Token::Word(word) if is_number(&word) => Some(Val::One(word)),
            Token::Variable(name) => match name.to_ascii_lowercase().as_str() {
                "null" => Some(Val::One(String::new())),
                _ => (self.variable)(&name).map(Val::One),
            },
            Token::OpenParen => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return None;
                }
                let value = if self.peek() == Some(&Token::CloseParen) {
                    Val::Many(Vec::new())
                } else {
                    self.binary_join()?
                };
                self.depth -= 1;
                self.eat(&Token::CloseParen).then_some(value)
            }
            _ => None,
        }
    }
}

fn is_number(word: &str) -> bool {
    let hex = word.strip_prefix("0x").or_else(|| word.strip_prefix("0X"));
    match hex {
        Some(h) => !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit()),
        None => !word.is_empty() && word.chars().all(|c| c.is_ascii_digit()),
    }
}

/// A character from its code (`65`, `0x41`) or a one-character string.
fn to_char(text: &str) -> Option<char> {
    let t = text.trim();
    let code = if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        u32::from_str_radix(hex, 16).ok()
    } else {
        t.parse::<u32>().ok()
    };
    match code {
        Some(code) => char::from_u32(code),
        None => {
            let mut chars = text.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Some(c),
                _ => None,
            }
        }
    }
}

/// .NET composite formatting: `{n}`, `{n,width}`, `{n:format}` (the format string is
/// ignored: strings have none), `{{` and `}}`. An index without an argument is `None`
/// (PowerShell raises an error and runs nothing).
fn composite_format(pattern: &str, args: &[String]) -> Option<String> {
    let mut out = String::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                out.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                out.push('}');
            }
            '{' => {
                let mut spec = String::new();
                for c in chars.by_ref() {
                    if c == '}' {
                        break;
                    }
                    spec.push(c);
                }
                let spec = spec.split(':').next().unwrap_or("");
                let (index, width) = match spec.split_once(',') {
                    Some((i, w)) => (i, w.trim().parse::<i32>().ok()?),
                    None => (spec, 0),
                };
                let arg = args.get(index.trim().parse::<usize>().ok()?)?;
                let pad = usize::try_from(width.unsigned_abs())
                    .unwrap_or(0)
                    .saturating_sub(arg.chars().count());
                if width < 0 {
                    out.push_str(arg);
                    out.extend(std::iter::repeat_n(' ', pad));
                } else {
                    out.extend(std::iter::repeat_n(' ', pad));
                    out.push_str(arg);
                }
            }
            c => out.push(c),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::tokenize;

    fn value(src: &str) -> Option<String> {
        let known = |name: &str| (name.eq_ignore_ascii_case("d")).then(|| "contoso.com".to_owned());
        evaluate(&tokenize(src), &known).map(Val::text)
    }

    #[test]
    fn operators() {
        assert_eq!(value("('pay'+'roll@x')").as_deref(), Some("payroll@x"));
        assert_eq!(
            value("('{0}@{1}' -f 'payroll', $d)").as_deref(),
            Some("payroll@contoso.com")
        );
        assert_eq!(
            value("(('pay','roll','@x') -join '')").as_deref(),
            Some("payroll@x")
        );
        assert_eq!(value("(-join ('a','b'))").as_deref(), Some("ab"));
        assert_eq!(
            value("('' + 'a' + [char]0x0A + [char]66)").as_deref(),
            Some("a\nB")
        );
        assert_eq!(value("('{{{0,3}}}' -f 'x')").as_deref(), Some("{  x}"));
        assert_eq!(value("('{1}' -f 'x')"), None);
        assert_eq!(value("('a' + $unknown)"), None);
        assert_eq!(value("(Get-Mailbox ceo)"), None);
        assert_eq!(value("(Get-Mailbox)"), None);
        assert_eq!(value("(\"$m@x\")"), None);
    }
}
