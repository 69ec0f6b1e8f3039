//! The `Finding`: what trustpath reports, with its evidence, priority and entities.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::Arc;
use trustpath_event::{Event, Origin};

/// Severity levels, lowest first (Sigma's `level` names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Context only.
    Informational,
    /// Hunting lead.
    Low,
    /// Worth a look today.
    Medium,
    /// Investigate now.
    High,
    /// Incident.
    Critical,
}

impl Level {
    /// Parse a Sigma `level` value; unknown values are `Medium`.
    pub fn from_sigma(level: Option<&str>) -> Level {
        match level.map(str::to_ascii_lowercase).as_deref() {
            Some("informational") => Level::Informational,
            Some("low") => Level::Low,
            Some("high") => Level::High,
            Some("critical") => Level::Critical,
            _ => Level::Medium,
        }
    }

    /// One level up (saturating).
    pub fn raised(self) -> Level {
        match self {
            Level::Informational => Level::Low,
            Level::Low => Level::Medium,
            Level::Medium => Level::High,
            Level::High | Level::Critical => Level::Critical,
        }
    }

    /// One level down (saturating).
    pub fn lowered(self) -> Level {
        match self {
            Level::Critical => Level::High,
            Level::High => Level::Medium,
            Level::Medium => Level::Low,
            Level::Low | Level::Informational => Level::Informational,
        }
    }

    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Informational => "informational",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a reason moved the severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// The starting level.
    Base,
    /// Raised one level.
    Raised,
    /// Lowered one level.
    Lowered,
    /// Stated for the analyst, no change.
    Noted,
}

/// One reason for the final severity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    /// What it did to the level.
    pub effect: Effect,
    /// Why, in words an analyst reads.
    pub reason: String,
}

/// The severity and every reason that set it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Severity {
    /// Final level.
    pub level: Level,
    /// Base level first, then each adjustment in order.
    pub reasons: Vec<Reason>,
}

impl Severity {
    /// The severity of a Sigma rule's single-event finding: its `level`, as the base.
    pub fn of_rule(rule: &RuleRef) -> Self {
        let level = Level::from_sigma(Some(&rule.level));
        Severity::base(level, format!("rule level {}", rule.level))
    }

    /// A severity at `level` with its base reason.
    pub fn base(level: Level, reason: impl Into<String>) -> Self {
        Severity {
            level,
            reasons: vec![Reason {
                effect: Effect::Base,
                reason: reason.into(),
            }],
        }
    }

    /// Raise one level, recording why.
    pub fn raise(&mut self, reason: impl Into<String>) {
        self.level = self.level.raised();
        self.push(Effect::Raised, reason);
    }

    /// Lower one level, recording why.
    pub fn lower(&mut self, reason: impl Into<String>) {
        self.level = self.level.lowered();
        self.push(Effect::Lowered, reason);
    }

    /// Record a reason that does not change the level.
    pub fn note(&mut self, reason: impl Into<String>) {
        self.push(Effect::Noted, reason);
    }

    fn push(&mut self, effect: Effect, reason: impl Into<String>) {
        self.reasons.push(Reason {
            effect,
            reason: reason.into(),
        });
    }
}

/// The rule that produced a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleRef {
    /// Sigma `id` (or name when there is no id).
    pub id: String,
    /// Sigma `title`.
    pub title: String,
    /// Sigma `level`.
    pub level: String,
}

/// ATT&CK references.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attack {
    /// Technique ids (`T1199`, `T1098.002`).
    pub technique: Vec<String>,
    /// Tactic names from the rule tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tactics: Vec<String>,
    /// Detection strategy (`DET0488`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detection_strategy: Option<String>,
}

/// Who and what a finding is about.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entities {
    /// Customer tenant id.
    pub tenant: Option<String>,
    /// Partner (name or tenant id).
    pub partner: Option<String>,
    /// Acting principal.
    pub actor: Option<String>,
    /// Principal that received access.
    pub trustee: Option<String>,
    /// Mailbox concerned.
    pub mailbox: Option<String>,
    /// Client IPs seen in the evidence.
    pub ips: Vec<String>,
    /// Host for Windows evidence.
    pub host: Option<String>,
}

/// One event cited by a finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Chain step or rule the event matched (`1`, `an1350_mailbox_delegation` …).
    pub step: String,
    /// Event time.
    pub time: Timestamp,
    /// Where the record is.
    pub origin: Origin,
    /// Source kind and format, e.g. `m365_audit/ual_json`.
    pub source: String,
    /// One-line description (operation, actor, target, IP).
    pub summary: String,
    /// The record's own id (`Id`, `id`, `EventRecordID`) when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_id: Option<String>,
    /// The client IP of the event (`tp.ip`), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
}

impl Evidence {
    /// Evidence for `event` at `step`.
    pub fn from_event(step: impl Into<String>, event: &Event) -> Self {
        Evidence {
            step: step.into(),
            time: event.time,
            origin: event.origin.clone(),
            source: format!("{}/{}", event.source, event.format),
            summary: summarize(event),
            record_id: record_id(event),
            ip: event.ip().map(str::to_owned),
        }
    }
}

fn record_id(event: &Event) -> Option<String> {
    ["Id", "id", "EventRecordID", "RecordId"]
        .iter()
        .find_map(|k| event.fields.get(*k))
        .and_then(|v| match v {
            serde_json::Value::String(s) if !s.is_empty() => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
}

/// A one-line description of an event for tables and evidence lists.
pub fn summarize(event: &Event) -> String {
    use std::fmt::Write as _;
    // One string written in place: this runs for every event that has a finding.
    let mut out = String::new();
    let mut parts = 0;
    if let Some(op) = event.operation() {
        out.push_str(op);
        parts += 1;
    } else if let Some(id) = event.fields.get("EventID") {
        let _ = write!(out, "EventID {id}");
        parts += 1;
    }
    for (label, key) in [
        ("actor", trustpath_event::norm::ACTOR),
        ("target", trustpath_event::norm::TARGET),
        ("trustee", trustpath_event::norm::TRUSTEE),
        ("ip", trustpath_event::norm::IP),
        ("host", trustpath_event::norm::HOST),
    ] {
        if let Some(v) = event.norm_str(key).filter(|v| !v.is_empty()) {
            if parts > 0 {
                out.push(' ');
            }
            let _ = write!(out, "{label}={v}");
            parts += 1;
        }
    }
    out
}

/// The time window a finding covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// First evidence time.
    pub start: Timestamp,
    /// Last evidence time.
    pub end: Timestamp,
}

impl Window {
    /// The window of one instant (a single-event finding's).
    pub fn at(time: Timestamp) -> Self {
        Window {
            start: time,
            end: time,
        }
    }
}

/// A field value that made a selection of a Sigma rule hold: why the rule fired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchedField {
    /// The search identifier (`selection_img`).
    pub selection: String,
    /// The field as named in the event (`Image`, `CommandLine`, `Operation`).
    pub field: String,
    /// Its value (long values cut with `…`; `(absent)` when the test held because the
    /// field is missing).
    pub value: String,
}

/// One of the rule's `fields:` (what its author says to look at) with the event's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldValue {
    /// Field name as the rule writes it.
    pub field: String,
    /// The value in the event (several joined with `, `).
    pub value: String,
}

/// What kind of result a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// A complete detection.
    Alert,
    /// A partial chain or weak signal, for hunting.
    HuntingLead,
}

/// A finding: the unit trustpath reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable id: the same input gives the same id ([`finding_id`]).
    pub id: String,
    /// Event time of the finding: its earliest evidence (the window start).
    pub time: Timestamp,
    /// Analytic id (`AN1350`) for built-in analytics; `null` for plain Sigma rules.
    pub analytic: Option<String>,
    /// Human title.
    pub title: String,
    /// Alert or hunting lead.
    pub kind: FindingKind,
    /// ATT&CK references.
    pub attack: Attack,
    /// The rule (detection or correlation) that fired.
    pub rule: RuleRef,
    /// Final severity and why.
    pub severity: Severity,
    /// Change-ticket id when the activity matches an approved change.
    pub authorized: Option<String>,
    /// Entities involved.
    pub entities: Entities,
    /// Window covered by the evidence.
    pub window: Window,
    /// Evidence events in time order.
    pub evidence: Vec<Evidence>,
    /// PowerShell that reverses the change, where the finding is about a permission change.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rollback: Vec<String>,
    /// For a Sigma rule's finding: the field values that made its selections hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub matched: Vec<MatchedField>,
    /// For a Sigma rule's finding: the rule's `fields:` with the event's values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldValue>,
}

impl Finding {
    /// Event time used to order findings: the window start.
    pub fn time(&self) -> Timestamp {
        self.window.start
    }

    /// Sort key that makes output deterministic.
    pub fn sort_key(&self) -> (Timestamp, &str) {
        (self.window.start, self.id.as_str())
    }

    /// This finding with why its Sigma rule fired ([`Finding::matched`],
    /// [`Finding::fields`]).
    pub fn with_match(mut self, matched: Vec<MatchedField>, fields: Vec<FieldValue>) -> Self {
        self.matched = matched;
        self.fields = fields;
        self
    }

    /// Whether the finding is an open alert: not authorised, not a hunting lead.
    pub fn is_open(&self) -> bool {
        self.authorized.is_none() && self.kind == FindingKind::Alert
    }

    /// A one-line account of why the rule fired, like Hayabusa's details column:
    /// the matched values first, then the rule's `fields:` not already shown, as
    /// `Field: value ¦ Field: value`. Empty for findings without Sigma match data.
    pub fn details(&self) -> String {
        let mut parts: Vec<(&str, &str)> = Vec::new();
        for m in &self.matched {
            if !parts.contains(&(m.field.as_str(), m.value.as_str())) {
                parts.push((&m.field, &m.value));
            }
        }
        for f in &self.fields {
            if !parts.iter().any(|(k, _)| *k == f.field) {
                parts.push((&f.field, &f.value));
            }
        }
        parts
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join(" ¦ ")
    }
}

/// A stable finding id from the rule id, a discriminator and the identities of the
/// anchoring evidence records ([`trustpath_event::record_key`]: the record's own id, else a
/// content hash — never the path as typed or the order of inputs).
///
/// 32 hex characters of SHA-256; identities are sorted and de-duplicated first so that
/// input order never changes the id.
pub fn finding_id<S: AsRef<str>>(
    rule_id: &str,
    key: &str,
    identities: impl IntoIterator<Item = S>,
) -> String {
    let identities: Vec<S> = identities.into_iter().collect();
    let mut parts: Vec<&str> = identities.iter().map(AsRef::as_ref).collect();
    parts.sort_unstable();
    parts.dedup();
    let mut hasher = Sha256::new();
    hasher.update(rule_id.as_bytes());
    hasher.update([0]);
    hasher.update(key.as_bytes());
    for part in parts {
        hasher.update([0]);
        hasher.update(part.as_bytes());
    }
    let digest = hasher.finalize();
    hex::encode(&digest[..16])
}

/// The identity of the earliest event (ties broken by identity, so neither the path nor
/// the input order decides): the anchor a finding id hashes.
pub fn anchor_key<'a>(events: impl IntoIterator<Item = &'a Event>) -> Option<String> {
    events
        .into_iter()
        .map(|e| (e.time, e.record_key()))
        .min()
        .map(|(_, key)| key)
}

/// A finding for a single event matched by a plain Sigma detection rule.
pub fn single_event_finding(rule: RuleRef, attack: Attack, event: &Arc<Event>) -> Finding {
    EventFinding::new(event).into_finding(rule, attack)
}

/// What every single-event finding of one event shares (its record's identity, entities
/// and evidence), worked out once: an event matched by several rules gives one finding
/// per rule, and working these out again per rule was a tenth of a hunt's findings.
pub struct EventFinding {
    record_key: String,
    time: Timestamp,
    entities: Entities,
    evidence: Evidence,
}

impl EventFinding {
    /// The shared parts of `event`'s findings.
    pub fn new(event: &Event) -> Self {
        let entities = Entities {
            tenant: event.tenant().map(str::to_owned),
            partner: None,
            actor: event.actor().map(str::to_owned),
            trustee: event
                .norm_str(trustpath_event::norm::TRUSTEE)
                .map(str::to_owned),
            mailbox: event
                .norm_str(trustpath_event::norm::TARGET)
                .map(str::to_owned),
            ips: event.ip().map(|ip| vec![ip.to_owned()]).unwrap_or_default(),
            host: event
                .norm_str(trustpath_event::norm::HOST)
                .map(str::to_owned),
        };
        EventFinding {
            record_key: event.record_key(),
            time: event.time,
            entities,
            evidence: Evidence::from_event("match", event),
        }
    }

    /// The finding of `rule` for this event.
    pub fn finding(&self, rule: RuleRef, attack: Attack) -> Finding {
        let (entities, evidence) = (self.entities.clone(), self.evidence.clone());
        EventFinding::parts(
            &self.record_key,
            self.time,
            rule,
            attack,
            entities,
            evidence,
        )
    }

    /// [`EventFinding::finding`] for the event's last rule: it takes the shared parts
    /// instead of copies.
    pub fn into_finding(self, rule: RuleRef, attack: Attack) -> Finding {
        let EventFinding {
            record_key,
            time,
            entities,
            evidence,
        } = self;
        EventFinding::parts(&record_key, time, rule, attack, entities, evidence)
    }

    /// The JSON of what every finding of the event shares, for
    /// [`EventJson::encode_jsonl`].
    pub fn json(&self) -> serde_json::Result<EventJson<'_>> {
        let mut time = Vec::with_capacity(32);
        serde_json::to_writer(&mut time, &self.time)?;
        // Entities, window and evidence: about 600 bytes for a Windows event.
        let mut tail = Vec::with_capacity(1024);
        tail.extend_from_slice(b"\"entities\":");
        serde_json::to_writer(&mut tail, &self.entities)?;
        tail.extend_from_slice(b",\"window\":");
        serde_json::to_writer(&mut tail, &Window::at(self.time))?;
        tail.extend_from_slice(b",\"evidence\":[");
        serde_json::to_writer(&mut tail, &self.evidence)?;
        tail.push(b']');
        Ok(EventJson {
            record_key: &self.record_key,
            time,
            tail,
        })
    }

    /// A rule's finding from an event's shared parts.
    fn parts(
        record_key: &str,
        time: Timestamp,
        rule: RuleRef,
        attack: Attack,
        entities: Entities,
        evidence: Evidence,
    ) -> Finding {
        Finding {
            id: finding_id(&rule.id, "", [record_key]),
            time,
            analytic: None,
            title: rule.title.clone(),
            kind: FindingKind::Alert,
            attack,
            severity: Severity::of_rule(&rule),
            rule,
            authorized: None,
            entities,
            window: Window::at(time),
            evidence: vec![evidence],
            rollback: Vec::new(),
            matched: Vec::new(),
            fields: Vec::new(),
        }
    }
}

/// An [`EventFinding`]'s shared parts as JSON: a rule's finding is then written by
/// copying them and its rule's ([`RuleJson`]) around the few parts of its own, without
/// building it.
pub struct EventJson<'a> {
    record_key: &'a str,
    /// The event time (the finding's `time`).
    time: Vec<u8>,
    /// `"entities":…,"window":…,"evidence":[…]`.
    tail: Vec<u8>,
}

/// What a rule's single-event findings share as JSON, made once per rule.
pub struct RuleJson {
    id: String,
    level: Level,
    /// `"analytic":null,"title":…,"kind":…,"attack":…,"rule":…,"severity":…,"authorized":null,`
    middle: Vec<u8>,
}

impl RuleJson {
    /// The parts of the single-event findings of `rule` (with `attack`) that do not
    /// depend on the event.
    pub fn new(rule: &RuleRef, attack: &Attack) -> serde_json::Result<Self> {
        let severity = Severity::of_rule(rule);
        let level = severity.level;
        let mut middle = Vec::with_capacity(256);
        middle.extend_from_slice(b"\"analytic\":null,\"title\":");
        serde_json::to_writer(&mut middle, &rule.title)?;
        middle.extend_from_slice(b",\"kind\":");
        serde_json::to_writer(&mut middle, &FindingKind::Alert)?;
        middle.extend_from_slice(b",\"attack\":");
        serde_json::to_writer(&mut middle, attack)?;
        middle.extend_from_slice(b",\"rule\":");
        serde_json::to_writer(&mut middle, rule)?;
        middle.extend_from_slice(b",\"severity\":");
        serde_json::to_writer(&mut middle, &severity)?;
        middle.extend_from_slice(b",\"authorized\":null,");
        Ok(RuleJson {
            id: rule.id.clone(),
            level,
            middle,
        })
    }

    /// The findings' severity.
    pub fn level(&self) -> Level {
        self.level
    }
}

impl EventJson<'_> {
    /// Appends what [`encode_jsonl`](crate::encode_jsonl) writes for
    /// `event_finding.finding(rule, attack).with_match(matched, fields)`, byte for byte
    /// (the fields in `Finding`'s order, each value by its own `Serialize`), where `rule`
    /// is [`RuleJson::new`]`(rule, attack)`. On an error `out` is left as it was.
    pub fn encode_jsonl(
        &self,
        rule: &RuleJson,
        matched: &[MatchedField],
        fields: &[FieldValue],
        out: &mut Vec<u8>,
    ) -> std::io::Result<()> {
        let start = out.len();
        match self.write_json(rule, matched, fields, out) {
            Ok(()) => {
                out.push(b'\n');
                Ok(())
            }
            Err(e) => {
                out.truncate(start);
                Err(e.into())
            }
        }
    }

    fn write_json(
        &self,
        rule: &RuleJson,
        matched: &[MatchedField],
        fields: &[FieldValue],
        out: &mut Vec<u8>,
    ) -> serde_json::Result<()> {
        out.extend_from_slice(b"{\"id\":");
        serde_json::to_writer(&mut *out, &finding_id(&rule.id, "", [self.record_key]))?;
        out.extend_from_slice(b",\"time\":");
        out.extend_from_slice(&self.time);
        out.push(b',');
        out.extend_from_slice(&rule.middle);
        out.extend_from_slice(&self.tail);
        if !matched.is_empty() {
            out.extend_from_slice(b",\"matched\":");
            write_matched(matched, out)?;
        }
        if !fields.is_empty() {
            out.extend_from_slice(b",\"fields\":");
            serde_json::to_writer(&mut *out, fields)?;
        }
        out.push(b'}');
        Ok(())
    }
}

/// `matched` as `serde_json::to_writer` writes it (a [`MatchedField`] is its three
/// fields in order), with a value equal to the one before it copied instead of escaped
/// again: a rule's selections often hold on the same long command line.
fn write_matched(matched: &[MatchedField], out: &mut Vec<u8>) -> serde_json::Result<()> {
    let mut last: Option<(&str, std::ops::Range<usize>)> = None;
    out.push(b'[');
    for (i, m) in matched.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"selection\":");
        serde_json::to_writer(&mut *out, &m.selection)?;
        out.extend_from_slice(b",\"field\":");
        serde_json::to_writer(&mut *out, &m.field)?;
        out.extend_from_slice(b",\"value\":");
        match &last {
            Some((value, written)) if *value == m.value => {
                out.extend_from_within(written.clone());
            }
            _ => {
                let start = out.len();
                serde_json::to_writer(&mut *out, &m.value)?;
                last = Some((&m.value, start..out.len()));
            }
        }
        out.push(b'}');
    }
    out.push(b']');
    Ok(())
}

/// Technique ids and tactics from Sigma `tags` (`attack.t1098.002`, `attack.persistence`).
pub fn attack_from_tags(tags: &[String]) -> Attack {
    let mut attack = Attack::default();
    for tag in tags {
        let Some(rest) = tag.strip_prefix("attack.") else {
            continue;
        };
        let is_technique = rest.len() >= 5
            && rest.starts_with(['t', 'T'])
            && rest[1..].chars().take(4).all(|c| c.is_ascii_digit());
        if is_technique {
            attack.technique.push(rest.to_ascii_uppercase());
        } else if rest
            .chars()
            .all(|c| c.is_ascii_alphabetic() || c == '_' || c == '-')
        {
            attack.tactics.push(rest.replace('_', "-"));
        }
    }
    attack
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_ignore_identity_order() {
        let (a, b) = ("m365_audit:id:a", "m365_audit:id:b");
        assert_eq!(finding_id("r", "k", [a, b]), finding_id("r", "k", [b, a]));
        assert_ne!(finding_id("r", "k", [a]), finding_id("r", "k2", [a]));
        assert_eq!(finding_id("r", "k", [a]).len(), 32);
    }

    #[test]
    fn severity_moves_and_records() {
        let mut s = Severity::base(Level::Medium, "base");
        s.raise("sensitive mailbox");
        s.raise("outside support window");
        s.raise("again");
        assert_eq!(s.level, Level::Critical);
        s.lower("authorised");
        assert_eq!(s.level, Level::High);
        assert_eq!(s.reasons.len(), 5);
    }

    #[test]
    fn attack_tags() {
        let a = attack_from_tags(&[
            "attack.t1098.002".into(),
            "attack.persistence".into(),
            "attack.initial_access".into(),
            "attack.g0016".into(),
        ]);
        assert_eq!(a.technique, vec!["T1098.002"]);
        assert_eq!(a.tactics, vec!["persistence", "initial-access"]);
    }
}
