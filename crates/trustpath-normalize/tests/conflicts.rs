//! 4104 parts that conflict (a forged part sent first), parts bounded by bytes, and parts
//! handed from one normalizer to another (the pipeline joins files of one hunt this way).

use serde_json::{Value, json};
use trustpath_event::{Event, Format, Origin, RawRecord, RecordError};
use trustpath_normalize::{
    NormalizeOptions, Normalizer, SCRIPT_BLOCK_CONFLICT, SCRIPT_BLOCK_INCOMPLETE,
    SCRIPT_BLOCK_VARIANT,
};

/// An evtx_dump-style 4104 part (written from the documented event shape).
fn part(file: &str, record: u64, id: &str, number: u32, total: u32, text: &str) -> RawRecord {
    RawRecord {
        origin: Origin::file(file).with_line(record),
        format: Format::EvtxJson,
        fields: trustpath_event::fields_from(json!({"Event": {
            "System": {
                "Provider": {"#attributes": {"Name": "Microsoft-Windows-PowerShell"}},
                "EventID": 4104,
                "TimeCreated": {"#attributes": {"SystemTime": format!("2025-03-06T23:59:{:02}Z", 50 + record % 10)}},
                "EventRecordID": record,
                "Channel": "Microsoft-Windows-PowerShell/Operational",
                "Computer": "WS-HR-02.fabrikam.local"
            },
            "EventData": {
                "MessageNumber": number,
                "MessageTotal": total,
                "ScriptBlockText": text,
                "ScriptBlockId": id,
                "Path": ""
            }
        }})),
    }
}

fn events(out: Vec<Result<Event, RecordError>>) -> Vec<Event> {
    out.into_iter().map(|r| r.expect("normalized")).collect()
}

fn text(e: &Event) -> &str {
    e.fields["ScriptBlockText"].as_str().unwrap_or_default()
}

const ID: &str = "5d2c1b0a-9e8f-4a7b-b6c5-d4e3f2a1b0c9";

#[test]
fn decoy_part_one_first_never_hides_the_real_script() {
    let mut n = Normalizer::new(NormalizeOptions::default());
    let mut out = Vec::new();
    n.push(
        part("a.jsonl", 10, ID, 1, 2, "Get-Process | Out-Null\n# "),
        &mut out,
    );
    n.push(
        part(
            "a.jsonl",
            11,
            ID,
            1,
            2,
            "Add-MailboxPermission -Identity hr@fabrikam.com -User ",
        ),
        &mut out,
    );
    n.push(
        part(
            "a.jsonl",
            12,
            ID,
            2,
            2,
            "temp@contoso-it.net -AccessRights FullAccess",
        ),
        &mut out,
    );
    n.finish(&mut out);
    let events = events(out);
    assert_eq!(events.len(), 2, "one reassembly per variant of part 1");
    assert!(
        events
            .iter()
            .all(|e| e.fields[SCRIPT_BLOCK_CONFLICT] == json!(true))
    );
    assert!(
        events.iter().any(
            |e| text(e).contains("Add-MailboxPermission -Identity hr@fabrikam.com -User temp@")
        )
    );
    assert!(events[0].fields.get(SCRIPT_BLOCK_VARIANT).is_none());
    assert_eq!(events[1].fields[SCRIPT_BLOCK_VARIANT], json!(1));
    assert_ne!(events[0].record_key(), events[1].record_key());
    assert_eq!(n.stats().script_block_parts_conflicting, 1);
    assert_eq!(n.stats().script_block_parts_ignored, 0);
    assert_eq!(n.stats().script_blocks_reassembled, 1);
}

#[test]
fn the_same_part_twice_is_a_counted_duplicate_not_a_conflict() {
    let mut n = Normalizer::new(NormalizeOptions::default());
    let mut out = Vec::new();
    n.push(part("a.jsonl", 1, ID, 1, 2, "Add-Mailbox"), &mut out);
    n.push(part("b.jsonl", 1, ID, 1, 2, "Add-Mailbox"), &mut out);
    n.push(part("a.jsonl", 2, ID, 2, 2, "Permission x"), &mut out);
    let events = events(out);
    assert_eq!(events.len(), 1);
    assert_eq!(text(&events[0]), "Add-MailboxPermission x");
    assert!(events[0].fields.get(SCRIPT_BLOCK_CONFLICT).is_none());
    assert_eq!(n.stats().script_block_parts_ignored, 1);
    assert_eq!(n.stats().script_block_parts_conflicting, 0);
}

#[test]
fn pending_parts_are_bounded_by_bytes_with_counted_eviction() {
    let opts = NormalizeOptions {
        max_pending_script_block_bytes: 64 * 1024,
        ..NormalizeOptions::default()
    };
    let mut n = Normalizer::new(opts);
    let mut out = Vec::new();
    let big = "x".repeat(20 * 1024);
    for i in 0..10u64 {
        n.push(part("big.jsonl", i, &format!("B{i}"), 1, 2, &big), &mut out);
        assert!(
            n.pending_bytes() <= 64 * 1024,
            "pending {} bytes",
            n.pending_bytes()
        );
    }
    let evicted = events(std::mem::take(&mut out));
    assert_eq!(evicted.len(), 7, "three 20 KiB parts fit in 64 KiB");
    assert!(
        evicted
            .iter()
            .all(|e| e.fields[SCRIPT_BLOCK_INCOMPLETE] == json!(true))
    );
    assert_eq!(n.stats().script_blocks_evicted, 7);
    // A single part larger than the whole budget is emitted at once, counted.
    n.push(
        part("big.jsonl", 99, "HUGE", 1, 2, &"y".repeat(100 * 1024)),
        &mut out,
    );
    assert_eq!(out.len(), 1);
    assert_eq!(n.stats().script_blocks_evicted, 8);
}

#[test]
fn parts_handed_to_another_normalizer_join_across_inputs() {
    let mut day1 = Normalizer::new(NormalizeOptions::default());
    let mut day2 = Normalizer::new(NormalizeOptions::default());
    let mut out = Vec::new();
    day1.push(part("day1.jsonl", 5, ID, 1, 2, "Add-Mailbox"), &mut out);
    day2.push(
        part("day2.jsonl", 6, ID, 2, 2, "Permission -Identity hr@fabrikam.com -User temp@contoso-it.net -AccessRights FullAccess"),
        &mut out,
    );
    assert!(out.is_empty());
    let mut joined = Normalizer::new(NormalizeOptions::default());
    for p in day1.take_pending().into_iter().chain(day2.take_pending()) {
        joined.push_event(p, &mut out);
    }
    joined.finish(&mut out);
    let events = events(out);
    assert_eq!(events.len(), 1);
    assert_eq!(
        text(&events[0]),
        "Add-MailboxPermission -Identity hr@fabrikam.com -User temp@contoso-it.net -AccessRights FullAccess"
    );
    assert_eq!(events[0].origin.file.as_ref(), "day1.jsonl");
    // Enrichment ran on the joined event: the permission change is extracted.
    assert!(
        events[0]
            .fields
            .get("tp.permission_change")
            .is_some_and(Value::is_array)
    );
    assert_eq!(joined.stats().script_blocks_reassembled, 1);
    assert_eq!(day1.stats().script_blocks_incomplete, 0);
}
