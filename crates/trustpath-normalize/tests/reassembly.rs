//! Multi-part 4104 script-block reassembly through the public `Normalizer` API.

use serde_json::{Value, json};
use trustpath_event::{Event, Format, Origin, RawRecord, RecordError};
use trustpath_normalize::{
    NormalizeOptions, Normalizer, SCRIPT_BLOCK_INCOMPLETE, SCRIPT_BLOCK_ORIGINS, SCRIPT_BLOCK_PARTS,
};

/// A flat ("Mordor") 4104 part; numbers as strings, as NXLog writes them.
fn part(id: &str, number: u32, total: u32, text: &str, line: u64) -> RawRecord {
    RawRecord {
        origin: Origin::file("ps.json").with_line(line),
        format: Format::FlatWindowsJson,
        fields: trustpath_event::fields_from(json!({
            "EventID": 4104,
            "Channel": "Microsoft-Windows-PowerShell/Operational",
            "Hostname": "WS01.corp.contoso.com",
            "@timestamp": format!("2024-11-05T15:02:{:02}.000Z", 10 + line),
            "MessageNumber": number.to_string(),
            "MessageTotal": total.to_string(),
            "ScriptBlockId": id,
            "ScriptBlockText": text,
        })),
    }
}

fn events(out: Vec<Result<Event, RecordError>>) -> Vec<Event> {
    out.into_iter().map(|r| r.expect("normalized")).collect()
}

#[test]
fn out_of_order_parts_with_a_duplicate_make_one_event() {
    let mut n = Normalizer::new(NormalizeOptions::default());
    let mut out = Vec::new();
    n.push(part("B1", 3, 3, "-AccessRights FullAccess", 1), &mut out);
    n.push(part("B1", 1, 3, "$m = 'cfo'; Add-Mailbox", 2), &mut out);
    n.push(part("B1", 1, 3, "$m = 'cfo'; Add-Mailbox", 3), &mut out);
    assert!(out.is_empty(), "nothing is emitted while parts are missing");
    n.push(
        part("B1", 2, 3, "Permission -Identity $m -User x ", 4),
        &mut out,
    );
    n.finish(&mut out);
    let events = events(out);
    assert_eq!(events.len(), 1);
    let event = &events[0];
    let text = event.fields["ScriptBlockText"].as_str().unwrap_or_default();
    assert_eq!(
        text,
        "$m = 'cfo'; Add-MailboxPermission -Identity $m -User x -AccessRights FullAccess"
    );
    // The cmdlet split across the part 1 / part 2 boundary is found in the whole text.
    assert!(text.contains("Add-MailboxPermission"));
    assert_eq!(event.fields["MessageNumber"], json!(1));
    assert_eq!(event.fields[SCRIPT_BLOCK_PARTS], json!(3));
    assert_eq!(event.origin.line, Some(2), "origin is part 1's");
    assert_eq!(
        event.time.to_string(),
        "2024-11-05T15:02:12Z",
        "time is part 1's"
    );
    assert_eq!(
        event.fields[SCRIPT_BLOCK_ORIGINS],
        json!(["ps.json:2", "ps.json:4", "ps.json:1"])
    );
    assert_eq!(n.stats().script_blocks_reassembled, 1);
    assert_eq!(n.stats().script_block_parts_ignored, 1);
    assert_eq!(n.stats().script_blocks_incomplete, 0);
}

#[test]
fn missing_part_is_flushed_at_finish_as_incomplete() {
    let mut n = Normalizer::new(NormalizeOptions::default());
    let mut out = Vec::new();
    n.push(part("B2", 2, 3, "second", 1), &mut out);
    n.push(part("B2", 1, 3, "first", 2), &mut out);
    assert!(out.is_empty());
    n.finish(&mut out);
    let events = events(out);
    assert_eq!(events.len(), 2);
    let texts: Vec<&Value> = events
        .iter()
        .map(|e| &e.fields["ScriptBlockText"])
        .collect();
    assert_eq!(texts, [&json!("first"), &json!("second")], "in part order");
    for event in &events {
        assert_eq!(event.fields[SCRIPT_BLOCK_INCOMPLETE], json!(true));
        assert!(!event.fields.contains_key(SCRIPT_BLOCK_PARTS));
    }
    assert_eq!(n.stats().script_blocks_incomplete, 1);
}

#[test]
fn single_part_blocks_and_other_events_pass_straight_through() {
    let mut n = Normalizer::new(NormalizeOptions::default());
    let mut out = Vec::new();
    n.push(part("B3", 1, 1, "Get-Mailbox", 1), &mut out);
    assert_eq!(out.len(), 1);
    let event = events(out).remove(0);
    assert!(!event.fields.contains_key(SCRIPT_BLOCK_PARTS));
    assert!(!event.fields.contains_key(SCRIPT_BLOCK_INCOMPLETE));
}

#[test]
fn blocks_on_different_hosts_or_ids_do_not_mix() {
    let mut n = Normalizer::new(NormalizeOptions::default());
    let mut out = Vec::new();
    let mut other_host = part("B4", 2, 2, "B", 2);
    other_host
        .fields
        .insert("Hostname".to_owned(), json!("WS02"));
    n.push(part("B4", 1, 2, "a", 1), &mut out);
    n.push(other_host, &mut out);
    n.push(part("B5", 2, 2, "y", 3), &mut out);
    assert!(out.is_empty());
    n.push(part("B4", 2, 2, "b", 4), &mut out);
    assert_eq!(out.len(), 1);
    n.finish(&mut out);
    let events = events(out);
    assert_eq!(events[0].fields["ScriptBlockText"], json!("ab"));
    assert_eq!(events.len(), 3, "two incomplete parts flushed at finish");
    assert_eq!(n.stats().script_blocks_incomplete, 2);
}

#[test]
fn oldest_pending_block_is_evicted_beyond_the_limit() {
    let opts = NormalizeOptions {
        max_pending_script_blocks: 2,
        ..NormalizeOptions::default()
    };
    let mut n = Normalizer::new(opts);
    let mut out = Vec::new();
    n.push(part("E1", 1, 2, "one", 1), &mut out);
    n.push(part("E2", 1, 2, "two", 2), &mut out);
    assert!(out.is_empty());
    n.push(part("E3", 1, 2, "three", 3), &mut out);
    let evicted = events(std::mem::take(&mut out));
    assert_eq!(evicted.len(), 1);
    assert_eq!(evicted[0].fields["ScriptBlockId"], json!("E1"));
    assert_eq!(evicted[0].fields[SCRIPT_BLOCK_INCOMPLETE], json!(true));
    n.push(part("E2", 2, 2, "!", 4), &mut out);
    let done = events(std::mem::take(&mut out));
    assert_eq!(done[0].fields["ScriptBlockText"], json!("two!"));
    assert_eq!(n.stats().script_blocks_incomplete, 1);
}
