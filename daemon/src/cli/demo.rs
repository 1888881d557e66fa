//! `socratic demo`: the loop on the embedded default, with nothing configured (the use-case is
//! `engine::demo`): imports the example traces, writes the example repository (tallyho) into
//! the home, then runs two rounds with the `baseline` Solver attempting each round's
//! curriculum, then a short `evolve` (2 rounds, the LM Solver on the tiny model, CPU). Prints
//! each round and Solver run, a summary table with the evolve lines and what the tiny model can
//! and cannot show, and where the HTML report went. `--no-validate` stops after generating round-1 candidates (no Docker needed).

use super::env::{runtime, ImageArgs};
use super::traces::summary_line;
use super::EXIT_OK;
use crate::engine::demo::{self, DemoOptions, RoundRow, DEMO_EVOLVE_ROUNDS, DEMO_KEEP, DEMO_ROUNDS};
use crate::engine::round::{round_line, DEFAULT_BUDGET, DEFAULT_SEED};
use crate::engine::solve::SolveSummary;
use crate::store::Store;
use clap::Args;
use std::path::Path;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Candidates generated per round.
    #[arg(long, default_value_t = DEFAULT_BUDGET)]
    pub budget: usize,
    /// Tasks kept per round.
    #[arg(long, default_value_t = DEMO_KEEP)]
    pub keep: usize,
    /// Rounds to run (the baseline Solver attempts each one's curriculum).
    #[arg(long, default_value_t = DEMO_ROUNDS)]
    pub rounds: u32,
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub seed: u64,
    /// Rounds of the closing evolve run (LM Solver, tiny model, CPU); 0 skips it.
    #[arg(long, default_value_t = DEMO_EVOLVE_ROUNDS)]
    pub evolve_rounds: u32,
    /// Stop after generating round-1 candidates (no Docker needed).
    #[arg(long)]
    pub no_validate: bool,
    #[command(flatten)]
    pub image: ImageArgs,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

impl DemoArgs {
    fn options(&self) -> DemoOptions {
        DemoOptions {
            budget: self.budget,
            keep: self.keep,
            rounds: self.rounds,
            seed: self.seed,
            evolve_rounds: self.evolve_rounds,
            image: self.image.options(),
            progress: super::progress::terminal(!self.json),
        }
    }
}

pub fn run(home: &Path, args: DemoArgs) -> anyhow::Result<i32> {
    let started = std::time::Instant::now();
    let opts = args.options();
    let mut store = Store::open(home)?;
    let setup = demo::prepare(&mut store, home)?;
    let repo = &setup.repository;
    if !args.json {
        println!("traces:     {}", summary_line(&setup.import));
        println!("repository: {}", repo.display());
    }
    if args.no_validate {
        return generate_only(&mut store, &setup, &opts, args.json);
    }
    let rt = runtime()?;
    let mut solves: Vec<SolveSummary> = Vec::new();
    for _ in 0..demo::rounds_left(&store, &opts)? {
        let (round, summary) = rt.block_on(demo::round_and_solve(&mut store, home, repo, &opts))?;
        if !args.json {
            println!("{}", round_line(&round));
            super::solve::print_summary(&summary);
        }
        solves.push(summary);
    }
    if demo::evolve_left(&store, repo, &opts)? {
        rt.block_on(crate::engine::evolve::evolve(&mut store, home, &demo::evolve_options(repo, &opts)))?;
    }
    let rows = demo::round_rows(&store)?;
    let evolve = crate::report::evolve_rows(&store)?;
    let report = demo::write_report(&store, home);
    if args.json {
        super::print_json(&serde_json::json!({
            "import": setup.import, "repository": repo, "rounds": rows, "solves": solves, "evolve": evolve,
            "evolve_note": (!evolve.is_empty()).then_some(demo::EVOLVE_NOTE),
            "report": report.as_ref().ok(), "seconds": started.elapsed().as_secs_f64(),
        }))?;
    } else {
        print_table(&rows);
        for run in &evolve {
            println!("evolve run {} ({} held-out tasks):", run.id, run.held_out);
            for line in &run.lines {
                println!("  {}", crate::engine::evolve::line_text(line));
            }
            println!("  note: {}", demo::EVOLVE_NOTE);
            println!();
        }
        match report {
            Ok(p) => println!("report:     {}", p.display()),
            Err(e) => println!("report:     not written: {e:#}"),
        }
        println!("store:      {}  ({:.0} s)", store.path().display(), started.elapsed().as_secs_f64());
    }
    Ok(EXIT_OK)
}

/// No Docker: distill and generate round-1 candidates only, printed (with the import under
/// `--json`).
fn generate_only(store: &mut Store, setup: &demo::DemoSetup, opts: &DemoOptions, json: bool) -> anyhow::Result<i32> {
    let generated = demo::generate_only(store, &setup.repository, opts)?;
    if json {
        super::print_json(&serde_json::json!({
            "import": setup.import, "stats": store.trace_stats()?, "repository": setup.repository,
            "skills": generated.skills, "tasks_generated": generated.generated, "tasks_new": generated.new,
            "validation": serde_json::Value::Null,
        }))?;
    } else {
        println!("skills:     {} distilled ({})", generated.skills.len(), generated.skills.join(", "));
        println!(
            "tasks:      {} candidates generated ({} new); validation skipped (--no-validate)",
            generated.generated, generated.new
        );
    }
    Ok(EXIT_OK)
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
