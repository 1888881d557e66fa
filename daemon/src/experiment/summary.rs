//! The experiment's result: a stored experiment and its arm × seed runs in, per arm the pass@1
//! and pass@k means with 95% bootstrap intervals and a per-skill breakdown out, as a value
//! (`--json`, the report's chart) and as a plain-text table. Pure.

use super::run::{ArmRun, Experiment, UNTRAINED, WARMUP};
use super::stats::{bootstrap, per_stratum, Grid, Interval, BOOTSTRAP_RESAMPLES};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The bootstrap's seed (fixed: the same runs give the same intervals).
const BOOTSTRAP_SEED: u64 = 20;

/// One arm over its seeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArmSummary {
    pub arm: String,
    pub seeds: Vec<u64>,
    /// Training examples and optimizer steps per run (the same for every arm).
    pub examples: Vec<usize>,
    pub steps: Vec<usize>,
    pub pass1: Option<Interval>,
    pub pass_k: Option<Interval>,
    /// Pass@1 per stratum (skill, else operator) of the held-out tasks.
    pub per_skill: BTreeMap<String, Interval>,
    /// Held-out tasks each run was evaluated on (the same set for every run).
    pub heldout_tasks: usize,
}

/// The whole result, with what it was computed from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub id: String,
    pub model: String,
    pub random_weights: bool,
    pub repos: Vec<String>,
    pub pool: usize,
    pub heldout: Vec<String>,
    pub split_seed: u64,
    pub seeds: Vec<u64>,
    pub budget: usize,
    pub steps: usize,
    pub k: usize,
    /// The base model before any training (what the warm-up must beat to show learning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub untrained: Option<ArmSummary>,
    pub warmup: Option<ArmSummary>,
    pub arms: Vec<ArmSummary>,
    pub operator_weights: BTreeMap<String, f64>,
    pub reward_note: Option<String>,
    /// Marked-line formats: how often fault localisation ranks the line the fix replaces first
    /// (the ceiling of pass@1) and within the top k (of pass@k), from the warm-up's evaluation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub localisation: Option<String>,
    /// Which model and scale the figures come from, and what they may be taken to mean.
    pub note: String,
}

/// Summarize the finished runs of `exp` (arms in the experiment's order; the warm-up apart).
pub fn summarize(exp: &Experiment, runs: &[ArmRun]) -> Summary {
    let strata = &exp.strata;
    let arm_summary = |name: &str| -> Option<ArmSummary> {
        let mine: Vec<&ArmRun> = runs.iter().filter(|r| r.arm == name).collect();
        if mine.is_empty() {
            return None;
        }
        let grid = |f: &dyn Fn(&super::run::TaskOutcome) -> f64| -> Grid {
            mine.iter().map(|r| (r.seed, r.outcomes.iter().map(|(t, o)| (t.clone(), f(o))).collect())).collect()
        };
        let pass1 = grid(&|o| if o.resolved { 1.0 } else { 0.0 });
        let pass_k = grid(&|o| o.pass_at_k);
        let heldout = exp.split.as_ref().map(|s| s.heldout.clone()).unwrap_or_default();
        Some(ArmSummary {
            arm: name.to_string(),
            seeds: mine.iter().map(|r| r.seed).collect(),
            examples: mine.iter().map(|r| r.trained.examples).collect(),
            steps: mine.iter().map(|r| r.trained.steps).collect(),
            pass1: bootstrap(&pass1, Some(&heldout), BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED),
            pass_k: bootstrap(&pass_k, Some(&heldout), BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED),
            per_skill: per_stratum(&pass1, strata, BOOTSTRAP_SEED),
            heldout_tasks: heldout.len(),
        })
    };
    let arms: Vec<ArmSummary> = exp.arms.iter().filter_map(|a| arm_summary(a.name())).collect();
    let training = match exp.inputs.training.as_str() {
        "" => String::new(),
        t => format!(", training {t}"),
    };
    let generated = match exp.generated_used {
        0 => String::new(),
        n => format!("; the warm-up also trained on {n} generated (unvalidated) one-line-fix examples"),
    };
    let scale = format!(
        "model {}{}{training}; pool {} valid tasks from {} repositories, {} held out (split by site, seed {}){generated}; \
         {} examples and {} steps per arm, seeds {:?}, pass@{}",
        exp.inputs.model,
        if exp.random_weights { " (random weights: for tests only, the figures say nothing of learning)" } else { "" },
        exp.pool.len(),
        exp.inputs.repos.len(),
        exp.split.as_ref().map_or(0, |s| s.heldout.len()),
        exp.inputs.split_seed,
        exp.inputs.budget,
        exp.inputs.steps,
        exp.seeds,
        exp.inputs.k,
    );
    Summary {
        id: exp.id.clone(),
        model: exp.inputs.model.clone(),
        random_weights: exp.random_weights,
        repos: exp.inputs.repos.iter().map(|(p, h)| format!("{p}@{}", &h[..12.min(h.len())])).collect(),
        pool: exp.pool.len(),
        heldout: exp.split.as_ref().map(|s| s.heldout.clone()).unwrap_or_default(),
        split_seed: exp.inputs.split_seed,
        seeds: exp.seeds.clone(),
        budget: exp.inputs.budget,
        steps: exp.inputs.steps,
        k: exp.inputs.k,
        untrained: arm_summary(UNTRAINED),
        warmup: arm_summary(WARMUP),
        arms,
        operator_weights: exp.operator_weights.clone(),
        reward_note: exp.reward_note.clone(),
        localisation: runs.iter().find(|r| r.arm == WARMUP).and_then(|r| localisation(r, exp.inputs.k)),
        note: scale,
    }
}

fn cell(i: Option<&Interval>) -> String {
    i.map_or_else(|| "-".to_string(), |i| format!("{:.3} [{:.3}, {:.3}]", i.mean, i.lo, i.hi))
}

/// The fault localisation ceiling of a run's held-out tasks: how many have the fixed line
/// ranked first, and within the top `k`. `None` when no rank was recorded.
fn localisation(run: &ArmRun, k: usize) -> Option<String> {
    if !run.candidate_counts.is_empty() {
        return Some(candidate_ceiling(run, k));
    }
    if run.fix_ranks.is_empty() {
        return None;
    }
    let n = run.outcomes.len();
    let first = run.fix_ranks.values().filter(|&&r| r == 1).count();
    let top = run.fix_ranks.values().filter(|&&r| r <= k).count();
    Some(format!(
        "the line the fix replaces is ranked first by fault localisation for {first} of {n} held-out tasks \
         (the ceiling of pass@1), within the top {k} for {top} (of pass@{k})"
    ))
}

/// With candidate decoding: how often the fix is among the candidate repairs (what bounds every
/// pass@k), where the run's Solver ranks it, and what a uniform pick among the candidates would
/// resolve in expectation (pass@1 by chance, the figure a learning Solver must beat).
fn candidate_ceiling(run: &ArmRun, k: usize) -> String {
    let n = run.outcomes.len();
    let among = run.fix_ranks.len();
    let first = run.fix_ranks.values().filter(|&&r| r == 1).count();
    let top = run.fix_ranks.values().filter(|&&r| r <= k).count();
    let chance: f64 =
        run.fix_ranks.keys().filter_map(|t| run.candidate_counts.get(t)).map(|&c| 1.0 / c.max(1) as f64).sum::<f64>()
            / n.max(1) as f64;
    let mean = run.candidate_counts.values().sum::<usize>() as f64 / run.candidate_counts.len() as f64;
    format!(
        "candidate decoding: the fix is among the candidate repairs for {among} of {n} held-out tasks (the ceiling \
         of every pass@k; {mean:.1} candidates per task on average); this Solver ranks it first for {first}, within \
         the top {k} for {top}; a uniform pick among the candidates resolves {chance:.3} in expectation (pass@1 by chance)"
    )
}

/// The table: arm × (pass@1 mean [95% interval], pass@k), then pass@1 per skill, then the note.
pub fn table(s: &Summary) -> String {
    let mut out = format!("experiment {} ({} held-out tasks)\n", s.id, s.heldout.len());
    let k = format!("pass@{}", s.k);
    out.push_str(&format!("{:<16} {:>6} {:>26} {:>26}\n", "arm", "seeds", "pass@1 [95% CI]", k));
    for a in s.untrained.iter().chain(&s.warmup).chain(&s.arms) {
        out.push_str(&format!(
            "{:<16} {:>6} {:>26} {:>26}\n",
            a.arm,
            a.seeds.len(),
            cell(a.pass1.as_ref()),
            cell(a.pass_k.as_ref())
        ));
    }
    let skills: Vec<&String> = {
        let mut v: Vec<&String> = s.arms.iter().flat_map(|a| a.per_skill.keys()).collect();
        v.sort();
        v.dedup();
        v
    };
    if !skills.is_empty() {
        out.push_str("\npass@1 per skill (held-out tasks)\n");
        out.push_str(&format!("{:<34}", "skill"));
        for a in &s.arms {
            out.push_str(&format!(" {:>26}", a.arm));
        }
        out.push('\n');
        for skill in skills {
            let tasks = s.arms.iter().find_map(|a| a.per_skill.get(skill)).map_or(0, |i| i.tasks);
            out.push_str(&format!("{:<34}", format!("{skill} ({tasks})")));
            for a in &s.arms {
                out.push_str(&format!(" {:>26}", cell(a.per_skill.get(skill))));
            }
            out.push('\n');
        }
    }
    if let Some(n) = &s.reward_note {
        out.push_str(&format!("\nreward: {n}\n"));
    }
    if let Some(l) = &s.localisation {
        out.push_str(&format!("\nlocalisation: {l}\n"));
    }
    out.push_str(&format!("\n{}\n", s.note));
    out
}

#[cfg(test)]
mod tests {
    use super::super::run::{tests::experiment, TaskOutcome, Trained};
    use super::*;

    fn run(arm: &str, seed: u64, resolved: &[bool]) -> ArmRun {
        ArmRun {
            arm: arm.into(),
            seed,
            train_ids: vec!["t-a".into(); 2],
            trained: Trained { adapter_hash: "h".into(), examples: 2, steps: 4, final_loss: None, seconds: 0.0 },
            outcomes: resolved
                .iter()
                .enumerate()
                .map(|(i, r)| (format!("t-h{i}"), TaskOutcome { resolved: *r, pass_at_k: if *r { 1.0 } else { 0.5 } }))
                .collect(),
            eval_seconds: 0.0,
            fix_ranks: BTreeMap::new(),
            candidate_counts: BTreeMap::new(),
        }
    }

    #[test]
    fn arms_are_summarized_with_intervals_per_skill_and_labelled_when_random() {
        let exp = experiment();
        let runs = vec![
            run(UNTRAINED, 0, &[false, false, false, false]),
            run(WARMUP, 0, &[false, false, true, false]),
            run("targeted", 0, &[true, false, true, false]),
            run("targeted", 1, &[true, true, true, false]),
            run("untargeted", 0, &[false, false, true, false]),
        ];
        let s = summarize(&exp, &runs);
        assert_eq!(s.arms.iter().map(|a| a.arm.as_str()).collect::<Vec<_>>(), vec!["untargeted", "targeted"]);
        let t = &s.arms[1];
        let p = t.pass1.unwrap();
        assert_eq!((p.mean, p.seeds, p.tasks), (5.0 / 8.0, 2, 4));
        assert!(p.lo <= p.mean && p.mean <= p.hi);
        assert_eq!(t.pass_k.unwrap().mean, (5.0 + 1.5) / 8.0);
        assert_eq!(t.per_skill["swapping"].tasks, 2);
        assert_eq!(s.warmup.as_ref().unwrap().pass1.unwrap().mean, 0.25);
        assert_eq!(s.untrained.as_ref().unwrap().pass1.unwrap().mean, 0.0);
        let text = table(&s);
        for part in
            ["targeted", "0.625 [", "pass@1 per skill", "swapping (2)", "random weights", "warm-up", "untrained"]
        {
            assert!(text.contains(part), "{part:?} missing from:\n{text}");
        }
    }
    #[test]
    fn the_warm_ups_localisation_ceiling_counts_ranks_first_and_within_k() {
        let exp = experiment();
        assert_eq!(summarize(&exp, &[run(WARMUP, 0, &[false; 4])]).localisation, None, "no rank recorded");
        let mut warm = run(WARMUP, 0, &[false; 4]);
        warm.fix_ranks = [("t-h0", 1), ("t-h1", 3), ("t-h2", 2)].into_iter().map(|(t, r)| (t.to_string(), r)).collect();
        let s = summarize(&exp, &[warm]);
        let want = format!(
            "ranked first by fault localisation for 1 of 4 held-out tasks (the ceiling of pass@1), within the top {k} for {}",
            if exp.inputs.k >= 3 { 3 } else if exp.inputs.k == 2 { 2 } else { 1 },
            k = exp.inputs.k
        );
        assert!(s.localisation.as_deref().is_some_and(|l| l.contains(&want)), "{:?}", s.localisation);
        assert!(table(&s).contains("localisation: the line the fix replaces"), "{}", table(&s));
    }

    #[test]
    fn candidate_decoding_reports_the_ceiling_and_a_uniform_picks_chance() {
        let exp = experiment();
        let mut warm = run(WARMUP, 0, &[false; 4]);
        // The fix is among 4 candidates (ranked 1st) and among 10 (ranked 3rd); the third task's
        // 5 candidates miss it, the fourth task has none.
        warm.fix_ranks = [("t-h0", 1), ("t-h1", 3)].into_iter().map(|(t, r)| (t.to_string(), r)).collect();
        warm.candidate_counts =
            [("t-h0", 4), ("t-h1", 10), ("t-h2", 5)].into_iter().map(|(t, n)| (t.to_string(), n)).collect();
        let line = summarize(&exp, &[warm]).localisation.unwrap();
        let chance = (1.0 / 4.0 + 1.0 / 10.0) / 4.0;
        for part in [
            "among the candidate repairs for 2 of 4".to_string(),
            "6.3 candidates per task".to_string(),
            "ranks it first for 1,".to_string(),
            format!("resolves {chance:.3} in expectation"),
        ] {
            assert!(line.contains(&part), "{part:?} missing from {line}");
        }
    }
}
