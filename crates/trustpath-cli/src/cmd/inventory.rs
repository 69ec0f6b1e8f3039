//! `trustpath inventory`: partner relationships and mailbox permissions for access review.

use crate::args::{InventoryArgs, InventoryFormat};
use std::io::{BufWriter, Write};
use std::process::ExitCode;
use trustpath_assurance::InventoryCollector;

/// Run the command.
pub fn run(args: InventoryArgs) -> anyhow::Result<ExitCode> {
    let (context, _) = super::load_context(args.context.as_deref(), &args.input.paths)?;
    let (inputs, missing, _ignored) = super::expand(&args.input, Some(&context));
    let config = super::scan_config(&args.input, false);
    let result = trustpath_pipeline::scan(&inputs, &config, |c: &mut InventoryCollector, event| {
        c.observe(&event);
        None::<()>
    });
    let skipped: u64 = result.inputs.iter().map(|r| r.summary.error_count()).sum();
    let (_, collectors) = result.into_parts();
    let mut all = InventoryCollector::default();
    collectors.into_iter().for_each(|c| all.merge(c));
    let inventory = all.report(&context);
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(BufWriter::new(std::fs::File::create(path)?)),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    match args.format {
        InventoryFormat::Csv => inventory.write_csv(&mut out)?,
        InventoryFormat::Json => inventory.write_json(&mut out)?,
    }
    out.flush()?;
    let standing = inventory.standing_permissions().count();
    eprintln!(
        "{} mailbox permissions ({standing} standing), {} partner relationships, {} system changes not listed",
        inventory.permissions.len(),
        inventory.partners.len(),
        inventory.system_noise
    );
    if !missing.is_empty() || skipped > 0 {
        eprintln!(
            "{} inputs unusable, {skipped} records skipped (run `trustpath hunt` for the list)",
            missing.len()
        );
    }
    Ok(super::normalize::strict_from_counts(
        args.input.strict,
        skipped + missing.len() as u64,
    ))
}
