//! The LM Solver (`solve --solver lm`) end to end: a real round on the example repository, real
//! Docker containers, the tiny model written by `socratic model tiny` (random weights: it knows
//! nothing until an adapter teaches it). The library entry point (`lm_solver::attempt_tasks`) is
//! deterministic for a seed; an answer that is no change (the random model's diff, an adapter
//! trained to answer an empty line) is graded `no-patch`, not an error, and stored as a trace
//! with its prompt and completion; a tiny model trained by `socratic train --answer line` to
//! overfit the curriculum's one-line fixes then resolves those tasks through `solve --solver
//! lm`, the others staying unresolved. Prints the LM Solver's tasks/s on this CPU.

use serde_json::Value;
use socratic::engine::lm_solver::{self, Decode, LmConfig};
use socratic::engine::progress::Progress;
use socratic::model::{Event, Outcome, Task};
use socratic::store::Store;
use socratic::train::data::{single_line_fix, AnswerFormat};
use std::path::Path;
use std::time::Instant;

mod common;
use common::{commit_all, copy_dir, example_repo_source, socratic, stdout_json};

fn ok_json(home: &Path, args: &[&str]) -> Value {
    let out = socratic(home, args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "socratic {args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout_json(&out)
}

/// The curriculum's tasks, and the ids of those `export --format sft --answer line` writes.
fn curriculum(home: &Path, dir: &Path) -> (Vec<Task>, Vec<String>) {
    let store = Store::open(home).unwrap();
    let round = store.rounds().unwrap().into_iter().last().expect("a round");
    let tasks = store.tasks_by_id(&round.kept).unwrap();
    let rows = dir.join("line.jsonl");
    let summary = ok_json(home, &["export", "--format", "sft", rows.to_str().unwrap(), "--answer", "line", "--json"]);
    let ids: Vec<String> = summary["exported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().rsplit('.').next().unwrap().to_string())
        .collect();
    (tasks, ids)
}

fn config(model: &Path, adapter: Option<&Path>, answer: AnswerFormat) -> LmConfig {
    LmConfig {
        model: model.to_path_buf(),
        adapter: adapter.map(Path::to_path_buf),
        answer,
        max_new_tokens: 48,
        max_len: 256,
        ..LmConfig::default()
    }
}

#[test]
fn the_lm_solver_is_seeded_grades_non_answers_no_patch_and_resolves_what_it_was_trained_on() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let repo = root.join("tallyho");
    copy_dir(&example_repo_source(), &repo);
    commit_all(&repo);
    let home = root.join("home");
    let traces = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/traces");
    assert!(socratic(&home, &["traces", "import", traces.to_str().unwrap()]).status.success());
    ok_json(&home, &["round", "--repo", repo.to_str().unwrap(), "--budget", "40", "--keep", "16", "--json"]);
    let (tasks, line_ids) = curriculum(&home, root);
    assert!(line_ids.len() >= 4, "the curriculum has {} one-line fixes: {line_ids:?}", line_ids.len());
    let model = root.join("tiny");
    assert!(socratic(&home, &["model", "tiny", model.to_str().unwrap()]).status.success());

    // 1. The library entry point: same seed, same completions; the random model's diff answers
    // are no change, graded no-patch, each stored as a trace holding prompt and completion.
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let line_tasks: Vec<Task> = tasks.iter().filter(|t| line_ids.contains(&t.id)).take(2).cloned().collect();
    let attempts = |cfg: &LmConfig, tasks: &[Task]| {
        rt.block_on(async {
            let mut store = Store::open(&home).unwrap();
            let engine = socratic::engine::environment::connect(&store).await.unwrap();
            lm_solver::attempt_tasks(&mut store, &home, &engine, cfg, tasks, &Progress::none()).await.unwrap()
        })
    };
    let diff_cfg = config(&model, None, AnswerFormat::Diff);
    let first = attempts(&diff_cfg, &line_tasks[..1]);
    let again = attempts(&diff_cfg, &line_tasks[..1]);
    assert_eq!(first[0].completion, again[0].completion, "same seed, same completion");
    assert!(!first[0].completion.is_empty());
    assert_eq!(first[0].report.outcome, Outcome::NoPatch, "random bytes are no diff: {:?}", first[0].completion);
    assert!(first[0].patch.is_empty() && !first[0].resolved && first[0].resolved_sample.is_none());
    let sampled = LmConfig { temperature: 1.0, seed: 11, ..diff_cfg.clone() };
    let other = attempts(&sampled, &line_tasks[..1]);
    assert_ne!(other[0].completion, first[0].completion, "sampling with another seed writes another answer");
    let store = Store::open(&home).unwrap();
    let trace = store.trace(&first[0].trace_id).unwrap().expect("the attempt is stored as a trace").trace;
    let texts: Vec<&str> = trace
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Message { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert!(texts.iter().any(|t| t.contains("Write the fix as a unified diff.")), "the prompt is in the trace");
    assert!(texts.contains(&first[0].completion.as_str()), "the completion is in the trace");
    assert!(trace.final_patch.is_none());
    assert_eq!(trace.model.as_deref(), Some(lm_solver::name_of(&model, None).unwrap().as_str()));
    drop(store);

    // 2. An adapter that answers an empty line: every `line` sample is no change, graded
    // no-patch, nothing fails.
    let rows = std::fs::read_to_string(root.join("line.jsonl")).unwrap();
    let empty_rows: String = rows
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            v["messages"][2]["content"] = Value::from("\n");
            v.to_string() + "\n"
        })
        .collect();
    let empty_data = root.join("empty.jsonl");
    std::fs::write(&empty_data, empty_rows).unwrap();
    let empty_adapter = root.join("empty-adapter");
    let train = |data: Option<&Path>, out: &Path, steps: &str| {
        let mut args = vec![
            "train",
            "--model",
            model.to_str().unwrap(),
            "--adapter-out",
            out.to_str().unwrap(),
            "--answer",
            "line",
            "--max-len",
            "256",
            "--steps",
            steps,
            "--batch",
            "6",
            "--lr",
            "1e-2",
            "--checkpoint-every",
            "0",
            "--json",
        ];
        if let Some(d) = data {
            args.extend(["--data", d.to_str().unwrap()]);
        }
        ok_json(&home, &args)
    };
    train(Some(&empty_data), &empty_adapter, "30");
    let empty = attempts(&config(&model, Some(&empty_adapter), AnswerFormat::Line), &line_tasks);
    for a in &empty {
        assert_eq!(a.report.outcome, Outcome::NoPatch, "{a:?}");
        assert!(a.completion.trim().is_empty() && a.samples <= 1, "{a:?}");
    }

    // 3. Overfit the one-line fixes, then resolve those tasks end to end: every one whose fixed
    // line fault localisation reaches within the samples.
    let adapter = root.join("adapter");
    let trained = train(None, &adapter, "150");
    assert_eq!(trained["examples"].as_u64(), Some(line_ids.len() as u64), "{trained}");
    assert!(trained["last_loss"].as_f64().unwrap() < 0.05, "{trained}");
    let name = lm_solver::name_of(&model, Some(&adapter)).unwrap();
    assert!(name.starts_with("lm:") && name.contains('+'), "{name}");
    let samples = 8;
    let solve = || {
        ok_json(
            &home,
            &[
                "solve",
                "--solver",
                "lm",
                "--model",
                model.to_str().unwrap(),
                "--adapter",
                adapter.to_str().unwrap(),
                "--answer",
                "line",
                "--samples",
                &samples.to_string(),
                "--max-new-tokens",
                "96",
                "--max-len",
                "256",
                "--json",
            ],
        )
    };
    let started = Instant::now();
    let summary = solve();
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(summary["solver"].as_str(), Some(name.as_str()));
    let store = Store::open(&home).unwrap();
    let results = store.solve_results_of(summary["round"].as_u64().unwrap() as u32, &name).unwrap();
    assert_eq!(results.len(), tasks.len());
    let mut reachable = 0;
    let mut reached_and_resolved = 0;
    for r in &results {
        let task = tasks.iter().find(|t| t.id == r.task_id).unwrap();
        if !line_ids.contains(&r.task_id) {
            assert_ne!(r.report.outcome, Outcome::Resolved, "{} has no one-line fix to learn", r.task_id);
            continue;
        }
        let fixed = single_line_fix(&socratic::diff::reverse(&task.bug_patch).unwrap()).unwrap().line;
        let trace = store.trace(&r.trace_id).unwrap().unwrap().trace;
        let marked: Vec<u32> = trace
            .events
            .iter()
            .find_map(|e| match e {
                Event::Message { text, .. } if text.starts_with("lines to mark") => Some(text.clone()),
                _ => None,
            })
            .map(|t| {
                let list = t.rsplit(": ").next().unwrap().to_string();
                list.split(", ").filter_map(|n| n.parse().ok()).collect()
            })
            .unwrap_or_default();
        if marked.iter().take(samples).any(|l| *l == fixed) {
            reachable += 1;
            if r.report.outcome != Outcome::Resolved {
                // A tiny adapter overfits most, not always all, of its examples.
                eprintln!("{} was trained on (line {fixed}) and not resolved: {:?}", r.task_id, r.report.outcome);
                continue;
            }
            reached_and_resolved += 1;
            assert!(!r.diff.is_empty() && trace.final_patch.is_some());
            let roles: Vec<&str> = trace.messages.iter().map(|m| m.role.as_str()).collect();
            assert_eq!(roles.last(), Some(&"assistant"), "the resolving conversation is kept: {roles:?}");
            assert!(roles.contains(&"user"), "{roles:?}");
        }
    }
    // Which kept tasks the Ochiai ranking reaches within the samples depends on the round's
    // candidates; the check above is per task, this one only keeps it from passing vacuously.
    assert!(reachable >= 2, "only {reachable} trained tasks have their fixed line among the marked ones");
    assert!(
        reached_and_resolved * 2 >= reachable && reached_and_resolved >= 2,
        "{reached_and_resolved} of the {reachable} reachable trained tasks resolved"
    );
    // Those conversations are what `train --method rft` trains on, in the same answer format.
    let round = summary["round"].as_u64().unwrap().to_string();
    let rft_adapter = root.join("rft-adapter");
    let rft = ok_json(
        &home,
        &[
            "train",
            "--model",
            model.to_str().unwrap(),
            "--adapter-out",
            rft_adapter.to_str().unwrap(),
            "--method",
            "rft",
            "--round",
            &round,
            "--max-len",
            "256",
            "--steps",
            "2",
            "--checkpoint-every",
            "0",
            "--json",
        ],
    );
    let resolved = summary["by_outcome"]["resolved"].as_u64().unwrap();
    assert_eq!(rft["conversations"].as_u64(), Some(resolved), "{rft}");
    let pass_at: u64 = summary["resolved_at_sample"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(Some(pass_at), summary["by_outcome"]["resolved"].as_u64(), "{summary}");
    eprintln!(
        "LM Solver (tiny model + adapter, CPU, line answers, up to {samples} samples): {} tasks in {seconds:.1} s = {:.3} tasks/s; resolved {} (by sample {})",
        tasks.len(),
        tasks.len() as f64 / seconds,
        summary["by_outcome"]["resolved"],
        summary["resolved_at_sample"]
    );
    drop(store);

    // 4. Candidate decoding: the same adapter ranks the catalogue's one-line repairs of the
    // ranked lines; its pass@1 is the best one, graded like any answer. A task whose fix it ranks
    // first is resolved by that one sample.
    let one_line: Vec<Task> = tasks.iter().filter(|t| line_ids.contains(&t.id)).cloned().collect();
    let ranking = LmConfig { decode: Decode::Candidates, ..config(&model, Some(&adapter), AnswerFormat::Line) };
    let ranked = attempts(&ranking, &one_line);
    let mut first = 0;
    for a in &ranked {
        let n = a.candidates.unwrap_or(0);
        assert!(a.samples <= 1 && a.samples <= n, "{a:?}");
        assert!(a.fix_rank.is_none_or(|r| r >= 1 && r <= n), "{a:?}");
        if a.fix_rank == Some(1) {
            first += 1;
            assert_eq!(a.report.outcome, Outcome::Resolved, "the fix ranked first resolves: {a:?}");
        }
    }
    assert!(first >= 1, "the trained adapter ranks no fix first: {ranked:?}");
    let store = Store::open(&home).unwrap();
    let scored = ranked.iter().find(|a| a.candidates.is_some_and(|n| n > 0)).expect("some task has candidates");
    let trace = store.trace(&scored.trace_id).unwrap().unwrap().trace;
    assert!(
        trace
            .events
            .iter()
            .any(|e| matches!(e, Event::Message { text, .. } if text.contains("candidate repairs scored"))),
        "the ranking is in the trace"
    );
    drop(store);
    // A second run of the same Solver on the same round has nothing left to do.
    let again = solve();
    assert_eq!((again["attempted"].as_u64(), again["already_done"].as_u64()), (Some(0), Some(tasks.len() as u64)));
}

#[test]
fn bad_lm_flags_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let err = |args: &[&str]| {
        let out = socratic(&home, args);
        assert_ne!(out.status.code(), Some(0), "{args:?} should fail");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let e = err(&["solve", "--solver", "lm"]);
    assert!(e.contains("--solver lm needs --model DIR"), "{e}");
    let missing = dir.path().join("nothing");
    let e = err(&["solve", "--solver", "lm", "--model", missing.to_str().unwrap()]);
    assert!(e.contains("config.json"), "{e}");
    let model = dir.path().join("tiny");
    assert!(socratic(&home, &["model", "tiny", model.to_str().unwrap()]).status.success());
    let m = model.to_str().unwrap();
    let e = err(&["solve", "--solver", "lm", "--model", m, "--samples", "0"]);
    assert!(e.contains("--samples must be at least 1"), "{e}");
    let e = err(&["solve", "--solver", "lm", "--model", m, "--top-p", "1.5"]);
    assert!(e.contains("--top-p 1.5"), "{e}");
    let e = err(&["solve", "--solver", "lm", "--model", m, "--adapter", missing.to_str().unwrap()]);
    assert!(e.contains("adapter_config.json"), "{e}");
    let e = err(&["solve", "--solver", "lm", "--model", m, "--answer", "diff", "--decode", "candidates"]);
    assert!(e.contains("--decode candidates needs a marked-line answer format"), "{e}");
    let e = err(&["solve", "--solver", "lm", "--model", m, "--answer", "patch"]);
    assert!(e.contains("patch") && e.contains("line"), "{e}");
    // A valid Solver with no round to attempt says so.
    let e = err(&["solve", "--solver", "lm", "--model", m]);
    assert!(e.contains("no finished round"), "{e}");
}
