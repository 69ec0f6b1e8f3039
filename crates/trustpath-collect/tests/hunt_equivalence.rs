//! Acceptance 2 and 3: `collect` output fed to `hunt` gives the same findings as the same
//! records exported as files (the project's own AN1350 fixture chain, moved to the last
//! days so the API's 7-day window holds it); `coverage` prints the collection facts.
//! Needs `target/debug/trustpath` (`cargo build -p trustpath-cli`); skips, saying so,
//! when it is absent.

#![allow(clippy::unwrap_used)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use trustpath_collect::contract::{Blob, Contract};

const TENANT: &str = "6f1c3b2a-9d4e-4c1b-8a7f-2e5d0c9b1a34";
const SECRET: &str = "another-secret-for-hunt-equivalence";

fn trustpath_bin() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/debug/trustpath");
    // An older build without `collect` is as good as none.
    let has_collect = p.is_file()
        && Command::new(&p)
            .args(["collect", "--help"])
            .output()
            .is_ok_and(|o| o.status.success());
    has_collect.then_some(p)
}

fn fixture(name: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../trustpath-analytics/analytics/AN1350/fixtures/positive/graph-signin-json")
        .join(name);
    std::fs::read_to_string(p)
        .unwrap()
        .trim_start_matches('\u{feff}')
        .to_string()
}

/// Move every time field forward by `days` (records keep their order and spacing).
fn shift(v: &mut Value, field: &str, days: i64, zulu: bool) {
    if let Some(t) = v.get(field).and_then(Value::as_str) {
        let parsed: jiff::Timestamp = if zulu {
            t.parse().unwrap()
        } else {
            format!("{t}Z").parse().unwrap()
        };
        let moved = parsed + jiff::SignedDuration::from_hours(24 * days);
        let s = if zulu {
            moved.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
        } else {
            moved.strftime("%Y-%m-%dT%H:%M:%S").to_string()
        };
        v[field] = Value::String(s);
    }
}

fn findings(bin: &Path, dir: &Path) -> Vec<String> {
    let o = Command::new(bin)
        .args(["hunt", "-f", "jsonl"])
        .arg(dir)
        .output()
        .unwrap();
    let mut ids: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|f| {
            format!(
                "{} {}",
                f["analytic"].as_str().or(f["rule"].as_str()).unwrap_or(""),
                f["id"].as_str().unwrap_or("")
            )
        })
        .collect();
    ids.sort();
    ids
}

#[test]
fn collected_case_folder_hunts_like_the_exported_files() {
    let Some(bin) = trustpath_bin() else {
        eprintln!("skipped: target/debug/trustpath not built (cargo build -p trustpath-cli)");
        return;
    };
    let now = jiff::Timestamp::now();
    let mut ual: Vec<Value> = fixture("an1350-ual-jsonl.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut signins: Vec<Value> =
        serde_json::from_str(&fixture("an1350-graph-signin-json.json")).unwrap();
    let mut audits: Vec<Value> =
        serde_json::from_str(&fixture("an1350-graph-directory-audit-json.json")).unwrap();
    let first: jiff::Timestamp = format!("{}Z", ual[0]["CreationTime"].as_str().unwrap())
        .parse()
        .unwrap();
    let days = (now.as_second() - first.as_second()) / 86400 - 3;
    ual.iter_mut()
        .for_each(|r| shift(r, "CreationTime", days, false));
    signins
        .iter_mut()
        .for_each(|r| shift(r, "createdDateTime", days, true));
    audits
        .iter_mut()
        .for_each(|r| shift(r, "activityDateTime", days, true));

    let work = tempfile::tempdir().unwrap();
    // The export: the same records as files.
    let export = work.path().join("export").join(TENANT);
    std::fs::create_dir_all(&export).unwrap();
    let jsonl = |rs: &[Value]| rs.iter().map(|r| format!("{r}\n")).collect::<String>();
    std::fs::write(export.join("ual.jsonl"), jsonl(&ual)).unwrap();
    std::fs::write(
        export.join("signins.json"),
        serde_json::to_string(&signins).unwrap(),
    )
    .unwrap();
    std::fs::write(
        export.join("audits.json"),
        serde_json::to_string(&audits).unwrap(),
    )
    .unwrap();

    // The API: one blob per record, in reverse order, in the right content type.
    let blobs = ual
        .iter()
        .rev()
        .enumerate()
        .map(|(i, r)| {
            let created: jiff::Timestamp = format!("{}Z", r["CreationTime"].as_str().unwrap())
                .parse()
                .unwrap();
            let ct = if r["Workload"] == "AzureActiveDirectory" {
                "Audit.AzureActiveDirectory"
            } else {
                "Audit.Exchange"
            };
            Blob {
                content_type: ct.into(),
                content_id: format!("blob{i}"),
                created,
                visible_from_listing: 0,
                records: vec![r.clone()],
            }
        })
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let server = rt
        .block_on(trustpath_collect::contract::start(Contract {
            tenant: TENANT.into(),
            client_secret: Some(SECRET.into()),
            blobs,
            signins,
            directory_audits: audits,
            page_size: 3,
            ..Contract::default()
        }))
        .unwrap();
    let ca = work.path().join("ca.pem");
    std::fs::write(&ca, &server.ca_pem).unwrap();
    let config = work.path().join("collect.toml");
    std::fs::write(&config, format!(
        "login_endpoint = \"{b}\"\nmanage_endpoint = \"{b}\"\ngraph_endpoint = \"{b}\"\nclient_id = \"app-1\"\n\
         client_secret_env = \"TP_TEST_SECRET2\"\nca_file = \"{ca}\"\n", b = server.base, ca = ca.display())).unwrap();
    let case = work.path().join("case");
    let o = Command::new(&bin)
        .args(["collect", "--tenant", TENANT, "--out"])
        .arg(&case)
        .arg("--config")
        .arg(&config)
        .env("TP_TEST_SECRET2", SECRET)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "collect failed: {text}");
    assert!(!text.contains(SECRET));

    let exported = findings(&bin, &work.path().join("export"));
    let collected = findings(&bin, &case);
    assert!(
        exported.iter().any(|f| f.contains("AN1350")),
        "the fixture chain gives AN1350: {exported:?}"
    );
    assert_eq!(
        collected, exported,
        "collect + hunt differs from the exported files"
    );

    // Acceptance 3: coverage reports the facts the collector read.
    let o = Command::new(&bin)
        .arg("coverage")
        .arg(&case)
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(table.contains("Collection facts for tenant"), "{table}");
    assert!(
        table.contains("Audit.Exchange: subscription enabled, content arrives"),
        "{table}"
    );
    assert!(table.contains("Graph signins: available"), "{table}");
}
