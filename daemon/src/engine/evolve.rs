//! `socratic evolve`: the closed loop. First a held-out set is chosen (K validated tasks on
//! functions no curriculum or training set has touched, generated with their own seed and never
//! kept by a round); then per round: a round of the loop (the reward on the current Solver =
//! base model + latest adapter) → the Solver attempts that round's curriculum → the same
//! Solver attempts the held-out set (graded in containers, nothing stored as a trace) → a LoRA
//! adapter is trained on the curriculum, continuing the latest one, and becomes the next
//! round's Solver (the next round distils the new traces and scores with it).
//!
//! Every step is a stored row (`store::evolve`): started (with a count of starts), then done
//! with what it produced. After a crash `evolve` resumes the unfinished run of the repository:
//! done steps are skipped, a round step resumes its round, solve skips the tasks it already
//! graded, training resumes from its checkpoint. An adapter is trained in
//! `<home>/evolve/run-<id>/round-<n>/adapter.partial` and renamed to `adapter` only when
//! complete, so a half-written adapter is never used.
//!
//! In: the store, a home, `EvolveOptions`. Out: the run, its steps and per-round lines (also
//! stored), adapters under the home, training runs, rounds and Solver results as the single
//! commands make them.

use super::environment::{ensure_env, ImageOptions};
use super::lm_solver::{self, LmConfig};
use super::progress::{Progress, ProgressEvent};
use super::round::{current_round, run_round_holding, RoundLock, RoundOptions, StatedInputs};
use super::solve::{self, SolveOptions, Solver};
use crate::model::{Outcome, RoundStep, Task, TaskStage, TrainingRun};
use crate::score::DeviceKind;
use crate::store::{EvolveLine, EvolveRun, EvolveSettings, EvolveState, EvolveStep, Rate, StepState, Store};
use crate::tasks::{generate, GenerateConfig};
use crate::train::data::AnswerFormat;
use crate::train::{checkpoint, peft, Length, TrainOptions, Trainer};
use crate::validate::run::ValidateConfig;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Mixed into the run's seed for the held-out generation, so it draws other sites than rounds.
pub const HELD_OUT_SALT: u64 = 0x0048_454c_444f_5554;
/// The steps of one round, in order.
pub const ROUND_STEPS: [&str; 4] = ["round", "solve", "held-out", "train"];
/// The run-level step (stored as round 0).
pub const HELD_OUT_SET: &str = "held-out-set";
/// Solvers evolve can drive.
pub const SOLVERS: [&str; 3] = ["lm", "baseline", "oracle"];

/// How to run (or resume) an evolve run.
#[derive(Debug, Clone)]
pub struct EvolveOptions {
    pub repo: PathBuf,
    pub settings: EvolveSettings,
    pub device: DeviceKind,
    pub validate: ValidateConfig,
    pub image: ImageOptions,
    pub progress: Progress,
    /// Abandon the repository's unfinished run and start a new one.
    pub new_run: bool,
}

/// What `evolve` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EvolveSummary {
    pub run: EvolveRun,
    pub resumed: bool,
    pub lines: Vec<EvolveLine>,
    /// The model has random weights: resolve rates and losses on it are no signal.
    pub random_weights: bool,
    /// The last adapter trained (the evolved Solver), if any.
    pub adapter_dir: Option<String>,
}

/// Check the settings a run starts with; an error names the flag.
pub fn check_settings(s: &EvolveSettings) -> anyhow::Result<()> {
    if s.rounds == 0 {
        anyhow::bail!("--rounds must be at least 1");
    }
    if s.held_out == 0 {
        anyhow::bail!("--held-out must be at least 1 (the held-out set is how a run shows the Solver improving)");
    }
    if !SOLVERS.contains(&s.solver.as_str()) {
        anyhow::bail!("unknown --solver '{}' (lm, baseline or oracle)", s.solver);
    }
    if !matches!(s.train.as_str(), "sft" | "rft" | "both") {
        anyhow::bail!("unknown --train '{}' (sft, rft or both)", s.train);
    }
    if !matches!(s.answer.as_str(), "line" | "diff") {
        anyhow::bail!("unknown --answer '{}' (line or diff)", s.answer);
    }
    if s.budget == 0 || s.keep == 0 || s.epochs == 0 {
        anyhow::bail!("--budget, --keep and --epochs must be at least 1");
    }
    Ok(())
}

/// Run (or resume) an evolve run to its end. Holds the home's round lock throughout.
pub async fn evolve(store: &mut Store, home: &Path, opts: &EvolveOptions) -> anyhow::Result<EvolveSummary> {
    check_settings(&opts.settings)?;
    let lock = RoundLock::try_acquire(home)?;
    let (mut run, resumed) = start_run(store, opts)?;
    let progress = &opts.progress;
    if resumed {
        progress.message(format!("evolve run {} resumes where it stopped (its recorded settings apply)", run.id));
    }
    if let Some(step) = begin(store, run.id, 0, HELD_OUT_SET)? {
        let rounds = run.settings.rounds;
        progress.emit(ProgressEvent::EvolveStep { run: run.id, round: 0, rounds, step: HELD_OUT_SET.into() });
        run.held_out = choose_held_out(store, &run, opts).await?;
        store.save_evolve_run(&run)?;
        finish(store, step, json!({ "tasks": run.held_out }))?;
    }
    let held_out: Vec<Task> = store.tasks_by_id(&run.held_out)?;
    let scopes: BTreeSet<(String, String)> = held_out.iter().map(scope).collect();
    for index in 1..=run.settings.rounds {
        let ctx = RoundCtx { run: &run, index, home, opts, held_out: &held_out, scopes: &scopes };
        round_step(store, &ctx, &lock).await?;
        solve_step(store, &ctx).await?;
        held_out_step(store, &ctx).await?;
        train_step(store, &ctx)?;
    }
    run.state = EvolveState::Done;
    store.save_evolve_run(&run)?;
    let random_weights = random_weights(&model_dir(home, &run.settings));
    let lines = store.evolve_lines(&run, random_weights)?;
    let adapter_dir = current_adapter(store, &run, run.settings.rounds + 1)?.map(|(d, _)| d.display().to_string());
    Ok(EvolveSummary { run, resumed, lines, random_weights, adapter_dir })
}

/// The repository's unfinished run (resumed), else a new one (after abandoning the unfinished
/// one when asked).
fn start_run(store: &mut Store, opts: &EvolveOptions) -> anyhow::Result<(EvolveRun, bool)> {
    let repo = opts.repo.canonicalize().map_err(|e| anyhow::anyhow!("{}: {e}", opts.repo.display()))?;
    let repo = repo.display().to_string();
    let unfinished = store.evolve_runs()?.into_iter().rev().find(|r| r.repo == repo && r.state == EvolveState::Running);
    if let Some(mut r) = unfinished {
        if !opts.new_run {
            return Ok((r, true));
        }
        r.state = EvolveState::Abandoned;
        store.save_evolve_run(&r)?;
        opts.progress.message(format!("evolve run {} abandoned unfinished", r.id));
    }
    let new = EvolveRun { id: 0, repo, state: EvolveState::Running, settings: opts.settings.clone(), held_out: vec![] };
    Ok((store.create_evolve_run(&new)?, false))
}

/// Start a step (counting the start), or `None` when it is already done.
fn begin(store: &mut Store, run_id: i64, round: u32, name: &str) -> anyhow::Result<Option<EvolveStep>> {
    let step = match store.evolve_step(run_id, round, name)? {
        Some(s) if s.state == StepState::Done => return Ok(None),
        Some(s) => EvolveStep { starts: s.starts + 1, ..s },
        None => {
            EvolveStep { run_id, round, step: name.to_string(), state: StepState::Running, starts: 1, data: json!({}) }
        }
    };
    store.save_evolve_step(&step)?;
    Ok(Some(step))
}

fn finish(store: &mut Store, step: EvolveStep, data: serde_json::Value) -> anyhow::Result<()> {
    store.save_evolve_step(&EvolveStep { state: StepState::Done, data, ..step })?;
    Ok(())
}

/// A task's function: (file, dotted scope).
pub fn scope(t: &Task) -> (String, String) {
    (t.site.file.clone(), t.site.scope.clone())
}

/// The functions of every task that was ever in a curriculum or a training set.
fn trained_scopes(store: &Store) -> anyhow::Result<BTreeSet<(String, String)>> {
    let mut ids: BTreeSet<String> = store.rounds()?.into_iter().flat_map(|r| r.kept).collect();
    ids.extend(store.training_runs()?.into_iter().flat_map(|r| r.data_ids));
    let ids: Vec<String> = ids.into_iter().collect();
    Ok(store.tasks_by_id(&ids)?.iter().map(scope).collect())
}

/// Generate candidates with the held-out seed (no round), validate them, keep the first K
/// valid ones on distinct functions that no curriculum or training set has touched.
/// Deterministic for the same store and repository, so a cut-short choice is made again alike.
async fn choose_held_out(store: &mut Store, run: &EvolveRun, opts: &EvolveOptions) -> anyhow::Result<Vec<String>> {
    let repo = Path::new(&run.repo);
    let k = run.settings.held_out;
    let env = ensure_env(store, repo, &opts.image, &opts.progress).await?;
    let trained = trained_scopes(store)?;
    let config = GenerateConfig {
        budget: k.saturating_mul(3).max(6),
        seed: run.settings.seed ^ HELD_OUT_SALT,
        round: None,
        executed_lines: Some(env.executed_lines()),
        ..Default::default()
    };
    let (generated, reports) = generate(repo, &config)?;
    if generated.is_empty() {
        anyhow::bail!("no held-out candidates for {}: {}", run.repo, crate::tasks::why_no_candidates(&reports));
    }
    let ids: Vec<String> = generated.iter().map(|t| t.id.clone()).collect();
    let in_rounds: BTreeSet<String> =
        store.tasks_by_id(&ids)?.into_iter().filter(|t| t.round.is_some()).map(|t| t.id).collect();
    let fresh: Vec<Task> =
        generated.into_iter().filter(|t| !in_rounds.contains(&t.id) && !trained.contains(&scope(t))).collect();
    super::repository::record_identity(store, repo)?;
    store.insert_tasks(&fresh)?;
    let ids: Vec<String> = fresh.iter().map(|t| t.id.clone()).collect();
    let pending: Vec<Task> =
        store.tasks_by_id(&ids)?.into_iter().filter(|t| matches!(t.stage, TaskStage::Candidate)).collect();
    if !pending.is_empty() {
        super::validation::validate_and_record(store, &env, pending, &opts.validate, &opts.progress).await?;
    }
    let stored: BTreeMap<String, Task> = store.tasks_by_id(&ids)?.into_iter().map(|t| (t.id.clone(), t)).collect();
    let valid = ids.iter().filter_map(|id| stored.get(id)).filter(|t| t.stage.is_valid());
    let chosen = pick_distinct(valid, k);
    if chosen.is_empty() {
        anyhow::bail!(
            "no valid held-out task for {} among {} candidates on untrained functions; try another --seed",
            run.repo,
            ids.len()
        );
    }
    if chosen.len() < k {
        opts.progress.message(format!("only {} valid held-out tasks on distinct functions (asked {k})", chosen.len()));
    }
    Ok(chosen)
}

/// The first `k` tasks (in the order given) whose functions differ. Pure.
pub fn pick_distinct<'a>(tasks: impl Iterator<Item = &'a Task>, k: usize) -> Vec<String> {
    let mut seen = BTreeSet::new();
    tasks.filter(|t| seen.insert(scope(t))).take(k).map(|t| t.id.clone()).collect()
}

/// What every step of one round needs.
struct RoundCtx<'a> {
    run: &'a EvolveRun,
    index: u32,
    home: &'a Path,
    opts: &'a EvolveOptions,
    held_out: &'a [Task],
    scopes: &'a BTreeSet<(String, String)>,
}

impl RoundCtx<'_> {
    fn settings(&self) -> &EvolveSettings {
        &self.run.settings
    }

    /// Report that `step` of this round began.
    fn step(&self, step: &str) {
        let (run, round, rounds) = (self.run.id, self.index, self.run.settings.rounds);
        self.opts.progress.emit(ProgressEvent::EvolveStep { run, round, rounds, step: step.into() });
    }

    fn say(&self, what: &str) {
        self.opts
            .progress
            .message(format!("evolve run {} round {}/{}: {what}", self.run.id, self.index, self.run.settings.rounds));
    }

    /// The loop round this evolve round runs as (recorded by its round step).
    fn round_number(&self, store: &Store) -> anyhow::Result<u32> {
        store
            .evolve_step(self.run.id, self.index, "round")?
            .and_then(|s| s.data["round"].as_u64())
            .map(|n| n as u32)
            .ok_or_else(|| anyhow::anyhow!("evolve run {} round {}: no round recorded", self.run.id, self.index))
    }

    /// The Solver of this round: the base model with the adapter the last round trained.
    fn solver(&self, store: &Store) -> anyhow::Result<Solver> {
        let adapter = current_adapter(store, self.run, self.index)?;
        make_solver(self.settings(), &model_dir(self.home, self.settings()), adapter.as_ref().map(|(d, _)| d.as_path()))
    }
}

/// The Solver named by the settings, on `model` with `adapter` (the LM Solver's name carries
/// both hashes, so each round's results are kept apart).
fn make_solver(s: &EvolveSettings, model: &Path, adapter: Option<&Path>) -> anyhow::Result<Solver> {
    match s.solver.as_str() {
        "baseline" => Ok(Solver::Baseline),
        "oracle" => Ok(Solver::Oracle),
        "lm" => {
            if !model.join("config.json").is_file() {
                anyhow::bail!("--solver lm: no model in {} (pass --model DIR)", model.display());
            }
            let cfg = LmConfig {
                name: lm_solver::name_of(model, adapter)?,
                model: model.to_path_buf(),
                adapter: adapter.map(Path::to_path_buf),
                answer: answer(s)?,
                seed: s.seed,
                device: s.device.parse().map_err(|e: String| anyhow::anyhow!(e))?,
                ..LmConfig::default()
            };
            Ok(Solver::Lm(Box::new(cfg)))
        }
        other => anyhow::bail!("unknown --solver '{other}' (lm, baseline or oracle)"),
    }
}

fn answer(s: &EvolveSettings) -> anyhow::Result<AnswerFormat> {
    s.answer.parse().map_err(|e: String| anyhow::anyhow!("--answer: {e}"))
}

/// The Solver's model folder: the setting, else the home's scoring model.
pub fn model_dir(home: &Path, s: &EvolveSettings) -> PathBuf {
    s.model.as_ref().map(PathBuf::from).unwrap_or_else(|| home.join("models").join("tiny"))
}

/// Whether `model` is marked as random weights.
pub fn random_weights(model: &Path) -> bool {
    model.join(crate::score::RANDOM_WEIGHTS_MARKER).exists()
}

/// The adapter trained by the latest round before `index` that trained one: (folder, hash).
/// Only a finished adapter folder is ever named (training renames it into place when complete).
fn current_adapter(store: &Store, run: &EvolveRun, index: u32) -> anyhow::Result<Option<(PathBuf, String)>> {
    for i in (1..index).rev() {
        let Some(step) = store.evolve_step(run.id, i, "train")? else { continue };
        if step.state != StepState::Done {
            continue;
        }
        if let (Some(dir), Some(hash)) = (step.data["adapter_dir"].as_str(), step.data["adapter_hash"].as_str()) {
            return Ok(Some((PathBuf::from(dir), hash.to_string())));
        }
    }
    Ok(None)
}

async fn round_step(store: &mut Store, ctx: &RoundCtx<'_>, lock: &RoundLock) -> anyhow::Result<()> {
    let Some(mut step) = begin(store, ctx.run.id, ctx.index, "round")? else { return Ok(()) };
    ctx.step("round");
    let s = ctx.settings();
    let adapter = current_adapter(store, ctx.run, ctx.index)?;
    let ropts = RoundOptions {
        seed: s.seed,
        budget: s.budget,
        keep: s.keep,
        max_skill_share: s.max_skill_share,
        stated: StatedInputs { seed: true, budget: true, keep: true, max_skill_share: true },
        model: s.model.as_ref().map(PathBuf::from),
        adapter: adapter.as_ref().map(|(d, _)| d.clone()),
        device: ctx.opts.device,
        validate: ctx.opts.validate.clone(),
        image: ctx.opts.image.clone(),
        progress: ctx.opts.progress.clone(),
        held_out_scopes: ctx.scopes.clone(),
        ..RoundOptions::new(PathBuf::from(&ctx.run.repo))
    };
    // Record which round this is before it runs, so a crash between its end and this step's
    // end finds it finished instead of starting another.
    let number = match step.data["round"].as_u64() {
        Some(n) => n as u32,
        None => {
            let n = current_round(store, &ropts)?.round.number;
            step.data = json!({ "round": n, "adapter_hash": adapter.as_ref().map(|(_, h)| h) });
            store.save_evolve_step(&step)?;
            n
        }
    };
    let round = match store.round(number)? {
        Some(r) if r.step == RoundStep::Done => r,
        _ => run_round_holding(store, ctx.home, &ropts, lock).await?,
    };
    let data = json!({
        "round": round.number,
        "adapter_hash": round.inputs.adapter_hash,
        "kept": round.kept,
        "valid": round.valid,
    });
    finish(store, step, data)
}

/// Resolved of attempted over `outcomes`.
fn rate<'a>(outcomes: impl Iterator<Item = &'a Outcome>) -> Rate {
    outcomes.fold(Rate::default(), |r, o| Rate {
        resolved: r.resolved + usize::from(*o == Outcome::Resolved),
        attempted: r.attempted + 1,
    })
}

async fn solve_step(store: &mut Store, ctx: &RoundCtx<'_>) -> anyhow::Result<()> {
    let Some(step) = begin(store, ctx.run.id, ctx.index, "solve")? else { return Ok(()) };
    ctx.step("solve");
    let number = ctx.round_number(store)?;
    let solver = ctx.solver(store)?;
    let opts = SolveOptions {
        round: Some(number),
        solver: solver.clone(),
        image: ctx.opts.image.clone(),
        progress: ctx.opts.progress.clone(),
    };
    solve::solve(store, ctx.home, &opts).await?;
    let results = store.solve_results_of(number, solver.name())?;
    let rate = rate(results.iter().map(|r| &r.report.outcome));
    finish(store, step, json!({ "solver": solver.name(), "round": number, "rate": rate }))
}

async fn held_out_step(store: &mut Store, ctx: &RoundCtx<'_>) -> anyhow::Result<()> {
    let Some(step) = begin(store, ctx.run.id, ctx.index, "held-out")? else { return Ok(()) };
    ctx.step("held-out");
    let solver = ctx.solver(store)?;
    let label = format!("evolve-{}/round-{}-held-out", ctx.run.id, ctx.index);
    let outcomes =
        solve::attempt_tasks(store, ctx.home, ctx.held_out, &label, &solver, &ctx.opts.image, &ctx.opts.progress)
            .await?;
    let rate = rate(outcomes.iter().map(|(_, o)| o));
    let by_task: BTreeMap<&str, &str> = outcomes.iter().map(|(id, o)| (id.as_str(), o.as_str())).collect();
    finish(store, step, json!({ "solver": solver.name(), "rate": rate, "outcomes": by_task }))
}

/// `<home>/evolve/run-<id>/round-<n>`.
fn round_dir(home: &Path, run: &EvolveRun, index: u32) -> PathBuf {
    home.join("evolve").join(format!("run-{}", run.id)).join(format!("round-{index}"))
}

/// Beside the adapter, what its training did (read back when a run resumes after the rename).
const TRAINING_FILE: &str = "evolve-training.json";

fn train_step(store: &mut Store, ctx: &RoundCtx<'_>) -> anyhow::Result<()> {
    let Some(step) = begin(store, ctx.run.id, ctx.index, "train")? else { return Ok(()) };
    ctx.step("train");
    let dir = round_dir(ctx.home, ctx.run, ctx.index);
    let done = dir.join("adapter");
    if !done.join(TRAINING_FILE).is_file() {
        let number = ctx.round_number(store)?;
        let examples = match round_examples(store, number, ctx.scopes, ctx.settings())? {
            Ok(e) => e,
            Err(why) => {
                ctx.say(&format!("no training: {why}; the adapter carries over"));
                return finish(store, step, json!({ "skipped": why }));
            }
        };
        train_into(store, ctx, &dir, number, &examples)?;
    }
    let text = std::fs::read_to_string(done.join(TRAINING_FILE))?;
    let run: TrainingRun = serde_json::from_str(&text)?;
    // The row is written once, after the adapter is in place.
    let stored = store.training_runs()?.into_iter().any(|r| r.adapter_dir == run.adapter_dir);
    if !stored {
        store.save_training_run(&run)?;
    }
    let data = json!({
        "adapter_dir": run.adapter_dir,
        "adapter_hash": run.adapter_hash,
        "examples": run.data_ids.len(),
        "steps": run.losses.len(),
        "first_loss": run.losses.first(),
        "last_loss": run.losses.last(),
    });
    finish(store, step, data)
}

/// What round `number` trains on, by `--train`: `sft` the curriculum's fixes, `rft` the
/// Solver's resolved attempts of that round (their conversations, in the Solver's answer
/// format; held-out attempts store no result of a round, so none is among them), `both` the
/// two together. `Err` inside says why there is nothing.
fn round_examples(
    store: &Store,
    number: u32,
    held_out: &BTreeSet<(String, String)>,
    s: &EvolveSettings,
) -> anyhow::Result<Result<Vec<crate::train::ChatExample>, String>> {
    let sft = || curriculum_examples(store, number, held_out, answer(s)?);
    let rft = || match crate::train::rft::select(store, Some(number)) {
        Ok(r) => Ok(r.examples),
        Err(e) => Err(e.to_string()),
    };
    Ok(match s.train.as_str() {
        "rft" => rft(),
        "both" => match (sft()?, rft()) {
            (Ok(mut a), Ok(b)) => {
                a.extend(b);
                Ok(a)
            }
            (Ok(a), Err(_)) | (Err(_), Ok(a)) => Ok(a),
            (Err(a), Err(b)) => Err(format!("{a}; {b}")),
        },
        _ => sft()?,
    })
}

/// The SFT examples of round `number`'s curriculum, or why there are none. A held-out
/// function in the set refuses (it would be a leak).
fn curriculum_examples(
    store: &Store,
    number: u32,
    held_out: &BTreeSet<(String, String)>,
    answer: AnswerFormat,
) -> anyhow::Result<Result<Vec<crate::train::ChatExample>, String>> {
    let selection = crate::export::Selection { round: Some(number), valid: false };
    let selected = match crate::export::select(store, &selection) {
        Ok(s) => s,
        Err(e) => return Ok(Err(format!("no curriculum to train on ({e})"))),
    };
    if let Some(t) = selected.tasks.iter().find(|t| held_out.contains(&scope(t))) {
        anyhow::bail!("task {} of round {number}'s curriculum is on a held-out function", t.id);
    }
    let tasks = crate::export::prepare(store, &selected.tasks)?;
    let (examples, _left_out) = crate::export::sft::examples(&tasks, answer);
    if examples.is_empty() {
        return Ok(Err(format!(
            "no task of round {number}'s curriculum has an example in the {} format",
            answer.as_str()
        )));
    }
    Ok(Ok(examples))
}

/// Train in `dir/adapter.partial` (resuming its checkpoint), then rename it to `dir/adapter`.
fn train_into(
    store: &Store,
    ctx: &RoundCtx<'_>,
    dir: &Path,
    number: u32,
    examples: &[crate::train::ChatExample],
) -> anyhow::Result<()> {
    let s = ctx.settings();
    let (partial, done) = (dir.join("adapter.partial"), dir.join("adapter"));
    // A partial folder without a checkpoint was cut short after training: start it over (the
    // same seed and data give the same bytes).
    if partial.exists() && !partial.join(checkpoint::FILE).is_file() {
        std::fs::remove_dir_all(&partial).map_err(|e| anyhow::anyhow!("{}: {e}", partial.display()))?;
    }
    crate::store::owner_only::create_dir(&partial)?;
    let model = model_dir(ctx.home, s);
    let options = TrainOptions {
        length: Length::Epochs(s.epochs),
        seed: s.seed.wrapping_add(ctx.index as u64),
        ..TrainOptions::default()
    };
    let mut trainer =
        Trainer::load(&model, ctx.opts.device, options).map_err(|e| anyhow::anyhow!("{}: {e}", model.display()))?;
    if let Some((previous, _)) = current_adapter(store, ctx.run, ctx.index)? {
        trainer.continue_from(&previous).map_err(|e| anyhow::anyhow!("continuing {}: {e}", previous.display()))?;
    }
    let data = trainer.tokenize(examples)?;
    let result = trainer.run(&data, Some(&partial), true, &ctx.opts.progress)?;
    let base_name = std::fs::canonicalize(&model).unwrap_or(model.clone()).display().to_string();
    let adapter_hash = peft::save(&partial, &trainer.lora, &base_name)?;
    checkpoint::remove(&partial)?;
    let run = TrainingRun {
        model_hash: trainer.model_hash.clone(),
        adapter_hash,
        adapter_dir: done.display().to_string(),
        method: s.train.clone(),
        source: format!("evolve run {} round {}: round {number} curriculum", ctx.run.id, ctx.index),
        round: Some(number),
        data_ids: examples.iter().map(|e| e.id.clone()).collect(),
        settings: serde_json::to_value(&trainer.options)?,
        device: ctx.opts.device.as_str().into(),
        losses: result.losses,
        tokens: result.tokens,
        seconds: result.seconds,
        tokens_per_second: result.tokens_per_second,
    };
    crate::train::write_atomic(&partial.join(TRAINING_FILE), serde_json::to_string(&run)?.as_bytes())?;
    std::fs::rename(&partial, &done).map_err(|e| anyhow::anyhow!("{} → {}: {e}", partial.display(), done.display()))?;
    Ok(())
}

/// One line per round of a run, for the CLI.
pub fn line_text(l: &EvolveLine) -> String {
    let adapter =
        l.adapter_hash.as_deref().map_or("base model".to_string(), |h| format!("adapter {}", &h[..12.min(h.len())]));
    let round = l.round.map_or("-".to_string(), |n| n.to_string());
    let loss = l.loss.map_or("-".to_string(), |x| format!("{x:.4}"));
    let random = if l.random_weights { " [random-weights model: not a signal]" } else { "" };
    format!(
        "round {} (loop round {round}, {adapter}): curriculum {}, held-out {}, training loss {loss}{random}",
        l.index,
        l.curriculum.map_or("-".into(), |r| r.describe()),
        l.held_out.map_or("-".into(), |r| r.describe()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::curriculum::tests::task;
    use crate::model::Decision;

    fn settings() -> EvolveSettings {
        EvolveSettings {
            rounds: 3,
            solver: "baseline".into(),
            model: None,
            answer: "line".into(),
            train: "sft".into(),
            held_out: 2,
            seed: 0,
            budget: 6,
            keep: 3,
            max_skill_share: 0.5,
            epochs: 1,
            device: "cpu".into(),
        }
    }

    #[test]
    fn bad_settings_name_the_flag() {
        check_settings(&settings()).unwrap();
        let bad = |f: fn(&mut EvolveSettings)| {
            let mut s = settings();
            f(&mut s);
            check_settings(&s).unwrap_err().to_string()
        };
        assert!(bad(|s| s.rounds = 0).contains("--rounds"));
        assert!(bad(|s| s.held_out = 0).contains("--held-out"));
        assert!(bad(|s| s.train = "ppo".into()).contains("--train 'ppo'"));
        let mut rft = settings();
        rft.train = "both".into();
        check_settings(&rft).unwrap();
        assert!(bad(|s| s.solver = "gpt".into()).contains("--solver 'gpt'"));
        assert!(bad(|s| s.answer = "poem".into()).contains("--answer 'poem'"));
    }

    #[test]
    fn held_out_picks_distinct_functions_in_order() {
        let mut a = task("t-1", 0, Decision::None);
        a.site.scope = "f".into();
        let mut b = task("t-2", 0, Decision::None);
        b.site.scope = "f".into();
        let mut c = task("t-3", 0, Decision::None);
        c.site.scope = "g".into();
        let tasks = [a, b, c];
        assert_eq!(pick_distinct(tasks.iter(), 5), vec!["t-1", "t-3"]);
        assert_eq!(pick_distinct(tasks.iter(), 1), vec!["t-1"]);
    }

    #[test]
    fn rates_count_resolved_of_attempted() {
        let r = rate([Outcome::Resolved, Outcome::NoPatch, Outcome::Unresolved].iter());
        assert_eq!((r.resolved, r.attempted), (1, 3));
    }

    #[test]
    fn a_line_labels_random_weights() {
        let l = EvolveLine {
            index: 2,
            round: Some(5),
            adapter_hash: Some("0123456789abcdef".into()),
            curriculum: Some(Rate { resolved: 1, attempted: 2 }),
            held_out: None,
            loss: Some(1.25),
            trained_adapter: None,
            random_weights: true,
        };
        assert_eq!(
            line_text(&l),
            "round 2 (loop round 5, adapter 0123456789ab): curriculum 1/2 (50%), held-out -, training loss 1.2500 \
             [random-weights model: not a signal]"
        );
    }
}
