//! Environment builds of small realistic repositories against a real Docker engine, one per
//! root cause of a failed build seen on popular PyPI projects (`tests/fixtures/repos/`): test
//! dependencies in a `tests` extra, in `tests/requirements.txt`, in tox's extras; a test module
//! that cannot be imported and one whose module nobody declared; template files compiled under
//! tests/; a src layout; a suite too large for per-test coverage contexts; tests slower than
//! the validation cap. Then grading: a Solver patch that breaks an unrelated test is not
//! resolved, because PASS_TO_PASS is the whole passing suite.
//!
//! Needs a running engine, the base image (`socratic env bootstrap`) and access to PyPI from
//! the build container. Without an engine this test fails: it never skips.

use socratic::model::{Environment, Site, Task, TestStatus};
use socratic::sandbox::image::{self, BootstrapConfig, EnvConfig};
use socratic::sandbox::worker::Worker;
use socratic::sandbox::{Engine, Limits};
use socratic::validate::run::{validate_all, ValidateConfig};
use std::path::{Path, PathBuf};

mod common;
use common::{candidate_task, commit_all, copy_dir, CandidateSite};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/repos").join(name)
}

/// A fixture copied into `dir/<name>` and committed; returns the path and HEAD.
fn repo(dir: &Path, name: &str) -> (PathBuf, String) {
    let root = dir.join(name);
    copy_dir(&fixture(name), &root);
    let head = commit_all(&root);
    (root, head)
}

async fn build(engine: &Engine, root: &Path, head: &str) -> Result<Environment, String> {
    let base = image::bootstrap_base(engine, &BootstrapConfig::default()).await.expect("base image");
    // pip in the build container trusts what the host trusts (as `env build` does).
    let host_bundle = PathBuf::from("/etc/ssl/certs/ca-certificates.crt");
    let ca_bundle = host_bundle.exists().then_some(host_bundle);
    let cfg = EnvConfig { base_image: base, ca_bundle, install_timeout_s: 600, test_timeout_s: 600, flaky_reruns: 1 };
    image::build_env(engine, root, head, &cfg).await.map_err(|e| e.to_string())
}

fn all_pass(env: &Environment, name: &str) {
    let failing: Vec<_> = env.clean.iter().filter(|(_, s)| **s != TestStatus::Passed).collect();
    assert!(failing.is_empty(), "{name}: failing on the clean tree: {failing:?}\n{env:#?}");
    assert!(!env.clean.is_empty(), "{name}: no test ran");
    assert!(env.coverage.values().any(|l| !l.is_empty()), "{name}: empty coverage map");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_dependencies_collection_errors_and_coverage() {
    let engine = Engine::connect("tests").await.expect("a Docker engine must be running (see .ci/run)");
    let dir = tempfile::tempdir().unwrap();
    let names = ["missing_extra", "tests_requirements", "tox_extras", "broken_module", "templates"];
    let repos: Vec<(PathBuf, String)> = names.iter().map(|n| repo(dir.path(), n)).collect();
    let builds = futures_util::future::join_all(repos.iter().map(|(root, head)| build(&engine, root, head))).await;
    let mut images = Vec::new();
    let mut envs = std::collections::BTreeMap::new();
    for (name, built) in names.iter().zip(builds) {
        match built {
            Ok(env) => {
                images.push(env.image.clone());
                envs.insert(*name, env);
            }
            Err(e) => panic!("{name} did not build: {e}"),
        }
    }
    for image in &images {
        let _ = engine.remove_image(image).await;
    }

    // attrs / humanize: the `tests` extra is installed; the `docs` one is not asked for.
    let env = &envs["missing_extra"];
    all_pass(env, "missing_extra");
    assert!(env.install_commands.iter().any(|c| c.ends_with("-e '.[tests]'")), "{:?}", env.install_commands);
    assert_eq!(env.clean.len(), 7);

    // packaging: tests/requirements.txt is read.
    let env = &envs["tests_requirements"];
    all_pass(env, "tests_requirements");
    assert!(
        env.install_commands.iter().any(|c| c.ends_with("-r tests/requirements.txt")),
        "{:?}",
        env.install_commands
    );

    // pyparsing: tox's extras; a factor-conditional dep is left alone.
    let env = &envs["tox_extras"];
    all_pass(env, "tox_extras");
    assert!(env.install_commands.iter().any(|c| c.contains(".[diagrams]")), "{:?}", env.install_commands);
    assert!(env.clean.contains_key("tests/test_diagram.py::test_diagram"));

    // A test module that cannot be imported costs only its own tests; `yaml` was repaired.
    let env = &envs["broken_module"];
    all_pass(env, "broken_module");
    assert_eq!(env.clean.len(), 8, "{:?}", env.clean.keys().collect::<Vec<_>>());
    let (file, why) = env.collection_errors.iter().next().expect("one collection error");
    assert_eq!(file, "tests/test_optional.py");
    assert!(why.contains("socratic_fixture_module_nobody_publishes"), "{why}");
    assert!(env.repairs.iter().any(|r| r == "PyYAML: installed"), "{:?}", env.repairs);
    assert!(env.clean.contains_key("tests/test_config.py::test_yaml_limits"));

    // jinja2: code compiled under a template's name does not empty the coverage map, which
    // holds the package only.
    let env = &envs["templates"];
    all_pass(env, "templates");
    assert_eq!(env.coverage.keys().collect::<Vec<_>>(), vec!["tplpkg/__init__.py"]);
    assert_eq!(env.packages.get("tplpkg").map(String::as_str), Some("tplpkg"));
}

const LIB: &str = "src/tinycache/__init__.py";

fn patch(file: &str, old: &str, new: &str) -> String {
    let diff = similar::TextDiff::from_lines(old, new);
    format!(
        "diff --git a/{file} b/{file}\n{}",
        diff.unified_diff().context_radius(3).header(&format!("a/{file}"), &format!("b/{file}"))
    )
}

fn candidate(head: &str, root: &Path, bug_patch: String, line: usize) -> Task {
    let at = CandidateSite { file: LIB, line, scope: "clamp", operator: "flip-comparison" };
    candidate_task(&root.display().to_string(), head, &at, bug_patch)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn src_layout_tasks_carry_the_whole_suite_and_grading_runs_it() {
    let engine = Engine::connect("tests").await.expect("a Docker engine must be running (see .ci/run)");
    let dir = tempfile::tempdir().unwrap();
    let (root, head) = repo(dir.path(), "src_layout");
    let env = build(&engine, &root, &head).await.expect("src layout builds");
    let result = grade_checks(&engine, &env, &root, &head).await;
    let _ = engine.remove_image(&env.image).await;
    result.unwrap();
}

async fn grade_checks(engine: &Engine, env: &Environment, root: &Path, head: &str) -> Result<(), String> {
    all_pass(env, "src_layout");
    assert_eq!(env.packages.get("src/tinycache").map(String::as_str), Some("tinycache"));
    assert!(env.coverage.keys().all(|f| f.starts_with("src/tinycache/")), "{:?}", env.coverage.keys());
    let clean = std::fs::read_to_string(root.join(LIB)).unwrap();
    // `if value < low:` → `if value > low:` breaks the clamp tests only.
    let bug = patch(LIB, &clean, &clean.replacen("if value < low:", "if value > low:", 1));
    let mut verdicts = Vec::new();
    let cfg = ValidateConfig { workers: 1, timeout_s: 30.0, ..Default::default() };
    validate_all(engine, env, vec![candidate(head, root, bug.clone(), 1)], &cfg, |t, v| verdicts.push((t, v)))
        .await
        .map_err(|e| e.to_string())?;
    let (task, verdict) = verdicts.pop().expect("one verdict");
    assert!(verdict.is_valid(), "{verdict:?}");
    assert!(task.problem_statement.contains("module `tinycache`"), "{}", task.problem_statement);
    assert!(!task.problem_statement.contains("src."), "{}", task.problem_statement);
    // PASS_TO_PASS: every passing test but the FAIL_TO_PASS ones, the label tests included
    // though no run with the bug selected them.
    let mut whole: Vec<String> = env.passing().into_iter().filter(|t| !task.fail_to_pass.contains(t)).collect();
    whole.sort();
    let mut p2p = task.pass_to_pass.clone();
    p2p.sort();
    assert_eq!(p2p, whole);
    assert!(p2p.contains(&"tests/test_tinycache.py::test_label_many".to_string()), "{p2p:?}");

    // A Solver that fixes the bug and breaks `label`: the combined patch (clean base → its tree)
    // changes only `label`. Not resolved.
    let breaks_label = patch(LIB, &clean, &clean.replacen("return \"%d items\" % n", "return \"%d item\" % n", 1));
    let mut worker =
        Worker::start(engine, &env.image, &Limits::default(), &env.run_env()).await.map_err(|e| e.to_string())?;
    let graded = socratic::engine::grade::grade(&mut worker, env, &task, &bug, &breaks_label, "test").await;
    // The same with a fix that touches nothing else: resolved.
    let fixed = socratic::engine::grade::grade(&mut worker, env, &task, &bug, "", "test").await;
    let _ = worker.shutdown().await;
    let (report, _) = graded.map_err(|e| e.to_string())?;
    assert!(!report.resolved, "{report:?}");
    assert!(
        report.pass_to_pass_failure.contains(&"tests/test_tinycache.py::test_label_many".to_string()),
        "{report:?}"
    );
    assert!(report.fail_to_pass_failure.is_empty(), "{report:?}");
    let (report, _) = fixed.map_err(|e| e.to_string())?;
    assert!(report.resolved, "{report:?}");
    Ok(())
}

/// A suite with a test that fails on about half of its runs (`tests/fixtures/repos/flaky`):
/// with 14 runs of the clean suite it is found known-flaky (all 14 alike: 1 in 8192), shown as
/// such, never PASS_TO_PASS of a validated task, of a graded task or of an exported one (even
/// when a stored task lists it), and never selected to validate a candidate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_that_fails_on_some_runs_is_known_flaky_and_never_pass_to_pass() {
    let engine = Engine::connect("tests").await.expect("a Docker engine must be running (see .ci/run)");
    let dir = tempfile::tempdir().unwrap();
    let (root, head) = repo(dir.path(), "flaky");
    let base = image::bootstrap_base(&engine, &BootstrapConfig::default()).await.expect("base image");
    let cfg =
        EnvConfig { base_image: base, ca_bundle: None, install_timeout_s: 600, test_timeout_s: 600, flaky_reruns: 13 };
    let env = image::build_env(&engine, &root, &head, &cfg).await.expect("the environment builds");
    let result = flaky_checks(&engine, &env, dir.path(), &root, &head).await;
    let _ = engine.remove_image(&env.image).await;
    result.unwrap();
}

async fn flaky_checks(engine: &Engine, env: &Environment, dir: &Path, root: &Path, head: &str) -> Result<(), String> {
    let coin = "tests/test_coinflip.py::test_coin_flip".to_string();
    assert_eq!(env.flaky.keys().collect::<Vec<_>>(), [&coin], "{:?}", env.flaky);
    assert!(env.flaky[&coin].contains("passed") && env.flaky[&coin].contains("failed"), "{:?}", env.flaky);
    assert_eq!(env.passing().len(), 5, "{:?}", env.clean);
    assert!(!env.passing().contains(&coin));

    // A bug in `label`, which the flaky test also executes: the test is neither selected nor
    // PASS_TO_PASS.
    let lib = "coinflip/__init__.py";
    let clean = std::fs::read_to_string(root.join(lib)).unwrap();
    let bug = patch(lib, &clean, &clean.replacen("\"%d items\"", "\"%d item\"", 1));
    let c = candidate(head, root, bug, 14);
    let c = Task { site: Site { file: lib.into(), scope: "label".into(), ..c.site }, enclosing: "label".into(), ..c };
    let mut verdicts = Vec::new();
    let cfg = ValidateConfig { workers: 1, timeout_s: 30.0, ..Default::default() };
    validate_all(engine, env, vec![c], &cfg, |t, v| verdicts.push((t, v))).await.map_err(|e| e.to_string())?;
    let (task, verdict) = verdicts.pop().expect("one verdict");
    assert!(verdict.is_valid(), "{verdict:?}");
    let mut f2p = task.fail_to_pass.clone();
    f2p.sort();
    assert_eq!(f2p, ["tests/test_coinflip.py::test_label", "tests/test_coinflip.py::test_label_zero"]);
    assert_eq!(task.pass_to_pass.len(), 3, "{:?}", task.pass_to_pass);
    assert!(!task.pass_to_pass.contains(&coin) && !verdict.pass_to_pass.contains(&coin));

    // A task stored before the test was known flaky: grading and exports leave it out.
    let old = Task { pass_to_pass: [task.pass_to_pass.clone(), vec![coin.clone()]].concat(), ..task.clone() };
    assert!(!socratic::engine::grade::whole_suite(&old, env).pass_to_pass.contains(&coin));
    let home = dir.join("home");
    let mut store = socratic::store::Store::open(&home).map_err(|e| e.to_string())?;
    store.save_environment(env).map_err(|e| e.to_string())?;
    let exported = socratic::export::prepare(&store, &[old]).map_err(|e| e.to_string())?;
    assert_eq!(exported[0].task.pass_to_pass, task.pass_to_pass);
    let row = socratic::export::swebench::row(&exported[0], head);
    assert!(!row.pass_to_pass.contains("test_coin_flip"), "{}", row.pass_to_pass);
    Ok(())
}

/// packaging: tens of thousands of parametrized tests make per-test coverage contexts cost
/// about ten times the suite (`tests/fixtures/repos/many_tests` collects 10002, over
/// `image::MAX_CONTEXT_TESTS`): the build measures executed lines only and says so, and a
/// candidate inside a function is validated on its module's tests (`_grid.py` →
/// `tests/test_grid.py`), not rejected as uncovered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suite_too_large_for_per_test_contexts_gets_executed_lines_and_module_tests() {
    let engine = Engine::connect("tests").await.expect("a Docker engine must be running (see .ci/run)");
    let dir = tempfile::tempdir().unwrap();
    let (root, head) = repo(dir.path(), "many_tests");
    let env = build(&engine, &root, &head).await.expect("the environment builds");
    let result = many_tests_checks(&engine, &env, &root, &head).await;
    let _ = engine.remove_image(&env.image).await;
    result.unwrap();
}

async fn many_tests_checks(engine: &Engine, env: &Environment, root: &Path, head: &str) -> Result<(), String> {
    all_pass(env, "many_tests");
    assert_eq!(env.clean.len(), 10002);
    let note = env.coverage_note.as_deref().unwrap_or_default();
    assert!(note.contains("10002 tests collected") && note.contains("executed lines only"), "{note:?}");
    let lib = "manygrid/_grid.py";
    let lines = &env.coverage[lib];
    assert!(lines.contains_key(&3) && lines.contains_key(&10), "{lines:?}");
    assert!(lines.values().all(|tests| tests.is_empty()), "no per-test contexts: {lines:?}");

    // A bug in `row_label` (executed, no per-test context): the module's 10002 tests run, one
    // fails.
    let clean = std::fs::read_to_string(root.join(lib)).unwrap();
    let bug = patch(lib, &clean, &clean.replacen("\"row %d\" % row", "\"row %d\" % -row", 1));
    let c = candidate(head, root, bug, 10);
    let c = Task {
        site: Site { file: lib.into(), scope: "row_label".into(), ..c.site },
        enclosing: "row_label".into(),
        ..c
    };
    match socratic::validate::select_tests(env, &c) {
        socratic::validate::Selection::ModuleTests(tests) => assert_eq!(tests.len(), 10002),
        other => panic!("expected the module's tests, got {other:?}"),
    }
    let mut verdicts = Vec::new();
    let cfg = ValidateConfig { workers: 1, timeout_s: 300.0, ..Default::default() };
    validate_all(engine, env, vec![c], &cfg, |t, v| verdicts.push((t, v))).await.map_err(|e| e.to_string())?;
    let (task, verdict) = verdicts.pop().expect("one verdict");
    assert!(verdict.is_valid(), "{verdict:?}");
    assert_eq!(task.fail_to_pass, ["tests/test_grid.py::test_row_label"]);
    assert_eq!(task.pass_to_pass.len(), 10001);
    Ok(())
}

/// pyparsing: a helper that hundreds of slow tests execute: their clean time exceeds the
/// validation cap, so every candidate there timed out and was rejected at `execution`
/// (`tests/fixtures/repos/slow_suite`: six tests of 0.25 s against a cap of 1 s). The cap
/// leaves at least three times the selection's clean time: the candidate is valid.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_selection_slower_than_the_cap_is_not_timed_out() {
    let engine = Engine::connect("tests").await.expect("a Docker engine must be running (see .ci/run)");
    let dir = tempfile::tempdir().unwrap();
    let (root, head) = repo(dir.path(), "slow_suite");
    let env = build(&engine, &root, &head).await.expect("the environment builds");
    let result = slow_suite_checks(&engine, &env, &root, &head).await;
    let _ = engine.remove_image(&env.image).await;
    result.unwrap();
}

async fn slow_suite_checks(engine: &Engine, env: &Environment, root: &Path, head: &str) -> Result<(), String> {
    all_pass(env, "slow_suite");
    let lib = "slowpkg/__init__.py";
    let clean = std::fs::read_to_string(root.join(lib)).unwrap();
    let bug = patch(lib, &clean, &clean.replacen("return value * factor", "return value + factor", 1));
    let c = candidate(head, root, bug, 7);
    let c = Task { site: Site { file: lib.into(), scope: "scale".into(), ..c.site }, enclosing: "scale".into(), ..c };
    let selected = socratic::validate::select_tests(env, &c).tests().to_vec();
    let clean_s: f64 = selected.iter().filter_map(|t| env.durations.get(t)).sum();
    assert!(selected.len() == 6 && clean_s > 1.4, "{selected:?} took {clean_s} s");
    let mut verdicts = Vec::new();
    let cfg = ValidateConfig { workers: 1, timeout_s: 1.0, ..Default::default() };
    validate_all(engine, env, vec![c], &cfg, |t, v| verdicts.push((t, v))).await.map_err(|e| e.to_string())?;
    let (task, verdict) = verdicts.pop().expect("one verdict");
    assert!(verdict.is_valid(), "{verdict:?}");
    // n + 3 differs from 3 * n for every n of the six cases.
    assert_eq!(task.fail_to_pass.len(), 6, "{:?}", task.fail_to_pass);
    Ok(())
}
