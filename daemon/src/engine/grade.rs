//! Grading a Solver's patch the way the SWE-bench harness does: apply it in the task's
//! environment, run the task's FAIL_TO_PASS and the whole PASS_TO_PASS (every test the clean suite
//! passes but the FAIL_TO_PASS ones: a fix that breaks an unrelated test is not resolved), and call it resolved only
//! when every one passes (a test missing from the run counts as not passing); partial when some
//! FAIL_TO_PASS tests pass but not all of them (or a PASS_TO_PASS test broke).
//!
//! In: a warm worker, the environment, a task, the combined patch (base commit → Solver's tree).
//! Out: an `EvalReport` (instance id = task id) and the per-test results.

use crate::model::Environment;
use crate::model::TestResult;
use crate::model::{EvalReport, FailureReason, Outcome, SourceFormat, Task, TestStatus};
use crate::sandbox::worker::{RunRequest, Worker};
use std::collections::BTreeMap;

/// What one run of some tests on a patched tree gave.
#[derive(Debug, Clone)]
pub enum TestRun {
    /// The patch did not apply (or the runner could not start the tests): why.
    Broken(String),
    TimedOut,
    Finished(BTreeMap<String, TestResult>),
}

/// Run `tests` on the base tree with `patch` applied; the tree is restored afterwards.
pub async fn run_tests(
    worker: &mut Worker,
    env: &Environment,
    id: &str,
    patch: &str,
    tests: &[String],
    cap_s: f64,
) -> anyhow::Result<TestRun> {
    let request = RunRequest {
        id: id.to_string(),
        patch: patch.to_string(),
        tests: tests.to_vec(),
        timeout: crate::validate::timeout_for(env, tests, cap_s),
        keep: false,
        cold: false,
    };
    let answer = worker.run(&request).await?;
    Ok(match answer.stage.as_str() {
        "apply" => TestRun::Broken(format!("the patch does not apply: {}", answer.detail.trim())),
        "timeout" => TestRun::TimedOut,
        "error" => TestRun::Broken(format!("the runner failed: {}", answer.detail.trim())),
        // `done`, or `crash` (the tests that reported before the process died count; the
        // rest are missing, which grades as not passing).
        _ => TestRun::Finished(answer.results()),
    })
}

/// True when every test in `tests` passed in `run`.
pub fn all_pass(tests: &[String], run: &TestRun) -> bool {
    match run {
        TestRun::Finished(results) => {
            tests.iter().all(|t| results.get(t).is_some_and(|r| r.status == TestStatus::Passed))
        }
        _ => false,
    }
}

/// The report for a task from a run of its F2P + P2P tests (`None` run = no patch at all).
pub fn report(task: &Task, run: Option<&TestRun>, origin: &str) -> EvalReport {
    let passed = |t: &String| matches!(run, Some(TestRun::Finished(r)) if r.get(t).is_some_and(|x| x.status == TestStatus::Passed));
    let split = |tests: &[String]| -> (Vec<String>, Vec<String>) { tests.iter().cloned().partition(|t| passed(t)) };
    let (f2p_ok, f2p_bad) = split(&task.fail_to_pass);
    let (p2p_ok, p2p_bad) = split(&task.pass_to_pass);
    let (outcome, failure) = match run {
        None => (Outcome::NoPatch, Some(FailureReason::EmptyPatch)),
        Some(TestRun::Broken(_)) => (Outcome::Unresolved, Some(FailureReason::PatchDoesNotApply)),
        Some(TestRun::TimedOut) => (Outcome::Unresolved, Some(FailureReason::TimeLimit)),
        Some(TestRun::Finished(_)) if f2p_bad.is_empty() && p2p_bad.is_empty() => (Outcome::Resolved, None),
        Some(TestRun::Finished(_)) if !f2p_ok.is_empty() => (
            Outcome::Partial,
            Some(if f2p_bad.is_empty() { FailureReason::Regression } else { FailureReason::FailToPassStillFailing }),
        ),
        Some(TestRun::Finished(_)) => (
            Outcome::Unresolved,
            Some(if p2p_bad.is_empty() { FailureReason::FailToPassStillFailing } else { FailureReason::Regression }),
        ),
    };
    EvalReport {
        instance_id: task.id.clone(),
        source: SourceFormat::Solver,
        resolved: outcome == Outcome::Resolved,
        outcome,
        failure,
        fail_to_pass_success: f2p_ok,
        fail_to_pass_failure: f2p_bad,
        pass_to_pass_success: p2p_ok,
        pass_to_pass_failure: p2p_bad,
        run: None,
        patch: None,
        origin: origin.to_string(),
    }
}

/// Grade a combined patch: run the task's F2P and P2P tests with it; an empty Solver diff is
/// `no-patch` without running anything.
pub async fn grade(
    worker: &mut Worker,
    env: &Environment,
    task: &Task,
    solver_diff: &str,
    combined: &str,
    origin: &str,
) -> anyhow::Result<(EvalReport, Option<TestRun>)> {
    let task = &whole_suite(task, env);
    if solver_diff.trim().is_empty() {
        return Ok((report(task, None, origin), None));
    }
    let tests: Vec<String> = task.fail_to_pass.iter().chain(&task.pass_to_pass).cloned().collect();
    let run = run_tests(worker, env, &format!("grade-{}", task.id), combined, &tests, 300.0).await?;
    Ok((report(task, Some(&run), origin), Some(run)))
}

/// The task with PASS_TO_PASS widened to the environment's whole passing suite minus its
/// FAIL_TO_PASS (tasks validated before PASS_TO_PASS held the whole suite carry only the tests
/// their bugged run selected); tests it already lists stay.
pub fn whole_suite(task: &Task, env: &Environment) -> Task {
    let mut task = task.clone();
    let mut p2p = crate::validate::pass_to_pass(env, &task.fail_to_pass);
    for t in &task.pass_to_pass {
        if !p2p.contains(t) && !task.fail_to_pass.contains(t) {
            p2p.push(t.clone());
        }
    }
    task.pass_to_pass = p2p;
    task
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::curriculum::tests::task;

    fn finished(statuses: &[(&str, TestStatus)]) -> TestRun {
        TestRun::Finished(
            statuses
                .iter()
                .map(|(t, s)| (t.to_string(), TestResult { status: *s, message: String::new(), seconds: 0.0 }))
                .collect(),
        )
    }

    #[test]
    fn outcomes_follow_the_swe_bench_grading() {
        let mut t = task("t-1", 1, crate::model::Decision::None);
        t.fail_to_pass = vec!["a".into(), "b".into()];
        t.pass_to_pass = vec!["c".into()];
        use TestStatus::*;
        let r = report(&t, Some(&finished(&[("a", Passed), ("b", Passed), ("c", Passed)])), "x");
        assert_eq!((r.outcome, r.resolved), (Outcome::Resolved, true));
        // A missing test counts as not passing.
        let r = report(&t, Some(&finished(&[("a", Passed), ("c", Passed)])), "x");
        assert_eq!(r.outcome, Outcome::Partial);
        assert_eq!(r.fail_to_pass_failure, vec!["b"]);
        let r = report(&t, Some(&finished(&[("a", Passed), ("b", Passed), ("c", Failed)])), "x");
        assert_eq!((r.outcome, r.failure), (Outcome::Partial, Some(FailureReason::Regression)));
        let r = report(&t, Some(&finished(&[("a", Failed), ("b", Error), ("c", Passed)])), "x");
        assert_eq!((r.outcome, r.failure), (Outcome::Unresolved, Some(FailureReason::FailToPassStillFailing)));
        let r = report(&t, Some(&TestRun::Broken("no".into())), "x");
        assert_eq!(r.failure, Some(FailureReason::PatchDoesNotApply));
        assert_eq!(report(&t, None, "x").outcome, Outcome::NoPatch);
    }
}
