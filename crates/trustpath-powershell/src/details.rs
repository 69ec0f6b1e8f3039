//! PowerShell module-logging text (event 4103 `Payload`, event 800 pipeline details):
//!
//! ```text
//! CommandInvocation(Add-MailboxPermission): "Add-MailboxPermission"
//! ParameterBinding(Add-MailboxPermission): name="Identity"; value="ceo@contoso.com"
//! ParameterBinding(Add-MailboxPermission): name="AccessRights"; value="FullAccess"
//! ```
//!
//! Each `CommandInvocation` line starts an invocation; `ParameterBinding` lines add
//! parameters to the invocation of the same command. These are already-bound values, so
//! no obfuscation survives here.

use crate::cmdlets;
use crate::command::Invocation;

/// The invocations described by module-logging text.
pub fn pipeline_details(text: &str) -> Vec<Invocation> {
    let mut out: Vec<Invocation> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("CommandInvocation(") {
            if let Some((name, _)) = rest.split_once(')') {
                out.push(Invocation {
                    name: canonical(name),
                    params: Vec::new(),
                    positional: Vec::new(),
                });
            }
        } else if let Some(rest) = line.strip_prefix("ParameterBinding(") {
            let Some((name, binding)) = rest.split_once("):") else {
                continue;
            };
            let Some((param, value)) = parse_binding(binding) else {
                continue;
            };
            let name = canonical(name);
            let target = match out.iter_mut().rev().find(|i| i.name == name) {
                Some(inv) => inv,
                None => {
                    out.push(Invocation {
                        name: name.clone(),
                        params: Vec::new(),
                        positional: Vec::new(),
                    });
                    let last = out.len() - 1;
                    &mut out[last]
                }
            };
            target.params.push((param, value));
        }
    }
    out
}

fn canonical(name: &str) -> String {
    match cmdlets::find(name.trim()) {
        Some(known) => known.name.to_owned(),
        None => name.trim().to_owned(),
    }
}

/// ` name="Identity"; value="ceo@contoso.com"` → (`Identity`, `ceo@contoso.com`).
fn parse_binding(binding: &str) -> Option<(String, String)> {
    let rest = binding.trim().strip_prefix("name=\"")?;
    let (param, rest) = rest.split_once('"')?;
    let rest = rest
        .trim_start_matches(';')
        .trim()
        .strip_prefix("value=\"")?;
    let value = rest.strip_suffix('"').unwrap_or(rest);
    Some((param.to_owned(), value.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings_attach_to_their_command() {
        let text = "CommandInvocation(Add-MailboxPermission): \"Add-MailboxPermission\"\n\
                    ParameterBinding(Add-MailboxPermission): name=\"Identity\"; value=\"ceo@contoso.com\"\n\
                    ParameterBinding(Add-MailboxPermission): name=\"User\"; value=\"eve@contoso.com\"\n\
                    CommandInvocation(Out-Null): \"Out-Null\"\n";
        let cmds = pipeline_details(text);
        assert_eq!(cmds.len(), 2);
        assert_eq!(cmds[0].param("Identity"), Some("ceo@contoso.com"));
        assert_eq!(cmds[0].param("User"), Some("eve@contoso.com"));
    }
}
