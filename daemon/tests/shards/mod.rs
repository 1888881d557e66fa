//! What the shard tests share: the example repository with its environment and candidates in a
//! home, a copy of that home validated on one machine, and the verdicts of a store.
#![allow(dead_code)]

use crate::common::{commit_all, copy_dir, example_repo_source, socratic, stdout_json};
use socratic::model::Verdict;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A home holding the example repository's environment and `budget` candidates, and a copy of
/// it whose candidates were validated by `tasks validate` on this machine.
pub struct Prepared {
    pub repo: PathBuf,
    pub home: PathBuf,
    pub single: PathBuf,
    pub candidates: Vec<String>,
    /// The environment image the test built (removed when `Prepared` is dropped).
    pub image: String,
}

impl Drop for Prepared {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker").args(["rmi", "-f", &self.image]).output();
    }
}

/// Run the binary and fail the test with its output unless it exits 0.
pub fn ok(home: &Path, args: &[&str]) -> std::process::Output {
    let out = socratic(home, args);
    assert!(
        out.status.success(),
        "socratic {args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn prepare(dir: &Path, budget: usize) -> Prepared {
    let repo = dir.join("tallyho");
    copy_dir(&example_repo_source(), &repo);
    commit_all(&repo);
    let home = dir.join("head-home");
    let r = repo.to_str().unwrap();
    let env = stdout_json(&ok(&home, &["env", "build", "--repo", r, "--json"]));
    let image = env["image"].as_str().unwrap_or_else(|| panic!("env build --json: {env}")).to_string();
    let generated =
        ok(&home, &["tasks", "generate", "--repo", r, "--budget", &budget.to_string(), "--seed", "7", "--json"]);
    let candidates: Vec<String> = stdout_json(&generated)["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect();
    assert!(candidates.len() >= 6, "{} candidates", candidates.len());
    let single = dir.join("single-home");
    copy_dir(&home, &single);
    ok(&single, &["tasks", "validate", "--repo", r, "--workers", "1", "--timeout", "30"]);
    Prepared { repo, home, single, candidates, image }
}

/// Every verdict of a store by task id.
pub fn verdicts(home: &Path) -> BTreeMap<String, Verdict> {
    let store = socratic::store::Store::open(home).unwrap();
    store.verdicts().unwrap().into_iter().map(|v| (v.task_id.clone(), v)).collect()
}

/// Verdicts as what they decide (outcome, F2P, P2P), leaving out times and wording.
pub fn decisions(home: &Path) -> BTreeMap<String, String> {
    verdicts(home)
        .into_iter()
        .map(|(id, v)| (id, format!("{} f2p={:?} p2p={}", v.outcome_word(), v.fail_to_pass, v.pass_to_pass.len())))
        .collect()
}

/// The stage word of every task of a store.
pub fn stages(home: &Path) -> BTreeMap<String, String> {
    let store = socratic::store::Store::open(home).unwrap();
    store.tasks().unwrap().into_iter().map(|t| (t.id.clone(), t.stage.name().to_string())).collect()
}

/// The verdicts that decide differently in two homes, with their reasons (for failure messages).
pub fn differences(a: &Path, b: &Path) -> Vec<String> {
    let (va, vb) = (verdicts(a), verdicts(b));
    let (da, db) = (decisions(a), decisions(b));
    da.iter()
        .filter(|(id, d)| db.get(*id) != Some(*d))
        .map(|(id, d)| {
            let other = vb.get(id).map_or("none".to_string(), |v| format!("{}: {}", v.outcome_word(), v.reason));
            format!("{id}: {d} ({}) vs {other}", va[id].reason)
        })
        .collect()
}
