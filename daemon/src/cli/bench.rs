//! `socratic bench anchor PATH`: full-index throughput and incremental re-parse latency.
//!
//! In: a git repository. Out: files, lines, full-index time and lines/s, then p50/p99 of
//! `FileIndex::apply_edit` over N one-character edits (alternately inserted and removed, so the
//! file stays valid) in the file closest to 2,000 lines.

use super::repo::rate;
use super::{print_json, EXIT_FAILED, EXIT_OK};
use crate::anchor::{index_repo, FileIndex, IndexConfig, QuerySet, RepoIndex};
use clap::{Args, Subcommand};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Subcommand)]
pub enum BenchCmd {
    /// Time a full index and incremental re-parses of one file.
    Anchor(AnchorArgs),
    /// ms per validated candidate and yield (warm workers; `--vs-strict` beside strict mode).
    Validate(super::bench_validate::ValidateBenchArgs),
    /// Time the language server: didOpen → diagnostics, re-anchoring per didChange on a
    /// ~2,000-line document, idle daemon memory.
    Lsp(LspArgs),
    /// Time gradient features (tasks/s, peak memory) on random token sequences.
    Score(super::score::BenchScoreArgs),
    /// Time LoRA training steps (tokens/s, peak memory) on a random Llama-shaped model.
    Train(super::bench_train::BenchTrainArgs),
    /// The store at scale (default 1,000,000 tasks): `tasks show`, `curriculum list`,
    /// language-server diagnostics after didOpen, store size per task.
    Store(super::bench_store::StoreBenchArgs),
    /// The grading service under load (1, 8, 32 clients) beside a fresh container per grade.
    Serve(super::bench_serve::ServeBenchArgs),
}

#[derive(Debug, Args)]
pub struct LspArgs {
    /// Root of a git repository (its tasks are generated into a scratch home).
    pub path: PathBuf,
    /// didOpen rounds to time.
    #[arg(long, default_value_t = 200)]
    pub opens: usize,
    /// didChange edits to time.
    #[arg(long, default_value_t = 200)]
    pub edits: usize,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct AnchorArgs {
    /// Root of a git repository.
    pub path: PathBuf,
    /// Number of edits to time.
    #[arg(long, default_value_t = 200)]
    pub edits: usize,
    /// Target size of the edited file, in lines.
    #[arg(long, default_value_t = 2000)]
    pub target_lines: usize,
    #[arg(long, value_name = "DIR")]
    pub queries: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

/// Latency percentiles in microseconds.
#[derive(Debug, Serialize)]
pub struct Percentiles {
    pub p50_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
}

#[derive(Debug, Serialize)]
pub struct AnchorBench {
    pub files: usize,
    pub lines: usize,
    pub sites: usize,
    pub index_ms: f64,
    pub lines_per_second: f64,
    pub edit_file: String,
    pub edit_file_lines: usize,
    pub edits: usize,
    /// `Tree::edit` + incremental parse.
    pub reparse: Percentiles,
    /// Re-parse plus re-running every query on the file.
    pub reparse_and_requery: Percentiles,
    /// Time of each query over the edited file (one run), slowest first, in microseconds.
    pub query_us: Vec<(String, f64)>,
}

pub fn run(home: &std::path::Path, cmd: BenchCmd) -> anyhow::Result<i32> {
    match cmd {
        BenchCmd::Anchor(args) => anchor(args),
        BenchCmd::Validate(args) => super::bench_validate::run(home, args),
        BenchCmd::Lsp(args) => lsp(args),
        BenchCmd::Score(args) => super::score::run_bench(args),
        BenchCmd::Train(args) => super::bench_train::run(args),
        BenchCmd::Store(args) => super::bench_store::run(args),
        BenchCmd::Serve(args) => super::bench_serve::run(home, args),
    }
}

fn lsp(args: LspArgs) -> anyhow::Result<i32> {
    let home = tempfile_home()?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = rt.block_on(async {
        let mut b = crate::lsp::bench::run(&args.path, &home, args.opens, args.edits).await?;
        b.daemon_idle_rss_kib = crate::lsp::bench::daemon_idle_rss(&home).await?;
        anyhow::Ok(b)
    });
    let _ = std::fs::remove_dir_all(&home);
    let b = result?;
    let pct = |v: &[f64]| percentiles(&mut v.iter().map(|us| Duration::from_secs_f64(us / 1e6)).collect::<Vec<_>>());
    let (open, reanchor, change) =
        (pct(&b.open_to_diagnostics_us), pct(&b.reanchor_us), pct(&b.change_to_diagnostics_us));
    if args.json {
        print_json(&serde_json::json!({
            "tasks": b.tasks, "file": b.file, "file_tasks": b.file_tasks,
            "open_to_diagnostics": open, "edit_doc_lines": b.edit_doc_lines, "edit_doc_anchors": b.edit_doc_anchors,
            "reanchor": reanchor, "change_to_diagnostics": change, "daemon_idle_rss_kib": b.daemon_idle_rss_kib,
        }))?;
    } else {
        println!("tasks: {}  file: {} ({} tasks)", b.tasks, b.file, b.file_tasks);
        println!(
            "didOpen -> diagnostics ({} opens):  p50 {:.0} us  p99 {:.0} us  max {:.0} us",
            b.opens, open.p50_us, open.p99_us, open.max_us
        );
        println!(
            "re-anchor per didChange ({} lines, {} anchors, {} edits):",
            b.edit_doc_lines, b.edit_doc_anchors, b.edits
        );
        println!(
            "  document (incremental re-parse + move anchors):  p50 {:.0} us  p99 {:.0} us  max {:.0} us",
            reanchor.p50_us, reanchor.p99_us, reanchor.max_us
        );
        println!(
            "  didChange -> diagnostics:               p50 {:.0} us  p99 {:.0} us  max {:.0} us",
            change.p50_us, change.p99_us, change.max_us
        );
        match b.daemon_idle_rss_kib {
            Some(kib) => println!("daemon idle RSS: {:.1} MiB", kib as f64 / 1024.0),
            None => println!("daemon idle RSS: unknown (no /proc)"),
        }
    }
    Ok(EXIT_OK)
}

/// A scratch home under the temporary folder.
fn tempfile_home() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("socratic-bench-lsp-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn anchor(args: AnchorArgs) -> anyhow::Result<i32> {
    let queries = QuerySet::resolve(args.queries.as_deref())?;
    let index = index_repo(&args.path, &queries, &IndexConfig::default())?;
    let Some(target) = closest_file(&index, args.target_lines) else {
        eprintln!("error: no Python file to edit in {}", args.path.display());
        return Ok(EXIT_FAILED);
    };
    let mut file = FileIndex::new(&target.path, target.source().to_string(), &queries)?;
    let at = edit_offset(&file);
    let (mut parse, mut total) = (Vec::new(), Vec::new());
    for i in 0..args.edits {
        if i % 2 == 0 {
            file.apply_edit(at, at, "x", &queries)?;
        } else {
            file.apply_edit(at, at + 1, "", &queries)?;
        }
        parse.push(file.last_edit.parse);
        total.push(file.last_edit.parse + file.last_edit.reindex);
    }
    let lines: usize = index.files.iter().map(FileIndex::lines).sum();
    let index_ms = index.elapsed.as_secs_f64() * 1000.0;
    let bench = AnchorBench {
        files: index.files.len(),
        lines,
        sites: index.files.iter().map(|f| f.sites.len()).sum(),
        index_ms,
        lines_per_second: rate(lines, index_ms),
        edit_file: target.path.clone(),
        edit_file_lines: target.lines(),
        edits: args.edits,
        reparse: percentiles(&mut parse),
        reparse_and_requery: percentiles(&mut total),
        query_us: query_times(&file, &queries),
    };
    if args.json {
        print_json(&bench)?;
    } else {
        print!("{}", bench_text(&bench));
    }
    Ok(EXIT_OK)
}

/// The indexed file whose line count is closest to `target` (first by path on a tie).
fn closest_file(index: &RepoIndex, target: usize) -> Option<&FileIndex> {
    index
        .files
        .iter()
        .filter(|f| f.syntax_errors.is_empty())
        .min_by_key(|f| (f.lines().abs_diff(target), f.path.clone()))
}

/// The end of the first identifier at or after the middle line: appending a letter there
/// keeps the file valid. Falls back to the start of the file.
fn edit_offset(file: &FileIndex) -> usize {
    let middle = file.lines() / 2;
    let mut cursor = file.tree().root_node().walk();
    loop {
        let node = cursor.node();
        if node.kind() == "identifier" && node.start_position().row >= middle {
            return node.end_byte();
        }
        let descend = node.end_position().row >= middle && cursor.goto_first_child();
        if descend {
            continue;
        }
        while !cursor.goto_next_sibling() {
            if !cursor.goto_parent() {
                return 0;
            }
        }
    }
}

/// How long each query takes over one file, slowest first.
fn query_times(file: &FileIndex, queries: &QuerySet) -> Vec<(String, f64)> {
    use streaming_iterator::StreamingIterator;
    let mut times: Vec<(String, f64)> = queries
        .queries
        .iter()
        .map(|q| {
            let started = std::time::Instant::now();
            let mut cursor = tree_sitter::QueryCursor::new();
            let mut matches = cursor.matches(&q.query, file.tree().root_node(), file.source().as_bytes());
            while matches.next().is_some() {}
            (q.name.clone(), started.elapsed().as_secs_f64() * 1e6)
        })
        .collect();
    times.sort_by(|a, b| b.1.total_cmp(&a.1));
    times
}

/// p50/p99/max of some durations (sorted in place).
pub fn percentiles(samples: &mut [Duration]) -> Percentiles {
    samples.sort();
    let at = |q: f64| -> f64 {
        if samples.is_empty() {
            return 0.0;
        }
        let rank = ((q * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
        samples[rank - 1].as_secs_f64() * 1e6
    };
    Percentiles { p50_us: at(0.50), p99_us: at(0.99), max_us: at(1.0) }
}

fn bench_text(b: &AnchorBench) -> String {
    let slowest: Vec<String> = b.query_us.iter().take(5).map(|(n, us)| format!("{n} {us:.0} us")).collect();
    let text = format!(
        "files: {}  lines: {}  sites: {}\nfull index: {:.0} ms ({:.0} lines/s)\nincremental: {} ({} lines), {} one-character edits\n  re-parse:             p50 {:.0} us  p99 {:.0} us  max {:.0} us\n  re-parse + re-query:  p50 {:.0} us  p99 {:.0} us  max {:.0} us\n",
        b.files,
        b.lines,
        b.sites,
        b.index_ms,
        b.lines_per_second,
        b.edit_file,
        b.edit_file_lines,
        b.edits,
        b.reparse.p50_us,
        b.reparse.p99_us,
        b.reparse.max_us,
        b.reparse_and_requery.p50_us,
        b.reparse_and_requery.p99_us,
        b.reparse_and_requery.max_us
    );
    format!("{text}  slowest queries on that file: {}\n", slowest.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_ranks() {
        let mut v: Vec<Duration> = (1..=100).map(Duration::from_micros).collect();
        let p = percentiles(&mut v);
        assert_eq!((p.p50_us, p.p99_us, p.max_us), (50.0, 99.0, 100.0));
        assert_eq!(percentiles(&mut []).p50_us, 0.0);
    }
}
