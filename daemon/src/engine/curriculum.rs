//! The curriculum: the tasks a round kept, with the user's decisions applied. A rejected task
//! leaves the curriculum (and is never kept again); an accepted task joins it even when the
//! ranking did not keep it. Decisions are a task's `decision` (`accepted` / `rejected`), written
//! by `socratic curriculum accept|reject` or from an editor; a stale anchor does not change
//! membership.
//!
//! In: stored rounds and tasks. Out: `CurriculumEntry`s in curriculum order (kept tasks by rank,
//! then accepted extras oldest first). [`curriculum`] is pure; [`load`] reads just the tasks it
//! needs from the store (the kept ones and the accepted ones).

use crate::model::{Decision, Round, RoundStep, Task};
use crate::store::{Store, TaskQuery};
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
        .filter(|(_, t)| t.decision != Decision::Rejected)
        .map(|(i, t)| CurriculumEntry {
            task: t.clone(),
            membership: if t.decision == Decision::Accepted { Membership::Accepted } else { Membership::Kept },
            rank: Some(i + 1),
        })
        .collect();
    for t in tasks {
        let in_scope = t.round.is_none_or(|r| r <= round.number);
        if t.decision == Decision::Accepted && in_scope && !out.iter().any(|e| e.task.id == t.id) {
            out.push(CurriculumEntry { task: t.clone(), membership: Membership::Accepted, rank: None });
        }
    }
    out
}

/// The curriculum of `round` read from the store: its kept tasks and the accepted ones.
pub fn load(store: &Store, round: &Round) -> crate::store::Result<Vec<CurriculumEntry>> {
    let mut tasks = store.tasks_by_id(&round.kept)?;
    let accepted = store.tasks_where(&TaskQuery { decision: Some(Decision::Accepted), ..Default::default() })?;
    tasks.extend(accepted.into_iter().filter(|t| !round.kept.contains(&t.id)));
    Ok(curriculum(round, &tasks))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A scored task of `round` with the user's `decision`.
    pub(crate) fn task(id: &str, round: u32, decision: Decision) -> Task {
        let mut t = crate::model::test_support::task(id, "flip_comparison", crate::model::TaskStage::Scored);
        t.round = Some(round);
        t.decision = decision;
        t
    }

    fn round(number: u32, kept: &[&str]) -> Round {
        crate::model::test_support::round(number, kept)
    }

    #[test]
    fn decisions_override_the_ranking() {
        let tasks = vec![
            task("t-a", 1, Decision::None),
            task("t-b", 1, Decision::Rejected),
            task("t-c", 1, Decision::Accepted),
            task("t-d", 2, Decision::Accepted),
        ];
        let r1 = round(1, &["t-b", "t-a"]);
        let got = curriculum(&r1, &tasks);
        let ids: Vec<_> = got.iter().map(|e| (e.task.id.as_str(), e.membership, e.rank)).collect();
        assert_eq!(ids, vec![("t-a", Membership::Kept, Some(2)), ("t-c", Membership::Accepted, None)]);
    }

    #[test]
    fn a_stale_anchor_keeps_decisions_and_membership() {
        let mut accepted = task("t-c", 1, Decision::Accepted);
        accepted.anchor = crate::model::AnchorState::Stale;
        let mut kept = task("t-a", 1, Decision::None);
        kept.anchor = crate::model::AnchorState::Stale;
        let got = curriculum(&round(1, &["t-a"]), &[kept, accepted]);
        let ids: Vec<_> = got.iter().map(|e| (e.task.id.as_str(), e.membership)).collect();
        assert_eq!(ids, vec![("t-a", Membership::Kept), ("t-c", Membership::Accepted)]);
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
