//! Targeting: how much of the next task budget each operator gets, from the skills.
//!
//! In: the stored [`Skill`]s and the stored [`Task`]s (the curriculum). Out: per-skill weights,
//! (failure rate) × 1 / (1 + tasks with status valid or accepted that already exercise the
//! skill; scored counts as valid), and per-operator weights (each skill's weight split evenly over its operators), for
//! `tasks::GenerateConfig::operator_weights`. Pure.

use crate::model::{Skill, Task, TaskStatus};
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

/// Does this kept task exercise the skill (named for it, or made by one of its operators)?
fn exercises(task: &Task, skill: &Skill) -> bool {
    matches!(task.status, TaskStatus::Valid | TaskStatus::Scored | TaskStatus::Accepted)
        && (task.skill.as_deref() == Some(skill.name.as_str()) || skill.operators.contains(&task.operator))
}

/// Weight of every skill that has operators, by name.
pub fn skill_weights(skills: &[Skill], tasks: &[Task]) -> Vec<SkillWeight> {
    let mut out: Vec<SkillWeight> = skills
        .iter()
        .filter(|s| !s.operators.is_empty())
        .map(|s| {
            let covered_by = tasks.iter().filter(|t| exercises(t, s)).count();
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
pub fn operator_weights(skills: &[Skill], tasks: &[Task]) -> BTreeMap<String, f64> {
    let by_name: BTreeMap<&str, &Skill> = skills.iter().map(|s| (s.name.as_str(), s)).collect();
    let mut out: BTreeMap<String, f64> = BTreeMap::new();
    for w in skill_weights(skills, tasks) {
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
    use crate::model::{SkillKind, SkillStats};

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
        let got = operator_weights(skills, tasks);
        assert_eq!(got.len(), expect.len(), "{got:?}");
        for (op, w) in expect {
            let g = got.get(*op).copied().unwrap_or(-1.0);
            assert!((g - w).abs() < 1e-9, "{op}: {g} != {w}");
        }
    }

    fn task(op: &str, status: TaskStatus) -> Task {
        crate::model::test_support::task(&format!("t-{op}"), op, status)
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
            task("flip_comparison", TaskStatus::Valid),
            task("change_operator", TaskStatus::Candidate),
            task("remove_none_guard", TaskStatus::Invalid("x".into())),
        ];
        check(&skills, &tasks, &[("flip_comparison", 0.2), ("change_operator", 0.2), ("remove_none_guard", 0.1)]);
        assert_eq!(skill_weights(&skills, &tasks)[0].covered_by, 1);
    }
}
