//! `socratic demo`: the loop on the embedded default, with nothing configured. Imports the
//! example traces compiled into the binary, writes the example repository (tallyho) into the
//! home, then runs two rounds (distill → generate → validate → score → select) with the
//! `baseline` Solver attempting each round's curriculum, so round 2 is targeted by what the
//! baseline failed in round 1. Builds or reuses the base and environment images. Prints a
//! summary table and writes the HTML report. `--no-validate` stops after generating round-1
//! candidates (no Docker needed).

use super::env::{runtime, ImageArgs};
use super::traces::{import_bytes, summary_line};
use super::EXIT_OK;
use crate::engine::round::{run_round, RoundOptions};
use crate::engine::solve::{solve, SolveOptions, SolveSummary, Solver};
use crate::model::{Outcome, Round};
use crate::store::Store;
use crate::tasks::{generate, GenerateConfig};
use clap::Args;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Candidates generated per round.
    #[arg(long, default_value_t = crate::engine::round::DEFAULT_BUDGET)]
    pub budget: usize,
    /// Tasks kept per round.
    #[arg(long, default_value_t = 12)]
    pub keep: usize,
    /// Rounds to run (the baseline Solver attempts each one's curriculum).
    #[arg(long, default_value_t = 2)]
    pub rounds: u32,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Stop after generating round-1 candidates (no Docker needed).
    #[arg(long)]
    pub no_validate: bool,
    #[command(flatten)]
    pub image: ImageArgs,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// One round's line of the summary table.
#[derive(Debug, Serialize)]
struct RoundRow {
    round: u32,
    candidates: usize,
    valid: usize,
    kept: usize,
    seconds: f64,
    baseline_resolved: usize,
    baseline_attempted: usize,
    /// Kept tasks per skill.
    kept_by_skill: BTreeMap<String, usize>,
}

pub fn run(home: &Path, args: DemoArgs) -> anyhow::Result<i32> {
    let started = std::time::Instant::now();
    let mut store = Store::open(home)?;
    let import = import_bytes(&mut store, crate::examples::TRACE_FILES)?;
    let repo = home.join("example").join("tallyho");
    crate::examples::write_example_repo(&repo).map_err(|e| anyhow::anyhow!("writing the example repository: {e}"))?;
    if !args.json {
        println!("traces:     {}", summary_line(&import));
        println!("repository: {}", repo.display());
    }
    if args.no_validate {
        let intro = serde_json::json!({ "import": import, "stats": store.trace_stats()?, "repository": repo });
        return generate_only(&mut store, &repo, &args, intro);
    }
    let rt = runtime()?;
    let progress = super::progress::terminal(!args.json);
    let mut rows = Vec::new();
    let mut solves: Vec<SolveSummary> = Vec::new();
    let last_done = store.rounds()?.iter().filter(|r| r.step == crate::model::RoundStep::Done).count() as u32;
    for _ in last_done..args.rounds.max(1) {
        let opts = RoundOptions {
            seed: args.seed,
            budget: args.budget,
            keep: args.keep,
            image: args.image.options(),
            progress: progress.clone(),
            ..RoundOptions::new(repo.clone())
        };
        let round = rt.block_on(run_round(&mut store, home, &opts))?;
        if !args.json {
            println!("{}", crate::engine::round::round_line(&round));
        }
        let solve_opts = SolveOptions {
            round: Some(round.number),
            solver: Solver::Baseline,
            image: args.image.options(),
            progress: progress.clone(),
        };
        let summary = rt.block_on(solve(&mut store, home, &solve_opts))?;
        if !args.json {
            super::solve::print_summary(&summary);
        }
        solves.push(summary);
    }
    for round in store.rounds()? {
        rows.push(round_row(&store, &round)?);
    }
    let report = write_report(&store, home);
    if args.json {
        super::print_json(&serde_json::json!({
            "import": import, "repository": repo, "rounds": rows, "solves": solves,
            "report": report.as_ref().ok(), "seconds": started.elapsed().as_secs_f64(),
        }))?;
    } else {
        print_table(&rows);
        match report {
            Ok(p) => println!("report:     {}", p.display()),
            Err(e) => println!("report:     not written: {e:#}"),
        }
        println!("store:      {}  ({:.0} s)", store.path().display(), started.elapsed().as_secs_f64());
    }
    Ok(EXIT_OK)
}

/// No Docker: distill and generate round-1 candidates only; `intro` (import, stats,
/// repository) is printed with the results under `--json`.
fn generate_only(store: &mut Store, repo: &Path, args: &DemoArgs, mut intro: serde_json::Value) -> anyhow::Result<i32> {
    let (distilled, _) = crate::engine::round::distill_stored(store)?;
    let base = GenerateConfig { budget: args.budget, seed: args.seed, ..Default::default() };
    let config = crate::engine::round::skill_weighted(base, &store.skills()?, &store.tasks()?);
    let (tasks, _) = generate(repo, &config)?;
    let new_tasks = store.insert_tasks(&tasks)?;
    if args.json {
        intro["skills"] = serde_json::json!(distilled.skills.iter().map(|s| &s.name).collect::<Vec<_>>());
        intro["tasks_generated"] = serde_json::json!(tasks.len());
        intro["tasks_new"] = serde_json::json!(new_tasks);
        intro["validation"] = serde_json::Value::Null;
        super::print_json(&intro)?;
    } else {
        println!(
            "skills:     {} distilled ({})",
            distilled.skills.len(),
            distilled.skills.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
        );
        println!(
            "tasks:      {} candidates generated ({} new); validation skipped (--no-validate)",
            tasks.len(),
            new_tasks
        );
    }
    Ok(EXIT_OK)
}

fn round_row(store: &Store, round: &Round) -> anyhow::Result<RoundRow> {
    let results: Vec<_> =
        store.solve_results()?.into_iter().filter(|r| r.round == round.number && r.solver == "baseline").collect();
    let tasks = store.tasks()?;
    let mut kept_by_skill = BTreeMap::new();
    for id in &round.kept {
        let skill = tasks
            .iter()
            .find(|t| &t.id == id)
            .and_then(|t| t.skill.clone())
            .unwrap_or_else(|| crate::engine::round::UNTARGETED.into());
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

fn print_table(rows: &[RoundRow]) {
    println!();
    println!(
        "{:>5} {:>10} {:>6} {:>5} {:>9} {:>8}  kept by skill",
        "round", "candidates", "valid", "kept", "baseline", "seconds"
    );
    for r in rows {
        let skills: Vec<String> = r.kept_by_skill.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!(
            "{:>5} {:>10} {:>6} {:>5} {:>9} {:>8.1}  {}",
            r.round,
            r.candidates,
            r.valid,
            r.kept,
            format!("{}/{}", r.baseline_resolved, r.baseline_attempted),
            r.seconds,
            skills.join(" ")
        );
    }
    println!();
}

/// The HTML report of the home, written beside the store.
fn write_report(store: &Store, home: &Path) -> anyhow::Result<PathBuf> {
    let path = home.join("report.html");
    let page = crate::report::html::render(&crate::report::gather(store)?);
    std::fs::write(&path, page).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(path)
}
