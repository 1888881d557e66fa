//! The Neovim plugin (`editor-extensions/nvim`) end to end: headless Neovim with the plugin on
//! its runtimepath runs `tests/nvim/plugin.lua` against the real `socratic` binary (through the
//! daemon it starts) on a committed copy of the example repository with generated tasks. The
//! script drives the user commands and writes a JSON report; this test checks the report against
//! the store: `:SocraticTasks` lists every task at its line, `:SocraticAccept` / `:SocraticReject`
//! changed the stored status, and `:SocraticRound` shows the round's figures (the store holds a
//! round stopped before its select step, so it finishes without a container engine). A second
//! test runs a whole attempt (`tests/nvim/attempt.lua`) on a real Docker engine: the bug opened
//! from a scratch checkout, failing tests in the quickfix list, the fix, a `resolved` trace that
//! holds the `:!` command, the `:terminal` job and the command of a shell marking its prompt
//! (OSC 133), each with its exit code. The plugin's pure Lua functions are checked by
//! `tests/nvim/plugin_units.lua`, its decoding of results against the protocol schema.

use serde_json::Value;
use socratic::model::{Decision, Round, RoundInputs, RoundStep, TaskStage, Verdict, VerdictOutcome};
use socratic::store::Store;
use socratic::tasks::{generate, GenerateConfig};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

mod common;
use common::{commit_all, copy_dir, example_repo_source};
#[path = "common/nvim.rs"]
mod nvim_bin;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

struct Fixture {
    repo: tempfile::TempDir,
    home: tempfile::TempDir,
    runtime: tempfile::TempDir,
    plugin: tempfile::TempDir,
    file: String,
}

impl Fixture {
    fn new() -> Fixture {
        let (repo, home, runtime, plugin) = (tempdir(), tempdir(), tempdir(), tempdir());
        copy_dir(&example_repo_source(), repo.path());
        commit_all(repo.path());
        // a copy of the plugin: `:helptags` writes into its doc folder
        copy_dir(&root().join("editor-extensions/nvim"), plugin.path());
        let (tasks, _) = generate(repo.path(), &GenerateConfig { budget: 60, ..Default::default() }).expect("generate");
        let mut counts = std::collections::BTreeMap::<String, usize>::new();
        for t in &tasks {
            *counts.entry(t.site.file.clone()).or_default() += 1;
        }
        let file = counts
            .iter()
            .max_by_key(|(f, n)| (**n, std::cmp::Reverse((*f).clone())))
            .map(|(f, _)| f.clone())
            .expect("a file");
        assert!(counts[&file] >= 3, "the fixture needs a file with three tasks: {counts:?}");
        let mut store = Store::open(home.path()).expect("store");
        store.insert_tasks(&tasks).expect("insert");
        round_before_select(&mut store, repo.path(), &tasks, &file);
        Fixture { repo, home, runtime, plugin, file }
    }

    fn socratic(&self, args: &[&str]) -> Output {
        common::socratic_with_runtime(self.home.path(), self.runtime.path(), args)
    }

    fn decision(&self, id: &str) -> Decision {
        Store::open(self.home.path()).expect("store").task(id).expect("task").expect("stored").decision
    }
}

/// Round 1 stopped before its select step: three tasks outside `file` (the one the script
/// works in) validated as round-1 tasks, so selecting keeps some of them with no container.
fn round_before_select(store: &mut Store, repo: &Path, tasks: &[socratic::model::Task], file: &str) {
    let mut round_tasks: Vec<_> = tasks.iter().filter(|t| t.site.file != file).take(3).cloned().collect();
    assert_eq!(round_tasks.len(), 3, "the fixture needs three tasks outside {file}");
    for t in &mut round_tasks {
        t.round = Some(1);
        t.stage = TaskStage::Scored;
        let verdict = Verdict {
            task_id: t.id.clone(),
            outcome: VerdictOutcome::Valid,
            reason: "valid".into(),
            fail_to_pass: vec!["tests/test_x.py::test_x".into()],
            pass_to_pass: vec![],
            duration_ms: 1,
        };
        store.record_verdict(t, &verdict).expect("verdict");
    }
    let git = git2::Repository::open(repo).expect("repo");
    let head = git.head().expect("head").peel_to_commit().expect("commit").id();
    store
        .save_round(&Round {
            number: 1,
            inputs: RoundInputs {
                repo: repo.canonicalize().expect("canonical").display().to_string(),
                head: head.to_string(),
                seed: 1,
                budget: 3,
                keep: 2,
                max_skill_share: 1.0,
                trace_ids: vec![],
                skill_versions: Default::default(),
                model_hash: None,
                reference_set: None,
                adapter_hash: None,
            },
            step: RoundStep::Select,
            candidates: 3,
            valid: 3,
            kept: vec![],
            timings_ms: Default::default(),
        })
        .expect("save round");
}

impl Drop for Fixture {
    fn drop(&mut self) {
        // the daemon `socratic lsp` started
        let _ = self.socratic(&["daemon", "stop"]);
    }
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

fn nvim_script(nvim: &Path, script: &str) -> Command {
    let mut c = Command::new("timeout");
    c.arg("600")
        .arg(nvim)
        .args(["--headless", "--clean", "-l"])
        .arg(root().join("tests/nvim").join(script))
        .stdin(Stdio::null());
    c
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("{key} missing in {v}"))
}

#[test]
fn the_plugin_lists_accepts_and_rejects() {
    let Some(nvim) = nvim_bin::nvim_or_skip() else { return };
    let fx = Fixture::new();
    let repo = fx.repo.path().canonicalize().expect("canonical");
    let report_path = fx.runtime.path().join("report.json");
    let before = Store::open(fx.home.path()).expect("store").tasks().expect("tasks");
    let out = nvim_script(&nvim, "plugin.lua")
        .env("PLUGIN", fx.plugin.path())
        .env("SOCRATIC_BIN", env!("CARGO_BIN_EXE_socratic"))
        .env("SOCRATIC_HOME", fx.home.path())
        .env("REPO", &repo)
        .env("FILE", &fx.file)
        .env("REPORT", &report_path)
        .env("XDG_RUNTIME_DIR", fx.runtime.path())
        .output()
        .expect("run nvim");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("OK plugin"),
        "status {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    let report: Value = serde_json::from_slice(&std::fs::read(&report_path).expect("report")).expect("report json");

    // :SocraticTasks: every stored task of the repository, at its line, in its file
    let stored = &before;
    let listed = report["tasks_before"].as_array().expect("tasks_before");
    let listed_ids: BTreeSet<&str> = listed.iter().map(|r| str_of(r, "id")).collect();
    let stored_ids: BTreeSet<&str> = stored.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(listed_ids, stored_ids, "the quickfix list holds every task");
    for row in listed {
        let task = stored.iter().find(|t| t.id == str_of(row, "id")).expect("stored");
        assert_eq!(row["lnum"].as_u64(), Some(task.site.start_line as u64 + 1), "{row}");
        assert_eq!(row["col"].as_u64(), Some(task.site.start_col as u64 + 1), "{row}");
        assert_eq!(Path::new(str_of(row, "file")), repo.join(&task.site.file), "{row}");
        assert!(str_of(row, "text").starts_with(&format!("[{}] ", task.state_word())), "{row}");
    }
    assert_eq!(report["qf_window"], Value::Bool(true), "the quickfix window opened");

    // :SocraticAccept (cursor) and :SocraticReject ID
    let (accepted, rejected) = (str_of(&report, "accepted"), str_of(&report, "rejected"));
    assert_eq!(str_of(&report, "under_cursor"), accepted);
    assert_ne!(accepted, rejected);
    assert_eq!(fx.decision(accepted), Decision::Accepted);
    assert_eq!(fx.decision(rejected), Decision::Rejected);
    let after = report["tasks_after"].as_array().expect("tasks_after");
    let after_status = |id: &str| after.iter().find(|r| str_of(r, "id") == id).map(|r| str_of(r, "status").to_string());
    assert_eq!(after_status(accepted).as_deref(), Some("accepted"));
    assert_eq!(after_status(rejected), None, "rejected tasks are left out of the list");
    assert_eq!(after.len(), listed.len() - 1);

    // :checkhealth socratic and :help socratic
    let health = str_of(&report, "health");
    let version = String::from_utf8_lossy(&fx.socratic(&["--version"]).stdout).trim().to_string();
    assert!(health.contains(&format!("OK {version}")), "{health}");
    assert!(health.contains("daemon: running pid="), "{health}");
    assert!(health.contains("Docker"), "{health}");
    assert!(str_of(&report, "help").ends_with("doc/socratic.txt"), "{report}");
    assert!(str_of(&report, "help_line").contains("*socratic*"), "{report}");

    // :SocraticRound: the round finished, and the plugin showed its figures
    let rounds = Store::open(fx.home.path()).expect("store").rounds().expect("rounds");
    let round = rounds.last().expect("a round");
    assert_eq!((round.number, round.step), (1, RoundStep::Done), "{round:?}");
    assert!(!round.kept.is_empty(), "{round:?}");
    let counts = format!("round 1: {} candidates, {} valid, {} kept", round.candidates, round.valid, round.kept.len());
    assert_eq!(str_of(&report, "round_message"), format!("socratic: {counts}"), "{report}");
    // the round's $/progress as the plugin showed it: started, the select step, the real counts
    let progress: Vec<&str> =
        report["progress"].as_array().expect("progress").iter().filter_map(Value::as_str).collect();
    assert_eq!(progress.first(), Some(&"socratic: round: started"), "{progress:?}");
    assert_eq!(progress.last().copied(), Some(format!("socratic: round: {counts}").as_str()), "{progress:?}");
    let select =
        progress.iter().position(|m| m.starts_with("socratic: round: round 1: select")).expect("the select step");
    assert!(select > 0 && select < progress.len() - 1, "{progress:?}");
}

#[test]
fn the_plugins_pure_functions() {
    let Some(nvim) = nvim_bin::nvim_or_skip() else { return };
    let out = nvim_script(&nvim, "plugin_units.lua")
        .env("PLUGIN", root().join("editor-extensions/nvim"))
        .env("SCHEMA", root().join("editor-extensions/protocol/socratic-protocol.schema.json"))
        .output()
        .expect("run nvim");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("OK units"),
        "status {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A whole attempt in Neovim on a real Docker engine: the example repository validated in
/// containers, `:SocraticAttempt` on a valid task opens the bug, `:SocraticAttemptTest` lists
/// the failing tests at their `def` lines, the buffer edited back to the clean code and saved
/// passes them, `:SocraticAttemptFinish` stores a trace graded `resolved`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plugin_attempts_a_task_to_a_resolved_trace() {
    let Some(nvim) = nvim_bin::nvim_or_skip() else { return };
    let engine =
        socratic::sandbox::Engine::connect("tests").await.expect("a Docker engine must be running (see .ci/run)");
    let dir = tempdir();
    let example = common::validated_example_home(dir.path(), &engine, 6, 5).await;
    let runtime = tempdir();
    let stored = Store::open(&example.home).expect("store").tasks().expect("tasks");
    let task = stored
        .iter()
        .find(|t| !t.fail_to_pass.is_empty() && matches!(t.stage, TaskStage::Valid))
        .expect("a valid task")
        .clone();
    let report_path = runtime.path().join("report.json");
    let started = std::time::Instant::now();
    let out = nvim_script(&nvim, "attempt.lua")
        .env("PLUGIN", root().join("editor-extensions/nvim"))
        .env("SOCRATIC_BIN", env!("CARGO_BIN_EXE_socratic"))
        .env("SOCRATIC_HOME", &example.home)
        .env("REPO", &example.repo)
        .env("FILE", &task.site.file)
        .env("TASK", &task.id)
        .env("REPORT", &report_path)
        .env("XDG_RUNTIME_DIR", runtime.path())
        .output()
        .expect("run nvim");
    let seconds = started.elapsed().as_secs_f64();
    let _ = common::socratic_with_runtime(&example.home, runtime.path(), &["daemon", "stop"]);
    let _ = engine.remove_image(&example.env.image).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("OK attempt"),
        "status {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("the attempt in Neovim took {seconds:.1} s");
    let report: Value = serde_json::from_slice(&std::fs::read(&report_path).expect("report")).expect("report json");

    // the bug in front of the user: the checkout's file in a new tab, the cursor on a line the bug wrote
    let attempt_root = PathBuf::from(str_of(&report["attempt"], "root"));
    assert!(attempt_root.starts_with(example.home.canonicalize().expect("home")), "{report}");
    assert_eq!(Path::new(str_of(&report, "buffer")), attempt_root.join(&task.site.file));
    assert_eq!((report["new_tab"].as_bool(), report["attached"].as_bool()), (Some(true), Some(true)), "{report}");
    let added: Vec<&str> =
        task.bug_patch.lines().filter(|l| l.starts_with('+') && !l.starts_with("+++")).map(|l| &l[1..]).collect();
    let cursor_text = str_of(&report, "cursor_text");
    assert!(added.is_empty() || added.contains(&cursor_text), "{cursor_text:?} is not one of {added:?}");
    let problem: Vec<&str> = report["problem"].as_array().expect("problem").iter().filter_map(Value::as_str).collect();
    let first = task.problem_statement.lines().next().unwrap_or("");
    assert!(problem.contains(&first), "{problem:?}");
    let git = git2::Repository::open(&attempt_root).expect("the checkout is a repository");
    let mut walk = git.revwalk().expect("revwalk");
    walk.push_head().expect("head");
    assert_eq!(walk.count(), 1, "no history holds the fix");

    // the failing tests at their def lines, then none
    let failing = report["failing"].as_array().expect("failing");
    let listed: BTreeSet<&str> = failing.iter().map(|i| str_of(i, "test")).collect();
    assert_eq!(listed, task.fail_to_pass.iter().map(String::as_str).collect(), "{report}");
    for item in failing {
        let text = std::fs::read_to_string(str_of(item, "file")).expect("test file");
        let line = text.lines().nth(item["lnum"].as_u64().expect("lnum") as usize - 1).unwrap_or("");
        let name = str_of(item, "test").rsplit("::").next().unwrap_or("").split('[').next().unwrap_or("");
        assert!(line.trim_start().starts_with(&format!("def {name}(")), "{line:?} for {item}");
    }
    assert!(str_of(&report, "failing_title").contains("tests failed"), "{report}");
    assert_eq!(report["passing"].as_array().map(Vec::len), Some(0), "{report}");
    assert!(str_of(&report, "passing_title").contains("tests passed"), "{report}");

    // the verdict and the stored trace
    let verdict = &report["verdict"];
    assert_eq!((str_of(verdict, "label"), verdict["resolved"].as_bool()), ("resolved", Some(true)), "{report}");
    assert!(str_of(&report, "verdict_message").contains("graded resolved"), "{report}");
    assert_eq!(report["attempt_after"], Value::Null);
    let trace =
        Store::open(&example.home).expect("store").trace(str_of(verdict, "trace")).expect("read").expect("stored");
    assert_eq!(trace.trace.source, socratic::model::SourceFormat::Editor);
    assert_eq!(trace.trace.label.outcome, socratic::model::Outcome::Resolved);
    assert_eq!(trace.trace.task.instance_id.as_deref(), Some(task.id.as_str()));
    assert!(trace.trace.final_patch.as_deref().is_some_and(|p| !p.is_empty()));
    let events = serde_json::to_value(&trace.trace.events).expect("events").to_string();
    for want in [format!("opened {}", task.site.file), format!("saved {}", task.site.file)] {
        assert!(events.contains(&want), "{want} in {events}");
    }
    let kinds: Vec<&str> = trace.trace.events.iter().map(|e| e.kind()).collect();
    assert!(kinds.contains(&"edit"), "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| **k == "test_run").count(), 2, "{kinds:?}");
    assert_eq!(report["shell_error"].as_i64(), Some(4));
    let commands: Vec<(String, Option<i32>)> = trace
        .trace
        .events
        .iter()
        .filter_map(|e| match e {
            socratic::model::Event::Command { command, exit_code, .. } => Some((command.clone(), *exit_code)),
            _ => None,
        })
        .collect();
    assert_eq!(
        commands,
        vec![
            ("echo attempt-check; exit 4".to_string(), Some(4)),
            ("sh -c 'exit 5'".to_string(), Some(5)),
            ("echo integrated".to_string(), Some(7)),
        ],
        "{events}"
    );
}
