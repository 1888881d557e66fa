//! Helpers shared by the end-to-end tests: copying a folder and committing it as a real git
//! repository.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The example repository shipped with the project (`tests/example_repo`).
pub fn example_repo_source() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/example_repo")
}

/// Copy a folder tree, leaving out Python caches.
pub fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.expect("walk");
        let rel = entry.path().strip_prefix(from).expect("prefix");
        if rel.components().any(|c| matches!(c.as_os_str().to_str(), Some("__pycache__" | ".pytest_cache"))) {
            continue;
        }
        let dest = to.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&dest).expect("mkdir");
        } else {
            std::fs::copy(entry.path(), &dest).expect("copy");
        }
    }
}

/// `git init` + add everything + commit; returns the commit id.
pub fn commit_all(root: &Path) -> String {
    let repo = git2::Repository::init(root).expect("init");
    let mut index = repo.index().expect("index");
    index.add_all(["*"], git2::IndexAddOption::DEFAULT, None).expect("add");
    index.write().expect("write index");
    let tree = repo.find_tree(index.write_tree().expect("tree")).expect("find tree");
    let sig = git2::Signature::now("Test", "test@example.com").expect("sig");
    repo.commit(Some("HEAD"), &sig, &sig, "initial", &tree, &[]).expect("commit").to_string()
}

/// A finished round of repository `/r` that kept `kept` (for tests that need a curriculum).
pub fn finished_round(number: u32, kept: &[&str]) -> socratic::model::Round {
    use socratic::model::{Round, RoundInputs, RoundStep};
    Round {
        number,
        inputs: RoundInputs {
            repo: "/r".into(),
            head: "c".into(),
            seed: 0,
            budget: 1,
            keep: 1,
            max_skill_share: 1.0,
            trace_ids: vec![],
            skill_versions: Default::default(),
            model_hash: None,
            reference_set: None,
            adapter_hash: None,
        },
        step: RoundStep::Done,
        candidates: 0,
        valid: 0,
        kept: kept.iter().map(|s| s.to_string()).collect(),
        timings_ms: Default::default(),
    }
}

/// The `socratic` binary under test with `--home HOME` and `args`, stdin closed.
pub fn socratic_cmd(home: &Path, args: &[&str]) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_socratic"));
    c.arg("--home").arg(home).args(args).stdin(std::process::Stdio::null());
    c
}

/// Run `socratic --home HOME args...` and collect its output.
pub fn socratic(home: &Path, args: &[&str]) -> std::process::Output {
    socratic_cmd(home, args).output().expect("run socratic")
}

/// Run `socratic` with its daemon socket under `runtime` (`XDG_RUNTIME_DIR`).
pub fn socratic_with_runtime(home: &Path, runtime: &Path, args: &[&str]) -> std::process::Output {
    socratic_cmd(home, args).env("XDG_RUNTIME_DIR", runtime).output().expect("run socratic")
}

/// A command's stdout as JSON (the test fails with the text when it is not).
pub fn stdout_json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

/// What `validated_example_home` made, inside the folder it was given.
pub struct ValidatedExample {
    pub home: PathBuf,
    pub repo: PathBuf,
    pub env: socratic::model::Environment,
    /// Candidates found valid.
    pub valid: usize,
}

/// A home whose store holds the example repository's environment and `budget` candidates
/// (seed `seed`) validated in containers, at least two of them valid: the start of every
/// export-to-a-real-harness test.
pub async fn validated_example_home(
    dir: &Path,
    engine: &socratic::sandbox::Engine,
    budget: usize,
    seed: u64,
) -> ValidatedExample {
    use socratic::sandbox::image::{self, BootstrapConfig, EnvConfig};
    use socratic::validate::run::{validate_all, ValidateConfig};
    let repo = dir.join("tallyho");
    copy_dir(&example_repo_source(), &repo);
    let head = commit_all(&repo);
    let home = dir.join("home");
    let mut store = socratic::store::Store::open(&home).unwrap();
    let base = image::bootstrap_base(engine, &BootstrapConfig::default()).await.unwrap();
    let cfg =
        EnvConfig { base_image: base, ca_bundle: None, install_timeout_s: 300, test_timeout_s: 300, flaky_reruns: 1 };
    let env = image::build_env(engine, &repo, &head, &cfg).await.unwrap();
    store.save_environment(&env).unwrap();
    let config = socratic::tasks::GenerateConfig { budget, seed, ..Default::default() };
    let (tasks, _) = socratic::tasks::generate(&repo, &config).unwrap();
    store.insert_tasks(&tasks).unwrap();
    let mut decided = Vec::new();
    let validate = ValidateConfig { workers: 1, timeout_s: 30.0, ..Default::default() };
    validate_all(engine, &env, tasks, &validate, |t, v| decided.push((t, v))).await.unwrap();
    let mut valid = 0;
    for (task, verdict) in &decided {
        store.record_verdict(task, verdict).unwrap();
        valid += usize::from(verdict.is_valid());
    }
    assert!(valid >= 2, "only {valid} of {} candidates valid", decided.len());
    ValidatedExample { home, repo, env, valid }
}

/// The git-style unified diff of `file` from `old` to `new` (3 lines of context).
pub fn file_patch(file: &str, old: &str, new: &str) -> String {
    let diff = similar::TextDiff::from_lines(old, new);
    format!(
        "diff --git a/{file} b/{file}\n{}",
        diff.unified_diff().context_radius(3).header(&format!("a/{file}"), &format!("b/{file}"))
    )
}

/// Where a hand-made candidate's bug is: file, 0-based line, enclosing function, operator.
pub struct CandidateSite<'a> {
    pub file: &'a str,
    pub line: usize,
    pub scope: &'a str,
    pub operator: &'a str,
}

/// A candidate task (not yet validated) of the repository `repo` at `head` with `bug_patch`.
pub fn candidate_task(repo: &str, head: &str, at: &CandidateSite, bug_patch: String) -> socratic::model::Task {
    use socratic::model::{Site, Task, TaskStage};
    Task {
        id: Task::compute_id(head, &bug_patch),
        repo: repo.into(),
        base_commit: head.into(),
        operator: at.operator.into(),
        skill: None,
        site: Site {
            file: at.file.into(),
            start_byte: 0,
            end_byte: 0,
            start_line: at.line,
            start_col: 0,
            end_line: at.line,
            end_col: 0,
            node_kind: "x".into(),
            scope: at.scope.into(),
            query: at.operator.into(),
            capture: "site".into(),
        },
        bug_patch,
        enclosing: at.scope.into(),
        problem_statement: String::new(),
        fail_to_pass: vec![],
        pass_to_pass: vec![],
        image: None,
        stage: TaskStage::Candidate,
        decision: Default::default(),
        anchor: Default::default(),
        seed: 0,
        round: None,
    }
}
