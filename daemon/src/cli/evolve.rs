//! `socratic evolve`: the closed loop (round → solve → held-out → train, N rounds), resumable.
//!
//! In: the repository, the number of rounds, the Solver and its model, the round's knobs. Out:
//! one line per round on stdout (curriculum and held-out resolve rates, adapter, training loss;
//! or one JSON document with `--json`), progress on stderr. Exit 1 when a step fails (rerun to
//! resume), 2 for bad flags.

use super::env::{runtime, ImageArgs};
use super::{print_json, EXIT_OK, EXIT_USAGE};
use crate::engine::evolve::{check_settings, evolve, line_text, EvolveOptions};
use crate::engine::round::{DEFAULT_BUDGET, DEFAULT_KEEP, DEFAULT_MAX_SKILL_SHARE, DEFAULT_SEED};
use crate::store::{EvolveSettings, Store};
use crate::validate::run::ValidateConfig;
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct EvolveArgs {
    /// Repository the rounds generate tasks in.
    #[arg(long)]
    pub repo: PathBuf,
    /// Rounds of round → solve → held-out → train.
    #[arg(long, default_value_t = 3)]
    pub rounds: u32,
    /// The Solver that learns: lm (the model with the latest adapter); baseline or oracle drive
    /// the loop without learning.
    #[arg(long, default_value = "lm")]
    pub solver: String,
    /// The Solver's model folder (default: the home's scoring model).
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// How the LM Solver answers and is trained to: line (the marked line corrected) or diff.
    #[arg(long, default_value = "line")]
    pub answer: String,
    /// Training each round: sft (the curriculum's fixes), rft (the Solver's resolved attempts of
    /// the round, their conversations) or both.
    #[arg(long, default_value = "sft")]
    pub train: String,
    /// Tasks in the held-out set (chosen at the start, never trained on).
    #[arg(long, default_value_t = 5)]
    pub held_out: usize,
    /// Epochs of each round's training.
    #[arg(long, default_value_t = 3)]
    pub epochs: usize,
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub seed: u64,
    /// Candidates generated per round.
    #[arg(long, default_value_t = DEFAULT_BUDGET)]
    pub budget: usize,
    /// Tasks kept per round.
    #[arg(long, default_value_t = DEFAULT_KEEP)]
    pub keep: usize,
    #[arg(long, default_value_t = DEFAULT_MAX_SKILL_SHARE)]
    pub max_skill_share: f64,
    /// cpu or cuda.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Warm containers validating in parallel.
    #[arg(long, default_value_t = ValidateConfig::default().workers)]
    pub workers: usize,
    /// Abandon the repository's unfinished run and start a new one.
    #[arg(long = "new")]
    pub new_run: bool,
    #[command(flatten)]
    pub image: ImageArgs,
    #[arg(long)]
    pub json: bool,
}

impl EvolveArgs {
    pub fn settings(&self) -> EvolveSettings {
        EvolveSettings {
            rounds: self.rounds,
            solver: self.solver.clone(),
            model: self.model.as_ref().map(|m| std::fs::canonicalize(m).unwrap_or(m.clone()).display().to_string()),
            answer: self.answer.clone(),
            train: self.train.clone(),
            held_out: self.held_out,
            seed: self.seed,
            budget: self.budget,
            keep: self.keep,
            max_skill_share: self.max_skill_share,
            epochs: self.epochs,
            device: self.device.clone(),
        }
    }
}

pub fn run(home: &Path, args: EvolveArgs) -> anyhow::Result<i32> {
    let settings = args.settings();
    let device = match args.device.parse() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(EXIT_USAGE);
        }
    };
    if let Err(e) = check_settings(&settings) {
        eprintln!("error: {e}");
        return Ok(EXIT_USAGE);
    }
    let mut store = Store::open(home)?;
    let opts = EvolveOptions {
        repo: args.repo.clone(),
        settings,
        device,
        validate: ValidateConfig { workers: args.workers, ..Default::default() },
        image: args.image.options(),
        progress: super::progress::terminal(!args.json),
        new_run: args.new_run,
    };
    let summary = runtime()?.block_on(evolve(&mut store, home, &opts))?;
    if args.json {
        return print_json(&summary).map(|()| EXIT_OK);
    }
    println!(
        "evolve run {} on {}: {} rounds, {} held-out tasks{}",
        summary.run.id,
        summary.run.repo,
        summary.lines.len(),
        summary.run.held_out.len(),
        if summary.resumed { " (resumed)" } else { "" }
    );
    for line in &summary.lines {
        println!("  {}", line_text(line));
    }
    if let Some(dir) = &summary.adapter_dir {
        println!("the evolved Solver's adapter: {dir}");
    }
    if summary.random_weights {
        println!("the model has random weights: its resolve rates and losses show the loop runs, not that it learns");
    }
    Ok(EXIT_OK)
}
