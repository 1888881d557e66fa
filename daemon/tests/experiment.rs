//! `socratic experiment efficacy` end to end on a real Docker engine with the example repository
//! and a tiny random model (the mechanics, not the outcome): the held-out split is disjoint by
//! site, every arm trains on the same number of examples for the same steps, every arm is
//! evaluated on the same held-out tasks, intervals are computed and contain their means, and a
//! run killed with SIGKILL after its first arm resumes with the stored pool, split, warm-up
//! adapter and finished arms reused. The Solver answers in the `edit` format (the marked line's
//! minimal edit) by ranking candidate repairs (`--decode candidates`); how many it ranked for
//! each held-out task, and where the fix stood among them, are recorded.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

mod common;
use common::socratic_cmd;

const BUDGET: usize = 3;
const STEPS: usize = 2;

fn args<'a>(repo: &'a str, model: &'a str) -> Vec<&'a str> {
    vec![
        "experiment",
        "efficacy",
        "--repo",
        repo,
        "--model",
        model,
        "--seeds",
        "2",
        "--budget",
        "3",
        "--steps",
        "2",
        "--pool",
        "60",
        "--heldout",
        "4",
        "--warmup",
        "3",
        "--warmup-steps",
        "2",
        "--probe",
        "3",
        "--k",
        "2",
        "--workers",
        "2",
        "--answer",
        "edit",
        "--decode",
        "candidates",
        "--json",
    ]
}

/// Finished runs: (arm, seed) → (finished_at, run JSON).
type Runs = BTreeMap<(String, i64), (String, Value)>;

/// The stored experiment (JSON) and its finished runs.
fn stored(home: &Path) -> Option<(Value, Runs)> {
    let conn = rusqlite::Connection::open(home.join("socratic.db")).ok()?;
    let exp: String = conn.query_row("SELECT json FROM experiments", [], |r| r.get(0)).ok()?;
    let mut stmt = conn.prepare("SELECT arm, seed, finished_at, json FROM experiment_arms").ok()?;
    let rows = stmt
        .query_map([], |r| {
            let json: String = r.get(3)?;
            Ok(((r.get(0)?, r.get(1)?), (r.get(2)?, serde_json::from_str(&json).unwrap())))
        })
        .ok()?
        .collect::<Result<BTreeMap<_, _>, _>>()
        .ok()?;
    Some((serde_json::from_str(&exp).unwrap(), rows))
}

fn ids(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect()
}

#[test]
fn an_efficacy_experiment_killed_after_its_first_arm_resumes_and_keeps_the_mechanics_sound() {
    let dir = tempfile::tempdir().unwrap();
    let (home, repo, model) = (dir.path().join("home"), dir.path().join("tallyho"), dir.path().join("tiny"));
    socratic::examples::write_example_repo(&repo).unwrap();
    let spec = socratic::score::TinySpec { layers: 1, width: 32, seed: 0, vocab: None, kv_heads: None };
    socratic::score::write_tiny_model(&model, &spec).unwrap();
    let args = args(repo.to_str().unwrap(), model.to_str().unwrap());

    // First run: killed (SIGKILL) as soon as one trained arm × seed beyond the warm-up is stored.
    let mut child = socratic_cmd(&home, &args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let started = Instant::now();
    let before = loop {
        if let Some(state) =
            stored(&home).filter(|(_, runs)| runs.keys().any(|(arm, _)| arm != "warm-up" && arm != "untrained"))
        {
            break state;
        }
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            panic!("the experiment ended ({status}) before the first arm was stored: {err}");
        }
        assert!(started.elapsed() < Duration::from_secs(1200), "no arm finished in 20 minutes");
        std::thread::sleep(Duration::from_millis(200));
    };
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let (exp_before, runs_before) = before;
    let exp_dir = home.join("experiments").join(exp_before["id"].as_str().unwrap());
    let warmup_adapter = exp_dir.join("warm-up").join(socratic::train::peft::WEIGHTS_FILE);
    let warmup_mtime = std::fs::metadata(&warmup_adapter).unwrap().modified().unwrap();

    // Resumed to the end.
    let out = socratic_cmd(&home, &args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (exp, runs) = stored(&home).unwrap();
    assert_eq!(exp["stage"], "done");
    for key in ["pool", "split", "warmup_ids", "probe_ids", "warmup_adapter_hash", "rewards", "skills"] {
        assert_eq!(exp[key], exp_before[key], "{key} was not reused");
    }
    assert_eq!(std::fs::metadata(&warmup_adapter).unwrap().modified().unwrap(), warmup_mtime, "warm-up retrained");
    for (key, (finished_at, run)) in &runs_before {
        assert_eq!(&runs[key].0, finished_at, "{key:?} was run again");
        assert_eq!(&runs[key].1, run);
    }
    assert_eq!(runs.len(), 2 + 2 * 4, "the untrained model, the warm-up and 2 seeds × 4 arms: {:?}", runs.keys());

    // The split: held-out sites never in training, warm-up or probe.
    let heldout = ids(&exp["split"]["heldout"]);
    let train: BTreeSet<String> = ids(&exp["split"]["train"]).into_iter().collect();
    assert!(!heldout.is_empty() && heldout.len() <= 4);
    let store = socratic::store::Store::open(&home).unwrap();
    let site = |id: &String| {
        let t = store.task(id).unwrap().unwrap();
        (t.repo, t.site.file, t.enclosing)
    };
    let heldout_sites: BTreeSet<_> = heldout.iter().map(site).collect();
    assert!(train.iter().all(|id| !heldout_sites.contains(&site(id))), "a held-out site is in the training set");
    for id in ids(&exp["warmup_ids"]).iter().chain(&ids(&exp["probe_ids"])) {
        assert!(train.contains(id), "{id} (warm-up / probe) is not a training task");
    }
    // Equal budgets, training tasks only, the same held-out tasks for every run.
    for ((arm, seed), (_, run)) in &runs {
        let used = ids(&run["train_ids"]);
        assert!(used.iter().all(|id| train.contains(id)), "{arm} {seed} trained on a held-out task");
        if arm == "untrained" {
            assert!(used.is_empty() && run["trained"]["steps"].as_u64() == Some(0), "{run}");
        } else if arm != "warm-up" {
            assert_eq!(used.len(), BUDGET, "{arm} {seed}");
            assert_eq!(run["trained"]["examples"].as_u64(), Some(BUDGET as u64), "{arm} {seed}");
            assert_eq!(run["trained"]["steps"].as_u64(), Some(STEPS as u64), "{arm} {seed}");
        }
        let evaluated: Vec<String> = run["outcomes"].as_object().unwrap().keys().cloned().collect();
        assert_eq!(evaluated, heldout, "{arm} {seed} was evaluated on other tasks");
    }
    // The printed result: four arms, intervals that hold their means, labelled random.
    let arms = summary["arms"].as_array().unwrap();
    assert_eq!(arms.len(), 4);
    for a in arms.iter().chain([&summary["warmup"], &summary["untrained"]]) {
        for key in ["pass1", "pass_k"] {
            let i = &a[key];
            let (lo, mean, hi) = (i["lo"].as_f64().unwrap(), i["mean"].as_f64().unwrap(), i["hi"].as_f64().unwrap());
            assert!((0.0..=1.0).contains(&lo) && lo <= mean && mean <= hi && hi <= 1.0, "{}: {i}", a["arm"]);
            assert_eq!(i["tasks"].as_u64(), Some(heldout.len() as u64));
        }
    }
    // Candidate repairs were ranked for the held-out tasks; where the fix stood among them (when
    // it was) is kept, and the summary states the ceiling and a uniform pick's chance.
    let warm = &runs.iter().find(|((arm, _), _)| arm == "warm-up").unwrap().1 .1;
    let counts = warm["candidate_counts"].as_object().cloned().unwrap_or_default();
    assert!(!counts.is_empty(), "no candidates ranked: {warm}");
    assert!(counts.iter().all(|(id, n)| heldout.contains(id) && n.as_u64().is_some()), "{counts:?}");
    let ranks = warm["fix_ranks"].as_object().cloned().unwrap_or_default();
    for (id, r) in &ranks {
        let r = r.as_u64().unwrap();
        assert!(r >= 1 && r <= counts[id].as_u64().unwrap(), "{id}: the fix ranked {r} of {}", counts[id]);
    }
    let ceiling = summary["localisation"].as_str().unwrap_or_default();
    assert!(ceiling.contains("candidate decoding") && ceiling.contains("by chance"), "{summary}");
    let training = exp["inputs"]["training"].as_str().unwrap();
    assert!(training.contains("answer=edit decode=candidates"), "{}", exp["inputs"]);
    assert_eq!(summary["random_weights"], true);
    assert!(summary["note"].as_str().unwrap().contains("random weights"));

    // The table and the report's chart.
    let table = socratic_cmd(&home, &["experiment", "show"]).output().unwrap();
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.contains("targeted+reward") && table.contains("95% CI"), "{table}");
    let page = dir.path().join("report.html");
    let out = socratic_cmd(&home, &["report", "--html", page.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("Efficacy experiments") && html.matches("<g class=\"interval\">").count() == 4);
}
