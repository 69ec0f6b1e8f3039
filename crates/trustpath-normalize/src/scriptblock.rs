//! Reassembly of PowerShell 4104 script blocks logged in several parts.
//!
//! PowerShell splits a long script block over several 4104 events (`MessageNumber` of
//! `MessageTotal`, same `ScriptBlockId`). A cmdlet name can be cut in two at a part
//! boundary, so rules must see the whole text: parts are buffered per (host, id) until all
//! of `1..=MessageTotal` are there, then one event is emitted — part 1's fields with the
//! concatenated `ScriptBlockText`, `MessageNumber` 1, `tp.script_block_parts` and
//! `tp.script_block_origins` (every part's origin, in part order), and part 1's origin.
//!
//! Parts are keyed by host and `ScriptBlockId`. A part repeated with the same text (an
//! overlapping export) is dropped and counted (`script_block_parts_ignored`). A part whose
//! number is already there with **different** text (a forged "part 1 of 2" sent first, a
//! re-used id) is a conflict: neither text is dropped. Up to [`MAX_VARIANTS`] texts are kept
//! per part number and the completed block is emitted once per variant (variant *k* takes
//! the *k*-th text of every part number, or its last one), every one of them flagged
//! `tp.script_block_conflict: true` and, after the first, `tp.script_block_variant: k`, so
//! rules see the real script whichever text arrived first. Conflicting parts are counted
//! (`script_block_parts_conflicting`) when their block is emitted; a text beyond
//! [`MAX_VARIANTS`] is emitted on its own as an incomplete, conflicting part.
//!
//! Pending parts are bounded by count (`max_pending` blocks) and by bytes
//! (`max_pending_bytes`, the text of every part plus a fixed overhead per part); beyond
//! either the oldest block is evicted: its parts are emitted one by one with
//! `tp.script_block_incomplete: true` (counted as incomplete and as evicted). `finish`
//! flushes everything left; [`ScriptBlocks::take_pending`] hands the pending parts to
//! another reassembler instead (the pipeline joins parts across the files of one hunt).

use crate::NormalizeStats;
use crate::fields::text;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use trustpath_event::identity::VARIANT_FIELD;
use trustpath_event::{Event, RecordError, norm};

/// Field added to a reassembled event: how many parts it was made of.
pub const SCRIPT_BLOCK_PARTS: &str = trustpath_event::norm::SCRIPT_BLOCK_PARTS;
/// Field added to a reassembled event: the origins of all its parts, as strings.
pub const SCRIPT_BLOCK_ORIGINS: &str = trustpath_event::norm::SCRIPT_BLOCK_ORIGINS;
/// Field added to the parts of a block that never completed.
pub const SCRIPT_BLOCK_INCOMPLETE: &str = trustpath_event::norm::SCRIPT_BLOCK_INCOMPLETE;
/// Field added to every event made from a block with conflicting parts.
pub const SCRIPT_BLOCK_CONFLICT: &str = trustpath_event::norm::SCRIPT_BLOCK_CONFLICT;
/// Field telling apart the reassemblies of a block with conflicting parts (1, 2, … after
/// the first); part of the record identity.
pub const SCRIPT_BLOCK_VARIANT: &str = VARIANT_FIELD;
/// Most different texts kept for one part number of one block.
pub const MAX_VARIANTS: usize = 4;
/// Bytes counted per pending part on top of its text (fields, origin, bookkeeping).
const PART_OVERHEAD: usize = 512;

type Key = (String, String);

/// Parts received so far for one script block.
struct Pending {
    total: u64,
    arrival: u64,
    bytes: usize,
    /// Per part number, every different text received, in arrival order.
    parts: BTreeMap<u64, Vec<Event>>,
}

impl Pending {
    fn conflicting(&self) -> u64 {
        self.parts
            .values()
            .map(|v| v.len().saturating_sub(1) as u64)
            .sum()
    }

    fn is_complete(&self) -> bool {
        self.parts.len() as u64 == self.total
    }
}

/// Buffered multi-part script blocks, oldest first.
pub(crate) struct ScriptBlocks {
    max_pending: usize,
    max_pending_bytes: usize,
    pending: HashMap<Key, Pending>,
    by_arrival: BTreeMap<u64, Key>,
    next_arrival: u64,
    bytes: usize,
}

/// Where an event sits in a multi-part block.
struct Part {
    key: Key,
    number: u64,
    total: u64,
}

impl ScriptBlocks {
    pub(crate) fn new(max_pending: usize, max_pending_bytes: usize) -> Self {
        ScriptBlocks {
            max_pending: max_pending.max(1),
            max_pending_bytes: max_pending_bytes.max(1),
            pending: HashMap::new(),
            by_arrival: BTreeMap::new(),
            next_arrival: 0,
            bytes: 0,
        }
    }

    /// Bytes held by pending parts (as counted against `max_pending_bytes`).
    pub(crate) fn pending_bytes(&self) -> usize {
        self.bytes
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
        let size = part_size(&event);
        if let Some(block) = self.pending.get_mut(&part.key) {
            if part.number > block.total {
                stats.script_block_parts_ignored += 1;
                return;
            }
            if part.total != block.total {
                // Another block under the same id: keep it, on its own, flagged.
                stats.script_block_parts_conflicting += 1;
                out.push(Ok(alone(event)));
                return;
            }
            let variants = block.parts.entry(part.number).or_default();
            let new_text = text_of(&event);
            if variants.iter().any(|v| text_of(v) == new_text) {
                stats.script_block_parts_ignored += 1;
                return;
            }
            if variants.len() >= MAX_VARIANTS {
                stats.script_block_parts_conflicting += 1;
                out.push(Ok(alone(event)));
                return;
            }
            variants.push(event);
            block.bytes += size;
            self.bytes += size;
            if block.is_complete() {
                self.complete(&part.key, out, stats);
            } else {
                self.enforce_bytes(out, stats);
            }
            return;
        }
        if size > self.max_pending_bytes {
            // Larger than the whole budget on its own: emitted at once as an incomplete
            // part; the blocks already waiting stay.
            stats.script_blocks_incomplete += 1;
            stats.script_blocks_evicted += 1;
            out.push(Ok(incomplete(event)));
            return;
        }
        while !self.by_arrival.is_empty()
            && (self.pending.len() >= self.max_pending
                || self.bytes + size > self.max_pending_bytes)
        {
            self.flush_oldest(out, stats, true);
        }
        let arrival = self.next_arrival;
        self.next_arrival += 1;
        self.by_arrival.insert(arrival, part.key.clone());
        let mut parts = BTreeMap::new();
        parts.insert(part.number, vec![event]);
        self.bytes += size;
        self.pending.insert(
            part.key,
            Pending {
                total: part.total,
                arrival,
                bytes: size,
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
            self.flush_oldest(out, stats, false);
        }
    }

    /// Removes every pending part (oldest block first, parts in number then arrival order)
    /// without emitting or counting anything: pushing them into another reassembler
    /// continues where this one stopped.
    pub(crate) fn take_pending(&mut self) -> Vec<Event> {
        let mut parts = Vec::new();
        while let Some((_, key)) = self.by_arrival.pop_first() {
            if let Some(block) = self.pending.remove(&key) {
                parts.extend(block.parts.into_values().flatten());
            }
        }
        self.bytes = 0;
        parts
    }

    fn enforce_bytes(
        &mut self,
        out: &mut Vec<Result<Event, RecordError>>,
        stats: &mut NormalizeStats,
    ) {
        while self.bytes > self.max_pending_bytes && !self.by_arrival.is_empty() {
            self.flush_oldest(out, stats, true);
        }
    }

    fn flush_oldest(
        &mut self,
        out: &mut Vec<Result<Event, RecordError>>,
        stats: &mut NormalizeStats,
        evicted: bool,
    ) {
        let Some((_, key)) = self.by_arrival.pop_first() else {
            return;
        };
        let Some(block) = self.pending.remove(&key) else {
            return;
        };
        self.bytes = self.bytes.saturating_sub(block.bytes);
        stats.script_blocks_incomplete += 1;
        if evicted {
            stats.script_blocks_evicted += 1;
        }
        let conflicting = block.conflicting();
        stats.script_block_parts_conflicting += conflicting;
        for part in block.parts.into_values().flatten() {
            let mut part = incomplete(part);
            if conflicting > 0 {
                part.fields
                    .insert(SCRIPT_BLOCK_CONFLICT.to_owned(), Value::Bool(true));
            }
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
        self.bytes = self.bytes.saturating_sub(block.bytes);
        self.by_arrival.remove(&block.arrival);
        stats.script_block_parts_conflicting += block.conflicting();
        stats.script_blocks_reassembled += 1;
        out.extend(merge(block).into_iter().map(Ok));
    }
}

fn incomplete(mut part: Event) -> Event {
    part.fields
        .insert(SCRIPT_BLOCK_INCOMPLETE.to_owned(), Value::Bool(true));
    part
}

fn alone(part: Event) -> Event {
    let mut part = incomplete(part);
    part.fields
        .insert(SCRIPT_BLOCK_CONFLICT.to_owned(), Value::Bool(true));
    part
}

fn part_size(event: &Event) -> usize {
    event
        .fields
        .get("ScriptBlockText")
        .and_then(Value::as_str)
        .map_or(0, str::len)
        + PART_OVERHEAD
}

/// One event per variant from all parts, in part order: variant `k` takes the `k`-th text
/// of every part number (or its last). A block without conflicts gives one event.
fn merge(block: Pending) -> Vec<Event> {
    let variants = block.parts.values().map(Vec::len).max().unwrap_or(0);
    let conflict = variants > 1;
    let mut out = Vec::with_capacity(variants);
    for k in 0..variants {
        let mut chosen = block
            .parts
            .values()
            .filter_map(|v| v.get(k.min(v.len().saturating_sub(1))));
        let Some(first) = chosen.next() else {
            continue;
        };
        let mut first = first.clone();
        let mut text = text_of(&first);
        let mut origins = vec![Value::String(first.origin.to_string())];
        for part in chosen {
            text.push_str(&text_of(part));
            origins.push(Value::String(part.origin.to_string()));
        }
        let fields = &mut first.fields;
        fields.insert("ScriptBlockText".to_owned(), Value::String(text));
        fields.insert("MessageNumber".to_owned(), Value::from(1));
        fields.insert(SCRIPT_BLOCK_PARTS.to_owned(), Value::from(block.total));
        fields.insert(SCRIPT_BLOCK_ORIGINS.to_owned(), Value::Array(origins));
        if conflict {
            fields.insert(SCRIPT_BLOCK_CONFLICT.to_owned(), Value::Bool(true));
        }
        if k > 0 {
            fields.insert(SCRIPT_BLOCK_VARIANT.to_owned(), Value::from(k as u64));
        }
        out.push(first);
    }
    out
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
