//! The curriculum: the tasks a round kept, with the user's decisions applied. A rejected task
//! leaves the curriculum (and is never kept again); an accepted task joins it even when the
//! ranking did not keep it. Decisions are task statuses (`accepted` / `rejected`), written by
//! `socratic curriculum accept|reject` or from an editor.
//!
//! In: stored rounds and tasks. Out: `CurriculumEntry`s in curriculum order (kept tasks by rank,
//! then accepted extras oldest first). Pure.

use crate::model::{Round, RoundStep, Task, TaskStatus};
use serde::Serialize;

/// Why a task is in the curriculum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Membership {
    /// The round's ranking kept it (and nobody rejected it).
    Kept,
    /// A user accepted it.
    Accepted,
}

#[derive(Debug, Clone, Serialize)]
pub struct CurriculumEntry {
    pub task: Task,
    pub membership: Membership,
    /// 1-based rank in the round's ranking, when the ranking kept it.
    pub rank: Option<usize>,
}

/// The round a curriculum is read from: the one asked for, else the latest finished one.
pub fn pick_round(rounds: &[Round], number: Option<u32>) -> Option<&Round> {
    match number {
        Some(n) => rounds.iter().find(|r| r.number == n),
        None => rounds.iter().filter(|r| r.step == RoundStep::Done).max_by_key(|r| r.number),
    }
}

/// The curriculum of `round`: its kept tasks minus rejected ones, plus every accepted task
/// generated in this round or before.
pub fn curriculum(round: &Round, tasks: &[Task]) -> Vec<CurriculumEntry> {
    let by_id = |id: &str| tasks.iter().find(|t| t.id == id);
    let mut out: Vec<CurriculumEntry> = round
        .kept
        .iter()
        .enumerate()
        .filter_map(|(i, id)| by_id(id).map(|t| (i, t)))
        .filter(|(_, t)| t.status != TaskStatus::Rejected)
        .map(|(i, t)| CurriculumEntry {
            task: t.clone(),
            membership: if t.status == TaskStatus::Accepted { Membership::Accepted } else { Membership::Kept },
            rank: Some(i + 1),
        })
        .collect();
    for t in tasks {
        let in_scope = t.round.is_none_or(|r| r <= round.number);
        if t.status == TaskStatus::Accepted && in_scope && !out.iter().any(|e| e.task.id == t.id) {
            out.push(CurriculumEntry { task: t.clone(), membership: Membership::Accepted, rank: None });
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn task(id: &str, round: u32, status: TaskStatus) -> Task {
        let mut t = crate::model::test_support::task(id, "flip_comparison", status);
        t.round = Some(round);
        t
    }

    fn round(number: u32, kept: &[&str]) -> Round {
        crate::model::test_support::round(number, kept)
    }

    #[test]
    fn decisions_override_the_ranking() {
        let tasks = vec![
            task("t-a", 1, TaskStatus::Scored),
            task("t-b", 1, TaskStatus::Rejected),
            task("t-c", 1, TaskStatus::Accepted),
            task("t-d", 2, TaskStatus::Accepted),
        ];
        let r1 = round(1, &["t-b", "t-a"]);
        let got = curriculum(&r1, &tasks);
        let ids: Vec<_> = got.iter().map(|e| (e.task.id.as_str(), e.membership, e.rank)).collect();
        assert_eq!(ids, vec![("t-a", Membership::Kept, Some(2)), ("t-c", Membership::Accepted, None)]);
    }

    #[test]
    fn picks_the_latest_finished_round() {
        let mut r3 = round(3, &[]);
        r3.step = RoundStep::Validate;
        let rounds = vec![round(1, &[]), round(2, &[]), r3];
        assert_eq!(pick_round(&rounds, None).unwrap().number, 2);
        assert_eq!(pick_round(&rounds, Some(3)).unwrap().number, 3);
        assert!(pick_round(&rounds, Some(9)).is_none());
        assert!(pick_round(&[], None).is_none());
    }
}
