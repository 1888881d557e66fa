//! The arms of the experiment and how each picks its training set at an equal budget.
//!
//! In: the training pool (valid tasks, none at a held-out site), per-operator targeting weights
//! (from the distilled skills), per-skill weights, rewards, a budget and a seed. Out: exactly
//! `budget` task ids per arm. `untargeted` draws operators uniformly; `targeted` draws them by
//! the targeting weights; `targeted+reward` draws a larger targeted set (`factor × budget`) and
//! keeps the top by reward as a round does ([`crate::engine::round::select`], topped up by reward
//! when the skill cap leaves it short); `random-reward` keeps a seeded random subset of the same
//! larger targeted set. Pure.

use crate::engine::round::{select, Ranked};
use crate::model::Task;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One arm of the experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Arm {
    #[serde(rename = "untargeted")]
    Untargeted,
    #[serde(rename = "targeted")]
    Targeted,
    #[serde(rename = "targeted+reward")]
    TargetedReward,
    #[serde(rename = "random-reward")]
    RandomReward,
}

impl Arm {
    pub const ALL: [Arm; 4] = [Arm::Untargeted, Arm::Targeted, Arm::TargetedReward, Arm::RandomReward];

    pub fn name(self) -> &'static str {
        match self {
            Arm::Untargeted => "untargeted",
            Arm::Targeted => "targeted",
            Arm::TargetedReward => "targeted+reward",
            Arm::RandomReward => "random-reward",
        }
    }

    pub fn parse(s: &str) -> anyhow::Result<Arm> {
        Arm::ALL.into_iter().find(|a| a.name() == s.trim()).ok_or_else(|| {
            let known: Vec<&str> = Arm::ALL.iter().map(|a| a.name()).collect();
            anyhow::anyhow!("unknown arm '{s}'; known: {}", known.join(", "))
        })
    }

    /// Arms from a comma-separated list, in the order given, each once.
    pub fn parse_list(list: &str) -> anyhow::Result<Vec<Arm>> {
        let mut out = Vec::new();
        for part in list.split(',').filter(|p| !p.trim().is_empty()) {
            let arm = Arm::parse(part)?;
            if !out.contains(&arm) {
                out.push(arm);
            }
        }
        if out.is_empty() {
            anyhow::bail!("--arms names no arm; known: untargeted, targeted, targeted+reward, random-reward");
        }
        Ok(out)
    }
}

/// What the arms choose from.
#[derive(Debug, Clone, Default)]
pub struct ArmInputs<'a> {
    /// The training pool.
    pub pool: Vec<&'a Task>,
    /// Targeting weight per operator (the distilled skills'); empty when no skill weighs anything.
    pub operator_weights: BTreeMap<String, f64>,
    /// Targeting weight per skill (ties of equal reward are broken by it, as in a round).
    pub skill_weights: BTreeMap<String, f64>,
    /// Reward per task id (absent = 0).
    pub rewards: BTreeMap<String, f64>,
    /// The reward arms draw `factor × budget` targeted tasks before keeping `budget`.
    pub factor: usize,
    /// A round's largest share of kept tasks per skill.
    pub max_skill_share: f64,
}

/// The training set of `arm`: exactly `budget` ids, or an error when the pool is too small.
pub fn select_arm(arm: Arm, inputs: &ArmInputs, budget: usize, seed: u64) -> anyhow::Result<Vec<String>> {
    if inputs.pool.len() < budget {
        anyhow::bail!(
            "the training pool has {} tasks, fewer than the budget {budget}; lower --budget or give more repositories",
            inputs.pool.len()
        );
    }
    let uniform: BTreeMap<String, f64> = inputs.pool.iter().map(|t| (t.operator.clone(), 1.0)).collect();
    let targeting = if inputs.operator_weights.is_empty() { &uniform } else { &inputs.operator_weights };
    let wide = (budget * inputs.factor.max(1)).min(inputs.pool.len());
    let ids = match arm {
        Arm::Untargeted => draw(&inputs.pool, &uniform, budget, seed),
        Arm::Targeted => draw(&inputs.pool, targeting, budget, seed),
        Arm::TargetedReward => {
            let drawn = draw(&inputs.pool, targeting, wide, seed);
            top_by_reward(inputs, &drawn, budget)
        }
        Arm::RandomReward => {
            let mut drawn = draw(&inputs.pool, targeting, wide, seed);
            drawn.shuffle(&mut ChaCha8Rng::seed_from_u64(seed ^ 0x5eed));
            drawn.truncate(budget);
            drawn
        }
    };
    debug_assert_eq!(ids.len(), budget);
    Ok(ids)
}

/// `n` ids drawn by operator weight: the budget spread over the weighted operators
/// (`tasks::spread_budget`), each operator's tasks in a seeded order; what an operator cannot
/// fill is spread again over the weighted operators that still have tasks, then taken from the
/// rest of the pool. Sorted.
pub fn draw(pool: &[&Task], weights: &BTreeMap<String, f64>, n: usize, seed: u64) -> Vec<String> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut by_op: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for t in pool {
        by_op.entry(t.operator.as_str()).or_default().push(t.id.as_str());
    }
    for ids in by_op.values_mut() {
        ids.sort();
        ids.shuffle(&mut rng);
    }
    let mut out: Vec<String> = Vec::new();
    loop {
        let short = n - out.len();
        let open: BTreeMap<String, f64> = weights
            .iter()
            .filter(|(op, w)| **w > 0.0 && by_op.get(op.as_str()).is_some_and(|ids| !ids.is_empty()))
            .map(|(op, w)| (op.clone(), *w))
            .collect();
        if short == 0 || open.is_empty() {
            break;
        }
        for (op, quota) in crate::tasks::spread_budget(short, &open, seed) {
            let ids = by_op.get_mut(op.as_str()).expect("open operators have tasks");
            let take = quota.min(ids.len());
            out.extend(ids.drain(..take).map(str::to_string));
        }
    }
    let mut rest: Vec<&str> = by_op.into_values().flatten().collect();
    rest.sort();
    rest.shuffle(&mut rng);
    let short = n - out.len();
    out.extend(rest.into_iter().take(short).map(str::to_string));
    out.sort();
    out
}

/// The `budget` best of `drawn` by reward as a round keeps them (skill cap, ties by skill weight
/// then id), topped up by reward alone when the cap leaves it short. Sorted.
fn top_by_reward(inputs: &ArmInputs, drawn: &[String], budget: usize) -> Vec<String> {
    let by_id: BTreeMap<&str, &Task> = inputs.pool.iter().map(|t| (t.id.as_str(), *t)).collect();
    let mut ranked: Vec<Ranked> = drawn
        .iter()
        .filter_map(|id| by_id.get(id.as_str()))
        .map(|t| Ranked {
            task: (*t).clone(),
            reward: inputs.rewards.get(&t.id).copied().unwrap_or(0.0),
            skill_weight: t.skill.as_ref().and_then(|s| inputs.skill_weights.get(s)).copied().unwrap_or(0.0),
        })
        .collect();
    for r in &mut ranked {
        r.task.decision = crate::model::Decision::None;
    }
    let mut kept = select(&ranked, budget, inputs.max_skill_share);
    kept.truncate(budget);
    if kept.len() < budget {
        ranked.sort_by(|a, b| b.reward.total_cmp(&a.reward).then(a.task.id.cmp(&b.task.id)));
        for r in &ranked {
            if kept.len() == budget {
                break;
            }
            if !kept.contains(&r.task.id) {
                kept.push(r.task.id.clone());
            }
        }
    }
    kept.sort();
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::split::tests::pool_task;

    fn pool() -> Vec<Task> {
        let mut out = Vec::new();
        for i in 0..30 {
            let op = ["flip", "swap", "drop"][i % 3];
            let mut t = pool_task(&format!("t-{i:02}"), op, "m.py", &format!("f{i}"));
            t.skill = (op == "swap").then(|| "swapping".to_string());
            out.push(t);
        }
        out
    }

    fn inputs(pool: &[Task]) -> ArmInputs<'_> {
        ArmInputs {
            pool: pool.iter().collect(),
            operator_weights: BTreeMap::from([("swap".to_string(), 0.9), ("flip".to_string(), 0.1)]),
            skill_weights: BTreeMap::from([("swapping".to_string(), 0.9)]),
            rewards: pool.iter().map(|t| (t.id.clone(), t.id[2..].parse::<f64>().unwrap())).collect(),
            factor: 2,
            max_skill_share: 1.0,
        }
    }

    fn ops<'a>(pool: &'a [Task], ids: &[String]) -> BTreeMap<&'a str, usize> {
        let mut out = BTreeMap::new();
        for t in pool.iter().filter(|t| ids.contains(&t.id)) {
            *out.entry(t.operator.as_str()).or_default() += 1;
        }
        out
    }

    #[test]
    fn every_arm_gets_exactly_the_budget_of_distinct_pool_tasks() {
        let pool = pool();
        let inputs = inputs(&pool);
        for arm in Arm::ALL {
            for budget in [1, 6, 10, 30] {
                let ids = select_arm(arm, &inputs, budget, 3).unwrap();
                let distinct: std::collections::BTreeSet<&String> = ids.iter().collect();
                assert_eq!((ids.len(), distinct.len()), (budget, budget), "{arm:?} {budget}");
                assert!(ids.iter().all(|id| pool.iter().any(|t| &t.id == id)));
            }
        }
        let err = select_arm(Arm::Targeted, &inputs, 31, 3).unwrap_err().to_string();
        assert!(err.contains("30 tasks") && err.contains("31"), "{err}");
    }

    #[test]
    fn untargeted_is_uniform_targeted_follows_the_weights() {
        let pool = pool();
        let inputs = inputs(&pool);
        let un = ops(&pool, &select_arm(Arm::Untargeted, &inputs, 9, 1).unwrap());
        assert_eq!(un.values().copied().collect::<Vec<_>>(), vec![3, 3, 3]);
        let tg = ops(&pool, &select_arm(Arm::Targeted, &inputs, 10, 1).unwrap());
        assert_eq!((tg.get("swap"), tg.get("flip"), tg.get("drop")), (Some(&9), Some(&1), None), "{tg:?}");
        // An operator that runs out gives its share to the other weighted ones, then to the rest.
        let tg = ops(&pool, &select_arm(Arm::Targeted, &inputs, 25, 1).unwrap());
        assert_eq!((tg["swap"], tg["flip"], tg["drop"]), (10, 10, 5), "{tg:?}");
    }

    #[test]
    fn the_reward_arms_share_the_wide_draw_one_keeps_the_top_the_other_a_random_subset() {
        let pool = pool();
        let inputs = inputs(&pool);
        let wide = draw(&inputs.pool, &inputs.operator_weights, 12, 4);
        let top = select_arm(Arm::TargetedReward, &inputs, 6, 4).unwrap();
        let random = select_arm(Arm::RandomReward, &inputs, 6, 4).unwrap();
        assert!(top.iter().chain(&random).all(|id| wide.contains(id)), "{wide:?} {top:?} {random:?}");
        let mut by_reward = wide.clone();
        by_reward.sort_by(|a, b| b.cmp(a));
        let mut best: Vec<String> = by_reward[..6].to_vec();
        best.sort();
        assert_eq!(top, best);
        assert_ne!(random, top);
        // Seeded.
        assert_eq!(random, select_arm(Arm::RandomReward, &inputs, 6, 4).unwrap());
    }

    #[test]
    fn arms_parse_by_name_and_refuse_unknown_ones() {
        assert_eq!(
            Arm::parse_list("targeted+reward, untargeted,untargeted").unwrap(),
            vec![Arm::TargetedReward, Arm::Untargeted]
        );
        let err = Arm::parse_list("targeted,best").unwrap_err().to_string();
        assert!(err.contains("'best'") && err.contains("random-reward"), "{err}");
        assert!(Arm::parse_list(" , ").is_err());
        assert_eq!(serde_json::to_string(&Arm::TargetedReward).unwrap(), "\"targeted+reward\"");
    }
}
