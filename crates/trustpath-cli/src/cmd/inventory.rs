//! `trustpath inventory`: partner relationships and mailbox permissions for access review.

use crate::args::{InventoryArgs, InventoryFormat};
use std::io::{BufWriter, Write};
use std::process::ExitCode;
use trustpath_assurance::InventoryCollector;

/// Run the command.
pub fn run(args: InventoryArgs) -> anyhow::Result<ExitCode> {
    // The output is opened before the work starts: a bad path fails at once, named.
    let mut out: Box<dyn Write> = match &args.output {
        Some(path) => Box::new(BufWriter::new(std::fs::File::create(path).map_err(
            |e| anyhow::anyhow!("cannot write the output file {}: {e}", path.display()),
        )?)),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    let (context, _) = super::load_context(args.context.as_deref(), &args.input.paths)?;
    let (collectors, problems) =
        super::collect(&args.input, &context, |c: &mut InventoryCollector, e| {
            c.observe(e)
        })?;
    let mut all = InventoryCollector::default();
    collectors.into_iter().for_each(|c| all.merge(c));
    let inventory = all.report(&context);
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
    Ok(super::normalize::strict_from_counts(
        args.input.strict,
        problems,
    ))
}
