//! `socratic export --format swebench|swesmith|harbor|sft OUT`.
//!
//! In: the store, a format, an output path, `--round N` / `--valid`. Out: the export written
//! (see [`crate::export`]), a summary on stdout (or `--json`), left-out tasks on stderr; exit 1
//! when there is nothing to export or the output cannot be written.

use super::{print_json, EXIT_OK};
use crate::export::{self, Format, Selection};
use crate::store::Store;
use clap::{Args, ValueEnum};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// SWE-bench dataset rows, JSON Lines (patch = the fix).
    Swebench,
    /// SWE-smith task instances, a JSON list (patch = the bug).
    Swesmith,
    /// Harbor task folders under OUT.
    Harbor,
    /// Chat JSON Lines for fine-tuning (messages: system, user, assistant = the fix).
    Sft,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Output format.
    #[arg(long, value_enum)]
    pub format: FormatArg,
    /// Output file (swebench, sft: .jsonl; swesmith: .json) or folder (harbor).
    pub out: PathBuf,
    /// The round whose curriculum to export (default: the latest finished round).
    #[arg(long, value_name = "N")]
    pub round: Option<u32>,
    /// Every valid task (of round N with --round) instead of a curriculum.
    #[arg(long)]
    pub valid: bool,
    /// One stable JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(home: &Path, args: ExportArgs) -> anyhow::Result<i32> {
    let format = match args.format {
        FormatArg::Swebench => Format::Swebench,
        FormatArg::Swesmith => Format::Swesmith,
        FormatArg::Harbor => Format::Harbor,
        FormatArg::Sft => Format::Sft,
    };
    let store = Store::open(home)?;
    let summary = export::export(&store, format, &Selection { round: args.round, valid: args.valid }, &args.out)?;
    for s in &summary.skipped {
        eprintln!("left out {}: {}", s.task_id, crate::text::escape_controls(&s.reason));
    }
    if args.json {
        print_json(&summary)?;
    } else {
        let what = if format == Format::Harbor { "task folders" } else { "tasks" };
        println!(
            "exported {} {what} ({}) as {} to {}",
            summary.exported.len(),
            summary.source,
            format.as_str(),
            summary.out
        );
        if !summary.refs.is_empty() {
            println!(
                "bugged commits kept under refs/socratic/tasks/ in the task repositories ({} refs)",
                summary.refs.len()
            );
        }
    }
    Ok(EXIT_OK)
}
