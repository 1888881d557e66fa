//! `socratic report [--html OUT.html]`.
//!
//! In: the store. Out: the self-contained report page (see [`crate::report`]) written to
//! `OUT.html`, one line on stdout; exit 1 when the file cannot be written. An empty store gives
//! a page that says there is nothing yet. Without `--html`, the report as text on stdout
//! (totals, and each evolve run's per-round resolve rates).

use super::EXIT_OK;
use crate::report;
use crate::store::Store;
use anyhow::Context;
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Where to write the page (without it: text on stdout).
    #[arg(long, value_name = "OUT.html")]
    pub html: Option<PathBuf>,
}

pub fn run(home: &Path, args: ReportArgs) -> anyhow::Result<i32> {
    let store = Store::open(home)?;
    let data = report::gather(&store)?;
    let Some(html) = args.html else {
        print!("{}", report::text(&data));
        return Ok(EXIT_OK);
    };
    let page = report::html::render(&data);
    if html.is_dir() {
        anyhow::bail!("cannot write {}: it is a folder; name a file", html.display());
    }
    std::fs::write(&html, page).with_context(|| format!("cannot write {}", html.display()))?;
    if data.is_empty() {
        println!("wrote {} (nothing to show yet)", html.display());
    } else {
        println!(
            "wrote {} ({} rounds, {} tasks, {} scored, {} training runs)",
            html.display(),
            data.rounds.len(),
            data.tasks,
            data.rewards.len(),
            data.training.len()
        );
        for r in &data.training {
            println!(
                "training run {}: {} on {} ({} examples), {} steps, loss {} -> {}, {:.0} tokens/s, adapter {}",
                r.number,
                r.method,
                crate::text::escape_controls(&r.source),
                r.examples,
                r.losses.len(),
                r.losses.first().map_or("-".into(), |l| format!("{l:.4}")),
                r.losses.last().map_or("-".into(), |l| format!("{l:.4}")),
                r.tokens_per_second,
                r.adapter_hash
            );
        }
    }
    Ok(EXIT_OK)
}
