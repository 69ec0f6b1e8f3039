//! Parse-only baseline for `scripts/bench-sigma`: reads a JSON Lines file and parses
//! every line into a `serde_json::Value` (the same parser and map type trustpath uses),
//! touching nothing else. What a Sigma engine cannot beat on the same input.
//!
//! `cargo run --release -p trustpath-sigma --example parse_only -- EVENTS.jsonl`
//! prints `parse-only: N events, wall S s, R events/s`.

use std::io::BufRead;
use std::time::Instant;

fn main() -> std::io::Result<()> {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: parse_only EVENTS.jsonl");
        std::process::exit(2);
    };
    let started = Instant::now();
    let file = std::fs::File::open(path)?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let mut line = String::new();
    let (mut events, mut objects) = (0u64, 0u64);
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        if line.trim().is_empty() {
            continue;
        }
        events += 1;
        if let Ok(serde_json::Value::Object(map)) = serde_json::from_str(&line) {
            objects += u64::from(!map.is_empty());
        }
    }
    let wall = started.elapsed().as_secs_f64();
    println!(
        "parse-only: {events} events ({objects} objects), wall {wall:.2} s, {:.0} events/s",
        events as f64 / wall.max(1e-9)
    );
    Ok(())
}
