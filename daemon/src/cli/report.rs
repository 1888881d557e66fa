//! `socratic report --html OUT.html`.
//!
//! In: the store. Out: the self-contained report page (see [`crate::report`]) written to
//! `OUT.html`, one line on stdout; exit 1 when the file cannot be written. An empty store gives
//! a page that says there is nothing yet.

use super::EXIT_OK;
use crate::report;
use crate::store::Store;
use anyhow::Context;
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Where to write the page.
    #[arg(long, value_name = "OUT.html")]
    pub html: PathBuf,
}

pub fn run(home: &Path, args: ReportArgs) -> anyhow::Result<i32> {
    let store = Store::open(home)?;
    let data = report::gather(&store)?;
    let page = report::html::render(&data);
    if args.html.is_dir() {
        anyhow::bail!("cannot write {}: it is a folder; name a file", args.html.display());
    }
    std::fs::write(&args.html, page).with_context(|| format!("cannot write {}", args.html.display()))?;
    if data.is_empty() {
        println!("wrote {} (nothing to show yet)", args.html.display());
    } else {
        println!(
            "wrote {} ({} rounds, {} tasks, {} scored, {} training runs)",
            args.html.display(),
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
