//! Validation: a candidate becomes a task only if execution proves it.
//!
//! In: candidate `Task`s and the repository's `Environment` (clean results, coverage map).
//! Out: one staged `Verdict` per candidate, and for valid ones F2P / P2P lists and a problem
//! statement written from the failing tests.
//!
//! Stages, each a reason to reject: `format` (the patch applies) → `grounding` (some test
//! reaches the changed lines) → `execution` (the run finished: no timeout, no collection error)
//! → `fail-to-pass` (≥ 1 selected test that passed clean fails with the bug) → `flaky` (the F2P
//! tests pass again on the restored tree, which also proves the reverse patch repairs it).
//! Grading follows the SWE-bench harness: a test missing from a run counts as not passing.
//!
//! The decisions (`select_tests`, `grade`, `problem_statement`) are plain functions; `run`
//! drives warm workers and is the only part that does IO.

pub mod run;

use crate::diff::Patch;
use crate::model::{Environment, RejectStage, Task, TestResult, TestStatus, Verdict, VerdictOutcome};
use std::collections::{BTreeMap, BTreeSet};

/// Lines of the clean file that a bug patch changes, per file (see
/// [`Patch::changed_old_lines`]); none when it does not parse.
fn changed_lines(patch: &str) -> BTreeMap<String, BTreeSet<u32>> {
    Patch::parse(patch).map(|p| p.changed_old_lines()).unwrap_or_default()
}

/// Which tests to run for a candidate, and why.
#[derive(Debug, Clone, PartialEq)]
pub enum Selection {
    /// Tests that executed the changed lines on the clean tree.
    Covering(Vec<String>),
    /// Module-level change: the test files named after the module.
    ModuleTests(Vec<String>),
    /// Nothing narrower applies: the whole passing suite.
    WholeSuite(Vec<String>),
    /// A change inside a function that no test executes: it cannot fail a test.
    Uncovered,
}

impl Selection {
    pub fn tests(&self) -> &[String] {
        match self {
            Selection::Covering(t) | Selection::ModuleTests(t) | Selection::WholeSuite(t) => t,
            Selection::Uncovered => &[],
        }
    }
}

/// Select the tests for a candidate from the coverage map (only tests passing clean count).
pub fn select_tests(env: &Environment, task: &Task) -> Selection {
    let passing: BTreeSet<String> = env.passing().into_iter().collect();
    let mut covering = BTreeSet::new();
    // A changed line executed only while importing (a signature, a default value, a class
    // attribute) has no test context, yet changes what every caller sees. Without per-test
    // contexts (`Environment::coverage_note`) no executed line has one: the module's tests run.
    let mut import_time = false;
    for (file, lines) in changed_lines(&task.bug_patch) {
        if let Some(cov) = env.coverage.get(&file) {
            for line in lines {
                if let Some(tests) = cov.get(&line) {
                    import_time |= tests.is_empty();
                    covering.extend(tests.iter().filter(|t| passing.contains(*t)).cloned());
                }
            }
        }
    }
    if !covering.is_empty() {
        return Selection::Covering(covering.into_iter().collect());
    }
    if !env.coverage.is_empty() {
        if task.site.scope != "<module>" && !import_time {
            return Selection::Uncovered;
        }
        // No line of any changed file ran during the clean suite (setup.py, docs/conf.py, a
        // module nothing imports): the tests cannot see the change.
        let never_ran = |file: &String| env.coverage.get(file).is_none_or(|lines| lines.is_empty());
        if changed_lines(&task.bug_patch).keys().all(never_ran) {
            return Selection::Uncovered;
        }
    }
    // A private module's tests are usually named without its underscore (`_grid.py` →
    // `test_grid.py`).
    let stem = std::path::Path::new(&task.site.file).file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let stem = stem.trim_start_matches('_');
    let module_tests: Vec<String> = passing
        .iter()
        .filter(|t| {
            t.split("::")
                .next()
                .is_some_and(|f| f.contains(&format!("test_{stem}")) || f.contains(&format!("{stem}_test")))
        })
        .cloned()
        .collect();
    if !module_tests.is_empty() {
        return Selection::ModuleTests(module_tests);
    }
    Selection::WholeSuite(passing.into_iter().collect())
}

/// Seconds a candidate's selected tests may take: ten times what they took on the clean tree
/// plus half a second, never more than `cap` (a mutant that loops is cut off early) unless the
/// cap leaves less than three times the clean time: a selection that took longer than the cap
/// on the clean tree (a helper hundreds of slow tests execute) would otherwise always time
/// out, and the candidate be rejected for the selection's size, not for its bug. The
/// runner adds its own start-up time when it has to start a fresh pytest session (the cold
/// path); the warm path starts in milliseconds.
pub fn timeout_for(env: &Environment, tests: &[String], cap: f64) -> f64 {
    let clean: f64 = tests.iter().filter_map(|t| env.durations.get(t)).sum();
    (0.5 + 10.0 * clean).min(cap.max(0.5 + 3.0 * clean))
}

/// What a run of the bugged tree produced.
#[derive(Debug, Clone)]
pub enum BugRun {
    PatchFailed(String),
    TimedOut,
    /// The test process died before reporting every test (or the runner failed).
    Crashed(String),
    /// The worker container itself went away (killed, out of memory, engine restarted): the
    /// run says nothing about the candidate.
    WorkerLost(String),
    Finished(BTreeMap<String, TestResult>),
}

/// F2P / P2P from a bugged run: selected tests missing from the run count as not passing.
pub fn grade(selected: &[String], run: &BTreeMap<String, TestResult>) -> (Vec<String>, Vec<String>) {
    let mut f2p = Vec::new();
    let mut p2p = Vec::new();
    for t in selected {
        match run.get(t) {
            Some(r) if r.status == TestStatus::Passed => p2p.push(t.clone()),
            _ => f2p.push(t.clone()),
        }
    }
    (f2p, p2p)
}

/// A valid task's PASS_TO_PASS: every test the clean suite passes, minus its FAIL_TO_PASS, in
/// the clean run's order (what the SWE-bench harness runs to catch a fix that breaks something
/// else). Tests no candidate's selection ran with the bug did not execute the changed lines on
/// the clean tree, so they pass with the bug as well.
pub fn pass_to_pass(env: &Environment, f2p: &[String]) -> Vec<String> {
    let f2p: BTreeSet<&String> = f2p.iter().collect();
    env.passing().into_iter().filter(|t| !f2p.contains(t)).collect()
}

/// The verdict before the flakiness re-run: `Ok((f2p, p2p))` to go on, or the rejection.
pub fn judge(task_id: &str, selection: &Selection, run: &BugRun) -> Result<(Vec<String>, Vec<String>), Verdict> {
    let reject = |stage: RejectStage, reason: String| Verdict {
        task_id: task_id.to_string(),
        outcome: VerdictOutcome::Rejected(stage),
        reason,
        fail_to_pass: vec![],
        pass_to_pass: vec![],
        duration_ms: 0,
    };
    let results = match run {
        BugRun::PatchFailed(why) => return Err(reject(RejectStage::Format, format!("patch does not apply: {why}"))),
        _ if *selection == Selection::Uncovered => {
            return Err(reject(RejectStage::Grounding, "no test executes the changed lines".into()))
        }
        BugRun::WorkerLost(why) => {
            return Err(Verdict {
                outcome: VerdictOutcome::Retry,
                ..reject(RejectStage::Execution, format!("the worker container was lost: {why}; run it again"))
            })
        }
        BugRun::TimedOut => return Err(reject(RejectStage::Execution, "the tests timed out with the bug".into())),
        BugRun::Crashed(why) => {
            return Err(reject(RejectStage::Execution, format!("the test process died with the bug: {why}")))
        }
        BugRun::Finished(r) => r,
    };
    if results.is_empty() || crate::model::has_collection_error(results) {
        return Err(reject(
            RejectStage::Execution,
            "the tests could not be collected with the bug (import or syntax error)".into(),
        ));
    }
    let (f2p, p2p) = grade(selection.tests(), results);
    if f2p.is_empty() {
        return Err(reject(
            RejectStage::FailToPass,
            format!("all {} selected tests still pass with the bug", p2p.len()),
        ));
    }
    Ok((f2p, p2p))
}

/// A problem statement from the failing tests: what fails and how, through which public entry
/// point, never where the change is or what the fix is.
/// `module` is the dotted name of the changed file as it is imported ([`Environment::module_name`]).
pub fn problem_statement(task: &Task, module: &str, f2p: &[String], failures: &BTreeMap<String, TestResult>) -> String {
    let entry = public_entry_point(&task.enclosing);
    let mut s = match entry {
        Some(e) => format!("`{e}` (module `{module}`) no longer behaves as expected.\n\n"),
        None => format!("Something in `{module}` no longer behaves as expected.\n\n"),
    };
    s.push_str(&format!(
        "{} test{} fail{}:\n\n",
        f2p.len(),
        if f2p.len() == 1 { "" } else { "s" },
        if f2p.len() == 1 { "s" } else { "" }
    ));
    for t in f2p.iter().take(8) {
        let msg = failures.get(t).map(|r| first_line(&r.message)).filter(|m| !m.is_empty());
        match msg {
            Some(m) => s.push_str(&format!("- `{t}`: {m}\n")),
            None => s.push_str(&format!("- `{t}`\n")),
        }
    }
    if f2p.len() > 8 {
        s.push_str(&format!("- ... and {} more\n", f2p.len() - 8));
    }
    s.push_str(
        "\nThese tests passed before. Find the cause and make them pass again without breaking the other tests.\n",
    );
    s
}

/// The public name a caller would use: the enclosing dotted name, cut at its first private part.
fn public_entry_point(enclosing: &str) -> Option<String> {
    let parts: Vec<&str> = enclosing.split('.').take_while(|p| !p.starts_with('_') || p.starts_with("__")).collect();
    (!parts.is_empty() && !enclosing.is_empty() && enclosing != "<module>").then(|| parts.join("."))
}

fn first_line(s: &str) -> String {
    let l = s.lines().next().unwrap_or("").trim();
    if l.chars().count() > 200 {
        format!("{}...", l.chars().take(200).collect::<String>())
    } else {
        l.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TaskStage;

    const PATCH: &str = "diff --git a/pkg/m.py b/pkg/m.py\n--- a/pkg/m.py\n+++ b/pkg/m.py\n@@ -10,3 +10,3 @@ def f():\n     a = 1\n-    if a < 2:\n+    if a <= 2:\n         return a\n";

    fn task(scope: &str) -> Task {
        let mut t = crate::model::test_support::task("t-1", "flip-comparison", TaskStage::Candidate);
        t.site.file = "pkg/m.py".into();
        (t.site.start_line, t.site.start_col, t.site.end_line, t.site.end_col) = (10, 4, 10, 9);
        t.site.scope = scope.into();
        (t.bug_patch, t.enclosing, t.round) = (PATCH.into(), "Ledger._helper".into(), None);
        t
    }

    fn env(cov_line: u32) -> Environment {
        let mut clean = BTreeMap::new();
        for t in ["tests/test_m.py::test_a", "tests/test_m.py::test_b", "tests/test_other.py::test_c"] {
            clean.insert(t.to_string(), TestStatus::Passed);
        }
        clean.insert("tests/test_m.py::test_broken".into(), TestStatus::Failed);
        let mut lines = BTreeMap::new();
        lines.insert(cov_line, vec!["tests/test_m.py::test_a".to_string(), "tests/test_m.py::test_broken".to_string()]);
        let mut coverage = BTreeMap::new();
        coverage.insert("pkg/m.py".to_string(), lines);
        Environment {
            repo: "r".into(),
            head: "c".into(),
            image: "i".into(),
            base_image: "b".into(),
            install_commands: vec![],
            clean,
            durations: BTreeMap::new(),
            python_path: None,
            install_notes: vec![],
            coverage,
            build_ms: 0,
            collection_errors: BTreeMap::new(),
            repairs: vec![],
            packages: BTreeMap::new(),
            pytest_args: vec![],
            flaky: BTreeMap::new(),
            recipe_source: Default::default(),
            coverage_note: None,
        }
    }

    fn result(status: TestStatus, message: &str) -> TestResult {
        TestResult { status, message: message.into(), seconds: 0.0 }
    }

    #[test]
    fn selection_prefers_covering_passing_tests() {
        assert_eq!(
            select_tests(&env(11), &task("Ledger._helper")),
            Selection::Covering(vec!["tests/test_m.py::test_a".into()])
        );
        assert_eq!(select_tests(&env(99), &task("Ledger._helper")), Selection::Uncovered);
        // Line 11 executed only at import time (a default value): the module's tests run.
        let mut imported = env(99);
        imported.coverage.get_mut("pkg/m.py").unwrap().insert(11, vec![]);
        assert!(matches!(select_tests(&imported, &task("Ledger._helper")), Selection::ModuleTests(_)));
        match select_tests(&env(99), &task("<module>")) {
            Selection::ModuleTests(t) => {
                assert_eq!(t, vec!["tests/test_m.py::test_a".to_string(), "tests/test_m.py::test_b".to_string()])
            }
            other => panic!("{other:?}"),
        }
        // A module-level change in a file no test imported (absent from the map, or measured
        // with no line run) cannot fail a test.
        let mut setup = task("<module>");
        setup.bug_patch = PATCH.replace("pkg/m.py", "setup.py");
        assert_eq!(select_tests(&env(99), &setup), Selection::Uncovered);
        let mut measured = env(99);
        measured.coverage.insert("setup.py".into(), BTreeMap::new());
        assert_eq!(select_tests(&measured, &setup), Selection::Uncovered);
    }

    #[test]
    fn pass_to_pass_is_the_whole_passing_suite_but_f2p() {
        let e = env(11);
        assert_eq!(
            pass_to_pass(&e, &["tests/test_m.py::test_a".to_string()]),
            vec!["tests/test_m.py::test_b".to_string(), "tests/test_other.py::test_c".to_string()]
        );
    }

    #[test]
    fn timeouts_scale_with_the_clean_run() {
        let mut e = env(11);
        e.durations.insert("tests/test_m.py::test_a".into(), 0.5);
        assert_eq!(timeout_for(&e, &["tests/test_m.py::test_a".to_string()], 60.0), 5.5);
        assert_eq!(timeout_for(&e, &["tests/test_m.py::test_a".to_string()], 4.0), 4.0);
        assert_eq!(timeout_for(&e, &["unknown".to_string()], 60.0), 0.5);
        // Selected tests that took 40 s on the clean tree get 120.5 s, not a cap of 60 s.
        e.durations.insert("tests/test_m.py::test_b".into(), 39.5);
        let both = ["tests/test_m.py::test_a".to_string(), "tests/test_m.py::test_b".to_string()];
        assert_eq!(timeout_for(&e, &both, 60.0), 120.5);
    }

    #[test]
    fn judge_stages() {
        let sel = Selection::Covering(vec!["a".into(), "b".into()]);
        let reject = |run: BugRun| judge("t", &sel, &run).unwrap_err().rejected_at().unwrap().name();
        assert_eq!(reject(BugRun::PatchFailed("x".into())), "format");
        assert_eq!(reject(BugRun::TimedOut), "execution");
        assert_eq!(reject(BugRun::Crashed("exit 139".into())), "execution");
        assert_eq!(reject(BugRun::Finished(BTreeMap::new())), "execution");
        // A lost worker decides nothing: the candidate is to be run again, and stays a candidate.
        let lost = judge("t", &sel, &BugRun::WorkerLost("container gone".into())).unwrap_err();
        assert_eq!((lost.outcome, lost.task_stage()), (VerdictOutcome::Retry, TaskStage::Candidate));
        let all_pass: BTreeMap<_, _> =
            [("a".to_string(), result(TestStatus::Passed, "")), ("b".to_string(), result(TestStatus::Passed, ""))]
                .into();
        assert_eq!(reject(BugRun::Finished(all_pass)), "fail-to-pass");
        // b missing from the run counts as not passing.
        let one: BTreeMap<_, _> = [("a".to_string(), result(TestStatus::Passed, ""))].into();
        assert_eq!(judge("t", &sel, &BugRun::Finished(one)).unwrap(), (vec!["b".to_string()], vec!["a".to_string()]));
        assert_eq!(
            judge("t", &Selection::Uncovered, &BugRun::TimedOut).unwrap_err().rejected_at(),
            Some(RejectStage::Grounding)
        );
        assert_eq!(
            judge("t", &Selection::Uncovered, &BugRun::PatchFailed("x".into())).unwrap_err().rejected_at(),
            Some(RejectStage::Format)
        );
    }

    #[test]
    fn statement_names_tests_and_entry_point_not_the_change() {
        let f2p = vec!["tests/test_m.py::test_a".to_string()];
        let failures: BTreeMap<_, _> =
            [(f2p[0].clone(), result(TestStatus::Failed, "AssertionError: assert 3 == 2\nmore"))].into();
        let s = problem_statement(&task("Ledger._helper"), "pkg.m", &f2p, &failures);
        assert!(s.contains("`Ledger` (module `pkg.m`)"), "{s}");
        assert!(!s.contains("_helper") && !s.contains("<=") && !s.contains("line 11"), "{s}");
        assert!(s.contains("tests/test_m.py::test_a`: AssertionError: assert 3 == 2"), "{s}");
    }
}
