//! Command extraction: which commands a script or command line runs, with which
//! parameters, after resolving what PowerShell would resolve.
//!
//! Handled: statements and pipelines, nested blocks and sub-expressions, the call
//! operator on string literals and on variables assigned a string, string concatenation
//! of literals, aliases defined in the script (`Set-Alias`, `New-Alias`, `sal`, `nal`),
//! splatting of hashtables assigned in the script (`$p = @{…}; Cmd @p`), parameter
//! abbreviations of known cmdlets, `Invoke-Expression`/`iex` on a string,
//! `powershell.exe`/`pwsh` `-Command` and `-EncodedCommand`, and `cmd.exe /c`.

use crate::cmdlets::{self, BUILTIN_ALIASES};
use crate::expr::Val;
use crate::token::{Token, tokenize};
use base64::Engine;
use std::collections::BTreeMap;

/// One command invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// Command name (canonical spelling for known cmdlets).
    pub name: String,
    /// Named parameters in order, canonical names for known cmdlets. A switch has value
    /// `"True"`.
    pub params: Vec<(String, String)>,
    /// Positional arguments not bound to a known parameter.
    pub positional: Vec<String>,
}

impl Invocation {
    /// The value of a parameter (case-insensitive name).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// How deep `-Command`, `-EncodedCommand` and `iex` strings are followed.
const MAX_NESTING: usize = 4;

/// Every command the source runs, in order.
pub fn commands(src: &str) -> Vec<Invocation> {
    let mut scope = Scope::default();
    let mut out = Vec::new();
    scope.run(src, 0, &mut out);
    out
}

#[derive(Default)]
struct Scope {
    strings: BTreeMap<String, String>,
    hashes: BTreeMap<String, Vec<(String, String)>>,
    aliases: BTreeMap<String, String>,
    /// The string the previous pipeline element wrote, when it was a literal expression
    /// (`'Add-MailboxPermission …' | iex`).
    piped: Option<String>,
}

impl Scope {
    fn run(&mut self, src: &str, depth: usize, out: &mut Vec<Invocation>) {
        if depth > MAX_NESTING {
            return;
        }
        let tokens = tokenize(src);
        self.statements(&tokens, depth, out);
    }

    /// Split `tokens` into pipeline elements, nested blocks included, without recursion
    /// (a script can nest groups as deep as it likes): entering a group remembers where
    /// the enclosing element started; leaving it ends the group's last element and
    /// resumes the enclosing one, which thus keeps the group as an argument
    /// (`-Identity (Get-Mailbox x)`).
    fn statements(&mut self, tokens: &[Token], depth: usize, out: &mut Vec<Invocation>) {
        let mut enclosing: Vec<usize> = Vec::new();
        let mut start = 0;
        let mut i = 0;
        while i < tokens.len() {
            match &tokens[i] {
                Token::StatementEnd | Token::Pipe => {
                    let segment = &tokens[start..i];
                    let piped = match tokens[i] {
                        Token::Pipe => self.value_of(segment),
                        _ => None,
                    };
                    self.element(segment, depth, out);
                    self.piped = piped;
                    start = i + 1;
                }
                Token::OpenBrace | Token::OpenParen => {
                    enclosing.push(start);
                    start = i + 1;
                }
                Token::OpenHash => i = matching_close(tokens, i),
                Token::CloseBrace | Token::CloseParen => {
                    self.element(&tokens[start..i], depth, out);
                    self.piped = None;
                    start = enclosing.pop().unwrap_or(i + 1);
                }
                _ => {}
            }
            i += 1;
        }
        let end = tokens.len();
        self.element(&tokens[start.min(end)..], depth, out);
        self.piped = None;
        while let Some(outer) = enclosing.pop() {
            self.element(&tokens[outer.min(end)..], depth, out);
        }
    }

    /// One pipeline element: an assignment or a command.
    fn element(&mut self, tokens: &[Token], depth: usize, out: &mut Vec<Invocation>) {
        // Type constraints before an assignment (`[hashtable]$p = @{…}`) change nothing here.
        let untyped = tokens
            .iter()
            .position(|t| !matches!(t, Token::Bracket(_)))
            .map_or(&tokens[tokens.len()..], |first| &tokens[first..]);
        if let [Token::Variable(name), Token::Assign, rest @ ..] = untyped {
            self.assign(name, rest);
            return;
        }
        match tokens {
            [] => {}
            [Token::Variable(name), Token::Assign, rest @ ..] => self.assign(name, rest),
            // `& ('Add-Mail' + 'boxPermission') …`: the command name is an expression.
            [Token::Call, Token::OpenParen, ..] => {
                let close = matching_close(tokens, 1);
                let name = self.value_of(&tokens[2..close.min(tokens.len())]);
                if let Some(name) = name {
                    let rest = tokens.get(close + 1..).unwrap_or(&[]);
                    self.command(&name, rest, depth, out);
                }
            }
            [Token::Call | Token::Other(_), target, rest @ ..]
                if matches!(tokens[0], Token::Call)
                    || matches!(&tokens[0], Token::Other(s) if s == ".") =>
            {
                if let Some(name) = self.value_of(std::slice::from_ref(target)) {
                    self.command(&name, rest, depth, out);
                }
            }
            [Token::Word(name), rest @ ..] if !is_keyword(name) => {
                self.command(name, rest, depth, out);
            }
            // A process command line (4688, Sysmon 1) starting with a quoted script host:
            // in PowerShell it would be an expression, for Windows it is the program.
            [Token::Str { value, .. }, rest @ ..] if is_quoted_script_host(value) => {
                self.command(value, rest, depth, out);
            }
            _ => {}
        }
    }

    fn assign(&mut self, name: &str, rest: &[Token]) {
        let key = name.to_ascii_lowercase();
        if let [Token::OpenHash, ..] = rest {
            let close = matching_close(rest, 0);
            let entries = self.hash_entries(&rest[1..close.min(rest.len())]);
            self.hashes.insert(key, entries);
        } else if let Some(value) = self.value_of(rest) {
            self.strings.insert(key, value);
        }
    }

    fn hash_entries(&self, tokens: &[Token]) -> Vec<(String, String)> {
        let mut entries = Vec::new();
        for entry in tokens.split(|t| matches!(t, Token::StatementEnd)) {
            if let [key, Token::Assign, value @ ..] = entry {
                let key = match key {
                    Token::Word(w) => w.clone(),
                    Token::Str { value, .. } => value.clone(),
                    _ => continue,
                };
                let value = self.group_value(value).unwrap_or_default();
                entries.push((key, value));
            }
        }
        entries
    }

    /// The string value of an expression: literals (a bare word too, as in argument
    /// mode), known variables and `+`; else any expression [`crate::expr`] evaluates
    /// (`-f`, `-join`, arrays, `[char]` casts, nested parentheses).
    fn value_of(&self, tokens: &[Token]) -> Option<String> {
        self.literal_value(tokens).or_else(|| {
            let variable = |name: &str| self.strings.get(&name.to_ascii_lowercase()).cloned();
            crate::expr::evaluate(tokens, &variable).map(Val::text)
        })
    }

    /// The value of a parenthesised argument (`-Identity ('pay'+'roll@x')`), items of an
    /// array joined by commas.
    fn group_value(&self, tokens: &[Token]) -> Option<String> {
        if let Some(v) = self.literal_value(tokens) {
            return Some(v);
        }
        let variable = |name: &str| self.strings.get(&name.to_ascii_lowercase()).cloned();
        crate::expr::evaluate(tokens, &variable).map(Val::argument)
    }

    fn literal_value(&self, tokens: &[Token]) -> Option<String> {
        let tokens = strip_parens(tokens);
        let mut value = String::new();
        let mut expect_operand = true;
        for token in tokens {
            match (token, expect_operand) {
                (Token::Plus, false) => expect_operand = true,
                (Token::Str { value: v, .. } | Token::Word(v), true) => {
                    value.push_str(v);
                    expect_operand = false;
                }
                (Token::Variable(name), true) => {
                    value.push_str(self.strings.get(&name.to_ascii_lowercase())?);
                    expect_operand = false;
                }
                _ => return None,
            }
        }
        (!expect_operand).then_some(value)
    }

    fn command(&mut self, written: &str, args: &[Token], depth: usize, out: &mut Vec<Invocation>) {
        let name = self.resolve_name(written);
        let invocation = self.bind(&name, args);
        self.follow(&invocation, args, depth, out);
        out.push(invocation);
    }

    fn resolve_name(&self, written: &str) -> String {
        // `ExchangeOnlineManagement\Add-MailboxPermission`: a module-qualified cmdlet.
        let mut name = match written.rsplit_once('\\') {
            Some((_, cmdlet)) if cmdlets::find(cmdlet).is_some() => cmdlet.to_owned(),
            _ => written.to_owned(),
        };
        for _ in 0..4 {
            let lower = name.to_ascii_lowercase();
            if let Some(target) = self.aliases.get(&lower) {
                name = target.clone();
            } else if let Some((_, target)) =
                BUILTIN_ALIASES.iter().find(|(a, _)| *a == lower.as_str())
            {
                name = (*target).to_owned();
            } else {
                break;
            }
        }
        match cmdlets::find(&name) {
            Some(known) => known.name.to_owned(),
            None => name,
        }
    }

    fn bind(&self, name: &str, args: &[Token]) -> Invocation {
        let known = cmdlets::find(name);
        let mut invocation = Invocation {
            name: name.to_owned(),
            params: Vec::new(),
            positional: Vec::new(),
        };
        let args = arg_items(args);
        let mut i = 0;
        while i < args.len() {
            match args[i] {
                ArgItem::Token(Token::Param { name: param, colon }) => {
                    let canonical = match known {
                        Some(k) => cmdlets::resolve_param(k, param),
                        None => param.clone(),
                    };
                    let takes_value = match args.get(i + 1) {
                        Some(ArgItem::Token(Token::Param { .. })) => *colon,
                        Some(ArgItem::Token(Token::Comma)) | None => false,
                        Some(_) => true,
                    };
                    let value = if takes_value {
                        i += 1;
                        let mut value = self.item_value(&args[i]);
                        // `-AccessRights ReadPermission, ChangePermission`: an array.
                        while let (Some(ArgItem::Token(Token::Comma)), Some(next)) =
                            (args.get(i + 1), args.get(i + 2))
                        {
                            value.push(',');
                            value.push_str(&self.item_value(next));
                            i += 2;
                        }
                        value
                    } else {
                        "True".to_owned()
                    };
                    invocation.params.push((canonical, value));
                }
                ArgItem::Token(Token::Splat(var)) => {
                    if let Some(entries) = self.hashes.get(&var.to_ascii_lowercase()) {
                        for (k, v) in entries {
                            let canonical = match known {
                                Some(c) => cmdlets::resolve_param(c, k),
                                None => k.clone(),
                            };
                            invocation.params.push((canonical, v.clone()));
                        }
                    }
                }
                ref other => invocation.positional.push(self.item_value(other)),
            }
            i += 1;
        }
        self.bind_positional(known, &mut invocation);
        invocation
    }

    /// An argument's value. A group PowerShell would evaluate is evaluated; one that
    /// cannot be (`(Get-Mailbox x)`, an unknown variable) stays as `$(…)`, which names
    /// nothing ([`crate::expr`]); a hashtable is written back as `@{Key='v'; …}`.
    fn item_value(&self, item: &ArgItem<'_>) -> String {
        match item {
            ArgItem::Token(token) => self.argument(token),
            ArgItem::Group(group) => match group.first() {
                Some(Token::OpenHash) => {
                    let inner = &group[1..group.len().saturating_sub(1).max(1)];
                    let entries: Vec<String> = self
                        .hash_entries(inner)
                        .into_iter()
                        .map(|(k, v)| format!("{k}={}", crate::quote::quote(&v)))
                        .collect();
                    format!("@{{{}}}", entries.join("; "))
                }
                _ => self
                    .group_value(group)
                    .unwrap_or_else(|| format!("$({})", render(group))),
            },
        }
    }

    fn bind_positional(&self, known: Option<&cmdlets::KnownCmdlet>, inv: &mut Invocation) {
        let Some(param) = known.and_then(|k| k.positional) else {
            return;
        };
        if inv.param(param).is_none() && !inv.positional.is_empty() {
            let value = inv.positional.remove(0);
            inv.params.insert(0, (param.to_owned(), value));
        }
        let is_alias = matches!(inv.name.as_str(), "Set-Alias" | "New-Alias");
        if is_alias && inv.param("Value").is_none() && !inv.positional.is_empty() {
            let value = inv.positional.remove(0);
            inv.params.push(("Value".to_owned(), value));
        }
    }

    fn argument(&self, token: &Token) -> String {
        match token {
            Token::Word(w) => w.clone(),
            Token::Str { value, .. } => value.clone(),
            Token::Variable(name) => self
                .strings
                .get(&name.to_ascii_lowercase())
                .cloned()
                .unwrap_or_else(|| format!("${name}")),
            Token::Bracket(text) | Token::Other(text) => text.clone(),
            _ => String::new(),
        }
    }

    /// Effects of a command on the scope, and the scripts it runs.
    fn follow(
        &mut self,
        inv: &Invocation,
        args: &[Token],
        depth: usize,
        out: &mut Vec<Invocation>,
    ) {
        match inv.name.as_str() {
            "Set-Alias" | "New-Alias" => {
                if let (Some(name), Some(value)) = (inv.param("Name"), inv.param("Value")) {
                    self.aliases
                        .insert(name.to_ascii_lowercase(), value.to_owned());
                }
            }
            "Invoke-Expression" => {
                let script = inv
                    .param("Command")
                    .filter(|c| !c.starts_with('$'))
                    .map(str::to_owned)
                    .or_else(|| self.value_of(args))
                    .or_else(|| self.piped.take());
                if let Some(script) = script {
                    self.run(&script, depth + 1, out);
                }
            }
            _ => {
                if let Some(script) = host_script(inv).or_else(|| cmd_script(&inv.name, args)) {
                    self.run(&script, depth + 1, out);
                }
            }
        }
    }
}

/// A quoted string naming a script host whose arguments are a script
/// (`"C:\\…\\powershell.exe"`, `"pwsh"`, `"cmd.exe"`): other quoted programs run no
/// PowerShell, so they are not commands here.
pub(crate) fn is_quoted_script_host(value: &str) -> bool {
    let path = value.trim();
    let name = path
        .rsplit(['\\', '/'])
        .next()
        .unwrap_or(path)
        .to_ascii_lowercase();
    let name = name.strip_suffix(".exe").unwrap_or(&name);
    matches!(name, "powershell" | "pwsh" | "powershell_ise" | "cmd")
}

fn is_keyword(word: &str) -> bool {
    const KEYWORDS: &[&str] = &[
        "if", "elseif", "else", "foreach", "for", "while", "do", "until", "switch", "function",
        "filter", "param", "return", "try", "catch", "finally", "throw", "trap", "begin",
        "process", "end", "break", "continue", "exit", "in",
    ];
    KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(word))
}

/// Index of the token closing the group opened at `open` (`tokens.len()` if unclosed).
fn matching_close(tokens: &[Token], open: usize) -> usize {
    let mut depth = 0usize;
    for (i, token) in tokens.iter().enumerate().skip(open) {
        match token {
            Token::OpenBrace | Token::OpenHash | Token::OpenParen => depth += 1,
            Token::CloseBrace | Token::CloseParen => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    tokens.len()
}

/// One argument of a command: a token, or a whole group (`( … )`, `@{ … }`, `{ … }`)
/// from its opening to its closing token (the commands inside run separately).
enum ArgItem<'t> {
    Token(&'t Token),
    Group(&'t [Token]),
}

/// The arguments of a command, groups kept whole.
fn arg_items(tokens: &[Token]) -> Vec<ArgItem<'_>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            Token::OpenBrace | Token::OpenHash | Token::OpenParen => {
                let close = matching_close(tokens, i);
                out.push(ArgItem::Group(&tokens[i..(close + 1).min(tokens.len())]));
                i = close;
            }
            token => out.push(ArgItem::Token(token)),
        }
        i += 1;
    }
    out
}

fn strip_parens(mut tokens: &[Token]) -> &[Token] {
    while let [Token::OpenParen, inner @ .., Token::CloseParen] = tokens {
        tokens = inner;
    }
    tokens
}

/// The script a `powershell.exe`/`pwsh`/`cmd.exe` invocation runs, if any.
fn host_script(inv: &Invocation) -> Option<String> {
    let exe = inv
        .name
        .rsplit(['\\', '/'])
        .next()
        .unwrap_or(&inv.name)
        .to_ascii_lowercase();
    let exe = exe.strip_suffix(".exe").unwrap_or(&exe);
    match exe {
        "powershell" | "pwsh" | "powershell_ise" => powershell_script(inv),
        _ => None,
    }
}

/// For `cmd.exe /c …` and `/k …`: the rest of the command line, as source text.
fn cmd_script(name: &str, args: &[Token]) -> Option<String> {
    let exe = name
        .rsplit(['\\', '/'])
        .next()
        .unwrap_or(name)
        .to_ascii_lowercase();
    if exe != "cmd" && exe != "cmd.exe" {
        return None;
    }
    let pos = args.iter().position(
        |t| matches!(t, Token::Word(w) if w.eq_ignore_ascii_case("/c") || w.eq_ignore_ascii_case("/k")),
    )?;
    Some(render(&args[pos + 1..]))
}

/// Tokens back to source text (quotes re-added where needed).
fn render(tokens: &[Token]) -> String {
    let parts: Vec<String> = tokens
        .iter()
        .map(|t| match t {
            Token::Word(w) => w.clone(),
            Token::Str { value, .. } => crate::quote::quote(value),
            Token::Param { name, colon } => format!("-{name}{}", if *colon { ":" } else { "" }),
            Token::Variable(v) => format!("${v}"),
            Token::Splat(v) => format!("@{v}"),
            Token::OpenParen => "(".into(),
            Token::CloseParen => ")".into(),
            Token::OpenBrace => "{".into(),
            Token::OpenHash => "@{".into(),
            Token::CloseBrace => "}".into(),
            Token::Bracket(b) | Token::Other(b) => b.clone(),
            Token::StatementEnd => ";".into(),
            Token::Pipe => "|".into(),
            Token::Call => "&".into(),
            Token::Assign => "=".into(),
            Token::Plus => "+".into(),
            Token::Comma => ",".into(),
        })
        .collect();
    parts.join(" ")
}

fn powershell_script(inv: &Invocation) -> Option<String> {
    for (name, value) in &inv.params {
        let lower = name.to_ascii_lowercase();
        if is_encoded_command_param(&lower) {
            return decode_encoded_command(value);
        }
        if "command".starts_with(&lower) && lower.starts_with('c') {
            let mut script = value.clone();
            for rest in &inv.positional {
                script.push(' ');
                script.push_str(rest);
            }
            return Some(script);
        }
    }
    None
}

/// `-EncodedCommand` as `powershell.exe` and `pwsh` accept it (about_PowerShell_exe,
/// about_Pwsh): the full name, its aliases `-e` and `-ec`, and every prefix of the name
/// from `-e` on (`-en`, `-enc`, `-encodedc` …), any case. `-ea`/`-encodeda…`
/// (`-EncodedArguments`) and `-ex` (`-ExecutionPolicy`) are not it.
fn is_encoded_command_param(lower: &str) -> bool {
    lower == "ec" || (lower.starts_with('e') && "encodedcommand".starts_with(lower))
}

/// Decode a `-EncodedCommand` value: base64 (padded or not, whitespace and quotes
/// ignored) of UTF-16LE text; a leading byte-order mark is dropped.
pub fn decode_encoded_command(value: &str) -> Option<String> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    let cleaned: String = value
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '\'' | '"'))
        .collect();
    let bytes = LENIENT.decode(cleaned.trim_end_matches('=')).ok()?;
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
        .collect();
    let text = String::from_utf16_lossy(&units);
    Some(text.strip_prefix('\u{feff}').unwrap_or(&text).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first(src: &str, name: &str) -> Invocation {
        match commands(src).into_iter().find(|c| c.name == name) {
            Some(c) => c,
            None => panic!("{name} not found in {:?}", commands(src)),
        }
    }

    #[test]
    fn plain_command() {
        let c = first(
            "Add-MailboxPermission -Identity ceo@contoso.com -User eve@contoso.com -AccessRights FullAccess -InheritanceType All",
            "Add-MailboxPermission",
        );
        assert_eq!(c.param("Identity"), Some("ceo@contoso.com"));
        assert_eq!(c.param("User"), Some("eve@contoso.com"));
        assert_eq!(c.param("AccessRights"), Some("FullAccess"));
    }

    #[test]
    fn obfuscation_resolves() {
        let c = first(
            "aDd-mA`Il`BoxPeRmIssIoN 'ceo@contoso.com' -u eve@contoso.com -Acc FullAccess",
            "Add-MailboxPermission",
        );
        assert_eq!(c.param("Identity"), Some("ceo@contoso.com"));
        assert_eq!(c.param("User"), Some("eve@contoso.com"));
        assert_eq!(c.param("AccessRights"), Some("FullAccess"));
    }

    #[test]
    fn splatting_aliases_and_call_operator() {
        let script = "$p = @{Identity='cfo@contoso.com'; User='eve@contoso.com'; AccessRights='FullAccess'}\n\
                      Set-Alias amp Add-MailboxPermission\namp @p\n\
                      $c = 'Add-Recipient' + 'Permission'; & $c -Identity cfo@contoso.com -Trustee eve -AccessRights SendAs";
        let cmds = commands(script);
        let amp = cmds.iter().find(|c| c.name == "Add-MailboxPermission");
        assert_eq!(
            amp.and_then(|c| c.param("Identity")),
            Some("cfo@contoso.com")
        );
        assert_eq!(amp.and_then(|c| c.param("User")), Some("eve@contoso.com"));
        let arp = cmds.iter().find(|c| c.name == "Add-RecipientPermission");
        assert_eq!(arp.and_then(|c| c.param("Trustee")), Some("eve"));
    }

    #[test]
    fn command_lines_and_encoded_commands() {
        let c = first(
            r#"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe -NoP -c "Add-MailboxPermission -Identity ceo -User eve -AccessRights FullAccess""#,
            "Add-MailboxPermission",
        );
        assert_eq!(c.param("User"), Some("eve"));
        let script: Vec<u8> = "Add-MailboxPermission -Identity ceo -User eve"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let encoded = base64::engine::general_purpose::STANDARD.encode(script);
        let c = first(
            &format!("cmd.exe /c powershell -enc {encoded}"),
            "Add-MailboxPermission",
        );
        assert_eq!(c.param("Identity"), Some("ceo"));
    }

    #[test]
    fn quoted_program_paths_in_process_command_lines() {
        let c = first(
            r#""C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe" -NoProfile -c "Add-MailboxPermission -Identity ceo -User eve -AccessRights FullAccess""#,
            "Add-MailboxPermission",
        );
        assert_eq!(c.param("User"), Some("eve"));
    }

    #[test]
    fn module_qualified_typed_and_computed_names() {
        let c = first(
            "ExchangeOnlineManagement\\Add-MailboxPermission -Identity ceo -User eve -AccessRights FullAccess",
            "Add-MailboxPermission",
        );
        assert_eq!(c.param("User"), Some("eve"));
        let c = first(
            "[hashtable]$p = @{Identity='ceo'; User='eve'}; Add-MailboxPermission @p",
            "Add-MailboxPermission",
        );
        assert_eq!(c.param("Identity"), Some("ceo"));
        let c = first(
            "$x='Add-Mailbox'; & ($x+'Permission') -Identity ceo -User eve",
            "Add-MailboxPermission",
        );
        assert_eq!(c.param("User"), Some("eve"));
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let src = format!(
            "{}Add-MailboxPermission -Identity ceo -User eve",
            "(".repeat(200_000)
        );
        assert!(
            commands(&src)
                .iter()
                .any(|c| c.name == "Add-MailboxPermission")
        );
        let closed = format!(
            "{}Add-MailboxPermission -Identity ceo -User eve{}",
            "(".repeat(100_000),
            ")".repeat(100_000)
        );
        assert!(
            commands(&closed)
                .iter()
                .any(|c| c.name == "Add-MailboxPermission")
        );
    }

    #[test]
    fn nested_blocks_and_iex() {
        let cmds = commands(
            "foreach ($m in $list) { Add-MailboxFolderPermission -Identity \"$($m):\\Calendar\" -User eve -AccessRights Editor }\n\
             iex 'Set-Mailbox ceo -GrantSendOnBehalfTo eve'",
        );
        assert!(cmds.iter().any(|c| c.name == "Add-MailboxFolderPermission"));
        let set = cmds.iter().find(|c| c.name == "Set-Mailbox");
        assert_eq!(
            set.and_then(|c| c.param("GrantSendOnBehalfTo")),
            Some("eve")
        );
        assert_eq!(set.and_then(|c| c.param("Identity")), Some("ceo"));
    }
    fn encode(script: &str) -> String {
        let bytes: Vec<u8> = script.encode_utf16().flat_map(u16::to_le_bytes).collect();
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    /// Every documented spelling of `-EncodedCommand` (about_PowerShell_exe: `-e`,
    /// `-ec`, and any prefix of the name), padded or not, quoted or not.
    #[test]
    fn encoded_command_aliases_and_prefixes() {
        // 46 characters: 92 bytes, so the base64 ends in `=` and padding is exercised.
        let script = "Add-MailboxPermission -Identity ceo -User eve ";
        let padded = encode(script);
        assert!(padded.ends_with('='), "{padded}");
        let unpadded = padded.trim_end_matches('=').to_owned();
        for param in [
            "-e",
            "-E",
            "-ec",
            "-EC",
            "-en",
            "-enc",
            "-ENCOD",
            "-encodedc",
            "-EncodedCommand",
            "\u{2013}ec",
        ] {
            for value in [&padded, &unpadded, &format!("\"{padded}\"")] {
                let line = format!("powershell.exe -NoP -NonI -W Hidden {param} {value}");
                let found = commands(&line)
                    .into_iter()
                    .find(|c| c.name == "Add-MailboxPermission");
                assert_eq!(
                    found.as_ref().and_then(|c| c.param("User")),
                    Some("eve"),
                    "{line}"
                );
            }
        }
        // -ExecutionPolicy and -EncodedArguments are not -EncodedCommand.
        for param in ["-ex", "-ea", "-encodeda"] {
            let line = format!("pwsh {param} {padded}");
            assert!(
                !commands(&line)
                    .iter()
                    .any(|c| c.name == "Add-MailboxPermission"),
                "{line}"
            );
        }
        assert!(decode_encoded_command("not base64!").is_none());
    }

    #[test]
    fn parenthesised_arguments_are_evaluated() {
        let c = first(
            "Add-MailboxPermission -Identity ('pay'+'roll@contoso.com') -User ('{0}@{1}' -f 'eve','contoso.com') -AccessRights (('Full','Access') -join '')",
            "Add-MailboxPermission",
        );
        assert_eq!(c.param("Identity"), Some("payroll@contoso.com"));
        assert_eq!(c.param("User"), Some("eve@contoso.com"));
        assert_eq!(c.param("AccessRights"), Some("FullAccess"));
        // A group with a command or an unknown variable names nothing.
        let c = first(
            "Add-MailboxPermission -Identity (Get-Mailbox ceo) -User ($u + '@x')",
            "Add-MailboxPermission",
        );
        assert!(c.param("Identity").is_some_and(|v| v.starts_with('$')));
        assert!(c.param("User").is_some_and(|v| v.starts_with('$')));
        // A hashtable argument keeps its entries (Set-Mailbox -GrantSendOnBehalfTo @{Add=…}).
        let c = first(
            "$m = 'treasury@contoso.com'; Set-Alias -Name smb -Value Set-Mailbox\nsmb -Identity $m -GrantSendOnBehalfTo @{Add='ap.clerk@contoso.com','b@contoso.com'}",
            "Set-Mailbox",
        );
        assert_eq!(c.param("Identity"), Some("treasury@contoso.com"));
        assert_eq!(
            c.param("GrantSendOnBehalfTo"),
            Some("@{Add='ap.clerk@contoso.com,b@contoso.com'}")
        );
        let c = first(
            "Add-MailboxPermission ceo -User eve -AccessRights ReadPermission, ChangePermission",
            "Add-MailboxPermission",
        );
        assert_eq!(
            c.param("AccessRights"),
            Some("ReadPermission,ChangePermission")
        );
    }

    #[test]
    fn aliases_and_invoke_expression_forms() {
        for script in [
            "New-Alias -Name grant -Value Add-RecipientPermission; grant -Identity cfo -Trustee eve -AccessRights SendAs",
            "nal grant Add-RecipientPermission\ngrant cfo -Trustee eve",
            "sal -Value Add-RecipientPermission -Name grant; grant cfo -Trustee eve",
            "iex 'Add-RecipientPermission cfo -Trustee eve'",
            "Invoke-Expression -Command \"Add-RecipientPermission cfo -Trustee eve\"",
            "iex ('Add-Recipient' + 'Permission cfo -Trustee eve')",
            "'Add-RecipientPermission cfo -Trustee eve' | iex",
            "('Add-Recipient{0} cfo -Trustee eve' -f 'Permission') | Invoke-Expression",
        ] {
            let c = first(script, "Add-RecipientPermission");
            assert_eq!(c.param("Trustee"), Some("eve"), "{script}");
        }
        // Text that is only written, or iex of an unknown variable, runs nothing.
        for script in [
            "Write-Host 'Add-RecipientPermission cfo -Trustee eve'",
            "'Add-RecipientPermission cfo -Trustee eve' | Out-File x.ps1",
            "iex $payload",
            "# Add-RecipientPermission cfo -Trustee eve",
        ] {
            assert!(
                !commands(script)
                    .iter()
                    .any(|c| c.name == "Add-RecipientPermission"),
                "{script}"
            );
        }
    }
}
