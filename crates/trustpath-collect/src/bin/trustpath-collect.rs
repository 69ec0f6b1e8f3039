//! `trustpath-collect --tenant ID --out DIR [--config FILE] [--nats URL]`: the collector
//! alone (the same as `trustpath collect`), for tests that kill it mid-run.

use std::path::PathBuf;
use std::process::ExitCode;
use trustpath_collect::collect::Destination;
use trustpath_collect::{CollectConfig, CollectOptions, Collector};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (mut tenant, mut out, mut config, mut nats) = (None, None, None, None);
    while let Some(a) = args.next() {
        let v = args.next();
        match a.as_str() {
            "--tenant" => tenant = v,
            "--out" => out = v.map(PathBuf::from),
            "--config" => config = v.map(PathBuf::from),
            "--nats" => nats = v,
            other => {
                eprintln!("unknown argument {other}");
                return ExitCode::from(2);
            }
        }
    }
    let (Some(tenant), Some(out)) = (tenant, out) else {
        eprintln!("usage: trustpath-collect --tenant ID --out DIR [--config FILE] [--nats URL]");
        return ExitCode::from(2);
    };
    let config = match config.map(|p| CollectConfig::load(&p)).transpose() {
        Ok(c) => c.unwrap_or_default(),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let destination = match nats {
        Some(url) => Destination::Nats {
            url,
            state_dir: out,
        },
        None => Destination::Folder(out),
    };
    let run = async {
        let mut c = Collector::new(
            config,
            CollectOptions {
                tenant,
                destination,
                now: None,
            },
        )?;
        c.run().await
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run) {
        Ok(summary) => {
            println!("{}", serde_json::to_string(&summary).unwrap_or_default());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
