//! Driving validation: warm workers pull candidates from a shared queue; each verdict is handed
//! back as soon as it exists, so the caller can store it before the next one (a crash loses no
//! result already recorded).
//!
//! In: an engine, the environment, candidates, a config. Out: `(Task, Verdict)` pairs through
//! the `on_verdict` callback, in completion order.

use super::{judge, problem_statement, select_tests, timeout_for, BugRun, Selection};
use crate::model::{Task, TaskStatus, TestStatus, Verdict};
use crate::sandbox::image::Environment;
use crate::sandbox::worker::{RunRequest, Worker};
use crate::sandbox::{junit, Engine, Limits, Result};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// How to validate.
#[derive(Debug, Clone)]
pub struct ValidateConfig {
    /// Warm containers working in parallel.
    pub workers: usize,
    /// A fresh container per candidate instead of warm ones.
    pub strict: bool,
    /// Seconds the selected tests of one candidate may take.
    pub timeout_s: f64,
    pub limits: Limits,
    /// Always re-import the project's modules in the runner (no in-place code swap).
    pub cold_reload: bool,
    /// Run the whole passing suite for every candidate instead of the coverage selection
    /// (the SWE-smith way; a baseline for benchmarks).
    pub full_suite: bool,
}

/// Figures from one `validate_all` call.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ValidateStats {
    /// Containers started (one per worker, plus replacements; one per candidate in strict mode).
    pub containers: usize,
    /// Peak memory of each container, bytes, as its cgroup reports it.
    pub container_peak_bytes: Vec<u64>,
}

impl Default for ValidateConfig {
    fn default() -> Self {
        ValidateConfig { workers: 2, strict: false, timeout_s: 60.0, limits: Limits::default(), cold_reload: false, full_suite: false }
    }
}

/// Validate every candidate; `on_verdict` sees each result as it completes.
pub async fn validate_all(
    engine: &Engine,
    env: &Environment,
    tasks: Vec<Task>,
    cfg: &ValidateConfig,
    mut on_verdict: impl FnMut(Task, Verdict),
) -> Result<ValidateStats> {
    let queue = Arc::new(Mutex::new(VecDeque::from(tasks)));
    let env = Arc::new(env.clone());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let stats = Arc::new(Mutex::new(ValidateStats::default()));
    let mut handles = Vec::new();
    for _ in 0..cfg.workers.max(1) {
        let (engine, env, cfg, queue, tx, stats) = (engine.clone(), env.clone(), cfg.clone(), queue.clone(), tx.clone(), stats.clone());
        handles.push(tokio::spawn(async move { worker_loop(&engine, &env, &cfg, &queue, &tx, &stats).await }));
    }
    drop(tx);
    while let Some((task, verdict)) = rx.recv().await {
        on_verdict(task, verdict);
    }
    for h in handles {
        h.await.map_err(|e| crate::sandbox::SandboxError::Other(format!("validation worker: {e}")))??;
    }
    let stats = stats.lock().map(|s| s.clone()).unwrap_or_default();
    Ok(stats)
}

type Sender = tokio::sync::mpsc::UnboundedSender<(Task, Verdict)>;

fn pop(queue: &Mutex<VecDeque<Task>>) -> Option<Task> {
    queue.lock().ok()?.pop_front()
}

async fn worker_loop(
    engine: &Engine,
    env: &Environment,
    cfg: &ValidateConfig,
    queue: &Mutex<VecDeque<Task>>,
    tx: &Sender,
    stats: &Mutex<ValidateStats>,
) -> Result<()> {
    let mut worker: Option<Worker> = None;
    while let Some(task) = pop(queue) {
        if worker.is_none() {
            worker = Some(Worker::start(engine, &env.image, &cfg.limits, &env.run_env()).await?);
            if let Ok(mut s) = stats.lock() {
                s.containers += 1;
            }
        }
        let Some(w) = worker.as_mut() else { continue };
        let (task, verdict, healthy) = validate_one(w, env, task, cfg).await;
        if !healthy || cfg.strict {
            if let Some(w) = worker.take() {
                retire(w, stats).await;
            }
        }
        if tx.send((task, verdict)).is_err() {
            break;
        }
    }
    if let Some(w) = worker {
        retire(w, stats).await;
    }
    Ok(())
}

/// Note a worker's peak memory, then remove it.
async fn retire(mut worker: Worker, stats: &Mutex<ValidateStats>) {
    if let Some(peak) = worker.memory_peak().await {
        if let Ok(mut s) = stats.lock() {
            s.container_peak_bytes.push(peak);
        }
    }
    if let Err(e) = worker.shutdown().await {
        tracing::warn!("removing a worker container: {e}");
    }
}

/// One candidate through the stages. The bool says whether the worker is still usable.
pub async fn validate_one(worker: &mut Worker, env: &Environment, mut task: Task, cfg: &ValidateConfig) -> (Task, Verdict, bool) {
    let timeout_s = cfg.timeout_s;
    let started = Instant::now();
    let selection = if cfg.full_suite { Selection::WholeSuite(env.passing()) } else { select_tests(env, &task) };
    let (bug_run, healthy) = if let Err(why) = applies_at_head(env, &task) {
        (BugRun::PatchFailed(why), true)
    } else if selection == Selection::Uncovered {
        (BugRun::TimedOut, true)
    } else {
        run_bugged(worker, env, &task, selection.tests(), cfg).await
    };
    let mut verdict = match judge(&task.id, &selection, &bug_run) {
        Err(v) => v,
        Ok((f2p, p2p)) => match rerun_clean(worker, &task, &f2p, timeout_for(env, &f2p, timeout_s)).await {
            Ok(()) => {
                let failures = match &bug_run {
                    BugRun::Finished(r) => r.clone(),
                    _ => Default::default(),
                };
                task.problem_statement = problem_statement(&task, &f2p, &failures);
                Verdict { task_id: task.id.clone(), valid: true, rejected_at: None, reason: format!("{} fail to pass, {} pass to pass", f2p.len(), p2p.len()), fail_to_pass: f2p, pass_to_pass: p2p, duration_ms: 0 }
            }
            Err(reason) => Verdict { task_id: task.id.clone(), valid: false, rejected_at: Some("flaky".into()), reason, fail_to_pass: f2p, pass_to_pass: p2p, duration_ms: 0 },
        },
    };
    verdict.duration_ms = started.elapsed().as_millis() as u64;
    task.fail_to_pass = verdict.fail_to_pass.clone();
    task.pass_to_pass = verdict.pass_to_pass.clone();
    task.image = Some(env.image.clone());
    task.status = if verdict.valid { TaskStatus::Valid } else { TaskStatus::Invalid(format!("{}: {}", verdict.rejected_at.as_deref().unwrap_or(""), verdict.reason)) };
    (task, verdict, healthy)
}

/// The format stage, checked on the host with git2 (no repository code runs here).
fn applies_at_head(env: &Environment, task: &Task) -> std::result::Result<(), String> {
    let repo = git2::Repository::open(&env.repo).map_err(|e| format!("{}: {}", env.repo, e.message()))?;
    crate::tasks::patch::check_applies_at_head(&repo, &task.bug_patch)
}

async fn run_bugged(worker: &mut Worker, env: &Environment, task: &Task, tests: &[String], cfg: &ValidateConfig) -> (BugRun, bool) {
    let req = RunRequest { id: task.id.clone(), patch: task.bug_patch.clone(), tests: tests.to_vec(), timeout: timeout_for(env, tests, cfg.timeout_s), keep: false, cold: cfg.cold_reload };
    match worker.run(&req).await {
        Err(e) => {
            tracing::warn!("worker lost on {}: {e}", task.id);
            (BugRun::TimedOut, false)
        }
        Ok(r) if r.stage == "apply" => (BugRun::PatchFailed(r.detail), true),
        Ok(r) if r.stage == "timeout" => (BugRun::TimedOut, true),
        Ok(r) => (BugRun::Finished(junit::parse(&r.junit).unwrap_or_default()), true),
    }
}

/// The F2P tests must pass again on the restored tree (not flaky; the reverse patch repairs it).
async fn rerun_clean(worker: &mut Worker, task: &Task, f2p: &[String], timeout_s: f64) -> std::result::Result<(), String> {
    let req = RunRequest { id: format!("{}-clean", task.id), patch: String::new(), tests: f2p.to_vec(), timeout: timeout_s, keep: false, cold: false };
    let resp = worker.run(&req).await.map_err(|e| format!("clean re-run failed: {e}"))?;
    let results = junit::parse(&resp.junit).unwrap_or_default();
    let failing: Vec<&String> = f2p.iter().filter(|t| results.get(*t).map(|r| r.status) != Some(TestStatus::Passed)).collect();
    if failing.is_empty() {
        Ok(())
    } else {
        Err(format!("{} F2P test(s) do not pass again on the restored tree (flaky), e.g. {}", failing.len(), failing[0]))
    }
}
