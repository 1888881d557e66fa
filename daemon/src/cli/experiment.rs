//! `socratic experiment efficacy`: does targeting help? Flags → `experiment::run::run_efficacy`
//! with the LM Solver → the table (or one JSON document with `--json`). `socratic experiment
//! show [ID]`: a stored experiment's table again (the latest by default).

use super::env::{runtime, ImageArgs};
use super::{print_json, EXIT_OK};
use crate::experiment::learner::LmLearner;
use crate::experiment::run::{run_efficacy, EfficacyOptions, Experiment};
use crate::experiment::summary::{summarize, table, Summary};
use crate::experiment::Arm;
use crate::store::Store;
use crate::validate::run::ValidateConfig;
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};

#[derive(Debug, Subcommand)]
pub enum ExperimentCmd {
    /// Train each arm at the same budget from one warm-up adapter and compare them on a held-out
    /// set by execution (resumable: run the same command again after an interruption).
    Efficacy(Box<EfficacyArgs>),
    /// Print a stored experiment's result (the latest when no id is given).
    Show {
        id: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct EfficacyArgs {
    /// A git repository with Python code and tests (repeat for several).
    #[arg(long = "repo", required = true, value_name = "PATH")]
    pub repos: Vec<PathBuf>,
    /// The Solver's causal LM folder.
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    #[arg(long, default_value_t = 3)]
    pub seeds: usize,
    /// Training examples per arm (the same for every arm).
    #[arg(long)]
    pub budget: Option<usize>,
    /// Optimizer steps per arm (the same for every arm).
    #[arg(long)]
    pub steps: Option<usize>,
    #[arg(long, default_value = "untargeted,targeted,targeted+reward,random-reward")]
    pub arms: String,
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Candidates generated per repository for the pool.
    #[arg(long)]
    pub pool: Option<usize>,
    /// At most this many held-out tasks.
    #[arg(long)]
    pub heldout: Option<usize>,
    /// Warm-up training examples and steps.
    #[arg(long)]
    pub warmup: Option<usize>,
    #[arg(long)]
    pub warmup_steps: Option<usize>,
    /// Training-side tasks the warm-up Solver attempts to find its failures.
    #[arg(long)]
    pub probe: Option<usize>,
    /// Samples per task for pass@k.
    #[arg(long)]
    pub k: Option<usize>,
    /// Add this many generated one-line-fix examples to the warm-up: mutations at the training
    /// side's functions, not validated (training data only; every evaluation is on validated tasks).
    #[arg(long, default_value_t = 0)]
    pub generated: usize,
    /// Train every weight of the model (a small model from scratch) instead of LoRA pairs; the
    /// arms continue full training from the warm-up model.
    #[arg(long)]
    pub full: bool,
    /// The training loss counts the prompt's tokens too (language modelling on the prompts).
    #[arg(long)]
    pub all_tokens: bool,
    /// The Solver's answer format: `line` (the marked line rewritten) or `edit` (its minimal
    /// edit, `OLD => NEW`); the prompt marks the line fault localisation ranks first.
    #[arg(long, default_value = "line", value_parser = ["line", "edit"])]
    pub answer: String,
    /// How the Solver answers: `free` (it writes the answer) or `candidates` (it ranks the
    /// mutation catalogue's one-line repairs of the fault-localised lines by how likely it is to
    /// write each; pass@1 is the best one).
    #[arg(long, default_value = "free", value_parser = ["free", "candidates"])]
    pub decode: String,
    /// Learning rate, examples per step, and tokens per example of every training run.
    #[arg(long)]
    pub lr: Option<f64>,
    #[arg(long)]
    pub batch: Option<usize>,
    #[arg(long)]
    pub max_len: Option<usize>,
    #[arg(long, default_value_t = ValidateConfig::default().workers)]
    pub workers: usize,
    #[command(flatten)]
    pub image: ImageArgs,
    #[arg(long)]
    pub json: bool,
}

impl EfficacyArgs {
    fn options(&self) -> anyhow::Result<EfficacyOptions> {
        let device = self.device.parse().map_err(|e: String| anyhow::anyhow!(e))?;
        let mut o = EfficacyOptions::new(self.repos.clone(), self.model.clone());
        let set = |slot: &mut usize, v: Option<usize>| {
            if let Some(v) = v {
                *slot = v;
            }
        };
        set(&mut o.budget, self.budget);
        set(&mut o.steps, self.steps);
        set(&mut o.pool_per_repo, self.pool);
        set(&mut o.max_heldout, self.heldout);
        set(&mut o.warmup, self.warmup);
        set(&mut o.warmup_steps, self.warmup_steps);
        set(&mut o.probe, self.probe);
        set(&mut o.k, self.k);
        o.generated = self.generated;
        o.seeds = self.seeds;
        o.arms = Arm::parse_list(&self.arms)?;
        o.device = device;
        o.validate = ValidateConfig { workers: self.workers, ..Default::default() };
        o.image = self.image.options();
        o.progress = super::progress::terminal(!self.json);
        Ok(o)
    }
}

pub fn run(home: &Path, cmd: ExperimentCmd) -> anyhow::Result<i32> {
    match cmd {
        ExperimentCmd::Efficacy(args) => efficacy(home, *args),
        ExperimentCmd::Show { id, json } => show(home, id.as_deref(), json),
    }
}

fn efficacy(home: &Path, args: EfficacyArgs) -> anyhow::Result<i32> {
    let opts = args.options()?;
    let mut store = Store::open(home)?;
    let mut learner = LmLearner::new(opts.model.clone(), home.to_path_buf(), opts.device);
    (learner.options.full, learner.options.all_tokens) = (args.full, args.all_tokens);
    learner.answer = args.answer.parse().map_err(anyhow::Error::msg)?;
    learner.decode = args.decode.parse().map_err(anyhow::Error::msg)?;
    if let Some(lr) = args.lr {
        learner.options.lr = lr;
    }
    if let Some(batch) = args.batch {
        learner.options.batch = batch;
    }
    if let Some(max_len) = args.max_len {
        learner.options.max_len = max_len;
    }
    let (exp, runs) = runtime()?.block_on(run_efficacy(&mut store, home, &opts, &learner))?;
    print(&summarize(&exp, &runs), args.json)
}

fn show(home: &Path, id: Option<&str>, json: bool) -> anyhow::Result<i32> {
    let store = Store::open(home)?;
    let exp: Experiment = match id {
        Some(id) => store.experiment(id)?.ok_or_else(|| anyhow::anyhow!("no experiment {id} in {}", home.display()))?,
        None => store.experiments::<Experiment>()?.pop().ok_or_else(|| {
            anyhow::anyhow!("no experiment in {}; run `socratic experiment efficacy`", home.display())
        })?,
    };
    let runs = store.experiment_arms(&exp.id)?;
    print(&summarize(&exp, &runs), json)
}

fn print(summary: &Summary, json: bool) -> anyhow::Result<i32> {
    if json {
        print_json(summary)?;
    } else {
        print!("{}", table(summary));
    }
    Ok(EXIT_OK)
}
