//! `socratic traces import|list|show|stats`.

use super::{print_json, EXIT_FAILED, EXIT_OK};
use crate::engine::import::{import_paths, ImportReport};
use crate::store::Store;
use crate::text::escape_controls;
use clap::{Args, Subcommand};
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Subcommand)]
pub enum TracesCmd {
    /// Import trace, report and instance files (format detected from content); folders recurse.
    Import(ImportArgs),
    /// List stored traces.
    List(JsonFlag),
    /// Show one trace (id or unique prefix).
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Counts by source, outcome and failure reason.
    Stats(JsonFlag),
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Files or folders.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct JsonFlag {
    /// One stable JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(home: &Path, cmd: TracesCmd) -> anyhow::Result<i32> {
    let mut store = Store::open(home)?;
    match cmd {
        TracesCmd::Import(args) => {
            let report = import_paths(&mut store, &args.paths, &super::progress::terminal(true))?;
            if args.json {
                print_json(&report)?;
            } else {
                for r in &report.rejected {
                    // File names may hold newlines: one file, one line.
                    eprintln!("rejected: {}", escape_controls(r));
                }
                for w in &report.warnings {
                    eprintln!("warning: {}", escape_controls(w));
                }
                println!("{}", summary_line(&report));
            }
            Ok(if report.rejected.is_empty() { EXIT_OK } else { EXIT_FAILED })
        }
        TracesCmd::List(f) => {
            let traces = store.traces()?;
            if f.json {
                let rows: Vec<_> = traces.iter().map(list_row).collect();
                print_json(&rows)?;
            } else {
                for t in &traces {
                    let r = list_row(t);
                    println!(
                        "{}  {:18} {:40} {:11} {}",
                        r.id,
                        r.source,
                        r.instance_id.unwrap_or("-"),
                        r.outcome,
                        r.reason
                    );
                }
            }
            Ok(EXIT_OK)
        }
        TracesCmd::Show { id, json } => match store.trace(&id)? {
            Some(t) if json => print_json(&t).map(|_| EXIT_OK),
            Some(t) => {
                print!("{}", show_text(&t));
                Ok(EXIT_OK)
            }
            None => {
                eprintln!("error: no trace with id or unique prefix '{id}'");
                Ok(EXIT_FAILED)
            }
        },
        TracesCmd::Stats(f) => {
            let stats = store.trace_stats()?;
            if f.json {
                print_json(&stats)?;
            } else {
                println!(
                    "traces: {} ({} labelled by a report, {} inferred); reports: {}; instances: {}",
                    stats.traces, stats.labelled_by_report, stats.inferred, stats.reports, stats.instances
                );
                for (title, map) in
                    [("source", &stats.by_source), ("outcome", &stats.by_outcome), ("failure", &stats.by_failure)]
                {
                    let parts: Vec<String> = map.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    println!("by {title}: {}", parts.join(" "));
                }
            }
            Ok(EXIT_OK)
        }
    }
}

pub fn summary_line(r: &ImportReport) -> String {
    format!(
        "{} files: imported {} traces, {} reports, {} instances; skipped {} duplicates; rejected {}{}",
        r.files,
        r.imported.traces,
        r.imported.reports,
        r.imported.instances,
        r.imported.duplicates,
        r.rejected.len(),
        if r.warnings.is_empty() { String::new() } else { format!("; {} with warnings", r.warnings.len()) }
    )
}

#[derive(Serialize)]
struct ListRow<'a> {
    id: &'a str,
    source: &'static str,
    instance_id: Option<&'a str>,
    outcome: &'static str,
    failure: Option<&'static str>,
    inferred: bool,
    reason: &'a str,
    events: usize,
}

fn list_row(t: &crate::store::StoredTrace) -> ListRow<'_> {
    let l = &t.effective_label;
    ListRow {
        id: &t.trace.id,
        source: t.trace.source.as_str(),
        instance_id: t.trace.task.instance_id.as_deref(),
        outcome: l.outcome.as_str(),
        failure: l.failure.map(|f| f.as_str()),
        inferred: l.inferred,
        reason: &l.reason,
        events: t.trace.events.len(),
    }
}

fn show_text(t: &crate::store::StoredTrace) -> String {
    use std::fmt::Write;
    let tr = &t.trace;
    let mut s = String::new();
    let _ = writeln!(s, "id:        {}", tr.id);
    let _ = writeln!(s, "source:    {} {}", tr.source.as_str(), tr.format_version.as_deref().unwrap_or(""));
    let _ = writeln!(s, "instance:  {}", tr.task.instance_id.as_deref().unwrap_or("-"));
    let _ = writeln!(s, "model:     {}", tr.model.as_deref().unwrap_or("-"));
    let _ = writeln!(
        s,
        "outcome:   {} ({}{})",
        t.effective_label.outcome.as_str(),
        t.effective_label.reason,
        if t.effective_label.inferred { ", inferred" } else { "" }
    );
    match &t.label_evidence.applied {
        Some(r) => {
            let _ = writeln!(s, "label by:  {} report {} ({})", r.source, r.origin, r.why);
        }
        None => {
            let _ = writeln!(s, "label by:  the importer (no report applies)");
        }
    }
    for r in &t.label_evidence.ignored {
        let _ = writeln!(s, "ignored:   {} report {} says {}: {}", r.source, r.origin, r.outcome, r.why);
    }
    let _ = writeln!(s, "origin:    {}", tr.origin);
    let _ = writeln!(s, "events:    {}", tr.events.len());
    for (i, e) in tr.events.iter().enumerate() {
        let line = match e {
            crate::model::Event::Command { command, exit_code, .. } => {
                format!("$ {} -> {}", first_line(command), exit_code.map_or("?".into(), |c| c.to_string()))
            }
            crate::model::Event::TestRun { command, exit_code, statuses, .. } => format!(
                "test {} -> {} ({} tests)",
                first_line(command),
                exit_code.map_or("?".into(), |c| c.to_string()),
                statuses.len()
            ),
            crate::model::Event::Edit { path, .. } => format!("edit {}", path.as_deref().unwrap_or("?")),
            crate::model::Event::Message { role, text } => format!("{role}: {}", first_line(text)),
            crate::model::Event::Submit { note } => format!("submit {}", note.as_deref().unwrap_or("")),
        };
        let _ = writeln!(s, "  {i:>3} {line}");
    }
    let _ = writeln!(s, "patch:\n{}", tr.final_patch.as_deref().unwrap_or("(none)"));
    s
}

fn first_line(s: &str) -> String {
    let l = s.lines().next().unwrap_or("");
    if l.chars().count() > 100 {
        format!("{}...", l.chars().take(100).collect::<String>())
    } else {
        l.to_string()
    }
}
