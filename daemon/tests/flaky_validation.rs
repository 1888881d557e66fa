//! Flaky tests found by validation's clean re-runs, against a real Docker engine, real git and a
//! real store. The fixture (`tests/fixtures/repos/late_flaky`) has a test that executes the
//! library but fails on every third run in a container, whatever the code: the environment
//! build's two clean runs (the first and second) both pass, so the build does not know it is
//! flaky. Validation with one worker runs it deterministically: candidates A and B run it with
//! their bug (runs 1 and 2, passing), candidate C's bugged run is run 3 (failing, so it looks
//! like C's FAIL_TO_PASS), the clean re-run is run 4 (passing) and the flakiness re-runs are
//! runs 5 and 6: with `flaky_reruns = 1` it goes unnoticed (the contrast: C keeps a flaky
//! FAIL_TO_PASS test), with 2 it fails on the clean tree and is recorded as known-flaky in the
//! stored environment, dropped from C's FAIL_TO_PASS and from every PASS_TO_PASS, never
//! selected for a later candidate, and left out of exports of tasks stored before.
//!
//! Needs a running engine and the base image (`socratic env bootstrap`). Never skips.

use socratic::engine::progress::Progress;
use socratic::engine::validation::validate_and_record;
use socratic::model::{Environment, Task, TaskStage, Verdict};
use socratic::sandbox::image::{self, BootstrapConfig, EnvConfig};
use socratic::sandbox::Engine;
use socratic::store::Store;
use socratic::validate::run::{validate_all, ValidateConfig};
use std::path::{Path, PathBuf};

mod common;
use common::{candidate_task, commit_all, copy_dir, file_patch, CandidateSite};

const LIB: &str = "latecoin/__init__.py";
const SOMETIMES: &str = "tests/test_latecoin.py::test_scale_sometimes";
const DOUBLES: &str = "tests/test_latecoin.py::test_scale_doubles";
const ZERO: &str = "tests/test_latecoin.py::test_scale_zero";
const DESCRIBE: &str = "tests/test_latecoin.py::test_describe";

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/repos/late_flaky")
}

/// A candidate replacing `scale`'s `return x * k` (line 2) with `return NEW`.
fn candidate(root: &Path, head: &str, new: &str) -> Task {
    let clean = std::fs::read_to_string(root.join(LIB)).unwrap();
    let bugged = clean.replacen("return x * k", &format!("return {new}"), 1);
    let at = CandidateSite { file: LIB, line: 2, scope: "scale", operator: "binary-operator" };
    candidate_task(&root.display().to_string(), head, &at, file_patch(LIB, &clean, &bugged))
}

fn sorted(v: &[String]) -> Vec<&str> {
    let mut out: Vec<&str> = v.iter().map(String::as_str).collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_failing_on_a_clean_rerun_during_validation_becomes_known_flaky() {
    let engine = Engine::connect("tests").await.expect("a Docker engine must be running (see .ci/run)");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("late_flaky");
    copy_dir(&fixture(), &root);
    let head = commit_all(&root);
    let base = image::bootstrap_base(&engine, &BootstrapConfig::default()).await.expect("base image");
    let cfg =
        EnvConfig { base_image: base, ca_bundle: None, install_timeout_s: 600, test_timeout_s: 600, flaky_reruns: 1 };
    let env = image::build_env(&engine, &root, &head, &cfg).await.expect("the environment builds");
    let result = checks(&engine, &env, dir.path(), &root, &head).await;
    let _ = engine.remove_image(&env.image).await;
    result.unwrap();
}

async fn validate(engine: &Engine, env: &Environment, tasks: Vec<Task>, reruns: u32) -> Vec<(Task, Verdict)> {
    let cfg = ValidateConfig { workers: 1, timeout_s: 30.0, flaky_reruns: reruns, ..Default::default() };
    let mut out = Vec::new();
    let stats = validate_all(engine, env, tasks, &cfg, |t, v| out.push((t, v))).await.expect("validation runs");
    assert!(stats.flaky.is_empty(), "one clean re-run and one more never see run 6: {:?}", stats.flaky);
    out
}

async fn checks(engine: &Engine, env: &Environment, dir: &Path, root: &Path, head: &str) -> Result<(), String> {
    // The build's two clean runs passed: nothing is known to be flaky yet.
    assert!(env.flaky.is_empty(), "{:?}", env.flaky);
    assert_eq!(sorted(&env.passing()), [DESCRIBE, DOUBLES, SOMETIMES, ZERO]);
    let a = candidate(root, head, "x * k + 1"); // doubles and zero fail
    let b = candidate(root, head, "k"); // doubles fails
    let c = candidate(root, head, "x ** k"); // zero fails (and, on run 3, the flaky test)

    // The contrast: one flakiness re-run (run 5) passes, so C keeps the flaky test as F2P.
    let before = validate(engine, env, vec![a.clone(), b.clone(), c.clone()], 1).await;
    let old_c = before.iter().find(|(t, _)| t.id == c.id).expect("C decided");
    assert!(old_c.1.is_valid(), "{:?}", old_c.1);
    assert_eq!(sorted(&old_c.0.fail_to_pass), [SOMETIMES, ZERO]);
    let old_a = before.iter().find(|(t, _)| t.id == a.id).expect("A decided").0.clone();
    assert!(old_a.pass_to_pass.contains(&SOMETIMES.to_string()), "{:?}", old_a.pass_to_pass);

    // With two flakiness re-runs (runs 5 and 6), through the engine with a real store.
    let home = dir.join("home");
    let mut store = Store::open(&home).map_err(|e| e.to_string())?;
    store.save_environment(env).map_err(|e| e.to_string())?;
    store.insert_tasks(&[a.clone(), b.clone(), c.clone()]).map_err(|e| e.to_string())?;
    let cfg = ValidateConfig { workers: 1, timeout_s: 30.0, flaky_reruns: 2, ..Default::default() };
    let decided = validate_and_record(&mut store, env, vec![a.clone(), b.clone(), c.clone()], &cfg, &Progress::none())
        .await
        .map_err(|e| format!("{e:#}"))?;
    assert_eq!((decided.valid, decided.flaky_found), (3, 1), "{decided:?}");
    let stored = store.environment(&env.repo, head).map_err(|e| e.to_string())?.expect("stored environment");
    assert_eq!(stored.flaky.keys().collect::<Vec<_>>(), [SOMETIMES], "{:?}", stored.flaky);
    assert!(!stored.passing().contains(&SOMETIMES.to_string()));
    let task = |id: &str| store.task(id).map_err(|e| e.to_string()).map(|t| t.expect("stored task"));
    let (a_now, b_now, c_now) = (task(&a.id)?, task(&b.id)?, task(&c.id)?);
    assert_eq!((sorted(&a_now.fail_to_pass), sorted(&a_now.pass_to_pass)), (vec![DOUBLES, ZERO], vec![DESCRIBE]));
    assert_eq!((sorted(&b_now.fail_to_pass), sorted(&b_now.pass_to_pass)), (vec![DOUBLES], vec![DESCRIBE, ZERO]));
    // C stays a task on the F2P test that really fails with its bug; the flaky one is dropped.
    assert_eq!(c_now.stage, TaskStage::Valid);
    assert_eq!((sorted(&c_now.fail_to_pass), sorted(&c_now.pass_to_pass)), (vec![ZERO], vec![DESCRIBE, DOUBLES]));
    let verdict = store.verdict(&c.id).map_err(|e| e.to_string())?.expect("C's verdict");
    assert!(verdict.reason.contains("1 flaky test(s) left out"), "{}", verdict.reason);

    // A later candidate, in the environment as stored now: the flaky test is neither selected
    // nor PASS_TO_PASS (a fresh worker: had it run, its first run would pass and show up).
    let d = candidate(root, head, "-x * k"); // doubles fails
    let later = validate(engine, &stored, vec![d.clone()], 2).await;
    let (d_now, verdict) = &later[0];
    assert!(verdict.is_valid(), "{verdict:?}");
    assert_eq!((sorted(&d_now.fail_to_pass), sorted(&d_now.pass_to_pass)), (vec![DOUBLES], vec![DESCRIBE, ZERO]));
    assert!(verdict.reason.contains("(1 of them run with the bug)"), "only zero ran with the bug: {}", verdict.reason);

    // A task stored before the test was known flaky: exports leave it out of PASS_TO_PASS.
    let exported = socratic::export::prepare(&store, &[old_a]).map_err(|e| e.to_string())?;
    assert_eq!(sorted(&exported[0].task.pass_to_pass), [DESCRIBE]);
    Ok(())
}
