//! The held-out split: a pool of valid tasks in, evaluation and training task ids out, split by
//! *site* (a function: repository + file + dotted enclosing name), so no function of the
//! held-out set appears in any training set. Sites are stratified by the stratum of their tasks
//! (the skill a task exercises, else its operator) and shuffled with a seeded RNG. Before any
//! Solver has run, a task's skill is [`repair_skill`]: the repair-pattern skill the distiller
//! names a failure on it by (the primary pattern of its fix). Pure.

use crate::model::Task;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A function of a repository: where tasks are, for the split.
pub type SiteKey = (String, String, String);

/// The site of a task: its repository, file and enclosing function or class.
pub fn site_key(task: &Task) -> SiteKey {
    (task.repo.clone(), task.site.file.clone(), task.enclosing.clone())
}

/// The stratum of a task: the skill it exercises, else its operator.
pub fn stratum(task: &Task) -> String {
    task.skill.clone().unwrap_or_else(|| task.operator.clone())
}

/// The skill a task exercises before any Solver has failed it: the name of its fix's primary
/// repair pattern (`skills::pattern`, the name the rule distiller gives the repair-pattern
/// skill of a failure on the task); `None` when its bug patch does not reverse or shows none.
pub fn repair_skill(task: &Task) -> Option<String> {
    let fix = crate::diff::reverse(&task.bug_patch).ok()?;
    crate::skills::pattern::classify_patch(&fix).first().map(|p| p.name().to_string())
}

/// The tasks with `skill` set to their [`repair_skill`] where they have none.
pub fn with_repair_skills(tasks: &[Task]) -> Vec<Task> {
    tasks.iter().map(|t| Task { skill: t.skill.clone().or_else(|| repair_skill(t)), ..t.clone() }).collect()
}

/// A recorded split: the task ids held out for evaluation and those left for training, with the
/// seed and share it was made with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Split {
    pub seed: u64,
    /// Share of each stratum's sites held out.
    pub heldout_share: f64,
    pub heldout: Vec<String>,
    pub train: Vec<String>,
}

/// Split `pool` by site: in each stratum (a site's most frequent stratum; ties by name) a
/// seeded shuffle of its sites, `ceil(share × sites)` of them held out (none when the stratum
/// has a single site, so every stratum keeps training data), then at most `max_heldout` tasks
/// held out in all (whole sites, taken round-robin over strata). Ids are sorted.
pub fn split_by_site(pool: &[Task], heldout_share: f64, max_heldout: usize, seed: u64) -> anyhow::Result<Split> {
    if !(heldout_share > 0.0 && heldout_share < 1.0) {
        anyhow::bail!("the held-out share must be in (0, 1), got {heldout_share}");
    }
    let mut by_site: BTreeMap<SiteKey, Vec<&Task>> = BTreeMap::new();
    for t in pool {
        by_site.entry(site_key(t)).or_default().push(t);
    }
    let mut strata: BTreeMap<String, Vec<SiteKey>> = BTreeMap::new();
    for (site, tasks) in &by_site {
        strata.entry(site_stratum(tasks)).or_default().push(site.clone());
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut queues: Vec<Vec<SiteKey>> = Vec::new();
    for sites in strata.values_mut() {
        sites.shuffle(&mut rng);
        let take = if sites.len() < 2 {
            0
        } else {
            ((sites.len() as f64 * heldout_share).ceil() as usize).min(sites.len() - 1)
        };
        queues.push(sites[..take].to_vec());
    }
    let mut held: BTreeSet<SiteKey> = BTreeSet::new();
    let mut count = 0;
    let mut round = 0;
    while queues.iter().any(|q| round < q.len()) {
        for q in &queues {
            if let Some(site) = q.get(round) {
                let n = by_site[site].len();
                if count + n <= max_heldout {
                    held.insert(site.clone());
                    count += n;
                }
            }
        }
        round += 1;
    }
    let (mut heldout, mut train) = (Vec::new(), Vec::new());
    for (site, tasks) in &by_site {
        let side = if held.contains(site) { &mut heldout } else { &mut train };
        side.extend(tasks.iter().map(|t| t.id.clone()));
    }
    heldout.sort();
    train.sort();
    Ok(Split { seed, heldout_share, heldout, train })
}

/// The stratum most of a site's tasks are in (ties: the first by name).
fn site_stratum(tasks: &[&Task]) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for t in tasks {
        *counts.entry(stratum(t)).or_default() += 1;
    }
    let best = counts.values().copied().max().unwrap_or(0);
    counts.into_iter().find(|(_, n)| *n == best).map(|(s, _)| s).unwrap_or_default()
}

/// The sites two task lists share (empty for a sound split).
pub fn shared_sites(a: &[&Task], b: &[&Task]) -> BTreeSet<SiteKey> {
    let left: BTreeSet<SiteKey> = a.iter().map(|t| site_key(t)).collect();
    b.iter().map(|t| site_key(t)).filter(|s| left.contains(s)).collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::TaskStage;

    /// A valid task `id` of `operator` in `file`, function `func`.
    pub fn pool_task(id: &str, operator: &str, file: &str, func: &str) -> Task {
        let mut t = crate::model::test_support::task(id, operator, TaskStage::Valid);
        t.repo = "/r".into();
        t.site.file = file.into();
        t.enclosing = func.into();
        t
    }

    fn pool() -> Vec<Task> {
        let mut out = Vec::new();
        for f in 0..12 {
            for (k, op) in ["flip", "swap", "drop"].iter().enumerate() {
                if (f + k) % 2 == 0 {
                    out.push(pool_task(&format!("t-{f}-{op}"), op, &format!("m{}.py", f % 3), &format!("f{f}")));
                }
            }
        }
        out
    }

    #[test]
    fn no_held_out_site_is_in_training_and_every_task_is_on_one_side() {
        let pool = pool();
        let split = split_by_site(&pool, 0.25, 100, 7).unwrap();
        assert!(!split.heldout.is_empty() && !split.train.is_empty());
        assert_eq!(split.heldout.len() + split.train.len(), pool.len());
        let pick = |ids: &[String]| pool.iter().filter(|t| ids.contains(&t.id)).collect::<Vec<_>>();
        assert!(shared_sites(&pick(&split.heldout), &pick(&split.train)).is_empty());
        // Seeded: the same seed gives the same split, another seed (usually) another.
        assert_eq!(split, split_by_site(&pool, 0.25, 100, 7).unwrap());
        assert_ne!(split.heldout, split_by_site(&pool, 0.25, 100, 8).unwrap().heldout);
    }

    #[test]
    fn every_stratum_with_two_sites_is_represented_and_the_cap_holds() {
        let pool = pool();
        let split = split_by_site(&pool, 0.25, 100, 1).unwrap();
        let held: BTreeSet<String> =
            pool.iter().filter(|t| split.heldout.contains(&t.id)).map(|t| site_stratum(&[t])).collect();
        assert_eq!(held.len(), 3, "{held:?}");
        let capped = split_by_site(&pool, 0.5, 3, 1).unwrap();
        assert!(capped.heldout.len() <= 3 && !capped.heldout.is_empty(), "{:?}", capped.heldout);
        assert!(split_by_site(&pool, 1.0, 3, 1).unwrap_err().to_string().contains("held-out share"));
    }

    /// A task whose bug flips `<` to `>=` at line 1 of `file`.
    fn comparison_task(id: &str, file: &str, func: &str) -> Task {
        let mut t = pool_task(id, "flip_comparison", file, func);
        t.bug_patch = format!(
            "diff --git a/{file} b/{file}\n--- a/{file}\n+++ b/{file}\n@@ -1,2 +1,2 @@\n def {func}(a, b):\n-    return a < b\n+    return a >= b\n"
        );
        t
    }

    /// A task whose bug turns `+ 1` into `+ 2`.
    fn off_by_one_task(id: &str, file: &str, func: &str) -> Task {
        let mut t = pool_task(id, "off_by_one", file, func);
        t.bug_patch = format!(
            "diff --git a/{file} b/{file}\n--- a/{file}\n+++ b/{file}\n@@ -1,2 +1,2 @@\n def {func}(a):\n-    return a + 1\n+    return a + 2\n"
        );
        t
    }

    #[test]
    fn the_split_is_stratified_by_the_repair_skill_of_each_fix() {
        let t = comparison_task("c", "m.py", "f");
        assert_eq!(repair_skill(&t).as_deref(), Some("changed-comparison"));
        let mut unparsable = t.clone();
        unparsable.bug_patch = "not a diff".into();
        assert_eq!(repair_skill(&unparsable), None);
        // Two skills over eight sites each, under one operator name: the split holds out sites of
        // both skills (by operator, both would be one stratum).
        let mut pool = Vec::new();
        for i in 0..8 {
            let mut a = comparison_task(&format!("c{i}"), "m.py", &format!("c{i}"));
            let mut b = off_by_one_task(&format!("o{i}"), "n.py", &format!("o{i}"));
            (a.operator, b.operator) = ("mixed".into(), "mixed".into());
            pool.extend([a, b]);
        }
        let labelled = with_repair_skills(&pool);
        let split = split_by_site(&labelled, 0.25, 100, 3).unwrap();
        let held: BTreeSet<String> = labelled.iter().filter(|t| split.heldout.contains(&t.id)).map(stratum).collect();
        let want: BTreeSet<String> = ["changed-comparison", "off-by-one"].iter().map(|s| s.to_string()).collect();
        assert_eq!(held, want);
        assert_eq!(split.heldout.len(), 4, "ceil(0.25 × 8) sites of each skill");
    }
}
