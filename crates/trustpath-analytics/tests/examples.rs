//! The README's first command: `trustpath hunt examples/` finds exactly the planted
//! chains (and nothing outside them) of the generator's ground truth, shows the authorised ones as authorised and
//! the partial one as a hunting lead.

mod common;

use trustpath_context::Context;
use trustpath_report::{Finding, FindingKind};
use trustpath_simulate::GroundTruth;

fn cites(finding: &Finding, record_id: &str) -> bool {
    let short = record_id.rsplit('/').next().unwrap_or(record_id);
    finding.evidence.iter().any(|e| {
        e.record_id
            .as_deref()
            .is_some_and(|r| r == record_id || r == short)
    })
}

#[test]
fn hunt_finds_exactly_the_planted_chains() {
    let dir = common::examples();
    let truth = GroundTruth::load(&dir.join("ground-truth.toml")).expect("ground truth");
    let context = Context::load(&dir.join("trustpath.toml")).expect("context");
    let hunt = common::hunt(&[dir.join("logs")], context);
    assert_eq!(hunt.skipped, 0);
    assert!(hunt.events >= 50_000, "{} events", hunt.events);

    let expected: Vec<_> = truth.plants.iter().filter(|p| p.expect_finding).collect();
    let mut unmatched: Vec<&Finding> = hunt.findings.iter().collect();
    for plant in &expected {
        let position = unmatched.iter().position(|f| {
            f.analytic.as_deref() == Some(plant.analytic.as_str())
                && plant.records.iter().any(|r| cites(f, &r.id))
        });
        let Some(position) = position else {
            panic!("plant {} ({}) has no finding", plant.id, plant.analytic);
        };
        let finding = unmatched.remove(position);
        assert_eq!(
            finding.authorized, plant.expected_ticket,
            "plant {}: authorisation",
            plant.id
        );
        let want_kind = if plant.kind == "partial" {
            FindingKind::HuntingLead
        } else {
            FindingKind::Alert
        };
        // Authorised look-alikes may be partial chains (an approved partner has no new
        // relationship event); their authorisation is what counts.
        if plant.expected_ticket.is_none() {
            assert_eq!(finding.kind, want_kind, "plant {}: kind", plant.id);
        }
        let want_mailbox = Some(plant.mailbox.as_str()).filter(|m| !m.is_empty());
        assert_eq!(
            finding.entities.mailbox.as_deref(),
            want_mailbox,
            "plant {}: mailbox",
            plant.id
        );
    }
    // Other analytics may report on a planted chain's own records (a lead's grant and
    // role stay separate alerts: folding never downgrades an alert); nothing else.
    let planted: Vec<&str> = truth
        .plants
        .iter()
        .flat_map(|p| p.records.iter().map(|r| r.id.as_str()))
        .collect();
    let extra: Vec<String> = unmatched
        .iter()
        .filter(|f| !planted.iter().any(|id| cites(f, id)))
        .map(|f| {
            format!(
                "{} {} {:?}",
                f.analytic.as_deref().unwrap_or("?"),
                f.title,
                f.entities
            )
        })
        .collect();
    assert!(extra.is_empty(), "findings beyond the plants: {extra:#?}");
}

#[test]
fn hunt_is_deterministic_across_thread_counts() {
    let dir = common::examples();
    let context = || Context::load(&dir.join("trustpath.toml")).expect("context");
    let ids = |findings: &[Finding]| findings.iter().map(|f| f.id.clone()).collect::<Vec<_>>();
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool")
        .install(|| common::hunt(&[dir.join("logs")], context()));
    let many = common::hunt(&[dir.join("logs")], context());
    assert_eq!(ids(&one.findings), ids(&many.findings));
}
