//! The detector: built-in and user Sigma rules compiled with the context's tunables,
//! per-event matching, and the batch step that turns a hunt's matches into findings.

use crate::{AnalyticInput, Baseline, FindingsFn, Metadata, Registry};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use trustpath_context::Context;
use trustpath_correlate::{
    ContextSets, CorrelationDoc, CorrelationLoadError, CorrelationResult, CorrelationSet, Engine,
    EngineStats, RuleCatalog, RuleRef as CorrRuleRef, StateBudget,
};
use trustpath_event::Event;
use trustpath_normalize::TenantCensus;
use trustpath_report::{
    Attack, Entities, Evidence, Finding, FindingKind, Level, RuleJson, RuleRef, Severity, Window,
    finding_id,
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
    /// A placeholder file: values for `|expand` (`trustpath_sigma::read_placeholders`),
    /// on top of the context's.
    pub placeholders: Option<PathBuf>,
    /// Keep only user rules whose `status` is one of these (case-insensitive; empty: every
    /// rule). A rule without a status never passes a filter. Built-in analytics always run.
    pub statuses: Vec<String>,
    /// A file that keeps the parsed YAML of the user's rule files between runs
    /// (`trustpath_sigma::cache`); `None` parses every file.
    pub rule_cache: Option<PathBuf>,
}

/// Everything that did not load, with where and why. Loading goes on past each.
#[derive(Debug, Default)]
pub struct LoadProblems {
    /// Sigma rules that did not load (and warnings).
    pub rules: Vec<LoadError>,
    /// Correlation documents that did not load.
    pub correlations: Vec<CorrelationLoadError>,
    /// User rules left out by a status filter (`--status`).
    pub left_out_by_status: usize,
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
}

struct Analytic {
    meta: Metadata,
    findings: FindingsFn,
    /// The label its rules carry.
    rules_label: String,
}

/// What decides the compiled rules of a detector (see [`Detector::build_sharing`]).
#[derive(Debug, PartialEq)]
struct RulesKey {
    builtin: bool,
    rule_paths: Vec<PathBuf>,
    mapping: Option<PathBuf>,
    statuses: Vec<String>,
    placeholders: BTreeMap<String, Vec<String>>,
    placeholder_problem: Option<String>,
}

/// Loaded and compiled Sigma rules, shared by detectors loaded the same way.
struct CompiledRules {
    key: RulesKey,
    rules: RuleSet,
    matcher: Matcher,
    /// Per rule, the ATT&CK techniques and tactics of its tags (each finding carries
    /// them; reading the tags again per finding was about 1 % of a Sigma hunt).
    attacks: Vec<Attack>,
    /// Per rule, what its single-event findings share as JSON, made the first time one
    /// is written ([`Detector::stateless_jsonl`]); `None` if it did not encode.
    json: Vec<std::sync::OnceLock<Option<RuleJson>>>,
    /// Rules that did not load, and warnings.
    problems: Vec<LoadError>,
    left_out_by_status: usize,
}

/// Loads the built-in analytics' rules (when `options.builtin`) and the user's, and
/// compiles them.
fn compile_rules(
    options: &DetectorOptions,
    registry: &Registry,
    load: &LoadOptions,
    key: RulesKey,
    placeholder_problem: Option<LoadError>,
) -> CompiledRules {
    let mut problems: Vec<LoadError> = placeholder_problem.into_iter().collect();
    let mut left_out_by_status = 0;
    let mut rules = RuleSet::default();
    if options.builtin {
        for def in registry.iter() {
            let (set, errors) = RuleSet::from_str(&def.rules_label, &def.rules, load);
            rules.extend(set);
            problems.extend(errors);
        }
    }
    if !options.rule_paths.is_empty() {
        let (mut set, errors) = RuleSet::load(&options.rule_paths, load);
        if !options.statuses.is_empty() {
            let before = set.rules.len();
            set.rules.retain(|rule| {
                rule.status.as_deref().is_some_and(|status| {
                    options
                        .statuses
                        .iter()
                        .any(|wanted| wanted.eq_ignore_ascii_case(status))
                })
            });
            left_out_by_status = before - set.rules.len();
        }
        rules.extend(set);
        problems.extend(errors);
    }
    problems.extend(rules.warnings.iter().cloned());
    let matcher = rules.compile();
    let attacks = rules
        .rules
        .iter()
        .map(|r| trustpath_report::attack_from_tags(&r.tags))
        .collect();
    let json = rules
        .rules
        .iter()
        .map(|_| std::sync::OnceLock::new())
        .collect();
    CompiledRules {
        key,
        attacks,
        json,
        rules,
        matcher,
        problems,
        left_out_by_status,
    }
}

/// Compiled rules, correlations and analytics.
pub struct Detector {
    compiled: Arc<CompiledRules>,
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

impl Detector {
    /// Load and compile everything; problems are returned, never fatal.
    pub fn build(options: DetectorOptions) -> (Detector, LoadProblems) {
        Self::build_with(options, Registry::builtin())
    }

    /// [`build`](Self::build) with the analytics of `registry` (e.g. the built-in ones
    /// plus folders from [`Registry::from_dir`]) in place of the built-in ones.
    pub fn build_with(options: DetectorOptions, registry: &Registry) -> (Detector, LoadProblems) {
        Self::build_sharing(options, registry, &[])
    }

    /// [`build_with`](Self::build_with), taking the compiled rules of an `earlier`
    /// detector (built with the same `registry`) whose rules were loaded the same way
    /// (same rule paths, mapping, status filter and placeholder values) instead of
    /// compiling them again: a hunt over one folder per tenant compiles SigmaHQ's rules
    /// once, not once per folder.
    pub fn build_sharing(
        options: DetectorOptions,
        registry: &Registry,
        earlier: &[Detector],
    ) -> (Detector, LoadProblems) {
        let mut problems = LoadProblems::default();
        let mut load = LoadOptions {
            placeholders: registry.placeholders(&options.context),
            mapping: options.mapping.clone(),
            cache: options.rule_cache.clone(),
        };
        let mut placeholder_problem = None;
        if let Some(file) = &options.placeholders {
            match trustpath_sigma::read_placeholders(file) {
                Ok(values) => load.placeholders.extend(values),
                Err(e) => placeholder_problem = Some(e),
            }
        }
        let key = RulesKey {
            builtin: options.builtin,
            rule_paths: options.rule_paths.clone(),
            mapping: options.mapping.clone(),
            statuses: options.statuses.clone(),
            placeholders: load.placeholders.clone(),
            placeholder_problem: placeholder_problem.as_ref().map(ToString::to_string),
        };
        let mut analytics = Vec::new();
        if options.builtin {
            problems
                .analytics
                .extend(registry.problems().iter().cloned());
            for def in registry.iter() {
                analytics.push(Analytic {
                    meta: def.meta.clone(),
                    findings: def.findings_fn(),
                    rules_label: def.rules_label.clone(),
                });
            }
        }
        let compiled = match earlier.iter().find(|d| d.compiled.key == key) {
            Some(d) => Arc::clone(&d.compiled),
            None => Arc::new(compile_rules(
                &options,
                registry,
                &load,
                key,
                placeholder_problem,
            )),
        };
        problems.rules.clone_from(&compiled.problems);
        problems.left_out_by_status = compiled.left_out_by_status;
        let rules = &compiled.rules;
        let owner_of_file = |file: &std::path::Path| {
            let file = file.to_string_lossy();
            analytics
                .iter()
                .position(|a| a.rules_label == file.as_ref())
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
            CorrelationSet::compile(docs, &Catalog(rules), &context_sets(&options.context));
        problems.correlations = errors;
        let correlation_owner = set
            .correlations
            .iter()
            .map(|c| (c.id.clone(), owner_of_file(&c.file)))
            .collect();
        let detector = Detector {
            compiled,
            correlations: Arc::new(set),
            context: options.context,
            analytics,
            rule_owner,
            correlation_owner,
        };
        (detector, problems)
    }

    /// Whether `other` uses the same compiled rules (see [`build_sharing`](Self::build_sharing)).
    pub fn shares_rules_with(&self, other: &Detector) -> bool {
        Arc::ptr_eq(&self.compiled, &other.compiled)
    }

    /// The loaded rules.
    pub fn rules(&self) -> &RuleSet {
        &self.compiled.rules
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

    /// Scan ahead for a chunk of events about to be matched on this thread, until
    /// [`Detector::unprepare`] (see `trustpath_sigma::Matcher::prepare`).
    pub fn prepare<'a>(&self, events: impl Iterator<Item = &'a Event> + Clone) {
        self.compiled.matcher.prepare(events);
    }

    /// Forget what [`Detector::prepare`] kept on this thread.
    pub fn unprepare(&self) {
        self.compiled.matcher.unprepare();
    }

    /// The rules `event` matches, with the event (stateless; call from any thread).
    pub fn match_shared(&self, event: Arc<Event>) -> Option<Matched> {
        let mut rules = Vec::new();
        self.compiled.matcher.matches(&event, &mut rules);
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
        let rules = matched
            .rules
            .iter()
            .copied()
            .filter(|&r| self.reports_alone(r));
        let mut out = Vec::new();
        self.rule_findings(&matched.event, rules, &mut out);
        out
    }

    /// [`Detector::stateless_findings`] as the lines [`trustpath_report::encode_jsonl`]
    /// writes for them, byte for byte, appended to `out`, with each finding's level and
    /// where its line ends in `out`. The findings are not built: the parts every finding
    /// of the event shares are encoded once and each rule's are copied around them
    /// ([`trustpath_report::EventJson`]). On an error `out` and `ends` may hold the lines
    /// before it.
    pub fn stateless_jsonl(
        &self,
        matched: &Matched,
        out: &mut Vec<u8>,
        ends: &mut Vec<(Level, usize)>,
    ) -> std::io::Result<()> {
        let mut rules = matched
            .rules
            .iter()
            .copied()
            .filter(|&r| self.reports_alone(r))
            .peekable();
        if rules.peek().is_none() {
            return Ok(());
        }
        let event = &matched.event;
        let shared = trustpath_report::EventFinding::new(event);
        let json = shared.json()?;
        for r in rules {
            let (Some(rule), Some(rule_json)) =
                (self.compiled.rules.rules.get(r), self.rule_json(r))
            else {
                return Err(std::io::Error::other("a rule's findings do not encode"));
            };
            let matched = crate::why::matched_fields(rule, event);
            let fields = crate::why::rule_fields(rule, event);
            json.encode_jsonl(rule_json, &matched, &fields, out)?;
            ends.push((rule_json.level(), out.len()));
        }
        Ok(())
    }

    /// Rule `r`'s [`RuleJson`], made on first use.
    fn rule_json(&self, r: RuleIndex) -> Option<&RuleJson> {
        self.compiled
            .json
            .get(r)?
            .get_or_init(|| RuleJson::new(&self.rule_ref(r), &self.attack(r)).ok())
            .as_ref()
    }

    /// Whether a match of `rule` is a finding of its own, final at once: no analytic or
    /// correlation waits on it ([`Detector::needs_state`]) and no correlation keeps it
    /// from being reported.
    fn reports_alone(&self, rule: RuleIndex) -> bool {
        !self.needs_state(rule) && self.correlations.rule_reports_standalone(CorrRuleRef(rule))
    }

    /// Appends the single-event finding of each of `rules` on `event`. What they share
    /// (record identity, entities, evidence) is worked out once, and the last finding
    /// takes it instead of a copy.
    fn rule_findings(
        &self,
        event: &Event,
        rules: impl Iterator<Item = RuleIndex>,
        out: &mut Vec<Finding>,
    ) {
        let mut rules = rules.peekable();
        if rules.peek().is_none() {
            return;
        }
        let shared = trustpath_report::EventFinding::new(event);
        while let Some(r) = rules.next() {
            let rule = &self.compiled.rules.rules[r];
            let (rule_ref, attack) = (self.rule_ref(r), self.attack(r));
            if rules.peek().is_none() {
                let base = shared.into_finding(rule_ref, attack);
                out.push(crate::why::sigma_finding(base, rule, event));
                return;
            }
            out.push(crate::why::sigma_finding(
                shared.finding(rule_ref, attack),
                rule,
                event,
            ));
        }
    }

    /// Attribute a kept host event that names no tenant (matched as it streamed)
    /// with `census` — what [`TenantCensus::attribute`], which the pipeline applies to
    /// cloud records before matching, does in two steps (decide on the shared event, then
    /// apply to a copy) — and match it again under its tenant. Returns
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
        // Decided on the shared event first: most host events stay unattributed (no
        // tenant in their folder), and copying each one to find out was 4% of a hunt.
        let Some(decided) = census.decide(&matched.event) else {
            return false;
        };
        let mut event = (*matched.event).clone();
        trustpath_normalize::apply_attribution(&mut event, decided);
        let event = Arc::new(event);
        let mut rules = Vec::new();
        self.compiled.matcher.matches(&event, &mut rules);
        matched.rules = rules;
        matched.event = event;
        true
    }

    /// Turn a whole hunt's matches into findings (batch: event time, no lateness limit).
    /// Tenants are what normalization and attribution decided; nothing is guessed here.
    pub fn findings(&self, matched: Vec<Matched>, baseline: &Baseline) -> HuntOutcome {
        self.findings_of(&matched, baseline)
    }

    /// [`Detector::findings`] over borrowed matches (in any order), so a caller that
    /// keeps them (the service's retained events) need not copy them first.
    pub fn findings_of(&self, matched: &[Matched], baseline: &Baseline) -> HuntOutcome {
        let mut matched: Vec<&Matched> = matched.iter().collect();
        matched
            .sort_by(|a, b| (a.event.time, &a.event.origin).cmp(&(b.event.time, &b.event.origin)));
        let mut engine = Engine::new(Arc::clone(&self.correlations), StateBudget::default());
        // A record without an event time (`tp.time_missing`) gives single-event findings
        // only: correlations and analytics order evidence by time.
        let timed: Vec<&Matched> = matched
            .iter()
            .copied()
            .filter(|m| !m.event.keys().time_missing)
            .collect();
        let mut refs = Vec::new();
        for m in &timed {
            refs.clear();
            refs.extend(m.rules.iter().map(|r| CorrRuleRef(*r)));
            engine.push(Arc::clone(&m.event), &refs);
        }
        let mut results = Vec::new();
        engine.finish(&mut results);
        let mut findings = self.analytic_findings(&timed, &results, baseline);
        findings.extend(self.user_findings(&matched, &results));
        let mut findings = fuse(findings, |f| self.priority(f));
        findings.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        HuntOutcome {
            findings,
            stats: engine.stats(),
        }
    }

    /// Fold priority of a finding's analytic (`fold_priority` in its `analytic.toml`;
    /// a lower number wins; user rules last).
    fn priority(&self, finding: &Finding) -> u16 {
        match finding.analytic.as_deref() {
            None => u16::MAX,
            Some(id) => self
                .analytics
                .iter()
                .find(|a| a.meta.id == id)
                .map_or(u16::MAX - 1, |a| u16::from(a.meta.fold_priority)),
        }
    }

    /// The ATT&CK techniques and tactics of a rule's tags.
    fn attack(&self, index: RuleIndex) -> Attack {
        self.compiled
            .attacks
            .get(index)
            .cloned()
            .unwrap_or_default()
    }

    fn rule_ref(&self, index: RuleIndex) -> RuleRef {
        let rule = &self.compiled.rules.rules[index];
        RuleRef {
            id: rule.label().to_owned(),
            title: rule.title.clone(),
            level: rule.level.clone().unwrap_or_else(|| "medium".to_owned()),
        }
    }

    fn analytic_findings(
        &self,
        timed: &[&Matched],
        results: &[CorrelationResult],
        baseline: &Baseline,
    ) -> Vec<Finding> {
        let mut out = Vec::new();
        // One pass over the matches, by rule (in event-time order); each analytic then
        // takes its rules' lists.
        let mut by_rule: Vec<Vec<Arc<Event>>> = vec![Vec::new(); self.compiled.rules.rules.len()];
        for m in timed {
            for &r in &m.rules {
                if let (Some(Some(_)), Some(list)) = (self.rule_owner.get(r), by_rule.get_mut(r)) {
                    list.push(Arc::clone(&m.event));
                }
            }
        }
        for (ai, analytic) in self.analytics.iter().enumerate() {
            let mut input = AnalyticInput {
                meta: &analytic.meta,
                context: &self.context,
                baseline,
                matches: BTreeMap::new(),
                results: Vec::new(),
                rules: BTreeMap::new(),
            };
            for (index, rule) in self.compiled.rules.rules.iter().enumerate() {
                if self.rule_owner.get(index) == Some(&Some(ai)) {
                    let name = rule.name.clone().unwrap_or_else(|| rule.label().to_owned());
                    input.rules.insert(name, self.rule_ref(index));
                }
            }
            for (r, list) in by_rule.iter_mut().enumerate() {
                if !list.is_empty() && self.rule_owner.get(r) == Some(&Some(ai)) {
                    let rule = &self.compiled.rules.rules[r];
                    let name = rule.name.as_deref().unwrap_or_else(|| rule.label());
                    input
                        .matches
                        .entry(name.to_owned())
                        .or_default()
                        .append(list);
                }
            }
            input.results = results
                .iter()
                .filter(|r| self.correlation_owner.get(&r.correlation) == Some(&Some(ai)))
                .cloned()
                .collect();
            out.extend((analytic.findings)(&input));
        }
        out
    }

    /// Findings from user rules: single-event matches (unless only a correlation uses the
    /// rule) and correlation results.
    fn user_findings(&self, matched: &[&Matched], results: &[CorrelationResult]) -> Vec<Finding> {
        let mut out = Vec::new();
        for m in matched {
            let rules = m.rules.iter().copied().filter(|&r| {
                self.rule_owner.get(r) == Some(&None)
                    && self.correlations.rule_reports_standalone(CorrRuleRef(r))
            });
            self.rule_findings(&m.event, rules, &mut out);
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
pub(crate) fn correlation_finding(result: &CorrelationResult) -> Finding {
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
        matched: Vec::new(),
        fields: Vec::new(),
    }
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

/// Drop a built-in finding whose evidence is wholly cited by a finding of a stronger
/// analytic (or by a larger finding of the same analytic). The stronger finding notes it
/// and takes at least its severity, so folding never hides a higher priority.
fn fuse(findings: Vec<Finding>, priority: impl Fn(&Finding) -> u16) -> Vec<Finding> {
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
