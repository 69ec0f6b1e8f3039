//! The set of record identities a scan has seen ([`IdentitySet`]).
//!
//! A hunt over one input of a million records keeps a million 128-bit identities to drop
//! records seen again. In one hash table that is 2^21 slots (34 MiB), and growing to it
//! briefly holds the old table too (another 17 MiB): the largest single allocation of a
//! Sigma-only hunt. Split into 64 tables by the identity's top bits, each grows on its
//! own: the same identities in less memory and no doubling spike. Identities are hashes
//! already ([`trustpath_event::record_digest`]), so a table hashes them by their low
//! 64 bits, not by SipHash.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

const SHARDS: usize = 64;

/// Record identities, sharded by their top six bits.
#[derive(Debug, Clone)]
pub(crate) struct IdentitySet {
    shards: Vec<HashSet<u128, BuildHasherDefault<LowBits>>>,
}

impl Default for IdentitySet {
    fn default() -> Self {
        IdentitySet {
            shards: (0..SHARDS).map(|_| HashSet::default()).collect(),
        }
    }
}

impl IdentitySet {
    fn shard(key: u128) -> usize {
        (key >> 122) as usize % SHARDS
    }

    /// Adds `key`; false when it was there already.
    pub(crate) fn insert(&mut self, key: u128) -> bool {
        match self.shards.get_mut(Self::shard(key)) {
            Some(shard) => shard.insert(key),
            None => false,
        }
    }

    pub(crate) fn contains(&self, key: &u128) -> bool {
        self.shards
            .get(Self::shard(*key))
            .is_some_and(|shard| shard.contains(key))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.shards.iter().all(HashSet::is_empty)
    }

    pub(crate) fn len(&self) -> usize {
        self.shards.iter().map(HashSet::len).sum()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = u128> + '_ {
        self.shards.iter().flat_map(|shard| shard.iter().copied())
    }
}

impl Extend<u128> for IdentitySet {
    fn extend<I: IntoIterator<Item = u128>>(&mut self, keys: I) {
        for key in keys {
            self.insert(key);
        }
    }
}

impl FromIterator<u128> for IdentitySet {
    fn from_iter<I: IntoIterator<Item = u128>>(keys: I) -> Self {
        let mut set = IdentitySet::default();
        set.extend(keys);
        set
    }
}

impl IntoIterator for IdentitySet {
    type Item = u128;
    type IntoIter =
        std::iter::Flatten<std::vec::IntoIter<HashSet<u128, BuildHasherDefault<LowBits>>>>;

    fn into_iter(self) -> Self::IntoIter {
        self.shards.into_iter().flatten()
    }
}

/// Hashes a `u128` identity by its low 64 bits (it is a digest already).
#[derive(Default)]
pub(crate) struct LowBits(u64);

impl Hasher for LowBits {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not reached for u128 keys (`write_u128`); fold any other input in.
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(5) ^ u64::from_le_bytes(word);
        }
    }

    fn write_u128(&mut self, i: u128) {
        self.0 = i as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::IdentitySet;

    #[test]
    fn behaves_as_a_set() {
        let mut set = IdentitySet::default();
        assert!(set.is_empty());
        let keys: Vec<u128> = (0..10_000u128)
            .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835))
            .collect();
        for &k in &keys {
            assert!(set.insert(k));
        }
        assert!(!set.insert(keys[17]));
        assert_eq!(set.len(), keys.len());
        assert!(keys.iter().all(|k| set.contains(k)));
        assert!(!set.contains(&1));
        let mut back: Vec<u128> = set.clone().into_iter().collect();
        back.sort_unstable();
        let mut want = keys.clone();
        want.sort_unstable();
        assert_eq!(back, want);
        assert_eq!(set.iter().count(), keys.len());
    }
}
