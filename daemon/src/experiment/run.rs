//! The experiment's steps, each stored as it finishes so a killed run resumes where it stopped:
//! pool (generate with every operator and validate, per repository, with the round's own
//! generation and validation code) → split (held-out set by site) → warm-up (an adapter trained
//! on a small untargeted set, then evaluated on the held-out set and on a probe set of training
//! sites) → distill (the probe failures become traces and skills as in a round; targeting
//! weights and rewards under the warm-up Solver) → arms (for each seed × arm: the training set
//! at the same budget, training continued from the warm-up adapter for the same steps, the
//! held-out set attempted by execution; each finished arm × seed is stored).
//!
//! Skills and rewards come from the probe set, never from the held-out one: no arm sees a
//! held-out task, its site, or its outcome.
//!
//! In: the store, a home (adapters under `<home>/experiments/<id>/`), [`EfficacyOptions`] and a
//! [`Learner`] (trains adapters, attempts tasks). Out: the stored [`Experiment`] and its
//! [`ArmRun`]s.

use super::arms::{select_arm, Arm, ArmInputs};
use super::split::{split_by_site, Split};
use crate::engine::environment::{ensure_env, ImageOptions};
use crate::engine::progress::Progress;
use crate::model::{sha256_hex, Label, Outcome, Skill, Task};
use crate::score::DeviceKind;
use crate::store::Store;
use crate::validate::run::ValidateConfig;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The experiment's name for the warm-up adapter's own evaluation in stored runs.
pub const WARMUP: &str = "warm-up";
/// The experiment's name for the base model's evaluation before any training (the figure the
/// warm-up's must beat for it to be a learning signal).
pub const UNTRAINED: &str = "untrained";

/// How to run the experiment.
#[derive(Debug, Clone)]
pub struct EfficacyOptions {
    pub repos: Vec<PathBuf>,
    pub model: PathBuf,
    pub seeds: usize,
    /// Training examples per arm (every arm the same).
    pub budget: usize,
    /// Optimizer steps per arm (every arm the same).
    pub steps: usize,
    pub arms: Vec<Arm>,
    /// Candidates generated per repository for the pool.
    pub pool_per_repo: usize,
    pub heldout_share: f64,
    pub max_heldout: usize,
    /// Warm-up training examples (untargeted) and steps.
    pub warmup: usize,
    pub warmup_steps: usize,
    /// Training-side tasks the warm-up Solver attempts to find its failures (skills, reward).
    pub probe: usize,
    /// The reward arms draw `factor × budget` targeted tasks before keeping `budget`.
    pub factor: usize,
    /// Samples per task for pass@k.
    pub k: usize,
    /// Unvalidated generated one-line-fix examples added to the warm-up (mutations at the
    /// training side's functions only; never evaluated on).
    pub generated: usize,
    /// The Learner's training settings as words (`Learner::describe`; set by `run_efficacy`).
    pub training: String,
    pub device: DeviceKind,
    pub validate: ValidateConfig,
    pub image: ImageOptions,
    pub progress: Progress,
}

impl EfficacyOptions {
    pub fn new(repos: Vec<PathBuf>, model: PathBuf) -> EfficacyOptions {
        EfficacyOptions {
            repos,
            model,
            seeds: 3,
            budget: 32,
            steps: 32,
            arms: Arm::ALL.to_vec(),
            pool_per_repo: 150,
            heldout_share: 0.3,
            max_heldout: 30,
            warmup: 32,
            warmup_steps: 48,
            probe: 30,
            factor: 3,
            k: 4,
            generated: 0,
            training: String::new(),
            device: DeviceKind::Cpu,
            validate: ValidateConfig::default(),
            image: ImageOptions::default(),
            progress: Progress::none(),
        }
    }
}

/// What identifies an experiment: everything but the seeds and arms (more seeds or arms later
/// extend the same experiment and reuse its finished runs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inputs {
    /// Repository paths and their HEAD commits.
    pub repos: Vec<(String, String)>,
    pub model: String,
    pub budget: usize,
    pub steps: usize,
    pub pool_per_repo: usize,
    pub heldout_share: f64,
    pub max_heldout: usize,
    pub warmup: usize,
    pub warmup_steps: usize,
    pub probe: usize,
    pub factor: usize,
    pub k: usize,
    pub device: String,
    /// The seed of the split and the warm-up.
    pub split_seed: u64,
    /// Generated (unvalidated) warm-up examples asked for.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub generated: usize,
    /// The Learner's training settings.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub training: String,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Inputs {
    pub fn id(&self) -> String {
        let json = serde_json::to_string(self).expect("inputs serialize");
        format!("e-{}", &sha256_hex(json.as_bytes())[..12])
    }
}

/// The next step of an experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    Pool,
    Split,
    Warmup,
    Distill,
    Arms,
    Done,
}

/// A stored experiment: inputs, where it is, and what its finished steps made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Experiment {
    pub id: String,
    pub inputs: Inputs,
    pub seeds: Vec<u64>,
    pub arms: Vec<Arm>,
    pub stage: Stage,
    /// Valid task ids of the pool.
    pub pool: Vec<String>,
    pub split: Option<Split>,
    pub warmup_ids: Vec<String>,
    pub probe_ids: Vec<String>,
    pub warmup_adapter_hash: Option<String>,
    /// Skills distilled from the warm-up Solver's probe failures.
    pub skills: Vec<Skill>,
    pub operator_weights: BTreeMap<String, f64>,
    pub skill_weights: BTreeMap<String, f64>,
    /// Pool task id → the skill it exercises (the heaviest skill naming its operator), for the
    /// reward arms' skill cap and the per-skill breakdown.
    pub task_skills: BTreeMap<String, String>,
    /// Held-out task id → its stratum for the breakdown (its skill, else its operator).
    pub strata: BTreeMap<String, String>,
    /// Reward per training task under the warm-up Solver and the probe failures.
    pub rewards: BTreeMap<String, f64>,
    /// Why the rewards are not a signal (a random-weights model, no failures), if they are not.
    pub reward_note: Option<String>,
    pub random_weights: bool,
    /// Generated (unvalidated) examples the warm-up trained on besides its pool tasks.
    #[serde(default)]
    pub generated_used: usize,
}

/// One task's evaluation: greedy pass@1 (0 or 1) and pass@k.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TaskOutcome {
    pub resolved: bool,
    pub pass_at_k: f64,
}

/// What a [`Learner`] made of one attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempted {
    pub outcome: TaskOutcome,
    /// The greedy attempt's diff, when it wrote one.
    pub patch: Option<String>,
    /// The fault localisation rank of the line the fix replaces (marked-line answer formats);
    /// with candidate decoding, the fix's rank among the candidates.
    pub fix_rank: Option<usize>,
    /// With candidate decoding: how many candidate repairs were ranked.
    pub candidates: Option<usize>,
}

/// An adapter a [`Learner`] trained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trained {
    pub adapter_hash: String,
    pub examples: usize,
    pub steps: usize,
    pub final_loss: Option<f64>,
    pub seconds: f64,
}

/// One finished arm × seed (or the warm-up, as arm [`WARMUP`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArmRun {
    pub arm: String,
    pub seed: u64,
    pub train_ids: Vec<String>,
    pub trained: Trained,
    /// Held-out task id → outcome.
    pub outcomes: BTreeMap<String, TaskOutcome>,
    pub eval_seconds: f64,
    /// Held-out task id → the fault localisation rank of the line its fix replaces (tasks
    /// whose line is ranked; marked-line answer formats only).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fix_ranks: BTreeMap<String, usize>,
    /// Held-out task id → how many candidate repairs the Solver ranked (candidate decoding).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub candidate_counts: BTreeMap<String, usize>,
}

/// The Solver under test: trains LoRA adapters and attempts tasks by execution.
#[allow(async_fn_in_trait)]
pub trait Learner {
    /// Train on `tasks` for `steps` optimizer steps, from the adapter `init` (fresh factors when
    /// `None`), seeded; the adapter folder is written at `out`.
    fn train(
        &self,
        init: Option<&Path>,
        tasks: &[Task],
        steps: usize,
        seed: u64,
        out: &Path,
    ) -> anyhow::Result<Trained>;
    /// Attempt `tasks` with the adapter (`None`: the base model untrained), graded in their
    /// containers: one outcome per task id.
    async fn attempt(
        &self,
        store: &mut Store,
        adapter: Option<&Path>,
        tasks: &[Task],
        k: usize,
    ) -> anyhow::Result<BTreeMap<String, Attempted>>;
    /// Whether the model's weights are random (its figures say nothing of learning).
    fn random_weights(&self) -> bool;
    /// Whether the task has a training example in the Solver's answer format (the pool keeps
    /// only such tasks, so every arm trains on exactly its budget).
    fn can_learn(&self, task: &Task) -> bool;
    /// The model folder and adapter folder (if any) of what `train` wrote at `trained`.
    fn solver(&self, trained: &Path) -> (PathBuf, Option<PathBuf>);
    /// The training settings, recorded with the experiment (part of its identity).
    fn describe(&self) -> String {
        String::new()
    }
}

/// The experiment these options name: the stored one (with these seeds and arms), else a new one.
pub fn open_experiment(store: &Store, opts: &EfficacyOptions) -> anyhow::Result<Experiment> {
    if opts.repos.is_empty() {
        anyhow::bail!("give at least one --repo");
    }
    if opts.seeds == 0 || opts.budget == 0 || opts.steps == 0 || opts.warmup == 0 || opts.k == 0 {
        anyhow::bail!("--seeds, --budget, --steps, --warmup and --k must be positive");
    }
    let mut repos = Vec::new();
    for r in &opts.repos {
        repos.push(crate::engine::environment::repo_key(r)?);
    }
    let model = opts.model.canonicalize().map_err(|e| anyhow::anyhow!("--model {}: {e}", opts.model.display()))?;
    let inputs = Inputs {
        repos,
        model: model.display().to_string(),
        budget: opts.budget,
        steps: opts.steps,
        pool_per_repo: opts.pool_per_repo,
        heldout_share: opts.heldout_share,
        max_heldout: opts.max_heldout,
        warmup: opts.warmup,
        warmup_steps: opts.warmup_steps,
        probe: opts.probe,
        factor: opts.factor,
        k: opts.k,
        device: format!("{:?}", opts.device).to_lowercase(),
        split_seed: 0,
        generated: opts.generated,
        training: opts.training.clone(),
    };
    let id = inputs.id();
    let seeds: Vec<u64> = (0..opts.seeds as u64).collect();
    let mut exp = match store.experiment::<Experiment>(&id)? {
        Some(e) => e,
        None => Experiment {
            id: id.clone(),
            inputs,
            seeds: vec![],
            arms: vec![],
            stage: Stage::Pool,
            pool: vec![],
            split: None,
            warmup_ids: vec![],
            probe_ids: vec![],
            warmup_adapter_hash: None,
            skills: vec![],
            operator_weights: BTreeMap::new(),
            skill_weights: BTreeMap::new(),
            task_skills: BTreeMap::new(),
            strata: BTreeMap::new(),
            rewards: BTreeMap::new(),
            reward_note: None,
            random_weights: false,
            generated_used: 0,
        },
    };
    exp.seeds = seeds;
    exp.arms = opts.arms.clone();
    if exp.stage == Stage::Done {
        exp.stage = Stage::Arms;
    }
    Ok(exp)
}

/// Where experiment `id` keeps its adapters.
pub fn experiment_dir(home: &Path, id: &str) -> PathBuf {
    home.join("experiments").join(id)
}

/// Run (or resume) the experiment to the end; returns it with its runs.
pub async fn run_efficacy(
    store: &mut Store,
    home: &Path,
    opts: &EfficacyOptions,
    learner: &impl Learner,
) -> anyhow::Result<(Experiment, Vec<ArmRun>)> {
    let mut opts = opts.clone();
    if opts.training.is_empty() {
        opts.training = learner.describe();
    }
    let opts = &opts;
    let mut exp = open_experiment(store, opts)?;
    store.save_experiment(&exp.id, &exp)?;
    let dir = experiment_dir(home, &exp.id);
    crate::store::owner_only::create_dir(&dir)?;
    while exp.stage != Stage::Done {
        opts.progress.message(format!("experiment {}: {}", exp.id, stage_name(exp.stage)));
        match exp.stage {
            Stage::Pool => pool_step(store, &mut exp, opts, learner).await?,
            Stage::Split => split_step(store, &mut exp)?,
            Stage::Warmup => warmup_step(store, &dir, &mut exp, opts, learner).await?,
            Stage::Distill => distill_step(store, &dir, &mut exp, opts, learner).await?,
            Stage::Arms => arms_step(store, &dir, &exp, learner).await?,
            Stage::Done => {}
        }
        exp.stage = next(exp.stage);
        store.save_experiment(&exp.id, &exp)?;
    }
    let runs = store.experiment_arms(&exp.id)?;
    Ok((exp, runs))
}

fn stage_name(s: Stage) -> &'static str {
    match s {
        Stage::Pool => "pool",
        Stage::Split => "split",
        Stage::Warmup => "warm-up",
        Stage::Distill => "distill",
        Stage::Arms => "arms",
        Stage::Done => "done",
    }
}

fn next(s: Stage) -> Stage {
    match s {
        Stage::Pool => Stage::Split,
        Stage::Split => Stage::Warmup,
        Stage::Warmup => Stage::Distill,
        Stage::Distill => Stage::Arms,
        Stage::Arms | Stage::Done => Stage::Done,
    }
}

/// Generate with every operator (untargeted) at the lines each clean suite executes, validate
/// what has no verdict yet, and keep the valid ids: the round's own generation and validation.
async fn pool_step(
    store: &mut Store,
    exp: &mut Experiment,
    opts: &EfficacyOptions,
    learner: &impl Learner,
) -> anyhow::Result<()> {
    let mut pool = Vec::new();
    for (path, _) in exp.inputs.repos.clone() {
        let path = PathBuf::from(path);
        let env = ensure_env(store, &path, &opts.image, &opts.progress).await?;
        let config = crate::tasks::GenerateConfig {
            budget: exp.inputs.pool_per_repo,
            seed: exp.inputs.split_seed,
            executed_lines: Some(env.executed_lines()),
            ..Default::default()
        };
        let (generated, reports) = crate::tasks::generate(&path, &config)?;
        if generated.is_empty() {
            anyhow::bail!("no candidates for {}: {}", path.display(), crate::tasks::why_no_candidates(&reports));
        }
        crate::engine::repository::record_identity(store, &path)?;
        store.insert_tasks(&generated)?;
        let ids: Vec<String> = generated.iter().map(|t| t.id.clone()).collect();
        let pending: Vec<Task> =
            store.tasks_by_id(&ids)?.into_iter().filter(|t| t.stage == crate::model::TaskStage::Candidate).collect();
        if !pending.is_empty() {
            crate::engine::validation::validate_and_record(store, &env, pending, &opts.validate, &opts.progress)
                .await?;
        }
        let valid: Vec<Task> = store.tasks_by_id(&ids)?.into_iter().filter(Task::is_usable).collect();
        let learnable: Vec<String> = valid.iter().filter(|t| learner.can_learn(t)).map(|t| t.id.clone()).collect();
        opts.progress.message(format!(
            "{}: {} valid tasks, {} with an example in the Solver's answer format",
            path.display(),
            valid.len(),
            learnable.len()
        ));
        pool.extend(learnable);
    }
    pool.sort();
    exp.pool = pool;
    Ok(())
}

/// The pool's tasks as stored, in id order; an error when one is gone.
fn pool_tasks(store: &Store, ids: &[String]) -> anyhow::Result<Vec<Task>> {
    let mut tasks = store.tasks_by_id(ids)?;
    tasks.sort_by(|a, b| a.id.cmp(&b.id));
    if tasks.len() != ids.len() {
        anyhow::bail!("{} of the experiment's {} pool tasks are no longer stored", ids.len() - tasks.len(), ids.len());
    }
    Ok(tasks)
}

/// Split the pool by site, stratified by skill (each task's repair-pattern skill), and draw the
/// warm-up and probe sets from the training side; the held-out tasks' strata are recorded.
fn split_step(store: &mut Store, exp: &mut Experiment) -> anyhow::Result<()> {
    let pool = super::split::with_repair_skills(&pool_tasks(store, &exp.pool)?);
    let split = split_by_site(&pool, exp.inputs.heldout_share, exp.inputs.max_heldout, exp.inputs.split_seed)?;
    exp.strata = pool
        .iter()
        .filter(|t| split.heldout.contains(&t.id))
        .map(|t| (t.id.clone(), super::split::stratum(t)))
        .collect();
    if split.heldout.is_empty() {
        anyhow::bail!(
            "the pool ({} valid tasks) has too few sites to hold any out; give more repositories",
            pool.len()
        );
    }
    let train: Vec<&Task> = pool.iter().filter(|t| split.train.contains(&t.id)).collect();
    let uniform: BTreeMap<String, f64> = train.iter().map(|t| (t.operator.clone(), 1.0)).collect();
    let warmup = super::arms::draw(&train, &uniform, exp.inputs.warmup.min(train.len()), exp.inputs.split_seed);
    let rest: Vec<&Task> = train.iter().copied().filter(|t| !warmup.contains(&t.id)).collect();
    let probe = super::arms::draw(&rest, &uniform, exp.inputs.probe.min(rest.len()), exp.inputs.split_seed);
    (exp.warmup_ids, exp.probe_ids, exp.split) = (warmup, probe, Some(split));
    Ok(())
}

/// Train `tasks` into `dir` through `<dir>.tmp` and a rename: a folder there is a finished adapter.
fn train_into(
    learner: &impl Learner,
    init: Option<&Path>,
    tasks: &[Task],
    steps: usize,
    seed: u64,
    dir: &Path,
) -> anyhow::Result<Trained> {
    let tmp = dir.with_extension("tmp");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| anyhow::anyhow!("{}: {e}", tmp.display()))?;
    }
    let trained = learner.train(init, tasks, steps, seed, &tmp)?;
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    }
    std::fs::rename(&tmp, dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    Ok(trained)
}

fn heldout(exp: &Experiment) -> &[String] {
    exp.split.as_ref().map_or(&[], |s| &s.heldout)
}

/// Train the warm-up adapter (untargeted, fresh factors; with `generated`, on that many
/// generated examples too) and evaluate it on the held-out set.
async fn warmup_step(
    store: &mut Store,
    dir: &Path,
    exp: &mut Experiment,
    opts: &EfficacyOptions,
    learner: &impl Learner,
) -> anyhow::Result<()> {
    let mut tasks = pool_tasks(store, &exp.warmup_ids)?;
    if exp.inputs.generated > 0 {
        let pool = pool_tasks(store, &exp.pool)?;
        let extra = generated_examples(exp, &pool, learner)?;
        opts.progress.message(format!(
            "warm-up: {} pool tasks and {} generated (unvalidated) one-line-fix examples",
            tasks.len(),
            extra.len()
        ));
        exp.generated_used = extra.len();
        tasks.extend(extra);
    }
    let adapter = dir.join(WARMUP);
    let trained = train_into(learner, None, &tasks, exp.inputs.warmup_steps, exp.inputs.split_seed, &adapter)?;
    exp.warmup_adapter_hash = Some(trained.adapter_hash.clone());
    exp.random_weights = learner.random_weights();
    let run =
        evaluate(store, learner, Some(&adapter), exp, WARMUP, exp.inputs.split_seed, exp.warmup_ids.clone(), trained)
            .await?;
    store.save_experiment_arm(&exp.id, WARMUP, run.seed, &run)?;
    Ok(())
}

/// Up to `generated` unvalidated one-line-fix examples for the warm-up: candidates generated with
/// every operator at every site of the experiment's repositories (no coverage filter, no
/// validation: a mutated line and its original are a training example either way), none at a
/// held-out site and none a pool task, kept when the Learner has an example for them, then a
/// seeded draw. Deterministic for the experiment's inputs, so a resumed warm-up trains on the
/// same ones.
pub fn generated_examples(exp: &Experiment, pool: &[Task], learner: &impl Learner) -> anyhow::Result<Vec<Task>> {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    let held: std::collections::BTreeSet<_> =
        pool.iter().filter(|t| heldout(exp).contains(&t.id)).map(super::split::site_key).collect();
    let known: std::collections::BTreeSet<&str> = pool.iter().map(|t| t.id.as_str()).collect();
    let per_repo = (exp.inputs.generated * 3).div_ceil(exp.inputs.repos.len().max(1));
    let mut out: Vec<Task> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (path, _) in &exp.inputs.repos {
        let config = crate::tasks::GenerateConfig {
            budget: per_repo,
            seed: exp.inputs.split_seed ^ 0x9e4e,
            executed_lines: None,
            ..Default::default()
        };
        let (generated, _) = crate::tasks::generate(Path::new(path), &config)?;
        for t in generated {
            let fresh = !known.contains(t.id.as_str()) && !held.contains(&super::split::site_key(&t));
            if fresh && learner.can_learn(&t) && seen.insert(t.id.clone()) {
                out.push(t);
            }
        }
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(exp.inputs.split_seed ^ 0x9e4e));
    out.truncate(exp.inputs.generated);
    Ok(out)
}

/// Attempt the held-out set with `adapter`: the arm × seed's run.
#[allow(clippy::too_many_arguments)]
async fn evaluate(
    store: &mut Store,
    learner: &impl Learner,
    adapter: Option<&Path>,
    exp: &Experiment,
    arm: &str,
    seed: u64,
    train_ids: Vec<String>,
    trained: Trained,
) -> anyhow::Result<ArmRun> {
    let tasks = pool_tasks(store, heldout(exp))?;
    let started = std::time::Instant::now();
    let attempted = learner.attempt(store, adapter, &tasks, exp.inputs.k).await?;
    let outcomes: BTreeMap<String, TaskOutcome> = tasks
        .iter()
        .map(|t| {
            let o = attempted.get(&t.id).map_or(TaskOutcome { resolved: false, pass_at_k: 0.0 }, |a| a.outcome);
            (t.id.clone(), o)
        })
        .collect();
    let fix_ranks = attempted.iter().filter_map(|(id, a)| a.fix_rank.map(|r| (id.clone(), r))).collect();
    let candidate_counts = attempted.iter().filter_map(|(id, a)| a.candidates.map(|n| (id.clone(), n))).collect();
    Ok(ArmRun {
        arm: arm.to_string(),
        seed,
        train_ids,
        trained,
        outcomes,
        eval_seconds: started.elapsed().as_secs_f64(),
        fix_ranks,
        candidate_counts,
    })
}

/// The warm-up Solver attempts the probe set; its attempts become traces, distilled into skills
/// as a round does; targeting weights from those skills; rewards of the training tasks under
/// the warm-up Solver against the probe failures' fixes.
async fn distill_step(
    store: &mut Store,
    dir: &Path,
    exp: &mut Experiment,
    opts: &EfficacyOptions,
    learner: &impl Learner,
) -> anyhow::Result<()> {
    let adapter = dir.join(WARMUP);
    let probe = pool_tasks(store, &exp.probe_ids)?;
    let attempted = learner.attempt(store, Some(&adapter), &probe, 1).await?;
    let traces: Vec<crate::store::StoredTrace> = probe.iter().map(|t| probe_trace(t, attempted.get(&t.id))).collect();
    let instances: Vec<crate::model::Instance> = probe.iter().map(probe_instance).collect();
    let distilled = crate::skills::distill_with(&crate::skills::distill::RuleDistiller, &traces, &instances, &[], 1)
        .map_err(|e| anyhow::anyhow!("distilling skills: {e}"))?;
    exp.skills = distilled.skills;
    let weights = crate::skills::target::skill_weights(&exp.skills, &[]);
    exp.operator_weights = crate::skills::target::operator_weights(&exp.skills, &[]);
    exp.skill_weights = weights.iter().map(|w| (w.skill.clone(), w.weight)).collect();
    let pool = pool_tasks(store, &exp.pool)?;
    exp.task_skills = pool
        .iter()
        .filter_map(|t| crate::engine::round::skill_for(&t.operator, &exp.skills, &weights).map(|s| (t.id.clone(), s)))
        .collect();
    let failed: Vec<&Task> =
        probe.iter().filter(|t| !attempted.get(&t.id).is_some_and(|a| a.outcome.resolved)).collect();
    let train: Vec<&Task> =
        pool.iter().filter(|t| exp.split.as_ref().is_some_and(|s| s.train.contains(&t.id))).collect();
    let (rewards, note) = rewards(store, opts, learner, &adapter, &failed, &train)?;
    (exp.rewards, exp.reward_note) = (rewards, note);
    Ok(())
}

/// A probe attempt as a stored trace (the Solver's diff, labelled by its grading).
fn probe_trace(task: &Task, attempted: Option<&Attempted>) -> crate::store::StoredTrace {
    let resolved = attempted.is_some_and(|a| a.outcome.resolved);
    let patch = attempted.and_then(|a| a.patch.clone()).filter(|p| !p.trim().is_empty());
    let outcome = match (&patch, resolved) {
        (_, true) => Outcome::Resolved,
        (None, false) => Outcome::NoPatch,
        (Some(_), false) => Outcome::Unresolved,
    };
    let label = Label { outcome, failure: None, reason: "graded in the task's container".into(), inferred: false };
    let attempt = crate::engine::solve::Attempt { events: vec![], imported: None, error: None };
    let origin = format!("experiment probe {}", task.id);
    let diff = patch.as_deref().unwrap_or("");
    let mut trace = crate::engine::solve::attempt_trace(task, "lm", attempt, diff, label.clone(), &origin);
    trace.format_version = Some("socratic-experiment-probe".into());
    trace.id = trace.compute_id();
    crate::store::StoredTrace {
        trace,
        effective_label: label,
        label_evidence: Default::default(),
        imported_at: String::new(),
    }
}

/// A probe task as an instance (its own PASS_TO_PASS and image; no environment at hand).
fn probe_instance(task: &Task) -> crate::model::Instance {
    crate::engine::solve::instance_of(task, task.pass_to_pass.clone(), task.image.clone())
}

/// Solver-gradient alignment rewards of `train` under the warm-up Solver: the cosine of each
/// task's gradient feature with the mean feature of the failed probe tasks' fixes (features
/// cached in the store). No reward when nothing failed; a note when the model is random.
fn rewards(
    store: &mut Store,
    opts: &EfficacyOptions,
    learner: &impl Learner,
    adapter: &Path,
    failed: &[&Task],
    train: &[&Task],
) -> anyhow::Result<(BTreeMap<String, f64>, Option<String>)> {
    use crate::score::{FeatureConfig, Scorer, TaskText};
    if failed.is_empty() {
        return Ok((BTreeMap::new(), Some("the warm-up Solver failed no probe task: no reward".into())));
    }
    let feature = FeatureConfig {
        params: crate::score::DEFAULT_PARAMS.to_string(),
        dim: crate::score::DEFAULT_DIM,
        seed: 0,
        max_len: crate::score::DEFAULT_MAX_LEN,
    };
    let (model, adapter) = learner.solver(adapter);
    let scorer = Scorer::load_adapted(&model, adapter.as_deref(), opts.device, feature)
        .map_err(|e| anyhow::anyhow!("{}: {e}", model.display()))?;
    let reference: Vec<TaskText> = failed
        .iter()
        .map(|t| TaskText::from_fix(&t.problem_statement, &crate::diff::reverse(&t.bug_patch).unwrap_or_default()))
        .collect();
    let Some(direction) = crate::engine::scoring::reference_direction(store, &scorer, &reference, |_| {})? else {
        return Ok((BTreeMap::new(), Some("the probe failures' gradients cancel out: no reward".into())));
    };
    let mut counter = opts.progress.start("scoring", train.len() as u64);
    let mut out = BTreeMap::new();
    for t in train {
        let (_, v, _) = crate::engine::scoring::cached_feature(store, &scorer, &TaskText::from_task(t))?;
        out.insert(t.id.clone(), crate::score::cosine(&v, &direction));
        counter.advance(None);
    }
    counter.finish();
    let note = scorer.random_weights().then(|| "random-weights model: rewards are not a signal".to_string());
    Ok((out, note))
}

/// Every seed × arm not stored yet: its training set, training from the warm-up adapter, the
/// held-out evaluation; each stored as it finishes.
async fn arms_step(store: &mut Store, dir: &Path, exp: &Experiment, learner: &impl Learner) -> anyhow::Result<()> {
    let done: Vec<ArmRun> = store.experiment_arms(&exp.id)?;
    let pool = pool_tasks(store, &exp.pool)?;
    let train_side: Vec<&Task> =
        pool.iter().filter(|t| exp.split.as_ref().is_some_and(|s| s.train.contains(&t.id))).collect();
    let labelled: Vec<Task> =
        train_side.iter().map(|t| Task { skill: exp.task_skills.get(&t.id).cloned(), ..(*t).clone() }).collect();
    let inputs = ArmInputs {
        pool: labelled.iter().collect(),
        operator_weights: exp.operator_weights.clone(),
        skill_weights: exp.skill_weights.clone(),
        rewards: exp.rewards.clone(),
        factor: exp.inputs.factor,
        max_skill_share: crate::engine::round::DEFAULT_MAX_SKILL_SHARE,
    };
    if !done.iter().any(|r| r.arm == UNTRAINED) {
        let untrained = Trained { adapter_hash: String::new(), examples: 0, steps: 0, final_loss: None, seconds: 0.0 };
        let run = evaluate(store, learner, None, exp, UNTRAINED, exp.inputs.split_seed, Vec::new(), untrained).await?;
        store.save_experiment_arm(&exp.id, UNTRAINED, run.seed, &run)?;
    }
    let warmup = dir.join(WARMUP);
    for &seed in &exp.seeds {
        for &arm in &exp.arms {
            if done.iter().any(|r| r.arm == arm.name() && r.seed == seed) {
                continue;
            }
            let ids = select_arm(arm, &inputs, exp.inputs.budget, seed)?;
            let tasks = pool_tasks(store, &ids)?;
            let adapter = dir.join(format!("{}-{seed}", arm.name().replace('+', "-")));
            let trained = train_into(learner, Some(&warmup), &tasks, exp.inputs.steps, seed, &adapter)?;
            let run = evaluate(store, learner, Some(&adapter), exp, arm.name(), seed, ids, trained).await?;
            store.save_experiment_arm(&exp.id, arm.name(), seed, &run)?;
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::experiment::learner::LmLearner;
    use crate::experiment::split::{shared_sites, site_key};
    use std::cell::Cell;

    /// A stored experiment of 4 held-out tasks `t-h0..3` (two of skill `swapping`), seeds 0 and 1,
    /// arms untargeted and targeted, on a random-weights model.
    pub fn experiment() -> Experiment {
        let heldout: Vec<String> = (0..4).map(|i| format!("t-h{i}")).collect();
        Experiment {
            id: "e-test".into(),
            inputs: Inputs {
                repos: vec![("/r".into(), "0123456789abcdef".into())],
                model: "/m".into(),
                budget: 2,
                steps: 4,
                pool_per_repo: 10,
                heldout_share: 0.3,
                max_heldout: 4,
                warmup: 2,
                warmup_steps: 2,
                probe: 2,
                factor: 2,
                k: 2,
                device: "cpu".into(),
                split_seed: 0,
                generated: 0,
                training: String::new(),
            },
            seeds: vec![0, 1],
            arms: vec![Arm::Untargeted, Arm::Targeted],
            stage: Stage::Done,
            pool: heldout.clone(),
            split: Some(Split { seed: 0, heldout_share: 0.3, heldout: heldout.clone(), train: vec![] }),
            warmup_ids: vec![],
            probe_ids: vec![],
            warmup_adapter_hash: None,
            skills: vec![],
            operator_weights: BTreeMap::new(),
            skill_weights: BTreeMap::new(),
            task_skills: BTreeMap::new(),
            strata: heldout
                .iter()
                .enumerate()
                .map(|(i, t)| (t.clone(), if i < 2 { "swapping" } else { "flip" }.to_string()))
                .collect(),
            rewards: BTreeMap::new(),
            reward_note: None,
            random_weights: true,
            generated_used: 0,
        }
    }

    /// The real trainer; attempts graded by a fixed rule of the task id and adapter (no
    /// containers: the orchestration is under test here, the Solver in the end-to-end test).
    struct RuleGraded {
        lm: LmLearner,
        trained: Cell<usize>,
        attempts: Cell<usize>,
    }

    impl Learner for RuleGraded {
        fn train(
            &self,
            init: Option<&Path>,
            tasks: &[Task],
            steps: usize,
            seed: u64,
            out: &Path,
        ) -> anyhow::Result<Trained> {
            self.trained.set(self.trained.get() + 1);
            self.lm.train(init, tasks, steps, seed, out)
        }
        async fn attempt(
            &self,
            _store: &mut Store,
            adapter: Option<&Path>,
            tasks: &[Task],
            _k: usize,
        ) -> anyhow::Result<BTreeMap<String, Attempted>> {
            if let Some(adapter) = adapter {
                assert!(adapter.join(crate::train::peft::WEIGHTS_FILE).is_file(), "{}", adapter.display());
            }
            self.attempts.set(self.attempts.get() + 1);
            let name = adapter.map_or("base".into(), |a| a.file_name().unwrap().to_string_lossy().into_owned());
            Ok(tasks
                .iter()
                .map(|t| {
                    let resolved = sha256_hex(format!("{name}{}", t.id).as_bytes())
                        .starts_with(['0', '1', '2', '3', '4', '5', '6', '7']);
                    let patch = (!resolved).then(|| crate::diff::reverse(&t.bug_patch).unwrap_or_default());
                    (
                        t.id.clone(),
                        Attempted {
                            outcome: TaskOutcome { resolved, pass_at_k: if resolved { 1.0 } else { 0.0 } },
                            patch,
                            fix_rank: None,
                            candidates: None,
                        },
                    )
                })
                .collect())
        }
        fn random_weights(&self) -> bool {
            self.lm.random_weights()
        }
        fn can_learn(&self, _task: &Task) -> bool {
            true
        }
        fn solver(&self, trained: &Path) -> (PathBuf, Option<PathBuf>) {
            self.lm.solver(trained)
        }
    }

    /// `n` valid tasks of three operators, each at its own function of `m<i % 4>.py`, with a
    /// one-line bug patch.
    fn pool(repo: &Path, n: usize) -> Vec<Task> {
        (0..n)
            .map(|i| {
                let op = ["flip_comparison", "swap_arguments", "off_by_one"][i % 3];
                let mut t = crate::experiment::split::tests::pool_task(&format!("t-{i:03}"), op, &format!("m{}.py", i % 4), &format!("f{i}"));
                t.repo = repo.display().to_string();
                t.bug_patch = format!(
                    "diff --git a/{f} b/{f}\n--- a/{f}\n+++ b/{f}\n@@ -1 +1 @@\n-def f{i}(a, b): return a < b\n+def f{i}(a, b): return a >= b\n",
                    f = t.site.file
                );
                t.problem_statement = format!("f{i} compares the wrong way");
                t
            })
            .collect()
    }

    #[tokio::test]
    async fn arms_get_equal_budgets_disjoint_from_the_held_out_sites_and_a_rerun_redoes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (home, repo, model) = (dir.path().join("home"), dir.path().join("repo"), dir.path().join("model"));
        crate::examples::write_example_repo(&repo).unwrap();
        let spec = crate::score::TinySpec { layers: 1, width: 32, seed: 0, vocab: None, kv_heads: None };
        crate::score::write_tiny_model(&model, &spec).unwrap();
        let mut store = Store::open(&home).unwrap();
        let mut opts = EfficacyOptions::new(vec![repo.clone()], model.clone());
        (opts.seeds, opts.budget, opts.steps, opts.warmup, opts.warmup_steps, opts.probe, opts.max_heldout) =
            (2, 4, 2, 4, 2, 6, 8);
        let mut lm = LmLearner::new(model.clone(), home.clone(), DeviceKind::Cpu);
        (lm.options.max_len, lm.options.batch, lm.options.lora.rank) = (96, 2, 4);
        lm.answer = crate::train::data::AnswerFormat::Diff;
        let learner = RuleGraded { lm, trained: Cell::new(0), attempts: Cell::new(0) };
        // The pool step needs containers: store a validated pool and start at the split.
        let tasks = pool(&repo.canonicalize().unwrap(), 48);
        store.insert_tasks(&tasks).unwrap();
        let mut exp = open_experiment(&store, &opts).unwrap();
        (exp.pool, exp.stage) = (tasks.iter().map(|t| t.id.clone()).collect(), Stage::Split);
        store.save_experiment(&exp.id, &exp).unwrap();

        let (exp, runs) = run_efficacy(&mut store, &home, &opts, &learner).await.unwrap();
        assert_eq!(exp.stage, Stage::Done);
        let split = exp.split.clone().unwrap();
        assert!(!split.heldout.is_empty() && split.heldout.len() <= 8);
        let by_id: BTreeMap<&str, &Task> = tasks.iter().map(|t| (t.id.as_str(), t)).collect();
        let pick = |ids: &[String]| ids.iter().map(|id| by_id[id.as_str()]).collect::<Vec<_>>();
        assert!(shared_sites(&pick(&split.heldout), &pick(&split.train)).is_empty());
        // The untrained base model, the warm-up, then seeds × arms; every run on the same
        // held-out tasks.
        assert_eq!(runs.len(), 2 + 2 * 4);
        let untrained = runs.iter().find(|r| r.arm == UNTRAINED).expect("the base model is evaluated");
        assert!(untrained.train_ids.is_empty() && untrained.trained.steps == 0);
        for r in &runs {
            assert_eq!(r.outcomes.keys().cloned().collect::<Vec<_>>(), split.heldout, "{}", r.arm);
            let used = pick(&r.train_ids);
            assert!(used.iter().all(|t| !split.heldout.contains(&t.id)));
            assert!(shared_sites(&used, &pick(&split.heldout)).is_empty());
            if r.arm != WARMUP && r.arm != UNTRAINED {
                assert_eq!((r.train_ids.len(), r.trained.examples, r.trained.steps), (4, 4, 2), "{}", r.arm);
                assert!(home
                    .join("experiments")
                    .join(&exp.id)
                    .join(format!("{}-{}", r.arm.replace('+', "-"), r.seed))
                    .is_dir());
            }
        }
        assert!(exp.probe_ids.iter().all(|id| !split.heldout.contains(id)));
        assert!(exp.rewards.keys().all(|id| split.train.contains(id)), "rewards only for training tasks");
        assert_eq!(exp.reward_note.as_deref(), Some("random-weights model: rewards are not a signal"));
        let _ = site_key;
        // Everything is stored: a rerun trains and attempts nothing.
        let (trained, attempts) = (learner.trained.get(), learner.attempts.get());
        assert_eq!((trained, attempts), (9, 11), "warm-up + probe + untrained + 8 arm runs");
        let (_, again) = run_efficacy(&mut store, &home, &opts, &learner).await.unwrap();
        assert_eq!((learner.trained.get(), learner.attempts.get()), (trained, attempts));
        assert_eq!(again, runs);
        // A third seed runs only its four arms.
        opts.seeds = 3;
        let (_, more) = run_efficacy(&mut store, &home, &opts, &learner).await.unwrap();
        assert_eq!((more.len(), learner.trained.get()), (14, trained + 4));
    }

    /// Generated warm-up examples: none at a held-out site, none a pool task, each with a `line`
    /// example, at most the number asked for, the same ones on a second call.
    #[test]
    fn generated_warmup_examples_stay_off_the_held_out_sites() {
        let dir = tempfile::tempdir().unwrap();
        let (home, repo) = (dir.path().join("home"), dir.path().join("repo"));
        crate::examples::write_example_repo(&repo).unwrap();
        let repo = repo.canonicalize().unwrap();
        let config = crate::tasks::GenerateConfig { budget: 60, ..Default::default() };
        let (candidates, _) = crate::tasks::generate(&repo, &config).unwrap();
        let lm = LmLearner::new(PathBuf::from("/no-model"), home, DeviceKind::Cpu);
        let pool: Vec<Task> = candidates.into_iter().filter(|t| lm.can_learn(t)).take(30).collect();
        assert!(pool.len() >= 10, "{} learnable candidates", pool.len());
        let mut exp = experiment();
        exp.inputs.repos = vec![(repo.display().to_string(), "head".into())];
        (exp.inputs.generated, exp.pool) = (40, pool.iter().map(|t| t.id.clone()).collect());
        let held: Vec<String> = pool.iter().step_by(3).map(|t| t.id.clone()).collect();
        exp.split = Some(Split { seed: 0, heldout_share: 0.3, heldout: held.clone(), train: vec![] });
        let generated = generated_examples(&exp, &pool, &lm).unwrap();
        assert!(!generated.is_empty() && generated.len() <= 40, "{}", generated.len());
        let held_tasks: Vec<&Task> = pool.iter().filter(|t| held.contains(&t.id)).collect();
        assert!(shared_sites(&generated.iter().collect::<Vec<_>>(), &held_tasks).is_empty());
        assert!(generated.iter().all(|t| !exp.pool.contains(&t.id) && lm.can_learn(t)));
        assert_eq!(generated, generated_examples(&exp, &pool, &lm).unwrap());
    }
}
