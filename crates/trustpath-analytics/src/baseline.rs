//! First-seen times over the whole input, for "first-seen actor" priority.

use jiff::Timestamp;
use std::collections::HashMap;

/// When each actor was first seen doing anything in the input.
#[derive(Debug, Clone, Default)]
pub struct Baseline {
    first_seen: HashMap<String, Timestamp>,
    /// Earliest event time of the whole input.
    pub start: Option<Timestamp>,
}

impl Baseline {
    /// Record that `actor` acted at `time`.
    pub fn observe(&mut self, actor: &str, time: Timestamp) {
        self.start = Some(self.start.map_or(time, |s| s.min(time)));
        match self.first_seen.get_mut(actor) {
            Some(first) if *first <= time => {}
            Some(first) => *first = time,
            None => {
                self.first_seen.insert(actor.to_owned(), time);
            }
        }
    }

    /// Merge another baseline (order-independent).
    pub fn merge(&mut self, other: Baseline) {
        for (actor, time) in other.first_seen {
            self.observe(&actor, time);
        }
        if let Some(start) = other.start {
            self.start = Some(self.start.map_or(start, |s| s.min(start)));
        }
    }

    /// When `actor` was first seen.
    pub fn first_seen(&self, actor: &str) -> Option<Timestamp> {
        self.first_seen.get(actor).copied()
    }

    /// Whether `actor`'s first activity in the input is at or after `time` — i.e. the
    /// input holds no earlier activity of theirs — while the input does reach back
    /// further (otherwise nobody could be "first seen").
    pub fn is_first_seen_at(&self, actor: &str, time: Timestamp) -> bool {
        let Some(start) = self.start else {
            return false;
        };
        start < time && self.first_seen(actor).is_none_or(|first| first >= time)
    }

    /// Number of actors known.
    pub fn len(&self) -> usize {
        self.first_seen.len()
    }

    /// Whether no actor is known.
    pub fn is_empty(&self) -> bool {
        self.first_seen.is_empty()
    }
}
