//! The detector: built-in and user Sigma rules compiled with the context's tunables,
//! per-event matching, and the batch step that turns a hunt's matches into findings.

use crate::{AnalyticInput, Baseline, Builtin, Metadata, builtin::BUILTIN};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use trustpath_context::Context;
use trustpath_correlate::{
    ContextSets, CorrelationDoc, CorrelationLoadError, CorrelationResult, CorrelationSet, Engine,
    EngineConfig, EngineStats, LateEvent, RuleCatalog, RuleRef as CorrRuleRef,
};
use trustpath_event::Event;
use trustpath_normalize::TenantCensus;
use trustpath_report::{
    Entities, Evidence, Finding, FindingKind, Level, RuleRef, Severity, Window, attack_from_tags,
    finding_id, single_event_finding,
};
use trustpath_sigma::{LoadError, LoadOptions, Matcher, RuleIndex, RuleSet};

/// What to load.
#[derive(Debug, Clone, Default)]
pub struct DetectorOptions {
    /// Load the built-in analytics.
    pub builtin: bool,
    /// User rule files or folders (`-r`).
    pub rule_paths: Vec<PathBuf>,
    /// The organisation's context.
    pub context: Context,
    /// A user log-source mapping file.
    pub mapping: Option<PathBuf>,
}

/// Everything that did not load, with where and why. Loading goes on past each.
#[derive(Debug, Default)]
pub struct LoadProblems {
    /// Sigma rules that did not load (and warnings).
    pub rules: Vec<LoadError>,
    /// Correlation documents that did not load.
    pub correlations: Vec<CorrelationLoadError>,
    /// Built-in analytics whose metadata is broken (a build defect).
    pub analytics: Vec<String>,
}

impl LoadProblems {
    /// Total count.
    pub fn len(&self) -> usize {
        self.rules.len() + self.correlations.len() + self.analytics.len()
    }

    /// Whether everything loaded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An event and the rules it matched.
#[derive(Debug, Clone)]
pub struct Matched {
    /// The event.
    pub event: Arc<Event>,
    /// Matching rule indices, ascending.
    pub rules: Vec<RuleIndex>,
}

/// What a hunt's detection produced besides findings.
#[derive(Debug, Default)]
pub struct HuntOutcome {
    /// Findings, sorted by time then id.
    pub findings: Vec<Finding>,
    /// Correlation engine counters.
    pub stats: EngineStats,
    /// Late events (always empty in a batch hunt, listed for streaming).
    pub late: Vec<LateEvent>,
}

struct Analytic {
    meta: Metadata,
    builtin: &'static Builtin,
}

/// Compiled rules, correlations and analytics.
pub struct Detector {
    rules: RuleSet,
    matcher: Matcher,
    correlations: Arc<CorrelationSet>,
    context: Context,
    analytics: Vec<Analytic>,
    /// Rule index → analytic index (None for user rules).
    rule_owner: Vec<Option<usize>>,
    /// Correlation id → analytic index (None for user correlations).
    correlation_owner: BTreeMap<String, Option<usize>>,
}

struct Catalog<'a>(&'a RuleSet);

impl RuleCatalog for Catalog<'_> {
    fn resolve(&self, id_or_name: &str) -> Option<CorrRuleRef> {
        self.0.find(id_or_name).map(CorrRuleRef)
    }

    fn title(&self, rule: CorrRuleRef) -> &str {
        self.0.rules.get(rule.0).map_or("", |r| r.title.as_str())
    }
}

fn builtin_file(id: &str) -> String {
    format!("builtin:{id}/rules.yml")
}

impl Detector {
    /// Load and compile everything; problems are returned, never fatal.
    pub fn build(options: DetectorOptions) -> (Detector, LoadProblems) {
        let mut problems = LoadProblems::default();
        let load = LoadOptions {
            placeholders: placeholders(&options.context),
            mapping: options.mapping.clone(),
        };
        let mut rules = RuleSet::default();
        let mut analytics = Vec::new();
        if options.builtin {
            for builtin in BUILTIN {
                match Metadata::parse(builtin.metadata) {
                    Ok(meta) => analytics.push(Analytic { meta, builtin }),
                    Err(e) => problems
                        .analytics
                        .push(format!("{}/analytic.toml: {e}", builtin.id)),
                }
                let (set, errors) =
                    RuleSet::from_str(&builtin_file(builtin.id), builtin.rules, &load);
                rules.extend(set);
                problems.rules.extend(errors);
            }
        }
        if !options.rule_paths.is_empty() {
            let (set, errors) = RuleSet::load(&options.rule_paths, &load);
            rules.extend(set);
            problems.rules.extend(errors);
        }
        problems.rules.extend(rules.warnings.iter().cloned());
        let owner_of_file = |file: &std::path::Path| {
            let file = file.to_string_lossy();
            analytics
                .iter()
                .position(|a| builtin_file(&a.meta.id) == file.as_ref())
        };
        let rule_owner = rules.rules.iter().map(|r| owner_of_file(&r.file)).collect();
        let docs: Vec<CorrelationDoc> = rules
            .correlations
            .iter()
            .map(|d| CorrelationDoc {
                file: d.file.clone(),
                line: d.line,
                doc: d.doc.clone(),
            })
            .collect();
        let (set, errors) =
            CorrelationSet::compile(docs, &Catalog(&rules), &context_sets(&options.context));
        problems.correlations = errors;
        let correlation_owner = set
            .correlations
            .iter()
            .map(|c| (c.id.clone(), owner_of_file(&c.file)))
            .collect();
        let matcher = rules.compile();
        let detector = Detector {
            rules,
            matcher,
            correlations: Arc::new(set),
            context: options.context,
            analytics,
            rule_owner,
            correlation_owner,
        };
        (detector, problems)
    }

    /// The loaded rules.
    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// The context in use.
    pub fn context(&self) -> &Context {
        &self.context
    }

    /// The compiled correlations.
    pub fn correlations(&self) -> &Arc<CorrelationSet> {
        &self.correlations
    }

    /// Metadata of the loaded built-in analytics.
    pub fn analytics(&self) -> impl Iterator<Item = &Metadata> {
        self.analytics.iter().map(|a| &a.meta)
    }

    /// The rules `event` matches, with the event (stateless; call from any thread).
    pub fn match_shared(&self, event: Arc<Event>) -> Option<Matched> {
        let mut rules = Vec::new();
        self.matcher.matches(&event, &mut rules);
        (!rules.is_empty()).then_some(Matched { event, rules })
    }

    /// Whether a match of `rule` needs other events before it can be reported: the rule
    /// belongs to an analytic, or a correlation consumes it. Matches of the other rules
    /// (user rules nothing else reads) are findings on their own, written as found.
    pub fn needs_state(&self, rule: RuleIndex) -> bool {
        self.rule_owner.get(rule) != Some(&None) || self.correlations.uses_rule(CorrRuleRef(rule))
    }

    /// Split a match into what must be retained for [`Detector::findings`] (rules that
    /// [need state](Detector::needs_state)) and what is final now (the rest, for
    /// [`Detector::stateless_findings`]).
    pub fn split(&self, matched: Matched) -> (Option<Matched>, Option<Matched>) {
        let (state, free): (Vec<RuleIndex>, Vec<RuleIndex>) =
            matched.rules.iter().partition(|r| self.needs_state(**r));
        let part = |rules: Vec<RuleIndex>| {
            (!rules.is_empty()).then(|| Matched {
                event: Arc::clone(&matched.event),
                rules,
            })
        };
        (part(state), part(free))
    }

    /// Findings of the stateless user rules `matched` names: the same single-event
    /// findings [`Detector::findings`] gives them, so streaming them changes nothing but
    /// when they are written.
    pub fn stateless_findings(&self, matched: &Matched) -> Vec<Finding> {
        matched
            .rules
            .iter()
            .filter(|&&r| {
                !self.needs_state(r) && self.correlations.rule_reports_standalone(CorrRuleRef(r))
            })
            .map(|&r| {
                let rule = &self.rules.rules[r];
                single_event_finding(
                    self.rule_ref(r),
                    attack_from_tags(&rule.tags),
                    &matched.event,
                )
            })
            .collect()
    }

    /// Attribute a kept host event that names no tenant (matched as it streamed)
    /// with `census` — the same [`TenantCensus::attribute`] that the pipeline applies to
    /// cloud records before matching — and match it again under its tenant. Returns
    /// whether the event now has a tenant.
    /// Cloud records are left alone: the pipeline attributed them before matching, and
    /// one it could not attribute stays unattributed.
    pub fn attribute(&self, matched: &mut Matched, census: &TenantCensus) -> bool {
        if matched.event.tenant().is_some() {
            return true;
        }
        if trustpath_normalize::names_tenant(matched.event.source) {
            return false;
        }
        let mut event = (*matched.event).clone();
        if census.attribute(&mut event).is_none() {
            return false;
        }
        let event = Arc::new(event);
        let mut rules = Vec::new();
        self.matcher.matches(&event, &mut rules);
        matched.rules = rules;
        matched.event = event;
        true
    }

    /// Turn a whole hunt's matches into findings (batch: event time, no lateness limit).
    /// Tenants are what normalization and attribution decided; nothing is guessed here.
    pub fn findings(&self, mut matched: Vec<Matched>, baseline: &Baseline) -> HuntOutcome {
        matched
            .sort_by(|a, b| (a.event.time, &a.event.origin).cmp(&(b.event.time, &b.event.origin)));
        let mut engine = Engine::new(Arc::clone(&self.correlations), EngineConfig::batch());
        let mut results = Vec::new();
        for m in &matched {
            let refs: Vec<CorrRuleRef> = m.rules.iter().map(|r| CorrRuleRef(*r)).collect();
            engine.push(Arc::clone(&m.event), &refs, &mut results);
        }
        engine.finish(&mut results);
        let mut findings = self.analytic_findings(&matched, &results, baseline);
        findings.extend(self.user_findings(&matched, &results));
        let mut findings = fuse(findings);
        findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        HuntOutcome {
            findings,
            stats: engine.stats(),
            late: engine.late_events().to_vec(),
        }
    }

    fn rule_ref(&self, index: RuleIndex) -> RuleRef {
        let rule = &self.rules.rules[index];
        RuleRef {
            id: rule.label().to_owned(),
            title: rule.title.clone(),
            level: rule.level.clone().unwrap_or_else(|| "medium".to_owned()),
        }
    }

    fn analytic_findings(
        &self,
        matched: &[Matched],
        results: &[CorrelationResult],
        baseline: &Baseline,
    ) -> Vec<Finding> {
        let mut out = Vec::new();
        for (ai, analytic) in self.analytics.iter().enumerate() {
            let mut input = AnalyticInput {
                meta: &analytic.meta,
                context: &self.context,
                baseline,
                matches: BTreeMap::new(),
                results: Vec::new(),
                rules: BTreeMap::new(),
            };
            for (index, rule) in self.rules.rules.iter().enumerate() {
                if self.rule_owner.get(index) == Some(&Some(ai)) {
                    let name = rule.name.clone().unwrap_or_else(|| rule.label().to_owned());
                    input.rules.insert(name, self.rule_ref(index));
                }
            }
            for m in matched {
                for &r in &m.rules {
                    if self.rule_owner.get(r) == Some(&Some(ai)) {
                        let rule = &self.rules.rules[r];
                        let name = rule.name.clone().unwrap_or_else(|| rule.label().to_owned());
                        input
                            .matches
                            .entry(name)
                            .or_default()
                            .push(Arc::clone(&m.event));
                    }
                }
            }
            input.results = results
                .iter()
                .filter(|r| self.correlation_owner.get(&r.correlation) == Some(&Some(ai)))
                .cloned()
                .collect();
            out.extend((analytic.builtin.findings)(&input));
        }
        out
    }

    /// Findings from user rules: single-event matches (unless only a correlation uses the
    /// rule) and correlation results.
    fn user_findings(&self, matched: &[Matched], results: &[CorrelationResult]) -> Vec<Finding> {
        let mut out = Vec::new();
        for m in matched {
            for &r in &m.rules {
                let user_rule = self.rule_owner.get(r) == Some(&None);
                if user_rule && self.correlations.rule_reports_standalone(CorrRuleRef(r)) {
                    let rule = &self.rules.rules[r];
                    out.push(single_event_finding(
                        self.rule_ref(r),
                        attack_from_tags(&rule.tags),
                        &m.event,
                    ));
                }
            }
        }
        for result in results {
            if self.correlation_owner.get(&result.correlation) == Some(&None) {
                out.push(correlation_finding(result));
            }
        }
        out
    }
}

/// A finding for a user correlation result.
fn correlation_finding(result: &CorrelationResult) -> Finding {
    let mut evidence: Vec<Evidence> = result
        .evidence
        .iter()
        .map(|e| Evidence::from_event(format!("{}", e.step + 1), &e.event))
        .collect();
    evidence.sort_by(|a, b| (a.time, &a.origin).cmp(&(b.time, &b.origin)));
    let key: Vec<String> = result
        .group
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let level = if result.partial {
        Level::Low
    } else {
        Level::Medium
    };
    Finding {
        id: finding_id(
            &result.correlation,
            &key.join(","),
            trustpath_report::anchor_key(result.evidence.iter().map(|e| e.event.as_ref())),
        ),
        time: result.first,
        analytic: None,
        title: result.title.clone(),
        kind: if result.partial {
            FindingKind::HuntingLead
        } else {
            FindingKind::Alert
        },
        attack: Default::default(),
        rule: RuleRef {
            id: result.correlation.clone(),
            title: result.title.clone(),
            level: level.as_str().to_owned(),
        },
        severity: Severity::base(
            level,
            format!("correlation {} ({:?})", result.correlation, result.kind),
        ),
        authorized: None,
        entities: Entities {
            ips: Vec::new(),
            ..crate::tuning::entities(result.evidence.iter().map(|e| e.event.as_ref()))
        },
        window: Window {
            start: result.first,
            end: result.last,
        },
        evidence,
        rollback: Vec::new(),
    }
}

/// Placeholders for `|expand`, named after the ATT&CK mutable elements.
fn placeholders(context: &Context) -> BTreeMap<String, Vec<String>> {
    let a = &context.analytics;
    let mut out = BTreeMap::new();
    out.insert(
        "PowerShellCmdletFilter".to_owned(),
        a.an1052.powershell_cmdlet_filter.clone(),
    );
    out.insert(
        "ExecutionParent".to_owned(),
        a.an1052.execution_parent.clone(),
    );
    out.insert(
        "DelegatePermissionLevel".to_owned(),
        a.an1051.delegate_permission_level.clone(),
    );
    out.insert(
        "FolderTargetScope".to_owned(),
        a.an1051.folder_target_scope.clone(),
    );
    let mut trusted: BTreeSet<String> = a
        .an1347
        .trusted_partner_tenant_ids
        .iter()
        .map(|t| t.to_lowercase())
        .collect();
    trusted.extend(
        context
            .partners
            .iter()
            .filter(|p| p.approved)
            .map(|p| p.tenant_id.to_lowercase()),
    );
    out.insert(
        "TrustedPartnerTenantIDs".to_owned(),
        trusted.into_iter().collect(),
    );
    out.insert(
        "RoleScopeAllowList".to_owned(),
        a.an1347.role_scope_allow_list.clone(),
    );
    out.insert("AdminAccounts".to_owned(), context.admins.accounts.clone());
    out.insert(
        "PartnerTenantIDs".to_owned(),
        context
            .partners
            .iter()
            .map(|p| p.tenant_id.to_lowercase())
            .collect(),
    );
    out
}

/// Named CIDR sets for chain requirements: `partner_cidrs` (every partner range) and
/// `partner_ranges[tenant id]`.
fn context_sets(context: &Context) -> ContextSets {
    let mut sets = ContextSets::default();
    let all: Vec<_> = context
        .partners
        .iter()
        .flat_map(|p| p.cidrs.iter().copied())
        .collect();
    sets.cidrs.insert("partner_cidrs".to_owned(), all);
    let keyed = context
        .partners
        .iter()
        .map(|p| (p.tenant_id.to_lowercase(), p.cidrs.clone()))
        .collect();
    sets.keyed_cidrs.insert("partner_ranges".to_owned(), keyed);
    sets
}

/// Analytic priority for fusion: a lower number wins.
fn priority(finding: &Finding) -> u8 {
    match finding.analytic.as_deref() {
        Some("AN1350") => 0,
        Some("AN1052") => 1,
        Some("AN1347") => 2,
        Some("AN1051") => 3,
        Some(_) => 4,
        None => 5,
    }
}

/// Drop a built-in finding whose evidence is wholly cited by a finding of a stronger
/// analytic (or by a larger finding of the same analytic). The stronger finding notes it
/// and takes at least its severity, so folding never hides a higher priority.
fn fuse(findings: Vec<Finding>) -> Vec<Finding> {
    let origins: Vec<BTreeSet<String>> = findings
        .iter()
        .map(|f| f.evidence.iter().map(|e| e.origin.to_string()).collect())
        .collect();
    let mut absorbed_by: Vec<Option<usize>> = vec![None; findings.len()];
    for (i, small) in findings.iter().enumerate() {
        if small.analytic.is_none() {
            continue;
        }
        for (j, big) in findings.iter().enumerate() {
            let stronger = big.analytic.is_some()
                && (priority(big) < priority(small)
                    || (priority(big) == priority(small) && origins[j].len() > origins[i].len()));
            // Folding never turns an alert into a lead and never lends one finding's
            // authorisation to another's evidence.
            let downgrades = small.kind == FindingKind::Alert && big.kind != FindingKind::Alert;
            let launders = big.authorized.is_some() && small.authorized.is_none();
            if i != j && stronger && !downgrades && !launders && origins[i].is_subset(&origins[j]) {
                absorbed_by[i] = Some(j);
                break;
            }
        }
    }
    let notes: Vec<(usize, String, Level)> = absorbed_by
        .iter()
        .enumerate()
        .filter_map(|(i, by)| {
            by.map(|j| {
                let small = &findings[i];
                let note = format!(
                    "also covers {} finding {} ({}, {})",
                    small.analytic.as_deref().unwrap_or("sigma"),
                    &small.id[..small.id.len().min(16)],
                    small.title,
                    small.severity.level
                );
                (j, note, small.severity.level)
            })
        })
        .collect();
    let mut findings: Vec<Option<Finding>> = findings.into_iter().map(Some).collect();
    for (j, note, level) in notes {
        if let Some(f) = findings[j].as_mut() {
            if level > f.severity.level {
                f.severity.level = level;
                f.severity.reasons.push(trustpath_report::Reason {
                    effect: trustpath_report::Effect::Raised,
                    reason: format!("raised to {level}: {note}"),
                });
            } else {
                f.severity.note(note);
            }
        }
    }
    findings
        .into_iter()
        .zip(absorbed_by)
        .filter_map(|(f, by)| if by.is_none() { f } else { None })
        .collect()
}
