//! A tenant for scale tests: `grants` internal mailbox-permission grants and `reads`
//! mailbox reads in one week, around one complete AN1350 chain of the (unapproved)
//! partner Fabrikam planted in the middle of the week.
//!
//! Internal grants are `Add-MailboxPermission` FullAccess by the tenant's listed admins
//! (UserType 2, from the office NAT or their own addresses) to ordinary users on
//! ordinary shared mailboxes; reads are `MailItemsAccessed` by the delegates (LogonType
//! 2) and by the owners (LogonType 0). Every grant sits inside the partner chain's
//! window, so an engine that keys chain state by anything but the partner, or that
//! re-checks every capture on every event, shows it here.

use crate::chains::{self, Chain};
use crate::example::context_toml_for;
use crate::record::{Body, Record};
use crate::render::{OutFormat, render};
use crate::rng::Rng;
use crate::scenario::Scenario;
use crate::ual::{self, Actor, exchange_admin, exchange_object, user_type};
use crate::{SimulateError, finalize};
use jiff::{SignedDuration, Timestamp};
use std::path::Path;

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaleConfig {
    /// Internal `Add-MailboxPermission` grants.
    pub grants: usize,
    /// `MailItemsAccessed` records (delegates and owners).
    pub reads: usize,
    /// Seed of every random choice.
    pub seed: u64,
    /// First moment of the week (the chain starts three days later).
    pub start: Timestamp,
}

impl ScaleConfig {
    /// `grants` grants and `reads` reads with the default seed and start.
    pub fn new(grants: usize, reads: usize) -> Self {
        ScaleConfig {
            grants,
            reads,
            seed: 0x5CA1E,
            // Monday 2025-03-03T00:00:00Z.
            start: Timestamp::from_second(1_740_960_000).unwrap_or(Timestamp::UNIX_EPOCH),
        }
    }
}

/// What [`generate_scale_tenant`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaleTruth {
    /// Records written, all files together.
    pub records: usize,
    /// The files (relative to the folder), with their record counts.
    pub files: Vec<(String, usize)>,
    /// The partner of the planted chain.
    pub partner_tenant: String,
    /// The mailbox the chain delegates and reads.
    pub mailbox: String,
    /// Ids of the chain's records with their step (`AN1350 step 2: …`).
    pub chain: Vec<(String, String)>,
}

/// Writes the scale tenant into `dir`: `unified-audit.jsonl`, `signins.json`,
/// `directory-audits.json`, and `trustpath.toml` (with an empty `tickets.csv`).
pub fn generate_scale_tenant(dir: &Path, cfg: &ScaleConfig) -> Result<ScaleTruth, SimulateError> {
    let tenant = Scenario {
        seed: cfg.seed,
        ..Scenario::default()
    };
    let d = tenant.domain.clone();
    let mut rng = Rng::new(cfg.seed);
    let mut records: Vec<Record> = Vec::with_capacity(cfg.grants + cfg.reads + 16);
    let week = 7 * 86_400i64;

    // The partner chain, in the middle of the week.
    let chain_scenario = Scenario {
        start: cfg.start + SignedDuration::from_hours(3 * 24 + 22),
        mailbox: format!("ceo@{d}"),
        trustee: tenant.partner.technician.clone(),
        seed: cfg.seed ^ 0xC4A1,
        ..tenant.clone()
    };
    let mut chain_rng = Rng::new(chain_scenario.seed);
    let mut chain = Chain::new(&mut chain_rng, &chain_scenario, Some(0));
    chains::an1350(&mut chain, true, true, true);
    records.append(&mut chain.records);

    let admins = [
        (format!("admin@{d}"), "198.18.10.1"),
        (format!("helpdesk@{d}"), "198.18.10.1"),
        (format!("helpdesk@{d}"), "198.18.10.9"),
    ];
    let users = 500usize;
    let user = |i: usize| format!("user{:04}@{d}", i % users);
    let shared = |i: usize| format!("shared{:03}@{d}", i % 300);
    let user_ip = |i: usize| format!("198.18.{}.{}", 11 + (i % 3), 20 + (i % 200));
    for i in 0..cfg.grants {
        let at = cfg.start + SignedDuration::from_secs(week * i as i64 / cfg.grants.max(1) as i64);
        let (admin, ip) = &admins[i % admins.len()];
        let actor = Actor::user(admin, user_type::ADMIN, ip);
        let mailbox = shared(i);
        let trustee = user(i * 7 + 3);
        let s = Scenario {
            mailbox: mailbox.clone(),
            ..tenant.clone()
        };
        let body = exchange_admin(
            &mut rng,
            &s,
            at,
            &actor,
            "Add-MailboxPermission",
            &[
                ("Identity", &mailbox),
                ("User", &trustee),
                ("AccessRights", "FullAccess"),
                ("InheritanceType", "All"),
            ],
            &exchange_object(&s, &mailbox),
        );
        records.push(Record {
            time: at,
            step: String::new(),
            plant: None,
            body: Body::Ual(body),
        });
    }
    for j in 0..cfg.reads {
        let at =
            cfg.start + SignedDuration::from_secs(week * j as i64 / cfg.reads.max(1) as i64 + 90);
        // Four reads in five by a delegate of an earlier grant, one by an owner.
        let (reader, owner, logon_type, ip) = if j % 5 != 4 && cfg.grants > 0 {
            let g = (j / 5) % cfg.grants;
            (user(g * 7 + 3), shared(g), 2, "198.18.10.1".to_string())
        } else {
            (user(j), user(j), 0, user_ip(j))
        };
        let actor = Actor::user(&reader, user_type::REGULAR, &ip);
        let count = 1 + (j % 30) as u32;
        let body =
            ual::mail_items_accessed(&mut rng, &tenant, at, &actor, &owner, logon_type, count);
        records.push(Record {
            time: at,
            step: String::new(),
            plant: None,
            body: Body::Ual(body),
        });
    }
    finalize(&mut records, 1);

    let truth_chain: Vec<(String, String)> = records
        .iter()
        .filter(|r| r.plant.is_some())
        .map(|r| (r.ident(), r.step.clone()))
        .collect();
    let mut files = Vec::new();
    for (name, format) in [
        ("unified-audit.jsonl", OutFormat::UalJsonl),
        ("signins.json", OutFormat::GraphSignInJson),
        ("directory-audits.json", OutFormat::GraphDirectoryAuditJson),
    ] {
        let chosen: Vec<&Record> = records
            .iter()
            .filter(|r| r.family() == format.family())
            .collect();
        let bytes = render(&chosen, format, &tenant.tenant_id);
        write(dir, name, &bytes)?;
        files.push((name.to_string(), chosen.len()));
    }
    write(dir, "tickets.csv", b"id,start,end,actor,target,action\n")?;
    write(dir, "trustpath.toml", context_toml_for(&tenant).as_bytes())?;
    Ok(ScaleTruth {
        records: files.iter().map(|(_, n)| n).sum(),
        files,
        partner_tenant: tenant.partner.tenant_id.clone(),
        mailbox: chain_scenario.mailbox.clone(),
        chain: truth_chain,
    })
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), SimulateError> {
    let path = dir.join(name);
    std::fs::create_dir_all(dir).map_err(|source| SimulateError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    std::fs::write(&path, bytes).map_err(|source| SimulateError::Io { path, source })
}
