//! `socratic evolve` end to end on a real Docker engine with the example repository and a tiny
//! random model on CPU: three rounds of round → solve (the LM Solver) → held-out → train, the
//! binary killed with SIGKILL twice at different steps and rerun; the run resumes without
//! redoing finished steps, the held-out set never changes and never meets a curriculum or a
//! training set, each round scores and solves with the adapter the round before trained, and the
//! report shows the three rounds' curriculum and held-out resolve rates.

use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

mod common;
use common::{socratic, socratic_cmd, stdout_json};

fn home_with_example(dir: &Path) -> (PathBuf, PathBuf) {
    let home = dir.join("home");
    let repo = dir.join("tallyho");
    socratic::examples::write_example_repo(&repo).unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/traces");
    let out = socratic(&home, &["traces", "import", fixtures.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    (home, repo)
}

fn evolve_args<'a>(repo: &'a str, model: &'a str) -> Vec<&'a str> {
    vec![
        "evolve",
        "--repo",
        repo,
        "--rounds",
        "3",
        "--solver",
        "lm",
        "--model",
        model,
        "--answer",
        "diff",
        "--held-out",
        "2",
        "--budget",
        "6",
        "--keep",
        "3",
        "--epochs",
        "1",
        "--workers",
        "2",
        "--seed",
        "5",
        "--json",
    ]
}

/// (round, step, state, starts) of every stored evolve step.
fn steps(home: &Path) -> Vec<(u32, String, String, u32)> {
    let Ok(conn) = rusqlite::Connection::open(home.join("socratic.db")) else { return vec![] };
    let Ok(mut stmt) = conn.prepare("SELECT round, step, state, starts FROM evolve_steps ORDER BY round, rowid") else {
        return vec![];
    };
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .map(|rows| rows.filter_map(Result::ok).collect())
        .unwrap_or_default()
}

fn held_out(home: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(home.join("socratic.db")).unwrap();
    let json: String = conn.query_row("SELECT json FROM evolve_runs ORDER BY id LIMIT 1", [], |r| r.get(0)).unwrap();
    let run: Value = serde_json::from_str(&json).unwrap();
    run["held_out"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
}

/// Run `evolve` and SIGKILL it as soon as a step matching `at` has started (and is not done).
fn kill_when(home: &Path, args: &[&str], at: impl Fn(&(u32, String, String, u32)) -> bool) {
    let mut child = socratic_cmd(home, args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let start = Instant::now();
    loop {
        if steps(home).iter().any(|s| at(s) && s.2 == "running") {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("evolve ended ({status}) before the kill point; steps: {:?}", steps(home));
        }
        assert!(start.elapsed() < Duration::from_secs(900), "the kill point never came: {:?}", steps(home));
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
}

#[test]
fn evolve_survives_two_sigkills_and_reports_three_rounds_of_resolve_rates() {
    let dir = tempfile::tempdir().unwrap();
    let (home, repo) = home_with_example(dir.path());
    let model = dir.path().join("model");
    assert!(socratic(&home, &["model", "tiny", model.to_str().unwrap()]).status.success());
    let args = evolve_args(repo.to_str().unwrap(), model.to_str().unwrap());

    // Killed while the LM Solver attempts round 1's curriculum, then while round 2's loop round runs.
    kill_when(&home, &args, |s| s.0 == 1 && s.1 == "solve");
    let chosen = held_out(&home);
    assert_eq!(chosen.len(), 2, "the held-out set is chosen first");
    kill_when(&home, &args, |s| s.0 == 2 && s.1 == "round");
    let out = socratic(&home, &args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary = stdout_json(&out);

    // One run, finished, resumed; the held-out set as first chosen.
    assert_eq!(summary["run"]["state"], "done");
    assert_eq!(summary["resumed"], true);
    assert_eq!(held_out(&home), chosen, "the held-out set changed on resume");
    assert_eq!(summary["random_weights"], true, "a tiny random model is labelled as such");

    // Every step done once; only the two killed steps were started twice.
    let all = steps(&home);
    assert_eq!(all.len(), 1 + 3 * 4, "{all:?}");
    assert!(all.iter().all(|s| s.2 == "done"), "{all:?}");
    let twice: Vec<(u32, &str)> = all.iter().filter(|s| s.3 > 1).map(|s| (s.0, s.1.as_str())).collect();
    assert_eq!(twice, vec![(1, "solve"), (2, "round")], "{all:?}");
    assert!(all.iter().all(|s| s.3 <= 2), "{all:?}");

    // Three rounds, each with both resolve rates and a training loss; each round's Solver is the
    // adapter the round before trained, and the loop round recorded that adapter.
    let lines = summary["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 3, "{summary}");
    for l in lines {
        assert!(l["curriculum"]["attempted"].as_u64().unwrap() > 0, "{l}");
        assert_eq!(l["held_out"]["attempted"].as_u64().unwrap(), 2, "{l}");
        assert!(l["loss"].as_f64().unwrap().is_finite(), "{l}");
    }
    assert!(lines[0]["adapter_hash"].is_null(), "round 1 uses the base model");
    let conn = rusqlite::Connection::open(home.join("socratic.db")).unwrap();
    for i in 1..3 {
        assert_eq!(lines[i]["adapter_hash"], lines[i - 1]["trained_adapter"], "round {}", i + 1);
        let number = lines[i]["round"].as_u64().unwrap();
        let json: String = conn.query_row("SELECT json FROM rounds WHERE number = ?1", [number], |r| r.get(0)).unwrap();
        let round: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(round["inputs"]["adapter_hash"], lines[i]["adapter_hash"], "loop round {number}");
    }
    // One training run per round (none redone), no half-written adapter left.
    let trained: i64 = conn.query_row("SELECT count(*) FROM training_runs", [], |r| r.get(0)).unwrap();
    assert_eq!(trained, 3);
    for i in 1..=3 {
        let round_dir = home.join("evolve/run-1").join(format!("round-{i}"));
        assert!(round_dir.join("adapter/adapter_model.safetensors").is_file(), "round {i}");
        assert!(!round_dir.join("adapter.partial").exists(), "round {i}");
    }

    // No held-out task, nor another task on a held-out function, in a curriculum or a training set.
    let task = |id: &str| -> Value {
        let json: String = conn.query_row("SELECT json FROM tasks WHERE id = ?1", [id], |r| r.get(0)).unwrap();
        serde_json::from_str(&json).unwrap()
    };
    let scope = |t: &Value| (t["site"]["file"].as_str().unwrap().to_string(), t["site"]["scope"].to_string());
    let held_scopes: BTreeSet<_> = chosen.iter().map(|id| scope(&task(id))).collect();
    let mut used: Vec<String> = Vec::new();
    for json in conn.prepare("SELECT json FROM rounds").unwrap().query_map([], |r| r.get::<_, String>(0)).unwrap() {
        let round: Value = serde_json::from_str(&json.unwrap()).unwrap();
        used.extend(round["kept"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()));
    }
    for json in
        conn.prepare("SELECT json FROM training_runs").unwrap().query_map([], |r| r.get::<_, String>(0)).unwrap()
    {
        let run: Value = serde_json::from_str(&json.unwrap()).unwrap();
        used.extend(run["data_ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()));
    }
    assert!(!used.is_empty());
    for id in &used {
        assert!(!chosen.contains(id), "held-out task {id} was used");
        assert!(!held_scopes.contains(&scope(&task(id))), "task {id} is on a held-out function");
    }

    // The report, as text and as a page, shows the three rounds' rates.
    let out = socratic(&home, &["report"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert_eq!(text.lines().filter(|l| l.contains("curriculum") && l.contains("held-out")).count(), 3, "{text}");
    assert!(text.contains("not a signal"), "{text}");
    let page = dir.path().join("report.html");
    assert!(socratic(&home, &["report", "--html", page.to_str().unwrap()]).status.success());
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("Evolve runs") && html.contains("held-out resolve rate"));
    let evolve = &html[html.find("id=\"evolve\"").unwrap()..];
    let evolve = &evolve[..evolve.find("<h2").unwrap_or(evolve.len())];
    assert_eq!(evolve.matches("<tr><td>").count(), 3, "three round rows");
}
