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
