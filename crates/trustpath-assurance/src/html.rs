//! The HTML report: one self-contained file (inline CSS and a little vanilla JS, no
//! external resources) with the run summary, the findings, their evidence, timelines and
//! rollback commands, and the coverage when it was computed.
//!
//! Every string that comes from the data (mailbox names, actors, command lines, file
//! names …) is attacker-controlled and goes through [`escape`]; nothing from the data is
//! ever placed in a script, a style or an unquoted attribute.

use crate::coverage::{CoverageReport, Verdict};
use crate::text::time_text;
use jiff::Timestamp;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use trustpath_event::RunSummary;
use trustpath_report::{Effect, Finding, FindingKind, Level};

/// Escape text for HTML element content and quoted attribute values. Control
/// characters, line separators and bidirectional controls (U+202E can make
/// `gpj.exe` read as `exe.jpg`) are shown as visible `\u{…}` escapes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            c if c != '\n' && trustpath_report::is_unsafe_for_terminal(c) => {
                let _ = write!(out, "\\u{{{:X}}}", u32::from(c));
            }
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '`' => out.push_str("&#96;"),
            _ => out.push(c),
        }
    }
    out
}

const LEVELS: [Level; 5] = [
    Level::Critical,
    Level::High,
    Level::Medium,
    Level::Low,
    Level::Informational,
];

/// Render the report. `findings` should be sorted ([`Finding::sort_key`]).
pub fn render(
    findings: &[Finding],
    summary: &RunSummary,
    coverage: Option<&CoverageReport>,
) -> String {
    let mut html = String::with_capacity(64 * 1024 + findings.len() * 4096);
    html.push_str(HEAD);
    write_header(&mut html, findings, summary);
    write_summary(&mut html, findings, summary);
    write_findings(&mut html, findings);
    if let Some(coverage) = coverage {
        write_coverage(&mut html, coverage);
    }
    html.push_str(FOOT);
    html
}

fn range_text(first: Option<Timestamp>, last: Option<Timestamp>) -> String {
    match (first, last) {
        (Some(f), Some(l)) => format!("{} → {}", time_text(f), time_text(l)),
        _ => "no events".to_owned(),
    }
}

fn write_header(html: &mut String, findings: &[Finding], summary: &RunSummary) {
    let time = summary.time();
    let alerts = findings
        .iter()
        .filter(|f| f.kind == FindingKind::Alert && f.authorized.is_none())
        .count();
    let _ = write!(
        html,
        r#"<header><div class="brand">trust<span>path</span></div>
<div class="subtitle">Delegated mailbox access report · {} · {} findings, {} open alerts</div></header>
<main>
"#,
        escape(&range_text(time.first, time.last)),
        findings.len(),
        alerts
    );
}

fn write_summary(html: &mut String, findings: &[Finding], summary: &RunSummary) {
    let mut by_level: BTreeMap<Level, usize> = BTreeMap::new();
    for f in findings {
        *by_level.entry(f.severity.level).or_default() += 1;
    }
    html.push_str("<section id=\"summary\"><h2>Summary</h2><div class=\"cards\">");
    card(html, "Events", &summary.events().to_string());
    card(html, "Input files", &summary.files.len().to_string());
    card(html, "Skipped records", &summary.skipped().to_string());
    card(html, "Late", &summary.late.to_string());
    card(html, "Findings", &findings.len().to_string());
    html.push_str("</div><div class=\"sevbar\">");
    for level in LEVELS {
        let n = by_level.get(&level).copied().unwrap_or(0);
        let _ = write!(
            html,
            "<span class=\"sev sev-{l}\">{l} <b>{n}</b></span>",
            l = level.as_str()
        );
    }
    html.push_str("</div>");
    write_sources(html, summary);
    write_files(html, summary);
    html.push_str("</section>\n");
}

fn card(html: &mut String, label: &str, value: &str) {
    let _ = write!(
        html,
        "<div class=\"card\"><div class=\"card-value\">{}</div><div class=\"card-label\">{}</div></div>",
        escape(value),
        escape(label)
    );
}

fn write_sources(html: &mut String, summary: &RunSummary) {
    html.push_str("<h3>Events per source</h3><table class=\"grid\"><thead><tr><th>source</th><th class=\"num\">events</th></tr></thead><tbody>");
    for (source, n) in summary.by_source() {
        let _ = write!(
            html,
            "<tr><td>{}</td><td class=\"num\">{n}</td></tr>",
            escape(source.as_str())
        );
    }
    html.push_str("</tbody></table>");
}

fn write_files(html: &mut String, summary: &RunSummary) {
    html.push_str("<h3>Inputs</h3><table class=\"grid\"><thead><tr><th>file</th><th>formats</th><th class=\"num\">events</th><th class=\"num\">skipped</th><th>time range</th></tr></thead><tbody>");
    for file in &summary.files {
        let skipped: Vec<String> = file
            .errors
            .iter()
            .map(|(kind, n)| format!("{n} {kind}"))
            .collect();
        let _ = write!(
            html,
            "<tr><td class=\"mono\">{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\" title=\"{}\">{}</td><td>{}</td></tr>",
            escape(&file.file),
            escape(&file.formats.join(", ")),
            file.events,
            escape(&skipped.join(", ")),
            file.error_count(),
            escape(&range_text(file.time.first, file.time.last))
        );
    }
    html.push_str("</tbody></table>");
}

fn status(finding: &Finding) -> (String, &'static str) {
    match (&finding.authorized, finding.kind) {
        (Some(ticket), _) => (format!("AUTHORISED {ticket}"), "st-auth"),
        (None, FindingKind::Alert) => ("ALERT".to_owned(), "st-alert"),
        (None, FindingKind::HuntingLead) => ("HUNTING LEAD".to_owned(), "st-lead"),
    }
}

fn write_findings(html: &mut String, findings: &[Finding]) {
    html.push_str("<section id=\"findings\"><h2>Findings</h2><div class=\"toolbar\">");
    for level in LEVELS {
        let _ = write!(
            html,
            "<label class=\"filter\"><input type=\"checkbox\" data-level=\"{l}\" checked> {l}</label>",
            l = level.as_str()
        );
    }
    html.push_str("<button type=\"button\" id=\"expand-all\">Expand all</button><button type=\"button\" id=\"collapse-all\">Collapse all</button></div>");
    if findings.is_empty() {
        html.push_str("<p class=\"empty\">No findings.</p></section>\n");
        return;
    }
    html.push_str("<div class=\"frow fhead\"><span>severity</span><span>analytic</span><span>finding</span><span>status</span><span>entities</span><span>time</span></div>");
    for finding in findings {
        write_finding(html, finding);
    }
    html.push_str("</section>\n");
}

fn entities_text(finding: &Finding) -> Vec<(&'static str, String)> {
    let e = &finding.entities;
    let mut out = Vec::new();
    let mut push = |label: &'static str, v: &Option<String>| {
        if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
            out.push((label, v.clone()));
        }
    };
    push("tenant", &e.tenant);
    push("partner", &e.partner);
    push("actor", &e.actor);
    push("trustee", &e.trustee);
    push("mailbox", &e.mailbox);
    push("host", &e.host);
    if !e.ips.is_empty() {
        out.push(("IPs", e.ips.join(", ")));
    }
    out
}

fn write_finding(html: &mut String, finding: &Finding) {
    let level = finding.severity.level.as_str();
    let (status_text, status_class) = status(finding);
    let short_entities: Vec<String> = entities_text(finding)
        .into_iter()
        .filter(|(k, _)| matches!(*k, "actor" | "mailbox" | "partner"))
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    // Open alerts are shown expanded; leads and authorised findings start folded.
    let open = if finding.kind == FindingKind::Alert && finding.authorized.is_none() {
        " open"
    } else {
        ""
    };
    let _ = write!(
        html,
        "<details class=\"finding\" data-level=\"{level}\" id=\"f-{id}\"{open}><summary class=\"frow\">\
<span><span class=\"sev sev-{level}\">{level}</span></span>\
<span class=\"mono\">{analytic}</span><span class=\"ftitle\">{title}</span>\
<span><span class=\"status {status_class}\">{status}</span></span>\
<span class=\"ents\">{ents}</span><span class=\"mono small\">{time}</span></summary><div class=\"fbody\">",
        id = escape(&finding.id),
        analytic = escape(finding.analytic.as_deref().unwrap_or("sigma")),
        title = escape(&finding.title),
        status = escape(&status_text),
        ents = escape(&short_entities.join(" · ")),
        time = escape(&time_text(finding.window.start)),
    );
    write_finding_facts(html, finding);
    write_timeline(html, finding);
    write_evidence(html, finding);
    write_rollback(html, finding);
    html.push_str("</div></details>\n");
}

fn write_finding_facts(html: &mut String, finding: &Finding) {
    html.push_str("<div class=\"facts\"><div><h4>Entities</h4><dl>");
    for (label, value) in entities_text(finding) {
        let _ = write!(html, "<dt>{}</dt><dd>{}</dd>", label, escape(&value));
    }
    let _ = write!(
        html,
        "<dt>ATT&amp;CK</dt><dd>{}</dd><dt>rule</dt><dd>{}</dd><dt>finding id</dt><dd class=\"mono\">{}</dd></dl></div>",
        escape(&finding.attack.technique.join(", ")),
        escape(&finding.rule.title),
        escape(&finding.id)
    );
    html.push_str("<div><h4>Why this severity</h4><ul class=\"reasons\">");
    for reason in &finding.severity.reasons {
        let (mark, class) = match reason.effect {
            Effect::Base => ("●", "r-base"),
            Effect::Raised => ("▲", "r-up"),
            Effect::Lowered => ("▼", "r-down"),
            Effect::Noted => ("•", "r-note"),
        };
        let _ = write!(
            html,
            "<li class=\"{class}\"><span class=\"mark\">{mark}</span> {}</li>",
            escape(&reason.reason)
        );
    }
    html.push_str("</ul></div></div>");
}

/// An SVG timeline: one dot per evidence event, placed by event time in the window.
fn write_timeline(html: &mut String, finding: &Finding) {
    if finding.evidence.is_empty() {
        return;
    }
    let start = finding.window.start;
    let end = finding.window.end;
    let span = end.duration_since(start).as_secs_f64();
    html.push_str("<h4>Chain timeline</h4><svg class=\"timeline\" viewBox=\"0 0 1000 74\" role=\"img\" aria-label=\"evidence timeline\"><line x1=\"20\" y1=\"34\" x2=\"980\" y2=\"34\" class=\"axis\"/>");
    let mut steps: Vec<&str> = Vec::new();
    for ev in &finding.evidence {
        if !steps.contains(&ev.step.as_str()) {
            steps.push(&ev.step);
        }
    }
    for (i, ev) in finding.evidence.iter().enumerate() {
        let fraction = if span > 0.0 {
            ev.time.duration_since(start).as_secs_f64() / span
        } else {
            0.5
        };
        let x = 20.0 + fraction.clamp(0.0, 1.0) * 960.0;
        let step_index = steps.iter().position(|s| *s == ev.step).unwrap_or(0) % 6;
        let _ = write!(
            html,
            "<circle cx=\"{x:.1}\" cy=\"34\" r=\"7\" class=\"dot s{step_index}\"><title>{}</title></circle>",
            escape(&format!(
                "{} · step {} · {}",
                time_text(ev.time),
                ev.step,
                ev.summary
            ))
        );
        if i == 0 || i + 1 == finding.evidence.len() {
            let anchor = if i == 0 { "start" } else { "end" };
            let tx = if i == 0 { 20.0 } else { 980.0 };
            let _ = write!(
                html,
                "<text x=\"{tx}\" y=\"66\" text-anchor=\"{anchor}\" class=\"tlabel\">{}</text>",
                escape(&time_text(ev.time))
            );
        }
    }
    html.push_str("</svg><div class=\"legend\">");
    for (i, step) in steps.iter().enumerate() {
        let _ = write!(
            html,
            "<span><i class=\"dot-key s{}\"></i>step {}</span>",
            i % 6,
            escape(step)
        );
    }
    html.push_str("</div>");
}

fn write_evidence(html: &mut String, finding: &Finding) {
    html.push_str("<h4>Evidence</h4><table class=\"grid evidence\"><thead><tr><th>time</th><th>step</th><th>source</th><th>origin</th><th>summary</th></tr></thead><tbody>");
    for ev in &finding.evidence {
        let origin = match &ev.record_id {
            Some(id) => format!("{} ({id})", ev.origin),
            None => ev.origin.to_string(),
        };
        let _ = write!(
            html,
            "<tr><td class=\"mono nowrap\">{}</td><td>{}</td><td class=\"mono nowrap\">{}</td><td class=\"mono small\">{}</td><td>{}</td></tr>",
            escape(&time_text(ev.time)),
            escape(&ev.step),
            escape(&ev.source),
            escape(&origin),
            escape(&ev.summary)
        );
    }
    html.push_str("</tbody></table>");
}

fn write_rollback(html: &mut String, finding: &Finding) {
    if finding.rollback.is_empty() {
        return;
    }
    html.push_str("<h4>Rollback</h4><pre class=\"rollback\">");
    for line in &finding.rollback {
        html.push_str(&escape(line));
        html.push('\n');
    }
    html.push_str("</pre>");
}

fn verdict_badge(verdict: Verdict) -> String {
    format!(
        "<span class=\"verdict v-{v}\">{v}</span>",
        v = verdict.as_str()
    )
}

fn write_coverage(html: &mut String, coverage: &CoverageReport) {
    let _ = write!(
        html,
        "<section id=\"coverage\"><h2>Coverage</h2><p class=\"muted\">{} events, {} · gap threshold {}</p>",
        coverage.events,
        escape(&range_text(coverage.time.first, coverage.time.last)),
        escape(&coverage.gap_threshold)
    );
    html.push_str("<table class=\"grid\"><thead><tr><th>analytic</th><th>step</th><th>verdict</th><th>what it needs</th><th>sources in the input (events)</th></tr></thead><tbody>");
    for analytic in &coverage.analytics {
        let _ = write!(
            html,
            "<tr class=\"an-row\"><td class=\"mono\">{}</td><td></td><td>{}</td><td><b>{}</b> ({})</td><td></td></tr>",
            escape(&analytic.id),
            verdict_badge(analytic.verdict),
            escape(&analytic.title),
            escape(&analytic.technique)
        );
        for step in &analytic.steps {
            let sources: Vec<String> = step
                .sources
                .iter()
                .map(|s| format!("{} ({})", s.source, s.events))
                .collect();
            let _ = write!(
                html,
                "<tr><td></td><td>{}</td><td>{}</td><td>{}</td><td class=\"mono small\">{}</td></tr>",
                step.number,
                verdict_badge(step.verdict),
                escape(&step.name),
                escape(&sources.join(", "))
            );
        }
    }
    html.push_str("</tbody></table>");
    write_blind_spots(html, coverage);
    write_partner_ip(html, coverage);
    html.push_str("</section>\n");
}

fn write_blind_spots(html: &mut String, coverage: &CoverageReport) {
    html.push_str("<h3>Blind spots</h3>");
    let mut any = false;
    html.push_str("<ul class=\"blind\">");
    for analytic in &coverage.analytics {
        for (step, spot) in analytic.all_blind_spots() {
            any = true;
            let place = if step == 0 {
                analytic.id.clone()
            } else {
                format!("{} step {step}", analytic.id)
            };
            let _ = write!(
                html,
                "<li><b>{}</b>: {}<br><span class=\"enable\">Turn on: {}</span></li>",
                escape(&place),
                escape(&spot.what),
                escape(&spot.enable)
            );
        }
    }
    html.push_str("</ul>");
    if !any {
        html.push_str("<p class=\"muted\">None: every step has its logs and fields.</p>");
    }
}

fn write_partner_ip(html: &mut String, coverage: &CoverageReport) {
    let p = &coverage.partner_ip;
    let share = p
        .share_in_ranges
        .map_or("-".to_owned(), |s| format!("{:.0}%", s * 100.0));
    let _ = write!(
        html,
        "<h3>Partner IP context: {}</h3><p class=\"muted\">{} partner events, {} with an IP, {} in configured ranges</p>",
        if p.reliable {
            "reliable"
        } else {
            "not reliable"
        },
        p.events,
        p.with_ip,
        escape(&share)
    );
    if !p.warnings.is_empty() {
        html.push_str("<ul class=\"blind\">");
        for w in &p.warnings {
            let _ = write!(html, "<li>{}</li>", escape(w));
        }
        html.push_str("</ul>");
    }
}

const HEAD: &str = r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>trustpath report</title>
<style>
:root{--bg:#f5f7fa;--fg:#1d2433;--muted:#5f6b7f;--line:#dfe4ec;--card:#fff;--accent:#2457c5;
--critical:#8e1b2e;--high:#d4452f;--medium:#e39b1b;--low:#3b82c4;--info:#7b8696}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;background:var(--bg);color:var(--fg)}
header{background:#14213d;color:#fff;padding:18px 32px}
.brand{font-size:22px;font-weight:700;letter-spacing:.3px}.brand span{color:#7fb2ff}
.subtitle{color:#c9d4e8;margin-top:2px}
main{padding:8px 32px 48px;max-width:1400px}
h2{font-size:18px;margin:28px 0 10px;padding-bottom:6px;border-bottom:2px solid var(--line)}
h3{font-size:15px;margin:18px 0 8px}h4{font-size:13px;margin:14px 0 6px;color:var(--muted);text-transform:uppercase;letter-spacing:.5px}
.cards{display:flex;gap:12px;flex-wrap:wrap}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px 18px;min-width:130px}
.card-value{font-size:22px;font-weight:700}.card-label{color:var(--muted);font-size:12px}
.sevbar{margin:12px 0;display:flex;gap:8px;flex-wrap:wrap}
.sev{display:inline-block;border-radius:4px;padding:1px 8px;font-size:12px;font-weight:600;color:#fff;text-transform:uppercase;letter-spacing:.3px}
.sev-critical{background:var(--critical)}.sev-high{background:var(--high)}.sev-medium{background:var(--medium)}
.sev-low{background:var(--low)}.sev-informational{background:var(--info)}
table.grid{border-collapse:collapse;background:var(--card);border:1px solid var(--line);width:100%;margin-bottom:8px}
.grid th,.grid td{padding:5px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
.grid th{background:#eef2f8;font-size:12px;color:var(--muted);font-weight:600}
.num{text-align:right!important}.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
.small{font-size:11px}.nowrap{white-space:nowrap}.muted{color:var(--muted)}
.toolbar{display:flex;gap:12px;align-items:center;margin-bottom:10px;flex-wrap:wrap}
.toolbar button{border:1px solid var(--line);background:#fff;border-radius:6px;padding:4px 10px;cursor:pointer}
.filter{font-size:13px;text-transform:capitalize}
.frow{display:grid;grid-template-columns:110px 80px minmax(220px,2fr) 150px minmax(200px,2fr) 150px;gap:10px;align-items:center;padding:8px 12px}
.fhead{font-size:12px;color:var(--muted);font-weight:600}
details.finding{background:var(--card);border:1px solid var(--line);border-radius:8px;margin-bottom:6px}
details.finding>summary{cursor:pointer;list-style:none}
details.finding>summary::-webkit-details-marker{display:none}
details.finding[open]>summary{border-bottom:1px solid var(--line);background:#f9fbfe}
.ftitle{font-weight:600}.ents{color:var(--muted);font-size:12px;overflow-wrap:anywhere}
.status{font-size:11px;font-weight:700;padding:2px 7px;border-radius:4px;border:1px solid;white-space:nowrap}
.st-alert{color:#b42318;border-color:#f3b8b0;background:#fdeeec}.st-lead{color:#8a5a00;border-color:#f0d49a;background:#fdf6e6}
.st-auth{color:#17663a;border-color:#a6dcb9;background:#ebf8f0}
.fbody{padding:4px 16px 16px}
.facts{display:grid;grid-template-columns:1fr 1fr;gap:24px}
dl{display:grid;grid-template-columns:110px 1fr;gap:3px 10px;margin:0}dt{color:var(--muted)}dd{margin:0;overflow-wrap:anywhere}
.reasons{list-style:none;padding:0;margin:0}.reasons li{padding:2px 0}
.mark{display:inline-block;width:16px}.r-up .mark{color:var(--high)}.r-down .mark{color:#17663a}.r-base .mark{color:var(--accent)}
svg.timeline{width:100%;height:74px;background:#fbfcfe;border:1px solid var(--line);border-radius:6px}
.axis{stroke:#9aa6b8;stroke-width:2}.dot{stroke:#fff;stroke-width:2}.tlabel{font-size:12px;fill:#5f6b7f}
.s0{fill:#2457c5;background:#2457c5}.s1{fill:#d4452f;background:#d4452f}.s2{fill:#1f9d6b;background:#1f9d6b}
.s3{fill:#8a4fd1;background:#8a4fd1}.s4{fill:#e39b1b;background:#e39b1b}.s5{fill:#5f6b7f;background:#5f6b7f}
.legend{display:flex;gap:14px;font-size:12px;color:var(--muted);margin-top:4px;flex-wrap:wrap}
.dot-key{display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:5px}
table.evidence td{font-size:12px;overflow-wrap:anywhere}
pre.rollback{background:#14213d;color:#e6edf7;padding:10px 14px;border-radius:6px;overflow-x:auto;font-size:12px}
.verdict{font-size:11px;font-weight:700;padding:1px 7px;border-radius:4px;text-transform:uppercase}
.v-covered{background:#ebf8f0;color:#17663a}.v-partial{background:#fdf6e6;color:#8a5a00}.v-blind{background:#fdeeec;color:#b42318}
.an-row td{background:#f4f7fb}
ul.blind li{margin-bottom:6px}.enable{color:var(--muted);font-size:12px}
.empty{color:var(--muted)}
#js-errors{display:none}
footer{color:var(--muted);font-size:12px;padding:0 32px 24px}
</style></head><body>
<div id="js-errors"></div>
<script>
window.onerror=function(m,s,l,c){var d=document.getElementById('js-errors');if(d){d.style.display='block';d.setAttribute('data-error','1');d.textContent='Script error: '+m+' at '+l+':'+c;}};
</script>
"#;

const FOOT: &str = r#"</main>
<footer>Generated by trustpath. Evidence origins are file:line@offset#record as read.</footer>
<script>
(function(){
  function apply(){
    var on={};
    document.querySelectorAll('input[data-level]').forEach(function(b){on[b.getAttribute('data-level')]=b.checked;});
    document.querySelectorAll('details.finding').forEach(function(d){
      d.style.display=on[d.getAttribute('data-level')]===false?'none':'';
    });
  }
  document.querySelectorAll('input[data-level]').forEach(function(b){b.addEventListener('change',apply);});
  function setAll(open){document.querySelectorAll('details.finding').forEach(function(d){d.open=open;});}
  var e=document.getElementById('expand-all');if(e){e.addEventListener('click',function(){setAll(true);});}
  var c=document.getElementById('collapse-all');if(c){c.addEventListener('click',function(){setAll(false);});}
  document.body.setAttribute('data-ready','1');
})();
</script>
</body></html>
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bidi_and_control_characters_are_visible() {
        assert_eq!(escape("a\u{202E}txt.exe\u{1b}"), "a\\u{202E}txt.exe\\u{1B}");
    }

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape("<script>alert('x')</script>&\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;"
        );
    }
}
