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
/// round's recorded inputs. A resumed round keeps the inputs it started with, except stated
/// ones (`stated`) whose step has not run yet, which apply; a stated input that differs from
/// one already used refuses the resume (`new_round` abandons the unfinished round instead).
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
    /// Which of seed / budget / keep / max_skill_share the caller stated (a flag, an editor
    /// option) rather than left at their defaults.
    pub stated: StatedInputs,
    /// Abandon an unfinished round and start a new one.
    pub new_round: bool,
    /// Functions, as (file, dotted scope), whose tasks are never kept: an evolve run's held-out
    /// set, which no curriculum (and so no training set) may touch.
    pub held_out_scopes: BTreeSet<(String, String)>,
}

/// The round inputs a caller stated explicitly; only these are compared with a resumed round's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatedInputs {
    pub seed: bool,
    pub budget: bool,
    pub keep: bool,
    pub max_skill_share: bool,
}

/// The round `run_round` goes on with: a new one (after abandoning the unfinished one, when
/// asked), or the unfinished one with the stated inputs that could still apply.
#[derive(Debug, Clone)]
pub struct RoundStart {
    pub round: Round,
    pub resumed: bool,
    /// What changed in a resumed round's inputs, one line each.
    pub applied: Vec<String>,
    /// The unfinished round to mark abandoned before the new one starts.
    pub abandoned: Option<Round>,
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
            stated: StatedInputs::default(),
            new_round: false,
            held_out_scopes: BTreeSet::new(),
        }
    }
}

/// The unfinished round to resume, else a new one numbered after the last. Reads only: the
/// caller saves what it returns.
pub fn current_round(store: &Store, opts: &RoundOptions) -> anyhow::Result<RoundStart> {
    let rounds = store.rounds()?;
    let unfinished = rounds.last().filter(|r| !matches!(r.step, RoundStep::Done | RoundStep::Abandoned));
    let mut abandoned = None;
    if let Some(r) = unfinished {
        if opts.new_round {
            abandoned = Some(Round { step: RoundStep::Abandoned, ..r.clone() });
        } else {
            let asked = opts.repo.canonicalize().unwrap_or_else(|_| opts.repo.clone());
            if Path::new(&r.inputs.repo) != asked {
                anyhow::bail!(
                    "round {} of {} is unfinished (at step {}); finish it first with `socratic round --repo {}`, \
                     or abandon it with `socratic round --new --repo {}`",
                    r.number,
                    r.inputs.repo,
                    r.step.as_str(),
                    r.inputs.repo,
                    opts.repo.display()
                );
            }
            let (round, applied) = reconcile_inputs(r, opts)?;
            return Ok(RoundStart { round, resumed: true, applied, abandoned: None });
        }
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
    Ok(RoundStart { round, resumed: false, applied: vec![], abandoned })
}

/// One recorded input of a round: its flag, the value recorded, the value stated, and the last
/// step before which a change still applies.
struct InputChange {
    flag: &'static str,
    recorded: String,
    stated: String,
    used_from: RoundStep,
}

/// The unfinished round `r` with the stated inputs that differ applied where the step that uses
/// them has not run yet (seed and budget before generate starts; keep and max-skill-share
/// before select finishes); an error naming the inputs that can no longer apply.
fn reconcile_inputs(r: &Round, opts: &RoundOptions) -> anyhow::Result<(Round, Vec<String>)> {
    let stated = opts.stated;
    let seed = opts.seed.wrapping_add(r.number as u64);
    let mut changes = Vec::new();
    let mut differs = |on: bool, flag, recorded: String, asked: String, used_from| {
        if on && recorded != asked {
            changes.push(InputChange { flag, recorded, stated: asked, used_from });
        }
    };
    // The round's seed is the base seed + its number; compare base seeds.
    let recorded_base = r.inputs.seed.wrapping_sub(r.number as u64);
    differs(stated.seed, "--seed", recorded_base.to_string(), opts.seed.to_string(), RoundStep::Generate);
    differs(stated.budget, "--budget", r.inputs.budget.to_string(), opts.budget.to_string(), RoundStep::Generate);
    differs(stated.keep, "--keep", r.inputs.keep.to_string(), opts.keep.to_string(), RoundStep::Done);
    let share = |s: f64| format!("{s}");
    differs(
        stated.max_skill_share,
        "--max-skill-share",
        share(r.inputs.max_skill_share),
        share(opts.max_skill_share),
        RoundStep::Done,
    );
    let (late, apply): (Vec<&InputChange>, Vec<&InputChange>) = changes.iter().partition(|c| r.step >= c.used_from);
    if !late.is_empty() {
        let was = late.iter().map(|c| format!("{} {}", c.flag, c.recorded)).collect::<Vec<_>>().join(" ");
        let asked = late.iter().map(|c| format!("{} {}", c.flag, c.stated)).collect::<Vec<_>>().join(" ");
        let flags = late.iter().map(|c| c.flag).collect::<Vec<_>>().join(", ");
        anyhow::bail!(
            "round {} is unfinished (at step {}) and was started with {was}; the steps that use {flags} have run, \
             so {asked} cannot apply to it. Run `socratic round` without {flags} (or with the values it started \
             with) to finish it, or `socratic round --new {asked}` to abandon it and start round {}",
            r.number,
            r.step.as_str(),
            r.number + 1
        );
    }
    let mut round = r.clone();
    let mut applied = Vec::new();
    for c in apply {
        match c.flag {
            "--seed" => round.inputs.seed = seed,
            "--budget" => round.inputs.budget = opts.budget,
            "--keep" => round.inputs.keep = opts.keep,
            _ => round.inputs.max_skill_share = opts.max_skill_share,
        }
        applied.push(format!(
            "round {} resumes with {} {} (was {}): the step that uses it has not run yet",
            r.number, c.flag, c.stated, c.recorded
        ));
    }
    Ok((round, applied))
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
    let RoundStart { mut round, applied, abandoned, .. } = current_round(store, opts)?;
    if let Some(old) = &abandoned {
        store.save_round(old)?;
        opts.progress.message(format!("round {} abandoned unfinished; starting round {}", old.number, round.number));
    }
    for line in &applied {
        opts.progress.message(line.clone());
    }
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
            RoundStep::Select => select_step(store, &mut round, &opts.held_out_scopes)?,
            RoundStep::Done | RoundStep::Abandoned => {}
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
    let (generated, reports) = generate(Path::new(&round.inputs.repo), &config)?;
    if generated.is_empty() {
        anyhow::bail!("no candidates for {}: {}", round.inputs.repo, crate::tasks::why_no_candidates(&reports));
    }
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
    super::repository::record_identity(store, Path::new(&round.inputs.repo))?;
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
/// With an empty reference set (recorded as reference `none`) or a random model, scores carry
/// no reward and the selection falls back to the skill weights.
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
        None => (super::scoring::NO_REFERENCE.to_string(), vec![0.0; scorer.feature_config().dim]),
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

fn select_step(store: &mut Store, round: &mut Round, held_out: &BTreeSet<(String, String)>) -> anyhow::Result<()> {
    let weights: BTreeMap<String, f64> =
        crate::skills::target::skill_weights(&store.skills()?, &store.coverage_counts()?)
            .into_iter()
            .map(|w| (w.skill, w.weight))
            .collect();
    let mut ranked = Vec::new();
    let scope = |t: &Task| (t.site.file.clone(), t.site.scope.clone());
    for task in valid_round_tasks(store, round.number)?.into_iter().filter(|t| !held_out.contains(&scope(t))) {
        let reward = store
            .scores(&task.id)?
            .into_iter()
            .find(|s| {
                Some(&s.model_hash) == round.inputs.model_hash.as_ref()
                    && Some(&s.reference_set) == round.inputs.reference_set.as_ref()
            })
            .and_then(|s| s.reward)
            .unwrap_or(0.0);
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

    /// A store whose last round, in `repo`, stopped before `step` with budget 10, keep 4, seed 3 + 1.
    fn unfinished(dir: &Path, repo: &Path, step: RoundStep) -> Store {
        let mut store = Store::open(&dir.join("home")).unwrap();
        let mut r = crate::model::test_support::round(1, &[]);
        r.inputs.repo = repo.canonicalize().unwrap().display().to_string();
        (r.inputs.budget, r.inputs.keep, r.inputs.seed, r.step) = (10, 4, 4, step);
        store.save_round(&r).unwrap();
        store
    }

    fn stated(repo: &Path, budget: Option<usize>, keep: Option<usize>, seed: Option<u64>) -> RoundOptions {
        RoundOptions {
            budget: budget.unwrap_or(DEFAULT_BUDGET),
            keep: keep.unwrap_or(DEFAULT_KEEP),
            seed: seed.unwrap_or(DEFAULT_SEED),
            stated: StatedInputs {
                budget: budget.is_some(),
                keep: keep.is_some(),
                seed: seed.is_some(),
                ..Default::default()
            },
            ..RoundOptions::new(repo.to_path_buf())
        }
    }

    #[test]
    fn a_resumed_round_refuses_stated_inputs_its_finished_steps_used_and_applies_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path();
        let store = unfinished(dir.path(), repo, RoundStep::Validate);
        // Defaults are not stated: the round resumes with what it started with.
        let start = current_round(&store, &stated(repo, None, None, None)).unwrap();
        assert!(start.resumed && start.applied.is_empty());
        assert_eq!((start.round.inputs.budget, start.round.inputs.keep), (10, 4));
        // The same values stated: no change.
        let start = current_round(&store, &stated(repo, Some(10), Some(4), Some(3))).unwrap();
        assert!(start.applied.is_empty(), "{:?}", start.applied);
        // A budget after generate ran: refused, naming both values and the ways out.
        let err = current_round(&store, &stated(repo, Some(20), None, None)).unwrap_err().to_string();
        for part in ["round 1", "at step validate", "--budget 10", "--budget 20", "--new", "round 2"] {
            assert!(err.contains(part), "{part:?} missing from: {err}");
        }
        let err = current_round(&store, &stated(repo, None, None, Some(9))).unwrap_err().to_string();
        assert!(err.contains("--seed 3") && err.contains("--seed 9"), "{err}");
        // keep is used by select, which has not run: applied and said.
        let start = current_round(&store, &stated(repo, None, Some(6), None)).unwrap();
        assert_eq!(start.round.inputs.keep, 6);
        assert_eq!(start.applied.len(), 1);
        assert!(start.applied[0].contains("--keep 6 (was 4)"), "{:?}", start.applied);
        // Before generate, budget and seed still apply (the round's seed is base + number).
        let dir2 = tempfile::tempdir().unwrap();
        let store = unfinished(dir2.path(), repo, RoundStep::Distill);
        let start = current_round(&store, &stated(repo, Some(20), None, Some(9))).unwrap();
        assert_eq!((start.round.inputs.budget, start.round.inputs.seed), (20, 10));
    }

    #[test]
    fn round_new_abandons_the_unfinished_round_and_starts_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("tallyho");
        crate::examples::write_example_repo(&repo).unwrap();
        let mut store = unfinished(dir.path(), &repo, RoundStep::Score);
        let opts = RoundOptions { new_round: true, ..stated(&repo, Some(20), None, None) };
        let start = current_round(&store, &opts).unwrap();
        assert!(!start.resumed);
        assert_eq!((start.round.number, start.round.inputs.budget), (2, 20));
        let old = start.abandoned.expect("the unfinished round is abandoned");
        assert_eq!((old.number, old.step), (1, RoundStep::Abandoned));
        store.save_round(&old).unwrap();
        store.save_round(&start.round).unwrap();
        // An abandoned round is never resumed again.
        let start = current_round(&store, &stated(&repo, None, None, None)).unwrap();
        assert_eq!(start.round.number, 2);
        assert!(start.resumed);
    }

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
