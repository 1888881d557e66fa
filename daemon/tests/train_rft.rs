//! `socratic train --method rft` end to end: trajectories imported with the real importers (a
//! mini-swe-agent trajectory keeps its conversation), labelled resolved by a SWE-bench report,
//! trained on with the real binary on a tiny random model; `--merge` writes a plain model folder
//! that `model logits` loads.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
use common::{socratic, stdout_json};

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/traces").join(rel)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn ok_json(out: &Output) -> Value {
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(out));
    stdout_json(out)
}

/// A per-instance SWE-bench report saying `instance` is resolved.
fn resolved_report(dir: &Path, instance: &str) -> PathBuf {
    let folder = dir.join("logs").join(instance);
    std::fs::create_dir_all(&folder).unwrap();
    let report = serde_json::json!({instance: {
        "patch_is_None": false, "patch_exists": true, "patch_successfully_applied": true, "resolved": true,
        "tests_status": {"FAIL_TO_PASS": {"success": ["tests/test_size.py::test_resize"], "failure": []},
                         "PASS_TO_PASS": {"success": [], "failure": []}}}});
    std::fs::write(folder.join("report.json"), report.to_string()).unwrap();
    dir.join("logs")
}

fn rft_args<'a>(model: &'a str, out: &'a str) -> Vec<&'a str> {
    vec![
        "train",
        "--method",
        "rft",
        "--model",
        model,
        "--adapter-out",
        out,
        "--steps",
        "3",
        "--max-len",
        "512",
        "--json",
    ]
}

#[test]
fn resolved_trajectories_train_on_their_conversations_and_merge() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let model = dir.path().join("model");
    assert!(socratic(&home, &["model", "tiny", model.to_str().unwrap()]).status.success());
    let m = model.to_str().unwrap();

    // Nothing resolved yet: a clear error, nothing written.
    let out = dir.path().join("adapter");
    let e = socratic(&home, &rft_args(m, out.to_str().unwrap()));
    assert_eq!(e.status.code(), Some(1), "{}", stderr(&e));
    assert!(stderr(&e).contains("no resolved attempts"), "{}", stderr(&e));
    assert!(!out.exists());

    // The trajectory keeps its conversation at import; a report marks it resolved. A prediction
    // (no conversation, no problem statement stored) is resolved too and is left out, said why.
    let imported = socratic(
        &home,
        &[
            "traces",
            "import",
            fixture("mini-swe-agent/patched_acme__widgets-13.traj.json").to_str().unwrap(),
            fixture("predictions/all_preds_toy.jsonl").to_str().unwrap(),
            resolved_report(dir.path(), "acme__widgets-13").to_str().unwrap(),
            resolved_report(dir.path(), "toy__calc-9").to_str().unwrap(),
        ],
    );
    assert!(imported.status.success(), "{}", stderr(&imported));
    let listed = ok_json(&socratic(&home, &["traces", "list", "--json"]));
    let rows = listed.as_array().or_else(|| listed["traces"].as_array()).expect("trace list").clone();
    let traj = rows.iter().find(|t| t.to_string().contains("acme__widgets-13")).expect("the trajectory");
    let id = traj["id"].as_str().unwrap();
    let shown = ok_json(&socratic(&home, &["traces", "show", id, "--json"]));
    let messages = shown["messages"].as_array().expect("messages stored with the trace");
    assert_eq!(messages.len(), 8, "{shown}");
    assert_eq!(messages[2]["role"], "assistant");
    assert!(messages[2]["content"].as_str().unwrap().contains("grep -rn \"def resize\" widgets"));

    let run = socratic(&home, &rft_args(m, out.to_str().unwrap()));
    let summary = ok_json(&run);
    assert_eq!(summary["examples"], 1, "{summary}");
    assert_eq!(summary["conversations"], 1, "{summary}");
    assert_eq!(summary["steps"], 3);
    let left: &Vec<Value> = summary["left_out_traces"].as_array().expect("left out");
    assert_eq!(left.len(), 1, "{summary}");
    assert!(left[0]["reason"].as_str().unwrap().contains("no stored conversation"), "{summary}");
    assert!(stderr(&run).contains("left out trace"), "{}", stderr(&run));
    let runs = socratic::store::Store::open(&home).unwrap().training_runs().unwrap();
    assert_eq!(runs.last().unwrap().method, "rft");
    assert_eq!(runs.last().unwrap().data_ids, vec![id.to_string()]);

    // --merge: a plain model folder whose logits are the base's with the adapter.
    let merged = dir.path().join("merged");
    let out2 = dir.path().join("adapter2");
    let mut args = rft_args(m, out2.to_str().unwrap());
    args.extend(["--merge", merged.to_str().unwrap(), "--lr", "1e-2"]);
    let summary = ok_json(&socratic(&home, &args));
    assert_eq!(summary["merged_dir"], merged.to_str().unwrap());
    let ids = "100,101,102,103,104";
    let logits = |model: &Path, adapter: Option<&Path>| -> Vec<f64> {
        let mut a = vec!["model", "logits", "--model", model.to_str().unwrap(), "--ids", ids, "--json"];
        if let Some(ad) = adapter {
            a.extend(["--adapter", ad.to_str().unwrap()]);
        }
        let v = ok_json(&socratic(&home, &a));
        v["logits"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
    };
    let (adapted, plain, base) = (logits(&model, Some(&out2)), logits(&merged, None), logits(&model, None));
    let max_diff = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(a, b)| (a - b).abs()).fold(0f64, f64::max);
    assert!(max_diff(&adapted, &base) > 1e-4, "training changed the model");
    assert!(max_diff(&adapted, &plain) <= 1e-5, "merged vs base + adapter: {}", max_diff(&adapted, &plain));
}

#[test]
fn bf16_on_the_cpu_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let e = socratic(&home, &["train", "--method", "rft", "--dtype", "bf16", "--device", "cpu"]);
    assert_eq!(e.status.code(), Some(2), "{}", stderr(&e));
    assert!(stderr(&e).contains("bf16 is only supported with --device cuda"), "{}", stderr(&e));
    let e = socratic(&home, &["train", "--dtype", "f16"]);
    assert_eq!(e.status.code(), Some(2));
    assert!(stderr(&e).contains("unknown --dtype 'f16'"), "{}", stderr(&e));
    let e = socratic(&home, &["train", "--method", "rft", "--data", "x.jsonl"]);
    assert_eq!(e.status.code(), Some(2));
    assert!(stderr(&e).contains("--method rft trains on resolved traces"), "{}", stderr(&e));
}
