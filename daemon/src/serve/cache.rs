//! The verdict cache: RL rollouts often send the same patch several times (a group's samples
//! agree), and a grade depends only on the task, its environment image and the tree the patch
//! makes, so a repeat is answered from memory instead of a worker.
//!
//! In: a key — the task id (a content hash of the task, its tests included), the environment
//! image, and the sha256 of the combined patch (base commit → the Solver's tree, made by
//! `combine.rs` from the files' contents, so two Solver patches giving the same tree share it) —
//! and the report a worker gave for it. Out: that report for a later request with the same key,
//! counted as a hit. Bounded: past `capacity` entries the oldest is dropped. Grades whose outcome
//! could come from the moment rather than the patch (a time-out: the machine may have been slow)
//! are not kept. Capacity 0 keeps nothing.

use crate::model::{EvalReport, FailureReason};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

/// Default number of verdicts kept.
pub const DEFAULT_CAPACITY: usize = 4096;

/// What a verdict is kept under.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub task_id: String,
    pub image: String,
    pub patch_sha256: String,
}

impl Key {
    pub fn new(task_id: &str, image: &str, combined: &str) -> Key {
        Key {
            task_id: task_id.to_string(),
            image: image.to_string(),
            patch_sha256: hex::encode(Sha256::digest(combined.as_bytes())),
        }
    }
}

#[derive(Debug, Default)]
struct Entries {
    map: HashMap<Key, EvalReport>,
    order: VecDeque<Key>,
}

#[derive(Debug)]
pub struct VerdictCache {
    capacity: usize,
    entries: Mutex<Entries>,
    pub hits: AtomicU64,
    pub misses: AtomicU64,
}

impl VerdictCache {
    pub fn new(capacity: usize) -> VerdictCache {
        VerdictCache { capacity, entries: Mutex::default(), hits: AtomicU64::new(0), misses: AtomicU64::new(0) }
    }

    /// The kept report for `key` (a hit), or `None` (a miss). With capacity 0 nothing is counted.
    pub fn get(&self, key: &Key) -> Option<EvalReport> {
        if self.capacity == 0 {
            return None;
        }
        let found = self.lock().map.get(key).cloned();
        match found {
            Some(_) => self.hits.fetch_add(1, Relaxed),
            None => self.misses.fetch_add(1, Relaxed),
        };
        found
    }

    /// Keep `report` for `key`, unless its outcome may not repeat (see the module doc).
    pub fn put(&self, key: Key, report: &EvalReport) {
        if self.capacity == 0 || !cacheable(report) {
            return;
        }
        let mut e = self.lock();
        if e.map.insert(key.clone(), report.clone()).is_none() {
            e.order.push_back(key);
        }
        while e.map.len() > self.capacity {
            match e.order.pop_front() {
                Some(old) => {
                    e.map.remove(&old);
                }
                None => break,
            }
        }
    }

    /// Verdicts kept now.
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cache's counters in the Prometheus text format (appended to `/metrics`).
    pub fn render(&self) -> String {
        let lines: [(&str, &str, &str, u64); 3] = [
            (
                "socratic_cache_hits_total",
                "counter",
                "Grades answered from the verdict cache.",
                self.hits.load(Relaxed),
            ),
            (
                "socratic_cache_misses_total",
                "counter",
                "Patches looked up in the verdict cache and graded by a worker.",
                self.misses.load(Relaxed),
            ),
            ("socratic_cache_entries", "gauge", "Verdicts kept.", self.len() as u64),
        ];
        lines
            .iter()
            .map(|(name, kind, help, v)| format!("# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n"))
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A time-out may be the machine's doing, not the patch's: graded again next time.
fn cacheable(report: &EvalReport) -> bool {
    report.failure != Some(FailureReason::TimeLimit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::curriculum::tests::task;
    use crate::engine::grade::{report, TestRun};

    fn graded(run: Option<&TestRun>) -> EvalReport {
        let mut t = task("t-1", 1, crate::model::Decision::None);
        t.fail_to_pass = vec!["a".into()];
        report(&t, run, "x")
    }

    #[test]
    fn a_repeat_is_a_hit_and_another_patch_a_miss() {
        let cache = VerdictCache::new(2);
        let key = Key::new("t-1", "img:1", "--- a/m.py\n+++ b/m.py\n");
        assert!(cache.get(&key).is_none());
        let broken = graded(Some(&TestRun::Broken("no".into())));
        cache.put(key.clone(), &broken);
        assert_eq!(cache.get(&key).map(|r| r.failure), Some(broken.failure));
        // Another patch, image or task: another key.
        assert!(cache.get(&Key::new("t-1", "img:1", "--- a/m.py\n+++ b/m.py\n# 2\n")).is_none());
        assert!(cache.get(&Key::new("t-1", "img:2", "--- a/m.py\n+++ b/m.py\n")).is_none());
        assert!(cache.get(&Key::new("t-2", "img:1", "--- a/m.py\n+++ b/m.py\n")).is_none());
        assert_eq!((cache.hits.load(Relaxed), cache.misses.load(Relaxed)), (1, 4));
        let text = cache.render();
        assert!(text.contains("# TYPE socratic_cache_hits_total counter\nsocratic_cache_hits_total 1\n"), "{text}");
        assert!(text.contains("socratic_cache_misses_total 4\n") && text.contains("socratic_cache_entries 1\n"));
    }

    #[test]
    fn bounded_and_time_outs_are_not_kept() {
        let cache = VerdictCache::new(2);
        let report = graded(None);
        for n in 0..3 {
            cache.put(Key::new("t-1", "i", &n.to_string()), &report);
        }
        assert_eq!(cache.len(), 2);
        assert!(cache.get(&Key::new("t-1", "i", "0")).is_none(), "the oldest went first");
        assert!(cache.get(&Key::new("t-1", "i", "2")).is_some());
        cache.put(Key::new("t-1", "i", "slow"), &graded(Some(&TestRun::TimedOut)));
        assert!(cache.get(&Key::new("t-1", "i", "slow")).is_none());
        let off = VerdictCache::new(0);
        off.put(Key::new("t-1", "i", "0"), &report);
        assert!(off.get(&Key::new("t-1", "i", "0")).is_none());
        assert_eq!(off.misses.load(Relaxed), 0);
    }
}
