//! The report: one self-contained HTML page showing how the loop is doing, round after round.
//!
//! In: the store (rounds, tasks, verdicts, scores, Solver results, trace and skill counts).
//! Out: a [`ReportData`] (plain figures, gathered here) and, from it, the page
//! ([`html::render`], pure: data in, `String` out) with inline SVG plots drawn by [`svg`]:
//! candidates / valid / kept per round, yield by operator and by skill, the reward
//! distribution, the Solver's resolve rate by skill across rounds (per solver), and the time
//! spent per stage per round. No script, no external font, no network: the page carries a
//! Content-Security-Policy that forbids loading anything.
//!
//! Each round also carries its curriculum as a task browser: the kept tasks (best first) with
//! their skill, operator, reward, verdict, decision, every Solver's outcome, problem statement,
//! bug diff and tests; the rejections of its candidates per validation stage; per solver, the
//! resolve rate on it as `k/n` with a 95% Wilson interval; and whether its rewards align with a
//! reference set (the per-round reward histogram is drawn only then). [`ReportData`] serialises
//! as the JSON of `socratic report --json` (see README.md for its shape).
//!
//! Definitions: a task's *yield* is valid ÷ validated (tasks with a verdict); *kept* means kept
//! by any round; a task's reward is its latest stored score; a Solver result counts as resolved
//! when its graded outcome is `resolved`, and its skill is its task's (`(untargeted)` when the
//! task has none). Training runs (`socratic train`) are listed oldest first with their loss
//! per optimizer step.

pub mod experiment;
pub mod html;
pub mod svg;

use crate::model::{Outcome, Round, Score, SolveResult, Task, Verdict};
use crate::store::{Store, StoreError};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

/// The label of tasks generated without a skill.
pub const UNTARGETED: &str = "(untargeted)";

/// Everything the page shows.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReportData {
    /// Rounds, first first.
    pub rounds: Vec<RoundRow>,
    /// Per operator, by name.
    pub by_operator: Vec<YieldRow>,
    /// Per skill, by name (`(untargeted)` for tasks without one).
    pub by_skill: Vec<YieldRow>,
    /// One per scored task with a reward.
    pub rewards: Vec<RewardPoint>,
    /// Scored tasks whose latest score carries no reward, by why (`NoReward::as_str`).
    pub no_reward: BTreeMap<String, usize>,
    /// Per (solver, skill, round), sorted so.
    pub solve: Vec<SolveRow>,
    pub traces: usize,
    pub skills: usize,
    pub tasks: usize,
    /// Evolve runs (`socratic evolve`), first first, each with one line per round.
    pub evolve: Vec<EvolveRow>,
    /// Training runs, oldest first.
    pub training: Vec<TrainingRow>,
    /// Stored efficacy experiments, oldest first.
    pub experiments: Vec<crate::experiment::summary::Summary>,
}

/// One evolve run: per round, the Solver's adapter, its resolve rates on the round's
/// curriculum and on the held-out set, and the training loss.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvolveRow {
    pub id: i64,
    pub repo: String,
    pub state: String,
    pub solver: String,
    pub held_out: usize,
    /// The model has random weights: none of its figures is a signal.
    pub random_weights: bool,
    pub lines: Vec<crate::store::EvolveLine>,
}

/// One training run as the report shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainingRow {
    /// 1-based, in the order the runs finished.
    pub number: usize,
    pub method: String,
    pub source: String,
    pub device: String,
    /// The first 12 hex digits of the adapter's and the base model's hashes.
    pub adapter_hash: String,
    pub model_hash: String,
    pub examples: usize,
    /// `rank 16 · alpha 32 · lr 0.0002 · batch 4×1 · max-len 1024 · targets q_proj,...`.
    pub hyper_parameters: String,
    pub losses: Vec<f64>,
    pub tokens: u64,
    pub seconds: f64,
    pub tokens_per_second: f64,
}

/// The report rows of the stored training runs.
pub fn training_rows(runs: &[crate::model::TrainingRun]) -> Vec<TrainingRow> {
    runs.iter()
        .enumerate()
        .map(|(i, r)| TrainingRow {
            number: i + 1,
            method: r.method.clone(),
            source: r.source.clone(),
            device: r.device.clone(),
            adapter_hash: r.adapter_hash.chars().take(12).collect(),
            model_hash: r.model_hash.chars().take(12).collect(),
            examples: r.data_ids.len(),
            hyper_parameters: hyper_parameters(&r.settings),
            losses: r.losses.clone(),
            tokens: r.tokens,
            seconds: r.seconds,
            tokens_per_second: r.tokens_per_second,
        })
        .collect()
}

/// The settings that say how a run trained, in one line (what the stored JSON holds of them).
fn hyper_parameters(s: &serde_json::Value) -> String {
    let num = |v: &serde_json::Value| v.as_f64().map(|x| format!("{x}")).unwrap_or_else(|| "?".into());
    let lora = &s["lora"];
    let targets: Vec<&str> =
        lora["targets"].as_array().map_or(vec![], |t| t.iter().filter_map(|x| x.as_str()).collect());
    let length = match (s["length"].get("steps"), s["length"].get("epochs")) {
        (Some(n), _) => format!("{} steps", num(n)),
        (None, Some(n)) => format!("{} epochs", num(n)),
        _ => "?".into(),
    };
    format!(
        "rank {} · alpha {} · lr {} · {length} · batch {}×{} · max-len {} · seed {} · targets {}",
        num(&lora["rank"]),
        num(&lora["alpha"]),
        num(&s["lr"]),
        num(&s["batch"]),
        num(&s["grad_accum"]),
        num(&s["max_len"]),
        num(&s["seed"]),
        targets.join(",")
    )
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RoundRow {
    pub number: u32,
    /// The next step (`done` when finished).
    pub step: String,
    pub candidates: usize,
    pub valid: usize,
    pub kept: usize,
    /// Step name → milliseconds.
    pub timings_ms: BTreeMap<String, u64>,
    /// The reference set its rewards align with; `None`: no reward, tasks ranked by skill weight.
    pub reference_set: Option<String>,
    /// The round's rejected candidates, by the stage that rejected them (`RejectStage::name`).
    pub rejected: BTreeMap<String, usize>,
    /// Per solver (by name): resolved ÷ attempted on this round's curriculum.
    pub resolve: Vec<RateRow>,
    /// The kept tasks, best first.
    pub tasks: Vec<TaskRow>,
}

/// `resolved` of `attempted`, with the 95% Wilson score interval of the rate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RateRow {
    pub solver: String,
    pub resolved: usize,
    pub attempted: usize,
    /// Lower and upper end of the 95% interval, in `[0, 1]`.
    pub low: f64,
    pub high: f64,
}

impl RateRow {
    pub fn new(solver: &str, resolved: usize, attempted: usize) -> RateRow {
        let (low, high) = wilson(resolved, attempted);
        RateRow { solver: solver.to_string(), resolved, attempted, low, high }
    }

    pub fn rate(&self) -> f64 {
        if self.attempted == 0 {
            0.0
        } else {
            self.resolved as f64 / self.attempted as f64
        }
    }

    /// `3/8 (38%, 95% CI 14–69%)`.
    pub fn describe(&self) -> String {
        format!(
            "{}/{} ({:.0}%, 95% CI {:.0}–{:.0}%)",
            self.resolved,
            self.attempted,
            100.0 * self.rate(),
            100.0 * self.low,
            100.0 * self.high
        )
    }
}

/// The 95% Wilson score interval of `k` successes in `n` trials (`(0, 1)` when `n` is 0).
pub fn wilson(k: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    const Z: f64 = 1.959_963_984_540_054;
    let p = k.min(n) as f64 / n as f64;
    let n = n as f64;
    let z2 = Z * Z;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = Z / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// A kept task as the task browser shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TaskRow {
    pub id: String,
    /// `(untargeted)` when it has none.
    pub skill: String,
    pub operator: String,
    /// The site: file and 1-based line.
    pub file: String,
    pub line: usize,
    /// Its latest reward, when it has one.
    pub reward: Option<f64>,
    /// `valid`, the rejecting stage, or `none` before validation.
    pub verdict: String,
    /// `accepted`, `rejected` or `none`.
    pub decision: String,
    /// Every Solver's graded outcome on it, by solver then round.
    pub outcomes: Vec<SolverOutcome>,
    pub problem_statement: String,
    pub bug_patch: String,
    pub fail_to_pass: Vec<String>,
    pub pass_to_pass: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SolverOutcome {
    pub solver: String,
    pub round: u32,
    /// `resolved`, `unresolved`, `partial`, `no-patch`, `error` or `unknown`.
    pub outcome: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct YieldRow {
    pub name: String,
    pub generated: usize,
    /// Tasks with a verdict.
    pub validated: usize,
    pub valid: usize,
    pub kept: usize,
}

impl YieldRow {
    /// valid ÷ validated; `None` before any verdict.
    pub fn yield_rate(&self) -> Option<f64> {
        (self.validated > 0).then(|| self.valid as f64 / self.validated as f64)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RewardPoint {
    pub task_id: String,
    pub reward: f64,
    /// Kept by some round.
    pub kept: bool,
    /// The round that generated the task (none for tasks made outside a round).
    pub round: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SolveRow {
    pub solver: String,
    pub skill: String,
    pub round: u32,
    pub attempted: usize,
    pub resolved: usize,
}

impl SolveRow {
    pub fn rate(&self) -> f64 {
        if self.attempted == 0 {
            0.0
        } else {
            self.resolved as f64 / self.attempted as f64
        }
    }
}

impl ReportData {
    /// Nothing to plot: no round, task, score or Solver result.
    pub fn is_empty(&self) -> bool {
        self.rounds.is_empty()
            && self.tasks == 0
            && self.rewards.is_empty()
            && self.solve.is_empty()
            && self.evolve.is_empty()
            && self.training.is_empty()
            && self.experiments.is_empty()
    }
}

/// Read the store into a [`ReportData`].
pub fn gather(store: &Store) -> Result<ReportData, StoreError> {
    let stats = store.trace_stats()?;
    let mut data = build(
        &store.rounds()?,
        &store.tasks()?,
        &store.verdicts()?,
        &store.all_scores()?,
        &store.solve_results()?,
        stats.traces,
        store.skills()?.len(),
    );
    data.evolve = evolve_rows(store)?;
    data.training = training_rows(&store.training_runs()?);
    data.experiments = experiments(store)?;
    Ok(data)
}

/// Every evolve run with its per-round lines.
pub fn evolve_rows(store: &Store) -> Result<Vec<EvolveRow>, StoreError> {
    let mut rows = Vec::new();
    for run in store.evolve_runs()? {
        let model = crate::engine::evolve::model_dir(store.home(), &run.settings);
        let random_weights = crate::engine::evolve::random_weights(&model);
        rows.push(EvolveRow {
            id: run.id,
            repo: run.repo.clone(),
            state: run.state.as_str().to_string(),
            solver: run.settings.solver.clone(),
            held_out: run.held_out.len(),
            random_weights,
            lines: store.evolve_lines(&run, random_weights)?,
        });
    }
    Ok(rows)
}

/// The report as text: a summary line, then each evolve run with one line per round.
pub fn text(d: &ReportData) -> String {
    let mut out = format!(
        "{} rounds, {} tasks, {} scored, {} Solver attempts, {} traces, {} skills\n",
        d.rounds.len(),
        d.tasks,
        d.rewards.len(),
        d.solve.iter().map(|r| r.attempted).sum::<usize>(),
        d.traces,
        d.skills
    );
    for run in &d.evolve {
        out.push_str(&format!(
            "evolve run {} ({}, solver {}, {} held-out tasks) on {}\n",
            run.id,
            run.state,
            run.solver,
            run.held_out,
            crate::text::escape_controls(&run.repo)
        ));
        for line in &run.lines {
            out.push_str(&format!("  {}\n", crate::engine::evolve::line_text(line)));
        }
    }
    out
}

/// What a round's row is gathered from.
struct Records<'a> {
    tasks: &'a [Task],
    verdicts: &'a [Verdict],
    solves: &'a [SolveResult],
    reward_of: HashMap<&'a str, f64>,
}

/// One round: its counts, rejections per stage, resolve rates and kept tasks (pure).
fn round_row(r: &Round, rec: &Records) -> RoundRow {
    let verdict_of: HashMap<&str, &Verdict> = rec
        .verdicts
        .iter()
        .filter(|v| v.outcome != crate::model::VerdictOutcome::Retry)
        .map(|v| (v.task_id.as_str(), v))
        .collect();
    let mut rejected: BTreeMap<String, usize> = BTreeMap::new();
    for t in rec.tasks.iter().filter(|t| t.round == Some(r.number)) {
        if let Some(stage) = verdict_of.get(t.id.as_str()).and_then(|v| v.rejected_at()) {
            *rejected.entry(stage.name().to_string()).or_default() += 1;
        }
    }
    let mut per_solver: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for s in rec.solves.iter().filter(|s| s.round == r.number) {
        let e = per_solver.entry(s.solver.as_str()).or_default();
        e.0 += usize::from(s.report.outcome == Outcome::Resolved);
        e.1 += 1;
    }
    let by_id: HashMap<&str, &Task> = rec.tasks.iter().map(|t| (t.id.as_str(), t)).collect();
    let tasks = r
        .kept
        .iter()
        .filter_map(|id| by_id.get(id.as_str()))
        .map(|t| task_row(t, verdict_of.get(t.id.as_str()).copied(), rec))
        .collect();
    RoundRow {
        number: r.number,
        step: r.step.as_str().to_string(),
        candidates: r.candidates,
        valid: r.valid,
        kept: r.kept.len(),
        timings_ms: r.timings_ms.clone(),
        reference_set: r.inputs.reference_set.clone(),
        rejected,
        resolve: per_solver.into_iter().map(|(solver, (k, n))| RateRow::new(solver, k, n)).collect(),
        tasks,
    }
}

fn task_row(t: &Task, verdict: Option<&Verdict>, rec: &Records) -> TaskRow {
    let mut outcomes: Vec<SolverOutcome> = rec
        .solves
        .iter()
        .filter(|s| s.task_id == t.id)
        .map(|s| SolverOutcome { solver: s.solver.clone(), round: s.round, outcome: s.report.outcome.as_str().into() })
        .collect();
    outcomes.sort_by(|a, b| (&a.solver, a.round).cmp(&(&b.solver, b.round)));
    TaskRow {
        id: t.id.clone(),
        skill: t.skill.clone().unwrap_or_else(|| UNTARGETED.to_string()),
        operator: t.operator.clone(),
        file: t.site.file.clone(),
        line: t.site.start_line + 1,
        reward: rec.reward_of.get(t.id.as_str()).copied(),
        verdict: verdict.map_or("none", |v| v.outcome_word()).to_string(),
        decision: t.decision.name().to_string(),
        outcomes,
        problem_statement: t.problem_statement.clone(),
        bug_patch: t.bug_patch.clone(),
        fail_to_pass: t.fail_to_pass.clone(),
        pass_to_pass: t.pass_to_pass.clone(),
    }
}

/// Every stored efficacy experiment, summarized.
fn experiments(store: &Store) -> Result<Vec<crate::experiment::summary::Summary>, StoreError> {
    let mut out = Vec::new();
    for exp in store.experiments::<crate::experiment::run::Experiment>()? {
        let runs = store.experiment_arms(&exp.id)?;
        out.push(crate::experiment::summary::summarize(&exp, &runs));
    }
    Ok(out)
}

/// The figures, from the stored records (pure).
pub fn build(
    rounds: &[Round],
    tasks: &[Task],
    verdicts: &[Verdict],
    scores: &[Score],
    solves: &[SolveResult],
    traces: usize,
    skills: usize,
) -> ReportData {
    let kept: HashSet<&str> = rounds.iter().flat_map(|r| r.kept.iter().map(String::as_str)).collect();
    let verdict: HashMap<&str, bool> = verdicts
        .iter()
        .filter(|v| v.outcome != crate::model::VerdictOutcome::Retry)
        .map(|v| (v.task_id.as_str(), v.is_valid()))
        .collect();
    let mut by_operator: BTreeMap<String, YieldRow> = BTreeMap::new();
    let mut by_skill: BTreeMap<String, YieldRow> = BTreeMap::new();
    for t in tasks {
        let skill = t.skill.clone().unwrap_or_else(|| UNTARGETED.to_string());
        for (map, key) in [(&mut by_operator, t.operator.clone()), (&mut by_skill, skill)] {
            let row = map.entry(key.clone()).or_insert_with(|| YieldRow { name: key, ..Default::default() });
            row.generated += 1;
            if let Some(valid) = verdict.get(t.id.as_str()) {
                row.validated += 1;
                row.valid += usize::from(*valid);
            }
            row.kept += usize::from(kept.contains(t.id.as_str()));
        }
    }
    // The latest score of each task (scores come oldest first).
    let mut latest: BTreeMap<&str, Result<f64, &'static str>> = BTreeMap::new();
    for s in scores {
        match (s.reward, s.no_reward) {
            (Some(r), _) if r.is_finite() => latest.insert(&s.task_id, Ok(r)),
            (_, why) => latest.insert(&s.task_id, Err(why.map_or("not finite", |w| w.as_str()))),
        };
    }
    let round_of: HashMap<&str, Option<u32>> = tasks.iter().map(|t| (t.id.as_str(), t.round)).collect();
    let mut no_reward: BTreeMap<String, usize> = BTreeMap::new();
    for why in latest.values().filter_map(|r| r.err()) {
        *no_reward.entry(why.to_string()).or_default() += 1;
    }
    let rewards = latest
        .into_iter()
        .filter_map(|(id, r)| Some((id, r.ok()?)))
        .map(|(id, reward)| RewardPoint {
            task_id: id.to_string(),
            reward,
            kept: kept.contains(id),
            round: round_of.get(id).copied().flatten(),
        })
        .collect::<Vec<_>>();
    let skill_of: HashMap<&str, Option<&str>> = tasks.iter().map(|t| (t.id.as_str(), t.skill.as_deref())).collect();
    let mut solve: BTreeMap<(String, String, u32), (usize, usize)> = BTreeMap::new();
    for r in solves {
        let skill = match skill_of.get(r.task_id.as_str()) {
            Some(Some(s)) => s.to_string(),
            Some(None) => UNTARGETED.to_string(),
            None => "(unknown task)".to_string(),
        };
        let entry = solve.entry((r.solver.clone(), skill, r.round)).or_default();
        entry.0 += 1;
        entry.1 += usize::from(r.report.outcome == Outcome::Resolved);
    }
    let reward_of: HashMap<&str, f64> = rewards.iter().map(|p| (p.task_id.as_str(), p.reward)).collect();
    let records = Records { tasks, verdicts, solves, reward_of };
    ReportData {
        rounds: rounds.iter().map(|r| round_row(r, &records)).collect(),
        by_operator: by_operator.into_values().collect(),
        by_skill: by_skill.into_values().collect(),
        rewards,
        no_reward,
        solve: solve
            .into_iter()
            .map(|((solver, skill, round), (attempted, resolved))| SolveRow {
                solver,
                skill,
                round,
                attempted,
                resolved,
            })
            .collect(),
        traces,
        skills,
        tasks: tasks.len(),
        evolve: Vec::new(),
        training: Vec::new(),
        experiments: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{RejectStage, TaskStage, VerdictOutcome};

    pub(crate) fn task(id: &str, operator: &str, skill: Option<&str>) -> Task {
        let mut t = crate::model::test_support::task(id, operator, TaskStage::Candidate);
        t.skill = skill.map(str::to_string);
        t
    }

    fn verdict(id: &str, valid: bool) -> Verdict {
        Verdict {
            task_id: id.into(),
            outcome: if valid { VerdictOutcome::Valid } else { VerdictOutcome::Rejected(RejectStage::FailToPass) },
            reason: String::new(),
            fail_to_pass: vec![],
            pass_to_pass: vec![],
            duration_ms: 1,
        }
    }

    fn solved(id: &str, round: u32, outcome: Outcome) -> SolveResult {
        crate::model::test_support::solve_result(id, round, outcome)
    }

    fn score(id: &str, reward: f64) -> Score {
        Score {
            task_id: id.into(),
            validity: 1.0,
            cosine: reward,
            reward: Some(reward),
            no_reward: None,
            reference_set: "r".into(),
            model_hash: "m".into(),
        }
    }

    #[test]
    fn figures_from_records() {
        let tasks = vec![
            task("a", "flip", Some("s1")),
            task("b", "flip", None),
            task("c", "drop", Some("s1")),
            task("d", "drop", None),
        ];
        let verdicts = vec![verdict("a", true), verdict("b", false), verdict("c", true)];
        let round = Round {
            candidates: 4,
            valid: 2,
            timings_ms: [("validate".to_string(), 1500)].into(),
            ..crate::model::test_support::round(1, &["c"])
        };
        let scores = vec![score("a", 0.1), score("c", 0.2), score("a", 0.3), score("b", f64::NAN)];
        let solves = vec![
            solved("a", 1, Outcome::Resolved),
            solved("c", 1, Outcome::Unresolved),
            solved("zz", 1, Outcome::Resolved),
        ];
        let d = build(&[round], &tasks, &verdicts, &scores, &solves, 7, 2);
        let flip = d.by_operator.iter().find(|r| r.name == "flip").unwrap();
        assert_eq!((flip.generated, flip.validated, flip.valid, flip.kept), (2, 2, 1, 0));
        assert_eq!(flip.yield_rate(), Some(0.5));
        let drop = d.by_operator.iter().find(|r| r.name == "drop").unwrap();
        assert_eq!((drop.generated, drop.validated, drop.valid, drop.kept), (2, 1, 1, 1));
        let untargeted = d.by_skill.iter().find(|r| r.name == UNTARGETED).unwrap();
        assert_eq!((untargeted.generated, untargeted.valid), (2, 0));
        assert_eq!(
            d.rewards,
            vec![
                RewardPoint { task_id: "a".into(), reward: 0.3, kept: false, round: Some(1) },
                RewardPoint { task_id: "c".into(), reward: 0.2, kept: true, round: Some(1) },
            ]
        );
        // The round: b rejected at fail-to-pass; c kept, with its reward, verdict and outcome.
        let r = &d.rounds[0];
        assert_eq!(r.rejected, BTreeMap::from([("fail-to-pass".to_string(), 1)]));
        assert_eq!(r.resolve, vec![RateRow::new("baseline", 2, 3)]);
        assert_eq!(r.tasks.len(), 1);
        let c = &r.tasks[0];
        assert_eq!((c.id.as_str(), c.skill.as_str(), c.reward, c.verdict.as_str()), ("c", "s1", Some(0.2), "valid"));
        assert_eq!(
            c.outcomes,
            vec![SolverOutcome { solver: "baseline".into(), round: 1, outcome: "unresolved".into() }]
        );
        let s1: Vec<&SolveRow> = d.solve.iter().filter(|r| r.skill == "s1").collect();
        assert_eq!((s1.len(), s1[0].attempted, s1[0].resolved), (1, 2, 1));
        assert!(d.solve.iter().any(|r| r.skill == "(unknown task)"));
        assert_eq!((d.traces, d.skills, d.tasks, d.rounds[0].kept), (7, 2, 4, 1));
        assert!(!d.is_empty());
        assert!(build(&[], &[], &[], &[], &[], 3, 0).is_empty());
    }

    #[test]
    fn wilson_intervals() {
        let close = |(a, b): (f64, f64), (x, y): (f64, f64)| (a - x).abs() < 5e-4 && (b - y).abs() < 5e-4;
        assert!(close(wilson(0, 10), (0.0, 0.2775)), "{:?}", wilson(0, 10));
        assert!(close(wilson(10, 10), (0.7225, 1.0)), "{:?}", wilson(10, 10));
        assert!(close(wilson(5, 10), (0.2366, 0.7634)), "{:?}", wilson(5, 10));
        assert!(close(wilson(1, 4), (0.0456, 0.6994)), "{:?}", wilson(1, 4));
        assert_eq!(wilson(0, 0), (0.0, 1.0));
        assert_eq!(RateRow::new("b", 1, 4).describe(), "1/4 (25%, 95% CI 5–70%)");
    }

    #[test]
    fn training_rows_say_the_hyper_parameters_in_one_line() {
        let settings = serde_json::to_value(crate::train::TrainOptions::default()).unwrap();
        let run = crate::model::TrainingRun {
            model_hash: "m".repeat(64),
            adapter_hash: "a".repeat(64),
            adapter_dir: "adapters/round-1".into(),
            method: "rft".into(),
            source: "round 1 resolved attempts".into(),
            round: Some(1),
            data_ids: vec!["tr-1".into(), "tr-2".into()],
            settings,
            device: "cpu".into(),
            losses: vec![2.0, 1.0],
            tokens: 100,
            seconds: 2.0,
            tokens_per_second: 50.0,
        };
        let rows = training_rows(&[run]);
        assert_eq!((rows[0].number, rows[0].examples, rows[0].adapter_hash.len()), (1, 2, 12));
        assert_eq!(
            rows[0].hyper_parameters,
            "rank 16 · alpha 32 · lr 0.0002 · 3 epochs · batch 4×1 · max-len 1024 · seed 0 · \
             targets q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj"
        );
        let d = ReportData { training: rows, ..Default::default() };
        assert!(!d.is_empty(), "a store with only a training run has something to show");
    }
}
