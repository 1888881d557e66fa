//! `socratic tasks validate`: put stored candidates through validation in warm containers,
//! recording each verdict as soon as it is decided.

use super::env::{runtime, ImageArgs};
use super::{print_json, EXIT_OK};
use crate::engine::environment::ensure_env;
use crate::model::{Task, TaskStatus};
use crate::store::Store;
use crate::validate::run::ValidateConfig;
use clap::Args;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Only candidates of this repository (default: every repository with candidates).
    #[arg(long)]
    pub repo: Option<PathBuf>,
    /// Warm containers working in parallel.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// A fresh container per candidate.
    #[arg(long)]
    pub strict: bool,
    /// Seconds the selected tests of one candidate may take.
    #[arg(long, default_value_t = 60.0)]
    pub timeout: f64,
    /// At most this many candidates.
    #[arg(long)]
    pub limit: Option<usize>,
    #[command(flatten)]
    pub image: ImageArgs,
    #[arg(long)]
    pub json: bool,
}

/// What a validation run decided.
#[derive(Debug, Default, Serialize)]
pub struct ValidateSummary {
    pub candidates: usize,
    pub valid: usize,
    pub invalid_by_stage: BTreeMap<String, usize>,
    pub wall_ms: u64,
    pub ms_per_candidate: f64,
    pub yield_rate: f64,
}

pub fn run(home: &Path, args: ValidateArgs) -> anyhow::Result<i32> {
    let mut store = Store::open(home)?;
    let summary = runtime()?.block_on(validate_candidates(&mut store, &args))?;
    if args.json {
        print_json(&summary)?;
    } else {
        let invalid: Vec<String> = summary.invalid_by_stage.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!(
            "{} candidates: {} valid ({:.0}% yield), invalid: {}; {:.0} ms per candidate",
            summary.candidates,
            summary.valid,
            summary.yield_rate * 100.0,
            if invalid.is_empty() { "none".to_string() } else { invalid.join(" ") },
            summary.ms_per_candidate
        );
    }
    Ok(EXIT_OK)
}

/// Validate the stored candidates (grouped by repository), storing each verdict as it comes.
pub async fn validate_candidates(store: &mut Store, args: &ValidateArgs) -> anyhow::Result<ValidateSummary> {
    let only = match &args.repo {
        Some(r) => Some(r.canonicalize().map_err(|e| anyhow::anyhow!("{}: {e}", r.display()))?.display().to_string()),
        None => None,
    };
    let mut by_repo: BTreeMap<String, Vec<Task>> = BTreeMap::new();
    for t in store.tasks()? {
        if t.status == TaskStatus::Candidate && only.as_ref().is_none_or(|r| *r == t.repo) {
            by_repo.entry(t.repo.clone()).or_default().push(t);
        }
    }
    let mut summary = ValidateSummary::default();
    let started = std::time::Instant::now();
    let mut remaining = args.limit.unwrap_or(usize::MAX);
    let progress = super::progress::terminal(true);
    for (repo, mut tasks) in by_repo {
        tasks.truncate(remaining);
        remaining -= tasks.len();
        if tasks.is_empty() {
            continue;
        }
        let env = ensure_env(store, Path::new(&repo), &args.image.options(), &progress).await?;
        let cfg = ValidateConfig {
            workers: args.workers,
            strict: args.strict,
            timeout_s: args.timeout,
            ..Default::default()
        };
        summary.candidates += tasks.len();
        let decided = crate::engine::validation::validate_and_record(store, &env, tasks, &cfg, &progress).await?;
        summary.valid += decided.valid;
        for (stage, n) in decided.invalid_by_stage {
            *summary.invalid_by_stage.entry(stage).or_default() += n;
        }
    }
    summary.wall_ms = started.elapsed().as_millis() as u64;
    if summary.candidates > 0 {
        summary.ms_per_candidate = summary.wall_ms as f64 / summary.candidates as f64;
        summary.yield_rate = summary.valid as f64 / summary.candidates as f64;
    }
    Ok(summary)
}
