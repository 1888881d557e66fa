//! The attempt commands: `socratic.startAttempt`, `socratic.attemptRunTests`,
//! `socratic.finishAttempt`, `socratic.abandonAttempt`.
//!
//! In: the session (its client, the attempt it started), the shared state (the store, the
//! running attempts) and the command's argument (a task id to start; else an attempt id, or
//! none for this editor's attempt). Out: the protocol's results. Starting writes a scratch
//! checkout of the task's bugged tree under `<home>/attempts/<attempt id>/repo` (the solver's
//! `engine::checkout`: the bugged tree as the only commit of a fresh repository, so no history
//! holds the fix). Running the tests applies base commit → the checkout's tree in a warm worker
//! of the task's environment (network off; `engine::grade::run_tests`) and publishes a
//! diagnostic on the `def` line of every failing test. Finishing grades exactly as `socratic
//! solve` does (`engine::grade::grade`: FAIL_TO_PASS and the whole PASS_TO_PASS) and stores the
//! task as an instance and the attempt as a trace (source `editor`, the editor's events, the
//! checkout's diff, the grading's label); when grading fails the attempt keeps running, so
//! nothing is lost. Abandoning removes the checkout and stores nothing. A task without
//! FAIL_TO_PASS tests, or without an environment (image), is refused with what to run.

use super::attempt::{mutated_lines, Attempt};
use super::protocol::{self, *};
use super::{invalid, Session};
use crate::engine::checkout::Checkout;
use crate::engine::grade::{self, TestRun};
use crate::model::{Environment, Record, Task, TestStatus};
use crate::sandbox::worker::Worker;
use crate::sandbox::{Engine, Limits};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;

/// How long one run of the attempt's tests may take, at most (seconds).
const TEST_CAP_S: f64 = 300.0;

fn failed(e: impl std::fmt::Display) -> tower_lsp_server::jsonrpc::Error {
    let mut err = tower_lsp_server::jsonrpc::Error::internal_error();
    err.message = e.to_string().into();
    err
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> anyhow::Result<T> + Send + 'static) -> Result<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(invalid(format!("{e:#}"))),
        Err(e) => Err(failed(format!("worker failed: {e}"))),
    }
}

/// Why a task cannot be attempted, if it cannot.
pub fn refusal(task: &Task, env: Option<&Environment>) -> Option<String> {
    if task.fail_to_pass.is_empty() {
        return Some(format!(
            "task {} has no FAIL_TO_PASS tests (stage {}): only validated tasks can be attempted; run `socratic tasks validate --repo {}`",
            task.id,
            task.stage.name(),
            task.repo
        ));
    }
    if env.is_none() {
        return Some(no_environment(task));
    }
    None
}

fn no_environment(task: &Task) -> String {
    format!(
        "no environment for {} at {}: run `socratic env build --repo {}` first",
        task.repo,
        &task.base_commit[..12.min(task.base_commit.len())],
        task.repo
    )
}

/// A free attempt id for `task` under `<home>/attempts/`.
fn new_attempt_id(home: &Path, task: &Task) -> String {
    (1..)
        .map(|n| format!("{}-{n}", task.id))
        .find(|id| !home.join("attempts").join(id).exists())
        .unwrap_or_else(|| task.id.clone())
}

/// The LSP-style range of lines `first..=last` of `text` (whole lines).
fn line_range(text: &str, first: u32, last: u32) -> TextRange {
    let width = text.lines().nth(last as usize).map_or(0, |l| l.encode_utf16().count() as u32);
    TextRange { start: TextPosition { line: first, character: 0 }, end: TextPosition { line: last, character: width } }
}

fn file_uri(path: &Path) -> String {
    Uri::from_file_path(path).map(|u| u.as_str().to_string()).unwrap_or_else(|| format!("file://{}", path.display()))
}

/// Write the checkout of `task` and describe the attempt. Blocking.
fn create(home: &Path, task: Task) -> anyhow::Result<(Attempt, AttemptStarted)> {
    let id = new_attempt_id(home, &task);
    let dir = home.join("attempts").join(&id).join("repo");
    Checkout::create(&task, &dir)?;
    let root = super::state::canonical(&dir);
    let file = task.site.file.clone();
    let text = std::fs::read_to_string(root.join(&file)).unwrap_or_default();
    let (first, last) =
        mutated_lines(&task.bug_patch, &file).unwrap_or((task.site.start_line as u32, task.site.end_line as u32));
    let started = AttemptStarted {
        attempt_id: id.clone(),
        id: task.id.clone(),
        root: root.display().to_string(),
        file: file_uri(&root.join(&file)),
        path: file,
        range: line_range(&text, first, last),
        problem_statement: task.problem_statement.clone(),
        fail_to_pass: task.fail_to_pass.clone(),
    };
    Ok((Attempt::start(&id, task, &root), started))
}

pub(super) async fn start(session: &Session, args: &[Value]) -> Result<AttemptStarted> {
    let id = protocol::required::<TaskId>(START_ATTEMPT, args).map_err(invalid)?.id().to_string();
    if let Some((running, task)) = session.state().attempt.clone() {
        return Err(invalid(format!(
            "an attempt ({running}, at task {task}) is running in this editor: finish it ({FINISH_ATTEMPT}) or abandon it ({ABANDON_ATTEMPT}) first"
        )));
    }
    let shared = session.shared.clone();
    let home = shared.home.clone();
    let (attempt, started) = blocking(move || {
        let task = shared.task(&id).ok_or_else(|| anyhow::anyhow!("{START_ATTEMPT}: no task '{id}'"))?;
        let env = shared.environment(&task.repo, &task.base_commit)?;
        if let Some(why) = refusal(&task, env.as_ref()) {
            anyhow::bail!("{START_ATTEMPT}: {why}");
        }
        create(&home, task)
    })
    .await?;
    session.state().attempt = Some((attempt.id.clone(), attempt.task.id.clone()));
    session.shared.add_attempt(attempt);
    Ok(started)
}

/// The attempt a command names, or this editor's.
fn attempt_arg(session: &Session, command: &str, args: &[Value]) -> Result<String> {
    match protocol::optional::<AttemptId>(command, args).map_err(invalid)? {
        Some(a) => Ok(a.id().to_string()),
        None => session
            .state()
            .attempt
            .as_ref()
            .map(|(id, _)| id.clone())
            .ok_or_else(|| invalid(format!("{command}: no attempt is running in this editor"))),
    }
}

/// The task and checkout of a running attempt.
fn snapshot(session: &Session, command: &str, id: &str) -> Result<(Task, PathBuf)> {
    session
        .shared
        .with_attempt(id, |a| (a.task.clone(), a.root.clone()))
        .ok_or_else(|| invalid(format!("{command}: no attempt '{id}' is running")))
}

/// The task's environment with its image present, and a worker started from it.
async fn worker_for(session: &Session, task: &Task) -> anyhow::Result<(Environment, Worker)> {
    let shared = session.shared.clone();
    let (repo, commit) = (task.repo.clone(), task.base_commit.clone());
    let env = tokio::task::spawn_blocking(move || shared.environment(&repo, &commit)).await??;
    let env = env.ok_or_else(|| anyhow::anyhow!(no_environment(task)))?;
    let engine = Engine::connect(&crate::sandbox::owner_of_home(&session.shared.home)).await?;
    if !engine.image_reusable(&env.image).await {
        anyhow::bail!("the environment image {} is gone: {}", env.image, no_environment(task));
    }
    let worker = Worker::start(&engine, &env.image, &Limits::default(), &env.run_env()).await?;
    Ok((env, worker))
}

/// The checkout's diff (against the bugged commit) and the combined patch (base → tree).
fn patches(task: &Task, root: &Path) -> anyhow::Result<(String, String)> {
    let checkout = Checkout::open(task, root);
    let diff = checkout.solver_diff()?;
    let combined = checkout.combined_patch(&diff)?;
    Ok((diff, combined))
}

fn status_word(status: Option<TestStatus>) -> &'static str {
    match status {
        Some(TestStatus::Passed) => "passed",
        Some(TestStatus::Failed) => "failed",
        Some(TestStatus::Error) => "error",
        Some(TestStatus::Skipped) => "skipped",
        Some(TestStatus::XFail) => "xfail",
        None => "missing",
    }
}

/// The per-test outcomes of a run of `tests` on the checkout at `root`.
pub fn outcomes(root: &Path, tests: &[String], run: &TestRun) -> Vec<AttemptTest> {
    tests
        .iter()
        .map(|t| {
            let result = match run {
                TestRun::Finished(r) => r.get(t),
                _ => None,
            };
            let located = super::test_location::locate(root, t);
            AttemptTest {
                id: t.clone(),
                status: status_word(result.map(|r| r.status)).to_string(),
                message: result.map(|r| r.message.clone()).unwrap_or_default(),
                uri: located.as_ref().map(|(file, _)| file_uri(&root.join(file))),
                line: located.and_then(|(_, line)| line),
            }
        })
        .collect()
}

/// The diagnostics of failing tests, per test file URI (files of `before` with none left get an
/// empty list, clearing what an earlier run showed).
fn test_diagnostics(tests: &[AttemptTest], before: &[String]) -> BTreeMap<String, Vec<Diagnostic>> {
    let mut out: BTreeMap<String, Vec<Diagnostic>> = before.iter().map(|u| (u.clone(), Vec::new())).collect();
    for t in tests.iter().filter(|t| t.status != "passed") {
        let Some(uri) = &t.uri else { continue };
        let line = t.line.unwrap_or(0);
        let first = t.message.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
        let message = if first.is_empty() {
            format!("{} {} with the attempt's code", t.id, t.status)
        } else {
            format!("{} {}: {first}", t.id, t.status)
        };
        out.entry(uri.clone()).or_default().push(Diagnostic {
            range: Range { start: Position::new(line, 0), end: Position::new(line, u32::MAX >> 1) },
            severity: Some(DiagnosticSeverity::ERROR),
            code: Some(NumberOrString::String("failing-test".into())),
            source: Some(super::SOURCE.into()),
            message,
            ..Default::default()
        });
    }
    out
}

async fn publish_tests(session: &Session, by_uri: BTreeMap<String, Vec<Diagnostic>>) {
    for (uri, diags) in by_uri {
        if let Ok(uri) = uri.parse::<Uri>() {
            session.client.publish_diagnostics(uri, diags, None).await;
        }
    }
}

/// The run's outcome word and detail.
fn run_outcome(run: &TestRun, tests: &[AttemptTest]) -> (String, Option<String>) {
    match run {
        TestRun::Broken(why) => ("broken".into(), Some(why.clone())),
        TestRun::TimedOut => ("timed-out".into(), None),
        TestRun::Finished(_) if tests.iter().all(|t| t.status == "passed") => ("passed".into(), None),
        TestRun::Finished(_) => ("failed".into(), None),
    }
}

pub(super) async fn run_tests(session: &Session, args: &[Value]) -> Result<AttemptTests> {
    let id = attempt_arg(session, RUN_ATTEMPT_TESTS, args)?;
    let (task, root) = snapshot(session, RUN_ATTEMPT_TESTS, &id)?;
    let run = async {
        let (_, combined) = patches(&task, &root)?;
        let (env, mut worker) = worker_for(session, &task).await?;
        let run =
            grade::run_tests(&mut worker, &env, &format!("attempt-{id}"), &combined, &task.fail_to_pass, TEST_CAP_S)
                .await;
        if let Err(e) = worker.shutdown().await {
            tracing::warn!("removing the attempt's test container: {e}");
        }
        run
    }
    .await
    .map_err(|e| invalid(format!("{RUN_ATTEMPT_TESTS}: {e:#}")))?;
    let tests = outcomes(&root, &task.fail_to_pass, &run);
    let (outcome, detail) = run_outcome(&run, &tests);
    let passed = tests.iter().filter(|t| t.status == "passed").count();
    let uris: Vec<String> = tests.iter().filter_map(|t| t.uri.clone()).collect();
    let before = session
        .shared
        .with_attempt(&id, |a| {
            a.events.push(crate::model::Event::TestRun {
                command: format!("{RUN_ATTEMPT_TESTS} (FAIL_TO_PASS in the task's container)"),
                exit_code: Some(i32::from(outcome != "passed")),
                statuses: tests
                    .iter()
                    .filter_map(|t| match &run {
                        TestRun::Finished(r) => r.get(&t.id).map(|r| (t.id.clone(), r.status)),
                        _ => None,
                    })
                    .collect(),
                output: format!("{outcome}: {passed}/{} passed", tests.len()),
            });
            std::mem::replace(&mut a.test_files, uris)
        })
        .unwrap_or_default();
    publish_tests(session, test_diagnostics(&tests, &before)).await;
    Ok(AttemptTests { attempt_id: id, id: task.id, outcome, detail, passed, failed: tests.len() - passed, tests })
}

/// Forget this editor's attempt `id` and clear its test diagnostics.
async fn end(session: &Session, attempt: &Attempt) {
    {
        let mut st = session.state();
        if st.attempt.as_ref().is_some_and(|(id, _)| *id == attempt.id) {
            st.attempt = None;
        }
        st.attempt_docs.retain(|_, d| d.attempt != attempt.id);
    }
    publish_tests(session, attempt.test_files.iter().map(|u| (u.clone(), Vec::new())).collect()).await;
}

pub(super) async fn finish(session: &Session, args: &[Value]) -> Result<AttemptFinished> {
    let id = attempt_arg(session, FINISH_ATTEMPT, args)?;
    let attempt = session
        .shared
        .take_attempt(&id)
        .ok_or_else(|| invalid(format!("{FINISH_ATTEMPT}: no attempt '{id}' is running")))?;
    let origin = format!("editor:{}:{}", attempt.task.id, attempt.id);
    let graded = async {
        let (diff, combined) = patches(&attempt.task, &attempt.root)?;
        let (env, mut worker) = worker_for(session, &attempt.task).await?;
        let graded = grade::grade(&mut worker, &env, &attempt.task, &diff, &combined, &origin).await;
        if let Err(e) = worker.shutdown().await {
            tracing::warn!("removing the attempt's grading container: {e}");
        }
        graded.map(|(report, _)| (report, diff, env))
    }
    .await;
    let (report, diff, env) = match graded {
        Ok(g) => g,
        Err(e) => {
            session.shared.add_attempt(attempt);
            return Err(invalid(format!("{FINISH_ATTEMPT}: {e:#} (the attempt {id} is still running)")));
        }
    };
    end(session, &attempt).await;
    let task = attempt.task.clone();
    let instance = crate::engine::solve::task_instance(&task, &env);
    let label = report.label();
    let final_patch = (!diff.trim().is_empty()).then_some(diff);
    let record = attempt.finish(final_patch, label.clone());
    let trace = match &record {
        Record::Trace(t) => t.id.clone(),
        _ => String::new(),
    };
    let shared = session.shared.clone();
    blocking(move || shared.insert_records(&[Record::Instance(instance), record])).await?;
    Ok(AttemptFinished {
        id: task.id,
        attempt_id: id,
        trace,
        label: label.outcome.as_str().to_string(),
        resolved: report.resolved,
        reason: label.reason,
        fail_to_pass_failing: report.fail_to_pass_failure,
        pass_to_pass_failing: report.pass_to_pass_failure,
    })
}

pub(super) async fn abandon(session: &Session, args: &[Value]) -> Result<AttemptAbandoned> {
    let id = attempt_arg(session, ABANDON_ATTEMPT, args)?;
    let attempt = session
        .shared
        .take_attempt(&id)
        .ok_or_else(|| invalid(format!("{ABANDON_ATTEMPT}: no attempt '{id}' is running")))?;
    end(session, &attempt).await;
    let folder = session.shared.home.join("attempts").join(&attempt.id);
    if let Err(e) = std::fs::remove_dir_all(&folder) {
        tracing::warn!("removing {}: {e}", folder.display());
    }
    Ok(AttemptAbandoned { id: attempt.task.id, attempt_id: id })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{TaskStage, TestResult};

    #[test]
    fn only_validated_tasks_with_an_environment_are_attempted() {
        let mut task = crate::model::test_support::task("t-1", "flip_comparison", TaskStage::Candidate);
        task.fail_to_pass.clear();
        let why = refusal(&task, None).expect("refused");
        assert!(why.contains("no FAIL_TO_PASS") && why.contains("socratic tasks validate"), "{why}");
        task.fail_to_pass = vec!["tests/test_a.py::test_a".into()];
        let why = refusal(&task, None).expect("refused");
        assert!(why.contains("socratic env build --repo"), "{why}");
    }

    #[test]
    fn failing_tests_are_diagnostics_on_their_def_lines_and_passing_files_are_cleared() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("tests")).expect("mkdir");
        std::fs::write(
            dir.path().join("tests/test_a.py"),
            "\n\ndef test_a():\n    assert 0\n\ndef test_b():\n    pass\n",
        )
        .expect("write");
        let tests = vec!["tests/test_a.py::test_a".to_string(), "tests/test_a.py::test_b".to_string()];
        let result = |status| TestResult { status, message: "assert 0\nmore".into(), seconds: 0.0 };
        let run = TestRun::Finished(BTreeMap::from([(tests[0].clone(), result(TestStatus::Failed))]));
        let out = outcomes(dir.path(), &tests, &run);
        assert_eq!((out[0].status.as_str(), out[0].line), ("failed", Some(2)));
        assert_eq!((out[1].status.as_str(), out[1].line), ("missing", Some(5)));
        assert_eq!(run_outcome(&run, &out).0, "failed");
        let diags = test_diagnostics(&out, &["file:///gone.py".to_string()]);
        assert_eq!(diags["file:///gone.py"].len(), 0);
        let uri = out[0].uri.clone().expect("uri");
        assert_eq!(diags[&uri].len(), 2);
        assert_eq!(diags[&uri][0].range.start.line, 2);
        assert_eq!(diags[&uri][0].message, "tests/test_a.py::test_a failed: assert 0");
        assert_eq!(run_outcome(&TestRun::Broken("no".into()), &out), ("broken".into(), Some("no".into())));
    }

    #[test]
    fn a_range_covers_whole_lines() {
        let r = line_range("a\nbé\nc\n", 1, 1);
        assert_eq!((r.start.line, r.start.character, r.end.line, r.end.character), (1, 0, 1, 2));
    }
}
