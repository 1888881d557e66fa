//! Grading a Solver's patch the way the SWE-bench harness does: apply it in the task's
//! environment, run the task's FAIL_TO_PASS and the whole PASS_TO_PASS (every test the clean suite
//! passes but the FAIL_TO_PASS ones: a fix that breaks an unrelated test is not resolved), and call it resolved only
//! when every one passes (a test missing from the run counts as not passing); partial when some
//! FAIL_TO_PASS tests pass but not all of them (or a PASS_TO_PASS test broke).
//!
//! Fast path (`Grading::FastFirst`, what `grade` does): first run the FAIL_TO_PASS tests and
//! the PASS_TO_PASS tests that executed, on the clean tree, a line the combined patch changes
//! (the environment's coverage map) — or FAIL_TO_PASS alone when the coverage names no narrower
//! set (a line run at import time, or every test covering it); when one of them does not pass,
//! stop there: the verdict is not resolved and the report's failure lists name the tests that
//! failed (it lists only the tests that ran). Otherwise run the whole set in one run as the
//! slow path does: a resolved verdict always means every test ran.
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

/// Grade a combined patch: run the task's F2P and P2P tests with it, covering tests first (the
/// fast path, see the module doc); an empty Solver diff is `no-patch` without running anything.
pub async fn grade(
    worker: &mut Worker,
    env: &Environment,
    task: &Task,
    solver_diff: &str,
    combined: &str,
    origin: &str,
) -> anyhow::Result<(EvalReport, Option<TestRun>)> {
    let graded = grade_as(worker, env, task, solver_diff, combined, origin, Grading::FastFirst).await?;
    Ok((graded.report, graded.run))
}

/// How to grade: the whole set in one run, or the covering tests first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grading {
    Full,
    FastFirst,
}

/// A grading and what it ran.
#[derive(Debug, Clone)]
pub struct Graded {
    pub report: EvalReport,
    /// The last run (the fast step's when it stopped there).
    pub run: Option<TestRun>,
    /// The number of tests asked for, per run: `[fast, full]`, `[fast]` when the fast step
    /// stopped it, `[full]` when there was no narrower set, `[]` for no patch.
    pub steps: Vec<usize>,
}

/// Grade a combined patch with `how` (see the module doc).
pub async fn grade_as(
    worker: &mut Worker,
    env: &Environment,
    task: &Task,
    solver_diff: &str,
    combined: &str,
    origin: &str,
    how: Grading,
) -> anyhow::Result<Graded> {
    let task = &whole_suite(task, env);
    if solver_diff.trim().is_empty() {
        return Ok(Graded { report: report(task, None, origin), run: None, steps: vec![] });
    }
    let mut steps = Vec::new();
    if how == Grading::FastFirst {
        if let Some(fast) = first_step(task, env, combined) {
            steps.push(fast.pass_to_pass.len() + fast.fail_to_pass.len());
            let tests: Vec<String> = fast.fail_to_pass.iter().chain(&fast.pass_to_pass).cloned().collect();
            let run = run_tests(worker, env, &format!("grade-fast-{}", task.id), combined, &tests, 300.0).await?;
            // A patch that does not apply, or a failing test, decides it; a time-out on the
            // subset is left to the whole set's own (longer) time limit.
            let stops =
                matches!(run, TestRun::Broken(_)) || matches!(run, TestRun::Finished(_)) && !all_pass(&tests, &run);
            if stops {
                let report = report(&fast, Some(&run), origin);
                tracing::info!(
                    "{}: graded on the fast step ({} of {} tests): failing {:?}",
                    task.id,
                    tests.len(),
                    task.fail_to_pass.len() + task.pass_to_pass.len(),
                    report.fail_to_pass_failure.iter().chain(&report.pass_to_pass_failure).collect::<Vec<_>>()
                );
                return Ok(Graded { report, run: Some(run), steps });
            }
        }
    }
    let tests: Vec<String> = task.fail_to_pass.iter().chain(&task.pass_to_pass).cloned().collect();
    steps.push(tests.len());
    let run = run_tests(worker, env, &format!("grade-{}", task.id), combined, &tests, 300.0).await?;
    Ok(Graded { report: report(task, Some(&run), origin), run: Some(run), steps })
}

/// The fast step's task: [`fast_set`]'s, else FAIL_TO_PASS alone (a patch leaving one of them
/// failing is not resolved whatever the rest does); `None` when that is the whole set already.
pub fn first_step(task: &Task, env: &Environment, combined: &str) -> Option<Task> {
    if let Some(fast) = fast_set(task, env, combined) {
        return Some(fast);
    }
    (!task.pass_to_pass.is_empty() && !task.fail_to_pass.is_empty())
        .then(|| Task { pass_to_pass: Vec::new(), ..task.clone() })
}

/// The covering set: the FAIL_TO_PASS tests and the PASS_TO_PASS tests that executed a line
/// `combined` changes on the clean tree. `None` when it would be the whole set anyway, or when
/// a changed line ran only at import time (it changes what every test sees).
pub fn fast_set(task: &Task, env: &Environment, combined: &str) -> Option<Task> {
    let changed = crate::diff::Patch::parse(combined).map(|p| p.changed_old_lines()).unwrap_or_default();
    let mut covering = std::collections::BTreeSet::new();
    for (file, lines) in &changed {
        let Some(cov) = env.coverage.get(file) else { continue };
        for tests in lines.iter().filter_map(|l| cov.get(l)) {
            if tests.is_empty() {
                return None;
            }
            covering.extend(tests.iter());
        }
    }
    let p2p: Vec<String> = task.pass_to_pass.iter().filter(|t| covering.contains(t)).cloned().collect();
    if p2p.len() == task.pass_to_pass.len() {
        return None;
    }
    Some(Task { pass_to_pass: p2p, ..task.clone() })
}

/// The task with PASS_TO_PASS widened to the environment's whole passing suite minus its
/// FAIL_TO_PASS (tasks validated before PASS_TO_PASS held the whole suite carry only the tests
/// their bugged run selected); tests it already lists stay, but known-flaky ones never do.
pub fn whole_suite(task: &Task, env: &Environment) -> Task {
    let mut task = task.clone();
    let mut p2p = crate::validate::pass_to_pass(env, &task.fail_to_pass);
    for t in &task.pass_to_pass {
        if !p2p.contains(t) && !task.fail_to_pass.contains(t) && !env.flaky.contains_key(t) {
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

    fn env_with(coverage: serde_json::Value) -> Environment {
        serde_json::from_value(serde_json::json!({
            "repo": "/r", "head": "h", "image": "i", "base_image": "b", "install_commands": [],
            "clean": {"a": "PASSED", "b": "PASSED", "c": "PASSED", "d": "PASSED"},
            "coverage": coverage, "build_ms": 0
        }))
        .expect("an environment")
    }

    #[test]
    fn the_fast_step_runs_fail_to_pass_and_the_tests_covering_the_changed_lines() {
        let mut t = task("t-1", 1, crate::model::Decision::None);
        t.fail_to_pass = vec!["a".into()];
        t.pass_to_pass = vec!["b".into(), "c".into(), "d".into()];
        let env = env_with(serde_json::json!({"pkg/m.py": {"2": ["a", "b"], "3": ["c"], "4": []}}));
        let patch = |line: u32| {
            let old: String = (1..=5).map(|i| format!("x{i}\n")).collect();
            let new = old.replacen(&format!("x{line}\n"), &format!("y{line}\n"), 1);
            crate::diff::unified_diff("pkg/m.py", &old, &new)
        };
        let fast = fast_set(&t, &env, &patch(2)).expect("a narrower set");
        assert_eq!((fast.fail_to_pass, fast.pass_to_pass), (vec!["a".to_string()], vec!["b".to_string()]));
        // A line nothing executed: F2P alone.
        assert_eq!(fast_set(&t, &env, &patch(5)).expect("a narrower set").pass_to_pass, Vec::<String>::new());
        // Executed only at import time: every test sees it, no fast step.
        assert!(fast_set(&t, &env, &patch(4)).is_none());
        // ... but FAIL_TO_PASS alone still goes first.
        assert_eq!(first_step(&t, &env, &patch(4)).expect("F2P first").pass_to_pass, Vec::<String>::new());
        assert_eq!(first_step(&t, &env, &patch(2)).expect("a narrower set").pass_to_pass, vec!["b".to_string()]);
        // Covering every P2P test: the covering set would be the whole set; F2P alone first.
        let env = env_with(serde_json::json!({"pkg/m.py": {"2": ["b", "c", "d"]}}));
        assert!(fast_set(&t, &env, &patch(2)).is_none());
        assert_eq!(first_step(&t, &env, &patch(2)).expect("F2P first").fail_to_pass, vec!["a".to_string()]);
        // No PASS_TO_PASS at all: F2P is the whole set.
        t.pass_to_pass.clear();
        assert!(first_step(&t, &env, &patch(2)).is_none());
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
