//! Regenerates the `examples/` test-bed tenant:
//! `cargo run -p trustpath-simulate --example generate-examples -- examples/`.

use std::path::PathBuf;
use std::process::ExitCode;
use trustpath_simulate::{ExampleConfig, generate_example};

fn main() -> ExitCode {
    let dir = std::env::args_os()
        .nth(1)
        .map_or_else(|| PathBuf::from("examples"), PathBuf::from);
    match generate_example(&dir, &ExampleConfig::default()) {
        Ok(truth) => {
            let total: usize = truth.files.iter().map(|f| f.records).sum();
            for f in &truth.files {
                println!("{:>7}  {}  ({})", f.records, f.path, f.format);
            }
            println!(
                "{total} records, {} planted chains, {} grants written to {}",
                truth.plants.len(),
                truth.grants.len(),
                dir.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
