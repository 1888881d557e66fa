//! Targeting: how much of the next task budget each operator gets, from the skills.
//!
//! In: the stored [`Skill`]s and the valid, not rejected tasks counted by (operator, skill)
//! ([`coverage_of`] for a task list; the store counts them with one query). Out: per-skill
//! weights, (failure rate) × 1 / (1 + valid tasks that already exercise the skill), and
//! per-operator weights (each skill's weight split evenly over its operators), for
//! `tasks::GenerateConfig::operator_weights`. Pure.

use crate::model::{Skill, Task};
use serde::Serialize;
use std::collections::BTreeMap;

/// One skill's share.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SkillWeight {
    pub skill: String,
    pub failure_rate: f64,
    /// Valid or accepted tasks already exercising it.
    pub covered_by: usize,
    pub weight: f64,
}

/// Valid, not rejected tasks counted by (operator, skill).
pub type Coverage = [(String, Option<String>, usize)];

/// [`Coverage`] of a list of tasks.
pub fn coverage_of(tasks: &[Task]) -> Vec<(String, Option<String>, usize)> {
    let mut counts: BTreeMap<(String, Option<String>), usize> = BTreeMap::new();
    for t in tasks.iter().filter(|t| t.is_usable()) {
        *counts.entry((t.operator.clone(), t.skill.clone())).or_default() += 1;
    }
    counts.into_iter().map(|((op, skill), n)| (op, skill, n)).collect()
}

/// How many counted tasks exercise the skill (named for it, or made by one of its operators).
fn covered_by(coverage: &Coverage, skill: &Skill) -> usize {
    coverage
        .iter()
        .filter(|(op, named, _)| named.as_deref() == Some(skill.name.as_str()) || skill.operators.contains(op))
        .map(|(_, _, n)| n)
        .sum()
}

/// Weight of every skill that has operators, by name.
pub fn skill_weights(skills: &[Skill], coverage: &Coverage) -> Vec<SkillWeight> {
    let mut out: Vec<SkillWeight> = skills
        .iter()
        .filter(|s| !s.operators.is_empty())
        .map(|s| {
            let covered_by = covered_by(coverage, s);
            let rate = if s.stats.failure_rate.is_finite() { s.stats.failure_rate.clamp(0.0, 1.0) } else { 0.0 };
            SkillWeight {
                skill: s.name.clone(),
                failure_rate: rate,
                covered_by,
                weight: rate / (1.0 + covered_by as f64),
            }
        })
        .collect();
    out.sort_by(|a, b| a.skill.cmp(&b.skill));
    out
}

/// Operator weights: each skill's weight spread evenly over its operators, summed. Operators
/// with weight 0 are left out; an empty map means nothing to target.
pub fn operator_weights(skills: &[Skill], coverage: &Coverage) -> BTreeMap<String, f64> {
    let by_name: BTreeMap<&str, &Skill> = skills.iter().map(|s| (s.name.as_str(), s)).collect();
    let mut out: BTreeMap<String, f64> = BTreeMap::new();
    for w in skill_weights(skills, coverage) {
        let Some(s) = by_name.get(w.skill.as_str()) else { continue };
        let share = w.weight / s.operators.len() as f64;
        for op in &s.operators {
            *out.entry(op.clone()).or_default() += share;
        }
    }
    out.retain(|_, w| *w > 0.0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Decision, SkillKind, SkillStats, TaskStage};

    fn skill(name: &str, ops: &[&str], rate: f64) -> Skill {
        Skill {
            name: name.into(),
            kind: SkillKind::RepairPattern,
            description: "d".into(),
            applicability: vec![],
            operations: vec![],
            anchor: ops.first().map(|s| s.to_string()).unwrap_or_default(),
            operators: ops.iter().map(|s| s.to_string()).collect(),
            evidence: vec![],
            stats: SkillStats { traces: 10, failures: (rate * 10.0) as usize, failure_rate: rate },
            version: 1,
        }
    }

    fn check(skills: &[Skill], tasks: &[Task], expect: &[(&str, f64)]) {
        let got = operator_weights(skills, &coverage_of(tasks));
        assert_eq!(got.len(), expect.len(), "{got:?}");
        for (op, w) in expect {
            let g = got.get(*op).copied().unwrap_or(-1.0);
            assert!((g - w).abs() < 1e-9, "{op}: {g} != {w}");
        }
    }

    fn task(op: &str, stage: TaskStage) -> Task {
        crate::model::test_support::task(&format!("t-{op}"), op, stage)
    }

    #[test]
    fn failure_rate_times_uncovered() {
        let skills = [
            skill("a", &["flip_comparison", "change_operator"], 0.8),
            skill("b", &["remove_none_guard"], 0.1),
            skill("c", &[], 1.0),
            skill("d", &["off_by_one"], 0.0),
        ];
        check(&skills, &[], &[("flip_comparison", 0.4), ("change_operator", 0.4), ("remove_none_guard", 0.1)]);
        // One valid task of flip_comparison halves skill a; candidates and invalid ones do not count.
        let tasks = [
            task("flip_comparison", TaskStage::Valid),
            task("change_operator", TaskStage::Candidate),
            task("remove_none_guard", TaskStage::Invalid("x".into())),
        ];
        check(&skills, &tasks, &[("flip_comparison", 0.2), ("change_operator", 0.2), ("remove_none_guard", 0.1)]);
        assert_eq!(skill_weights(&skills, &coverage_of(&tasks))[0].covered_by, 1);
        // A rejected task does not cover its skill; an accepted one does, once.
        let mut rejected = task("remove_none_guard", TaskStage::Scored);
        rejected.decision = Decision::Rejected;
        let mut accepted = task("change_operator", TaskStage::Scored);
        accepted.decision = Decision::Accepted;
        let tasks = [task("flip_comparison", TaskStage::Valid), rejected, accepted];
        check(
            &skills,
            &tasks,
            &[("flip_comparison", 4.0 / 30.0), ("change_operator", 4.0 / 30.0), ("remove_none_guard", 0.1)],
        );
    }
}
