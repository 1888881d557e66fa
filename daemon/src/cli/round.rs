//! `socratic round`: run one round of the loop (or resume the unfinished one) and print what it
//! kept; `socratic curriculum list|accept|reject`: the kept tasks and the user's decisions.
//! `curriculum list --json` prints each task as the same `TaskRow` as `tasks list --json` and
//! the editors' `socratic.tasks`, with its membership and rank.

use super::env::{runtime, ImageArgs};
use super::{print_json, EXIT_FAILED, EXIT_OK};
use crate::engine::curriculum::{pick_round, Membership};
use crate::engine::round::{
    round_line, run_round_holding, RoundLock, RoundOptions, StatedInputs, DEFAULT_BUDGET, DEFAULT_KEEP,
    DEFAULT_MAX_SKILL_SHARE, DEFAULT_REFERENCE, DEFAULT_SEED,
};
use crate::lsp::protocol::TaskRow;
use crate::lsp::tasks::stored_rows;
use crate::model::{Decision, Round};
use crate::store::Store;
use crate::validate::run::ValidateConfig;
use clap::{Args, Subcommand};
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct RoundArgs {
    /// Repository to generate tasks in (default: the previous round's).
    #[arg(long)]
    pub repo: Option<PathBuf>,
    /// Base seed; round N generates with seed + N [default: 0]. A resumed round keeps the
    /// values it started with: a different one applies when its step has not run yet, else
    /// the resume is refused (see --new).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Candidates generated per round [default: 40].
    #[arg(long)]
    pub budget: Option<usize>,
    /// Tasks kept per round [default: 10].
    #[arg(long)]
    pub keep: Option<usize>,
    /// No skill takes more than this share of the kept tasks [default: 0.5].
    #[arg(long)]
    pub max_skill_share: Option<f64>,
    /// Abandon an unfinished round (it stays listed as abandoned) and start a new one.
    #[arg(long = "new")]
    pub new_round: bool,
    /// Scoring model folder (default: a small random model in the home).
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// A LoRA adapter folder (`socratic train`'s output, PEFT layout) applied to the scoring model.
    #[arg(long, value_name = "DIR")]
    pub adapter: Option<PathBuf>,
    /// Reference set for the score: `failures` or a SWE-bench-format JSONL of trusted fixes.
    #[arg(long, default_value = DEFAULT_REFERENCE)]
    pub reference: String,
    /// cpu or cuda.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Warm containers validating in parallel.
    #[arg(long, default_value_t = ValidateConfig::default().workers)]
    pub workers: usize,
    /// Seconds the selected tests of one candidate may take.
    #[arg(long, default_value_t = ValidateConfig::default().timeout_s)]
    pub timeout: f64,
    #[command(flatten)]
    pub image: ImageArgs,
    #[arg(long)]
    pub json: bool,
    /// When another round runs on this home, wait for it instead of failing.
    #[arg(long)]
    pub wait: bool,
}

#[derive(Debug, Subcommand)]
pub enum CurriculumCmd {
    /// The curriculum of a round (default: the latest finished one).
    List {
        #[arg(long)]
        round: Option<u32>,
        #[arg(long)]
        json: bool,
    },
    /// Keep a task in the curriculum whatever its rank.
    Accept {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Take a task out of the curriculum for good.
    Reject {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

/// One task of `curriculum list --json`.
#[derive(Debug, Serialize)]
pub struct CurriculumRow {
    pub task: TaskRow,
    pub membership: Membership,
    /// 1-based rank in the round's ranking, when the ranking kept it.
    pub rank: Option<usize>,
}

/// What `curriculum list --json` prints.
#[derive(Debug, Serialize)]
pub struct CurriculumList {
    pub round: u32,
    pub tasks: Vec<CurriculumRow>,
}

impl RoundArgs {
    /// Round options from the flags; the repository defaults to the last round's.
    pub fn options(&self, store: &Store) -> anyhow::Result<RoundOptions> {
        let repo = match &self.repo {
            Some(r) => r.clone(),
            None => match store.rounds()?.last() {
                Some(r) => PathBuf::from(&r.inputs.repo),
                None => anyhow::bail!("no repository: pass --repo PATH (a git repository with Python code and tests)"),
            },
        };
        let device = self.device.parse().map_err(|e: String| anyhow::anyhow!(e))?;
        Ok(RoundOptions {
            seed: self.seed.unwrap_or(DEFAULT_SEED),
            budget: self.budget.unwrap_or(DEFAULT_BUDGET),
            keep: self.keep.unwrap_or(DEFAULT_KEEP),
            max_skill_share: self.max_skill_share.unwrap_or(DEFAULT_MAX_SKILL_SHARE),
            stated: StatedInputs {
                seed: self.seed.is_some(),
                budget: self.budget.is_some(),
                keep: self.keep.is_some(),
                max_skill_share: self.max_skill_share.is_some(),
            },
            new_round: self.new_round,
            model: self.model.clone(),
            adapter: self.adapter.clone(),
            reference: self.reference.clone(),
            device,
            validate: ValidateConfig { workers: self.workers, timeout_s: self.timeout, ..Default::default() },
            image: self.image.options(),
            progress: super::progress::terminal(!self.json),
            ..RoundOptions::new(repo)
        })
    }
}

pub fn run_round_cmd(home: &Path, args: RoundArgs) -> anyhow::Result<i32> {
    let lock = if args.wait { RoundLock::acquire_waiting(home)? } else { RoundLock::try_acquire(home)? };
    let mut store = Store::open(home)?;
    let opts = args.options(&store)?;
    let start = crate::engine::round::current_round(&store, &opts)?;
    if start.resumed {
        eprintln!("resuming round {} at step {}", start.round.number, start.round.step.as_str());
    }
    if args.json {
        // Without a progress display, say here what the round changed.
        for line in &start.applied {
            eprintln!("{line}");
        }
    }
    let round = runtime()?.block_on(run_round_holding(&mut store, home, &opts, &lock))?;
    if args.json {
        print_json(&round)?;
    } else {
        println!("{}", round_line(&round));
        print_curriculum(&store, &round)?;
    }
    Ok(EXIT_OK)
}

fn print_curriculum(store: &Store, round: &Round) -> anyhow::Result<()> {
    for e in crate::engine::curriculum::load(store, round)? {
        let t = &e.task;
        let rank = e.rank.map_or("-".to_string(), |r| r.to_string());
        println!(
            "  {:>3} {:20} {:9} {:26} {:28} {}:{}",
            rank,
            t.id,
            t.state_word(),
            t.operator,
            t.skill.as_deref().unwrap_or("-"),
            t.site.file,
            t.site.start_line + 1
        );
    }
    Ok(())
}

pub fn run_curriculum(home: &Path, cmd: CurriculumCmd) -> anyhow::Result<i32> {
    let mut store = Store::open(home)?;
    match cmd {
        CurriculumCmd::List { round, json } => {
            let rounds = store.rounds()?;
            let Some(r) = pick_round(&rounds, round) else {
                match round {
                    Some(n) => eprintln!("error: no round {n}"),
                    None => eprintln!("error: no finished round yet; run `socratic round --repo PATH`"),
                }
                return Ok(EXIT_FAILED);
            };
            if json {
                let entries = crate::engine::curriculum::load(&store, r)?;
                let rows = stored_rows(entries.iter().map(|e| &e.task));
                let tasks = entries
                    .iter()
                    .zip(rows)
                    .map(|(e, task)| CurriculumRow { task, membership: e.membership, rank: e.rank })
                    .collect();
                print_json(&CurriculumList { round: r.number, tasks })?;
            } else {
                println!("{}", round_line(r));
                print_curriculum(&store, r)?;
            }
            Ok(EXIT_OK)
        }
        CurriculumCmd::Accept { id, json } => decide(&mut store, &id, Decision::Accepted, json),
        CurriculumCmd::Reject { id, json } => decide(&mut store, &id, Decision::Rejected, json),
    }
}

/// Record the user's decision on a task (accepting needs a valid task: an invalid candidate
/// would put a broken task in the curriculum).
fn decide(store: &mut Store, id: &str, decision: Decision, json: bool) -> anyhow::Result<i32> {
    let Some(task) = store.task(id)? else {
        eprintln!("error: no task '{id}' (or the prefix is ambiguous); see `socratic curriculum list`");
        return Ok(EXIT_FAILED);
    };
    if !task.stage.is_valid() && decision == Decision::Accepted {
        eprintln!(
            "error: task {} is {} (not validated as a working task); only valid tasks can be accepted",
            task.id,
            task.stage.name()
        );
        return Ok(EXIT_FAILED);
    }
    let task = store.set_decision(&task.id, decision)?.unwrap_or(task);
    if json {
        print_json(&serde_json::json!({
            "task": task.id, "decision": task.decision, "stage": task.stage.name(), "status": task.state_word()
        }))?;
    } else {
        println!("{} {}", task.decision.name(), task.id);
    }
    Ok(EXIT_OK)
}
