//! Reassembly of PowerShell 4104 script blocks logged in several parts.
//!
//! PowerShell splits a long script block over several 4104 events (`MessageNumber` of
//! `MessageTotal`, same `ScriptBlockId`). A cmdlet name can be cut in two at a part
//! boundary, so rules must see the whole text: parts are buffered per (host, id) until all
//! of `1..=MessageTotal` are there, then one event is emitted — part 1's fields with the
//! concatenated `ScriptBlockText`, `MessageNumber` 1, `tp.script_block_parts` and
//! `tp.script_block_origins` (every part's origin, in part order), and part 1's origin.
//!
//! Duplicated parts are ignored (counted). At most `max_pending` blocks wait; beyond that
//! the oldest is flushed as incomplete: its parts are emitted one by one with
//! `tp.script_block_incomplete: true` (counted). `finish` flushes everything left.

use crate::NormalizeStats;
use crate::fields::text;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use trustpath_event::{Event, RecordError, norm};

/// Field added to a reassembled event: how many parts it was made of.
pub const SCRIPT_BLOCK_PARTS: &str = "tp.script_block_parts";
/// Field added to a reassembled event: the origins of all its parts, as strings.
pub const SCRIPT_BLOCK_ORIGINS: &str = "tp.script_block_origins";
/// Field added to the parts of a block that never completed.
pub const SCRIPT_BLOCK_INCOMPLETE: &str = "tp.script_block_incomplete";

type Key = (String, String);

/// Parts received so far for one script block.
struct Pending {
    total: u64,
    arrival: u64,
    parts: BTreeMap<u64, Event>,
}

/// Buffered multi-part script blocks, oldest first.
pub(crate) struct ScriptBlocks {
    max_pending: usize,
    pending: HashMap<Key, Pending>,
    by_arrival: BTreeMap<u64, Key>,
    next_arrival: u64,
}

/// Where an event sits in a multi-part block.
struct Part {
    key: Key,
    number: u64,
    total: u64,
}

impl ScriptBlocks {
    pub(crate) fn new(max_pending: usize) -> Self {
        ScriptBlocks {
            max_pending: max_pending.max(1),
            pending: HashMap::new(),
            by_arrival: BTreeMap::new(),
            next_arrival: 0,
        }
    }

    /// Buffers `event` if it is one part of a multi-part 4104; otherwise emits it.
    pub(crate) fn push(
        &mut self,
        event: Event,
        out: &mut Vec<Result<Event, RecordError>>,
        stats: &mut NormalizeStats,
    ) {
        let Some(part) = part_of(&event) else {
            out.push(Ok(event));
            return;
        };
        if let Some(block) = self.pending.get_mut(&part.key) {
            if block.parts.contains_key(&part.number) || part.number > block.total {
                stats.script_block_parts_ignored += 1;
                return;
            }
            block.parts.insert(part.number, event);
            if block.parts.len() as u64 == block.total {
                self.complete(&part.key, out, stats);
            }
            return;
        }
        if self.pending.len() >= self.max_pending {
            self.flush_oldest(out, stats);
        }
        let arrival = self.next_arrival;
        self.next_arrival += 1;
        self.by_arrival.insert(arrival, part.key.clone());
        let mut parts = BTreeMap::new();
        parts.insert(part.number, event);
        self.pending.insert(
            part.key,
            Pending {
                total: part.total,
                arrival,
                parts,
            },
        );
    }

    /// Flushes every pending block as incomplete, oldest first.
    pub(crate) fn finish(
        &mut self,
        out: &mut Vec<Result<Event, RecordError>>,
        stats: &mut NormalizeStats,
    ) {
        while !self.by_arrival.is_empty() {
            self.flush_oldest(out, stats);
        }
    }

    fn flush_oldest(
        &mut self,
        out: &mut Vec<Result<Event, RecordError>>,
        stats: &mut NormalizeStats,
    ) {
        let Some((_, key)) = self.by_arrival.pop_first() else {
            return;
        };
        let Some(block) = self.pending.remove(&key) else {
            return;
        };
        stats.script_blocks_incomplete += 1;
        for (_, mut part) in block.parts {
            part.fields
                .insert(SCRIPT_BLOCK_INCOMPLETE.to_owned(), Value::Bool(true));
            out.push(Ok(part));
        }
    }

    fn complete(
        &mut self,
        key: &Key,
        out: &mut Vec<Result<Event, RecordError>>,
        stats: &mut NormalizeStats,
    ) {
        let Some(block) = self.pending.remove(key) else {
            return;
        };
        self.by_arrival.remove(&block.arrival);
        if let Some(event) = merge(block) {
            stats.script_blocks_reassembled += 1;
            out.push(Ok(event));
        }
    }
}

/// One event from all parts, in part order (`None` only for a block without parts).
fn merge(block: Pending) -> Option<Event> {
    let mut parts = block.parts.into_values();
    let mut first = parts.next()?;
    let mut text = text_of(&first);
    let mut origins = vec![Value::String(first.origin.to_string())];
    for part in parts {
        text.push_str(&text_of(&part));
        origins.push(Value::String(part.origin.to_string()));
    }
    let fields = &mut first.fields;
    fields.insert("ScriptBlockText".to_owned(), Value::String(text));
    fields.insert("MessageNumber".to_owned(), Value::from(1));
    fields.insert(SCRIPT_BLOCK_PARTS.to_owned(), Value::from(block.total));
    fields.insert(SCRIPT_BLOCK_ORIGINS.to_owned(), Value::Array(origins));
    Some(first)
}

fn text_of(event: &Event) -> String {
    event
        .fields
        .get("ScriptBlockText")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The block and part number of a 4104 event with `MessageTotal` > 1.
fn part_of(event: &Event) -> Option<Part> {
    let fields = &event.fields;
    if fields.get("EventID").and_then(Value::as_u64) != Some(4104) {
        return None;
    }
    let total = fields.get("MessageTotal").and_then(Value::as_u64)?;
    let number = fields.get("MessageNumber").and_then(Value::as_u64)?;
    if total < 2 || number == 0 || number > total {
        return None;
    }
    let id = text(fields, "ScriptBlockId")?.to_ascii_lowercase();
    let host = text(fields, norm::HOST).unwrap_or_default().to_owned();
    Some(Part {
        key: (host, id),
        number,
        total,
    })
}
