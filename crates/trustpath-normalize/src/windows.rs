//! Windows events from every rendering, flattened to one layout.
//!
//! | rendering | System values from | EventData from |
//! |---|---|---|
//! | EVTX / evtx_dump JSON | `Event.System.*` (`#attributes` or chainsaw `_attributes`) | `Event.EventData`, `Event.UserData.<element>` |
//! | Winlogbeat (ECS) | `winlog.{event_id,channel,computer_name,provider_name,record_id,user…}` | `winlog.event_data` |
//! | flat NXLog ("Mordor") | top level (`Hostname`, `SourceName`, `ProviderGuid`, `RecordNumber`) | top level |
//! | Sentinel `WindowsEvent` | `EventID`, `Channel`, `Computer`, `Provider` | `EventData_dynamic` (object or JSON text) |
//!
//! The result has `EventID` (number), `Channel` (canonical case for well-known channels;
//! a differently-cased original is kept as `Channel_original`), `Provider_Name`,
//! `Provider_Guid`, `Computer`, `EventRecordID`, `Level`, `Task`, `Opcode`, `Keywords`,
//! `Version`, `TimeCreated` (string), `ProcessID`, `ThreadID`, `UserID`, then every named
//! EventData / UserData field at the top level and unnamed `<Data>` as the string array
//! `Data`.
//!
//! **Clashes**: a System value keeps the canonical name. An EventData field whose name is
//! already taken is stored under its original path instead (`EventData.<Name>`,
//! `winlog.event_data.<Name>`, `EventData_dynamic.<Name>`), which field lookup resolves as
//! an exact key — nothing is dropped. For Winlogbeat the other ECS keys stay as they are,
//! and `winlog` keeps everything except `event_data` (moved, not copied).
//!
//! `tp.*`: `tp.host` = `Computer`; MSExchange Management: `tp.operation` = cmdlet
//! (`Data[0]`), added `CmdletParameters` (`Data[1]`) and `Caller` (`Data[2]`, also
//! `tp.actor`); 800: `UserId` / `HostApplication` from the details (`Data[1]`, or
//! `Message` when flattened); 4103: `User` / `Host Application` / `Command Name` from
//! `ContextInfo` (`=` or `:`); 4688: `SubjectDomainName\SubjectUserName`; Sysmon 1:
//! `User`; otherwise the account the collector resolved (`Domain\AccountName`,
//! `winlog.user`).

use crate::fields::{
    Fields, Object, alias, fields_with_capacity, json_in_string, non_blank, numberize, path_text,
    set_norm, text, to_fields,
};
use indexmap::map::Entry;
use serde_json::Value;
use trustpath_event::{FieldMap, Format, norm};

/// Where each rendering keeps its time, after flattening.
///
/// Sysmon's own `UtcTime` (EventData, UTC) is the fallback for renderings that dropped
/// the System time (flat exports of Sysmon events keep only the EventData).
pub(crate) fn time_fields(format: Format) -> &'static [&'static str] {
    match format {
        Format::Winlogbeat => &["@timestamp", "TimeCreated", "UtcTime"],
        // `@timestamp` is UTC; `EventTime` is local time without a zone (last resort).
        Format::FlatWindowsJson => &[
            "@timestamp",
            "TimeCreated",
            "TimeGenerated",
            "timestamp",
            "UtcTime",
            "EventTime",
        ],
        Format::SentinelWindowsEvent => &[
            "TimeGenerated",
            "TimeGenerated [UTC]",
            "TimeCreated",
            "UtcTime",
        ],
        _ => &["TimeCreated", "@timestamp", "UtcTime"],
    }
}

/// Channels rules compare, in their canonical spelling.
const CANONICAL_CHANNELS: [&str; 7] = [
    "Security",
    "System",
    "Application",
    "Microsoft-Windows-Sysmon/Operational",
    "Microsoft-Windows-PowerShell/Operational",
    "Windows PowerShell",
    "MSExchange Management",
];

/// The canonical flat layout of a Windows record of `format`.
pub(crate) fn flatten(map: Fields, format: Format) -> Fields {
    let mut out = match format {
        Format::Winlogbeat => flatten_winlogbeat(map),
        Format::FlatWindowsJson => flatten_flat(map),
        Format::SentinelWindowsEvent => flatten_sentinel(map),
        _ => flatten_evtx(map),
    };
    canonical_values(&mut out);
    spaceless_names(&mut out);
    out
}

/// EventData names written with spaces (Windows Defender's `Threat Name`, `Source Name`,
/// `Process Name`, `Detection User`) are also given the name without spaces that SigmaHQ
/// rules use (`ThreatName`, …), unless that name is taken. Only names of letters, digits
/// and spaces are aliased (`TimeGenerated [UTC]` stays as it is).
fn spaceless_names(out: &mut Fields) {
    let spaced = |k: &str| {
        k.contains(' ')
            && !k.starts_with(' ')
            && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b' ')
    };
    if !out.keys().any(|k| spaced(k)) {
        return;
    }
    let aliases: Vec<(String, Value)> = out
        .iter()
        .filter(|(k, _)| spaced(k))
        .map(|(k, v)| (k.replace(' ', ""), v.clone()))
        .filter(|(k, _)| !out.contains_key(k))
        .collect();
    for (key, value) in aliases {
        out.entry(key).or_insert(value);
    }
}

/// Room left in a flattened map for the fields normalization adds afterwards
/// (`tp.*`, `TimeCreated`, `Channel_original` …), so they never grow the map again.
const ADDED_FIELDS: usize = 12;

/// Inserts `key` = `value`, or `<prefix>.<key>` when `key` is already taken (one hash
/// lookup in the usual case).
fn insert_unique(out: &mut Fields, key: String, value: Value, prefix: &str) {
    match out.entry(key) {
        Entry::Vacant(slot) => {
            slot.insert(value);
        }
        Entry::Occupied(taken) => {
            let path = format!("{prefix}.{}", taken.key());
            out.insert(path, value);
        }
    }
}

/// Number of fields an `EventData` / `UserData` value can flatten to (an upper bound
/// for named fields, 1 for the `Data` array).
fn data_width(data: Option<&Value>) -> usize {
    match data {
        Some(Value::Object(fields)) => fields.len(),
        Some(_) => 1,
        None => 0,
    }
}

fn flatten_evtx(mut top: Fields) -> Fields {
    let mut root = match top.shift_remove("Event") {
        Some(Value::Object(event)) => to_fields(event),
        Some(other) => {
            top.insert("Event".to_owned(), other);
            top
        }
        None => top,
    };
    let system = root.shift_remove("System");
    let event_data = root.shift_remove("EventData");
    let user_data = root.shift_remove("UserData");
    let width = system
        .as_ref()
        .and_then(Value::as_object)
        .map_or(0, |system| system.len() + SYSTEM_ATTRIBUTES_EXTRA)
        + data_width(event_data.as_ref())
        + user_data
            .as_ref()
            .and_then(Value::as_object)
            .map_or(0, |user| user.values().map(|v| data_width(Some(v))).sum())
        + root.len();
    let mut out = fields_with_capacity(width + ADDED_FIELDS);
    if let Some(Value::Object(system)) = system {
        flatten_system(system, &mut out);
    }
    if let Some(data) = event_data {
        flatten_event_data(data, &mut out, "EventData");
    }
    if let Some(Value::Object(user_data)) = user_data {
        for (_element, inner) in user_data {
            flatten_event_data(inner, &mut out, "UserData");
        }
    }
    for (key, value) in root {
        if !is_attribute_key(&key) {
            insert_unique(&mut out, key, value, "Event");
        }
    }
    out
}

/// System children whose attributes add fields beyond the child itself
/// (`Provider` → `Provider_Name` + `Provider_Guid`, `Execution` → `ProcessID` + `ThreadID`).
const SYSTEM_ATTRIBUTES_EXTRA: usize = 2;

/// `#attributes`, `Event_attributes`, … carry XML attributes, not fields.
fn is_attribute_key(key: &str) -> bool {
    key.starts_with('#') || key.ends_with("_attributes")
}

/// The `System` element: plain children, `<X attr=…>` as `X.#attributes` or `X_attributes`.
fn flatten_system(system: Object, out: &mut Fields) {
    for (key, value) in system {
        if let Some(element) = key.strip_suffix("_attributes") {
            if let Value::Object(attrs) = value {
                system_attributes(element, attrs, out);
            }
            continue;
        }
        match value {
            Value::Null => {}
            Value::Object(mut element) => {
                if let Some(Value::Object(attrs)) = element.shift_remove("#attributes") {
                    system_attributes(&key, attrs, out);
                }
                if let Some(text) = element.shift_remove("#text") {
                    out.insert(key, text);
                } else if !element.is_empty() {
                    out.insert(key, Value::Object(element));
                }
            }
            plain => {
                out.insert(key, plain);
            }
        }
    }
}

/// Attributes of a System child: `Provider` → `Provider_Name`/`Provider_Guid`,
/// `TimeCreated` → `TimeCreated`, others (`ProcessID`, `UserID`, `Qualifiers` …) by name.
fn system_attributes(element: &str, attrs: Object, out: &mut Fields) {
    for (name, value) in attrs {
        if value.is_null() {
            continue;
        }
        let key = match (element, name.as_str()) {
            ("Provider", _) => ["Provider_", &name].concat(),
            ("TimeCreated", "SystemTime") => "TimeCreated".to_owned(),
            _ => name,
        };
        out.entry(key).or_insert(value);
    }
}

/// Named fields to the top level; unnamed `<Data>` to the `Data` string array.
fn flatten_event_data(data: Value, out: &mut Fields, prefix: &str) {
    match data {
        Value::Object(fields) => {
            for (key, value) in fields {
                if is_attribute_key(&key) {
                    continue;
                }
                if key == "Data" {
                    append_unnamed(out, value);
                } else {
                    insert_unique(out, key, value, prefix);
                }
            }
        }
        Value::Null => {}
        Value::String(ref s) if s.is_empty() => {}
        unnamed => append_unnamed(out, unnamed),
    }
}

/// Adds `value` (`{"#text": […]}`, an array, a string) to the `Data` array of strings.
fn append_unnamed(out: &mut Fields, value: Value) {
    let mut strings = Vec::new();
    collect_strings(value, &mut strings);
    match out.get_mut("Data") {
        Some(Value::Array(existing)) => existing.extend(strings),
        _ => {
            out.insert("Data".to_owned(), Value::Array(strings));
        }
    }
}

fn collect_strings(value: Value, into: &mut Vec<Value>) {
    match value {
        Value::Object(mut element) if element.contains_key("#text") => {
            if let Some(text) = element.shift_remove("#text") {
                collect_strings(text, into);
            }
        }
        Value::Array(items) => {
            for item in items {
                into.push(as_string(item));
            }
        }
        Value::Null => {}
        other => into.push(as_string(other)),
    }
}

fn as_string(value: Value) -> Value {
    match value {
        Value::String(_) => value,
        Value::Null => Value::String(String::new()),
        Value::Object(mut element) if element.contains_key("#text") => {
            as_string(element.shift_remove("#text").unwrap_or(Value::Null))
        }
        other => Value::String(other.to_string()),
    }
}

/// winlog child → canonical name (values are copied; `winlog` itself stays).
const WINLOG_SYSTEM: [(&[&str], &str); 13] = [
    (&["event_id"], "EventID"),
    (&["channel"], "Channel"),
    (&["provider_name"], "Provider_Name"),
    (&["provider_guid"], "Provider_Guid"),
    (&["computer_name"], "Computer"),
    (&["record_id"], "EventRecordID"),
    (&["opcode"], "Opcode"),
    (&["task"], "Task"),
    (&["version"], "Version"),
    (&["keywords"], "Keywords"),
    (&["process", "pid"], "ProcessID"),
    (&["process", "thread", "id"], "ThreadID"),
    (&["user", "identifier"], "UserID"),
];

fn flatten_winlogbeat(mut top: Fields) -> Fields {
    let Some(Value::Object(mut winlog)) = top.shift_remove("winlog") else {
        return top;
    };
    let width = WINLOG_SYSTEM.len() + data_width(winlog.get("event_data")) + top.len() + 1;
    let mut out = fields_with_capacity(width + ADDED_FIELDS);
    for (path, name) in WINLOG_SYSTEM {
        if let Some(value) = value_at(&winlog, path) {
            out.insert(name.to_owned(), value.clone());
        }
    }
    if let Some(data) = winlog.shift_remove("event_data") {
        flatten_event_data(data, &mut out, "winlog.event_data");
    }
    for (key, value) in top {
        insert_unique(&mut out, key, value, "ecs");
    }
    out.insert("winlog".to_owned(), Value::Object(winlog));
    ecs_powershell(&mut out);
    out
}

/// Elastic Agent's Windows integration moves PowerShell event data out of
/// `winlog.event_data` into ECS fields (its `powershell_operational` and `security`
/// ingest pipelines): give them the Windows names rules and reassembly use, when the
/// Windows name is absent. `powershell.file.script_block_text` → `ScriptBlockText`,
/// `…script_block_id` → `ScriptBlockId`, `powershell.sequence` / `powershell.total` →
/// `MessageNumber` / `MessageTotal`, `process.command_line` → `CommandLine`,
/// and `powershell.command.invocation_details`
/// (4103 / 800, `{type, related_command, name, value}` items) → the module-logging
/// `Payload` text (`CommandInvocation(…)` / `ParameterBinding(…)` lines).
fn ecs_powershell(out: &mut Fields) {
    const PATHS: [(&[&str], &str); 5] = [
        (
            &["powershell", "file", "script_block_text"],
            "ScriptBlockText",
        ),
        (&["powershell", "file", "script_block_id"], "ScriptBlockId"),
        (&["powershell", "sequence"], "MessageNumber"),
        (&["powershell", "total"], "MessageTotal"),
        (&["process", "command_line"], "CommandLine"),
    ];
    for (path, name) in PATHS {
        if out.contains_key(name) {
            continue;
        }
        if let Some(value) = value_at(out, path).filter(|v| !v.is_object()) {
            let value = value.clone();
            out.insert(name.to_owned(), value);
        }
    }
    if !out.contains_key("Payload")
        && let Some(Value::Array(details)) =
            value_at(out, &["powershell", "command", "invocation_details"])
    {
        let payload = invocation_payload(details);
        if !payload.is_empty() {
            out.insert("Payload".to_owned(), Value::String(payload));
        }
    }
}

/// ECS `invocation_details` as the 4103 `Payload` text `pipeline_details` reads.
fn invocation_payload(details: &[Value]) -> String {
    let mut lines = Vec::new();
    for detail in details {
        let text = |k: &str| detail.get(k).and_then(Value::as_str).unwrap_or("");
        let command = text("related_command");
        match text("type") {
            "CommandInvocation" if !command.is_empty() => {
                lines.push(format!(
                    "CommandInvocation({command}): \"{}\"",
                    text("value")
                ));
            }
            "ParameterBinding" if !command.is_empty() && !text("name").is_empty() => {
                lines.push(format!(
                    "ParameterBinding({command}): name=\"{}\"; value=\"{}\"",
                    text("name"),
                    text("value").replace(['\r', '\n'], " ")
                ));
            }
            _ => {}
        }
    }
    lines.join("\n")
}

fn value_at<'a>(map: &'a impl FieldMap, path: &[&str]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let mut value = map.field(first)?;
    for key in rest {
        value = value.as_object()?.get(*key)?;
    }
    (!value.is_null()).then_some(value)
}

fn flatten_flat(mut map: Fields) -> Fields {
    alias(&mut map, "Hostname", "Computer");
    alias(&mut map, "SourceName", "Provider_Name");
    alias(&mut map, "ProviderGuid", "Provider_Guid");
    alias(&mut map, "RecordNumber", "EventRecordID");
    alias(&mut map, "ExecutionProcessID", "ProcessID");
    map
}

fn flatten_sentinel(mut map: Fields) -> Fields {
    alias(&mut map, "Provider", "Provider_Name");
    alias(&mut map, "EventSourceName", "Provider_Name");
    alias(&mut map, "EventRecordId", "EventRecordID");
    let Some(dynamic) = map.shift_remove("EventData_dynamic") else {
        return map;
    };
    let dynamic = match json_in_string(&dynamic) {
        Some(parsed) => parsed,
        None if dynamic.is_string() => {
            // Text that is not JSON: keep it where it was.
            map.insert("EventData_dynamic".to_owned(), dynamic);
            return map;
        }
        None => dynamic,
    };
    flatten_event_data(dynamic, &mut map, "EventData_dynamic");
    map
}

/// Number-typed `EventID`, `MessageNumber`, `MessageTotal`; canonical `Channel`.
fn canonical_values(out: &mut Fields) {
    if let Some(Value::Object(element)) = out.get_mut("EventID")
        && let Some(id) = element.shift_remove("#text")
    {
        out.insert("EventID".to_owned(), id);
    }
    for key in ["EventID", "MessageNumber", "MessageTotal"] {
        numberize(out, key);
    }
    canonical_channel(out);
}

fn canonical_channel(out: &mut Fields) {
    let Some(channel) = out.get("Channel").and_then(Value::as_str) else {
        return;
    };
    let Some(canonical) = CANONICAL_CHANNELS
        .iter()
        .find(|c| c.eq_ignore_ascii_case(channel.trim()))
    else {
        return;
    };
    if *canonical != channel {
        let original = channel.to_owned();
        out.insert("Channel".to_owned(), Value::String((*canonical).to_owned()));
        out.insert("Channel_original".to_owned(), Value::String(original));
    }
}

/// The numeric `EventID`, if any.
pub(crate) fn event_id(map: &Fields) -> Option<u64> {
    map.get("EventID").and_then(Value::as_u64)
}

/// Adds the Windows `tp.*` fields and the values extracted from positional data.
pub(crate) fn add_norm_fields(map: &mut Fields) {
    if let Some(host) = text(map, "Computer").map(str::to_lowercase) {
        set_norm(map, norm::HOST, host);
    }
    let channel = text(map, "Channel").unwrap_or_default();
    let is_sysmon = channel == "Microsoft-Windows-Sysmon/Operational";
    if channel == "MSExchange Management" {
        exchange_management(map);
    } else {
        match event_id(map) {
            Some(800) => powershell_800(map),
            Some(4103) => powershell_4103(map),
            Some(4688) => {
                let actor = domain_user(map, "SubjectDomainName", "SubjectUserName");
                set_actor(map, actor);
            }
            Some(1) if is_sysmon => {
                let actor = text(map, "User").map(str::to_owned);
                set_actor(map, actor);
            }
            _ => {}
        }
    }
    if !map.contains_key(norm::ACTOR) {
        let actor = domain_user(map, "Domain", "AccountName")
            .or_else(|| winlog_user(map))
            .or_else(|| ecs_user(map));
        set_actor(map, actor);
    }
}

fn set_actor(map: &mut Fields, actor: Option<String>) {
    if let Some(actor) = actor {
        map.insert(norm::ACTOR.to_owned(), Value::String(actor.to_lowercase()));
    }
}

/// `DOMAIN\user` from two fields (`-` counts as absent).
fn domain_user(map: &Fields, domain: &str, user: &str) -> Option<String> {
    let user = text(map, user).filter(|u| *u != "-")?;
    match text(map, domain).filter(|d| *d != "-") {
        Some(domain) => Some(format!("{domain}\\{user}")),
        None => Some(user.to_owned()),
    }
}

fn winlog_user(map: &Fields) -> Option<String> {
    let user = path_text(map, &["winlog", "user", "name"])?;
    match path_text(map, &["winlog", "user", "domain"]) {
        Some(domain) => Some(format!("{domain}\\{user}")),
        None => Some(user.to_owned()),
    }
}

/// ECS `user.domain\\user.name` (Elastic Agent documents without `winlog.user`).
fn ecs_user(map: &Fields) -> Option<String> {
    let user = path_text(map, &["user", "name"])?;
    match path_text(map, &["user", "domain"]) {
        Some(domain) => Some(format!("{domain}\\{user}")),
        None => Some(user.to_owned()),
    }
}

/// The `n`th unnamed `<Data>` string, if present and not blank.
fn data_at(map: &Fields, n: usize) -> Option<&str> {
    map.get("Data")?.as_array()?.get(n).and_then(non_blank)
}

/// MSExchange Management: positional cmdlet, parameters, caller.
fn exchange_management(map: &mut Fields) {
    let cmdlet = data_at(map, 0).map(str::to_owned);
    let parameters = data_at(map, 1).map(str::to_owned);
    let caller = data_at(map, 2).map(str::to_owned);
    if let Some(cmdlet) = cmdlet {
        set_norm(map, norm::OPERATION, cmdlet);
    }
    if let Some(parameters) = parameters {
        map.entry("CmdletParameters".to_owned())
            .or_insert(Value::String(parameters));
    }
    if let Some(caller) = caller {
        set_actor(map, Some(caller.clone()));
        map.entry("Caller".to_owned())
            .or_insert(Value::String(caller));
    }
}

/// 800: `UserId=` and `HostApplication=` lines of the details (`Data[1]` or `Message`).
fn powershell_800(map: &mut Fields) {
    let details = data_at(map, 1).or_else(|| text(map, "Message"));
    let (user, host_application) = match details {
        Some(details) => (
            detail_value(details, "UserId", &['=']),
            detail_value(details, "HostApplication", &['=']),
        ),
        None => (None, None),
    };
    if let Some(app) = host_application {
        map.entry("HostApplication".to_owned())
            .or_insert(Value::String(app));
    }
    if let Some(user) = user {
        set_actor(map, Some(user.clone()));
        map.entry("UserId".to_owned())
            .or_insert(Value::String(user));
    }
}

/// 4103: `User`, `Host Application`, `Command Name` from `ContextInfo`.
fn powershell_4103(map: &mut Fields) {
    let Some(context) = text(map, "ContextInfo") else {
        return;
    };
    let user = detail_value(context, "User", &['=', ':']);
    let host_application = detail_value(context, "Host Application", &['=', ':']);
    let command = detail_value(context, "Command Name", &['=', ':']);
    if let Some(app) = host_application {
        map.entry("HostApplication".to_owned())
            .or_insert(Value::String(app));
    }
    if let Some(command) = command {
        set_norm(map, norm::OPERATION, command);
    }
    set_actor(map, user);
}

/// The value of the first `key <sep> value` line (separator from `separators`) in `text`.
fn detail_value(text: &str, key: &str, separators: &[char]) -> Option<String> {
    text.lines().find_map(|line| {
        let rest = line.trim_start().strip_prefix(key)?;
        let rest = rest.trim_start();
        let value = rest.strip_prefix(separators)?;
        let value = value.trim();
        (!value.is_empty()).then(|| value.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn context_info_separators() {
        let text = "        Severity = Informational\r\n        Host Name = ConsoleHost\r\n        Host Application = powershell.exe -c x\r\n        User = OFFSEC\\admmig\r\n        Connected User = \r\n";
        assert_eq!(
            detail_value(text, "User", &['=', ':']).as_deref(),
            Some("OFFSEC\\admmig")
        );
        assert_eq!(
            detail_value(text, "Host Application", &['=', ':']).as_deref(),
            Some("powershell.exe -c x")
        );
        assert_eq!(detail_value(text, "Connected User", &['=', ':']), None);
        let colon = "Severity : Informational\nHost Name : ServerRemoteHost\nUser : CORP\\bob\n";
        assert_eq!(
            detail_value(colon, "User", &['=', ':']).as_deref(),
            Some("CORP\\bob")
        );
        assert_eq!(detail_value(colon, "Host", &['=', ':']), None);
    }

    #[test]
    fn unnamed_data_shapes() {
        let mut out = Fields::default();
        append_unnamed(&mut out, json!({"#text": ["a", null, 3]}));
        append_unnamed(&mut out, json!("b"));
        assert_eq!(out["Data"], json!(["a", "", "3", "b"]));
    }

    #[test]
    fn clashing_event_data_keeps_both() {
        let raw = json!({"Event": {"System": {"EventID": 1, "Channel": "Security"},
            "EventData": {"Channel": "from-data", "X": 1}}});
        let out = flatten(trustpath_event::fields_from(raw), Format::EvtxJson);
        assert_eq!(out["Channel"], json!("Security"));
        assert_eq!(out["EventData.Channel"], json!("from-data"));
        assert_eq!(out["X"], json!(1));
    }
}
