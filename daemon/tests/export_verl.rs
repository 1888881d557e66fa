//! `socratic export --format verl` and the verl reward module against a live `socratic serve`:
//! the example repository validated in containers, the Parquet file read by pyarrow, and
//! `integrations/verl/socratic_reward.py`'s `compute_score` called for every row with the gold
//! patch (reward 1.0), an answer without a patch and a patch that does not apply (0.0), through
//! its own HTTP requests. verl itself is not needed.
//!
//! Needs a running Docker engine, the base image (`.ci/run` provides both) and pip reaching
//! PyPI the first time (pyarrow is installed into a venv under the target folder); never skips.

use serde_json::Value;
use socratic::sandbox::Engine;
use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
#[path = "common/serve.rs"]
mod serve_support;

const CHECK_PY: &str = r#"
import json, sys
import pyarrow.parquet as pq
sys.path.insert(0, sys.argv[1])
import socratic_reward

rows = pq.read_table(sys.argv[2]).to_pylist()
golds = json.load(open(sys.argv[3]))
out = []
for row in rows:
    truth = row["reward_model"]["ground_truth"]
    score = lambda answer: socratic_reward.compute_score(row["data_source"], answer, truth, row["extra_info"])
    out.append({
        "instance_id": truth,
        "style": row["reward_model"]["style"],
        "data_source": row["data_source"],
        "ability": row["ability"],
        "roles": [m["role"] for m in row["prompt"]],
        "user": row["prompt"][-1]["content"],
        "extra_info": row["extra_info"],
        "gold": score("The fix:\n```diff\n" + golds[truth] + "```\n"),
        "bare_gold": score(golds[truth]),
        "no_patch": score("I could not find the bug."),
        "not_applying": score("```diff\n--- a/nowhere.py\n+++ b/nowhere.py\n@@ -1 +1 @@\n-x\n+y\n```"),
    })
print(json.dumps(out))
"#;

/// A Python with pyarrow: a venv kept under the target folder, made the first time.
fn python_with_pyarrow() -> PathBuf {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("venv-pyarrow");
    let python = venv.join("bin/python");
    let ok =
        |p: &Path| Command::new(p).args(["-c", "import pyarrow.parquet"]).output().is_ok_and(|o| o.status.success());
    if !ok(&python) {
        let made = Command::new("python3").arg("-m").arg("venv").arg(&venv).output().expect("python3");
        assert!(made.status.success(), "python3 -m venv: {}", String::from_utf8_lossy(&made.stderr));
        let pip = Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", "pyarrow"])
            .output()
            .expect("pip");
        assert!(pip.status.success(), "pip install pyarrow: {}", String::from_utf8_lossy(&pip.stderr));
    }
    assert!(ok(&python), "pyarrow did not install into {}", venv.display());
    python
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verl_rows_score_one_with_gold_and_zero_without_a_fix() {
    let engine = Engine::connect("tests").await.expect("a Docker engine must be running (see .ci/run)");
    let dir = tempfile::tempdir().unwrap();
    let example = common::validated_example_home(dir.path(), &engine, 8, 3).await;
    let home = example.home.clone();
    let work = dir.path().to_path_buf();
    tokio::task::spawn_blocking(move || checks(&home, &work)).await.unwrap();
}

fn checks(home: &Path, work: &Path) {
    let out = work.join("tasks.parquet");
    let export = common::socratic(home, &["export", "--format", "verl", out.to_str().unwrap(), "--valid", "--json"]);
    assert_eq!(export.status.code(), Some(0), "{}", String::from_utf8_lossy(&export.stderr));
    let summary = common::stdout_json(&export);
    let exported: Vec<String> =
        summary["exported"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    assert!(exported.len() >= 2, "{summary}");

    let store = socratic::store::Store::open(home).unwrap();
    let golds: serde_json::Map<String, Value> = store
        .tasks()
        .unwrap()
        .iter()
        .map(|t| (socratic::export::instance_id_of(t), Value::from(socratic::diff::reverse(&t.bug_patch).unwrap())))
        .collect();
    drop(store);
    let golds_file = work.join("golds.json");
    std::fs::write(&golds_file, Value::Object(golds).to_string()).unwrap();

    let python = python_with_pyarrow();
    let server = serve_support::Server::start(home, &["--workers", "2"]);
    let module_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../integrations/verl");
    let run = Command::new(&python)
        .args(["-c", CHECK_PY])
        .arg(&module_dir)
        .arg(&out)
        .arg(&golds_file)
        .env("SOCRATIC_SERVE_URL", &server.base)
        .env("SOCRATIC_SERVE_TOKEN_FILE", home.join("serve.token"))
        .env_remove("SOCRATIC_SERVE_TOKEN")
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let rows: Vec<Value> = serde_json::from_slice::<Value>(&run.stdout).unwrap().as_array().unwrap().clone();
    let ids: Vec<&str> = rows.iter().map(|r| r["instance_id"].as_str().unwrap()).collect();
    assert_eq!(ids, exported.iter().map(String::as_str).collect::<Vec<_>>(), "one row per exported task, in order");
    for (i, r) in rows.iter().enumerate() {
        assert_eq!((r["gold"].as_f64(), r["bare_gold"].as_f64()), (Some(1.0), Some(1.0)), "{r}");
        assert_eq!((r["no_patch"].as_f64(), r["not_applying"].as_f64()), (Some(0.0), Some(0.0)), "{r}");
        assert_eq!(r["style"], "rule");
        assert_eq!(r["ability"], "code-repair");
        assert_eq!(r["data_source"], "socratic/tallyho");
        assert_eq!(r["roles"], serde_json::json!(["system", "user"]), "the prompt stops before the answer");
        assert!(r["user"].as_str().unwrap().contains("File: "), "{r}");
        assert_eq!(r["extra_info"]["index"], i as u64);
        assert_eq!(r["extra_info"]["instance_id"], r["instance_id"]);
        assert_eq!(r["extra_info"]["split"], "train");
    }
    // Three grades per row (two gold, one without a patch); the patch that does not apply was
    // refused with 422 before grading.
    let m = server.metrics();
    let graded: f64 = ["resolved", "partial", "unresolved", "no-patch"]
        .iter()
        .map(|o| m[&format!("socratic_grades_total{{outcome=\"{o}\"}}")])
        .sum();
    assert_eq!(graded, 3.0 * rows.len() as f64, "{m:?}");
    assert!(server.stop().success());
}
