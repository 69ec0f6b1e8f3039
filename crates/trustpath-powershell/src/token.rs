//! A PowerShell tokenizer: enough of the language to read commands the way PowerShell does.
//!
//! It resolves what obfuscation relies on PowerShell to resolve: backtick escapes inside
//! words (`Add-Ma``i``lboxPermission`), both quote styles with their escapes, the Unicode
//! quote and dash look-alikes PowerShell accepts (`‘ ’ ‚ ‛`, `“ ” „`, `– — ―`), comments,
//! line continuations, `-Param:value`, splatting `@p` and the call operator `&`.

/// One token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// A bare word (command name or unquoted argument), escapes resolved.
    Word(String),
    /// A string literal's value; `expandable` for double-quoted strings.
    Str {
        /// The value.
        value: String,
        /// Double-quoted (variables inside would expand).
        expandable: bool,
    },
    /// `-Name` (any dash look-alike); `-Name:value` yields `Param` then the value token.
    Param {
        /// Parameter name without the dash.
        name: String,
        /// Written with a trailing colon (`-Confirm:$false`).
        colon: bool,
    },
    /// `$name` or `${name}`.
    Variable(String),
    /// `@name` (splatting).
    Splat(String),
    /// `(`, `$(`, `@(`.
    OpenParen,
    /// `)`.
    CloseParen,
    /// `{`.
    OpenBrace,
    /// `@{`.
    OpenHash,
    /// `}`.
    CloseBrace,
    /// `[` … `]` type literal or index, kept whole.
    Bracket(String),
    /// `;` or a newline.
    StatementEnd,
    /// `|`.
    Pipe,
    /// `&` (call operator).
    Call,
    /// `=`.
    Assign,
    /// `+`.
    Plus,
    /// `,`.
    Comma,
    /// Anything else (other operators, `.` dot-source, redirections).
    Other(String),
}

fn is_single_quote(c: char) -> bool {
    matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}')
}

pub(crate) fn is_double_quote(c: char) -> bool {
    matches!(c, '"' | '\u{201C}' | '\u{201D}' | '\u{201E}')
}

/// Dashes PowerShell accepts in front of parameters and operators.
pub fn is_dash(c: char) -> bool {
    matches!(c, '-' | '\u{2013}' | '\u{2014}' | '\u{2015}')
}

fn ends_word(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            ';' | '|' | '(' | ')' | '{' | '}' | ',' | '&' | '\n' | '\r'
        )
}

/// Tokenize PowerShell source. Never fails: unterminated constructs end at end of input.
pub fn tokenize(src: &str) -> Vec<Token> {
    Lexer {
        chars: src.chars().collect(),
        pos: 0,
        out: Vec::new(),
    }
    .run()
}

struct Lexer {
    chars: Vec<char>,
    pos: usize,
    out: Vec<Token>,
}

impl Lexer {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    fn run(mut self) -> Vec<Token> {
        while let Some(c) = self.peek(0) {
            self.step(c);
        }
        self.out
    }

    fn step(&mut self, c: char) {
        match c {
            '\n' | ';' => self.single(Token::StatementEnd),
            '`' if matches!(self.peek(1), Some('\n' | '\r')) => self.line_continuation(),
            c if c.is_whitespace() => self.pos += 1,
            '#' => self.line_comment(),
            '<' if self.peek(1) == Some('#') => self.block_comment(),
            '|' if self.peek(1) == Some('|') => self.double(Token::Other("||".into())),
            '|' => self.single(Token::Pipe),
            '&' if self.peek(1) == Some('&') => self.double(Token::Other("&&".into())),
            '&' => self.single(Token::Call),
            '(' => self.single(Token::OpenParen),
            ')' => self.single(Token::CloseParen),
            '{' => self.single(Token::OpenBrace),
            '}' => self.single(Token::CloseBrace),
            ',' => self.single(Token::Comma),
            '=' => self.single(Token::Assign),
            '+' => self.single(Token::Plus),
            '[' => self.bracket(),
            '$' => self.dollar(),
            '@' => self.at(),
            c if is_single_quote(c) => self.single_quoted(),
            c if is_double_quote(c) => self.double_quoted(),
            c if is_dash(c) && self.peek(1).is_some_and(|n| n.is_alphabetic() || n == '_') => {
                self.param()
            }
            _ => self.word(),
        }
    }

    fn single(&mut self, token: Token) {
        self.pos += 1;
        self.out.push(token);
    }

    fn double(&mut self, token: Token) {
        self.pos += 2;
        self.out.push(token);
    }

    fn line_continuation(&mut self) {
        self.pos += 1;
        while matches!(self.peek(0), Some('\r' | '\n')) {
            self.pos += 1;
        }
    }

    fn line_comment(&mut self) {
        while let Some(c) = self.peek(0) {
            if c == '\n' {
                break;
            }
            self.pos += 1;
        }
    }

    fn block_comment(&mut self) {
        self.pos += 2;
        while let Some(c) = self.peek(0) {
            self.pos += 1;
            if c == '#' && self.peek(0) == Some('>') {
                self.pos += 1;
                return;
            }
        }
    }

    fn bracket(&mut self) {
        let start = self.pos;
        let mut depth = 0usize;
        while let Some(c) = self.peek(0) {
            self.pos += 1;
            match c {
                '[' => depth += 1,
                ']' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        break;
                    }
                }
                '\n' => break,
                _ => {}
            }
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        self.out.push(Token::Bracket(text));
    }

    fn dollar(&mut self) {
        match self.peek(1) {
            Some('(') => self.double(Token::OpenParen),
            Some('{') => {
                self.pos += 2;
                let mut name = String::new();
                while let Some(c) = self.peek(0) {
                    self.pos += 1;
                    if c == '}' {
                        break;
                    }
                    name.push(c);
                }
                self.out.push(Token::Variable(name));
            }
            _ => {
                self.pos += 1;
                let name = self.identifier(true);
                self.out.push(Token::Variable(name));
            }
        }
    }

    fn at(&mut self) {
        match self.peek(1) {
            Some('(') => self.double(Token::OpenParen),
            Some('{') => self.double(Token::OpenHash),
            Some(c) if c.is_alphanumeric() || c == '_' => {
                self.pos += 1;
                let name = self.identifier(false);
                self.out.push(Token::Splat(name));
            }
            Some(c) if is_single_quote(c) || is_double_quote(c) => {
                // Here-strings @' … '@ and @" … "@.
                self.pos += 1;
                self.here_string(c);
            }
            _ => self.word(),
        }
    }

    fn identifier(&mut self, allow_scope: bool) -> String {
        let mut name = String::new();
        while let Some(c) = self.peek(0) {
            if c.is_alphanumeric() || c == '_' || c == '?' || (allow_scope && c == ':') {
                name.push(c);
                self.pos += 1;
            } else {
                break;
            }
        }
        name
    }

    fn here_string(&mut self, quote: char) {
        let expandable = is_double_quote(quote);
        self.pos += 1;
        // Content starts after the rest of the opening line.
        while let Some(c) = self.peek(0) {
            self.pos += 1;
            if c == '\n' {
                break;
            }
        }
        let mut value = String::new();
        while let Some(c) = self.peek(0) {
            let at_line_start = value.is_empty() || value.ends_with('\n');
            let closes = if expandable {
                is_double_quote(c)
            } else {
                is_single_quote(c)
            };
            if at_line_start && closes && self.peek(1) == Some('@') {
                self.pos += 2;
                break;
            }
            value.push(c);
            self.pos += 1;
        }
        let value = value
            .strip_suffix('\n')
            .map(|v| v.strip_suffix('\r').unwrap_or(v))
            .unwrap_or(&value)
            .to_owned();
        self.out.push(Token::Str { value, expandable });
    }

    fn single_quoted(&mut self) {
        self.pos += 1;
        let mut value = String::new();
        while let Some(c) = self.peek(0) {
            self.pos += 1;
            if is_single_quote(c) {
                // Two quote characters (any look-alikes) are one literal quote.
                if self.peek(0).is_some_and(is_single_quote) {
                    value.push(c);
                    self.pos += 1;
                    continue;
                }
                break;
            }
            value.push(c);
        }
        self.out.push(Token::Str {
            value,
            expandable: false,
        });
    }

    fn double_quoted(&mut self) {
        self.pos += 1;
        let mut value = String::new();
        while let Some(c) = self.peek(0) {
            self.pos += 1;
            if c == '`' {
                if let Some(next) = self.peek(0) {
                    self.pos += 1;
                    value.push(escape(next));
                }
                continue;
            }
            if is_double_quote(c) {
                if self.peek(0).is_some_and(is_double_quote) {
                    value.push(c);
                    self.pos += 1;
                    continue;
                }
                break;
            }
            value.push(c);
        }
        self.out.push(Token::Str {
            value,
            expandable: true,
        });
    }

    fn param(&mut self) {
        self.pos += 1;
        let mut name = String::new();
        let mut colon = false;
        while let Some(c) = self.peek(0) {
            if c == '`' {
                self.pos += 1;
                if let Some(next) = self.peek(0) {
                    name.push(next);
                    self.pos += 1;
                }
                continue;
            }
            if c == ':' {
                colon = true;
                self.pos += 1;
                break;
            }
            if ends_word(c) || is_single_quote(c) || is_double_quote(c) {
                break;
            }
            name.push(c);
            self.pos += 1;
        }
        self.out.push(Token::Param { name, colon });
    }

    fn word(&mut self) {
        let mut word = String::new();
        while let Some(c) = self.peek(0) {
            if c == '`' {
                self.pos += 1;
                match self.peek(0) {
                    Some('\n' | '\r') | None => break,
                    Some(next) => {
                        word.push(next);
                        self.pos += 1;
                    }
                }
                continue;
            }
            if ends_word(c) || (!word.is_empty() && (is_single_quote(c) || is_double_quote(c))) {
                break;
            }
            if c == '=' && !word.is_empty() {
                break;
            }
            word.push(c);
            self.pos += 1;
        }
        if word.is_empty() {
            // A lone character that starts nothing else: keep it and move on.
            if let Some(c) = self.peek(0) {
                self.pos += 1;
                self.out.push(Token::Other(c.to_string()));
            }
            return;
        }
        self.out.push(Token::Word(word));
    }
}

/// The character a backtick escape stands for in a double-quoted string.
fn escape(c: char) -> char {
    match c {
        '0' => '\0',
        'a' => '\u{7}',
        'b' => '\u{8}',
        'e' => '\u{1b}',
        'f' => '\u{c}',
        'n' => '\n',
        'r' => '\r',
        't' => '\t',
        'v' => '\u{b}',
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(src: &str) -> Vec<Token> {
        tokenize(src)
    }

    #[test]
    fn backticks_inside_words_vanish() {
        assert_eq!(
            words("Add-Ma`i`lboxPermission"),
            vec![Token::Word("Add-MailboxPermission".into())]
        );
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(
            words("'it''s' \"a`tb\"\"c\""),
            vec![
                Token::Str {
                    value: "it's".into(),
                    expandable: false
                },
                Token::Str {
                    value: "a\tb\"c".into(),
                    expandable: true
                },
            ]
        );
        // Unicode single quotes close and double like ASCII ones.
        assert_eq!(
            words("\u{2018}a\u{2019}\u{2019}b\u{2019}"),
            vec![Token::Str {
                value: "a\u{2019}b".into(),
                expandable: false
            }]
        );
    }

    #[test]
    fn params_with_dash_lookalikes_and_colons() {
        assert_eq!(
            words("\u{2013}User x -Confirm:$false"),
            vec![
                Token::Param {
                    name: "User".into(),
                    colon: false
                },
                Token::Word("x".into()),
                Token::Param {
                    name: "Confirm".into(),
                    colon: true
                },
                Token::Variable("false".into()),
            ]
        );
    }

    #[test]
    fn comments_and_continuations() {
        let t = words("Get-X <# hidden #> -A `\n 1 # trailing\nNext");
        assert_eq!(
            t,
            vec![
                Token::Word("Get-X".into()),
                Token::Param {
                    name: "A".into(),
                    colon: false
                },
                Token::Word("1".into()),
                Token::StatementEnd,
                Token::Word("Next".into()),
            ]
        );
    }
}
