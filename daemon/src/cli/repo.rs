//! `socratic repo index PATH`: index a repository and report what the anchor stage sees.
//!
//! In: a git repository path, optionally a queries folder. Out: files, lines, functions,
//! classes, sites per query, skipped files with reasons, syntax errors and time, as text or one
//! JSON document; exit 1 when a query file does not compile or the path is not a repository.

use super::{print_json, EXIT_FAILED, EXIT_OK};
use crate::anchor::{index_repo, IndexConfig, IndexSummary, QuerySet, DEFAULT_MAX_FILE_BYTES};
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum RepoCmd {
    /// Index a git repository: files, lines, functions, classes, sites per query, skipped files.
    Index(IndexArgs),
}

#[derive(Debug, Args)]
pub struct IndexArgs {
    /// Root of a git repository.
    pub path: PathBuf,
    /// One stable JSON document on stdout.
    #[arg(long)]
    pub json: bool,
    /// Folder of `*.scm` anchor queries (default: $SOCRATIC_QUERIES, else the shipped ones).
    #[arg(long, value_name = "DIR")]
    pub queries: Option<PathBuf>,
    /// Skip files larger than this many bytes.
    #[arg(long, default_value_t = DEFAULT_MAX_FILE_BYTES)]
    pub max_file_bytes: u64,
}

pub fn run(cmd: RepoCmd) -> anyhow::Result<i32> {
    match cmd {
        RepoCmd::Index(args) => index(args),
    }
}

fn index(args: IndexArgs) -> anyhow::Result<i32> {
    let queries = QuerySet::resolve(args.queries.as_deref())?;
    let index = index_repo(&args.path, &queries, &IndexConfig { max_file_bytes: args.max_file_bytes })?;
    let summary = IndexSummary::new(&index, &queries);
    if args.json {
        print_json(&summary)?;
    } else {
        print!("{}", summary_text(&summary));
    }
    for p in &summary.query_problems {
        eprintln!("error: query {p}");
    }
    Ok(if summary.query_problems.is_empty() { EXIT_OK } else { EXIT_FAILED })
}

/// Lines per second, 0 when no time passed.
pub fn rate(lines: usize, ms: f64) -> f64 {
    if ms > 0.0 {
        lines as f64 / (ms / 1000.0)
    } else {
        0.0
    }
}

fn summary_text(s: &IndexSummary) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "repository: {}", s.root);
    let _ = writeln!(out, "queries:    {}", s.queries);
    let _ = writeln!(
        out,
        "files: {}  lines: {}  functions: {}  classes: {}  (non-Python files: {})",
        s.files, s.lines, s.functions, s.classes, s.non_python_files
    );
    let _ = writeln!(out, "time: {} ms ({:.0} lines/s)", s.elapsed_ms, rate(s.lines, s.elapsed_ms as f64));
    let _ = writeln!(out, "sites per query:");
    for (name, n) in &s.sites {
        let _ = writeln!(out, "  {name:28} {n}");
    }
    let _ = writeln!(out, "skipped: {}", s.skipped.len());
    for k in s.skipped.iter().take(20) {
        let _ = writeln!(out, "  {}: {}", k.path, k.reason);
    }
    if s.skipped.len() > 20 {
        let _ = writeln!(out, "  ... and {} more (see --json)", s.skipped.len() - 20);
    }
    for f in &s.syntax_errors {
        let where_: Vec<String> =
            f.ranges.iter().map(|r| format!("{}:{}", r.start_line + 1, r.start_col + 1)).collect();
        let _ = writeln!(out, "syntax errors in {} at {} (indexed what parsed)", f.file, where_.join(", "));
    }
    out
}
