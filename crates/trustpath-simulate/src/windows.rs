//! Windows events (PowerShell 4104/4103, Security 4688, Sysmon 1) and their three JSON
//! renderings: evtx_dump (`Event.System…`, `#attributes`), Winlogbeat (`winlog.*`,
//! string-typed values) and flat NXLog/"Mordor" JSON (everything at the top level).

use crate::record::{WinEvent, evtx_time};
use jiff::Timestamp;
use serde_json::{Map, Value, json};

const PS_CHANNEL: &str = "Microsoft-Windows-PowerShell/Operational";
const PS_PROVIDER: &str = "Microsoft-Windows-PowerShell";
const PS_GUID: &str = "{A0C1853B-5C40-4B15-8766-3CF1C58F985A}";
const SYSMON_CHANNEL: &str = "Microsoft-Windows-Sysmon/Operational";
const POWERSHELL_EXE: &str = "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe";

fn event(computer: &str, channel: &str, provider: &str, guid: &str, event_id: u32) -> WinEvent {
    WinEvent {
        computer: computer.to_string(),
        channel: channel.to_string(),
        provider: provider.to_string(),
        provider_guid: Some(guid.to_string()),
        event_id,
        version: 1,
        level: 4,
        task: 0,
        opcode: 0,
        keywords: "0x0".into(),
        record_id: 0,
        process_id: 0,
        thread_id: 0,
        user_sid: None,
        data: Vec::new(),
    }
}

/// Who runs a process on a host.
#[derive(Debug, Clone)]
pub struct HostUser<'a> {
    /// SID.
    pub sid: &'a str,
    /// NetBIOS domain.
    pub domain: &'a str,
    /// sAMAccountName.
    pub name: &'a str,
}

/// A 4104 script-block event (one part of `total`).
pub fn script_block(
    computer: &str,
    user: &HostUser<'_>,
    text: &str,
    part: (u32, u32),
    block_id: &str,
    pid: u32,
) -> WinEvent {
    let mut e = event(computer, PS_CHANNEL, PS_PROVIDER, PS_GUID, 4104);
    e.level = if text.contains("MailboxPermission") {
        3
    } else {
        5
    };
    e.task = 2;
    e.opcode = 15;
    e.process_id = pid;
    e.thread_id = pid + 148;
    e.user_sid = Some(user.sid.to_string());
    e.data = vec![
        ("MessageNumber".into(), json!(part.0)),
        ("MessageTotal".into(), json!(part.1)),
        ("ScriptBlockText".into(), json!(text)),
        ("ScriptBlockId".into(), json!(block_id)),
        ("Path".into(), json!("")),
    ];
    e
}

/// A 4103 module-logging event for one cmdlet invocation with its parameter bindings.
pub fn module_logging(
    computer: &str,
    user: &HostUser<'_>,
    cmdlet: &str,
    params: &[(&str, &str)],
    pid: u32,
    runspace: &str,
) -> WinEvent {
    let mut e = event(computer, PS_CHANNEL, PS_PROVIDER, PS_GUID, 4103);
    e.task = 106;
    e.opcode = 20;
    e.process_id = pid;
    e.thread_id = pid + 148;
    e.user_sid = Some(user.sid.to_string());
    let context = [
        ("Severity", "Informational".to_string()),
        ("Host Name", "ConsoleHost".to_string()),
        ("Host Version", "5.1.19041.4291".to_string()),
        ("Host ID", runspace.to_string()),
        ("Host Application", POWERSHELL_EXE.to_string()),
        ("Engine Version", "5.1.19041.4291".to_string()),
        ("Runspace ID", runspace.to_string()),
        ("Pipeline ID", "12".to_string()),
        ("Command Name", cmdlet.to_string()),
        ("Command Type", "Function".to_string()),
        ("Script Name", String::new()),
        ("Command Path", String::new()),
        ("Sequence Number", "31".to_string()),
        ("User", format!("{}\\{}", user.domain, user.name)),
        ("Connected User", String::new()),
        ("Shell ID", "Microsoft.PowerShell".to_string()),
    ]
    .iter()
    .map(|(k, v)| format!("        {k} = {v}\r\n"))
    .collect::<String>();
    let mut payload = format!("CommandInvocation({cmdlet}): \"{cmdlet}\"\r\n");
    for (name, value) in params {
        payload.push_str(&format!(
            "ParameterBinding({cmdlet}): name=\"{name}\"; value=\"{value}\"\r\n"
        ));
    }
    e.data = vec![
        ("ContextInfo".into(), json!(context)),
        ("UserData".into(), json!("")),
        ("Payload".into(), json!(payload)),
    ];
    e
}

/// A process start, for both Security 4688 and Sysmon 1.
#[derive(Debug, Clone)]
pub struct ProcessStart<'a> {
    /// Host.
    pub computer: &'a str,
    /// Who.
    pub user: HostUser<'a>,
    /// New process image path.
    pub image: &'a str,
    /// Full command line.
    pub command_line: &'a str,
    /// Parent image path.
    pub parent_image: &'a str,
    /// Parent command line (Sysmon only).
    pub parent_command_line: &'a str,
    /// New process id.
    pub pid: u32,
    /// Parent process id.
    pub parent_pid: u32,
}

/// Security 4688 (process creation, command-line auditing on).
pub fn process_4688(p: &ProcessStart<'_>) -> WinEvent {
    let mut e = event(
        p.computer,
        "Security",
        "Microsoft-Windows-Security-Auditing",
        "{54849625-5478-4994-A5BA-3E3B0328C30D}",
        4688,
    );
    e.version = 2;
    e.level = 0;
    e.task = 13312;
    e.keywords = "0x8020000000000000".into();
    e.process_id = 4;
    e.thread_id = 7864;
    e.data = vec![
        ("SubjectUserSid".into(), json!(p.user.sid)),
        ("SubjectUserName".into(), json!(p.user.name)),
        ("SubjectDomainName".into(), json!(p.user.domain)),
        ("SubjectLogonId".into(), json!("0x3e4c7a")),
        ("NewProcessId".into(), json!(format!("0x{:x}", p.pid))),
        ("NewProcessName".into(), json!(p.image)),
        ("TokenElevationType".into(), json!("%%1938")),
        ("ProcessId".into(), json!(format!("0x{:x}", p.parent_pid))),
        ("CommandLine".into(), json!(p.command_line)),
        ("TargetUserSid".into(), json!("S-1-0-0")),
        ("TargetUserName".into(), json!("-")),
        ("TargetDomainName".into(), json!("-")),
        ("TargetLogonId".into(), json!("0x0")),
        ("ParentProcessName".into(), json!(p.parent_image)),
        ("MandatoryLabel".into(), json!("S-1-16-8192")),
    ];
    e
}

/// Sysmon event 1 (process create), schema version 5.
pub fn sysmon_1(p: &ProcessStart<'_>, time: Timestamp, guid_seed: u64) -> WinEvent {
    let mut e = event(
        p.computer,
        SYSMON_CHANNEL,
        "Microsoft-Windows-Sysmon",
        "{5770385F-C22A-43E0-BF4C-06F5698FFBD9}",
        1,
    );
    e.version = 5;
    e.task = 1;
    e.keywords = "0x8000000000000000".into();
    e.process_id = 3320;
    e.thread_id = 4216;
    e.user_sid = Some("S-1-5-18".into());
    let guid = |n: u64| {
        format!(
            "{{0197231E-{:04X}-67C9-{:04X}-000000000D00}}",
            n & 0xffff,
            (n >> 16) & 0xffff
        )
    };
    let file = p.image.rsplit('\\').next().unwrap_or(p.image);
    e.data = vec![
        ("RuleName".into(), json!("-")),
        (
            "UtcTime".into(),
            json!(time.strftime("%Y-%m-%d %H:%M:%S%.3f").to_string()),
        ),
        ("ProcessGuid".into(), json!(guid(guid_seed))),
        ("ProcessId".into(), json!(p.pid)),
        ("Image".into(), json!(p.image)),
        (
            "FileVersion".into(),
            json!("10.0.19041.3996 (WinBuild.160101.0800)"),
        ),
        ("Description".into(), json!(file)),
        (
            "Product".into(),
            json!("Microsoft® Windows® Operating System"),
        ),
        ("Company".into(), json!("Microsoft Corporation")),
        ("OriginalFileName".into(), json!(file.to_uppercase())),
        ("CommandLine".into(), json!(p.command_line)),
        (
            "CurrentDirectory".into(),
            json!(format!("C:\\Users\\{}\\", p.user.name)),
        ),
        (
            "User".into(),
            json!(format!("{}\\{}", p.user.domain, p.user.name)),
        ),
        (
            "LogonGuid".into(),
            json!("{0197231E-5032-6940-AAE2-070000000000}"),
        ),
        ("LogonId".into(), json!("0x3e4c7a")),
        ("TerminalSessionId".into(), json!(1)),
        ("IntegrityLevel".into(), json!("Medium")),
        (
            "Hashes".into(),
            json!(format!(
                "SHA256={:064X}",
                guid_seed.wrapping_mul(0x9E37_79B9_7F4A_7C15)
            )),
        ),
        ("ParentProcessGuid".into(), json!(guid(guid_seed ^ 0x5a5a))),
        ("ParentProcessId".into(), json!(p.parent_pid)),
        ("ParentImage".into(), json!(p.parent_image)),
        ("ParentCommandLine".into(), json!(p.parent_command_line)),
        (
            "ParentUser".into(),
            json!(format!("{}\\{}", p.user.domain, p.user.name)),
        ),
    ];
    e
}

/// The `powershell.exe` image path.
pub fn powershell_image() -> &'static str {
    POWERSHELL_EXE
}

/// evtx_dump / `evtx` crate JSON (`-o jsonl`): one `{"Event":{…}}` object.
pub fn to_evtx_dump(e: &WinEvent, time: Timestamp) -> Value {
    let mut provider = Map::new();
    provider.insert("Name".into(), json!(e.provider));
    if let Some(guid) = &e.provider_guid {
        provider.insert("Guid".into(), json!(guid));
    }
    let security = match &e.user_sid {
        Some(sid) => json!({"#attributes": {"UserID": sid}}),
        None => Value::Null,
    };
    let data: Map<String, Value> = e.data.iter().cloned().collect();
    json!({"Event": {
        "#attributes": {"xmlns": "http://schemas.microsoft.com/win/2004/08/events/event"},
        "System": {
            "Provider": {"#attributes": provider},
            "EventID": e.event_id,
            "Version": e.version,
            "Level": e.level,
            "Task": e.task,
            "Opcode": e.opcode,
            "Keywords": e.keywords,
            "TimeCreated": {"#attributes": {"SystemTime": evtx_time(time)}},
            "EventRecordID": e.record_id,
            "Correlation": Value::Null,
            "Execution": {"#attributes": {"ProcessID": e.process_id, "ThreadID": e.thread_id}},
            "Channel": e.channel,
            "Computer": e.computer,
            "Security": security
        },
        "EventData": data
    }})
}

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn string_data(e: &WinEvent) -> Map<String, Value> {
    e.data
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(as_text(v))))
        .collect()
}

/// The rendered message of an event (as Windows would show it, abbreviated).
pub fn message(e: &WinEvent) -> String {
    let get = |k: &str| {
        e.data
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| as_text(v))
            .unwrap_or_default()
    };
    match e.event_id {
        4104 => format!(
            "Creating Scriptblock text ({} of {}):\r\n{}\r\n\r\nScriptBlock ID: {}\r\nPath: ",
            get("MessageNumber"),
            get("MessageTotal"),
            get("ScriptBlockText"),
            get("ScriptBlockId")
        ),
        4103 => format!(
            "{}\r\n\r\nContext:\r\n{}",
            get("Payload"),
            get("ContextInfo")
        ),
        4688 => format!(
            "A new process has been created.\r\n\r\nNew Process Name:\t{}\r\nProcess Command Line:\t{}\r\nCreator Process Name:\t{}",
            get("NewProcessName"),
            get("CommandLine"),
            get("ParentProcessName")
        ),
        _ => format!(
            "Process Create:\r\nImage: {}\r\nCommandLine: {}\r\nParentImage: {}",
            get("Image"),
            get("CommandLine"),
            get("ParentImage")
        ),
    }
}

/// Winlogbeat 8 (ECS) document: `winlog.*` with string event data, ECS extras.
pub fn to_winlogbeat(e: &WinEvent, time: Timestamp) -> Value {
    let ts = time.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    let data = string_data(e);
    let mut winlog = json!({
        "api": "wineventlog",
        "channel": e.channel,
        "computer_name": e.computer,
        "event_data": data,
        "event_id": e.event_id.to_string(),
        "opcode": if e.opcode == 15 { "On create calls" } else if e.opcode == 20 { "To be used when operation is just executing a method" } else { "Info" },
        "process": {"pid": e.process_id, "thread": {"id": e.thread_id}},
        "provider_name": e.provider,
        "record_id": e.record_id.to_string(),
        "version": e.version
    });
    if let (Some(guid), Some(obj)) = (&e.provider_guid, winlog.as_object_mut()) {
        obj.insert("provider_guid".into(), json!(guid));
    }
    if let (Some(sid), Some(obj)) = (&e.user_sid, winlog.as_object_mut()) {
        obj.insert("user".into(), json!({"identifier": sid, "type": "User"}));
    }
    let mut doc = json!({
        "@timestamp": ts,
        "agent": {"type": "winlogbeat", "version": "8.13.4", "name": e.computer},
        "ecs": {"version": "8.0.0"},
        "event": {"code": e.event_id.to_string(), "created": ts, "kind": "event", "provider": e.provider},
        "host": {"name": e.computer.to_lowercase(), "hostname": e.computer.split('.').next().unwrap_or(&e.computer)},
        "log": {"level": if e.level == 3 { "warning" } else { "information" }},
        "message": message(e),
        "winlog": winlog
    });
    add_ecs_process(e, &mut doc);
    doc
}

fn add_ecs_process(e: &WinEvent, doc: &mut Value) {
    let get = |k: &str| e.data.iter().find(|(n, _)| n == k).map(|(_, v)| as_text(v));
    let (image, parent) = match e.event_id {
        4688 => (get("NewProcessName"), get("ParentProcessName")),
        1 => (get("Image"), get("ParentImage")),
        4104 => {
            if let Some(obj) = doc.as_object_mut() {
                obj.insert("powershell".into(), json!({
                    "file": {"script_block_id": get("ScriptBlockId"), "script_block_text": get("ScriptBlockText")},
                    "sequence": e.data.first().map(|(_, v)| v.clone()),
                    "total": e.data.get(1).map(|(_, v)| v.clone())
                }));
            }
            return;
        }
        _ => return,
    };
    if let Some(obj) = doc.as_object_mut() {
        obj.insert(
            "process".into(),
            json!({
                "command_line": get("CommandLine"),
                "executable": image,
                "parent": {"executable": parent}
            }),
        );
    }
}

/// Flat NXLog / HELK ("Mordor") JSON: System and EventData fields at the top level,
/// event data as strings, `EventID` as an integer.
pub fn to_flat(e: &WinEvent, time: Timestamp) -> Value {
    let mut m = Map::new();
    m.insert(
        "@timestamp".into(),
        json!(time.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()),
    );
    m.insert(
        "EventTime".into(),
        json!(time.strftime("%Y-%m-%d %H:%M:%S").to_string()),
    );
    m.insert("Hostname".into(), json!(e.computer));
    m.insert("Keywords".into(), json!(e.keywords));
    m.insert(
        "EventType".into(),
        json!(if e.level == 3 { "WARNING" } else { "INFO" }),
    );
    m.insert(
        "SeverityValue".into(),
        json!(if e.level == 3 { 3 } else { 2 }),
    );
    m.insert(
        "Severity".into(),
        json!(if e.level == 3 { "WARNING" } else { "INFO" }),
    );
    m.insert("EventID".into(), json!(e.event_id));
    m.insert("SourceName".into(), json!(e.provider));
    if let Some(guid) = &e.provider_guid {
        m.insert("ProviderGuid".into(), json!(guid));
    }
    m.insert("Version".into(), json!(e.version));
    m.insert("TaskValue".into(), json!(e.task));
    m.insert("OpcodeValue".into(), json!(e.opcode));
    m.insert("RecordNumber".into(), json!(e.record_id));
    m.insert("ExecutionProcessID".into(), json!(e.process_id));
    m.insert("ExecutionThreadID".into(), json!(e.thread_id));
    m.insert("Channel".into(), json!(e.channel));
    if let Some(sid) = &e.user_sid {
        m.insert("UserID".into(), json!(sid));
        m.insert("AccountType".into(), json!("User"));
    }
    m.insert("Message".into(), json!(message(e)));
    for (k, v) in string_data(e) {
        m.insert(k, v);
    }
    m.insert("SourceModuleName".into(), json!("eventlog"));
    m.insert("SourceModuleType".into(), json!("im_msvistalog"));
    Value::Object(m)
}
