//! `socratic export` end to end: real tasks generated in a real git repository (the example
//! repository), verdicts and a finished round in a real store, the binary writing each format,
//! and the outputs checked with git, bash, our importer and a TOML parser.
//!
//! The verdicts are written with the store API (validation itself needs Docker and has its own
//! tests); the export reads them exactly as it reads real ones.

use serde_json::Value;
use socratic::model::{Decision, RejectStage, Round, RoundInputs, RoundStep, Task, TaskStage, Verdict, VerdictOutcome};
use socratic::store::Store;
use socratic::tasks::{generate, GenerateConfig};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::{commit_all, copy_dir, example_repo_source};

const IMAGE: &str = "socratic-env-tallyho:0123456789ab";
const INSTALL: &str = "python3 -m pip install --quiet --break-system-packages -e '.[test]'";

use common::socratic;

fn git(dir: &Path, args: &[&str]) -> Output {
    Command::new("git").arg("-C").arg(dir).args(args).output().expect("run git")
}

fn git_ok(dir: &Path, args: &[&str]) -> String {
    let out = git(dir, args);
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn stdout_json(out: &Output) -> Value {
    assert_eq!(out.status.code(), Some(0), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// A home whose store holds generated tasks of the example repository, their verdicts and a
/// finished round 1 that kept three valid tasks and one invalid one; a fourth valid task was
/// not kept, and an accepted candidate was never validated.
struct Fixture {
    _dir: tempfile::TempDir,
    home: PathBuf,
    repo: PathBuf,
    clean: String,
    tasks: Vec<Task>,
}

impl Fixture {
    fn kept(&self) -> &[Task] {
        &self.tasks[..3]
    }
    fn invalid(&self) -> &Task {
        &self.tasks[3]
    }
    fn valid_not_kept(&self) -> &Task {
        &self.tasks[4]
    }
    fn accepted_unvalidated(&self) -> &Task {
        &self.tasks[5]
    }
}

fn fixture() -> Fixture {
    fixture_in("tallyho")
}

/// The fixture with the repository in a folder named `folder`.
fn fixture_in(folder: &str) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join(folder);
    copy_dir(&example_repo_source(), &repo);
    let clean = commit_all(&repo);
    let (generated, _) = generate(&repo, &GenerateConfig { budget: 12, seed: 3, round: Some(1), ..Default::default() })
        .expect("generate");
    assert!(generated.len() >= 6, "only {} tasks generated", generated.len());
    let home = dir.path().join("home");
    let mut store = Store::open(&home).expect("store");
    store.insert_tasks(&generated).expect("insert tasks");
    let mut tasks = Vec::new();
    for (i, mut task) in generated.into_iter().take(6).enumerate() {
        let file = format!("tests/test_{i}.py");
        let valid = i != 3;
        if i == 5 {
            task.decision = Decision::Accepted;
            store.set_decision(&task.id, Decision::Accepted).expect("accept");
            tasks.push(task);
            continue;
        }
        let verdict = Verdict {
            task_id: task.id.clone(),
            outcome: if valid { VerdictOutcome::Valid } else { VerdictOutcome::Rejected(RejectStage::FailToPass) },
            reason: if valid { "1 fail to pass".into() } else { "no test fails with the bug".into() },
            fail_to_pass: if valid { vec![format!("{file}::test_bug[case-{i}]")] } else { vec![] },
            pass_to_pass: vec![format!("{file}::test_ok"), format!("{file}::TestKeep::test_it's")],
            duration_ms: 10,
        };
        task.fail_to_pass = verdict.fail_to_pass.clone();
        task.pass_to_pass = verdict.pass_to_pass.clone();
        task.image = Some(IMAGE.to_string());
        task.stage = if valid { TaskStage::Scored } else { TaskStage::Invalid("fail-to-pass: none".into()) };
        store.record_verdict(&task, &verdict).expect("verdict");
        tasks.push(task);
    }
    let round = Round {
        number: 1,
        inputs: RoundInputs {
            repo: repo.display().to_string(),
            head: clean.clone(),
            seed: 3,
            budget: 12,
            keep: 4,
            max_skill_share: 1.0,
            trace_ids: vec![],
            skill_versions: Default::default(),
            model_hash: None,
            reference_set: None,
            adapter_hash: None,
        },
        step: RoundStep::Done,
        candidates: 12,
        valid: 4,
        kept: tasks[..4].iter().map(|t| t.id.clone()).collect(),
        timings_ms: Default::default(),
    };
    store.save_round(&round).expect("round");
    // The environment the verdicts came from, as `env build` records it.
    store
        .save_environment(&socratic::model::Environment {
            repo: tasks[0].repo.clone(),
            head: clean.clone(),
            image: IMAGE.into(),
            base_image: "socratic-base:bookworm-0123456789ab".into(),
            install_commands: vec![INSTALL.into()],
            clean: Default::default(),
            durations: Default::default(),
            python_path: None,
            install_notes: vec![],
            coverage: Default::default(),
            build_ms: 1,
            collection_errors: Default::default(),
            repairs: vec![],
            packages: Default::default(),
            pytest_args: vec![],
            flaky: Default::default(),
            recipe_source: Default::default(),
            coverage_note: None,
        })
        .expect("environment");
    Fixture { _dir: dir, home, repo, clean, tasks }
}

/// A detached worktree of `repo` at `commit`.
fn worktree(repo: &Path, commit: &str, at: &Path) {
    git_ok(repo, &["worktree", "add", "-q", "--detach", at.to_str().unwrap(), commit]);
}

/// True when the worktree's files equal `commit`'s tree.
fn tree_equals(dir: &Path, commit: &str) -> bool {
    git(dir, &["diff", "--quiet", commit]).status.success()
}

fn instance_id(task: &Task) -> String {
    format!("tallyho.{}", task.id)
}

#[test]
fn swebench_export_reimports_and_its_gold_patch_fixes_the_bugged_commit() {
    let fx = fixture();
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("tasks.jsonl");
    // The full PASS_TO_PASS list stored on a task is what the export writes, whatever its
    // verdict selected.
    let mut store = Store::open(&fx.home).unwrap();
    let mut full = store.task(&fx.kept()[0].id).unwrap().unwrap();
    full.pass_to_pass.extend(["tests/test_more.py::test_a".to_string(), "tests/test_more.py::test_b".to_string()]);
    store.update_task(&full).unwrap();
    drop(store);
    let mut kept = fx.kept().to_vec();
    kept[0].pass_to_pass = full.pass_to_pass.clone();
    let summary = stdout_json(&socratic(
        &fx.home,
        &["export", "--format", "swebench", out.to_str().unwrap(), "--no-images", "--json"],
    ));
    assert_eq!(summary["images"], serde_json::json!([]), "--no-images builds nothing");
    let want: Vec<String> = fx.kept().iter().map(instance_id).collect();
    assert_eq!(summary["exported"], serde_json::json!(want));
    assert_eq!(summary["source"], "round 1 curriculum");
    let skipped: Vec<&str> =
        summary["skipped"].as_array().unwrap().iter().map(|s| s["task_id"].as_str().unwrap()).collect();
    assert_eq!(skipped, [fx.invalid().id.as_str(), fx.accepted_unvalidated().id.as_str()]);

    let text = std::fs::read_to_string(&out).unwrap();
    let rows: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 3);

    // Our importer reads it back as SWE-bench instances with the same ids, fix and tests.
    let home2 = tempfile::tempdir().unwrap();
    let imported = stdout_json(&socratic(home2.path(), &["traces", "import", out.to_str().unwrap(), "--json"]));
    assert_eq!(imported["imported"]["instances"], 3, "{imported:#}");
    assert_eq!(imported["formats"]["swe-bench"], 1, "{imported:#}");
    let instances = Store::open(home2.path()).unwrap().instances().unwrap();
    for (task, row) in kept.iter().zip(&rows) {
        let inst = instances.iter().find(|i| i.instance_id == instance_id(task)).expect("imported instance");
        assert_eq!(inst.source, socratic::model::SourceFormat::SweBenchInstance);
        // What the harness reads besides the dataset fields.
        assert_eq!(row["image"], format!("socratic-swebench-tallyho:{}", task.id));
        assert_eq!(
            (row["log_parser"].as_str(), row["eval_type"].as_str()),
            (Some("parse_log_pytest_v2"), Some("pass_and_fail"))
        );
        let eval = row["eval_script"].as_str().unwrap();
        assert!(eval.starts_with("#!/bin/bash\nset -uxo pipefail\ncd /testbed\n"), "{eval}");
        for test in task.fail_to_pass.iter().chain(&task.pass_to_pass) {
            assert!(eval.contains(&format!("'{}'", test.replace('\'', "'\\''"))), "eval_script runs {test}: {eval}");
        }
        assert_eq!(inst.gold_patch.as_deref(), row["patch"].as_str());
        assert_eq!(inst.fail_to_pass, task.fail_to_pass);
        assert_eq!(inst.pass_to_pass, task.pass_to_pass);
        assert_eq!(inst.problem_statement.as_deref(), Some(task.problem_statement.as_str()));
        assert_eq!(inst.repo.as_deref(), Some("local/tallyho"));
        assert!(row["FAIL_TO_PASS"].is_string() && row["PASS_TO_PASS"].is_string(), "JSON-encoded strings: {row}");
        assert_eq!(row["environment_setup_commit"], fx.clean.as_str());
        assert_eq!(row["test_patch"], "");

        // base_commit is the bugged commit, on top of the clean one and kept by a ref.
        let base = row["base_commit"].as_str().unwrap();
        assert_eq!(git_ok(&fx.repo, &["rev-parse", &format!("refs/socratic/tasks/{}", task.id)]), base);
        assert_eq!(git_ok(&fx.repo, &["rev-parse", &format!("{base}^")]), fx.clean);
        let wt = out_dir.path().join(format!("wt-{}", task.id));
        worktree(&fx.repo, base, &wt);
        assert!(!tree_equals(&wt, &fx.clean), "the bug is in base_commit");
        // The gold patch applies on the bugged tree and gives back the clean tree.
        let patch = out_dir.path().join(format!("{}.patch", task.id));
        std::fs::write(&patch, inst.gold_patch.as_deref().unwrap()).unwrap();
        git_ok(&wt, &["apply", patch.to_str().unwrap()]);
        assert!(tree_equals(&wt, &fx.clean), "gold patch of {} did not restore the clean tree", task.id);
    }

    // Exporting again gives the same bytes (same commits, same ids).
    let again = out_dir.path().join("again.jsonl");
    stdout_json(&socratic(
        &fx.home,
        &["export", "--format", "swebench", again.to_str().unwrap(), "--no-images", "--json"],
    ));
    assert_eq!(std::fs::read_to_string(&again).unwrap(), text);
}

#[test]
fn swesmith_export_reimports_with_the_bug_patch() {
    let fx = fixture();
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("tasks.json");
    let summary = stdout_json(&socratic(
        &fx.home,
        &["export", "--format", "swesmith", out.to_str().unwrap(), "--valid", "--json"],
    ));
    // --valid: every valid task, kept or not; the invalid and the unvalidated ones stay out.
    let mut want: Vec<String> = fx.kept().iter().chain([fx.valid_not_kept()]).map(instance_id).collect();
    let mut got: Vec<String> =
        summary["exported"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
    want.sort();
    got.sort();
    assert_eq!(got, want);
    let list: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert!(list.iter().all(|i| i["image_name"] == IMAGE && i["FAIL_TO_PASS"].is_array()));

    let home2 = tempfile::tempdir().unwrap();
    let imported = stdout_json(&socratic(home2.path(), &["traces", "import", out.to_str().unwrap(), "--json"]));
    assert_eq!(imported["imported"]["instances"], 4, "{imported:#}");
    let instances = Store::open(home2.path()).unwrap().instances().unwrap();
    for task in fx.kept().iter().chain([fx.valid_not_kept()]) {
        let inst = instances.iter().find(|i| i.instance_id == instance_id(task)).expect("imported instance");
        assert_eq!(inst.source, socratic::model::SourceFormat::SweSmithInstance);
        assert_eq!(inst.bug_patch.as_deref(), Some(task.bug_patch.as_str()));
        assert_eq!(inst.base_commit.as_deref(), Some(fx.clean.as_str()));
        assert_eq!(
            (inst.fail_to_pass.clone(), inst.pass_to_pass.clone()),
            (task.fail_to_pass.clone(), task.pass_to_pass.clone())
        );
        assert_eq!(inst.image_name.as_deref(), Some(IMAGE));
        // The bug patch applies at the clean commit; the fix the importer derives undoes it.
        let wt = out_dir.path().join(format!("wt-{}", task.id));
        worktree(&fx.repo, &fx.clean, &wt);
        let bug = out_dir.path().join(format!("{}.bug", task.id));
        std::fs::write(&bug, &task.bug_patch).unwrap();
        git_ok(&wt, &["apply", bug.to_str().unwrap()]);
        assert!(!tree_equals(&wt, &fx.clean));
        let fix = out_dir.path().join(format!("{}.fix", task.id));
        std::fs::write(&fix, inst.gold_patch.as_deref().expect("derived fix")).unwrap();
        git_ok(&wt, &["apply", fix.to_str().unwrap()]);
        assert!(tree_equals(&wt, &fx.clean));
    }
}

#[test]
fn harbor_export_writes_runnable_task_folders() {
    let fx = fixture();
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("harbor");
    let summary = stdout_json(&socratic(
        &fx.home,
        &["export", "--format", "harbor", out.to_str().unwrap(), "--round", "1", "--json"],
    ));
    assert_eq!(summary["exported"].as_array().unwrap().len(), 3);
    let mut folders: Vec<String> =
        std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().to_string()).collect();
    folders.sort();
    let mut want: Vec<String> = fx.kept().iter().map(instance_id).collect();
    want.push(".socratic-export.json".into());
    want.sort();
    assert_eq!(folders, want);
    want.retain(|n| !n.starts_with('.'));
    for task in fx.kept() {
        let folder = out.join(instance_id(task));
        for file in [
            "instruction.md",
            "task.toml",
            "environment/Dockerfile",
            "environment/bug.patch",
            "environment/socratic-ca.sh",
            "environment/repo/pyproject.toml",
            "tests/test.sh",
            "solution/solve.sh",
        ] {
            assert!(folder.join(file).is_file(), "{} lacks {file}", folder.display());
        }
        for script in ["tests/test.sh", "solution/solve.sh"] {
            let path = folder.join(script);
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o111, 0o111, "{script} executable");
            let check = Command::new("bash").arg("-n").arg(&path).output().unwrap();
            assert!(check.status.success(), "bash -n {script}: {}", String::from_utf8_lossy(&check.stderr));
        }
        let test_sh = std::fs::read_to_string(folder.join("tests/test.sh")).unwrap();
        for test in task.fail_to_pass.iter().chain(&task.pass_to_pass) {
            let quoted = format!("'{}'", test.replace('\'', "'\\''"));
            assert!(test_sh.contains(&quoted), "test.sh runs {test}");
        }
        assert!(test_sh.contains("/logs/verifier/reward.txt"));
        // Portable: a public Python image, the clean tree, the recorded install commands.
        let dockerfile = std::fs::read_to_string(folder.join("environment/Dockerfile")).unwrap();
        assert!(!dockerfile.contains("socratic-env") && !dockerfile.contains("socratic-base"), "{dockerfile}");
        assert!(dockerfile.contains("\nARG BASE_IMAGE=python:3.11-slim\nFROM ${BASE_IMAGE}\n"), "{dockerfile}");
        assert!(dockerfile.contains(&format!("({INSTALL})")), "{dockerfile}");
        let copy = out_dir.path().join(format!("copy-{}", task.id));
        std::fs::create_dir_all(&copy).unwrap();
        git_ok(&copy, &["init", "-q"]);
        copy_dir(&folder.join("environment/repo"), &copy);
        git_ok(&copy, &["add", "-A"]);
        let tree = git_ok(&copy, &["write-tree"]);
        assert_eq!(
            tree,
            git_ok(&fx.repo, &["rev-parse", &format!("{}^{{tree}}", fx.clean)]),
            "repo/ is the clean tree"
        );
        assert_eq!(std::fs::read_to_string(folder.join("environment/bug.patch")).unwrap(), task.bug_patch);
        let instruction = std::fs::read_to_string(folder.join("instruction.md")).unwrap();
        assert!(instruction.starts_with(task.problem_statement.trim_end()));

        // task.toml is TOML (Python's tomllib) with Harbor's sections.
        let toml = Command::new("python3")
            .args(["-c", "import json, sys, tomllib; print(json.dumps(tomllib.load(open(sys.argv[1], 'rb'))))"])
            .arg(folder.join("task.toml"))
            .output()
            .expect("python3");
        assert!(toml.status.success(), "task.toml: {}", String::from_utf8_lossy(&toml.stderr));
        let toml: Value = serde_json::from_slice(&toml.stdout).unwrap();
        assert_eq!(toml["version"], "1.0");
        assert_eq!(toml["metadata"]["task_id"], task.id.as_str());
        assert!(toml["verifier"]["timeout_sec"].is_number() && toml["agent"]["timeout_sec"].is_number());
        assert!(toml["environment"]["memory_mb"].is_number());

        // solve.sh, run against a checkout of the bugged tree, gives back the clean tree.
        let wt = out_dir.path().join(format!("wt-{}", task.id));
        worktree(&fx.repo, &fx.clean, &wt);
        git_ok(&wt, &["apply", folder.join("environment/bug.patch").to_str().unwrap()]);
        assert!(!tree_equals(&wt, &fx.clean));
        let solved =
            Command::new("bash").arg(folder.join("solution/solve.sh")).env("SOCRATIC_REPO_DIR", &wt).output().unwrap();
        assert!(solved.status.success(), "solve.sh: {}", String::from_utf8_lossy(&solved.stderr));
        assert!(tree_equals(&wt, &fx.clean), "solve.sh of {} did not fix the bug", task.id);
    }
    // Exporting again into the same folder replaces what the last export wrote: the folder of a
    // task no longer selected goes, a file someone else put there stays.
    let manifest = |out: &Path| -> Value {
        serde_json::from_slice(&std::fs::read(out.join(".socratic-export.json")).unwrap()).unwrap()
    };
    let folders = |out: &Path| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        names
    };
    assert_eq!(manifest(&out)["tasks"].as_object().unwrap().len(), 3);
    stdout_json(&socratic(&fx.home, &["export", "--format", "harbor", out.to_str().unwrap(), "--valid", "--json"]));
    assert_eq!(folders(&out).len(), 4);
    let extra = instance_id(fx.valid_not_kept());
    std::fs::write(out.join(&extra).join("notes.md"), "mine").unwrap();
    std::fs::write(out.join("README.md"), "mine too").unwrap();
    stdout_json(&socratic(
        &fx.home,
        &["export", "--format", "harbor", out.to_str().unwrap(), "--round", "1", "--json"],
    ));
    let mut want_now = [want.clone(), vec![extra.clone(), "README.md".into()]].concat();
    want_now.sort();
    assert_eq!(folders(&out), want_now);
    let left: Vec<_> = walkdir::WalkDir::new(out.join(&extra))
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().to_path_buf())
        .collect();
    assert_eq!(left, [out.join(&extra).join("notes.md")], "only the file the export did not write is left");
    assert_eq!(manifest(&out)["tasks"].as_object().unwrap().len(), 3);
    // A task folder no export wrote is not replaced.
    let foreign = out_dir.path().join("foreign");
    std::fs::create_dir_all(foreign.join(instance_id(&fx.kept()[0]))).unwrap();
    let o = socratic(&fx.home, &["export", "--format", "harbor", foreign.to_str().unwrap(), "--round", "1"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("was not written by an earlier export"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn errors_name_what_is_wrong() {
    let empty = tempfile::tempdir().unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("x.jsonl");
    let stderr = |o: &Output| String::from_utf8_lossy(&o.stderr).to_string();

    let o = socratic(empty.path(), &["export", "--format", "swebench", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("nothing to export: no round has run yet"), "{}", stderr(&o));
    let o = socratic(empty.path(), &["export", "--format", "swebench", out.to_str().unwrap(), "--valid"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("nothing to export: no valid tasks in the store"), "{}", stderr(&o));
    assert!(!out.exists());

    let fx = fixture();
    let o = socratic(&fx.home, &["export", "--format", "swebench", out.to_str().unwrap(), "--round", "7"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no round 7 in the store (rounds: 1)"), "{}", stderr(&o));

    let unwritable = out_dir.path().join("missing/dir/x.jsonl");
    let o = socratic(&fx.home, &["export", "--format", "swesmith", unwritable.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains(&format!("cannot write {}", unwritable.display())), "{}", stderr(&o));

    let file = out_dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let o = socratic(&fx.home, &["export", "--format", "harbor", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains(&format!("cannot write {}: it is a file", file.display())), "{}", stderr(&o));

    let o = socratic(&fx.home, &["export", "--format", "parquet", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "unknown format is a usage error");
    let o = socratic(&fx.home, &["export", "--format", "swebench", out.to_str().unwrap(), "--save-image"]);
    assert_eq!(o.status.code(), Some(2), "--save-image is for harbor: {}", stderr(&o));
    let o = socratic(&fx.home, &["export", "--format", "harbor", out.to_str().unwrap(), "--no-images", "--save-image"]);
    assert_eq!(o.status.code(), Some(2), "--no-images contradicts --save-image: {}", stderr(&o));
}

#[test]
fn a_control_character_in_the_folder_name_writes_no_line_of_its_own() {
    let fx = fixture_in("tally\nRUN echo forged\rho");
    let out_dir = tempfile::tempdir().unwrap();
    for format in ["harbor", "swebench", "swesmith"] {
        let out = out_dir.path().join(format);
        stdout_json(&socratic(
            &fx.home,
            &["export", "--format", format, out.to_str().unwrap(), "--round", "1", "--no-images", "--json"],
        ));
        for entry in walkdir::WalkDir::new(&out) {
            let entry = entry.unwrap();
            if !entry.file_type().is_file() {
                continue;
            }
            let text = std::fs::read_to_string(entry.path()).unwrap();
            assert!(!text.contains('\r'), "{}: {text}", entry.path().display());
            for line in text.lines() {
                assert!(!line.starts_with("RUN echo forged"), "{}: {text}", entry.path().display());
            }
            if entry.path().ends_with("environment/Dockerfile") {
                assert!(text.contains("local/tally\\nRUN echo forged\\rho"), "escaped, still readable: {text}");
            }
        }
    }
}
