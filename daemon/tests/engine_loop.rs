//! The loop end to end on a real Docker engine with the example repository: a round killed with
//! SIGKILL at random points resumes and keeps the same tasks as an uninterrupted run with the
//! same seed; Solvers (oracle, baseline, an external agent command) are graded in containers;
//! an editor runs a round through `socratic lsp` with its own options and sees `$/progress`;
//! a round reports its steps and counts as progress events, in order;
//! curriculum decisions override the ranking.

use rand::{Rng, SeedableRng};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

mod common;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/traces")
}

/// A home with the fixture traces imported and the example repository (same commit every time).
fn home_with_example(dir: &Path) -> (PathBuf, PathBuf) {
    let home = dir.join("home");
    let repo = dir.join("tallyho");
    socratic::examples::write_example_repo(&repo).unwrap();
    let out = socratic_cmd(&home, &["traces", "import", fixtures().to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    (home, repo)
}

use common::socratic_cmd;

fn json(home: &Path, args: &[&str]) -> Value {
    let out = socratic_cmd(home, args).output().unwrap();
    assert!(
        out.status.success(),
        "socratic {args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("socratic {args:?} printed no JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

fn round_args<'a>(repo: &'a str, seed: &'a str) -> Vec<&'a str> {
    vec!["round", "--repo", repo, "--seed", seed, "--budget", "10", "--keep", "4", "--workers", "2", "--json"]
}

fn kept(round: &Value) -> Vec<String> {
    round["kept"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
}

/// The step the store's last round is at (`None` without a round), read through the CLI.
fn last_round_step(home: &Path) -> Option<String> {
    let db = home.join("socratic.db");
    if !db.exists() {
        return None;
    }
    let conn = rusqlite::Connection::open(&db).ok()?;
    conn.query_row("SELECT step FROM rounds ORDER BY number DESC LIMIT 1", [], |r| r.get::<_, String>(0)).ok()
}

#[test]
fn a_round_killed_at_random_points_resumes_to_the_same_kept_tasks() {
    let mut interrupted_mid_round = 0;
    for seed in [3u64, 11, 29] {
        let seed_s = seed.to_string();
        // Uninterrupted.
        let a = tempfile::tempdir().unwrap();
        let (home_a, repo_a) = home_with_example(a.path());
        let started = Instant::now();
        let expected = json(&home_a, &round_args(repo_a.to_str().unwrap(), &seed_s));
        let full = started.elapsed();
        assert_eq!(expected["step"], "done");
        assert!(!kept(&expected).is_empty(), "seed {seed}: nothing kept: {expected}");

        // Killed twice at random points, then resumed to the end.
        let b = tempfile::tempdir().unwrap();
        let (home_b, repo_b) = home_with_example(b.path());
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        for _ in 0..2 {
            let delay = Duration::from_millis(rng.random_range(100..full.as_millis().max(200) as u64));
            let mut child = socratic_cmd(&home_b, &round_args(repo_b.to_str().unwrap(), &seed_s))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            std::thread::sleep(delay);
            let finished = child.try_wait().unwrap().is_some();
            child.kill().ok(); // SIGKILL
            child.wait().unwrap();
            if !finished && last_round_step(&home_b).is_some_and(|s| s != "done") {
                interrupted_mid_round += 1;
            }
            if last_round_step(&home_b).as_deref() == Some("done") {
                break;
            }
        }
        let resumed = match last_round_step(&home_b).as_deref() {
            Some("done") => json(&home_b, &["curriculum", "list", "--round", "1", "--json"]),
            _ => json(&home_b, &round_args(repo_b.to_str().unwrap(), &seed_s)),
        };
        let resumed_kept: Vec<String> = match resumed.get("kept") {
            Some(_) => kept(&resumed),
            None => resumed["tasks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["task"]["id"].as_str().unwrap().to_string())
                .collect(),
        };
        assert_eq!(resumed_kept, kept(&expected), "seed {seed}: resumed round kept different tasks");

        // Nothing was lost or done twice: one verdict per candidate, the same candidates.
        let conn = rusqlite::Connection::open(home_b.join("socratic.db")).unwrap();
        let candidates: i64 = conn.query_row("SELECT count(*) FROM tasks", [], |r| r.get(0)).unwrap();
        let verdicts: i64 = conn.query_row("SELECT count(*) FROM verdicts", [], |r| r.get(0)).unwrap();
        assert_eq!(candidates, expected["candidates"].as_i64().unwrap(), "seed {seed}");
        assert_eq!(verdicts, candidates, "seed {seed}: every candidate has exactly one verdict");
        let ok: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(ok, "ok");
    }
    assert!(interrupted_mid_round >= 2, "the kills should land inside rounds at least twice ({interrupted_mid_round})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_round_reports_its_steps_and_counts_as_progress_events_in_order() {
    use socratic::engine::progress::{Progress, ProgressEvent};
    use socratic::engine::round::{run_round, RoundOptions};
    use socratic::model::RoundStep;
    let dir = tempfile::tempdir().unwrap();
    let (home, repo) = home_with_example(dir.path());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = seen.clone();
    let opts = RoundOptions {
        budget: 6,
        keep: 3,
        progress: Progress::new(move |e| kept.lock().unwrap().push(e)),
        ..RoundOptions::new(repo)
    };
    let mut store = socratic::store::Store::open(&home).unwrap();
    let round = run_round(&mut store, &home, &opts).await.unwrap();
    let events: Vec<ProgressEvent> =
        seen.lock().unwrap().iter().filter(|e| !matches!(e, ProgressEvent::Message(_))).cloned().collect();
    let step = |step| ProgressEvent::RoundStep { round: 1, step };
    let counted = |work: &str, total: usize| {
        let (work, total) = (work.to_string(), total as u64);
        let mut out = vec![ProgressEvent::Started { work: work.clone(), total }];
        for done in 1..=total {
            let note = (work == "validating").then(String::new);
            out.push(ProgressEvent::Advanced { work: work.clone(), done, total, note });
        }
        out.push(ProgressEvent::Finished { work });
        out
    };
    let mut expected = vec![step(RoundStep::Distill), step(RoundStep::Generate), step(RoundStep::Validate)];
    expected.extend(counted("validating", round.candidates));
    expected.push(step(RoundStep::Score));
    expected.extend(counted("scoring", round.valid));
    expected.push(step(RoundStep::Select));
    // The validating notes count the valid verdicts so far; compare them apart.
    let blank = |e: &ProgressEvent| match e {
        ProgressEvent::Advanced { work, done, total, note } => ProgressEvent::Advanced {
            work: work.clone(),
            done: *done,
            total: *total,
            note: note.as_ref().map(|_| String::new()),
        },
        other => other.clone(),
    };
    assert_eq!(events.iter().map(blank).collect::<Vec<_>>(), expected);
    let last_note = events.iter().rev().find_map(|e| match e {
        ProgressEvent::Advanced { work, note: Some(n), .. } if work == "validating" => Some(n.clone()),
        _ => None,
    });
    assert_eq!(last_note, Some(format!("{} valid", round.valid)));
    assert!(round.candidates > 0 && round.valid > 0, "{round:?}");
}

#[test]
fn solvers_are_graded_in_containers_and_stored_as_traces() {
    let dir = tempfile::tempdir().unwrap();
    let (home, repo) = home_with_example(dir.path());
    let round = json(&home, &["round", "--repo", repo.to_str().unwrap(), "--budget", "24", "--keep", "8", "--json"]);
    let kept_ids = kept(&round);
    assert!(kept_ids.len() >= 4, "{round}");

    // The oracle resolves every task: the grading accepts a correct fix.
    let oracle = json(&home, &["solve", "--solver", "oracle", "--json"]);
    assert_eq!(oracle["attempted"], kept_ids.len());
    assert_eq!(oracle["by_outcome"]["resolved"], kept_ids.len(), "{oracle}");

    // The baseline resolves some kinds of bug and not others.
    let baseline = json(&home, &["solve", "--solver", "baseline", "--json"]);
    assert_eq!(baseline["attempted"], kept_ids.len());
    let resolved = baseline["by_outcome"]["resolved"].as_u64().unwrap_or(0) as usize;
    assert!(resolved < kept_ids.len(), "the baseline should not resolve everything: {baseline}");
    // Running it again does nothing new (results are kept per task, round and Solver).
    let again = json(&home, &["solve", "--solver", "baseline", "--json"]);
    assert_eq!((again["attempted"].as_u64(), again["already_done"].as_u64()), (Some(0), Some(kept_ids.len() as u64)));

    // An external agent: applies the fix it is handed and writes a mini-swe-agent trajectory.
    let fixes = dir.path().join("fixes");
    std::fs::create_dir_all(&fixes).unwrap();
    let conn = rusqlite::Connection::open(home.join("socratic.db")).unwrap();
    for id in &kept_ids {
        let task_json: String = conn.query_row("SELECT json FROM tasks WHERE id = ?1", [id], |r| r.get(0)).unwrap();
        let task: socratic::model::Task = serde_json::from_str(&task_json).unwrap();
        std::fs::write(fixes.join(format!("{id}.patch")), socratic::diff::reverse(&task.bug_patch).unwrap()).unwrap();
    }
    let trajectory = fixtures().join("mini-swe-agent/toolcall_toy.traj.json");
    let script = dir.path().join("agent.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nset -e\ncd \"$1\"\ntest -s \"$3\"\ngit apply \"{}/$2.patch\"\ncp \"{}\" \"$4\"\necho agent done\n",
            fixes.display(),
            trajectory.display()
        ),
    )
    .unwrap();
    let template = format!("sh {} {{workdir}} {{instance_id}} {{problem_file}} {{trajectory_out}}", script.display());
    let agent = json(&home, &["solve", "--agent", &template, "--timeout", "60", "--json"]);
    assert_eq!(agent["by_outcome"]["resolved"], kept_ids.len(), "{agent}");
    let imported: i64 = conn
        .query_row("SELECT count(*) FROM traces WHERE source = 'mini-swe-agent' AND instance_id LIKE 't-%'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(imported as usize, kept_ids.len(), "the agent's trajectories become the stored traces");

    // The repository moves on after the round: tasks are still graded in the environment of
    // the commit they were made at.
    std::fs::write(repo.join("NOTES.txt"), "a later commit\n").unwrap();
    let git = git2::Repository::open(&repo).unwrap();
    let mut index = git.index().unwrap();
    index.add_path(Path::new("NOTES.txt")).unwrap();
    index.write().unwrap();
    let tree = git.find_tree(index.write_tree().unwrap()).unwrap();
    let head = git.head().unwrap().peel_to_commit().unwrap();
    let sig = git2::Signature::now("t", "t@example.com").unwrap();
    git.commit(Some("HEAD"), &sig, &sig, "later", &tree, &[&head]).unwrap();
    let later = json(&home, &["solve", "--agent", &template, "--name", "after-a-commit", "--timeout", "60", "--json"]);
    assert_eq!(later["by_outcome"]["resolved"], kept_ids.len(), "{later}");

    // A hung agent is killed at its timeout (its child processes too) and graded as no patch.
    let started = Instant::now();
    let hung = json(&home, &["solve", "--agent", "sleep 30 & sleep 30", "--name", "hung", "--timeout", "1", "--json"]);
    assert_eq!(hung["by_outcome"]["no-patch"], kept_ids.len(), "{hung}");
    assert!(
        started.elapsed() < Duration::from_secs(10 + 5 * kept_ids.len() as u64),
        "the timeout did not stop the agent"
    );

    // Decisions: a rejected task leaves the curriculum, an accepted one joins it.
    let listed = json(&home, &["curriculum", "list", "--json"]);
    let first = listed["tasks"][0]["task"]["id"].as_str().unwrap().to_string();
    json(&home, &["curriculum", "reject", &first, "--json"]);
    let valid_not_kept: String = conn
        .query_row(
            "SELECT t.id FROM tasks t JOIN verdicts v ON v.task_id = t.id WHERE v.valid = 1 AND t.stage = 'scored' AND t.decision = 'none' ORDER BY t.id",
            [],
            |r| r.get(0),
        )
        .map(|id: String| id)
        .unwrap_or_default();
    let after = json(&home, &["curriculum", "list", "--json"]);
    let ids: Vec<&str> = after["tasks"].as_array().unwrap().iter().map(|e| e["task"]["id"].as_str().unwrap()).collect();
    assert!(!ids.contains(&first.as_str()), "rejected task still listed: {after}");
    if !valid_not_kept.is_empty() && !kept_ids.contains(&valid_not_kept) {
        json(&home, &["curriculum", "accept", &valid_not_kept, "--json"]);
        let after = json(&home, &["curriculum", "list", "--json"]);
        assert!(after["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["task"]["id"] == valid_not_kept.as_str() && e["membership"] == "accepted"));
    }
    let bad = socratic_cmd(&home, &["curriculum", "accept", "t-nope"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no task 't-nope'"));
}

/// One LSP frame on a pipe.
fn send_frame(w: &mut impl std::io::Write, msg: &Value) {
    let body = msg.to_string();
    write!(w, "Content-Length: {}\r\n\r\n{body}", body.len()).unwrap();
    w.flush().unwrap();
}

/// The next LSP frame from a pipe.
fn read_frame(r: &mut impl std::io::BufRead) -> Value {
    let mut len = 0usize;
    loop {
        let mut line = String::new();
        assert!(r.read_line(&mut line).unwrap() > 0, "the server closed its output");
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(v) = line.strip_prefix("Content-Length:") {
            len = v.trim().parse().unwrap();
        }
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body).unwrap();
    serde_json::from_slice(&body).unwrap()
}

#[test]
fn an_editor_runs_a_round_through_the_language_server() {
    let dir = tempfile::tempdir().unwrap();
    let (home, repo) = home_with_example(dir.path());
    let mut server = socratic_cmd(&home, &["lsp", "--standalone"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut input = server.stdin.take().unwrap();
    let mut output = std::io::BufReader::new(server.stdout.take().unwrap());
    let root = format!("file://{}", repo.canonicalize().unwrap().display());
    send_frame(
        &mut input,
        &serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"processId": null, "rootUri": root, "capabilities": {}, "initializationOptions": {"round": {"keep": 3, "seed": 5}}}}),
    );
    let mut progress: Vec<Value> = Vec::new();
    let mut answer = |id: i64, input: &mut std::process::ChildStdin| loop {
        let msg = read_frame(&mut output);
        if msg.get("method").is_some() && msg.get("id").is_some() {
            send_frame(input, &serde_json::json!({"jsonrpc": "2.0", "id": msg["id"], "result": null}));
        } else if msg["method"] == "$/progress" {
            progress.push(msg["params"]["value"].clone());
        } else if msg["id"] == id {
            return msg;
        }
    };
    let init = answer(1, &mut input);
    assert!(init["result"]["capabilities"]["executeCommandProvider"]["commands"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == "socratic.round"));
    send_frame(&mut input, &serde_json::json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}));
    send_frame(
        &mut input,
        &serde_json::json!({"jsonrpc": "2.0", "id": 2, "method": "workspace/executeCommand", "params": {"command": "socratic.round", "arguments": [{"budget": 6}]}}),
    );
    let round = answer(2, &mut input);
    // The user's options: the argument over the initialization options over the defaults.
    let stored = socratic::store::Store::open(&home).unwrap().rounds().unwrap();
    let inputs = &stored.last().unwrap().inputs;
    assert_eq!((inputs.budget, inputs.keep, inputs.seed), (6, 3, 5 + 1));
    assert_eq!(inputs.max_skill_share, socratic::engine::round::DEFAULT_MAX_SKILL_SHARE);
    // One work-done progress: begin, reports with a rising percentage over the steps, end.
    let kinds: Vec<&str> = progress.iter().map(|v| v["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"begin"), "{progress:?}");
    assert_eq!(kinds.last(), Some(&"end"), "{progress:?}");
    let reports: Vec<&Value> = progress.iter().filter(|v| v["kind"] == "report").collect();
    let percentages: Vec<u64> = reports.iter().filter_map(|v| v["percentage"].as_u64()).collect();
    assert!(percentages.windows(2).all(|w| w[0] <= w[1]), "{percentages:?}");
    assert!(percentages.iter().any(|p| *p > 40 && *p < 100), "{percentages:?}");
    assert!(reports.iter().any(|v| v["message"] == "round 1: validate"), "{reports:?}");
    assert!(reports.iter().any(|v| v["message"].as_str().unwrap_or("").starts_with("validating: ")), "{reports:?}");
    assert_eq!(round["result"]["step"], "done", "{round}");
    assert_eq!(round["result"]["number"], 1);
    let kept = round["result"]["kept"].as_array().unwrap().len();
    assert!(kept > 0, "{round}");
    // The end says the round's real counts.
    let end = progress.last().unwrap();
    assert_eq!(
        end["message"].as_str(),
        Some(
            format!(
                "round 1: {} candidates, {} valid, {kept} kept",
                round["result"]["candidates"], round["result"]["valid"]
            )
            .as_str()
        ),
        "{progress:?}"
    );
    // The store agrees: the round the editor ran is the CLI's curriculum.
    let listed = json(&home, &["curriculum", "list", "--json"]);
    assert_eq!(listed["tasks"].as_array().unwrap().len(), kept);
    drop(input);
    let _ = server.kill();
    let _ = server.wait();
}
