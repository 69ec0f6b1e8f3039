//! The `examples/` test-bed tenant: two weeks of Contoso activity with planted chains.
//!
//! Layout (bulk files gzip-compressed with a fixed header, slices readable as text):
//!
//! | file | format |
//! |---|---|
//! | `logs/m365/unified-audit.jsonl.gz` | UAL JSON Lines |
//! | `logs/m365/purview-audit-export.csv` | Purview "Audit (new)" CSV slice (one day) |
//! | `logs/entra/signins.json.gz` | Graph `signIn` JSON array with BOM |
//! | `logs/entra/sentinel-signinlogs.jsonl` | Sentinel `SigninLogs` slice (one day) |
//! | `logs/entra/directory-audits.json` | Graph `directoryAudit` JSON array with BOM |
//! | `logs/entra/sentinel-auditlogs.jsonl` | Sentinel `AuditLogs` slice |
//! | `logs/hosts/evtx-dump.jsonl.gz` | evtx_dump JSON Lines |
//! | `logs/hosts/winlogbeat-ws-hr-03.jsonl` | Winlogbeat slice (one host) |
//!
//! plus `trustpath.toml`, `tickets.csv` and `ground-truth.toml` at the top (the CLI
//! skips `.toml`/`.md` files and the ticket CSV the context names when it hunts a folder).

use crate::chains::{self, Chain, PsVariant};
use crate::entra::{APPS, Initiator, SignIn, directory_audit, sign_in};
use crate::record::{Body, Family, Record, iso_z};
use crate::render::{OutFormat, render};
use crate::rng::Rng;
use crate::scenario::{PartnerSpec, Scenario};
use crate::ual::{self, Actor, MailboxAction, exchange_admin, exchange_object, user_type};
use crate::windows::{
    HostUser, ProcessStart, module_logging, powershell_image, process_4688, script_block, sysmon_1,
};
use crate::{SimulateError, finalize};
use flate2::{Compression, GzBuilder};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExampleConfig {
    /// Seed of every random choice.
    pub seed: u64,
    /// First day (midnight UTC).
    pub start: Timestamp,
    /// Number of days.
    pub days: u32,
    /// Number of ordinary users.
    pub users: usize,
}

impl Default for ExampleConfig {
    fn default() -> Self {
        ExampleConfig {
            seed: 20_250_303,
            // Monday 2025-03-03T00:00:00Z.
            start: Timestamp::from_second(1_740_960_000).unwrap_or(Timestamp::UNIX_EPOCH),
            days: 29,
            users: 26,
        }
    }
}

/// Everything planted in the example data.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroundTruth {
    /// Customer tenant id.
    pub tenant: String,
    /// Customer domain.
    pub domain: String,
    /// First and last day covered.
    pub time_range: (String, String),
    /// Records per file.
    pub files: Vec<FileTruth>,
    /// Every planted chain and look-alike.
    pub plants: Vec<PlantTruth>,
    /// Records that resemble a planted chain but must not be reported (or must not be
    /// cited as evidence): internal delegations from the office NAT, an internal B2B
    /// cross-tenant setting, an approved partner's authorised work, failed sign-ins.
    #[serde(default)]
    pub lookalikes: Vec<LookalikeTruth>,
    /// Every non-system mailbox permission grant or removal, with its state at the end.
    pub grants: Vec<GrantTruth>,
    /// ServiceHost (system) permission cmdlets in the data: noise, not in `grants`.
    pub system_permission_cmdlets: usize,
}

impl GroundTruth {
    /// The ground truth as TOML (what `examples/ground-truth.toml` holds).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }

    /// Reads `ground-truth.toml`.
    pub fn load(path: &Path) -> Result<GroundTruth, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// One written file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileTruth {
    /// Path relative to the examples folder.
    pub path: String,
    /// Format name ([`OutFormat::name`]).
    pub format: String,
    /// Number of records.
    pub records: usize,
}

/// One planted chain (or an authorised / benign look-alike).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlantTruth {
    /// `P01`, `P02`, …
    pub id: String,
    /// Analytic the plant exercises.
    pub analytic: String,
    /// `malicious`, `partial`, `authorised`.
    pub kind: String,
    /// What happens.
    pub description: String,
    /// Whether the analytic should report a finding.
    pub expect_finding: bool,
    /// The ticket that must mark the finding authorised, if any.
    pub expected_ticket: Option<String>,
    /// The finding expected: `alert` or `hunting lead`; empty when either is right (an
    /// authorised chain of an approved partner may be partial).
    #[serde(default)]
    pub expected_kind: String,
    /// Customer tenant.
    pub tenant: String,
    /// Partner name, if a partner acts.
    pub partner: Option<String>,
    /// Partner tenant id, if a partner acts.
    pub partner_tenant: Option<String>,
    /// Acting account.
    pub actor: String,
    /// Target mailbox.
    pub mailbox: String,
    /// Who receives the permission.
    pub trustee: String,
    /// Host, for Windows-side plants.
    pub host: Option<String>,
    /// The planted records, in time order.
    pub records: Vec<PlantRecord>,
}

/// One planted record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlantRecord {
    /// UAL `Id`, Graph `id`, or `Computer/Channel/EventRecordID`.
    pub id: String,
    /// The file it is in.
    pub file: String,
    /// Event time.
    pub time: String,
    /// The step it implements.
    pub step: String,
}

/// Records that look like (part of) a chain but are not one: what must stay silent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LookalikeTruth {
    /// `L01`, `L02`, …
    pub id: String,
    /// What it resembles (`AN1350 steps 2-3`, …).
    pub resembles: String,
    /// What happens.
    pub description: String,
    /// Analytics that must not report it: no finding of these cites any of its records.
    pub silent: Vec<String>,
    /// In words, what must stay silent and why.
    pub must_stay_silent: String,
    /// The acting account(s).
    pub actor: String,
    /// Mailbox involved, if any.
    pub mailbox: String,
    /// The records, in time order.
    pub records: Vec<PlantRecord>,
}

/// `Record::plant` values from this one on tag look-alike records (index
/// `plant - LOOKALIKE_TAG` in [`GroundTruth::lookalikes`]), not plants.
pub(crate) const LOOKALIKE_TAG: usize = 1_000_000;

/// The shared public address of the Contoso office (NAT): internal admins and their
/// delegates all appear from it.
const OFFICE_NAT: &str = "198.18.10.1";

/// One permission grant (and its removal, if any).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GrantTruth {
    /// Cmdlet or mailbox operation that granted it.
    pub operation: String,
    /// When.
    pub time: String,
    /// Who granted it.
    pub actor: String,
    /// Mailbox (or `mailbox:\Folder`).
    pub mailbox: String,
    /// Who received it.
    pub trustee: String,
    /// Rights (`FullAccess`, `SendAs`, `SendOnBehalf`, `ApplicationImpersonation`, folder role).
    pub rights: String,
    /// The record id of the grant (UAL `Id` or Windows record ident for host-only grants).
    pub record_id: String,
    /// `ual` or `host` (host-only: no Exchange record in the data).
    pub evidence: String,
    /// When it was removed, if it was.
    pub removed_at: Option<String>,
    /// The removal record id.
    pub removal_record_id: Option<String>,
    /// Still in place at the end of the data.
    pub standing: bool,
}

/// Where a record is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Dest {
    UalBulk,
    PurviewSlice,
    SignInBulk,
    SentinelSignIn,
    DirAudit,
    SentinelAudit,
    EvtxBulk,
    WinlogbeatSlice,
}

impl Dest {
    const ALL: [Dest; 8] = [
        Dest::UalBulk,
        Dest::PurviewSlice,
        Dest::SignInBulk,
        Dest::SentinelSignIn,
        Dest::DirAudit,
        Dest::SentinelAudit,
        Dest::EvtxBulk,
        Dest::WinlogbeatSlice,
    ];

    fn path(self) -> &'static str {
        match self {
            Dest::UalBulk => "logs/m365/unified-audit.jsonl.gz",
            Dest::PurviewSlice => "logs/m365/purview-audit-export.csv",
            Dest::SignInBulk => "logs/entra/signins.json.gz",
            Dest::SentinelSignIn => "logs/entra/sentinel-signinlogs.jsonl",
            Dest::DirAudit => "logs/entra/directory-audits.json",
            Dest::SentinelAudit => "logs/entra/sentinel-auditlogs.jsonl",
            Dest::EvtxBulk => "logs/hosts/evtx-dump.jsonl.gz",
            Dest::WinlogbeatSlice => "logs/hosts/winlogbeat-ws-hr-03.jsonl",
        }
    }

    fn format(self) -> OutFormat {
        match self {
            Dest::UalBulk => OutFormat::UalJsonl,
            Dest::PurviewSlice => OutFormat::PurviewCsv,
            Dest::SignInBulk => OutFormat::GraphSignInJson,
            Dest::SentinelSignIn => OutFormat::SentinelSigninLogs,
            Dest::DirAudit => OutFormat::GraphDirectoryAuditJson,
            Dest::SentinelAudit => OutFormat::SentinelAuditLogs,
            Dest::EvtxBulk => OutFormat::EvtxDumpJsonl,
            Dest::WinlogbeatSlice => OutFormat::WinlogbeatJsonl,
        }
    }

    fn bulk(family: Family) -> Dest {
        match family {
            Family::Ual => Dest::UalBulk,
            Family::SignIn => Dest::SignInBulk,
            Family::DirectoryAudit => Dest::DirAudit,
            Family::Windows => Dest::EvtxBulk,
        }
    }

    /// The slice a record goes to instead of the bulk file.
    fn slice(family: Family) -> Dest {
        match family {
            Family::Ual => Dest::PurviewSlice,
            Family::SignIn => Dest::SentinelSignIn,
            Family::DirectoryAudit => Dest::SentinelAudit,
            Family::Windows => Dest::WinlogbeatSlice,
        }
    }
}

/// A record and where it goes.
struct Placed {
    record: Record,
    sliced: bool,
}

/// The generator state.
struct World {
    cfg: ExampleConfig,
    rng: Rng,
    tenant: Scenario,
    users: Vec<Person>,
    placed: Vec<Placed>,
    plants: Vec<PlantTruth>,
    lookalikes: Vec<LookalikeTruth>,
    grants: Vec<GrantTruth>,
    system_cmdlets: usize,
    tickets: Vec<String>,
}

#[derive(Debug, Clone)]
struct Person {
    upn: String,
    host: String,
    ip: String,
}

const FIRST: [&str; 20] = [
    "adele",
    "alex",
    "allan",
    "bianca",
    "christie",
    "debra",
    "diego",
    "emily",
    "enrico",
    "grady",
    "henrietta",
    "irvin",
    "isaiah",
    "johanna",
    "joni",
    "lee",
    "lidia",
    "lynne",
    "megan",
    "miriam",
];
const LAST: [&str; 6] = ["vance", "wilber", "deyoung", "pia", "cline", "berger"];
const DEPTS: [&str; 5] = ["FIN", "HR", "SALES", "ENG", "OPS"];

fn northwind() -> PartnerSpec {
    PartnerSpec {
        name: "Northwind IT Services".into(),
        tenant_id: "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d".into(),
        domain: "northwind-it.example".into(),
        ips: vec!["198.51.100.23".into(), "198.51.100.24".into()],
        technician: "l2.support@northwind-it.example".into(),
    }
}

fn adatum() -> PartnerSpec {
    PartnerSpec {
        name: "Adatum Cloud Partners".into(),
        tenant_id: "adadadad-1234-4abc-9def-0123456789ab".into(),
        domain: "adatum-cloud.example".into(),
        ips: vec![
            "192.0.2.140".into(),
            "192.0.2.141".into(),
            "192.0.2.199".into(),
        ],
        technician: "ops.admin@adatum-cloud.example".into(),
    }
}

impl World {
    fn new(cfg: &ExampleConfig) -> Self {
        let mut rng = Rng::new(cfg.seed);
        let tenant = Scenario {
            seed: cfg.seed,
            ..Scenario::default()
        };
        let mut users = Vec::new();
        for i in 0..cfg.users {
            let upn = format!(
                "{}.{}@{}",
                FIRST[i % FIRST.len()],
                LAST[(i / FIRST.len()) % LAST.len()],
                tenant.domain
            );
            let host = format!("WS-{}-{:02}", DEPTS[i % DEPTS.len()], 10 + i);
            let ip = format!("198.18.{}.{}", 10 + (i % 3), 20 + rng.below(200));
            users.push(Person { upn, host, ip });
        }
        for (upn, host) in [
            ("ceo", "WS-EXEC-01"),
            ("cfo", "WS-EXEC-02"),
            ("ea", "WS-EXEC-03"),
            ("jdoe", "WS-FIN-07"),
            ("mchen", "WS-HR-03"),
            ("pkumar", "WS-SALES-12"),
            ("legal", "WS-LEG-01"),
            ("helpdesk", "WS-IT-01"),
            ("admin", "ADM-WS01"),
        ] {
            users.push(Person {
                upn: format!("{upn}@{}", tenant.domain),
                host: host.into(),
                ip: format!("198.18.10.{}", 2 + users.len() % 200),
            });
        }
        World {
            cfg: cfg.clone(),
            rng,
            tenant,
            users,
            placed: Vec::new(),
            plants: Vec::new(),
            lookalikes: Vec::new(),
            grants: Vec::new(),
            system_cmdlets: 0,
            tickets: Vec::new(),
        }
    }

    fn day(&self, d: u32, hour: i64, minute: i64) -> Timestamp {
        self.cfg.start
            + SignedDuration::from_secs(i64::from(d) * 86_400 + hour * 3_600 + minute * 60)
    }

    fn add(&mut self, record: Record, sliced: bool) {
        self.placed.push(Placed { record, sliced });
    }

    /// Registers a look-alike; its records carry the returned tag in `Record::plant`.
    fn lookalike(&mut self, truth: LookalikeTruth) -> usize {
        self.lookalikes.push(truth);
        LOOKALIKE_TAG + self.lookalikes.len() - 1
    }

    /// A UAL record of look-alike `tag`.
    fn add_tagged(&mut self, tag: usize, time: Timestamp, step: &str, body: Body) {
        self.add(
            Record {
                time,
                step: step.into(),
                plant: Some(tag),
                body,
            },
            false,
        );
    }

    /// Runs a chain builder as plant `truth`, its records going to the slices if `sliced`.
    fn plant(
        &mut self,
        s: &Scenario,
        truth: PlantTruth,
        sliced: bool,
        build: impl FnOnce(&mut Chain<'_>),
    ) {
        let index = self.plants.len();
        let mut rng = Rng::new(s.seed);
        let mut chain = Chain::new(&mut rng, s, Some(index));
        build(&mut chain);
        for record in chain.records {
            self.add(record, sliced);
        }
        self.plants.push(truth);
    }
}

fn truth(
    id: usize,
    analytic: &str,
    kind: &str,
    description: &str,
    s: &Scenario,
    actor: &str,
) -> PlantTruth {
    PlantTruth {
        id: format!("P{id:02}"),
        analytic: analytic.into(),
        kind: kind.into(),
        description: description.into(),
        expect_finding: true,
        expected_ticket: None,
        expected_kind: match kind {
            "partial" => "hunting lead",
            "authorised" => "",
            _ => "alert",
        }
        .into(),
        tenant: s.tenant_id.clone(),
        partner: None,
        partner_tenant: None,
        actor: actor.into(),
        mailbox: s.mailbox.clone(),
        trustee: s.trustee.clone(),
        host: None,
        records: Vec::new(),
    }
}

fn with_partner(mut t: PlantTruth, p: &PartnerSpec) -> PlantTruth {
    t.partner = Some(p.name.clone());
    t.partner_tenant = Some(p.tenant_id.clone());
    t
}

fn plant_all(w: &mut World) {
    let base = w.tenant.clone();
    let d = base.domain.clone();
    let fabrikam = base.partner.clone();

    // P01: full AN1350 chain from the unapproved partner Fabrikam, at night.
    let s = Scenario {
        start: w.day(8, 22, 40),
        mailbox: format!("ceo@{d}"),
        trustee: fabrikam.technician.clone(),
        seed: 101,
        ..base.clone()
    };
    let t = with_partner(
        truth(
            1,
            "AN1350",
            "malicious",
            "Unapproved partner Fabrikam adds itself as partner, grants its technician FullAccess, SendAs, SendOnBehalf and ApplicationImpersonation on the CEO mailbox, then signs in as service provider and reads the mailbox from its IP.",
            &s,
            &fabrikam.technician,
        ),
        &fabrikam,
    );
    w.plant(&s, t, false, |c| chains::an1350(c, true, true, true));

    // P02: partial AN1350 chain 1 → 2 without access, more than the AN1350 window (7
    // days) after P01: the same partner's later relationship change is a chain of its own.
    let s = Scenario {
        start: w.day(19, 3, 10),
        mailbox: format!("cfo@{d}"),
        trustee: fabrikam.technician.clone(),
        seed: 102,
        ..base.clone()
    };
    let t = with_partner(
        truth(
            2,
            "AN1350",
            "partial",
            "Fabrikam relationship change followed by FullAccess on the CFO mailbox; no follow-on access (steps 1 and 2 only).",
            &s,
            &fabrikam.technician,
        ),
        &fabrikam,
    );
    w.plant(&s, t, false, |c| chains::an1350(c, true, false, false));

    // P03: approved partner Northwind, inside its support window, with a ticket.
    let nw = northwind();
    let s = Scenario {
        start: w.day(0, 10, 5),
        mailbox: format!("payroll@{d}"),
        trustee: nw.technician.clone(),
        partner: nw.clone(),
        seed: 103,
        ..base.clone()
    };
    let mut t = with_partner(
        truth(
            3,
            "AN1350",
            "authorised",
            "Approved partner Northwind grants its technician FullAccess on the payroll shared mailbox inside its support window under change CHG0041, then works in it from its own range.",
            &s,
            &nw.technician,
        ),
        &nw,
    );
    t.expected_ticket = Some("CHG0041".into());
    w.tickets.push(format!(
        "CHG0041,{},{},{},payroll@{d},MailboxPermission",
        iso_z(w.day(0, 9, 0)),
        iso_z(w.day(0, 17, 0)),
        nw.technician
    ));
    w.plant(&s, t, false, |c| chains::an1350(c, false, false, true));

    // P04–P06: AN1052 on workstations.
    let variants = [
        (
            4,
            "jdoe",
            "WS-FIN-07",
            "ceo",
            "jdoe.backup@outlook.example",
            PsVariant::Plain,
            "Non-admin user runs Add-MailboxPermission from cmd.exe (host events only).",
        ),
        (
            5,
            "mchen",
            "WS-HR-03",
            "legal",
            "m.chen.ext@proton.example",
            PsVariant::Obfuscated,
            "Obfuscated Add-MailboxPermission (backticks, odd case, -Acc, splatting, 2-part script block) launched from WINWORD.EXE; host events only, Winlogbeat slice.",
        ),
        (
            6,
            "pkumar",
            "WS-SALES-12",
            "finance-ap",
            "svc-sync@contoso.com",
            PsVariant::WithExchange,
            "Add-MailboxPermission on the host and the ExchangeAdmin record of the same change minutes later, then SendAs and MailItemsAccessed by the new trustee.",
        ),
    ];
    for (id, user, host, mailbox, trustee, variant, description) in variants {
        let s = Scenario {
            start: w.day(3 + id as u32, 14, 12),
            user: format!("{user}@{d}"),
            host: host.into(),
            mailbox: format!("{mailbox}@{d}"),
            trustee: trustee.into(),
            seed: 100 + id as u64,
            ..base.clone()
        };
        let mut t = truth(
            id,
            "AN1052",
            "malicious",
            description,
            &s,
            &s.user_domain_account(),
        );
        t.host = Some(format!("{host}.contoso.local"));
        w.plant(&s, t, variant == PsVariant::Obfuscated, |c| {
            chains::an1052(c, variant)
        });
    }

    // P07: AN1051 folder delegation (Purview CSV slice).
    let s = Scenario {
        start: w.day(4, 15, 30),
        mailbox: format!("cfo@{d}"),
        trustee: "consultant@fabrikam-msp.com".into(),
        user: format!("ea@{d}"),
        seed: 107,
        ..base.clone()
    };
    let t = truth(
        7,
        "AN1051",
        "malicious",
        "CFO shares Inbox (Editor, then Owner) and calendar delegation with an external consultant; an assistant adds PublishingEditor on the Inbox via Add-MailboxFolderPermission.",
        &s,
        &s.mailbox,
    );
    w.plant(&s, t, true, chains::an1051);

    // P08: AN1347 untrusted partner Adatum (Sentinel slices), more than 8 days after
    // every other partner's chain (its GDAP role assignment is AN1350 step-1 material).
    let ad = adatum();
    let s = Scenario {
        start: w.day(28, 1, 15),
        partner: ad.clone(),
        seed: 108,
        ..base.clone()
    };
    let mut t = with_partner(
        truth(
            8,
            "AN1347",
            "malicious",
            "Unknown partner Adatum gets Global Administrator through the GDAP service principal and signs in as service provider without MFA.",
            &s,
            &ad.technician,
        ),
        &ad,
    );
    t.mailbox = String::new();
    t.trustee = String::new();
    w.plant(&s, t, true, chains::an1347);

    // P09: authorised admin grant from the admin workstation with a ticket (removed later).
    admin_grant(w, 9);
    tailspin_gdap(w, 10);
    lookalikes(w);
    grants_from_plants(w);
    helpdesk_grants(w);
}

fn tailspin() -> PartnerSpec {
    PartnerSpec {
        name: "Tailspin Managed IT".into(),
        tenant_id: "7a115b1d-4e2f-4c3a-9b8d-6e5f4a3b2c1d".into(),
        domain: "tailspin-managed.example".into(),
        ips: vec!["192.0.2.61".into(), "192.0.2.62".into()],
        technician: "j.rivera@tailspin-managed.example".into(),
    }
}

/// P10: a partner unknown to the context reaches the tenant through GDAP only (no
/// `Add partner to company`): the partner first-party apps add their service principal,
/// the service-provider cross-tenant setting and the role assignment of the partner's
/// group (unified audit log and Entra), the technician fails to sign in twice, grants
/// himself FullAccess on finance-ar@ and reads it. Saturday night, more than 8 days after
/// every other partner's chain.
fn tailspin_gdap(w: &mut World, id: usize) {
    let base = w.tenant.clone();
    let d = base.domain.clone();
    let ts = tailspin();
    let s = Scenario {
        start: w.day(19, 20, 30),
        mailbox: format!("finance-ar@{d}"),
        trustee: ts.technician.clone(),
        partner: ts.clone(),
        seed: 110,
        ..base
    };
    let t = with_partner(
        truth(
            id,
            "AN1350",
            "malicious",
            "Unknown partner Tailspin reaches the tenant through GDAP only: its first-party apps add their service principal, the service-provider cross-tenant access setting and the Exchange Administrator role for its group (UAL AzureActiveDirectory and Entra directory audit); after two failed sign-ins its technician grants himself FullAccess on finance-ar@ and reads it from the partner IP.",
            &s,
            &ts.technician,
        ),
        &ts,
    );
    let failed = w.lookalike(LookalikeTruth {
        id: String::new(),
        resembles: "AN1350 step 3".into(),
        description: "Two failed serviceProvider sign-ins (errorCode 50126) of the Tailspin technician before its delegation, from its own IP.".into(),
        silent: vec!["AN1350".into()],
        must_stay_silent: "A failed sign-in is not access: no AN1350 finding cites these records (P10's finding cites only the successful sign-in and the mailbox reads).".into(),
        actor: ts.technician.clone(),
        mailbox: String::new(),
        records: Vec::new(),
    });
    w.plant(&s, t, false, |c| chains::an1350_gdap(c, Some(failed)));
}

/// The look-alikes: each must stay silent (see [`LookalikeTruth::must_stay_silent`]).
fn lookalikes(w: &mut World) {
    let s = w.tenant.clone();
    let d = s.domain.clone();
    // L: an internal admin delegates from the office NAT and the delegate reads from the
    // same NAT, inside Fabrikam's P01 window and inside Tailspin's P10 window.
    for (day, hour, admin, mailbox, delegate, inside) in [
        (
            9,
            10,
            "helpdesk",
            "hr-team",
            "megan.vance",
            "Fabrikam's P01 window",
        ),
        (
            20,
            11,
            "admin",
            "sales-team",
            "lee.vance",
            "Tailspin's P10 window",
        ),
    ] {
        let admin = format!("{admin}@{d}");
        let mailbox = format!("{mailbox}@{d}");
        let delegate = format!("{delegate}@{d}");
        let tag = w.lookalike(LookalikeTruth {
            id: String::new(),
            resembles: "AN1350 steps 2-3".into(),
            description: format!("Listed admin {admin} grants {delegate} FullAccess on {mailbox} from the office NAT {OFFICE_NAT}; the delegate reads the mailbox (LogonType 2) from the same NAT, inside {inside}."),
            silent: vec!["AN1350".into(), "AN1051".into()],
            must_stay_silent: format!("No partner acts: no AN1350 finding (alert or lead) cites these records or names {mailbox}; the office NAT never becomes a partner IP. A listed admin's grant on a non-sensitive mailbox raises no AN1051 finding."),
            actor: admin.clone(),
            mailbox: mailbox.clone(),
            records: Vec::new(),
        });
        let time = w.day(day, hour, 30);
        internal_delegation(w, tag, time, &admin, &mailbox, &delegate);
    }

    // L: the tenant's own admin adds a B2B collaboration partner to the cross-tenant
    // access settings ("partner" is XTAP's word for any external organisation), then
    // delegates and the delegate reads, all from the office NAT.
    let admin = format!("admin@{d}");
    let mailbox = format!("procurement@{d}");
    let delegate = format!("diego.vance@{d}");
    let litware = "1b2b7a3e-5c4d-4e6f-8a0b-9c8d7e6f5a4b";
    let tag = w.lookalike(LookalikeTruth {
        id: String::new(),
        resembles: "AN1350 steps 1-2-3".into(),
        description: format!("{admin} adds the B2B collaboration organisation Litware ({litware}) to the cross-tenant access settings (UAL and Entra, user-initiated, no service-provider flag), then grants {delegate} FullAccess on {mailbox}; the delegate reads it; all from the office NAT {OFFICE_NAT}."),
        silent: vec!["AN1350".into(), "AN1347".into(), "AN1051".into()],
        must_stay_silent: "A B2B cross-tenant setting by the tenant's own admin is no partner relationship, and no partner principal delegates or reads: no AN1350 finding cites these records or names the mailbox; no AN1347 finding.".into(),
        actor: admin.clone(),
        mailbox: mailbox.clone(),
        records: Vec::new(),
    });
    let start = w.day(15, 9, 30);
    let actor = Actor::user(&admin, user_type::ADMIN, OFFICE_NAT);
    let listed = format!("[\"{litware}\"]");
    let body = ual::aad_directory(
        &mut w.rng,
        &s,
        start,
        &ual::AadActor::User(&actor),
        "Add a partner to cross-tenant access setting.",
        "CrossTenantAccessPolicy",
        &[("CrossTenantAccessPolicy", 1)],
        &s.tenant_id,
        &[
            ("tenantId", &listed, "[]"),
            ("inboundTrust", "[{\"isMfaAccepted\":true}]", "[]"),
        ],
    );
    w.add_tagged(
        tag,
        start,
        "look-alike: B2B partner added to cross-tenant access setting by the tenant's admin (UAL)",
        Body::Ual(body),
    );
    let quoted = serde_json::Value::String(litware.into()).to_string();
    let policy = w.rng.guid();
    let t = start + SignedDuration::from_secs(20);
    let body = crate::entra::directory_audit_raw(
        &mut w.rng,
        t,
        "CrossTenantAccessSettings",
        "Add a partner to cross-tenant access setting",
        "Add",
        &Initiator::User(&admin, &s.tenant_id, OFFICE_NAT),
        &[("Policy", "", &policy, vec![("tenantId", &quoted)])],
    );
    w.add_tagged(
        tag,
        t,
        "look-alike: B2B partner added to cross-tenant access setting by the tenant's admin (Entra)",
        Body::DirectoryAudit(body),
    );
    internal_delegation(
        w,
        tag,
        start + SignedDuration::from_mins(25),
        &admin,
        &mailbox,
        &delegate,
    );

    // L: the approved partner Northwind does authorised weekend work under a ticket
    // while Tailspin's chain is open: one failed sign-in, then MFA sign-in and reads of
    // payroll@ (its standing grant from P03) from its own range.
    let nw = northwind();
    let tag = w.lookalike(LookalikeTruth {
        id: String::new(),
        resembles: "AN1350 step 3 (of another partner's chain)".into(),
        description: format!("Approved partner Northwind works in payroll@{d} on Saturday night under change CHG0052 (a failed sign-in, then serviceProvider sign-in with MFA and MailItemsAccessed LogonType 6 from 198.51.100.24), while Tailspin's P10 chain is open; its own delegation (P03) is 19 days old."),
        silent: vec!["AN1350".into(), "AN1347".into()],
        must_stay_silent: "Another partner never inherits evidence: P10's finding cites none of these records, and no AN1350 finding for Northwind arises (no relationship change or delegation by Northwind within the window); Northwind is trusted and uses MFA, so no AN1347.".into(),
        actor: nw.technician.clone(),
        mailbox: format!("payroll@{d}"),
        records: Vec::new(),
    });
    w.tickets.push(format!(
        "CHG0052,{},{},{},payroll@{d},",
        iso_z(w.day(19, 20, 0)),
        iso_z(w.day(19, 23, 59)),
        nw.technician
    ));
    let ns = Scenario {
        partner: nw.clone(),
        ..s.clone()
    };
    let ip = nw.ips[1].clone();
    let tech = Actor::partner(&ns, &ip);
    for (minutes, error_code) in [(40, 50126), (44, 0)] {
        let t = w.day(19, 21, minutes);
        let body = sign_in(
            &mut w.rng,
            &ns,
            t,
            &SignIn {
                upn: &nw.technician,
                home_tenant: &nw.tenant_id,
                ip: &ip,
                cross_tenant: "serviceProvider",
                auth_requirement: "multiFactorAuthentication",
                app: APPS[0],
                interactive: true,
                error_code,
            },
        );
        let step = if error_code == 0 {
            "look-alike: approved partner's serviceProvider sign-in (MFA) under CHG0052"
        } else {
            "look-alike: approved partner's failed serviceProvider sign-in"
        };
        w.add_tagged(tag, t, step, Body::SignIn(body));
    }
    for (minutes, count) in [(50, 12), (58, 7)] {
        let t = w.day(19, 21, minutes);
        let payroll = format!("payroll@{d}");
        let body = ual::mail_items_accessed(&mut w.rng, &ns, t, &tech, &payroll, 6, count);
        w.add_tagged(
            tag,
            t,
            "look-alike: approved partner reads payroll@ (LogonType 6) under CHG0052",
            Body::Ual(body),
        );
    }
    for (i, l) in w.lookalikes.iter_mut().enumerate() {
        l.id = format!("L{:02}", i + 1);
    }
}

/// A listed admin grants `delegate` FullAccess on `mailbox` from the office NAT at
/// `time`; the delegate reads it twice from the same NAT (LogonType 2).
fn internal_delegation(
    w: &mut World,
    tag: usize,
    time: Timestamp,
    admin: &str,
    mailbox: &str,
    delegate: &str,
) {
    let s = Scenario {
        mailbox: mailbox.into(),
        ..w.tenant.clone()
    };
    let actor = Actor::user(admin, user_type::ADMIN, OFFICE_NAT);
    let body = exchange_admin(
        &mut w.rng,
        &s,
        time,
        &actor,
        "Add-MailboxPermission",
        &[
            ("Identity", mailbox),
            ("User", delegate),
            ("AccessRights", "FullAccess"),
            ("InheritanceType", "All"),
        ],
        &exchange_object(&s, mailbox),
    );
    w.add_tagged(
        tag,
        time,
        "look-alike: listed admin's Add-MailboxPermission from the office NAT",
        Body::Ual(body),
    );
    let reader = Actor::user(delegate, user_type::REGULAR, OFFICE_NAT);
    for (minutes, count) in [(20, 9), (200, 23)] {
        let t = time + SignedDuration::from_mins(minutes);
        let body = ual::mail_items_accessed(&mut w.rng, &s, t, &reader, mailbox, 2, count);
        w.add_tagged(
            tag,
            t,
            "look-alike: delegate reads the mailbox (LogonType 2) from the office NAT",
            Body::Ual(body),
        );
    }
}

/// P09: `admin@contoso.com` on ADM-WS01 grants helpdesk FullAccess on payroll under a
/// ticket; removed three days later.
fn admin_grant(w: &mut World, id: usize) {
    let base = w.tenant.clone();
    let d = base.domain.clone();
    let s = Scenario {
        start: w.day(1, 9, 20),
        user: format!("admin@{d}"),
        host: "ADM-WS01".into(),
        mailbox: format!("payroll@{d}"),
        trustee: format!("helpdesk@{d}"),
        seed: 109,
        ..base
    };
    let mut t = truth(
        id,
        "AN1052",
        "authorised",
        "Listed admin runs Add-MailboxPermission from the admin workstation under change CHG0040; removed three days later with Remove-MailboxPermission.",
        &s,
        &s.user_domain_account(),
    );
    t.host = Some("ADM-WS01.contoso.local".into());
    t.expected_ticket = Some("CHG0040".into());
    w.tickets.push(format!(
        "CHG0040,{},{},admin@{d},payroll@{d},Add-MailboxPermission",
        iso_z(w.day(1, 9, 0)),
        iso_z(w.day(1, 11, 0))
    ));
    let index = w.plants.len();
    let mut rng = Rng::new(s.seed);
    let mut chain = Chain::new(&mut rng, &s, Some(index));
    chains::an1052(&mut chain, PsVariant::Plain);
    let admin = Actor::user(&s.user, user_type::ADMIN, "198.18.10.5");
    let object = exchange_object(&s, &s.mailbox);
    let params = [
        ("Identity", s.mailbox.as_str()),
        ("User", s.trustee.as_str()),
        ("AccessRights", "FullAccess"),
        ("InheritanceType", "All"),
    ];
    let time = s.start + SignedDuration::from_mins(4);
    let body = exchange_admin(
        chain.rng,
        &s,
        time,
        &admin,
        "Add-MailboxPermission",
        &params,
        &object,
    );
    chain.records.push(Record {
        time,
        step: "AN1052 (authorised): ExchangeAdmin Add-MailboxPermission".into(),
        plant: Some(index),
        body: Body::Ual(body),
    });
    let records = chain.records;
    for r in records {
        w.add(r, false);
    }
    w.plants.push(t);
    let time = s.start + SignedDuration::from_hours(72);
    let removal = exchange_admin(
        &mut w.rng,
        &s,
        time,
        &admin,
        "Remove-MailboxPermission",
        &params[..3],
        &object,
    );
    w.add(
        Record {
            time,
            step: "removal of the P09 grant".into(),
            plant: Some(index),
            body: Body::Ual(removal),
        },
        false,
    );
}

/// Helpdesk grants on the shared mailbox: one removed, one left standing.
fn helpdesk_grants(w: &mut World) {
    let base = w.tenant.clone();
    let d = base.domain.clone();
    let s = Scenario {
        mailbox: format!("shared-projects@{d}"),
        ..base
    };
    let admin = Actor::user(&format!("helpdesk@{d}"), user_type::ADMIN, "198.18.10.9");
    for (i, (trustee, removed_after)) in [
        (format!("adele.vance@{d}"), Some(5)),
        (format!("alex.wilber@{d}"), None),
    ]
    .into_iter()
    .enumerate()
    {
        let time = w.day(3 + i as u32, 11, 15);
        let params = [
            ("Identity", s.mailbox.as_str()),
            ("User", trustee.as_str()),
            ("AccessRights", "FullAccess"),
        ];
        let object = exchange_object(&s, &s.mailbox);
        let grant = exchange_admin(
            &mut w.rng,
            &s,
            time,
            &admin,
            "Add-MailboxPermission",
            &params,
            &object,
        );
        let mut truth = grant_truth(
            "Add-MailboxPermission",
            time,
            &admin.upn,
            &s.mailbox,
            &trustee,
            "FullAccess",
            &grant,
        );
        w.add(
            Record {
                time,
                step: String::new(),
                plant: None,
                body: Body::Ual(grant),
            },
            false,
        );
        if let Some(days) = removed_after {
            let at = time + SignedDuration::from_hours(24 * days);
            let removal = exchange_admin(
                &mut w.rng,
                &s,
                at,
                &admin,
                "Remove-MailboxPermission",
                &params,
                &object,
            );
            truth.removed_at = Some(iso_z(at));
            truth.removal_record_id = removal.get("Id").and_then(|v| v.as_str()).map(String::from);
            truth.standing = false;
            w.add(
                Record {
                    time: at,
                    step: String::new(),
                    plant: None,
                    body: Body::Ual(removal),
                },
                false,
            );
        }
        w.grants.push(truth);
    }
}

fn grant_truth(
    operation: &str,
    time: Timestamp,
    actor: &str,
    mailbox: &str,
    trustee: &str,
    rights: &str,
    m: &serde_json::Map<String, serde_json::Value>,
) -> GrantTruth {
    GrantTruth {
        operation: operation.into(),
        time: iso_z(time),
        actor: actor.into(),
        mailbox: mailbox.into(),
        trustee: trustee.into(),
        rights: rights.into(),
        record_id: m
            .get("Id")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .into(),
        evidence: "ual".into(),
        removed_at: None,
        removal_record_id: None,
        standing: true,
    }
}

/// Grants that the planted chains made (UAL ones now; host-only ones after finalize).
fn grants_from_plants(w: &mut World) {
    let mut found = Vec::new();
    for p in &w.placed {
        let Body::Ual(m) = &p.record.body else {
            continue;
        };
        let Some(index) = p.record.plant else {
            continue;
        };
        let op = m
            .get("Operation")
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        let param = |name: &str| {
            m.get("Parameters")
                .and_then(|v| v.as_array())
                .and_then(|a| {
                    a.iter()
                        .find(|x| x.get("Name").and_then(|n| n.as_str()) == Some(name))
                        .and_then(|x| x.get("Value"))
                        .and_then(|v| v.as_str())
                        .map(String::from)
                })
                .unwrap_or_default()
        };
        let actor = m.get("UserId").and_then(|v| v.as_str()).unwrap_or_default();
        let folder = m.get("Item").and_then(|i| i.get("ParentFolder"));
        let (mailbox, trustee, rights) = match op {
            "Add-MailboxPermission" => (param("Identity"), param("User"), param("AccessRights")),
            "Add-RecipientPermission" => {
                (param("Identity"), param("Trustee"), param("AccessRights"))
            }
            "Set-Mailbox" => (
                param("Identity"),
                param("GrantSendOnBehalfTo"),
                "SendOnBehalf".to_string(),
            ),
            "New-ManagementRoleAssignment" => {
                ("(organization)".to_string(), param("User"), param("Role"))
            }
            "Add-MailboxFolderPermission" => {
                (param("Identity"), param("User"), param("AccessRights"))
            }
            "AddFolderPermissions" | "UpdateFolderPermissions" | "UpdateCalendarDelegation" => {
                let owner = m
                    .get("MailboxOwnerUPN")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default();
                let path = folder
                    .and_then(|f| f.get("Path"))
                    .and_then(|v| v.as_str())
                    .unwrap_or_default();
                let member = folder
                    .and_then(|f| f.get("MemberUpn"))
                    .and_then(|v| v.as_str())
                    .unwrap_or_default();
                let rights = folder
                    .and_then(|f| f.get("MemberRights"))
                    .and_then(|v| v.as_str())
                    .unwrap_or_default();
                (
                    format!("{owner}:{path}"),
                    member.to_string(),
                    rights.to_string(),
                )
            }
            _ => continue,
        };
        if index == 8 && op == "Remove-MailboxPermission" {
            continue;
        }
        found.push(grant_truth(
            op,
            p.record.time,
            actor,
            &mailbox,
            &trustee,
            &rights,
            m,
        ));
    }
    // The P09 grant is removed three days later (Remove-MailboxPermission in the data).
    for g in &mut found {
        if g.mailbox.starts_with("payroll@") && g.trustee.starts_with("helpdesk@") {
            g.standing = false;
            g.removed_at = Some(iso_z(w.day(4, 9, 20)));
            g.removal_record_id = w.placed.iter().find_map(|p| match &p.record.body {
                Body::Ual(m)
                    if m.get("Operation").and_then(|v| v.as_str())
                        == Some("Remove-MailboxPermission")
                        && p.record.plant.is_some() =>
                {
                    m.get("Id").and_then(|v| v.as_str()).map(String::from)
                }
                _ => None,
            });
        }
    }
    w.grants.extend(found);
}

/// Two weeks of ordinary activity.
fn noise(w: &mut World) {
    for day in 0..w.cfg.days {
        let weekend = matches!(day % 7, 5 | 6);
        let users = w.users.clone();
        for u in &users {
            let active = if weekend { w.rng.chance(15) } else { true };
            if active {
                user_day(w, day, u, weekend);
            }
        }
        system_day(w, day);
        partner_support_day(w, day, weekend);
        directory_day(w, day);
    }
}

fn work_time(w: &mut World, day: u32) -> Timestamp {
    let hour = w.rng.range(7, 18);
    let minute = w.rng.range(0, 59);
    let second = w.rng.range(0, 59);
    w.day(day, hour, minute) + SignedDuration::from_secs(second)
}

/// Whether a noise record of `day` also goes to the readable slices (one day, sampled).
fn slice_day(day: u32) -> bool {
    day == 4
}

fn user_day(w: &mut World, day: u32, u: &Person, weekend: bool) {
    let scale = if weekend { 3 } else { 1 };
    let s = w.tenant.clone();
    let actor = Actor::user(&u.upn, user_type::REGULAR, &u.ip);
    for _ in 0..(16 / scale) {
        let t = work_time(w, day);
        let count = 1 + w.rng.below(30) as u32;
        let body = ual::mail_items_accessed(&mut w.rng, &s, t, &actor, &u.upn, 0, count);
        let sliced = slice_day(day) && w.rng.chance(12);
        w.add(
            Record {
                time: t,
                step: String::new(),
                plant: None,
                body: Body::Ual(body),
            },
            sliced,
        );
    }
    for _ in 0..(4 / scale) {
        let t = work_time(w, day);
        let subject = *w.rng.pick(&[
            "Re: Q1 forecast",
            "Lunch?",
            "Weekly status",
            "Invoice 4471",
            "Project Falcon notes",
            "Re: Re: contract draft",
        ]);
        let action = MailboxAction {
            operation: "Send",
            owner: &u.upn,
            logon_type: 0,
            folder: None,
            member: None,
            subject: Some(subject),
        };
        let body = ual::mailbox_item(&mut w.rng, &s, t, &actor, &action);
        w.add(
            Record {
                time: t,
                step: String::new(),
                plant: None,
                body: Body::Ual(body),
            },
            false,
        );
    }
    for i in 0..(6 / scale) {
        let t = work_time(w, day);
        if i % 2 == 0 {
            let body = ual::user_logged_in(&mut w.rng, &s, t, &actor);
            w.add(
                Record {
                    time: t,
                    step: String::new(),
                    plant: None,
                    body: Body::Ual(body),
                },
                false,
            );
        }
        let app = *w.rng.pick(&APPS);
        let mfa = if w.rng.chance(70) {
            "multiFactorAuthentication"
        } else {
            "singleFactorAuthentication"
        };
        let error_code = if w.rng.chance(3) { 50126 } else { 0 };
        let body = sign_in(
            &mut w.rng,
            &s,
            t,
            &SignIn {
                upn: &u.upn,
                home_tenant: &s.tenant_id,
                ip: &u.ip,
                cross_tenant: "none",
                auth_requirement: mfa,
                app,
                interactive: i % 3 != 2,
                error_code,
            },
        );
        let sliced = slice_day(day) && w.rng.chance(20);
        w.add(
            Record {
                time: t,
                step: String::new(),
                plant: None,
                body: Body::SignIn(body),
            },
            sliced,
        );
    }
    host_day(w, day, u, scale);
}

const PROGRAMS: [(&str, &str); 6] = [
    (
        "C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE",
        "\"C:\\Program Files\\Microsoft Office\\root\\Office16\\OUTLOOK.EXE\" ",
    ),
    (
        "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe",
        "\"C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe\" --single-argument https://contoso.sharepoint.com/",
    ),
    (
        "C:\\Program Files\\Microsoft Office\\root\\Office16\\EXCEL.EXE",
        "\"C:\\Program Files\\Microsoft Office\\root\\Office16\\EXCEL.EXE\" /dde",
    ),
    (
        "C:\\Windows\\System32\\notepad.exe",
        "\"C:\\Windows\\System32\\notepad.exe\" C:\\Users\\Public\\notes.txt",
    ),
    (
        "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
        "\"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe\" -NoProfile -Command Get-Process | Sort-Object CPU -Descending | Select-Object -First 5",
    ),
    (
        "C:\\Windows\\System32\\cmd.exe",
        "\"C:\\Windows\\System32\\cmd.exe\" /c ipconfig /all",
    ),
];
const SCRIPTS: [&str; 4] = [
    "Get-ChildItem -Path $env:USERPROFILE\\Documents -Filter *.xlsx | Select-Object Name, Length",
    "Set-StrictMode -Version 1; $this.DisplayHint",
    "Get-Process | Sort-Object CPU -Descending | Select-Object -First 5",
    "Get-Mailbox -Identity $env:USERNAME | Select-Object DisplayName, PrimarySmtpAddress",
];

fn host_day(w: &mut World, day: u32, u: &Person, scale: usize) {
    let computer = format!("{}.contoso.local", u.host);
    let sam = u.upn.split('@').next().unwrap_or(&u.upn).to_string();
    let sid = ual::sid_for(&u.upn);
    let user = HostUser {
        sid: &sid,
        domain: "CONTOSO",
        name: &sam,
    };
    let sliced = u.host == "WS-HR-03";
    for _ in 0..(17 / scale) {
        let t = work_time(w, day);
        let (image, cmd) = *w.rng.pick(&PROGRAMS);
        let pid = 1000 + w.rng.below(9000) as u32;
        let start = ProcessStart {
            computer: &computer,
            user: user.clone(),
            image,
            command_line: cmd,
            parent_image: "C:\\Windows\\explorer.exe",
            parent_command_line: "C:\\Windows\\Explorer.EXE",
            pid,
            parent_pid: 5844,
        };
        w.add(
            Record {
                time: t,
                step: String::new(),
                plant: None,
                body: Body::Windows(process_4688(&start)),
            },
            sliced,
        );
        let seed = w.rng.next_u64();
        w.add(
            Record {
                time: t,
                step: String::new(),
                plant: None,
                body: Body::Windows(sysmon_1(&start, t, seed)),
            },
            sliced,
        );
        if image == powershell_image() {
            let text = *w.rng.pick(&SCRIPTS);
            let block = w.rng.guid();
            w.add(
                Record {
                    time: t + SignedDuration::from_secs(1),
                    step: String::new(),
                    plant: None,
                    body: Body::Windows(script_block(&computer, &user, text, (1, 1), &block, pid)),
                },
                sliced,
            );
            let runspace = w.rng.guid();
            w.add(
                Record {
                    time: t + SignedDuration::from_secs(2),
                    step: String::new(),
                    plant: None,
                    body: Body::Windows(module_logging(
                        &computer,
                        &user,
                        "Get-Process",
                        &[],
                        pid,
                        &runspace,
                    )),
                },
                sliced,
            );
        }
    }
}

/// ServiceHost maintenance: lots of Set-Mailbox and Add-MailboxPermission (benign).
fn system_day(w: &mut World, day: u32) {
    let s = w.tenant.clone();
    let system = Actor::service_host();
    for i in 0..180 {
        let (hour, minute, second) = (w.rng.range(0, 23), w.rng.range(0, 59), w.rng.range(0, 59));
        let t = w.day(day, hour, minute) + SignedDuration::from_secs(second);
        let pick = w.rng.below(w.users.len() as u64) as usize;
        let u = w.users[pick].upn.clone();
        let object = exchange_object(&s, &u);
        let body = if i % 6 == 0 {
            let discovery = format!(
                "{}/DiscoverySearchMailbox{{D919BA05-46A6-415f-80AD-7E09334BB852}}",
                s.org_name
            );
            let group = format!("{}/Discovery Management", s.org_name);
            w.system_cmdlets += 1;
            exchange_admin(
                &mut w.rng,
                &s,
                t,
                &system,
                "Add-MailboxPermission",
                &[
                    ("DomainController", ""),
                    ("Identity", &discovery),
                    ("User", &group),
                    ("AccessRights", "FullAccess"),
                ],
                &exchange_object(
                    &s,
                    "DiscoverySearchMailbox{D919BA05-46A6-415f-80AD-7E09334BB852}",
                ),
            )
        } else {
            exchange_admin(
                &mut w.rng,
                &s,
                t,
                &system,
                "Set-Mailbox",
                &[
                    ("Identity", &object),
                    ("RetentionPolicy", "Default MRM Policy"),
                    ("DomainController", ""),
                ],
                &object,
            )
        };
        let sliced = slice_day(day) && i % 10 == 0;
        w.add(
            Record {
                time: t,
                step: String::new(),
                plant: None,
                body: Body::Ual(body),
            },
            sliced,
        );
    }
}

/// Northwind (approved) works in business hours on weekdays with MFA.
fn partner_support_day(w: &mut World, day: u32, weekend: bool) {
    if weekend {
        return;
    }
    let nw = northwind();
    let s = Scenario {
        partner: nw.clone(),
        ..w.tenant.clone()
    };
    for i in 0..3 {
        let minute = w.rng.range(0, 59);
        let t = w.day(day, 9 + 2 * i, minute);
        let ip = nw.ips[i as usize % nw.ips.len()].clone();
        let body = sign_in(
            &mut w.rng,
            &s,
            t,
            &SignIn {
                upn: &nw.technician,
                home_tenant: &nw.tenant_id,
                ip: &ip,
                cross_tenant: "serviceProvider",
                auth_requirement: "multiFactorAuthentication",
                app: APPS[0],
                interactive: true,
                error_code: 0,
            },
        );
        w.add(
            Record {
                time: t,
                step: String::new(),
                plant: None,
                body: Body::SignIn(body),
            },
            false,
        );
    }
}

fn directory_day(w: &mut World, day: u32) {
    let s = w.tenant.clone();
    let admin = format!("admin@{}", s.domain);
    for i in 0..12 {
        let t = work_time(w, day);
        let pick = w.rng.below(w.users.len() as u64) as usize;
        let u = w.users[pick].upn.clone();
        let id = w.rng.guid();
        let (activity, category, op) = if i % 3 == 0 {
            ("Add member to group", "GroupManagement", "Assign")
        } else {
            ("Update user", "UserManagement", "Update")
        };
        let body = directory_audit(
            &mut w.rng,
            t,
            category,
            activity,
            op,
            &Initiator::User(&admin, &s.tenant_id, "198.18.10.5"),
            &[("User", &u, &id, vec![("StrongAuthenticationMethod", "[]")])],
        );
        let sliced = slice_day(day) && i % 4 == 0;
        w.add(
            Record {
                time: t,
                step: String::new(),
                plant: None,
                body: Body::DirectoryAudit(body),
            },
            sliced,
        );
    }
}

fn dest(p: &Placed) -> Dest {
    let family = p.record.family();
    if p.sliced {
        Dest::slice(family)
    } else {
        Dest::bulk(family)
    }
}

/// Writes the example tenant into `dir` and returns what was planted.
pub fn generate_example(dir: &Path, cfg: &ExampleConfig) -> Result<GroundTruth, SimulateError> {
    let mut w = World::new(cfg);
    plant_all(&mut w);
    noise(&mut w);
    let mut placed = std::mem::take(&mut w.placed);
    placed.sort_by_key(|p| p.record.time);
    let mut records: Vec<Record> = placed.iter().map(|p| p.record.clone()).collect();
    finalize(&mut records, 4_100);
    for (p, r) in placed.iter_mut().zip(records) {
        p.record = r;
    }
    let mut files = Vec::new();
    for d in Dest::ALL {
        let chosen: Vec<&Record> = placed
            .iter()
            .filter(|p| dest(p) == d)
            .map(|p| &p.record)
            .collect();
        let bytes = render(&chosen, d.format(), &w.tenant.tenant_id);
        write_file(dir, d.path(), &bytes)?;
        files.push(FileTruth {
            path: d.path().into(),
            format: d.format().name().into(),
            records: chosen.len(),
        });
    }
    for p in &placed {
        let Some(tag) = p.record.plant else {
            continue;
        };
        let record = PlantRecord {
            id: p.record.ident(),
            file: dest(p).path().into(),
            time: iso_z(p.record.time),
            step: p.record.step.clone(),
        };
        let list = if tag >= LOOKALIKE_TAG {
            w.lookalikes
                .get_mut(tag - LOOKALIKE_TAG)
                .map(|l| &mut l.records)
        } else {
            w.plants.get_mut(tag).map(|t| &mut t.records)
        };
        if let Some(list) = list {
            list.push(record);
        }
    }
    host_only_grants(&mut w, &placed);
    let truth = GroundTruth {
        tenant: w.tenant.tenant_id.clone(),
        domain: w.tenant.domain.clone(),
        time_range: (
            iso_z(cfg.start),
            iso_z(cfg.start + SignedDuration::from_hours(24 * i64::from(cfg.days))),
        ),
        files,
        plants: w.plants.clone(),
        lookalikes: w.lookalikes.clone(),
        grants: w.grants.clone(),
        system_permission_cmdlets: w.system_cmdlets,
    };
    write_support_files(dir, &w, &truth)?;
    Ok(truth)
}

/// AN1052 plants without an Exchange record (P04, P05) still grant a permission.
fn host_only_grants(w: &mut World, placed: &[Placed]) {
    for index in [3usize, 4] {
        let Some(plant) = w.plants.get(index) else {
            continue;
        };
        let Some(first) = placed.iter().find(|p| {
            p.record.plant == Some(index)
                && matches!(p.record.body, Body::Windows(ref e) if e.event_id == 4103)
        }) else {
            continue;
        };
        w.grants.push(GrantTruth {
            operation: "Add-MailboxPermission".into(),
            time: iso_z(first.record.time),
            actor: plant.actor.clone(),
            mailbox: plant.mailbox.clone(),
            trustee: plant.trustee.clone(),
            rights: "FullAccess".into(),
            record_id: first.record.ident(),
            evidence: "host".into(),
            removed_at: None,
            removal_record_id: None,
            standing: true,
        });
    }
    w.grants
        .sort_by(|a, b| a.time.cmp(&b.time).then(a.record_id.cmp(&b.record_id)));
}

fn write_file(dir: &Path, rel: &str, bytes: &[u8]) -> Result<(), SimulateError> {
    let path = dir.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io_error(parent, e))?;
    }
    let data = if rel.ends_with(".gz") {
        gzip(bytes).map_err(|e| io_error(&path, e))?
    } else {
        bytes.to_vec()
    };
    std::fs::write(&path, data).map_err(|e| io_error(&path, e))
}

fn io_error(path: &Path, source: std::io::Error) -> SimulateError {
    SimulateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Gzip with a fixed header (no name, mtime 0, OS unknown) so output is reproducible.
fn gzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(Vec::new(), Compression::new(9));
    encoder.write_all(bytes)?;
    encoder.finish()
}

fn write_support_files(dir: &Path, w: &World, truth: &GroundTruth) -> Result<(), SimulateError> {
    let mut tickets = String::from("id,start,end,actor,target,action\n");
    tickets.push_str(&format!(
        "CHG0032,{},{},,,Set-TransportRule\n",
        iso_z(w.day(0, 8, 0)),
        iso_z(w.day(0, 12, 0))
    ));
    for t in &w.tickets {
        tickets.push_str(t);
        tickets.push('\n');
    }
    tickets.push_str(&format!(
        "CHG0047,{},{},l2.support@northwind-it.example,,Set-Mailbox*\n",
        iso_z(w.day(9, 8, 0)),
        iso_z(w.day(9, 18, 0))
    ));
    write_file(dir, "tickets.csv", tickets.as_bytes())?;
    write_file(dir, "trustpath.toml", context_toml(&w.tenant).as_bytes())?;
    let text = format!(
        "# Ground truth of the planted chains (generated by trustpath-simulate; do not edit).\n\n{}",
        truth.to_toml()
    );
    write_file(dir, "ground-truth.toml", text.as_bytes())
}

/// The example context (`trustpath.toml`) for a tenant like `s`.
pub(crate) fn context_toml_for(s: &Scenario) -> String {
    context_toml(s)
}

fn context_toml(s: &Scenario) -> String {
    let nw = northwind();
    let fab = &s.partner;
    format!(
        r#"# trustpath context for the Contoso example tenant (see crates/trustpath-context/CONTEXT.md).
# Every key is optional; omitted keys keep the documented defaults.

[settings]
lateness = "12h"                 # streaming: how late an event may arrive and still count

# An approved CSP partner with a support window.
[[partners]]
name = "{nw_name}"
tenant_id = "{nw_tenant}"
cidrs = ["198.51.100.0/24", "2001:db8:100::/48"]
approved = true                  # approved delegated-admin (GDAP) relationship
approved_roles = ["Exchange Administrator", "Helpdesk Administrator"]
[[partners.support_windows]]
days = ["mon", "tue", "wed", "thu", "fri"]
start = "08:00"
end = "18:00"
timezone = "Europe/London"

# A partner we know of but have NOT approved.
[[partners]]
name = "{fab_name}"
tenant_id = "{fab_tenant}"
cidrs = ["203.0.113.0/24"]
approved = false

[sensitive_mailboxes]            # case-insensitive globs (* and ?) per category
executive = ["ceo@contoso.com", "cfo@contoso.com"]
finance = ["finance*@contoso.com"]
legal = ["legal@contoso.com"]
shared = ["payroll@contoso.com"]

[admins]
accounts = ["admin@contoso.com", "contoso\\admin", "helpdesk@contoso.com"]
hosts = ["ADM-WS01"]

[change_tickets]
csv = "tickets.csv"              # relative to this file: id,start,end,actor,target,action

[analytics.AN1350]
window = "7d"
MailboxDelegateAllowList = ["shared-projects@contoso.com"]

[analytics.AN1052]
PowerShellCmdletFilter = ["Add-MailboxPermission", "Add-RecipientPermission", "Add-MailboxFolderPermission", "Set-MailboxFolderPermission", "Set-Mailbox", "New-ManagementRoleAssignment"]
ExecutionParent = ["explorer.exe", "cmd.exe"]
TimeWindow = "1h"

[analytics.AN1051]
DelegatePermissionLevel = ["FullAccess", "Owner", "PublishingEditor", "Editor", "Delegate"]
FolderTargetScope = ["Inbox", "Calendar", "Top of Information Store"]
DelegatorToDelegatePairing = [{{ delegator = "ceo@contoso.com", delegate = "ea@contoso.com" }}]

[analytics.AN1347]
TrustedPartnerTenantIDs = ["{nw_tenant}"]
RequiredMFA = true
RoleScopeAllowList = ["Exchange Administrator", "Helpdesk Administrator"]
"#,
        nw_name = nw.name,
        nw_tenant = nw.tenant_id,
        fab_name = fab.name,
        fab_tenant = fab.tenant_id,
    )
}
