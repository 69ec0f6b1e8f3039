//! The rule cache: rules loaded through it are the rules loaded without it, an edited
//! rule is parsed again, and a YAML error keeps its line whether the cache exists or not.

use std::path::Path;
use trustpath_sigma::{LoadOptions, RuleSet};

const FIRST: &str = "title: Encoded PowerShell
id: 0b5ad0a1-38d3-4b6f-9c1e-6d8f2a0e4c11
level: medium
logsource:
  product: windows
  category: process_creation
detection:
  selection:
    CommandLine|contains: ' -enc '
  condition: selection
---
title: Second document
id: 0b5ad0a1-38d3-4b6f-9c1e-6d8f2a0e4c12
logsource:
  product: windows
  service: security
detection:
  selection:
    EventID: 4688
  condition: selection
";

const BROKEN: &str = "title: Broken
logsource:
  product: windows
detection:
  selection:
    CommandLine: [unclosed
  condition: selection
";

/// What a loaded set says, in a form two loads can be compared by.
fn summary(set: &RuleSet) -> Vec<(Option<String>, String, Option<String>, String)> {
    set.rules
        .iter()
        .map(|r| {
            (
                r.id.clone(),
                r.title.clone(),
                r.level.clone(),
                r.raw.to_string(),
            )
        })
        .collect()
}

fn load(rules: &Path, cache: Option<&Path>) -> (RuleSet, Vec<String>) {
    let opts = LoadOptions {
        cache: cache.map(Path::to_path_buf),
        ..LoadOptions::default()
    };
    let (set, errors) = RuleSet::load(&[rules.to_path_buf()], &opts);
    (set, errors.iter().map(ToString::to_string).collect())
}

#[test]
fn cached_rules_are_the_rules_and_an_edit_is_parsed_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).expect("mkdir");
    std::fs::write(rules.join("a.yml"), FIRST).expect("write");
    std::fs::write(rules.join("broken.yml"), BROKEN).expect("write");
    let cache = dir.path().join("cache").join("sigma-documents.mpk");

    let (plain, plain_errors) = load(&rules, None);
    let (cold, cold_errors) = load(&rules, Some(&cache));
    assert!(cache.is_file(), "the first load writes the cache");
    let (warm, warm_errors) = load(&rules, Some(&cache));
    assert_eq!(plain.rules.len(), 2);
    assert_eq!(summary(&plain), summary(&cold));
    assert_eq!(summary(&plain), summary(&warm));
    assert_eq!(plain_errors.len(), 1, "{plain_errors:?}");
    assert_eq!(plain_errors, cold_errors, "the YAML error, with its line");
    assert_eq!(plain_errors, warm_errors, "the YAML error, with its line");
    assert!(plain_errors[0].contains("broken.yml"), "{plain_errors:?}");

    // An edited rule is a new text: parsed again, never the old value.
    std::fs::write(
        rules.join("a.yml"),
        FIRST.replace("level: medium", "level: high"),
    )
    .expect("write");
    let (edited, _) = load(&rules, Some(&cache));
    assert_eq!(edited.rules[0].level.as_deref(), Some("high"));
    assert_eq!(summary(&edited)[1], summary(&plain)[1]);

    // A damaged cache is as good as none.
    std::fs::write(&cache, b"not a cache").expect("write");
    let (damaged, _) = load(&rules, Some(&cache));
    assert_eq!(summary(&damaged), summary(&edited));
}

#[test]
fn a_warm_load_takes_the_documents_from_the_cache() {
    // Proof that the cache is read: an entry planted for the file's exact text wins.
    let dir = tempfile::tempdir().expect("tempdir");
    let rules = dir.path().join("rules");
    std::fs::create_dir_all(&rules).expect("mkdir");
    let text = FIRST.split("---\n").next().expect("first document");
    std::fs::write(rules.join("a.yml"), text).expect("write");
    let cache_file = dir.path().join("sigma-documents.mpk");
    let mut planted: serde_json::Value = serde_norway::from_str(text).expect("yaml");
    planted["title"] = "Planted in the cache".into();
    let cache = trustpath_sigma::cache::RuleCache::open(&cache_file);
    cache.put(text, &planted);
    cache.save();
    let (set, _) = load(&rules, Some(&cache_file));
    assert_eq!(set.rules[0].title, "Planted in the cache");
}
