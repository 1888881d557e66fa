//! `socratic bench validate`: ms per validated candidate and yield on a repository, warm workers
//! with coverage-selected tests, optionally beside strict mode (a fresh container per candidate
//! running the whole suite, the SWE-smith way) on the same candidates.
//!
//! In: a git repository. Out: a table (or JSON) of ms per candidate, yield, verdicts by stage,
//! containers started and their peak memory, for each mode, and the rewrites generation refused
//! before validation (with the yield they would have cost had they been validated).

use super::env::{runtime, ImageArgs};
use super::{print_json, EXIT_OK};
use crate::engine::environment::ensure_env;
use crate::model::{Task, Verdict};
use crate::sandbox::Engine;
use crate::store::Store;
use crate::tasks::{generate, GenerateConfig};
use crate::validate::run::{validate_all, ValidateConfig, ValidateStats};
use clap::Args;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, Args)]
pub struct ValidateBenchArgs {
    /// Root of a git repository.
    #[arg(long)]
    pub repo: PathBuf,
    /// Candidates to generate and validate.
    #[arg(long, default_value_t = 200)]
    pub candidates: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// Seconds the tests of one candidate may take.
    #[arg(long, default_value_t = 60.0)]
    pub timeout: f64,
    /// Also validate the first `--strict-candidates` candidates in strict mode (fresh container,
    /// whole suite per candidate).
    #[arg(long)]
    pub vs_strict: bool,
    #[arg(long, default_value_t = 30)]
    pub strict_candidates: usize,
    /// Generate only at sites on lines the clean suite executed (from the environment's
    /// coverage map) instead of at every site.
    #[arg(long)]
    pub executed_only: bool,
    #[command(flatten)]
    pub image: ImageArgs,
    #[arg(long)]
    pub json: bool,
}

/// One mode's figures.
#[derive(Debug, Serialize)]
pub struct ModeFigures {
    pub mode: String,
    pub candidates: usize,
    pub valid: usize,
    pub yield_rate: f64,
    pub wall_ms: u64,
    pub ms_per_candidate: f64,
    pub by_stage: BTreeMap<String, usize>,
    pub containers: usize,
    pub peak_container_mib: f64,
}

#[derive(Debug, Serialize)]
pub struct ValidateBench {
    pub repo: String,
    /// Sites used: `all` or `executed` (lines the clean suite ran).
    pub sites: String,
    /// Rewrites or sites generation left out before validation, by reason.
    pub refused: BTreeMap<String, usize>,
    /// Valid / (candidates + rewrites refused as equivalent or inside annotations): the yield
    /// had those been generated and validated (they would not have been valid).
    pub yield_counting_refused: f64,
    pub tests_clean: usize,
    pub env_ms: u64,
    pub modes: Vec<ModeFigures>,
    /// strict ms per candidate / warm ms per candidate.
    pub speedup_vs_strict: Option<f64>,
    /// Candidates whose validity differs between the modes, with both verdicts' reasons.
    pub disagreements: Vec<String>,
}

pub fn run(home: &Path, args: ValidateBenchArgs) -> anyhow::Result<i32> {
    let mut store = Store::open(home)?;
    let bench = runtime()?.block_on(async {
        let env_started = Instant::now();
        let env =
            ensure_env(&mut store, &args.repo, &args.image.options(), &super::progress::terminal(!args.json)).await?;
        let env_ms = env_started.elapsed().as_millis() as u64;
        let executed_lines = args.executed_only.then(|| env.executed_lines());
        let (tasks, reports) = generate(
            &args.repo,
            &GenerateConfig { budget: args.candidates, seed: args.seed, executed_lines, ..Default::default() },
        )?;
        let mut refused = BTreeMap::new();
        for r in &reports {
            for (why, n) in &r.rejected {
                if ["inside-annotation", "equivalent-rewrite", "not-executed-by-tests"].contains(&why.as_str()) {
                    *refused.entry(why.clone()).or_insert(0) += n;
                }
            }
        }
        let engine = crate::engine::environment::connect(&store).await?;
        let warm_cfg = ValidateConfig { workers: args.workers, timeout_s: args.timeout, ..Default::default() };
        let (warm, warm_verdicts) = measure("warm", &engine, &env, &tasks, &warm_cfg).await?;
        let mut modes = vec![warm];
        let mut speedup = None;
        let mut disagreements = Vec::new();
        if args.vs_strict {
            let subset: Vec<Task> = tasks.iter().take(args.strict_candidates).cloned().collect();
            let strict_cfg = ValidateConfig { strict: true, full_suite: true, ..warm_cfg.clone() };
            let (strict, strict_verdicts) = measure("strict-full-suite", &engine, &env, &subset, &strict_cfg).await?;
            for (id, s) in &strict_verdicts {
                if let Some(w) = warm_verdicts.get(id).filter(|w| w.is_valid() != s.is_valid()) {
                    disagreements.push(format!(
                        "{id}: warm {} ({}), strict {} ({})",
                        w.outcome_word(),
                        w.reason,
                        s.outcome_word(),
                        s.reason
                    ));
                }
            }
            speedup = Some(strict.ms_per_candidate / modes[0].ms_per_candidate.max(1e-9));
            modes.push(strict);
        }
        let rewrites_refused: usize =
            ["inside-annotation", "equivalent-rewrite"].iter().filter_map(|k| refused.get(*k)).sum();
        let yield_counting_refused = modes[0].valid as f64 / (modes[0].candidates + rewrites_refused).max(1) as f64;
        let sites = if args.executed_only { "executed" } else { "all" }.to_string();
        anyhow::Ok(ValidateBench {
            repo: env.repo.clone(),
            sites,
            refused,
            yield_counting_refused,
            tests_clean: env.clean.len(),
            env_ms,
            modes,
            speedup_vs_strict: speedup,
            disagreements,
        })
    })?;
    if args.json {
        print_json(&bench)?;
    } else {
        print!("{}", table(&bench));
    }
    Ok(EXIT_OK)
}

async fn measure(
    mode: &str,
    engine: &Engine,
    env: &crate::model::Environment,
    tasks: &[Task],
    cfg: &ValidateConfig,
) -> anyhow::Result<(ModeFigures, BTreeMap<String, Verdict>)> {
    let bar = super::progress_bar(tasks.len() as u64, mode);
    let mut verdicts = BTreeMap::new();
    let started = Instant::now();
    let stats: ValidateStats = validate_all(engine, env, tasks.to_vec(), cfg, |t, v| {
        bar.inc(1);
        verdicts.insert(t.id, v);
    })
    .await?;
    bar.finish_and_clear();
    let wall_ms = started.elapsed().as_millis() as u64;
    let valid = verdicts.values().filter(|v| v.is_valid()).count();
    let mut by_stage = BTreeMap::new();
    for v in verdicts.values() {
        *by_stage.entry(v.outcome_word().to_string()).or_insert(0) += 1;
    }
    let n = tasks.len().max(1) as f64;
    let peak = stats.container_peak_bytes.iter().copied().max().unwrap_or(0) as f64 / (1024.0 * 1024.0);
    let figures = ModeFigures {
        mode: mode.to_string(),
        candidates: tasks.len(),
        valid,
        yield_rate: valid as f64 / n,
        wall_ms,
        ms_per_candidate: wall_ms as f64 / n,
        by_stage,
        containers: stats.containers,
        peak_container_mib: peak,
    };
    Ok((figures, verdicts))
}

fn table(b: &ValidateBench) -> String {
    let mut s = format!(
        "repository: {} ({} tests on the clean tree; environment ready in {} ms)\n",
        b.repo, b.tests_clean, b.env_ms
    );
    let refused: Vec<String> = b.refused.iter().map(|(k, v)| format!("{k}={v}")).collect();
    s.push_str(&format!(
        "sites: {}; left out before validation: {}; yield counting refused rewrites as invalid: {:.0}%\n",
        b.sites,
        if refused.is_empty() { "none".to_string() } else { refused.join(" ") },
        b.yield_counting_refused * 100.0
    ));
    s.push_str(&format!(
        "{:<20} {:>10} {:>8} {:>8} {:>12} {:>11} {:>14}  verdicts\n",
        "mode", "candidates", "valid", "yield", "wall s", "ms/cand", "peak MiB/ctr"
    ));
    for m in &b.modes {
        let stages: Vec<String> = m.by_stage.iter().map(|(k, v)| format!("{k}={v}")).collect();
        s.push_str(&format!(
            "{:<20} {:>10} {:>8} {:>7.0}% {:>12.1} {:>11.1} {:>14.0}  {}\n",
            m.mode,
            m.candidates,
            m.valid,
            m.yield_rate * 100.0,
            m.wall_ms as f64 / 1000.0,
            m.ms_per_candidate,
            m.peak_container_mib,
            stages.join(" ")
        ));
    }
    if let Some(x) = b.speedup_vs_strict {
        s.push_str(&format!(
            "warm is {x:.1}x faster per candidate than strict; {} verdicts differ on shared candidates\n",
            b.disagreements.len()
        ));
        for d in &b.disagreements {
            s.push_str(&format!("  {d}\n"));
        }
    }
    s
}
