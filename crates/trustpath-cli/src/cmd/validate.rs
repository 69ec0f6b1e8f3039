//! `trustpath validate`: every rule that would not load or uses an unsupported feature.

use crate::args::ValidateArgs;
use crate::exit;
use std::io::Write;
use std::process::ExitCode;
use trustpath_sigma::{LoadOptions, RuleSet};

/// Run the command.
pub fn run(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    // A mistyped path is an error (exit 1), not "0 rules loaded".
    trustpath_hunt::check_paths("rule", &args.paths)?;
    let mut options = LoadOptions::default();
    let mut problems = Vec::new();
    if let Some(file) = &args.placeholders {
        match options.clone().with_placeholder_file(file) {
            Ok(with) => options = with,
            Err(e) => problems.push(e),
        }
    }
    let (rules, errors) = RuleSet::load(&args.paths, &options);
    problems.extend(errors);
    problems.extend(rules.warnings.iter().cloned());
    let failed = problems.iter().filter(|p| !p.is_warning()).count();
    let warned = problems.len() - failed;
    let loaded = rules.rules.len() + rules.correlations.len();
    if loaded == 0 && failed == 0 {
        let given: Vec<String> = args.paths.iter().map(|p| p.display().to_string()).collect();
        anyhow::bail!("no Sigma rules (.yml, .yaml) in {}", given.join(", "));
    }
    let out = &mut std::io::stdout().lock();
    if args.json {
        let items: Vec<serde_json::Value> = problems
            .iter()
            .map(|p| {
                serde_json::json!({
                    "file": p.file.display().to_string(),
                    "line": p.line,
                    "rule": p.rule,
                    "kind": p.kind.as_str(),
                    "warning": p.is_warning(),
                    "reason": p.reason,
                })
            })
            .collect();
        let doc = serde_json::json!({"loaded": loaded, "failed": failed, "warnings": warned, "problems": items});
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
    } else {
        for p in &problems {
            let label = if p.is_warning() { "warning" } else { "error" };
            writeln!(out, "{label}: {p}")?;
        }
        let total = loaded + failed;
        let rate = if total == 0 {
            100.0
        } else {
            loaded as f64 * 100.0 / total as f64
        };
        writeln!(
            out,
            "{loaded} rules loaded, {failed} failed, {warned} warnings ({rate:.2}% loaded)"
        )?;
    }
    if args.strict && failed > 0 {
        return Ok(ExitCode::from(exit::STRICT_INPUT_ERRORS));
    }
    Ok(ExitCode::from(exit::OK))
}
