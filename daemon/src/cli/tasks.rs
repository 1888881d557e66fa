//! `socratic tasks generate|list|show`: candidate repair tasks in the store.
//!
//! In: a git repository, operators, budget and seed (generate), or a task id (show). Out: the
//! generated tasks stored, a per-operator report, task rows (the editors' `TaskRow`, the same
//! as `curriculum list` prints), or one task with its bug patch; exit 2 for an unknown operator.

use super::traces::JsonFlag;
use super::{print_json, EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::lsp::protocol::TaskRow;
use crate::lsp::tasks::stored_rows;
use crate::store::Store;
use crate::tasks::{generate, select_operators, GenerateConfig, Report, DEFAULT_BUDGET};
use clap::{Args, Subcommand};
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Subcommand)]
pub enum TasksCmd {
    /// Generate candidate tasks by mutating sites of a git repository; stores them.
    Generate(GenerateArgs),
    /// List stored tasks.
    List(JsonFlag),
    /// Validate stored candidates in containers (F2P / P2P, staged verdicts).
    Validate(super::validate::ValidateArgs),
    /// Score stored tasks: validity x cosine(gradient feature, reference direction).
    Score(super::score::ScoreArgs),
    /// Import shard result files (`cluster run-shard`) into the store: a verdict already stored
    /// counts once, a decided task is never undone, an unknown task is an error naming it.
    ImportResults {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Show one task (id or unique prefix) with its verdict, tests, statement and bug patch.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Root of a git repository.
    #[arg(long)]
    pub repo: PathBuf,
    /// Comma-separated operator names (default: all).
    #[arg(long, value_delimiter = ',')]
    pub operators: Option<Vec<String>>,
    /// At most this many candidates.
    #[arg(long, default_value_t = DEFAULT_BUDGET)]
    pub budget: usize,
    /// Seed: the same seed gives the same tasks.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Folder of `*.scm` anchor queries.
    #[arg(long, value_name = "DIR")]
    pub queries: Option<PathBuf>,
    /// Spread the budget over the stored skills' operators by (failure rate) x (how little the
    /// valid / accepted tasks already cover them).
    #[arg(long, conflicts_with = "untargeted")]
    pub skills: bool,
    /// Give every operator an equal share (the default without --skills).
    #[arg(long)]
    pub untargeted: bool,
    /// Only sites on lines the clean suite executes (from the environment built for this
    /// commit with `socratic env build`): a change no test runs can never become a task. The
    /// default whenever that environment exists; this flag makes it an error when it does not.
    #[arg(long, conflicts_with = "all_sites")]
    pub executed_only: bool,
    /// Generate at every site, also on lines no test executes (the default when no environment
    /// exists for this commit).
    #[arg(long)]
    pub all_sites: bool,
    /// One stable JSON document on stdout.
    #[arg(long)]
    pub json: bool,
}

/// What `tasks generate` reports.
#[derive(Debug, Serialize)]
pub struct GenerateOutput {
    pub repo: String,
    pub base_commit: Option<String>,
    pub seed: u64,
    pub budget: usize,
    pub generated: usize,
    pub stored_new: usize,
    /// Operator weights of targeted generation (`--skills`), else `None`.
    pub operator_weights: Option<std::collections::BTreeMap<String, f64>>,
    pub operators: Vec<Report>,
    pub tasks: Vec<TaskRow>,
}

pub fn run(home: &Path, cmd: TasksCmd) -> anyhow::Result<i32> {
    match cmd {
        TasksCmd::Generate(args) => generate_cmd(home, args),
        TasksCmd::Validate(args) => super::validate::run(home, args),
        TasksCmd::Score(args) => super::score::run_score(home, args),
        TasksCmd::ImportResults { files, json } => import_results(home, &files, json),
        TasksCmd::List(f) => {
            let store = Store::open(home)?;
            let rows = stored_rows(&store.tasks()?);
            if f.json {
                print_json(&rows)?;
            } else {
                for r in &rows {
                    println!("{}  {:10} {:24} {}:{}  {}", r.id, r.status, r.operator, r.file, r.line, r.enclosing);
                }
            }
            Ok(EXIT_OK)
        }
        TasksCmd::Show { id, json } => {
            let store = Store::open(home)?;
            match store.task(&id)? {
                Some(t) if json => {
                    let verdict = store.verdict(&t.id)?;
                    print_json(&serde_json::json!({ "task": t, "verdict": verdict })).map(|_| EXIT_OK)
                }
                Some(t) => {
                    print!("{}", show_text(&t, store.verdict(&t.id)?.as_ref()));
                    Ok(EXIT_OK)
                }
                None => {
                    eprintln!("error: no task with id or unique prefix '{id}'");
                    Ok(EXIT_FAILED)
                }
            }
        }
    }
}

fn import_results(home: &Path, files: &[PathBuf], json: bool) -> anyhow::Result<i32> {
    use crate::engine::shard;
    let results = files.iter().map(|f| Ok((f.clone(), shard::read_result(f)?))).collect::<anyhow::Result<Vec<_>>>()?;
    let summary = shard::import_results(&mut Store::open(home)?, &results)?;
    if json {
        print_json(&summary)?;
    } else {
        println!(
            "{} file(s): {} verdict(s) recorded ({} to retry), {} grade(s) recorded ({} resolved), {} already \
             stored, {} environment(s)",
            summary.files,
            summary.recorded,
            summary.retry,
            summary.graded,
            summary.resolved,
            summary.already,
            summary.environments
        );
    }
    for id in &summary.kept_stored {
        eprintln!("note: {id} already has another verdict stored; it is kept");
    }
    Ok(EXIT_OK)
}

fn generate_cmd(home: &Path, args: GenerateArgs) -> anyhow::Result<i32> {
    if let Err(e) = select_operators(args.operators.as_deref()) {
        eprintln!("error: {e}");
        return Ok(EXIT_USAGE);
    }
    let mut config = GenerateConfig {
        operators: args.operators,
        budget: args.budget,
        seed: args.seed,
        queries_dir: args.queries,
        ..Default::default()
    };
    if args.skills && !args.untargeted {
        let store = Store::open(home)?;
        config = crate::engine::round::skill_weighted(config, &store.skills()?, &store.coverage_counts()?);
        if config.operator_weights.is_none() {
            eprintln!("error: no stored skill with a failure rate above 0 names an operator; run `socratic skills distill` first");
            return Ok(EXIT_FAILED);
        }
    }
    if !args.all_sites {
        let (key, head) = super::env::repo_key(&args.repo)?;
        match Store::open(home)?.environment(&key, &head)? {
            Some(env) => config.executed_lines = Some(env.executed_lines()),
            None if args.executed_only => {
                eprintln!("error: no environment for {key} at {head}: run `socratic env build --repo {}` first (--executed-only reads its coverage)", args.repo.display());
                return Ok(EXIT_FAILED);
            }
            None => {}
        }
    }
    let bar = super::progress_bar(0, "generating");
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let result = generate(&args.repo, &config);
    bar.finish_and_clear();
    let (tasks, reports) = result?;
    let mut store = Store::open(home)?;
    crate::engine::repository::record_identity(&mut store, &args.repo)?;
    let stored_new = store.insert_tasks(&tasks)?;
    let out = GenerateOutput {
        repo: tasks.first().map_or_else(|| args.repo.display().to_string(), |t| t.repo.clone()),
        base_commit: tasks.first().map(|t| t.base_commit.clone()),
        seed: args.seed,
        budget: args.budget,
        generated: tasks.len(),
        stored_new,
        operator_weights: config.operator_weights.clone(),
        operators: reports,
        tasks: stored_rows(&tasks),
    };
    if args.json {
        print_json(&out)?;
    } else {
        print!("{}", generate_text(&out));
    }
    if out.generated == 0 {
        eprintln!("error: no candidates: {}", crate::tasks::why_no_candidates(&out.operators));
        return Ok(EXIT_FAILED);
    }
    Ok(EXIT_OK)
}

fn generate_text(o: &GenerateOutput) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "generated {} candidate tasks ({} new in the store) from {} with seed {}",
        o.generated, o.stored_new, o.repo, o.seed
    );
    let _ = writeln!(s, "{:28} {:>7} {:>9} {:>10}  note", "operator", "sites", "attempts", "candidates");
    for r in &o.operators {
        let _ = writeln!(
            s,
            "{:28} {:>7} {:>9} {:>10}  {}",
            r.operator,
            r.sites,
            r.attempted,
            r.candidates,
            r.reason.as_deref().unwrap_or("")
        );
    }
    s
}

fn show_text(t: &crate::model::Task, verdict: Option<&crate::model::Verdict>) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(s, "id:        {}", t.id);
    let _ = writeln!(s, "operator:  {}", t.operator);
    let _ = writeln!(s, "stage:     {}", t.stage.name());
    let _ = writeln!(s, "decision:  {}", t.decision.name());
    let _ = writeln!(s, "anchor:    {}", t.anchor.name());
    let _ = writeln!(s, "repo:      {} @ {}", t.repo, t.base_commit);
    let _ = writeln!(
        s,
        "site:      {}:{}:{} ({})",
        t.site.file,
        t.site.start_line + 1,
        t.site.start_col + 1,
        t.site.node_kind
    );
    let _ = writeln!(s, "enclosing: {}", t.enclosing);
    if let Some(v) = verdict {
        let stage = v.rejected_at().map(|st| format!(" at {}", st.name())).unwrap_or_default();
        let word = match v.outcome {
            crate::model::VerdictOutcome::Valid => "valid",
            crate::model::VerdictOutcome::Rejected(_) => "invalid",
            crate::model::VerdictOutcome::Retry => "to retry",
        };
        let _ = writeln!(s, "verdict:   {word}{stage}: {} ({} ms)", v.reason, v.duration_ms);
        let _ = writeln!(s, "FAIL_TO_PASS: {}", v.fail_to_pass.join(", "));
        let _ = writeln!(s, "PASS_TO_PASS: {}", v.pass_to_pass.join(", "));
    }
    let _ = writeln!(s, "statement: {}", t.problem_statement);
    let _ = writeln!(s, "\n{}", t.bug_patch);
    s
}
