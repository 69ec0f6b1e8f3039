//! First-seen times per tenant, for "first-seen actor / target" priority.
//!
//! "First seen" is a claim about history: it is made only when the tenant's own data
//! reaches back at least the learning period (`[settings] first_seen_learning`, default
//! 7 days) before the event. With less history the finding says "no baseline yet" and
//! severity is not raised. Another tenant's records never count as history.

use jiff::{SignedDuration, Timestamp};
use std::collections::HashMap;
use trustpath_event::Event;

/// When each actor was first seen in each tenant, and where each tenant's data starts.
#[derive(Debug, Clone, Default)]
pub struct Baseline {
    /// (tenant, actor lower-case) → first activity.
    first_seen: HashMap<(String, String), Timestamp>,
    /// tenant → earliest event time of that tenant's data.
    starts: HashMap<String, Timestamp>,
}

/// What the baseline says about an actor at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstSeen {
    /// The actor has earlier activity in the tenant.
    Known,
    /// The tenant's data covers the learning period and the actor has no earlier activity.
    New,
    /// The tenant's data does not reach back the learning period: nothing can be said.
    NoBaseline,
}

fn min_into(slot: &mut Timestamp, time: Timestamp) {
    if time < *slot {
        *slot = time;
    }
}

impl Baseline {
    /// Record activity in `tenant` (None: a record naming no tenant) at `time`, by
    /// `actor` when known.
    pub fn observe(&mut self, tenant: Option<&str>, actor: Option<&str>, time: Timestamp) {
        let tenant = tenant.unwrap_or("").to_ascii_lowercase();
        if let Some(actor) = actor.map(str::trim).filter(|a| !a.is_empty()) {
            let key = (tenant.clone(), actor.to_lowercase());
            match self.first_seen.get_mut(&key) {
                Some(first) => min_into(first, time),
                None => {
                    self.first_seen.insert(key, time);
                }
            }
        }
        match self.starts.get_mut(&tenant) {
            Some(start) => min_into(start, time),
            None => {
                self.starts.insert(tenant, time);
            }
        }
    }

    /// Record an event (its tenant, actor and time). Only events with an actor count, so
    /// a hunt and the service (which keeps first-seen times per actor) agree on where a
    /// tenant's history starts.
    pub fn observe_event(&mut self, event: &Event) {
        if event.actor().is_some() {
            self.observe(event.tenant(), event.actor(), event.time);
        }
    }

    /// Merge another baseline (order-independent).
    pub fn merge(&mut self, other: Baseline) {
        for ((tenant, actor), time) in other.first_seen {
            self.observe(Some(&tenant), Some(&actor), time);
        }
        for (tenant, time) in other.starts {
            self.observe(Some(&tenant), None, time);
        }
    }

    /// When `actor` was first seen in `tenant`.
    pub fn first_seen(&self, tenant: Option<&str>, actor: &str) -> Option<Timestamp> {
        let key = (
            tenant.unwrap_or("").to_ascii_lowercase(),
            actor.trim().to_lowercase(),
        );
        self.first_seen.get(&key).copied()
    }

    /// Where `tenant`'s data starts.
    pub fn tenant_start(&self, tenant: Option<&str>) -> Option<Timestamp> {
        self.starts
            .get(&tenant.unwrap_or("").to_ascii_lowercase())
            .copied()
    }

    /// Whether `actor` is new in `tenant` at `time`, given `learning` of history needed.
    pub fn judge(
        &self,
        tenant: Option<&str>,
        actor: &str,
        time: Timestamp,
        learning: SignedDuration,
    ) -> FirstSeen {
        let covered = self
            .tenant_start(tenant)
            .is_some_and(|start| time.duration_since(start) >= learning);
        if self
            .first_seen(tenant, actor)
            .is_some_and(|first| first < time)
        {
            FirstSeen::Known
        } else if covered {
            FirstSeen::New
        } else {
            FirstSeen::NoBaseline
        }
    }

    /// Number of (tenant, actor) pairs known.
    pub fn len(&self) -> usize {
        self.first_seen.len()
    }

    /// Whether no actor is known.
    pub fn is_empty(&self) -> bool {
        self.first_seen.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().expect("test time")
    }

    const WEEK: SignedDuration = SignedDuration::from_hours(168);

    #[test]
    fn another_tenants_history_is_no_baseline() {
        let mut b = Baseline::default();
        b.observe(Some("B"), Some("x@b.example"), t("2025-03-06T09:00:00Z"));
        b.observe(Some("A"), Some("eve@a.example"), t("2025-03-06T09:01:00Z"));
        let verdict = b.judge(Some("a"), "eve@a.example", t("2025-03-06T09:01:00Z"), WEEK);
        assert_eq!(verdict, FirstSeen::NoBaseline);
    }

    #[test]
    fn a_week_of_history_makes_a_new_actor_new() {
        let mut b = Baseline::default();
        b.observe(Some("A"), Some("bob@a.example"), t("2025-03-01T09:00:00Z"));
        b.observe(Some("A"), Some("eve@a.example"), t("2025-03-09T09:00:00Z"));
        let at = t("2025-03-09T09:00:00Z");
        assert_eq!(
            b.judge(Some("A"), "eve@a.example", at, WEEK),
            FirstSeen::New
        );
        assert_eq!(
            b.judge(Some("A"), "BOB@a.example", at, WEEK),
            FirstSeen::Known
        );
        // One minute of history is not a baseline.
        let short = SignedDuration::from_hours(24 * 30);
        assert_eq!(
            b.judge(Some("A"), "eve@a.example", at, short),
            FirstSeen::NoBaseline
        );
    }
}
