//! `socratic report [--html OUT.html] [--json OUT.json] [--csv OUT.csv]`.
//!
//! In: the store. Out: the self-contained report page (see [`crate::report`]) written to
//! `OUT.html`; the same figures as JSON ([`crate::report::ReportData`], shape in README.md) to
//! `OUT.json`; the kept tasks of every round as CSV (one row per task, [`CSV_HEADER`]) to
//! `OUT.csv`; one line on stdout per file; exit 1 when a file cannot be written. An empty
//! store gives a page that says there is nothing yet. With none of them, the report as text on
//! stdout (totals, and each evolve run's per-round resolve rates).

use super::EXIT_OK;
use crate::report::{self, ReportData};
use crate::store::Store;
use anyhow::Context;
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Where to write the page.
    #[arg(long, value_name = "OUT.html")]
    pub html: Option<PathBuf>,
    /// Where to write the figures as JSON (for notebooks).
    #[arg(long, value_name = "OUT.json")]
    pub json: Option<PathBuf>,
    /// Where to write the rounds' kept tasks as CSV, one row per task.
    #[arg(long, value_name = "OUT.csv")]
    pub csv: Option<PathBuf>,
}

/// The CSV's columns; `outcomes` is `solver@round:outcome` joined with `;`.
pub const CSV_HEADER: &str =
    "round,task,skill,operator,file,line,reward,verdict,decision,outcomes,fail_to_pass,pass_to_pass";

pub fn run(home: &Path, args: ReportArgs) -> anyhow::Result<i32> {
    let store = Store::open(home)?;
    let data = report::gather(&store)?;
    if args.html.is_none() && args.json.is_none() && args.csv.is_none() {
        print!("{}", report::text(&data));
        return Ok(EXIT_OK);
    }
    if let Some(json) = &args.json {
        write(json, &(serde_json::to_string_pretty(&data)? + "\n"))?;
        println!("wrote {} ({} rounds, {} kept tasks)", json.display(), data.rounds.len(), kept(&data));
    }
    if let Some(csv) = &args.csv {
        write(csv, &csv_text(&data))?;
        println!("wrote {} ({} kept tasks)", csv.display(), kept(&data));
    }
    if let Some(html) = &args.html {
        write(html, &report::html::render(&data))?;
        page_lines(html, &data);
    }
    Ok(EXIT_OK)
}

fn kept(d: &ReportData) -> usize {
    d.rounds.iter().map(|r| r.tasks.len()).sum()
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    if path.is_dir() {
        anyhow::bail!("cannot write {}: it is a folder; name a file", path.display());
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

fn page_lines(html: &Path, data: &ReportData) {
    if data.is_empty() {
        println!("wrote {} (nothing to show yet)", html.display());
        return;
    }
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

/// The kept tasks as CSV (RFC 4180 quoting), rounds first to last, each best first.
pub fn csv_text(d: &ReportData) -> String {
    let mut out = format!("{CSV_HEADER}\n");
    for r in &d.rounds {
        for t in &r.tasks {
            let outcomes: Vec<String> =
                t.outcomes.iter().map(|o| format!("{}@{}:{}", o.solver, o.round, o.outcome)).collect();
            let cells = [
                r.number.to_string(),
                t.id.clone(),
                t.skill.clone(),
                t.operator.clone(),
                t.file.clone(),
                t.line.to_string(),
                t.reward.map_or(String::new(), |x| x.to_string()),
                t.verdict.clone(),
                t.decision.clone(),
                outcomes.join(";"),
                t.fail_to_pass.join(";"),
                t.pass_to_pass.join(";"),
            ];
            let cells: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
            out.push_str(&cells.join(","));
            out.push('\n');
        }
    }
    out
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{RoundRow, SolverOutcome, TaskRow};

    #[test]
    fn csv_has_a_row_per_kept_task_quoted() {
        let task = TaskRow {
            id: "t-1".into(),
            skill: "a, \"b\"".into(),
            operator: "flip".into(),
            file: "m.py".into(),
            line: 3,
            reward: Some(0.5),
            verdict: "valid".into(),
            decision: "accepted".into(),
            outcomes: vec![SolverOutcome { solver: "baseline".into(), round: 2, outcome: "resolved".into() }],
            fail_to_pass: vec!["t::a".into(), "t::b".into()],
            ..Default::default()
        };
        let d = ReportData {
            rounds: vec![RoundRow {
                number: 2,
                tasks: vec![task.clone(), TaskRow { reward: None, ..task }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let text = csv_text(&d);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], CSV_HEADER);
        assert_eq!(lines[1], "2,t-1,\"a, \"\"b\"\"\",flip,m.py,3,0.5,valid,accepted,baseline@2:resolved,t::a;t::b,");
        assert!(lines[2].contains(",3,,valid,"), "no reward is an empty cell: {}", lines[2]);
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0].split(',').count(), 12);
    }
}
