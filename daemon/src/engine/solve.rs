//! Solver runs: each curriculum task of a round is attempted on a fresh checkout of its bugged
//! tree, the Solver's diff is graded in the task's container, and the attempt is stored as a
//! trace (labelled by the grading, with the task stored as an instance, so the next round's
//! distiller learns from it) plus a `SolveResult`. Tasks that already have a result for this
//! round and Solver are skipped, so an interrupted run resumes.
//!
//! Solvers: `oracle` applies the fix (the reverse of the bug patch); `baseline` is spectrum-based
//! fault localisation with one-line repair templates (`baseline.rs`); an external agent is a
//! shell command template run on the host in the checkout, with `{workdir}`, `{problem_file}`,
//! `{trajectory_out}` and `{instance_id}` replaced (shell-quoted); if it writes a trajectory in
//! any format the importers know, its steps become the stored trace's events. The external
//! agent is NOT sandboxed: it runs with this user's rights on this machine. The model agent
//! (`agent.rs`) talks to an OpenAI-compatible endpoint and runs every command inside a
//! container of the task's environment (network off); a failure of its endpoint ends that
//! task's attempt (graded with what it has, the error kept in `SolveSummary::errors`), and the
//! other tasks go on.
//!
//! The LM Solver (`lm_solver.rs`) runs a local model on the tasks; its attempts go through
//! `lm_solver::attempt_tasks_in` and are saved here as the round's results one by one.
//!
//! In: the store, a home (checkouts live under `<home>/solve/`), `SolveOptions`. Out: stored
//! traces, instances, reports and `SolveResult`s; a `SolveSummary`.

use super::baseline::{self, CoverageRunner};
use super::checkout::Checkout;
use super::curriculum::pick_round;
use super::environment::{ensure_env, ImageOptions};
use super::grade::{self, all_pass, run_tests, TestRun};
use super::progress::Progress;
use crate::model::{
    Environment, Event, Instance, Label, Outcome, Record, SolveResult, SourceFormat, Task, TaskRef, TestStatus, Trace,
};
use crate::sandbox::worker::Worker;
use crate::sandbox::{Engine, Limits};
use crate::store::Store;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Which Solver attempts the tasks.
#[derive(Debug, Clone)]
pub enum Solver {
    Oracle,
    Baseline,
    /// An external agent: its name (results are kept per Solver name), a shell command
    /// template and a per-task timeout.
    Agent {
        name: String,
        template: String,
        timeout_s: u64,
    },
    /// A model behind an OpenAI-compatible endpoint, its commands run in the task's container.
    ModelAgent(Box<super::agent::AgentConfig>),
    /// A local causal LM (and LoRA adapter) writing the fix (`lm_solver.rs`).
    Lm(Box<super::lm_solver::LmConfig>),
}

impl Solver {
    pub fn name(&self) -> &str {
        match self {
            Solver::Oracle => "oracle",
            Solver::Baseline => "baseline",
            Solver::Agent { name, .. } => name,
            Solver::ModelAgent(cfg) => &cfg.name,
            Solver::Lm(cfg) => &cfg.name,
        }
    }
}

#[derive(Debug, Clone)]
pub struct SolveOptions {
    /// The round whose curriculum is attempted (default: the latest finished one).
    pub round: Option<u32>,
    pub solver: Solver,
    pub image: ImageOptions,
    /// Where progress events go (a count per group of tasks, named after the Solver).
    pub progress: Progress,
}

/// What a run of the Solver over a curriculum did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SolveSummary {
    pub round: u32,
    pub solver: String,
    pub attempted: usize,
    /// Tasks skipped because they already had a result for this round and Solver.
    pub already_done: usize,
    pub by_outcome: BTreeMap<String, usize>,
    /// operator → (resolved, attempted), over this round's results of this Solver.
    pub by_operator: BTreeMap<String, (usize, usize)>,
    /// task id → why its attempt ended early (the model agent's endpoint failed, ...).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub errors: BTreeMap<String, String>,
    /// What the numbers can and cannot show (the LM Solver on a model with random weights).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Sampling Solvers: 0-based sample index → tasks first resolved by that sample (pass@k).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub resolved_at_sample: BTreeMap<usize, usize>,
    pub wall_ms: u64,
}

/// What a Solver did in the checkout, before grading.
pub(crate) struct Attempt {
    pub(crate) events: Vec<Event>,
    /// A trajectory the agent wrote, imported.
    pub(crate) imported: Option<Trace>,
    /// Why the attempt ended early, if it did (the attempt is still graded).
    pub(crate) error: Option<String>,
}

/// Attempt every curriculum task of the round that has no result yet for this Solver.
pub async fn solve(store: &mut Store, home: &Path, opts: &SolveOptions) -> anyhow::Result<SolveSummary> {
    let started = Instant::now();
    let rounds = store.rounds()?;
    let Some(round) = pick_round(&rounds, opts.round).cloned() else {
        anyhow::bail!(match opts.round {
            Some(n) => format!("no round {n}"),
            None => "no finished round yet: run `socratic round --repo PATH` first".to_string(),
        });
    };
    let solver = opts.solver.name().to_string();
    if solver.is_empty() {
        anyhow::bail!("the Solver has no name (for the LM Solver: lm_solver::name_of)");
    }
    let done: Vec<String> = store.solve_results_of(round.number, &solver)?.into_iter().map(|r| r.task_id).collect();
    let entries = super::curriculum::load(store, &round)?;
    let mut summary = SolveSummary { round: round.number, solver: solver.clone(), ..Default::default() };
    let mut todo: Vec<Task> = Vec::new();
    for e in entries {
        if done.contains(&e.task.id) {
            summary.already_done += 1;
        } else {
            todo.push(e.task);
        }
    }
    let mut by_commit: BTreeMap<(String, String), Vec<Task>> = BTreeMap::new();
    for t in todo {
        by_commit.entry((t.repo.clone(), t.base_commit.clone())).or_default().push(t);
    }
    let engine = super::environment::connect(store).await?;
    if let Solver::Lm(cfg) = &opts.solver {
        let tasks: Vec<Task> = by_commit.into_values().flatten().collect();
        solve_lm(store, home, &engine, cfg, &tasks, round.number, opts, &mut summary).await?;
        by_commit = BTreeMap::new();
    }
    for ((repo, base_commit), tasks) in by_commit {
        let env = task_env(store, &engine, &repo, &base_commit, &opts.image, &opts.progress).await?;
        let mut worker = Worker::start(&engine, &env.image, &Limits::default(), &env.run_env()).await?;
        let coverage = match opts.solver {
            Solver::Baseline => Some(CoverageRunner::start(&engine, &env).await?),
            _ => None,
        };
        let mut counter = opts.progress.start(solver.clone(), tasks.len() as u64);
        let mut failure = None;
        for task in tasks {
            let slot = (&engine, &env);
            match solve_one(store, home, slot, &mut worker, coverage.as_ref(), &task, round.number, &opts.solver).await
            {
                Ok((result, error)) => {
                    if let Some(e) = error {
                        summary.errors.insert(task.id.clone(), e);
                    }
                    summary.attempted += 1;
                    *summary.by_outcome.entry(result.report.outcome.as_str().to_string()).or_default() += 1;
                }
                Err(e) => {
                    failure = Some(e.context(format!("solving {}", task.id)));
                    break;
                }
            }
            counter.advance(None);
        }
        wind_down(counter, coverage, worker, failure).await?;
    }
    let results = store.solve_results_of(round.number, &solver)?;
    let ids: Vec<String> = results.iter().map(|r| r.task_id.clone()).collect();
    let tasks: BTreeMap<String, Task> = store.tasks_by_id(&ids)?.into_iter().map(|t| (t.id.clone(), t)).collect();
    for r in results {
        if let Some(t) = tasks.get(&r.task_id) {
            let entry = summary.by_operator.entry(t.operator.clone()).or_default();
            entry.1 += 1;
            if r.report.outcome == Outcome::Resolved {
                entry.0 += 1;
            }
        }
    }
    summary.wall_ms = started.elapsed().as_millis() as u64;
    Ok(summary)
}

/// The LM Solver's attempts, each saved as a result of the round as soon as it is graded.
#[allow(clippy::too_many_arguments)]
async fn solve_lm(
    store: &mut Store,
    home: &Path,
    engine: &Engine,
    cfg: &super::lm_solver::LmConfig,
    tasks: &[Task],
    round: u32,
    opts: &SolveOptions,
    summary: &mut SolveSummary,
) -> anyhow::Result<()> {
    let label = format!("round-{round}");
    if cfg.model.join(crate::score::RANDOM_WEIGHTS_MARKER).exists() {
        summary.note = Some(format!(
            "{} has random weights (written by `socratic model tiny`){}: what it resolves shows the mechanics, not a Solver's skill",
            cfg.model.display(),
            if cfg.adapter.is_some() { ", whatever the adapter taught it aside" } else { "" }
        ));
    }
    let mut save = |store: &mut Store, a: &super::lm_solver::LmAttempt| -> anyhow::Result<()> {
        store.save_solve_result(&SolveResult {
            task_id: a.task_id.clone(),
            round,
            solver: cfg.name.clone(),
            report: a.report.clone(),
            diff: a.patch.clone(),
            trace_id: a.trace_id.clone(),
            duration_ms: a.duration_ms,
        })?;
        Ok(())
    };
    let attempts = super::lm_solver::attempt_tasks_in(
        store,
        home,
        engine,
        cfg,
        tasks,
        &opts.progress,
        &opts.image,
        &label,
        &mut save,
    )
    .await?;
    for a in attempts {
        summary.attempted += 1;
        *summary.by_outcome.entry(a.report.outcome.as_str().to_string()).or_default() += 1;
        if let Some(i) = a.resolved_sample {
            *summary.resolved_at_sample.entry(i).or_default() += 1;
        }
        if let Some(note) = a.note {
            summary.errors.insert(a.task_id, note);
        }
    }
    Ok(())
}

/// The environment of the tasks' base commit: the stored one while its image exists (the
/// repository may have moved on since the round), else the one for the repository's HEAD.
pub(crate) async fn task_env(
    store: &mut Store,
    engine: &Engine,
    repo: &str,
    base_commit: &str,
    image: &ImageOptions,
    progress: &Progress,
) -> anyhow::Result<Environment> {
    if let Some(env) = store.environment(repo, base_commit)? {
        if engine.image_reusable(&env.image).await {
            return Ok(env);
        }
    }
    let env = ensure_env(store, Path::new(repo), image, progress).await?;
    if env.head != base_commit {
        anyhow::bail!(
            "{repo} is at {} but its tasks were made at {base_commit}, and no environment image of that commit is left; check that commit out to attempt them",
            &env.head[..12.min(env.head.len())]
        );
    }
    Ok(env)
}

/// Check out, attempt, grade and store one task.
#[allow(clippy::too_many_arguments)]
async fn solve_one(
    store: &mut Store,
    home: &Path,
    slot: (&Engine, &Environment),
    worker: &mut Worker,
    coverage: Option<&CoverageRunner>,
    task: &Task,
    round: u32,
    solver: &Solver,
) -> anyhow::Result<(SolveResult, Option<String>)> {
    let started = Instant::now();
    let folder = home.join("solve").join(format!("round-{round}")).join(solver.name()).join(&task.id);
    let origin = format!("solve:{}:round-{round}:{}", solver.name(), task.id);
    let graded = attempt_and_grade(slot, worker, coverage, task, solver, &folder, &origin).await?;
    let error = graded.attempt.error.clone();
    let trace = attempt_trace(task, solver.name(), graded.attempt, &graded.diff, graded.report.label(), &origin);
    let instance = task_instance(task, slot.1);
    // The grading labels this trace only: a report record would relabel every Solver's trace
    // of the task.
    store.insert_records(&[Record::Instance(instance), Record::Trace(trace.clone())])?;
    let result = SolveResult {
        task_id: task.id.clone(),
        round,
        solver: solver.name().to_string(),
        report: graded.report,
        diff: graded.diff,
        trace_id: trace.id,
        duration_ms: started.elapsed().as_millis() as u64,
    };
    store.save_solve_result(&result)?;
    Ok((result, error))
}

/// An attempt with its diff and grading.
struct Graded {
    attempt: Attempt,
    diff: String,
    report: crate::model::EvalReport,
}

/// Check out `task` into `folder`, let the Solver attempt it, grade its diff. Stores nothing.
async fn attempt_and_grade(
    (engine, env): (&Engine, &Environment),
    worker: &mut Worker,
    coverage: Option<&CoverageRunner>,
    task: &Task,
    solver: &Solver,
    folder: &Path,
    origin: &str,
) -> anyhow::Result<Graded> {
    let checkout = Checkout::create(task, &folder.join("repo"))?;
    let attempt = match solver {
        Solver::Oracle => oracle(&checkout, task)?,
        Solver::Baseline => {
            let coverage = coverage.ok_or_else(|| anyhow::anyhow!("the baseline solver needs a coverage container"))?;
            run_baseline(&checkout, env, worker, coverage, task).await?
        }
        Solver::Agent { template, timeout_s, .. } => run_agent(&checkout, folder, task, template, *timeout_s).await?,
        Solver::ModelAgent(cfg) => {
            let mut a = super::agent::attempt(engine, env, task, &checkout, folder, cfg).await?;
            if let Some(t) = a.imported.as_mut() {
                t.events.extend(a.events.iter().cloned());
            }
            Attempt { events: a.events, imported: a.imported, error: a.error }
        }
        Solver::Lm(_) => anyhow::bail!("the LM Solver attempts its tasks through lm_solver::attempt_tasks_in"),
    };
    let diff = checkout.solver_diff()?;
    let combined = checkout.combined_patch(&diff)?;
    let (report, _) = grade::grade(worker, env, task, &diff, &combined, origin).await?;
    Ok(Graded { attempt, diff, report })
}

/// Attempt `tasks` (not a round's curriculum: a held-out set) with `solver`, each on a fresh
/// checkout under `<home>/solve/<label>/`, graded in its environment like `solve`, and return
/// each task's outcome in the order given. Nothing is stored: no trace, no result, so what is
/// evaluated here never feeds distillation or training. The LM Solver goes through
/// `lm_solver::attempt_tasks_in`, which stores each attempt as a trace and instance (never a
/// round's result).
pub async fn attempt_tasks(
    store: &mut Store,
    home: &Path,
    tasks: &[Task],
    label: &str,
    solver: &Solver,
    image: &ImageOptions,
    progress: &Progress,
) -> anyhow::Result<Vec<(String, Outcome)>> {
    let mut by_commit: BTreeMap<(String, String), Vec<&Task>> = BTreeMap::new();
    for t in tasks {
        by_commit.entry((t.repo.clone(), t.base_commit.clone())).or_default().push(t);
    }
    let engine = super::environment::connect(store).await?;
    if let Solver::Lm(cfg) = solver {
        let mut each = |_: &mut Store, _: &super::lm_solver::LmAttempt| Ok(());
        let attempts =
            super::lm_solver::attempt_tasks_in(store, home, &engine, cfg, tasks, progress, image, label, &mut each)
                .await?;
        return Ok(attempts.into_iter().map(|a| (a.task_id, a.report.outcome)).collect());
    }
    let mut outcomes: BTreeMap<String, Outcome> = BTreeMap::new();
    for ((repo, base_commit), group) in by_commit {
        let env = task_env(store, &engine, &repo, &base_commit, image, progress).await?;
        let mut worker = Worker::start(&engine, &env.image, &Limits::default(), &env.run_env()).await?;
        let coverage = match solver {
            Solver::Baseline => Some(CoverageRunner::start(&engine, &env).await?),
            _ => None,
        };
        let mut counter = progress.start(format!("{} ({label})", solver.name()), group.len() as u64);
        let mut failure = None;
        for task in group {
            let folder = home.join("solve").join(label).join(solver.name()).join(&task.id);
            let origin = format!("solve:{}:{label}:{}", solver.name(), task.id);
            match attempt_and_grade((&engine, &env), &mut worker, coverage.as_ref(), task, solver, &folder, &origin)
                .await
            {
                Ok(g) => {
                    outcomes.insert(task.id.clone(), g.report.outcome);
                }
                Err(e) => {
                    failure = Some(e.context(format!("attempting {}", task.id)));
                    break;
                }
            }
            counter.advance(None);
        }
        wind_down(counter, coverage, worker, failure).await?;
    }
    Ok(tasks.iter().filter_map(|t| outcomes.remove(&t.id).map(|o| (t.id.clone(), o))).collect())
}

/// The task as a benchmark instance: the fix is the reverse of the bug patch.
pub fn task_instance(task: &Task, env: &Environment) -> Instance {
    instance_of(task, grade::whole_suite(task, env).pass_to_pass, Some(env.image.clone()))
}

/// A task as an instance with the given PASS_TO_PASS and image: its fix is the reverse of its
/// bug patch.
pub(crate) fn instance_of(task: &Task, pass_to_pass: Vec<String>, image_name: Option<String>) -> Instance {
    Instance {
        instance_id: task.id.clone(),
        source: SourceFormat::Solver,
        repo: Some(task.repo.clone()),
        base_commit: Some(task.base_commit.clone()),
        problem_statement: Some(task.problem_statement.clone()),
        gold_patch: Some(crate::diff::reverse(&task.bug_patch).unwrap_or_default()),
        bug_patch: Some(task.bug_patch.clone()),
        test_patch: None,
        fail_to_pass: task.fail_to_pass.clone(),
        pass_to_pass,
        image_name,
        origin: format!("task {}", task.id),
    }
}

/// The end of one environment's group of attempts: close the progress counter, shut the
/// coverage and grading containers down, then report the attempt that failed, if one did.
pub(crate) async fn wind_down(
    counter: super::progress::Counter,
    coverage: Option<CoverageRunner>,
    worker: Worker,
    failure: Option<anyhow::Error>,
) -> anyhow::Result<()> {
    counter.finish();
    if let Some(c) = coverage {
        c.shutdown().await;
    }
    if let Err(e) = worker.shutdown().await {
        tracing::warn!("removing the grading container: {e}");
    }
    failure.map_or(Ok(()), Err)
}

pub(crate) fn attempt_trace(
    task: &Task,
    solver: &str,
    attempt: Attempt,
    diff: &str,
    label: Label,
    origin: &str,
) -> Trace {
    let task_ref = TaskRef {
        instance_id: Some(task.id.clone()),
        repo: Some(task.repo.clone()),
        base_commit: Some(task.base_commit.clone()),
        problem_statement: Some(task.problem_statement.clone()),
    };
    let final_patch = (!diff.trim().is_empty()).then(|| diff.to_string());
    let mut trace = match attempt.imported {
        Some(mut t) => {
            t.task = task_ref;
            t.final_patch = final_patch;
            t.label = label;
            t.origin = origin.to_string();
            t
        }
        None => Trace {
            id: String::new(),
            source: SourceFormat::Solver,
            format_version: Some(format!("socratic-solve-{solver}")),
            task: task_ref,
            model: Some(solver.to_string()),
            events: attempt.events,
            final_patch,
            label,
            cost_usd: None,
            started_at: None,
            ended_at: None,
            origin: origin.to_string(),
            messages: Vec::new(),
        },
    };
    trace.id = trace.compute_id();
    trace
}

/// The oracle: apply the fix.
fn oracle(checkout: &Checkout, task: &Task) -> anyhow::Result<Attempt> {
    let fix = crate::diff::reverse(&task.bug_patch)
        .map_err(|e| anyhow::anyhow!("the bug patch of {} has no fix: {e}", task.id))?;
    let repo = crate::diff::git::Repo::open(&checkout.dir)?;
    repo.apply_to_workdir(&fix).map_err(|e| anyhow::anyhow!("applying the fix of {}: {e}", task.id))?;
    Ok(Attempt {
        events: vec![
            Event::Edit { path: Some(task.site.file.clone()), diff: fix },
            Event::Submit { note: Some("oracle".into()) },
        ],
        imported: None,
        error: None,
    })
}

/// The baseline: localise with the coverage spectrum, then try one-line rewrites in order.
async fn run_baseline(
    checkout: &Checkout,
    env: &Environment,
    worker: &mut Worker,
    coverage: &CoverageRunner,
    task: &Task,
) -> anyhow::Result<Attempt> {
    let mut events = Vec::new();
    let spectrum = coverage.spectrum(&checkout.combined_patch(&checkout.solver_diff()?)?).await?;
    let statuses: BTreeMap<String, TestStatus> = spectrum.results.iter().map(|(t, r)| (t.clone(), r.status)).collect();
    let failing: Vec<String> = spectrum.failing.iter().cloned().collect();
    events.push(Event::TestRun {
        command: "python3 -m pytest --cov=. --cov-context=test".into(),
        exit_code: Some(if failing.is_empty() { 0 } else { 1 }),
        statuses,
        output: format!("{} failing of {}", failing.len(), spectrum.results.len()),
    });
    if failing.is_empty() {
        events.push(Event::Submit { note: Some("no failing test to localise from".into()) });
        return Ok(Attempt { events, imported: None, error: None });
    }
    let suspects = baseline::ochiai(&spectrum.coverage, &spectrum.failing);
    let top: Vec<String> =
        suspects.iter().take(baseline::TOP_LINES).map(|s| format!("{}:{} ({:.2})", s.file, s.line, s.score)).collect();
    events.push(Event::Message {
        role: "assistant".into(),
        text: format!("most suspicious lines (Ochiai): {}", top.join(", ")),
    });
    let candidates = baseline::candidates(&suspects, |f| checkout.read(f).ok());
    for (n, (suspect, line, text)) in candidates.iter().enumerate() {
        let original = checkout.read(&suspect.file)?;
        checkout.write(&suspect.file, text)?;
        let mut tests = failing.clone();
        tests.extend(suspect.tests.iter().filter(|t| !failing.contains(t)).cloned());
        let diff = checkout.solver_diff()?;
        let run = run_tests(
            worker,
            env,
            &format!("baseline-{}-{n}", task.id),
            &checkout.combined_patch(&diff)?,
            &tests,
            120.0,
        )
        .await?;
        let ok = all_pass(&tests, &run);
        events.push(Event::TestRun {
            command: format!("try {}:{}: `{}`", suspect.file, suspect.line, line.trim()),
            exit_code: Some(if ok { 0 } else { 1 }),
            statuses: match &run {
                TestRun::Finished(r) => r.iter().map(|(t, x)| (t.clone(), x.status)).collect(),
                _ => BTreeMap::new(),
            },
            output: String::new(),
        });
        if ok {
            events.push(Event::Edit { path: Some(suspect.file.clone()), diff });
            events.push(Event::Submit { note: Some(format!("repaired {}:{}", suspect.file, suspect.line)) });
            return Ok(Attempt { events, imported: None, error: None });
        }
        checkout.write(&suspect.file, &original)?;
    }
    events.push(Event::Submit { note: Some(format!("no template repair passed ({} tried)", candidates.len())) });
    Ok(Attempt { events, imported: None, error: None })
}

/// Fill a command template; every value is shell-quoted.
pub fn render_template(template: &str, values: &[(&str, &str)]) -> anyhow::Result<String> {
    let mut out = template.to_string();
    for (key, value) in values {
        let quoted = shlex::try_quote(value).map_err(|_| anyhow::anyhow!("{key} has a NUL byte"))?;
        out = out.replace(&format!("{{{key}}}"), &quoted);
    }
    if let Some(m) = regex::Regex::new(r"\{[a-z_]+\}").ok().and_then(|re| re.find(&out).map(|m| m.as_str().to_string()))
    {
        anyhow::bail!("unknown placeholder {m} in the agent template (known: {{workdir}}, {{problem_file}}, {{trajectory_out}}, {{instance_id}})");
    }
    Ok(out)
}

/// Run an external agent in the checkout with a timeout (its whole process group is killed).
async fn run_agent(
    checkout: &Checkout,
    folder: &Path,
    task: &Task,
    template: &str,
    timeout_s: u64,
) -> anyhow::Result<Attempt> {
    let problem_file = folder.join("problem.md");
    std::fs::write(&problem_file, &task.problem_statement)
        .map_err(|e| anyhow::anyhow!("{}: {e}", problem_file.display()))?;
    let trajectory_out = folder.join("trajectory.json");
    let _ = std::fs::remove_file(&trajectory_out);
    let path_str = |p: &PathBuf| p.display().to_string();
    let command = render_template(
        template,
        &[
            ("workdir", &path_str(&checkout.dir)),
            ("problem_file", &path_str(&problem_file)),
            ("trajectory_out", &path_str(&trajectory_out)),
            ("instance_id", &task.id),
        ],
    )?;
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(&command)
        .current_dir(&checkout.dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| anyhow::anyhow!("starting the agent `{command}`: {e}"))?;
    let pid = child.id();
    let output = match tokio::time::timeout(Duration::from_secs(timeout_s), async {
        use tokio::io::AsyncReadExt;
        let (mut out, mut err) = (String::new(), String::new());
        if let Some(mut s) = child.stdout.take() {
            let _ = s.read_to_string(&mut out).await;
        }
        if let Some(mut s) = child.stderr.take() {
            let _ = s.read_to_string(&mut err).await;
        }
        let status = child.wait().await;
        (status, out, err)
    })
    .await
    {
        Ok((status, out, err)) => (status.ok().and_then(|s| s.code()), format!("{out}{err}"), false),
        Err(_) => {
            if let Some(pid) = pid {
                // SAFETY: killpg only sends a signal to the agent's own process group.
                unsafe { libc::killpg(pid as i32, libc::SIGKILL) };
            }
            (None, format!("killed after {timeout_s} s"), true)
        }
    };
    let (exit_code, text, timed_out) = output;
    let tail: String = text.chars().rev().take(4000).collect::<Vec<_>>().into_iter().rev().collect();
    let mut events = vec![Event::Command { command: command.clone(), exit_code, output: tail }];
    if timed_out {
        events.push(Event::Submit { note: Some(format!("time limit ({timeout_s} s)")) });
    }
    let imported = match std::fs::read(&trajectory_out) {
        Ok(bytes) => match crate::traces::parse_file(&trajectory_out, &bytes) {
            Ok((_, records)) => records.into_iter().find_map(|r| match r {
                Record::Trace(t) => Some(t),
                _ => None,
            }),
            Err(e) => {
                events.push(Event::Message {
                    role: "system".into(),
                    text: format!("the agent's trajectory was not imported: {e}"),
                });
                None
            }
        },
        Err(_) => None,
    };
    Ok(Attempt { events, imported, error: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_quote_values_and_reject_unknown_placeholders() {
        let got = render_template(
            "agent --dir {workdir} --id {instance_id}",
            &[("workdir", "/tmp/a b"), ("instance_id", "t-1")],
        )
        .unwrap();
        assert_eq!(got, "agent --dir '/tmp/a b' --id t-1");
        let err = render_template("agent {wokdir}", &[("workdir", "/x")]).unwrap_err().to_string();
        assert!(err.contains("{wokdir}"), "{err}");
    }
}
