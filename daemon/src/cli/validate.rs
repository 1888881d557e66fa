//! `socratic tasks validate`: put stored candidates through validation in warm containers,
//! recording each verdict as soon as it is decided.

use super::env::{runtime, ImageArgs};
use super::{print_json, EXIT_OK};
use crate::engine::validation::{validate_candidates, ValidateRequest};
use crate::store::Store;
use crate::validate::run::ValidateConfig;
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Only candidates of this repository (default: every repository with candidates).
    #[arg(long)]
    pub repo: Option<PathBuf>,
    /// Warm containers working in parallel.
    #[arg(long, default_value_t = ValidateConfig::default().workers)]
    pub workers: usize,
    /// A fresh container per candidate.
    #[arg(long)]
    pub strict: bool,
    /// Seconds the selected tests of one candidate may take.
    #[arg(long, default_value_t = ValidateConfig::default().timeout_s)]
    pub timeout: f64,
    /// At most this many candidates.
    #[arg(long)]
    pub limit: Option<usize>,
    #[command(flatten)]
    pub image: ImageArgs,
    #[arg(long)]
    pub json: bool,
}

pub fn run(home: &Path, args: ValidateArgs) -> anyhow::Result<i32> {
    let mut store = Store::open(home)?;
    let request = ValidateRequest {
        repo: args.repo.clone(),
        limit: args.limit,
        config: ValidateConfig {
            workers: args.workers,
            strict: args.strict,
            timeout_s: args.timeout,
            ..Default::default()
        },
        image: args.image.options(),
    };
    let progress = super::progress::terminal(true);
    let summary = runtime()?.block_on(validate_candidates(&mut store, &request, &progress))?;
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
