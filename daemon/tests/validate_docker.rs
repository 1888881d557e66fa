//! Validation against a real Docker engine: build a repository's environment image, then put
//! hand-made candidates through the stages with warm workers and in strict mode.
//!
//! Needs a running engine and the base image (`socratic env bootstrap`; `.ci/run` does both).
//! Without an engine this test fails: it never skips.

use socratic::model::Environment;
use socratic::model::TestStatus;
use socratic::model::VerdictOutcome;
use socratic::model::{Task, TaskStage, Verdict};
use socratic::sandbox::image::{self, BootstrapConfig, EnvConfig};
use socratic::sandbox::worker::{RunRequest, RunResponse, Worker};
use socratic::sandbox::{Engine, Limits};
use socratic::validate::run::{run_candidate, validate_all, Stage, ValidateConfig};
use std::collections::BTreeMap;
use std::path::Path;

mod common;
use common::{candidate_task, commit_all, file_patch, CandidateSite};

const CALC: &str = r#"def clamp(value, low, high):
    if value < low:
        return low
    if value > high:
        return high
    return value


def mean(values):
    if not values:
        return None
    return sum(values) / len(values)


def spin(n):
    total = 0
    i = 0
    while i < n:
        total += i
        i += 1
    return total


def unused(x):
    return x * 2
"#;

const TESTS: &str = r#"from pkg.calc import clamp, mean, spin


def test_clamp_low():
    assert clamp(-5, 0, 10) == 0


def test_clamp_high():
    assert clamp(50, 0, 10) == 10


def test_clamp_inside():
    assert clamp(5, 0, 10) == 5


def test_mean():
    assert mean([1, 2, 3]) == 2


def test_mean_empty():
    assert mean([]) is None


def test_spin():
    assert spin(4) == 6
"#;

const WRITES: &str = r#"import os


def test_no_scratch():
    assert not os.path.exists("scratch.txt")


def test_writes_scratch():
    with open("scratch.txt", "w") as f:
        f.write("left behind")
"#;

fn candidate(name: &str, line: usize, scope: &str, bug_patch: String) -> Task {
    candidate_task("calc", "head", &CandidateSite { file: "pkg/calc.py", line, scope, operator: name }, bug_patch)
}

fn candidates() -> Vec<Task> {
    let f = "pkg/calc.py";
    vec![
        candidate("flip", 1, "clamp", file_patch(f, CALC, &CALC.replacen("value < low", "value > low", 1))),
        candidate("bound", 4, "clamp", file_patch(f, CALC, &CALC.replacen("value > high", "value > high + 100", 1))),
        candidate("uncovered", 23, "unused", file_patch(f, CALC, &CALC.replacen("x * 2", "x * 3", 1))),
        candidate(
            "stale",
            1,
            "clamp",
            file_patch(f, &CALC.replacen("clamp", "clip", 1), &CALC.replacen("clamp", "clop", 1)),
        ),
        candidate(
            "equivalent",
            9,
            "mean",
            file_patch(f, CALC, &CALC.replacen("if not values:", "if len(values) == 0:", 1)),
        ),
        candidate("hang", 17, "spin", file_patch(f, CALC, &CALC.replacen("        i += 1\n", "", 1))),
        candidate("syntax", 1, "clamp", file_patch(f, CALC, &CALC.replacen("if value < low:", "if value < low", 1))),
    ]
}

async fn environment(engine: &Engine, repo: &Path, head: &str) -> Environment {
    let base = image::bootstrap_base(engine, &BootstrapConfig::default()).await.expect("base image");
    let cfg =
        EnvConfig { base_image: base, ca_bundle: None, install_timeout_s: 300, test_timeout_s: 300, flaky_reruns: 1 };
    image::build_env(engine, repo, head, &cfg).await.expect("environment builds")
}

async fn verdicts(engine: &Engine, env: &Environment, strict: bool) -> BTreeMap<String, Verdict> {
    let cfg = ValidateConfig { workers: 2, strict, timeout_s: 5.0, ..Default::default() };
    let mut out = BTreeMap::new();
    validate_all(engine, env, candidates(), &cfg, |task, verdict| {
        out.insert(task.operator.clone(), verdict);
    })
    .await
    .expect("validation runs");
    out
}

fn stage(v: &BTreeMap<String, Verdict>, name: &str) -> Option<String> {
    v[name].rejected_at().map(|s| s.name().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staged_verdicts_in_warm_and_strict_workers() {
    let engine = Engine::connect("tests").await.expect("a Docker engine must be running (see .ci/run)");
    engine.sweep().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("calc");
    std::fs::create_dir_all(repo.join("pkg")).unwrap();
    std::fs::create_dir_all(repo.join("tests")).unwrap();
    std::fs::write(repo.join("pkg/__init__.py"), "").unwrap();
    std::fs::write(repo.join("pkg/calc.py"), CALC).unwrap();
    std::fs::write(repo.join("tests/test_calc.py"), TESTS).unwrap();
    std::fs::write(repo.join("tests/test_writes.py"), WRITES).unwrap();
    let head = commit_all(&repo);

    let env = environment(&engine, &repo, &head).await;
    assert_eq!(env.passing().len(), 8, "clean run: {:?}", env.clean);
    let covered = &env.coverage["pkg/calc.py"];
    assert_eq!(
        covered[&2],
        vec![
            "tests/test_calc.py::test_clamp_high",
            "tests/test_calc.py::test_clamp_inside",
            "tests/test_calc.py::test_clamp_low"
        ]
    );
    assert!(covered.get(&24).is_none_or(|t| t.is_empty()), "unused() is not executed by any test");

    for strict in [false, true] {
        let v = verdicts(&engine, &env, strict).await;
        let flip = &v["flip"];
        assert!(flip.is_valid(), "strict={strict}: {flip:?}");
        assert_eq!(
            flip.fail_to_pass,
            vec![
                "tests/test_calc.py::test_clamp_high",
                "tests/test_calc.py::test_clamp_inside",
                "tests/test_calc.py::test_clamp_low"
            ]
        );
        // PASS_TO_PASS is the whole passing clean suite minus FAIL_TO_PASS (what the SWE-bench
        // harness runs); the reason says how many of them ran with the bug.
        let rest = |f2p: &[String]| env.passing().into_iter().filter(|t| !f2p.contains(t)).collect::<Vec<_>>();
        assert_eq!(flip.pass_to_pass, rest(&flip.fail_to_pass));
        assert!(flip.reason.contains("(0 of them run with the bug)"), "{}", flip.reason);
        let bound = &v["bound"];
        assert!(bound.is_valid(), "strict={strict}: {bound:?}");
        assert_eq!(bound.fail_to_pass, vec!["tests/test_calc.py::test_clamp_high"]);
        assert_eq!(bound.pass_to_pass, rest(&bound.fail_to_pass));
        assert!(
            bound.reason.contains("(1 of them run with the bug)"),
            "only tests reaching line 4 run: {}",
            bound.reason
        );
        assert_eq!(stage(&v, "uncovered").as_deref(), Some("grounding"));
        assert_eq!(stage(&v, "stale").as_deref(), Some("format"));
        assert_eq!(stage(&v, "equivalent").as_deref(), Some("fail-to-pass"));
        assert_eq!(stage(&v, "hang").as_deref(), Some("execution"), "{:?}", v["hang"]);
        assert_eq!(stage(&v, "syntax").as_deref(), Some("execution"), "{:?}", v["syntax"]);
    }

    // A worker whose container dies under a candidate says nothing about it: a retry verdict,
    // the task stays a candidate, and the worker is reported unusable.
    let mut worker = Worker::start(&engine, &env.image, &Limits::default(), &env.run_env()).await.unwrap();
    let killed = std::process::Command::new("docker").args(["kill", worker.container_id().unwrap()]).output().unwrap();
    assert!(killed.status.success(), "{}", String::from_utf8_lossy(&killed.stderr));
    let flip = candidates().remove(0);
    let (outcome, healthy) = run_candidate(&mut worker, &env, flip, &ValidateConfig::default()).await;
    assert!(!healthy, "a dead worker is not reused");
    match outcome {
        Stage::Decided(task, verdict) => {
            assert_eq!(verdict.outcome, VerdictOutcome::Retry, "{verdict:?}");
            assert_eq!(task.stage, TaskStage::Candidate);
        }
        Stage::AwaitingRecheck(_) => panic!("a dead worker produced test results"),
    }
    let _ = worker.shutdown().await;
    engine.remove_image(&env.image).await.unwrap();
}

fn request(id: &str, patch: &str, tests: &[&str]) -> RunRequest {
    RunRequest {
        id: id.into(),
        patch: patch.into(),
        tests: tests.iter().map(|t| t.to_string()).collect(),
        timeout: 10.0,
        keep: false,
        cold: false,
    }
}

fn status(r: &RunResponse, test: &str) -> Option<TestStatus> {
    r.results().get(test).map(|t| t.status)
}

/// The worker API directly: results by node id, the hot and cold paths, `keep`, a patch that
/// adds a test file, and a tree put back after tests wrote into it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_runs_requests_and_restores_the_tree() {
    let engine = Engine::connect("tests").await.expect("a Docker engine must be running (see .ci/run)");
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("calcw");
    std::fs::create_dir_all(repo.join("pkg")).unwrap();
    std::fs::create_dir_all(repo.join("tests")).unwrap();
    std::fs::write(repo.join("pkg/__init__.py"), "").unwrap();
    std::fs::write(repo.join("pkg/calc.py"), CALC).unwrap();
    std::fs::write(repo.join("tests/test_calc.py"), TESTS).unwrap();
    std::fs::write(repo.join("tests/test_writes.py"), WRITES).unwrap();
    std::fs::write(repo.join("pkg/last.py"), "def last():\r\n    return 1").unwrap();
    std::fs::write(
        repo.join("tests/test_last.py"),
        "from pkg.last import last\n\n\ndef test_last():\n    assert last() == 1\n",
    )
    .unwrap();
    let head = commit_all(&repo);
    let env = environment(&engine, &repo, &head).await;
    let mut w = Worker::start(&engine, &env.image, &Limits::default(), &env.run_env()).await.expect("worker starts");

    let low = "tests/test_calc.py::test_clamp_low";
    let flip = file_patch("pkg/calc.py", CALC, &CALC.replacen("value < low", "value > low", 1));
    let r = w.run(&request("hot", &flip, &[low, "tests/test_calc.py::test_mean"])).await.unwrap();
    assert_eq!((r.stage.as_str(), r.mode.as_str()), ("done", "hot"), "{r:?}");
    assert_eq!(status(&r, low), Some(TestStatus::Failed));
    assert!(r.results()[low].message.contains("assert"), "{:?}", r.results()[low]);
    assert_eq!(status(&r, "tests/test_calc.py::test_mean"), Some(TestStatus::Passed));
    assert_eq!(r.results().len(), 2, "only the selected tests run");

    let cold = w.run(&RunRequest { cold: true, ..request("cold", &flip, &[low]) }).await.unwrap();
    assert_eq!((cold.mode.as_str(), status(&cold, low)), ("cold", Some(TestStatus::Failed)), "{cold:?}");
    let clean = w.run(&request("clean", "", &[low])).await.unwrap();
    assert_eq!(status(&clean, low), Some(TestStatus::Passed), "the tree and the code are back to HEAD: {clean:?}");

    // keep: the patch stays applied until a request that does not keep.
    w.run(&RunRequest { keep: true, ..request("keep", &flip, &[]) }).await.unwrap();
    let kept = w.run(&request("after-keep", "", &[low])).await.unwrap();
    assert_eq!(status(&kept, low), Some(TestStatus::Failed), "{kept:?}");
    let reset = w.run(&request("reset", "", &[low])).await.unwrap();
    assert_eq!(status(&reset, low), Some(TestStatus::Passed), "{reset:?}");

    // A test that writes into the repository: the next run sees a clean tree.
    let wrote = w.run(&request("writes", "", &["tests/test_writes.py::test_writes_scratch"])).await.unwrap();
    assert_eq!(status(&wrote, "tests/test_writes.py::test_writes_scratch"), Some(TestStatus::Passed));
    let after = w.run(&request("after-writes", "", &["tests/test_writes.py::test_no_scratch"])).await.unwrap();
    assert_eq!(status(&after, "tests/test_writes.py::test_no_scratch"), Some(TestStatus::Passed), "{after:?}");

    // A patch adding a test file: collected from disk (cold), removed afterwards.
    let added = "diff --git a/tests/test_added.py b/tests/test_added.py\nnew file mode 100644\n--- /dev/null\n+++ b/tests/test_added.py\n@@ -0,0 +1,5 @@\n+from pkg.calc import clamp\n+\n+\n+def test_added():\n+    assert clamp(3, 0, 2) == 2\n";
    let new = w.run(&request("added", added, &["tests/test_added.py::test_added"])).await.unwrap();
    assert_eq!(
        (new.mode.as_str(), status(&new, "tests/test_added.py::test_added")),
        ("cold", Some(TestStatus::Passed)),
        "{new:?}"
    );
    let gone = w
        .run(&RunRequest { cold: true, ..request("gone", "", &["tests/test_added.py::test_added", low]) })
        .await
        .unwrap();
    assert_eq!(status(&gone, "tests/test_added.py::test_added"), None, "{gone:?}");
    assert_eq!(status(&gone, low), Some(TestStatus::Passed));

    // CRLF line ends and no newline at the end of the file, and two hunks in one file.
    let last = "diff --git a/pkg/last.py b/pkg/last.py\n--- a/pkg/last.py\n+++ b/pkg/last.py\n@@ -1,2 +1,2 @@\n def last():\r\n-    return 1\n\\ No newline at end of file\n+    return 2\n\\ No newline at end of file\n";
    let r = w.run(&request("no-newline", last, &["tests/test_last.py::test_last"])).await.unwrap();
    assert_eq!(
        (r.mode.as_str(), status(&r, "tests/test_last.py::test_last")),
        ("hot", Some(TestStatus::Failed)),
        "{r:?}"
    );
    let both = CALC.replacen("value < low", "value > low", 1).replacen("total += i", "total -= i", 1);
    let two = file_patch("pkg/calc.py", CALC, &both);
    assert_eq!(two.matches("\n@@ ").count(), 2, "{two}");
    let r = w
        .run(&request("two-hunks", &two, &[low, "tests/test_calc.py::test_spin", "tests/test_calc.py::test_mean"]))
        .await
        .unwrap();
    assert_eq!(r.mode, "hot", "{r:?}");
    assert_eq!(
        (status(&r, low), status(&r, "tests/test_calc.py::test_spin"), status(&r, "tests/test_calc.py::test_mean")),
        (Some(TestStatus::Failed), Some(TestStatus::Failed), Some(TestStatus::Passed))
    );
    let r = w
        .run(&request("after-two", "", &["tests/test_last.py::test_last", "tests/test_calc.py::test_spin"]))
        .await
        .unwrap();
    assert!(r.results().values().all(|t| t.status == TestStatus::Passed) && r.results().len() == 2, "{r:?}");

    // A patch that does not apply, then the whole suite.
    let stale = w.run(&request("stale", &file_patch("pkg/calc.py", "x = 1\n", "x = 2\n"), &[low])).await.unwrap();
    assert_eq!(stale.stage, "apply", "{stale:?}");
    let all = w.run(&request("all", "", &[])).await.unwrap();
    assert_eq!(all.results().len(), 9, "{all:?}");
    assert!(all.results().values().all(|t| t.status == TestStatus::Passed), "{all:?}");
    w.shutdown().await.unwrap();
    engine.remove_image(&env.image).await.unwrap();
}
