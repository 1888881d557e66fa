//! The SWE-bench export run by the real SWE-bench harness: the example repository's environment
//! image is built and generated tasks validated in containers; `socratic export --format
//! swebench --valid` writes the rows and builds their images; then
//! `python -m swebench.harness.run_evaluation` must report every instance resolved with the gold
//! patches, none with empty patches, and none with a patch that applies but fixes nothing.
//!
//! Needs a running engine, the base image (`.ci/run` provides both) and the `swebench` package
//! from PyPI in the Python named by `SWEBENCH_PYTHON` (else `python3`); without them this test
//! fails: it never skips. `bench/swebench_harness_check.sh` does the same on the demo's
//! curriculum.

use serde_json::Value;
use socratic::sandbox::Engine;
use std::path::Path;
use std::process::Command;

mod common;

/// A patch that applies to any tree and fixes nothing.
const NOOP_PATCH: &str = "diff --git a/SOCRATIC_NOTE.md b/SOCRATIC_NOTE.md\nnew file mode 100644\n--- /dev/null\n+++ b/SOCRATIC_NOTE.md\n@@ -0,0 +1 @@\n+not a fix\n";

fn python() -> String {
    let python = std::env::var("SWEBENCH_PYTHON").unwrap_or_else(|_| "python3".into());
    let probe = Command::new(&python).args(["-c", "import swebench.harness.run_evaluation"]).output();
    assert!(
        probe.as_ref().is_ok_and(|o| o.status.success()),
        "the SWE-bench harness is needed: `python3 -m venv VENV && VENV/bin/pip install swebench`, then \
         SWEBENCH_PYTHON=VENV/bin/python ({python}: {})",
        probe.map(|o| String::from_utf8_lossy(&o.stderr).to_string()).unwrap_or_else(|e| e.to_string())
    );
    python
}

/// Run the harness on `dataset` with `predictions` (`gold` or a file); the run's report.
fn harness(python: &str, work: &Path, dataset: &Path, predictions: &str, name: &str) -> Value {
    let out = Command::new(python)
        .current_dir(work)
        .args(["-m", "swebench.harness.run_evaluation", "-d"])
        .arg(dataset)
        .args(["-p", predictions, "-id", &format!("socratic-{name}"), "--max_workers", "2", "--timeout", "300"])
        .args(["--report_dir", "reports"])
        .output()
        .expect("run the harness");
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "harness {name}: {log}");
    let model = if predictions == "gold" { "gold" } else { name };
    let report = work.join("reports").join(format!("{model}.socratic-{name}.json"));
    let text = std::fs::read_to_string(&report).unwrap_or_else(|e| panic!("{}: {e}; log: {log}", report.display()));
    serde_json::from_str(&text).unwrap()
}

fn predictions(path: &Path, rows: &[Value], name: &str, patch: &str) {
    let lines: Vec<String> = rows
        .iter()
        .map(|r| {
            serde_json::json!({"instance_id": r["instance_id"], "model_name_or_path": name, "model_patch": patch})
                .to_string()
        })
        .collect();
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_swebench_harness_resolves_gold_and_nothing_else() {
    let python = python();
    let engine = Engine::connect("tests").await.expect("a Docker engine must be running (see .ci/run)");
    let dir = tempfile::tempdir().unwrap();
    let common::ValidatedExample { home, env, valid, .. } =
        common::validated_example_home(dir.path(), &engine, 6, 5).await;

    let dataset = dir.path().join("tasks.jsonl");
    let export = Command::new(env!("CARGO_BIN_EXE_socratic"))
        .arg("--home")
        .arg(&home)
        .args(["export", "--format", "swebench", dataset.to_str().unwrap(), "--valid", "--json"])
        .output()
        .unwrap();
    assert_eq!(export.status.code(), Some(0), "{}", String::from_utf8_lossy(&export.stderr));
    let summary: Value = serde_json::from_slice(&export.stdout).unwrap();
    let rows: Vec<Value> =
        std::fs::read_to_string(&dataset).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), valid);
    let images: Vec<String> = rows.iter().map(|r| r["image"].as_str().unwrap().to_string()).collect();
    assert_eq!(summary["images"], serde_json::json!(images));

    let gold = harness(&python, dir.path(), &dataset, "gold", "gold");
    predictions(&dir.path().join("empty.jsonl"), &rows, "empty", "");
    let empty = harness(&python, dir.path(), &dataset, dir.path().join("empty.jsonl").to_str().unwrap(), "empty");
    predictions(&dir.path().join("noop.jsonl"), &rows, "noop", NOOP_PATCH);
    let noop = harness(&python, dir.path(), &dataset, dir.path().join("noop.jsonl").to_str().unwrap(), "noop");

    for image in images.iter().chain([&env.image]) {
        engine.remove_image(image).await.unwrap();
    }
    let counts = |r: &Value| (r["resolved_instances"].as_u64(), r["error_instances"].as_u64());
    assert_eq!(counts(&gold), (Some(valid as u64), Some(0)), "gold: {gold:#}");
    assert_eq!(empty["resolved_instances"], 0, "empty: {empty:#}");
    assert_eq!(empty["empty_patch_instances"], valid as u64, "empty: {empty:#}");
    assert_eq!(counts(&noop), (Some(0), Some(0)), "no-op: {noop:#}");
    assert_eq!(noop["unresolved_instances"], valid as u64, "no-op: {noop:#}");
}
