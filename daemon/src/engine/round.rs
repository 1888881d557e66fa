//! One round of the loop: distill skills from every trace so far → generate skill-targeted
//! candidates → validate them in containers (problem statements are written there) → score
//! them → keep the top tasks by reward, balanced across skills, with the user's decisions
//! applied. The round row records the next step after each one, and every step's own results
//! (skills, tasks, verdicts, scores) are stored as they are made, so after a crash `run_round`
//! resumes the unfinished round where it stopped without redoing finished work. A step that is
//! cut short is re-run; each step is deterministic for the same store contents and inputs
//! (seeded generation, cached features), so a resumed round keeps the same tasks.
//!
//! In: the store, a home (for the default scoring model), `RoundOptions`. Out: the finished
//! `Round` (also stored). One round at a time per home: [`RoundLock`] (`<home>/round.lock`).

use super::environment::{ensure_env, ImageOptions};
use super::progress::{Progress, ProgressEvent};
use super::scoring::{reference_direction, reference_texts, score_tasks};
use crate::model::{Decision, Round, RoundInputs, RoundStep, Skill, Task};
use crate::score::{DeviceKind, FeatureConfig, Scorer, TinySpec};
use crate::store::{Store, TaskQuery};
use crate::tasks::{generate, GenerateConfig};
use crate::validate::run::ValidateConfig;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// The group name of tasks no skill targets, for the balance cap.
pub const UNTARGETED: &str = "(untargeted)";

/// Default base seed of a round (round N generates with seed + N).
pub const DEFAULT_SEED: u64 = 0;
/// Default candidates generated per round.
pub const DEFAULT_BUDGET: usize = 40;
/// Default tasks kept per round.
pub const DEFAULT_KEEP: usize = 10;
/// Default largest share of the kept tasks one skill may take.
pub const DEFAULT_MAX_SKILL_SHARE: f64 = 0.5;
/// Default reference set of the score.
pub const DEFAULT_REFERENCE: &str = "failures";

/// How to run a round. Only `repo`, `seed`, `budget`, `keep` and `max_skill_share` become the
/// round's recorded inputs; a resumed round keeps the inputs it started with.
#[derive(Debug, Clone)]
pub struct RoundOptions {
    pub repo: PathBuf,
    /// Base seed; round N generates with `seed + N`.
    pub seed: u64,
    pub budget: usize,
    pub keep: usize,
    pub max_skill_share: f64,
    /// Scoring model folder; `None` = a small random model written once to `<home>/models/tiny`.
    pub model: Option<PathBuf>,
    /// A LoRA adapter folder (PEFT layout) applied to the scoring model: the updated Solver.
    pub adapter: Option<PathBuf>,
    /// `failures` or a SWE-bench-format JSONL of trusted fixes.
    pub reference: String,
    pub device: DeviceKind,
    pub validate: ValidateConfig,
    pub image: ImageOptions,
    /// Where the round's progress events go.
    pub progress: Progress,
}

impl RoundOptions {
    pub fn new(repo: PathBuf) -> RoundOptions {
        RoundOptions {
            repo,
            seed: DEFAULT_SEED,
            budget: DEFAULT_BUDGET,
            keep: DEFAULT_KEEP,
            max_skill_share: DEFAULT_MAX_SKILL_SHARE,
            model: None,
            adapter: None,
            reference: DEFAULT_REFERENCE.into(),
            device: DeviceKind::Cpu,
            validate: ValidateConfig::default(),
            image: ImageOptions::default(),
            progress: Progress::none(),
        }
    }
}

/// The unfinished round to resume, else a new one numbered after the last.
pub fn current_round(store: &Store, opts: &RoundOptions) -> anyhow::Result<(Round, bool)> {
    let rounds = store.rounds()?;
    if let Some(r) = rounds.last().filter(|r| r.step != RoundStep::Done) {
        let asked = opts.repo.canonicalize().unwrap_or_else(|_| opts.repo.clone());
        if Path::new(&r.inputs.repo) != asked {
            anyhow::bail!(
                "round {} of {} is unfinished (at step {}); finish it first with `socratic round --repo {}`",
                r.number,
                r.inputs.repo,
                r.step.as_str(),
                r.inputs.repo
            );
        }
        return Ok((r.clone(), true));
    }
    let number = rounds.last().map_or(1, |r| r.number + 1);
    let (repo, head) = super::environment::repo_key(&opts.repo)?;
    if !(opts.max_skill_share > 0.0 && opts.max_skill_share <= 1.0) {
        anyhow::bail!("--max-skill-share must be in (0, 1], got {}", opts.max_skill_share);
    }
    let inputs = RoundInputs {
        repo,
        head,
        seed: opts.seed.wrapping_add(number as u64),
        budget: opts.budget,
        keep: opts.keep,
        max_skill_share: opts.max_skill_share,
        trace_ids: vec![],
        skill_versions: BTreeMap::new(),
        model_hash: None,
        reference_set: None,
        adapter_hash: None,
    };
    let round = Round {
        number,
        inputs,
        step: RoundStep::Distill,
        candidates: 0,
        valid: 0,
        kept: vec![],
        timings_ms: BTreeMap::new(),
    };
    Ok((round, false))
}

/// Run (or resume) a round to the end.
/// Fails with [`RoundBusy`] while another process runs a round on `home`.
pub async fn run_round(store: &mut Store, home: &Path, opts: &RoundOptions) -> anyhow::Result<Round> {
    let lock = RoundLock::try_acquire(home)?;
    run_round_holding(store, home, opts, &lock).await
}

/// [`run_round`] under a round lock already held.
pub async fn run_round_holding(
    store: &mut Store,
    home: &Path,
    opts: &RoundOptions,
    lock: &RoundLock,
) -> anyhow::Result<Round> {
    let (mut round, _resumed) = current_round(store, opts)?;
    store.save_round(&round)?;
    while round.step != RoundStep::Done {
        let step = round.step;
        lock.record(round.number, step);
        let started = Instant::now();
        opts.progress.emit(ProgressEvent::RoundStep { round: round.number, step });
        match step {
            RoundStep::Distill => distill_step(store, &mut round)?,
            RoundStep::Generate => generate_step(store, &mut round, opts).await?,
            RoundStep::Validate => validate_step(store, &mut round, opts).await?,
            RoundStep::Score => score_step(store, home, &mut round, opts)?,
            RoundStep::Select => select_step(store, &mut round)?,
            RoundStep::Done => {}
        }
        *round.timings_ms.entry(step.as_str().to_string()).or_default() += started.elapsed().as_millis() as u64;
        round.step = step.next();
        store.save_round(&round)?;
    }
    Ok(round)
}

/// `<home>/round.lock`: one round at a time per home. Held (an `fs2` exclusive lock on a file
/// only the owner can open) while a round runs; the file says who holds it and at which step.
pub struct RoundLock {
    file: std::fs::File,
}

/// Another process holds the round lock.
#[derive(Debug, thiserror::Error)]
#[error("a round is already running on this home ({holder}); wait for it, or pass --wait")]
pub struct RoundBusy {
    /// `pid=… round=… step=…` as the holder wrote it.
    pub holder: String,
}

impl RoundLock {
    /// The lock file of `home`.
    pub fn path(home: &Path) -> PathBuf {
        home.join("round.lock")
    }

    fn open(home: &Path) -> anyhow::Result<std::fs::File> {
        crate::store::owner_only::create_dir(home)?;
        let path = Self::path(home);
        crate::store::owner_only::open_file(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    /// Take the lock, or fail with [`RoundBusy`] naming its holder.
    pub fn try_acquire(home: &Path) -> anyhow::Result<RoundLock> {
        use fs2::FileExt;
        let file = Self::open(home)?;
        if file.try_lock_exclusive().is_err() {
            let holder = std::fs::read_to_string(Self::path(home)).unwrap_or_default().trim().to_string();
            let holder = if holder.is_empty() { "holder unknown".to_string() } else { holder };
            return Err(RoundBusy { holder }.into());
        }
        Ok(RoundLock::held(file))
    }

    /// Take the lock, waiting while another process holds it.
    pub fn acquire_waiting(home: &Path) -> anyhow::Result<RoundLock> {
        use fs2::FileExt;
        let file = Self::open(home)?;
        file.lock_exclusive()?;
        Ok(RoundLock::held(file))
    }

    fn held(file: std::fs::File) -> RoundLock {
        let lock = RoundLock { file };
        lock.write(&format!("pid={}", std::process::id()));
        lock
    }

    /// Say which round and step the holder is at (for a second `round` to report).
    pub fn record(&self, round: u32, step: RoundStep) {
        self.write(&format!("pid={} round={round} step={}", std::process::id(), step.as_str()));
    }

    fn write(&self, text: &str) {
        use std::os::unix::fs::FileExt;
        let written = self.file.set_len(0).and_then(|()| self.file.write_all_at(text.as_bytes(), 0));
        if let Err(e) = written {
            tracing::warn!("round.lock: {e}");
        }
    }
}

impl Drop for RoundLock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        let _ = fs2::FileExt::unlock(&self.file);
    }
}

/// Distill skills from every stored trace; record which traces and skill versions.
fn distill_step(store: &mut Store, round: &mut Round) -> anyhow::Result<()> {
    let (_, trace_ids) = distill_stored(store)?;
    round.inputs.trace_ids = trace_ids;
    round.inputs.skill_versions = store.skills()?.into_iter().map(|s| (s.name, s.version)).collect();
    Ok(())
}

/// Distill skills (rules, at least one trace each) from every stored trace, merged with and
/// saved over the stored skills; also the ids of the traces it read.
pub fn distill_stored(store: &mut Store) -> anyhow::Result<(crate::skills::Distilled, Vec<String>)> {
    let (traces, instances, existing) = (store.traces()?, store.instances()?, store.skills()?);
    let distilled =
        crate::skills::distill_with(&crate::skills::distill::RuleDistiller, &traces, &instances, &existing, 1)
            .map_err(|e| anyhow::anyhow!("distilling skills: {e}"))?;
    store.upsert_skills(&distilled.skills)?;
    Ok((distilled, traces.into_iter().map(|t| t.trace.id).collect()))
}

/// Generate the round's candidates, targeted by the skills, at lines the clean suite executes
/// (from the environment, built here if needed), new to this round (a bug an earlier round
/// already generated is left out), each labelled with the skill it exercises.
async fn generate_step(store: &mut Store, round: &mut Round, opts: &RoundOptions) -> anyhow::Result<()> {
    let env = ensure_env(store, Path::new(&round.inputs.repo), &opts.image, &opts.progress).await?;
    let (skills, coverage) = (store.skills()?, store.coverage_counts()?);
    let config = skill_weighted(
        GenerateConfig {
            budget: round.inputs.budget.saturating_mul(3),
            seed: round.inputs.seed,
            round: Some(round.number),
            executed_lines: Some(env.executed_lines()),
            ..Default::default()
        },
        &skills,
        &coverage,
    );
    let (generated, _) = generate(Path::new(&round.inputs.repo), &config)?;
    let ids: Vec<String> = generated.iter().map(|t| t.id.clone()).collect();
    let earlier: BTreeSet<String> =
        store.tasks_by_id(&ids)?.into_iter().filter(|t| t.round != Some(round.number)).map(|t| t.id).collect();
    let skill_weights = crate::skills::target::skill_weights(&skills, &coverage);
    let fresh: Vec<Task> = generated
        .into_iter()
        .filter(|t| !earlier.contains(t.id.as_str()))
        .take(round.inputs.budget)
        .map(|mut t| {
            t.skill = skill_for(&t.operator, &skills, &skill_weights);
            t
        })
        .collect();
    store.insert_tasks(&fresh)?;
    round.candidates = store.count_tasks(&TaskQuery::in_round(round.number))?;
    Ok(())
}

/// `config` with its budget spread over the operators of the skills by targeting weight
/// (failure rate × how little the valid, not rejected tasks cover them: `coverage`, from
/// `Store::coverage_counts`); unchanged (every operator an equal share) when no skill weighs
/// anything. What rounds, the demo and `tasks generate --skills` generate with.
pub fn skill_weighted(
    config: GenerateConfig,
    skills: &[Skill],
    coverage: &crate::skills::target::Coverage,
) -> GenerateConfig {
    let weights = crate::skills::target::operator_weights(skills, coverage);
    GenerateConfig { operator_weights: (!weights.is_empty()).then_some(weights), ..config }
}

/// The skill a task of this operator exercises: the heaviest-weighted skill naming the operator.
pub fn skill_for(operator: &str, skills: &[Skill], weights: &[crate::skills::target::SkillWeight]) -> Option<String> {
    let weight = |name: &str| weights.iter().find(|w| w.skill == name).map_or(0.0, |w| w.weight);
    skills
        .iter()
        .filter(|s| s.operators.iter().any(|o| o == operator))
        .max_by(|a, b| weight(&a.name).total_cmp(&weight(&b.name)).then_with(|| b.name.cmp(&a.name)))
        .map(|s| s.name.clone())
}

/// The round's tasks that passed validation.
fn valid_round_tasks(store: &Store, number: u32) -> anyhow::Result<Vec<Task>> {
    Ok(store.tasks_where(&TaskQuery { round: Some(number), ..TaskQuery::valid() })?)
}

/// Validate the round's candidates that have no verdict yet; each verdict is stored at once.
async fn validate_step(store: &mut Store, round: &mut Round, opts: &RoundOptions) -> anyhow::Result<()> {
    let pending =
        store.tasks_where(&TaskQuery { round: Some(round.number), stages: vec!["candidate"], ..Default::default() })?;
    if !pending.is_empty() {
        let env = ensure_env(store, Path::new(&round.inputs.repo), &opts.image, &opts.progress).await?;
        super::validation::validate_and_record(store, &env, pending, &opts.validate, &opts.progress).await?;
    }
    round.valid = valid_round_tasks(store, round.number)?.len();
    Ok(())
}

/// The scoring model: the configured folder, else a small random one written once.
fn scoring_model(home: &Path, opts: &RoundOptions) -> anyhow::Result<PathBuf> {
    if let Some(m) = &opts.model {
        return Ok(m.clone());
    }
    let dir = home.join("models").join("tiny");
    if !dir.join("config.json").exists() {
        let spec = TinySpec { layers: 2, width: 64, seed: 0, vocab: None, kv_heads: None };
        crate::score::write_tiny_model(&dir, &spec)
            .map_err(|e| anyhow::anyhow!("writing the default scoring model: {e}"))?;
    }
    Ok(dir)
}

/// Score the round's valid tasks against the reference set; valid tasks become `scored`.
/// With an empty reference set (recorded as reference `none`) every reward is 0 and the
/// selection falls back to the skill weights.
fn score_step(store: &mut Store, home: &Path, round: &mut Round, opts: &RoundOptions) -> anyhow::Result<()> {
    let model = scoring_model(home, opts)?;
    let feature = FeatureConfig {
        params: crate::score::DEFAULT_PARAMS.to_string(),
        dim: crate::score::DEFAULT_DIM,
        seed: 0,
        max_len: crate::score::DEFAULT_MAX_LEN,
    };
    let scorer = Scorer::load_adapted(&model, opts.adapter.as_deref(), opts.device, feature)
        .map_err(|e| anyhow::anyhow!("{}: {e}", model.display()))?;
    let valid = valid_round_tasks(store, round.number)?;
    let (name, texts) = reference_texts(store, &opts.reference)?;
    let direction = reference_direction(store, &scorer, &texts, |_| {})?;
    let (name, direction) = match direction {
        Some(d) => (name, d),
        None => ("none".to_string(), vec![0.0; scorer.feature_config().dim]),
    };
    let mut counter = opts.progress.start("scoring", valid.len() as u64);
    score_tasks(store, &scorer, &direction, &name, &valid, |_| counter.advance(None))?;
    counter.finish();
    round.inputs.model_hash = Some(scorer.model_hash().to_string());
    round.inputs.adapter_hash = scorer.adapter_hash().map(str::to_string);
    round.inputs.reference_set = Some(name);
    Ok(())
}

/// A task in the ranking: its reward under the round's model and reference set, and the
/// targeting weight of its skill (how much the Solver fails it, discounted by coverage).
#[derive(Debug, Clone)]
pub struct Ranked {
    pub task: Task,
    pub reward: f64,
    pub skill_weight: f64,
}

/// Keep the round's tasks: accepted ones first (the user's decision overrides the ranking),
/// then the best by reward (ties by skill weight, then id), at most `ceil(keep × share)` per
/// skill, never a rejected one. Pure.
pub fn select(ranked: &[Ranked], keep: usize, max_skill_share: f64) -> Vec<String> {
    let cap = ((keep as f64 * max_skill_share).ceil() as usize).max(1);
    let mut order: Vec<&Ranked> = ranked.iter().filter(|r| r.task.decision != Decision::Rejected).collect();
    order.sort_by(|a, b| {
        let accepted = |r: &Ranked| r.task.decision == Decision::Accepted;
        accepted(b)
            .cmp(&accepted(a))
            .then(b.reward.total_cmp(&a.reward))
            .then(b.skill_weight.total_cmp(&a.skill_weight))
            .then(a.task.id.cmp(&b.task.id))
    });
    let mut per_skill: BTreeMap<&str, usize> = BTreeMap::new();
    let mut kept = Vec::new();
    for r in order {
        if kept.len() >= keep && r.task.decision != Decision::Accepted {
            break;
        }
        let group = per_skill.entry(r.task.skill.as_deref().unwrap_or(UNTARGETED)).or_default();
        if *group >= cap && r.task.decision != Decision::Accepted {
            continue;
        }
        *group += 1;
        kept.push(r.task.id.clone());
    }
    kept
}

fn select_step(store: &mut Store, round: &mut Round) -> anyhow::Result<()> {
    let weights: BTreeMap<String, f64> =
        crate::skills::target::skill_weights(&store.skills()?, &store.coverage_counts()?)
            .into_iter()
            .map(|w| (w.skill, w.weight))
            .collect();
    let mut ranked = Vec::new();
    for task in valid_round_tasks(store, round.number)? {
        let reward = store
            .scores(&task.id)?
            .into_iter()
            .find(|s| {
                Some(&s.model_hash) == round.inputs.model_hash.as_ref()
                    && Some(&s.reference_set) == round.inputs.reference_set.as_ref()
            })
            .map_or(0.0, |s| s.reward);
        let skill_weight = task.skill.as_ref().and_then(|s| weights.get(s)).copied().unwrap_or(0.0);
        ranked.push(Ranked { task, reward, skill_weight });
    }
    round.kept = select(&ranked, round.inputs.keep, round.inputs.max_skill_share);
    Ok(())
}

/// One line: candidates, valid, kept and time per step.
pub fn round_line(r: &Round) -> String {
    let steps: Vec<String> = r.timings_ms.iter().map(|(k, v)| format!("{k} {:.1}s", *v as f64 / 1000.0)).collect();
    format!(
        "round {}: {} candidates, {} valid, {} kept (seed {}, reference {}); {}",
        r.number,
        r.candidates,
        r.valid,
        r.kept.len(),
        r.inputs.seed,
        r.inputs.reference_set.as_deref().unwrap_or("-"),
        steps.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::curriculum::tests::task;

    fn ranked(id: &str, skill: Option<&str>, reward: f64, decision: Decision) -> Ranked {
        let mut t = task(id, 1, decision);
        t.skill = skill.map(String::from);
        Ranked { task: t, reward, skill_weight: 0.0 }
    }

    #[test]
    fn select_caps_each_skill_and_breaks_ties_by_id() {
        let r = vec![
            ranked("t-1", Some("a"), 0.9, Decision::None),
            ranked("t-2", Some("a"), 0.8, Decision::None),
            ranked("t-3", Some("a"), 0.7, Decision::None),
            ranked("t-5", Some("b"), 0.1, Decision::None),
            ranked("t-4", Some("b"), 0.1, Decision::None),
            ranked("t-6", None, 0.05, Decision::None),
        ];
        assert_eq!(select(&r, 4, 0.5), vec!["t-1", "t-2", "t-4", "t-5"]);
        assert_eq!(select(&r, 3, 0.34), vec!["t-1", "t-2", "t-4"]);
    }

    #[test]
    fn equal_rewards_fall_back_to_the_skill_weight() {
        let mut r = vec![ranked("t-1", Some("a"), 0.0, Decision::None), ranked("t-2", Some("b"), 0.0, Decision::None)];
        r[1].skill_weight = 0.7;
        assert_eq!(select(&r, 1, 1.0), vec!["t-2"]);
    }

    #[test]
    fn decisions_override_the_ranking() {
        let r = vec![
            ranked("t-1", Some("a"), 0.9, Decision::Rejected),
            ranked("t-2", Some("a"), 0.8, Decision::None),
            ranked("t-3", Some("a"), -0.5, Decision::Accepted),
        ];
        assert_eq!(select(&r, 1, 1.0), vec!["t-3"]);
        assert_eq!(select(&r, 2, 1.0), vec!["t-3", "t-2"]);
    }

    #[test]
    fn the_round_line_names_counts_seed_reference_and_step_times() {
        let mut round = current_round_fixture();
        round.timings_ms = BTreeMap::from([("distill".to_string(), 1500), ("validate".to_string(), 240)]);
        assert_eq!(
            round_line(&round),
            "round 2: 7 candidates, 5 valid, 1 kept (seed 3, reference failures); distill 1.5s, validate 0.2s"
        );
        round.inputs.reference_set = None;
        assert!(round_line(&round).contains("(seed 3, reference -)"));
    }

    fn current_round_fixture() -> Round {
        Round {
            number: 2,
            inputs: RoundInputs {
                repo: "r".into(),
                head: "h".into(),
                seed: 3,
                budget: 7,
                keep: 1,
                max_skill_share: 0.5,
                trace_ids: vec![],
                skill_versions: BTreeMap::new(),
                model_hash: None,
                reference_set: Some("failures".into()),
                adapter_hash: None,
            },
            step: RoundStep::Done,
            candidates: 7,
            valid: 5,
            kept: vec!["t-1".into()],
            timings_ms: BTreeMap::new(),
        }
    }

    #[test]
    fn skill_weighted_generation_spreads_the_budget_over_failing_skills_operators_only() {
        use crate::model::{SkillKind, SkillStats};
        let skill = |name: &str, op: &str, failure_rate: f64| Skill {
            name: name.into(),
            kind: SkillKind::RepairPattern,
            description: String::new(),
            applicability: vec![],
            operations: vec![],
            anchor: op.into(),
            operators: vec![op.into()],
            evidence: vec![],
            stats: SkillStats { traces: 10, failures: (failure_rate * 10.0) as usize, failure_rate },
            version: 1,
        };
        let base = GenerateConfig { budget: 9, seed: 4, ..Default::default() };
        let never_failed = skill_weighted(base.clone(), &[skill("a", "flip", 0.0)], &[]);
        assert_eq!(never_failed.operator_weights, None);
        let targeted = skill_weighted(base, &[skill("a", "flip", 0.0), skill("b", "swap", 0.5)], &[]);
        let weights = targeted.operator_weights.expect("a failing skill weighs its operator");
        assert_eq!(weights.keys().collect::<Vec<_>>(), vec!["swap"]);
        assert_eq!((targeted.budget, targeted.seed), (9, 4));
    }

    #[test]
    fn the_heaviest_skill_naming_the_operator_wins() {
        use crate::model::{SkillKind, SkillStats};
        use crate::skills::target::SkillWeight;
        let skill = |name: &str, ops: &[&str]| Skill {
            name: name.into(),
            kind: SkillKind::RepairPattern,
            description: String::new(),
            applicability: vec![],
            operations: vec![],
            anchor: String::new(),
            operators: ops.iter().map(|s| s.to_string()).collect(),
            evidence: vec![],
            stats: SkillStats::default(),
            version: 1,
        };
        let skills = vec![skill("x", &["flip"]), skill("y", &["flip", "swap"])];
        let w = |s: &str, weight: f64| SkillWeight { skill: s.into(), failure_rate: weight, covered_by: 0, weight };
        assert_eq!(skill_for("flip", &skills, &[w("x", 0.2), w("y", 0.5)]).as_deref(), Some("y"));
        assert_eq!(skill_for("flip", &skills, &[w("x", 0.6), w("y", 0.5)]).as_deref(), Some("x"));
        assert_eq!(skill_for("swap", &skills, &[]).as_deref(), Some("y"));
        assert_eq!(skill_for("other", &skills, &[]), None);
    }

    #[test]
    fn a_second_round_lock_names_the_holder_until_the_first_is_dropped() {
        let home = tempfile::tempdir().expect("tempdir");
        let first = RoundLock::try_acquire(home.path()).expect("free");
        first.record(3, RoundStep::Validate);
        let busy = RoundLock::try_acquire(home.path()).err().expect("held");
        let busy = busy.downcast_ref::<RoundBusy>().expect("RoundBusy");
        assert_eq!(busy.holder, format!("pid={} round=3 step=validate", std::process::id()));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(RoundLock::path(home.path())).expect("lock").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        drop(first);
        RoundLock::try_acquire(home.path()).expect("free again");
    }
}
