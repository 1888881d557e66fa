//! The grading fast path on the example repository (tallyho), real Docker: validated tasks are
//! graded with three Solver results each (the fix, the bug left in place, and the fix plus
//! another task's bug, which breaks tests that cover the lines it changes), once with the whole
//! set in one run (`Grading::Full`) and once covering tests first (`Grading::FastFirst`).
//! - Every verdict is the same both ways.
//! - A resolved verdict ran the whole set (its last step asked for every F2P + P2P test).
//! - A patch that breaks a covering test is rejected after the fast step: one step, fewer
//!   tests than the whole set, and the failing test named in the report; with no narrower
//!   covering set, FAIL_TO_PASS alone is that step.

use socratic::engine::grade::{fast_set, grade_as, whole_suite, Grading};
use socratic::model::{Environment, Outcome, Task};
use socratic::sandbox::image::{self, BootstrapConfig, EnvConfig};
use socratic::sandbox::worker::Worker;
use socratic::sandbox::{Engine, Limits};
use socratic::tasks::{generate, GenerateConfig};
use socratic::validate::run::{validate_all, ValidateConfig};

mod common;
use common::{commit_all, copy_dir, example_repo_source};

/// Tasks graded (each three ways, each both ways).
const TASKS: usize = 8;

async fn valid_tasks(engine: &Engine, env: &Environment, repo: &std::path::Path) -> Vec<Task> {
    let (candidates, _) = generate(repo, &GenerateConfig { budget: 30, seed: 11, ..Default::default() }).unwrap();
    let cfg = ValidateConfig { workers: 2, timeout_s: 30.0, ..Default::default() };
    let mut valid = Vec::new();
    validate_all(engine, env, candidates, &cfg, |t, v| {
        if v.is_valid() {
            valid.push(t.clone());
        }
    })
    .await
    .unwrap();
    valid.sort_by(|a, b| a.id.cmp(&b.id));
    valid
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fast_path_stops_early_on_a_broken_covering_test_and_agrees_with_the_full_run() {
    let engine = Engine::connect("tests").await.expect("a Docker engine must be running (see .ci/run)");
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("tallyho");
    std::fs::create_dir_all(&repo).unwrap();
    copy_dir(&example_repo_source(), &repo);
    let head = commit_all(&repo);
    let base = image::bootstrap_base(&engine, &BootstrapConfig::default()).await.unwrap();
    let cfg =
        EnvConfig { base_image: base, ca_bundle: None, install_timeout_s: 300, test_timeout_s: 300, flaky_reruns: 1 };
    let env = image::build_env(&engine, &repo, &head, &cfg).await.unwrap();
    let tasks = valid_tasks(&engine, &env, &repo).await;
    assert!(tasks.len() >= 4, "{} valid tasks", tasks.len());

    let mut worker = Worker::start(&engine, &env.image, &Limits::default(), &env.run_env()).await.unwrap();
    let mut early_regressions = 0;
    let mut compared = 0;
    // Seconds spent grading each way, and tests asked for by early stops vs the whole set.
    let (mut full_s, mut fast_s) = (0.0, 0.0);
    let (mut early_tests, mut early_whole, mut early) = (0, 0, 0);
    for (i, task) in tasks.iter().take(TASKS).enumerate() {
        let whole = task.fail_to_pass.len() + env.passing().len() - task.fail_to_pass.len();
        // Another task whose bug breaks none of this task's F2P tests: its F2P tests are P2P here.
        let other = tasks
            .iter()
            .cycle()
            .skip(i + 1)
            .take(tasks.len() - 1)
            .find(|o| o.fail_to_pass.iter().all(|t| !task.fail_to_pass.contains(t)));
        let mut solver_results = vec![("fixed", String::new()), ("bug left", task.bug_patch.clone())];
        if let Some(o) = other {
            solver_results.push(("fixed, another bug added", o.bug_patch.clone()));
        }
        for (what, combined) in solver_results {
            // The Solver's own diff only needs to be non-empty here (empty is `no-patch`).
            let diff = "a change";
            let started = std::time::Instant::now();
            let full = grade_as(&mut worker, &env, task, diff, &combined, "test", Grading::Full).await.unwrap();
            full_s += started.elapsed().as_secs_f64();
            let started = std::time::Instant::now();
            let fast = grade_as(&mut worker, &env, task, diff, &combined, "test", Grading::FastFirst).await.unwrap();
            fast_s += started.elapsed().as_secs_f64();
            let label = format!("task {} ({}), {what}", task.id, task.operator);
            assert_eq!(fast.report.outcome, full.report.outcome, "{label}: {:?} vs {:?}", fast.report, full.report);
            assert_eq!(full.steps, vec![whole], "{label}");
            compared += 1;
            if fast.report.outcome == Outcome::Resolved {
                assert_eq!(
                    fast.steps.last(),
                    Some(&whole),
                    "{label}: resolved without the whole set: {:?}",
                    fast.steps
                );
                assert_eq!(what, "fixed", "{label}");
            } else {
                assert_ne!(what, "fixed", "{label}: {:?}", fast.report);
                // A change to a line that ran at import time has no narrower covering set:
                // FAIL_TO_PASS alone goes first, and decides when one of them fails.
                if fast_set(&whole_suite(task, &env), &env, &combined).is_none() {
                    let f2p = task.fail_to_pass.len();
                    if fast.report.fail_to_pass_failure.is_empty() {
                        assert_eq!(fast.steps, vec![f2p, whole], "{label}");
                    } else {
                        assert_eq!(fast.steps, vec![f2p], "{label}: failing F2P stops grading");
                    }
                    continue;
                }
                assert_eq!(fast.steps.len(), 1, "{label}: a failing fast step stops grading: {:?}", fast.steps);
                assert!(fast.steps[0] < whole, "{label}: the fast step ran the whole set");
                (early_tests, early_whole, early) = (early_tests + fast.steps[0], early_whole + whole, early + 1);
                let failing = fast.report.fail_to_pass_failure.len() + fast.report.pass_to_pass_failure.len();
                assert!(failing > 0, "{label}: the report names no failing test: {:?}", fast.report);
                if what == "fixed, another bug added" {
                    assert!(fast.report.fail_to_pass_failure.is_empty(), "{label}: {:?}", fast.report);
                    let broken = &fast.report.pass_to_pass_failure;
                    assert!(!broken.is_empty(), "{label}: no P2P test named");
                    // The full run's regressions include the ones the fast step named.
                    assert!(broken.iter().all(|t| full.report.pass_to_pass_failure.contains(t)), "{label}");
                    early_regressions += 1;
                }
            }
        }
    }
    let _ = worker.shutdown().await;
    let _ = engine.remove_image(&env.image).await;
    eprintln!(
        "{compared} gradings: whole set {full_s:.1} s, fast path {fast_s:.1} s; {early} stopped after the fast step, \
         running {early_tests} tests where the whole set has {early_whole}"
    );
    assert!(compared >= 12, "{compared} gradings compared");
    assert!(early_regressions >= 2, "{early_regressions} patches breaking a covering P2P test were stopped early");
}
