//! Shards on a real Docker engine: the example repository's candidates cut into two shard
//! files, each run by `cluster run-shard` in a home of its own (a node holds no store), the
//! results imported into the head's store with `tasks import-results`: exactly the verdicts of a
//! single-machine `tasks validate`, and importing again changes nothing. A result naming a task
//! the store does not hold is refused, naming it, and writes nothing.
//!
//! Needs a running engine and the base image (`.ci/run` provides both); never skips.

mod common;
mod shards;

use common::stdout_json;
use shards::{decisions, ok, prepare, stages};

#[test]
fn two_shards_imported_give_the_single_machine_verdicts_and_a_second_import_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let p = prepare(dir.path(), 12);
    let (inputs, node) = (dir.path().join("shards"), dir.path().join("node-home"));
    let planned = ok(
        &p.home,
        &[
            "cluster",
            "shards",
            "--out",
            inputs.to_str().unwrap(),
            "--json",
            "validate",
            "--repo",
            p.repo.to_str().unwrap(),
            "--shards",
            "2",
            "--timeout",
            "30",
        ],
    );
    let planned = stdout_json(&planned);
    let files: Vec<String> = planned["files"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().into()).collect();
    assert_eq!(files.len(), 2);
    assert_eq!(planned["candidates"], p.candidates.len());

    let mut results = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let out = dir.path().join(format!("result-{i}.json"));
        ok(&node, &["cluster", "run-shard", "--input", f, "--out", out.to_str().unwrap()]);
        results.push(out.to_str().unwrap().to_string());
    }
    let before = stages(&p.home);
    assert!(before.values().all(|s| s == "candidate"));
    let mut args = vec!["tasks", "import-results", "--json"];
    args.extend(results.iter().map(String::as_str));
    let first = stdout_json(&ok(&p.home, &args));
    assert_eq!(first["recorded"], p.candidates.len(), "{first}");
    let imported = decisions(&p.home);
    assert_eq!(imported.len(), p.candidates.len(), "one verdict per candidate");
    assert_eq!(
        imported,
        decisions(&p.single),
        "the verdicts of a single-machine run: {:#?}",
        shards::differences(&p.home, &p.single)
    );
    assert_eq!(stages(&p.home), stages(&p.single), "the same stages");

    let verdicts_once = shards::verdicts(&p.home);
    let second = stdout_json(&ok(&p.home, &args));
    assert_eq!((second["recorded"].as_u64(), second["already"].as_u64()), (Some(0), Some(p.candidates.len() as u64)));
    let verdicts_twice = shards::verdicts(&p.home);
    assert_eq!(
        serde_json::to_value(&verdicts_once).unwrap(),
        serde_json::to_value(&verdicts_twice).unwrap(),
        "a second import changes no stored verdict"
    );

    // Score shards: the features `tasks score` would compute, computed by the nodes and cached
    // in the head's store, so scoring there computes none.
    let model = dir.path().join("tiny-model");
    ok(&p.home, &["model", "tiny", model.to_str().unwrap()]);
    let score_inputs = dir.path().join("score-shards");
    let m = model.to_str().unwrap();
    let planned = ok(
        &p.home,
        &[
            "cluster",
            "shards",
            "--out",
            score_inputs.to_str().unwrap(),
            "--json",
            "score",
            "--model",
            m,
            "--shards",
            "2",
        ],
    );
    let files: Vec<String> =
        stdout_json(&planned)["files"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().into()).collect();
    assert_eq!(files.len(), 2);
    let mut score_args = vec!["tasks".to_string(), "import-results".into(), "--json".into()];
    for (i, f) in files.iter().enumerate() {
        let out = dir.path().join(format!("score-result-{i}.json"));
        ok(&node, &["cluster", "run-shard", "--input", f, "--out", out.to_str().unwrap()]);
        score_args.push(out.to_str().unwrap().into());
    }
    let score_args: Vec<&str> = score_args.iter().map(String::as_str).collect();
    let imported = stdout_json(&ok(&p.home, &score_args));
    assert_eq!(imported["features"], p.candidates.len(), "{imported}");
    let again = stdout_json(&ok(&p.home, &score_args));
    assert_eq!((again["features"].as_u64(), again["already"].as_u64()), (Some(0), Some(p.candidates.len() as u64)));
    let scored = stdout_json(&ok(&p.home, &["tasks", "score", "--model", m, "--reference", "failures", "--json"]));
    assert_eq!(
        (scored["computed"].as_u64(), scored["cached"].as_u64()),
        (Some(0), Some(p.candidates.len() as u64)),
        "{scored}"
    );

    // Grade shards (after scoring: their failed predictions become failure traces, which a
    // `--reference failures` set would include).
    grade_shards(dir.path(), &p, &node);

    // A store that never held these candidates: an error naming one, and nothing written.
    let other = dir.path().join("other-home");
    let out = common::socratic(&other, &args);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(p.candidates.iter().any(|id| err.contains(&format!("task {id} is not in this store"))), "{err}");
    assert!(err.contains("result-0.json"), "{err}");
    assert!(shards::verdicts(&other).is_empty());
}

#[test]
fn submit_to_a_dashboard_that_does_not_answer_names_the_address() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let address = format!("http://127.0.0.1:{port}");
    let out = common::socratic(
        &dir.path().join("home"),
        &["cluster", "submit", "--address", &address, "env-build", "--repo", env!("CARGO_MANIFEST_DIR")],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("Ray dashboard at {address}")), "{err}");
}

#[test]
fn a_file_that_is_not_a_shard_result_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"format\": 1, \"kind\": \"validate\"}").unwrap();
    let out = common::socratic(&dir.path().join("home"), &["tasks", "import-results", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.json: not a socratic shard file"), "{err}");
}

/// Grade shards on the validated home: gold fixes (by exported instance id), an empty patch and
/// a patch that is not a diff, over two shards run by `cluster run-shard`, imported as solve
/// records; a gold fix is graded on FAIL_TO_PASS and the whole suite, as `solve` grades it.
fn grade_shards(dir: &std::path::Path, p: &shards::Prepared, node: &std::path::Path) {
    let store = socratic::store::Store::open(&p.home).unwrap();
    let valid: Vec<socratic::model::Task> =
        store.tasks().unwrap().into_iter().filter(|t| t.stage.is_valid()).take(3).collect();
    assert!(!valid.is_empty(), "a valid task to grade");
    let line = |id: &str, model: &str, patch: &str| {
        serde_json::json!({"instance_id": id, "model_name_or_path": model, "model_patch": patch}).to_string()
    };
    let mut lines: Vec<String> = valid
        .iter()
        .map(|t| line(&socratic::export::instance_id_of(t), "gold", &socratic::diff::reverse(&t.bug_patch).unwrap()))
        .collect();
    lines.push(line(&valid[0].id, "empty", ""));
    lines.push(line(&valid[0].id, "junk", "this is not a diff\n"));
    let predictions = dir.join("predictions.jsonl");
    std::fs::write(&predictions, lines.join("\n") + "\n").unwrap();

    let inputs = dir.join("grade-shards");
    let (i, pr) = (inputs.to_str().unwrap(), predictions.to_str().unwrap());
    let planned = stdout_json(&ok(&p.home, &["cluster", "shards", "--out", i, "--json", "grade", "--predictions", pr]));
    assert_eq!(planned["candidates"], lines.len(), "{planned}");
    let mut args = vec!["tasks".to_string(), "import-results".into(), "--json".into()];
    let mut reports = Vec::new();
    for (n, f) in planned["files"].as_array().unwrap().iter().enumerate() {
        let out = dir.join(format!("grade-result-{n}.json"));
        ok(node, &["cluster", "run-shard", "--input", f.as_str().unwrap(), "--out", out.to_str().unwrap()]);
        let result: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
        reports.extend(result["outcome"]["grade"]["graded"].as_array().unwrap().iter().cloned());
        args.push(out.to_str().unwrap().into());
    }
    assert_eq!(planned["files"].as_array().unwrap().len(), 2);
    let by = |model: &str| reports.iter().filter(|r| r["model"] == model).map(|r| &r["report"]).collect::<Vec<_>>();
    let env = store.environment(&valid[0].repo, &valid[0].base_commit).unwrap().unwrap();
    assert_eq!(by("gold").len(), valid.len());
    for report in by("gold") {
        let task = valid.iter().find(|t| report["instance_id"] == t.id.as_str()).expect("a gold fix's task");
        let verdict = store.verdict(&task.id).unwrap().unwrap();
        let whole = socratic::engine::grade::whole_suite(&verdict_task(task, &verdict), &env);
        assert_eq!(report["resolved"], true, "gold fix of {}: {report}", task.id);
        assert_eq!(report["fail_to_pass_success"], serde_json::json!(verdict.fail_to_pass), "{report}");
        assert_eq!(report["pass_to_pass_success"], serde_json::json!(whole.pass_to_pass), "the whole suite");
    }
    assert_eq!(by("empty")[0]["outcome"], "no-patch", "{reports:?}");
    assert_eq!(
        (by("junk")[0]["outcome"].as_str(), by("junk")[0]["failure"].as_str()),
        (Some("unresolved"), Some("patch-does-not-apply"))
    );

    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let first = stdout_json(&ok(&p.home, &args));
    assert_eq!(
        (first["graded"].as_u64(), first["resolved"].as_u64()),
        (Some(lines.len() as u64), Some(valid.len() as u64)),
        "{first}"
    );
    let again = stdout_json(&ok(&p.home, &args));
    assert_eq!((again["graded"].as_u64(), again["already"].as_u64()), (Some(0), Some(lines.len() as u64)), "{again}");
    let traces = socratic::store::Store::open(&p.home).unwrap().traces().unwrap();
    let graded: Vec<_> = traces.iter().filter(|t| t.trace.origin.starts_with("grade:")).collect();
    assert_eq!(graded.len(), lines.len(), "one trace per prediction");
    let resolved = graded.iter().filter(|t| t.trace.label.outcome == socratic::model::Outcome::Resolved).count();
    assert_eq!(resolved, valid.len());

    // An instance this store does not hold: an error naming the file's line.
    std::fs::write(&predictions, line("t-0000000000000000", "m", "") + "\n").unwrap();
    let out = common::socratic(&p.home, &["cluster", "shards", "--out", i, "grade", "--predictions", pr]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("predictions.jsonl:1: unknown instance \"t-0000000000000000\""), "{err}");
}

/// The task with FAIL_TO_PASS / PASS_TO_PASS from its verdict (as exports and grading take it).
fn verdict_task(task: &socratic::model::Task, verdict: &socratic::model::Verdict) -> socratic::model::Task {
    socratic::export::with_tests(task.clone(), Some(verdict)).unwrap()
}
