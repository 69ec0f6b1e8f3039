//! `trustpath simulate`: a complete attack chain for an analytic, in real log formats.

use crate::args::SimulateArgs;
use anyhow::{Context as _, bail};
use std::collections::BTreeMap;
use std::process::ExitCode;
use trustpath_simulate::{Family, OutFormat, Scenario, chain_records, render};

/// The format each log family is written in unless `--format` names another.
const DEFAULTS: [OutFormat; 4] = [
    OutFormat::UalJsonl,
    OutFormat::GraphSignInJson,
    OutFormat::GraphDirectoryAuditJson,
    OutFormat::EvtxDumpJsonl,
];

/// Run the command.
pub fn run(args: SimulateArgs) -> anyhow::Result<ExitCode> {
    let scenario = scenario(&args)?;
    let mut formats: BTreeMap<String, OutFormat> = DEFAULTS
        .iter()
        .map(|f| (family_name(f.family()), *f))
        .collect();
    let mut asked = Vec::new();
    for name in &args.format {
        let Some(format) = OutFormat::from_name(&name.to_ascii_lowercase()) else {
            let known: Vec<&str> = OutFormat::ALL.iter().map(|f| f.name()).collect();
            bail!("unknown format {name}; known: {}", known.join(", "));
        };
        formats.insert(family_name(format.family()), format);
        asked.push(format);
    }
    let registry = trustpath_analytics::Registry::builtin();
    let Some(def) = registry.get(&args.analytic) else {
        let ids: Vec<&str> = registry.iter().map(|d| d.meta.id.as_str()).collect();
        bail!("no analytic {}; known: {}", args.analytic, ids.join(", "));
    };
    let analytic = def.meta.id.clone();
    let Some(generator) = def.meta.simulator.as_deref() else {
        bail!("{analytic} declares no simulator in its analytic.toml");
    };
    let records = chain_records(generator, &scenario).map_err(|e| anyhow::anyhow!("{e}"))?;
    // A format for a log the chain does not have would be silently unused: say so.
    for format in asked {
        if !records.iter().any(|r| r.family() == format.family()) {
            let usable: Vec<&str> = OutFormat::ALL
                .iter()
                .filter(|f| records.iter().any(|r| r.family() == f.family()))
                .map(|f| f.name())
                .collect();
            bail!(
                "--format {}: {analytic}'s chain has no {} records to write in it; formats for its logs: {}",
                format.name(),
                format.family().as_str(),
                usable.join(", ")
            );
        }
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    for format in formats.values() {
        let family: Vec<_> = records
            .iter()
            .filter(|r| r.family() == format.family())
            .collect();
        if family.is_empty() {
            continue;
        }
        let bytes = render(&family, *format, &scenario.tenant_id);
        let path = args.out.join(format!(
            "{}-{}.{}",
            analytic.to_lowercase(),
            format.name(),
            extension(*format)
        ));
        std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!(
            "{}: {} records ({})",
            path.display(),
            family.len(),
            format.name()
        );
    }
    eprintln!("now run: trustpath hunt {}", args.out.display());
    Ok(ExitCode::SUCCESS)
}

fn family_name(family: Family) -> String {
    format!("{family:?}")
}

fn extension(format: OutFormat) -> &'static str {
    match format {
        OutFormat::PurviewCsv => "csv",
        OutFormat::UalJsonArray
        | OutFormat::GraphSignInJson
        | OutFormat::GraphDirectoryAuditJson => "json",
        _ => "jsonl",
    }
}

fn scenario(args: &SimulateArgs) -> anyhow::Result<Scenario> {
    let mut s = Scenario::default();
    if let Some(tenant) = &args.tenant {
        s.tenant_id = tenant.to_lowercase();
    }
    if let Some(domain) = &args.domain {
        for upn in [&mut s.mailbox, &mut s.trustee, &mut s.user] {
            if let Some((local, _)) = upn.split_once('@') {
                *upn = format!("{local}@{domain}");
            }
        }
        s.domain = domain.clone();
    }
    if let Some(partner) = &args.partner_tenant {
        s.partner.tenant_id = partner.to_lowercase();
    }
    if !args.partner_ip.is_empty() {
        s.partner.ips = args.partner_ip.clone();
    }
    if let Some(mailbox) = &args.mailbox {
        s.mailbox = mailbox.to_lowercase();
    }
    if let Some(trustee) = &args.trustee {
        s.trustee = trustee.to_lowercase();
    }
    if let Some(start) = &args.start {
        s.start = start
            .parse()
            .with_context(|| format!("--start {start}: not an RFC 3339 time"))?;
    }
    Ok(s)
}
