//! Driving validation: warm workers pull candidates from a shared queue; each verdict is handed
//! back as soon as it exists, so the caller can store it at once (a crash loses no result
//! already recorded). Candidates whose bugged run made tests fail wait in a small batch for one
//! shared clean re-run of their F2P tests (the flakiness check), then are decided together.
//! Tests that failed on a bugged tree and passed that re-run are run on the clean tree
//! `flaky_reruns` more times (once per worker); a test that fails on the clean tree in any of
//! these runs is known-flaky from then on: never FAIL_TO_PASS or PASS_TO_PASS of a verdict, and
//! reported in `ValidateStats::flaky` for the caller to record in the environment.
//!
//! In: an engine, the environment, candidates, a config. Out: `(Task, Verdict)` pairs through
//! the `on_verdict` callback, in completion order; figures and the flaky tests found.

use super::{judge, problem_statement, select_tests, timeout_for, BugRun, Selection};
use crate::model::{Environment, RejectStage, Task, TestStatus, Verdict, VerdictOutcome};
use crate::sandbox::worker::{RunRequest, Worker};
use crate::sandbox::{Engine, Limits, Result};
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
    /// Candidates whose F2P tests are re-run together on the restored tree (one run per batch
    /// instead of one per candidate; the union of their F2P tests soon covers most of the
    /// suite, so a larger batch costs little more than a smaller one). A batch also goes when
    /// its oldest candidate has waited `RECHECK_MAX_WAIT`, so verdicts keep flowing.
    pub recheck_batch: usize,
    /// Runs of the clean tree after the re-run, for the tests that failed on a bugged tree (as
    /// `EnvConfig::flaky_reruns` for the build): a test that fails in one is known-flaky.
    pub flaky_reruns: u32,
}

/// Figures from one `validate_all` call.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ValidateStats {
    /// Containers started (one per worker, plus replacements; one per candidate in strict mode).
    pub containers: usize,
    /// Peak memory of each container, bytes, as its cgroup reports it.
    pub container_peak_bytes: Vec<u64>,
    /// Tests found flaky: they passed on the clean build, then failed on the clean tree during
    /// validation → the outcomes seen (the `Environment::flaky` shape).
    pub flaky: std::collections::BTreeMap<String, String>,
}

impl Default for ValidateConfig {
    fn default() -> Self {
        ValidateConfig {
            workers: 2,
            strict: false,
            timeout_s: 60.0,
            limits: Limits::default(),
            cold_reload: false,
            full_suite: false,
            recheck_batch: 32,
            flaky_reruns: 1,
        }
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
        let (engine, env, cfg, queue, tx, stats) =
            (engine.clone(), env.clone(), cfg.clone(), queue.clone(), tx.clone(), stats.clone());
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

/// The longest a decided-but-for-the-recheck candidate waits for its batch to fill.
pub const RECHECK_MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(20);

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
    let mut pending: Vec<Pending> = Vec::new();
    let mut stable = Stable::default();
    let mut requeued: std::collections::HashSet<String> = Default::default();
    while let Some(task) = pop(queue) {
        if worker.is_none() {
            worker = Some(Worker::start(engine, &env.image, &cfg.limits, &env.run_env()).await?);
            if let Ok(mut s) = stats.lock() {
                s.containers += 1;
            }
        }
        let Some(w) = worker.as_mut() else { continue };
        let (outcome, healthy) = run_candidate(w, env, task, cfg).await;
        match outcome {
            // The worker died under it: once more on a fresh worker, then a retry verdict.
            Stage::Decided(task, verdict)
                if verdict.outcome == VerdictOutcome::Retry && requeued.insert(task.id.clone()) =>
            {
                if let Ok(mut q) = queue.lock() {
                    q.push_back(task);
                }
            }
            Stage::Decided(task, verdict) => {
                if tx.send((task, verdict)).is_err() {
                    break;
                }
            }
            Stage::AwaitingRecheck(p) => pending.push(p),
        }
        let batch_full = pending.len() >= cfg.recheck_batch.max(1)
            || cfg.strict
            || pending.first().is_some_and(|p| p.started.elapsed() >= RECHECK_MAX_WAIT);
        if healthy && batch_full {
            if let Some(w) = worker.as_mut() {
                let batch = std::mem::take(&mut pending);
                if !send_all(tx, recheck(w, env, batch, cfg, stats, &mut stable).await) {
                    break;
                }
            }
        }
        if !healthy || cfg.strict {
            if let Some(w) = worker.take() {
                retire(w, stats).await;
            }
        }
    }
    if !pending.is_empty() {
        if worker.is_none() {
            worker = Some(Worker::start(engine, &env.image, &cfg.limits, &env.run_env()).await?);
        }
        if let Some(w) = worker.as_mut() {
            send_all(tx, recheck(w, env, std::mem::take(&mut pending), cfg, stats, &mut stable).await);
        }
    }
    if let Some(w) = worker {
        retire(w, stats).await;
    }
    Ok(())
}

fn send_all(tx: &Sender, decided: Vec<(Task, Verdict)>) -> bool {
    decided.into_iter().all(|d| tx.send(d).is_ok())
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

/// A candidate after its bugged run: decided, or waiting for the clean re-run of its F2P tests.
pub enum Stage {
    Decided(Task, Verdict),
    AwaitingRecheck(Pending),
}

/// A candidate whose F2P tests must pass again on the restored tree.
pub struct Pending {
    task: Task,
    f2p: Vec<String>,
    p2p: Vec<String>,
    failures: std::collections::BTreeMap<String, crate::model::TestResult>,
    started: Instant,
}

/// The bugged run of one candidate. The bool says whether the worker is still usable.
pub async fn run_candidate(worker: &mut Worker, env: &Environment, task: Task, cfg: &ValidateConfig) -> (Stage, bool) {
    let started = Instant::now();
    let selection = if cfg.full_suite { Selection::WholeSuite(env.passing()) } else { select_tests(env, &task) };
    let (bug_run, healthy) = if let Err(why) = applies_at_head(env, &task) {
        (BugRun::PatchFailed(why), true)
    } else if selection == Selection::Uncovered {
        (BugRun::TimedOut, true)
    } else {
        run_bugged(worker, env, &task, selection.tests(), cfg).await
    };
    let stage = match judge(&task.id, &selection, &bug_run) {
        Err(verdict) => Stage::Decided(task, verdict),
        Ok((f2p, p2p)) => {
            let failures = match bug_run {
                BugRun::Finished(r) => r,
                _ => Default::default(),
            };
            Stage::AwaitingRecheck(Pending { task, f2p, p2p, failures, started })
        }
    };
    (
        match stage {
            Stage::Decided(task, verdict) => {
                let (task, verdict) = finish(env, task, verdict, started);
                Stage::Decided(task, verdict)
            }
            other => other,
        },
        healthy,
    )
}

/// Tests of this worker that passed every clean run they were given after failing on a bugged
/// tree: not run again for flakiness.
type Stable = std::collections::HashSet<String>;

/// One run of `tests` on the restored tree.
async fn clean_run(
    worker: &mut Worker,
    env: &Environment,
    tests: &[String],
    cfg: &ValidateConfig,
) -> Result<std::collections::BTreeMap<String, crate::model::TestResult>> {
    let req = RunRequest {
        id: "recheck".into(),
        patch: String::new(),
        tests: tests.to_vec(),
        timeout: timeout_for(env, tests, cfg.timeout_s),
        keep: false,
        cold: false,
    };
    Ok(worker.run(&req).await?.results())
}

fn passed(results: &std::collections::BTreeMap<String, crate::model::TestResult>, test: &str) -> bool {
    results.get(test).map(|r| r.status) == Some(TestStatus::Passed)
}

/// The tests that fail on the clean tree: those that failed the re-run, then those of the rest
/// (not yet found stable by this worker) that fail in one of `flaky_reruns` more runs. Tests
/// that pass them all become stable.
async fn failing_on_clean(
    worker: &mut Worker,
    env: &Environment,
    tests: &[String],
    first: &std::collections::BTreeMap<String, crate::model::TestResult>,
    cfg: &ValidateConfig,
    stable: &mut Stable,
) -> Vec<String> {
    let mut failing: Vec<String> = tests.iter().filter(|t| !passed(first, t)).cloned().collect();
    let mut suspects: Vec<String> =
        tests.iter().filter(|t| passed(first, t) && !stable.contains(*t)).cloned().collect();
    for _ in 0..cfg.flaky_reruns {
        if suspects.is_empty() {
            break;
        }
        match clean_run(worker, env, &suspects, cfg).await {
            Ok(results) => {
                let (ok, bad): (Vec<String>, Vec<String>) = suspects.into_iter().partition(|t| passed(&results, t));
                failing.extend(bad);
                suspects = ok;
            }
            Err(e) => {
                tracing::warn!("a clean flakiness re-run failed: {e}");
                return failing;
            }
        }
    }
    stable.extend(suspects);
    failing
}

/// Record `failing` as flaky (unless so many of the re-run's tests failed that the worker, not
/// the tests, is suspect); every test known flaky in this validation so far.
fn note_flaky(failing: &[String], rerun: usize, stats: &Mutex<ValidateStats>) -> std::collections::BTreeSet<String> {
    let Ok(mut s) = stats.lock() else { return Default::default() };
    if failing.len() <= 3.max(rerun / 2) {
        for t in failing {
            s.flaky.entry(t.clone()).or_insert_with(|| "passed, failed (on the clean tree during validation)".into());
        }
    } else {
        tracing::warn!("{} of {rerun} tests failed on the clean tree: not recording them as flaky", failing.len());
    }
    s.flaky.keys().cloned().collect()
}

/// Re-run the union of the pending candidates' F2P tests on the restored tree (and the new ones
/// `flaky_reruns` more times); tests failing there are flaky and leave every F2P / P2P list. A
/// candidate is valid when its remaining F2P tests (at least one) all pass again.
async fn recheck(
    worker: &mut Worker,
    env: &Environment,
    pending: Vec<Pending>,
    cfg: &ValidateConfig,
    stats: &Mutex<ValidateStats>,
    stable: &mut Stable,
) -> Vec<(Task, Verdict)> {
    let mut tests: Vec<String> = pending.iter().flat_map(|p| p.f2p.iter().cloned()).collect();
    tests.sort();
    tests.dedup();
    let clean = match clean_run(worker, env, &tests, cfg).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!("clean re-run failed: {e}");
            return pending.into_iter().map(|p| lost_in_recheck(env, p, &e.to_string())).collect();
        }
    };
    let failing = failing_on_clean(worker, env, &tests, &clean, cfg, stable).await;
    let flaky = note_flaky(&failing, tests.len(), stats);
    pending
        .into_iter()
        .map(|p| {
            let dropped: Vec<&String> = p.f2p.iter().filter(|t| flaky.contains(*t)).collect();
            let f2p: Vec<String> = p.f2p.iter().filter(|t| !flaky.contains(*t)).cloned().collect();
            let failing: Vec<&String> = f2p.iter().filter(|t| !passed(&clean, t)).collect();
            let verdict = if f2p.is_empty() {
                Verdict {
                    task_id: p.task.id.clone(),
                    outcome: VerdictOutcome::Rejected(RejectStage::Flaky),
                    reason: format!(
                        "every F2P test fails on the clean tree too (known-flaky now), e.g. {}",
                        dropped.first().map_or("", |t| t.as_str())
                    ),
                    fail_to_pass: p.f2p.clone(),
                    pass_to_pass: p.p2p.clone(),
                    duration_ms: 0,
                }
            } else if failing.is_empty() {
                let p2p: Vec<String> =
                    super::pass_to_pass(env, &f2p).into_iter().filter(|t| !flaky.contains(t)).collect();
                let left_out = if dropped.is_empty() {
                    String::new()
                } else {
                    format!("; {} flaky test(s) left out", dropped.len())
                };
                Verdict {
                    task_id: p.task.id.clone(),
                    outcome: VerdictOutcome::Valid,
                    reason: format!(
                        "{} fail to pass, {} pass to pass ({} of them run with the bug){left_out}",
                        f2p.len(),
                        p2p.len(),
                        p.p2p.len()
                    ),
                    fail_to_pass: f2p.clone(),
                    pass_to_pass: p2p,
                    duration_ms: 0,
                }
            } else {
                let reason = format!(
                    "{} F2P test(s) do not pass again on the restored tree (flaky), e.g. {}",
                    failing.len(),
                    failing[0]
                );
                Verdict {
                    task_id: p.task.id.clone(),
                    outcome: VerdictOutcome::Rejected(RejectStage::Flaky),
                    reason,
                    fail_to_pass: p.f2p.clone(),
                    pass_to_pass: p.p2p.clone(),
                    duration_ms: 0,
                }
            };
            let mut task = p.task;
            if verdict.is_valid() {
                task.problem_statement = problem_statement(&task, &env.module_name(&task.site.file), &f2p, &p.failures);
            }
            finish(env, task, verdict, p.started)
        })
        .collect()
}

/// The worker died during the clean re-run: nothing is known of these candidates yet.
fn lost_in_recheck(env: &Environment, p: Pending, why: &str) -> (Task, Verdict) {
    let verdict = Verdict {
        task_id: p.task.id.clone(),
        outcome: VerdictOutcome::Retry,
        reason: format!("the worker container was lost during the clean re-run: {why}; run it again"),
        fail_to_pass: vec![],
        pass_to_pass: vec![],
        duration_ms: 0,
    };
    finish(env, p.task, verdict, p.started)
}

/// Copy the verdict onto its task (status, tests, image) and stamp the time taken.
fn finish(env: &Environment, mut task: Task, mut verdict: Verdict, started: Instant) -> (Task, Verdict) {
    verdict.duration_ms = started.elapsed().as_millis() as u64;
    task.fail_to_pass = verdict.fail_to_pass.clone();
    task.pass_to_pass = verdict.pass_to_pass.clone();
    task.image = Some(env.image.clone());
    task.stage = verdict.task_stage();
    (task, verdict)
}

/// The format stage, checked on the host through `diff::git` (no repository code runs here).
fn applies_at_head(env: &Environment, task: &Task) -> std::result::Result<(), String> {
    let repo = crate::diff::git::Repo::open(std::path::Path::new(&env.repo)).map_err(|e| e.to_string())?;
    repo.check_applies_at_head(&task.bug_patch).map_err(|e| e.to_string())
}

async fn run_bugged(
    worker: &mut Worker,
    env: &Environment,
    task: &Task,
    tests: &[String],
    cfg: &ValidateConfig,
) -> (BugRun, bool) {
    let req = RunRequest {
        id: task.id.clone(),
        patch: task.bug_patch.clone(),
        tests: tests.to_vec(),
        timeout: timeout_for(env, tests, cfg.timeout_s),
        keep: false,
        cold: cfg.cold_reload,
    };
    match worker.run(&req).await {
        Err(e) => {
            tracing::warn!("worker lost on {}: {e}", task.id);
            (BugRun::WorkerLost(e.to_string()), false)
        }
        Ok(r) if r.stage == "apply" => (BugRun::PatchFailed(r.detail), true),
        Ok(r) if r.stage == "timeout" => (BugRun::TimedOut, true),
        Ok(r) if r.stage == "crash" || r.stage == "error" => (BugRun::Crashed(r.detail), true),
        Ok(r) => (BugRun::Finished(r.results()), true),
    }
}
