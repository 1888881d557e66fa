//! `socratic train` end to end: the real binary on a tiny random model, with examples from a
//! chat JSON Lines file or from a finished round's curriculum of real tasks in a real git
//! repository (the example repository; verdicts written with the store API, as in
//! `tests/export.rs`). A run killed with SIGKILL twice and resumed ends with the same adapter
//! bytes as an uninterrupted one; `export --format sft` rows are chat rows; `tasks score
//! --adapter` scores with the trained adapter.

use serde_json::Value;
use socratic::model::{Round, RoundInputs, RoundStep, Task, TaskStage, Verdict, VerdictOutcome};
use socratic::store::Store;
use socratic::tasks::{generate, GenerateConfig};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

mod common;
use common::{commit_all, copy_dir, example_repo_source, socratic, socratic_cmd, stdout_json};

fn ok_json(out: &Output) -> Value {
    assert_eq!(out.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    stdout_json(out)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn tiny_model(dir: &Path) -> PathBuf {
    let model = dir.join("model");
    let out = socratic(&dir.join("home"), &["model", "tiny", model.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    model
}

/// Eight chat rows, short enough that a run takes a few seconds.
fn data_file(dir: &Path) -> PathBuf {
    let rows: String = (0..8)
        .map(|i| {
            serde_json::json!({"id": format!("ex{i}"), "messages": [
                {"role": "system", "content": "Fix the bug."},
                {"role": "user", "content": format!("f{i} returns x + {i}; it should return x - {i}.")},
                {"role": "assistant", "content": format!("-    return x + {i}\n+    return x - {i}\n")},
            ]})
            .to_string()
                + "\n"
        })
        .collect();
    let path = dir.join("data.jsonl");
    std::fs::write(&path, rows).unwrap();
    path
}

fn train_args<'a>(model: &'a str, data: &'a str, out: &'a str) -> Vec<&'a str> {
    vec![
        "train",
        "--model",
        model,
        "--data",
        data,
        "--adapter-out",
        out,
        "--steps",
        "120",
        "--batch",
        "2",
        "--grad-accum",
        "2",
        "--lr",
        "5e-3",
        "--checkpoint-every",
        "3",
        "--seed",
        "7",
        "--json",
    ]
}

/// Start the run, wait until its checkpoint has passed `step`, SIGKILL it; returns the step of
/// the checkpoint left behind.
fn kill_after(home: &Path, args: &[&str], out: &Path, step: usize) -> usize {
    let mut child = socratic_cmd(home, args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let started = Instant::now();
    loop {
        if let Some(state) = socratic::train::checkpoint::read_state(out).expect("read checkpoint") {
            if state.step >= step {
                break;
            }
        }
        if let Some(status) = child.try_wait().expect("wait") {
            panic!("the run ended ({status}) before step {step}; make it longer");
        }
        assert!(started.elapsed() < Duration::from_secs(120), "no checkpoint at step {step}");
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    socratic::train::checkpoint::read_state(out).expect("read").expect("a checkpoint stays").step
}

#[test]
fn a_run_killed_twice_and_resumed_ends_with_the_same_adapter_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let model = tiny_model(dir.path());
    let data = data_file(dir.path());
    let (m, d) = (model.to_str().unwrap(), data.to_str().unwrap());
    let straight = dir.path().join("straight");
    let summary = ok_json(&socratic(&home, &train_args(m, d, straight.to_str().unwrap())));
    assert_eq!(summary["steps"], 120);
    assert!(summary["last_loss"].as_f64().unwrap() < summary["first_loss"].as_f64().unwrap());
    assert!(!straight.join("checkpoint.safetensors").exists(), "a finished run leaves no checkpoint");

    let killed = dir.path().join("killed");
    let args = train_args(m, d, killed.to_str().unwrap());
    // "Random" kill points, different every run, both before the end.
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() as usize;
    let first = kill_after(&home, &args, &killed, 6 + nanos % 30);
    let mut resume = args.clone();
    resume.push("--resume");
    // Without --resume the checkpoint is not thrown away.
    let refused = socratic(&home, &args);
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("pass --resume"), "{}", stderr(&refused));
    let second = kill_after(&home, &resume, &killed, first + 3 + nanos % 40);
    assert!(second > first, "{first} then {second}");
    let resumed = ok_json(&socratic(&home, &resume));
    assert_eq!(resumed["resumed_from"].as_u64(), Some(second as u64));
    assert_eq!(resumed["losses"], summary["losses"], "the loss curve is the uninterrupted run's");
    for file in ["adapter_model.safetensors", "adapter_config.json"] {
        let (a, b) = (std::fs::read(straight.join(file)).unwrap(), std::fs::read(killed.join(file)).unwrap());
        assert!(a == b, "{file} differs after kills at steps {first} and {second}");
    }
    assert_eq!(resumed["adapter_hash"], summary["adapter_hash"]);

    // Both runs are stored.
    let store = Store::open(&home).unwrap();
    let runs = store.training_runs().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].data_ids.len(), 8);
    assert_eq!(runs[0].losses.len(), 120);
    assert!(runs[0].tokens_per_second > 0.0);
    assert_eq!(runs[1].adapter_hash, runs[0].adapter_hash);
}

/// `train --full`: every weight trained; the output folder is a model folder that `train` (and
/// every `--model` flag) reads, and it resumes from a checkpoint like a LoRA run.
#[test]
fn full_training_writes_a_model_folder_that_loads_as_a_model() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let model = tiny_model(dir.path());
    let data = data_file(dir.path());
    let (m, d) = (model.to_str().unwrap(), data.to_str().unwrap());
    let out = dir.path().join("full");
    let mut args = train_args(m, d, out.to_str().unwrap());
    let at = args.iter().position(|a| *a == "120").unwrap();
    args[at] = "20";
    args.push("--full");
    let summary = ok_json(&socratic(&home, &args));
    assert!(summary["last_loss"].as_f64().unwrap() < summary["first_loss"].as_f64().unwrap());
    for file in ["config.json", "tokenizer.json", "model.safetensors"] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    assert!(!out.join("adapter_model.safetensors").exists() && !out.join("checkpoint.safetensors").exists());
    // The trained model trains on (it is a model folder); a second run into the same folder is refused.
    let again = dir.path().join("again");
    let mut more = train_args(out.to_str().unwrap(), d, again.to_str().unwrap());
    let at = more.iter().position(|a| *a == "120").unwrap();
    more[at] = "2";
    more.push("--full");
    ok_json(&socratic(&home, &more));
    let refused = socratic(&home, &args);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("already holds"), "{}", stderr(&refused));
}

#[test]
fn bad_input_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let model = tiny_model(dir.path());
    let data = data_file(dir.path());
    let (m, d) = (model.to_str().unwrap(), data.to_str().unwrap());
    let run = |extra: &[&str]| {
        let out = dir.path().join(format!("out-{}", extra.join("-").replace(['/', ' ', ','], "_")));
        let mut args = vec!["train", "--model", m, "--data", d, "--steps", "1", "--adapter-out", out.to_str().unwrap()];
        args.extend_from_slice(extra);
        socratic(&home, &args)
    };
    let e = run(&["--targets", "q_proj,attn"]);
    assert_eq!(e.status.code(), Some(1));
    assert!(stderr(&e).contains("target module 'attn' matches no linear layer"), "{}", stderr(&e));
    let e = run(&["--rank", "100"]);
    assert!(stderr(&e).contains("rank 100 is larger than layer"), "{}", stderr(&e));
    let e = run(&["--method", "rft"]);
    assert_eq!(e.status.code(), Some(2), "{}", stderr(&e));

    // No curriculum yet.
    let e = socratic(&home, &["train", "--model", m]);
    assert_eq!(e.status.code(), Some(1));
    assert!(stderr(&e).contains("no curriculum to train on") && stderr(&e).contains("no round"), "{}", stderr(&e));

    // A data file that is not chat rows names its line.
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}]}\n").unwrap();
    let e = socratic(&home, &["train", "--model", m, "--data", bad.to_str().unwrap()]);
    assert!(stderr(&e).contains("bad.jsonl:1") && stderr(&e).contains("assistant"), "{}", stderr(&e));

    // Missing weights; a vocabulary smaller than the tokenizer's.
    let broken = dir.path().join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    for f in ["config.json", "tokenizer.json"] {
        std::fs::copy(model.join(f), broken.join(f)).unwrap();
    }
    let e = socratic(&home, &["train", "--model", broken.to_str().unwrap(), "--data", d]);
    assert!(stderr(&e).contains("missing *.safetensors"), "{}", stderr(&e));
    std::fs::copy(model.join("model.safetensors"), broken.join("model.safetensors")).unwrap();
    let config = std::fs::read_to_string(model.join("config.json")).unwrap();
    std::fs::write(broken.join("config.json"), config.replace("\"vocab_size\": 259", "\"vocab_size\": 200")).unwrap();
    let e = socratic(&home, &["train", "--model", broken.to_str().unwrap(), "--data", d]);
    assert!(stderr(&e).contains("vocabulary mismatch"), "{}", stderr(&e));

    // A finished adapter is not overwritten.
    let out = dir.path().join("done");
    let args = ["train", "--model", m, "--data", d, "--steps", "2", "--adapter-out", out.to_str().unwrap()];
    assert!(socratic(&home, &args).status.success());
    let before = std::fs::read(out.join("adapter_model.safetensors")).unwrap();
    let e = socratic(&home, &args);
    assert!(stderr(&e).contains("already holds an adapter"), "{}", stderr(&e));
    assert_eq!(std::fs::read(out.join("adapter_model.safetensors")).unwrap(), before);
    assert_eq!(Store::open(&home).unwrap().training_runs().unwrap().len(), 1, "nothing else stored");
}

/// Real tasks of the example repository, three valid ones kept by a finished round 1.
fn curriculum_home(dir: &Path) -> (PathBuf, Vec<Task>) {
    let repo = dir.join("tallyho");
    copy_dir(&example_repo_source(), &repo);
    let clean = commit_all(&repo);
    let (generated, _) = generate(&repo, &GenerateConfig { budget: 8, seed: 5, round: Some(1), ..Default::default() })
        .expect("generate");
    assert!(generated.len() >= 3);
    let home = dir.join("home");
    let mut store = Store::open(&home).unwrap();
    store.insert_tasks(&generated).unwrap();
    let mut kept = Vec::new();
    for (i, mut task) in generated.into_iter().take(3).enumerate() {
        let verdict = Verdict {
            task_id: task.id.clone(),
            outcome: VerdictOutcome::Valid,
            reason: "1 fail to pass".into(),
            fail_to_pass: vec![format!("tests/test_{i}.py::test_bug")],
            pass_to_pass: vec![],
            duration_ms: 1,
        };
        task.fail_to_pass = verdict.fail_to_pass.clone();
        task.stage = TaskStage::Scored;
        store.record_verdict(&task, &verdict).unwrap();
        kept.push(task);
    }
    let round = Round {
        number: 1,
        inputs: RoundInputs {
            repo: repo.display().to_string(),
            head: clean,
            seed: 5,
            budget: 8,
            keep: 3,
            max_skill_share: 1.0,
            trace_ids: vec![],
            skill_versions: Default::default(),
            model_hash: None,
            reference_set: None,
            adapter_hash: None,
        },
        step: RoundStep::Done,
        candidates: 8,
        valid: 3,
        kept: kept.iter().map(|t| t.id.clone()).collect(),
        timings_ms: Default::default(),
    };
    store.save_round(&round).unwrap();
    (home, kept)
}

#[test]
fn sft_export_and_training_on_a_round_and_scoring_with_the_adapter() {
    let dir = tempfile::tempdir().unwrap();
    let (home, kept) = curriculum_home(dir.path());
    let rows_path = dir.path().join("sft.jsonl");
    let out = socratic(
        &home,
        &["export", "--format", "sft", rows_path.to_str().unwrap(), "--round", "1", "--answer", "diff", "--json"],
    );
    assert_eq!(ok_json(&out)["exported"].as_array().unwrap().len(), 3);
    let text = std::fs::read_to_string(&rows_path).unwrap();
    let rows: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 3);
    for (row, task) in rows.iter().zip(&kept) {
        let roles: Vec<&str> =
            row["messages"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
        assert_eq!(roles, ["system", "user", "assistant"]);
        let user = row["messages"][1]["content"].as_str().unwrap();
        let name = task.enclosing.rsplit('.').next().unwrap();
        assert!(user.contains(&format!("def {name}")) || user.contains(&format!("class {name}")), "{user}");
        assert!(user.contains(&task.site.file) && user.contains("tests/test_"), "{user}");
        let fix = socratic::diff::reverse(&task.bug_patch).unwrap();
        assert_eq!(row["messages"][2]["content"].as_str().unwrap(), fix);
        // The function in the prompt is the bugged one: the fix's removed lines are in it.
        let removed: Vec<&str> =
            fix.lines().filter(|l| l.starts_with('-') && !l.starts_with("---")).map(|l| &l[1..]).collect();
        assert!(removed.iter().all(|l| user.contains(l.trim())), "{removed:?} not in {user}");
    }

    // The same examples train an adapter (no --model: the home's scoring model, written here
    // as a round would).
    let tiny = home.join("models").join("tiny");
    assert!(socratic(&home, &["model", "tiny", tiny.to_str().unwrap()]).status.success());
    let started = Instant::now();
    let summary = ok_json(&socratic(
        &home,
        &["train", "--round", "1", "--answer", "diff", "--max-len", "512", "--lr", "5e-3", "--steps", "20", "--json"],
    ));
    eprintln!("train --round 1: {:.1} s, {} tok/s", started.elapsed().as_secs_f64(), summary["tokens_per_second"]);
    assert_eq!(summary["examples"], 3);
    assert_eq!(summary["source"], "round 1 curriculum");
    let adapter = home.join("adapters").join("round-1");
    assert_eq!(summary["adapter_dir"], adapter.display().to_string());
    let runs = Store::open(&home).unwrap().training_runs().unwrap();
    assert_eq!(runs[0].round, Some(1));
    assert_eq!(runs[0].data_ids, kept.iter().map(|t| t.id.clone()).collect::<Vec<_>>());

    // tasks score with and without the adapter.
    let reference = dir.path().join("ref.jsonl");
    std::fs::write(
        &reference,
        text.lines()
            .take(1)
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                serde_json::json!({"instance_id": "r1", "problem_statement": "p", "patch": v["messages"][2]["content"]})
                    .to_string()
                    + "\n"
            })
            .collect::<String>(),
    )
    .unwrap();
    let score = |extra: &[&str]| {
        let mut args = vec![
            "tasks",
            "score",
            "--model",
            tiny.to_str().unwrap(),
            "--reference",
            reference.to_str().unwrap(),
            "--json",
        ];
        args.extend_from_slice(extra);
        ok_json(&socratic(&home, &args))
    };
    let plain = score(&[]);
    let adapted = score(&["--adapter", adapter.to_str().unwrap()]);
    assert_eq!(plain["adapter_hash"], Value::Null);
    assert_eq!(adapted["adapter_hash"], summary["adapter_hash"]);
    assert_ne!(plain["model_hash"], adapted["model_hash"]);
    let loss = |v: &Value| v["tasks"].as_array().unwrap().iter().map(|t| t["loss"].as_f64().unwrap()).sum::<f64>();
    assert!(
        loss(&adapted) < loss(&plain),
        "training on the curriculum lowers its loss: {} vs {}",
        loss(&adapted),
        loss(&plain)
    );
}
