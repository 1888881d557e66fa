//! The loop on the embedded default, with nothing configured: the example traces compiled into
//! the binary are imported, the example repository (tallyho) is written into the home, then
//! rounds run with the `baseline` Solver attempting each round's curriculum, so round 2 is
//! targeted by what the baseline failed in round 1. Without Docker, only round-1 candidates
//! are generated.
//!
//! After the baseline rounds, a short `evolve` (`DEMO_EVOLVE_ROUNDS` rounds, the LM Solver on the
//! home's tiny random model, CPU, small budgets) shows the closed loop turning: each round
//! records the adapter it scored with, the held-out set is graded in containers, an adapter is
//! trained on each curriculum. A random model cannot show learning; the summary says so.
//!
//! In: the store, a home, `DemoOptions` (with a progress sink). Out: the import report and the
//! repository path (`prepare`), per round the `Round` and the Solver's `SolveSummary`
//! (`round_and_solve`), or the generated candidates (`generate_only`); the summary rows of every
//! round (`round_rows`) and the HTML report written beside the store (`write_report`).

use super::environment::ImageOptions;
use super::import::{import_bytes, ImportReport};
use super::progress::Progress;
use super::round::{run_round, skill_weighted, RoundOptions, DEFAULT_BUDGET, DEFAULT_SEED, UNTARGETED};
use super::solve::{solve, SolveOptions, SolveSummary, Solver};
use crate::model::{Outcome, Round, RoundStep};
use crate::store::Store;
use crate::tasks::{generate, GenerateConfig};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Tasks the demo keeps per round (more than a plain round: the example has many skills).
pub const DEMO_KEEP: usize = 12;
/// Rounds the demo runs.
pub const DEMO_ROUNDS: u32 = 2;
/// Rounds of the demo's closing `evolve` run.
pub const DEMO_EVOLVE_ROUNDS: u32 = 2;

/// How to run the demo.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub budget: usize,
    pub keep: usize,
    /// Rounds in all (finished ones count).
    pub rounds: u32,
    pub seed: u64,
    /// Rounds of the closing evolve run (0: none).
    pub evolve_rounds: u32,
    pub image: ImageOptions,
    pub progress: Progress,
}

impl Default for DemoOptions {
    fn default() -> DemoOptions {
        DemoOptions {
            budget: DEFAULT_BUDGET,
            keep: DEMO_KEEP,
            rounds: DEMO_ROUNDS,
            seed: DEFAULT_SEED,
            evolve_rounds: DEMO_EVOLVE_ROUNDS,
            image: ImageOptions::default(),
            progress: Progress::none(),
        }
    }
}

/// The example traces imported and the example repository written.
#[derive(Debug, Serialize)]
pub struct DemoSetup {
    pub import: ImportReport,
    pub repository: PathBuf,
}

/// Import the embedded example traces and write the example repository under the home.
pub fn prepare(store: &mut Store, home: &Path) -> anyhow::Result<DemoSetup> {
    let import = import_bytes(store, crate::examples::TRACE_FILES)?;
    let repository = home.join("example").join("tallyho");
    crate::examples::write_example_repo(&repository)
        .map_err(|e| anyhow::anyhow!("writing the example repository: {e}"))?;
    Ok(DemoSetup { import, repository })
}

/// Round-1 candidates without Docker: what was distilled and generated.
#[derive(Debug, Serialize)]
pub struct Generated {
    /// Names of the distilled skills.
    pub skills: Vec<String>,
    pub generated: usize,
    /// Of those, how many the store did not have yet.
    pub new: usize,
}

/// Distill skills from the stored traces and generate skill-weighted candidates in `repo`
/// (stored), without validating them.
pub fn generate_only(store: &mut Store, repo: &Path, opts: &DemoOptions) -> anyhow::Result<Generated> {
    let (distilled, _) = super::round::distill_stored(store)?;
    let base = GenerateConfig { budget: opts.budget, seed: opts.seed, ..Default::default() };
    let config = skill_weighted(base, &store.skills()?, &store.coverage_counts()?);
    let (tasks, _) = generate(repo, &config)?;
    super::repository::record_identity(store, repo)?;
    let new = store.insert_tasks(&tasks)?;
    let skills = distilled.skills.iter().map(|s| s.name.clone()).collect();
    Ok(Generated { skills, generated: tasks.len(), new })
}

/// How many of the demo's rounds are still to run (finished rounds count toward the total;
/// at least one runs).
pub fn rounds_left(store: &Store, opts: &DemoOptions) -> anyhow::Result<u32> {
    let done = store.rounds()?.iter().filter(|r| r.step == RoundStep::Done).count() as u32;
    Ok(opts.rounds.max(1).saturating_sub(done))
}

/// Run (or resume) one round on `repo`, then let the baseline Solver attempt its curriculum.
pub async fn round_and_solve(
    store: &mut Store,
    home: &Path,
    repo: &Path,
    opts: &DemoOptions,
) -> anyhow::Result<(Round, SolveSummary)> {
    let round_opts = RoundOptions {
        seed: opts.seed,
        budget: opts.budget,
        keep: opts.keep,
        image: opts.image.clone(),
        progress: opts.progress.clone(),
        ..RoundOptions::new(repo.to_path_buf())
    };
    let round = run_round(store, home, &round_opts).await?;
    let solve_opts = SolveOptions {
        round: Some(round.number),
        solver: Solver::Baseline,
        image: opts.image.clone(),
        progress: opts.progress.clone(),
    };
    let summary = solve(store, home, &solve_opts).await?;
    Ok((round, summary))
}

/// One round's line of the summary table.
#[derive(Debug, Serialize)]
pub struct RoundRow {
    pub round: u32,
    pub candidates: usize,
    pub valid: usize,
    pub kept: usize,
    pub seconds: f64,
    pub baseline_resolved: usize,
    pub baseline_attempted: usize,
    /// Kept tasks per skill.
    pub kept_by_skill: BTreeMap<String, usize>,
}

/// The summary row of every stored round.
pub fn round_rows(store: &Store) -> anyhow::Result<Vec<RoundRow>> {
    store.rounds()?.iter().map(|r| round_row(store, r)).collect()
}

fn round_row(store: &Store, round: &Round) -> anyhow::Result<RoundRow> {
    let results = store.solve_results_of(round.number, "baseline")?;
    let tasks = store.tasks_by_id(&round.kept)?;
    let mut kept_by_skill = BTreeMap::new();
    for id in &round.kept {
        let skill =
            tasks.iter().find(|t| &t.id == id).and_then(|t| t.skill.clone()).unwrap_or_else(|| UNTARGETED.into());
        *kept_by_skill.entry(skill).or_default() += 1;
    }
    Ok(RoundRow {
        round: round.number,
        candidates: round.candidates,
        valid: round.valid,
        kept: round.kept.len(),
        seconds: round.timings_ms.values().sum::<u64>() as f64 / 1000.0,
        baseline_resolved: results.iter().filter(|r| r.report.outcome == Outcome::Resolved).count(),
        baseline_attempted: results.len(),
        kept_by_skill,
    })
}

/// The demo's evolve run: the LM Solver on the home's tiny model (written by the first round's
/// scoring), answering with diffs so every curriculum task trains, on small budgets.
pub fn evolve_options(repo: &Path, opts: &DemoOptions) -> super::evolve::EvolveOptions {
    super::evolve::EvolveOptions {
        repo: repo.to_path_buf(),
        settings: crate::store::EvolveSettings {
            rounds: opts.evolve_rounds,
            solver: "lm".into(),
            model: None,
            answer: "diff".into(),
            train: "sft".into(),
            held_out: 3,
            seed: opts.seed,
            budget: 8,
            keep: 4,
            max_skill_share: super::round::DEFAULT_MAX_SKILL_SHARE,
            epochs: 1,
            device: "cpu".into(),
        },
        device: crate::score::DeviceKind::Cpu,
        validate: Default::default(),
        image: opts.image.clone(),
        progress: opts.progress.clone(),
        new_run: false,
    }
}

/// Whether the demo still has its evolve run to make (none finished on `repo` yet).
pub fn evolve_left(store: &Store, repo: &Path, opts: &DemoOptions) -> anyhow::Result<bool> {
    let repo = repo.canonicalize().unwrap_or(repo.to_path_buf()).display().to_string();
    let done = store.evolve_runs()?.iter().any(|r| r.repo == repo && r.state == crate::store::EvolveState::Done);
    Ok(opts.evolve_rounds > 0 && !done)
}

/// What the tiny model's evolve run can and cannot show (for the summary).
pub const EVOLVE_NOTE: &str = "the tiny model has random weights: the evolve lines show the loop turning \
(each round scores with the adapter the round before trained, the held-out set is graded in containers, \
training loss is computed), not the Solver improving; its resolve rates are no signal. With a real model \
(socratic evolve --model DIR --device cuda) the held-out line is the one to watch.";

/// The HTML report of the home, written beside the store.
pub fn write_report(store: &Store, home: &Path) -> anyhow::Result<PathBuf> {
    let path = home.join("report.html");
    let page = crate::report::html::render(&crate::report::gather(store)?);
    std::fs::write(&path, page).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(path)
}
