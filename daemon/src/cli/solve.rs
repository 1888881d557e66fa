//! `socratic solve`: a Solver attempts a round's curriculum; each attempt is graded in the
//! task's container and stored as a trace. Prints the outcome per operator.

use super::env::{runtime, ImageArgs};
use super::{print_json, EXIT_OK};
use crate::engine::solve::{solve, SolveOptions, SolveSummary, Solver};
use crate::store::Store;
use clap::Args;
use std::path::Path;

#[derive(Debug, Args)]
pub struct SolveArgs {
    /// The round whose curriculum is attempted (default: the latest finished one).
    #[arg(long)]
    pub round: Option<u32>,
    /// A built-in Solver: `oracle` (applies the fix) or `baseline` (fault localisation + repair templates).
    #[arg(long, conflicts_with = "agent", value_parser = ["oracle", "baseline"])]
    pub solver: Option<String>,
    /// An external agent: a shell command template with {workdir}, {problem_file},
    /// {trajectory_out} and {instance_id}; it runs on this machine in the checkout.
    #[arg(long, value_name = "TEMPLATE")]
    pub agent: Option<String>,
    /// Name the external agent's results are kept under (one result per task, round and name).
    #[arg(long, default_value = "agent", requires = "agent")]
    pub name: String,
    /// Seconds an external agent may take per task.
    #[arg(long, default_value_t = 1800)]
    pub timeout: u64,
    #[command(flatten)]
    pub image: ImageArgs,
    #[arg(long)]
    pub json: bool,
}

impl SolveArgs {
    pub fn solver(&self) -> Solver {
        match (&self.agent, self.solver.as_deref()) {
            (Some(template), _) => {
                Solver::Agent { name: self.name.clone(), template: template.clone(), timeout_s: self.timeout }
            }
            (None, Some("oracle")) => Solver::Oracle,
            _ => Solver::Baseline,
        }
    }
}

pub fn run(home: &Path, args: SolveArgs) -> anyhow::Result<i32> {
    let mut store = Store::open(home)?;
    let opts = SolveOptions {
        round: args.round,
        solver: args.solver(),
        image: args.image.options(),
        progress: super::progress::terminal(!args.json),
    };
    let summary = runtime()?.block_on(solve(&mut store, home, &opts))?;
    if args.json {
        print_json(&summary)?;
    } else {
        print_summary(&summary);
    }
    Ok(EXIT_OK)
}

/// Outcomes and the resolve rate per operator.
pub fn print_summary(s: &SolveSummary) {
    let outcomes: Vec<String> = s.by_outcome.iter().map(|(k, v)| format!("{k}={v}")).collect();
    println!(
        "{} on round {}: {} attempted ({} already done); {}",
        s.solver,
        s.round,
        s.attempted,
        s.already_done,
        if outcomes.is_empty() { "nothing new".into() } else { outcomes.join(" ") }
    );
    for (op, (resolved, total)) in &s.by_operator {
        println!("  {:28} {}/{} resolved", op, resolved, total);
    }
}
