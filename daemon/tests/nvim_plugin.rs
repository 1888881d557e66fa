//! The Neovim plugin (`editor-extensions/nvim`) end to end: headless Neovim with the plugin on
//! its runtimepath runs `tests/nvim/plugin.lua` against the real `socratic` binary (through the
//! daemon it starts) on a committed copy of the example repository with generated tasks. The
//! script drives the user commands and writes a JSON report; this test checks the report against
//! the store: `:SocraticTasks` lists every task at its line, `:SocraticAccept` / `:SocraticReject`
//! changed the stored status, and the attempt's trace holds the `:!` command, the `:terminal`
//! job and the command of a shell marking its prompt (OSC 133), each with its exit code, and
//! `:SocraticRound` shows the round's figures (the store holds a round stopped before its select
//! step, so it finishes without a container engine). The plugin's pure Lua functions are checked
//! by `tests/nvim/plugin_units.lua`, its decoding of results against the protocol schema.

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
    c.arg("180")
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
fn the_plugin_lists_accepts_rejects_and_records_an_attempt() {
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
    let (accepted, rejected, attempted) =
        (str_of(&report, "accepted"), str_of(&report, "rejected"), str_of(&report, "attempt"));
    assert_eq!(str_of(&report, "under_cursor"), accepted);
    assert_ne!(accepted, rejected);
    assert_eq!(fx.decision(accepted), Decision::Accepted);
    assert_eq!(fx.decision(rejected), Decision::Rejected);
    assert_eq!(fx.decision(attempted), Decision::None);
    let after = report["tasks_after"].as_array().expect("tasks_after");
    let after_status = |id: &str| after.iter().find(|r| str_of(r, "id") == id).map(|r| str_of(r, "status").to_string());
    assert_eq!(after_status(accepted).as_deref(), Some("accepted"));
    assert_eq!(after_status(rejected), None, "rejected tasks are left out of the list");
    assert_eq!(after.len(), listed.len() - 1);

    // the attempt's trace: the three commands with their exit codes
    assert_eq!(report["shell_error"].as_i64(), Some(3));
    let trace_id = str_of(&report, "trace");
    let shown = fx.socratic(&["traces", "show", trace_id, "--json"]);
    assert!(shown.status.success(), "{}", String::from_utf8_lossy(&shown.stderr));
    let trace: Value = serde_json::from_slice(&shown.stdout).expect("trace json");
    assert_eq!(trace["task"]["instance_id"].as_str(), Some(attempted), "{trace}");
    let commands: Vec<(String, Option<i64>)> = trace["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| matches!(e["type"].as_str(), Some("command" | "test_run")))
        .map(|e| (str_of(e, "command").to_string(), e["exit_code"].as_i64()))
        .collect();
    assert_eq!(
        commands,
        vec![
            ("printf socratic-check; exit 3".to_string(), Some(3)),
            ("sh -c 'exit 5'".to_string(), Some(5)),
            ("echo integrated".to_string(), Some(7)),
        ],
        "{trace}"
    );

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
    assert_eq!(
        str_of(&report, "round_message"),
        format!("socratic: round 1: {} candidates, {} valid, {} kept", round.candidates, round.valid, round.kept.len()),
        "{report}"
    );
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
