//! SWE-bench export: one dataset row per task, as JSON Lines.
//!
//! In: prepared tasks ([`super::ExportTask`]) and their git repositories. Out: `OUT.jsonl`, in
//! each repository one commit holding the bugged tree, kept alive by the ref
//! `refs/socratic/tasks/<task id>`, and (unless left out) one image per task that the
//! SWE-bench harness runs the row in.
//!
//! Followed: the rows of the SWE-bench datasets on Hugging Face (`princeton-nlp/SWE-bench`,
//! `SWE-bench_Lite`, `SWE-bench_Verified`): `repo`, `instance_id`, `base_commit`, `patch`,
//! `test_patch`, `problem_statement`, `hints_text`, `created_at`, `version`, `FAIL_TO_PASS`,
//! `PASS_TO_PASS`, `environment_setup_commit`, where `FAIL_TO_PASS` and `PASS_TO_PASS` are
//! strings holding a JSON-encoded list of test names, as the datasets store them.
//!
//! SWE-bench checks out `base_commit` and expects the bug to be there, with `patch` (the gold
//! fix) applying on top. Our bug is a patch on a clean commit, so the export makes that commit:
//! parent = the clean commit, tree = the clean tree with the bug applied, author and committer
//! `socratic` at the clean commit's time (so re-exporting gives the same commit id). It is
//! written (through [`crate::diff::git`]) into the task's repository and named by a ref under `refs/socratic/tasks/`
//! (`git push <remote> 'refs/socratic/*:refs/socratic/*'` publishes them). The other fields:
//! `patch` = the fix; `test_patch` empty (the tests are already in the repository);
//! `environment_setup_commit` = the clean commit (the one the environment image was built
//! from); `version` = its first 12 hex digits (environments are per commit); `hints_text` empty.
//!
//! What the current harness (`swebench` on PyPI, `python -m swebench.harness.run_evaluation`)
//! reads besides: `image` (a pre-built image it starts the container from; it never builds one
//! for a repository it does not know), `eval_script` (run as `/eval.sh` after the prediction is
//! applied with `git apply` in `/testbed`), `log_parser` (a name in its parser registry) and
//! `eval_type`. So:
//! - `image` = `socratic-swebench-<folder>:<task id>`, built by the export from the task's
//!   environment image: the bug applied and committed there as the very commit `base_commit`
//!   names (same tree, author, time and message, checked), and `/testbed` a link to the
//!   repository;
//! - `eval_script` puts the test files back as `base_commit` has them, prints the harness's start
//!   marker, runs exactly the FAIL_TO_PASS and PASS_TO_PASS tests with `pytest -rA`, prints the
//!   end marker and puts the test files back again (the shape of the harness's own scripts, so
//!   it records pytest's exit status);
//! - `log_parser` = `parse_log_pytest_v2` (reads `-rA`'s `PASSED <node id>` lines, node ids with
//!   spaces included); `eval_type` = `pass_and_fail`.

use super::{write_file, ExportError, ExportTask, Result};
use crate::diff::git::{GitError, Repo, AUTHOR};
use crate::sandbox::derived::Derived;
use crate::sandbox::worker::REPO_DIR;
use crate::sandbox::Engine;
use serde::Serialize;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

/// Where the harness expects the repository (its `CONTAINER_WORKDIR`).
pub const TESTBED: &str = "/testbed";
/// The harness's markers around the test output it parses.
const START_TEST_OUTPUT: &str = ">>>>> Start Test Output";
const END_TEST_OUTPUT: &str = ">>>>> End Test Output";
/// The harness's parser for `pytest -rA` output.
pub const LOG_PARSER: &str = "parse_log_pytest_v2";
/// Every FAIL_TO_PASS test must pass and every PASS_TO_PASS test keep passing.
pub const EVAL_TYPE: &str = "pass_and_fail";

/// One SWE-bench dataset row, fields in the datasets' order, then what the harness reads.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub repo: String,
    pub instance_id: String,
    pub base_commit: String,
    pub patch: String,
    pub test_patch: String,
    pub problem_statement: String,
    pub hints_text: String,
    pub created_at: String,
    pub version: String,
    #[serde(rename = "FAIL_TO_PASS")]
    pub fail_to_pass: String,
    #[serde(rename = "PASS_TO_PASS")]
    pub pass_to_pass: String,
    pub environment_setup_commit: String,
    pub image: String,
    pub eval_script: String,
    pub log_parser: String,
    pub eval_type: String,
}

/// A task's bugged commit: its id and its committer date in git's raw form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bugged {
    pub commit: String,
    pub date: String,
}

/// The row of a task whose bugged commit is `bugged_commit`.
pub fn row(t: &ExportTask, bugged_commit: &str) -> Row {
    let json_list = |tests: &[String]| serde_json::to_string(tests).unwrap_or_else(|_| "[]".into());
    Row {
        repo: t.repo.clone(),
        instance_id: t.instance_id.clone(),
        base_commit: bugged_commit.to_string(),
        patch: t.fix.clone(),
        test_patch: String::new(),
        problem_statement: t.task.problem_statement.clone(),
        hints_text: String::new(),
        created_at: t.created_at.clone(),
        version: t.task.base_commit.chars().take(12).collect(),
        fail_to_pass: json_list(&t.task.fail_to_pass),
        pass_to_pass: json_list(&t.task.pass_to_pass),
        environment_setup_commit: t.task.base_commit.clone(),
        image: image_name(t),
        eval_script: eval_script(t, bugged_commit),
        log_parser: LOG_PARSER.into(),
        eval_type: EVAL_TYPE.into(),
    }
}

/// The harness image of a task: `socratic-swebench-<folder>:<task id>` (lower case; characters
/// Docker does not allow in a repository name become `-`).
pub fn image_name(t: &ExportTask) -> String {
    let folder = t.instance_id.rsplit_once('.').map_or("repo", |(folder, _)| folder).to_ascii_lowercase();
    let clean: String = folder.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
    let clean = clean.trim_matches('-');
    let clean = if clean.is_empty() { "repo" } else { clean };
    let tag: String = t
        .task
        .id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') { c } else { '_' })
        .collect();
    format!("socratic-swebench-{clean}:{tag}")
}

/// The test files of a task's tests (the part of each node id before `::`), sorted, unique.
pub fn test_files(t: &ExportTask) -> Vec<&str> {
    let mut files: Vec<&str> =
        t.task.fail_to_pass.iter().chain(&t.task.pass_to_pass).map(|id| id.split("::").next().unwrap_or(id)).collect();
    files.sort_unstable();
    files.dedup();
    files
}

/// The harness's `eval_script`: test files back as `commit` has them, the markers around one
/// `pytest -rA` of the FAIL_TO_PASS and PASS_TO_PASS tests (the test command is the line
/// before the end marker: the harness records its exit status there), test files back again.
pub fn eval_script(t: &ExportTask, commit: &str) -> String {
    use super::harbor::shell_quote;
    let files: String = test_files(t).iter().map(|f| format!(" {}", shell_quote(f))).collect();
    let mut s = String::new();
    let _ = writeln!(s, "#!/bin/bash");
    let _ = writeln!(s, "set -uxo pipefail");
    let _ = writeln!(s, "cd {TESTBED}");
    if let Some(path) = &t.python_path {
        let _ = writeln!(s, "export PYTHONPATH={}", shell_quote(&path.replace(REPO_DIR, TESTBED)));
    }
    let _ = writeln!(s, "git checkout {commit} --{files}");
    let _ = writeln!(s, "echo '{START_TEST_OUTPUT}'");
    let tests: Vec<String> =
        t.task.fail_to_pass.iter().chain(&t.task.pass_to_pass).map(|test| shell_quote(test)).collect();
    let _ = writeln!(s, "python3 -m pytest -p no:cacheprovider -rA --tb=short {}", tests.join(" "));
    let _ = writeln!(s, "echo '{END_TEST_OUTPUT}'");
    let _ = writeln!(s, "git checkout {commit} --{files}");
    s
}

/// How the export makes a task's harness image from its environment image: the bug applied and
/// committed as `bugged.commit` (checked), `/testbed` a link to the repository.
pub fn image_spec(t: &ExportTask, env_image: &str, bugged: &Bugged) -> Derived {
    let patch_path = "/tmp/socratic-bug.patch";
    let message = format!("socratic task {}", t.instance_id);
    let (name, email) = AUTHOR;
    let script = format!(
        "set -e\n\
         cd {REPO_DIR}\n\
         git update-index -q --refresh || true\n\
         git apply --index {patch_path}\n\
         rm -f {patch_path}\n\
         GIT_AUTHOR_NAME='{name}' GIT_AUTHOR_EMAIL='{email}' GIT_AUTHOR_DATE='{date}' \\\n\
         GIT_COMMITTER_NAME='{name}' GIT_COMMITTER_EMAIL='{email}' GIT_COMMITTER_DATE='{date}' \\\n\
         git -c commit.gpgsign=false commit -q --no-verify -m {message}\n\
         head=$(git rev-parse HEAD)\n\
         if [ \"$head\" != {commit} ]; then echo \"the bugged commit made here is $head, not {commit}\" >&2; exit 1; fi\n\
         ln -sfn {REPO_DIR} {TESTBED}\n",
        date = bugged.date,
        commit = bugged.commit,
        message = super::harbor::shell_quote(&message),
    );
    Derived {
        from: env_image.to_string(),
        name: image_name(t),
        files: vec![(patch_path.to_string(), t.task.bug_patch.clone().into_bytes())],
        script,
    }
}

/// Build every task's harness image (see [`image_spec`]); returns their names.
pub async fn build_images(engine: &Engine, tasks: &[ExportTask], bugged: &[Bugged]) -> Result<Vec<String>> {
    let mut names = Vec::with_capacity(tasks.len());
    for (t, b) in tasks.iter().zip(bugged) {
        let env_image = super::env_image(engine, t).await?;
        let spec = image_spec(t, &env_image, b);
        crate::sandbox::derived::build(engine, &spec)
            .await
            .map_err(|e| ExportError::Task { task: t.task.id.clone(), message: e.to_string() })?;
        names.push(spec.name);
    }
    Ok(names)
}

/// The ref that keeps a task's bugged commit.
pub fn bugged_ref(task_id: &str) -> String {
    format!("refs/socratic/tasks/{task_id}")
}

/// Make (or find again) the commit holding the bugged tree and point its ref at it; returns
/// the commit id.
pub fn bugged_commit(repo: &Repo, t: &ExportTask) -> std::result::Result<String, GitError> {
    let task = &t.task;
    let message = format!("socratic task {}\n", t.instance_id);
    repo.commit_patch_on(&task.base_commit, &task.bug_patch, &message, &bugged_ref(&task.id))
}

/// Every task's bugged commit, made in its repository (one per task, in order).
pub fn bugged_commits(tasks: &[ExportTask]) -> Result<Vec<Bugged>> {
    let mut repos: HashMap<&str, Repo> = HashMap::new();
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        let task_err = |e: GitError| ExportError::Task { task: t.task.id.clone(), message: e.to_string() };
        if !repos.contains_key(t.task.repo.as_str()) {
            let repo = Repo::open(Path::new(&t.task.repo)).map_err(task_err)?;
            repos.insert(&t.task.repo, repo);
        }
        let repo = &repos[t.task.repo.as_str()];
        let commit = bugged_commit(repo, t).map_err(task_err)?;
        let date = repo.commit_raw_date(&commit).map_err(task_err)?;
        out.push(Bugged { commit, date });
    }
    Ok(out)
}

/// Write `out` (one row per line); returns the refs the rows' commits are kept by.
pub fn write(tasks: &[ExportTask], bugged: &[Bugged], out: &Path) -> Result<Vec<String>> {
    let mut text = String::new();
    let mut refs = Vec::new();
    for (t, b) in tasks.iter().zip(bugged) {
        refs.push(format!("{} {}", t.task.repo, bugged_ref(&t.task.id)));
        let row = serde_json::to_string(&row(t, &b.commit))
            .map_err(|e| ExportError::Task { task: t.task.id.clone(), message: e.to_string() })?;
        text.push_str(&row);
        text.push('\n');
    }
    write_file(out, text.as_bytes())?;
    Ok(refs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::tests::export_task;

    #[test]
    fn row_has_the_dataset_fields_with_json_encoded_test_lists() {
        let t = export_task("t-abc");
        let value = serde_json::to_value(row(&t, "fedcba")).unwrap();
        let keys: Vec<&str> = value.as_object().unwrap().keys().map(String::as_str).collect();
        for key in [
            "repo",
            "instance_id",
            "base_commit",
            "patch",
            "test_patch",
            "problem_statement",
            "hints_text",
            "created_at",
            "version",
            "FAIL_TO_PASS",
            "PASS_TO_PASS",
            "environment_setup_commit",
            "image",
            "eval_script",
            "log_parser",
            "eval_type",
        ] {
            assert!(keys.contains(&key), "missing {key}: {keys:?}");
        }
        assert_eq!(keys.len(), 16);
        assert_eq!(value["image"], "socratic-swebench-pkg:t-abc");
        assert_eq!(value["log_parser"], "parse_log_pytest_v2");
        assert_eq!(value["eval_type"], "pass_and_fail");
        assert_eq!(value["base_commit"], "fedcba");
        assert_eq!(value["environment_setup_commit"], t.task.base_commit);
        assert_eq!(value["version"], "0123456789ab");
        let f2p: Vec<String> = serde_json::from_str(value["FAIL_TO_PASS"].as_str().unwrap()).unwrap();
        assert_eq!(f2p, t.task.fail_to_pass);
        let p2p: Vec<String> = serde_json::from_str(value["PASS_TO_PASS"].as_str().unwrap()).unwrap();
        assert_eq!(p2p, t.task.pass_to_pass);
        assert!(value["patch"].as_str().unwrap().contains("-    return a <= b\n+    return a < b\n"));
        assert_eq!(value["test_patch"], "");
    }

    /// The harness keeps the lines of `eval_script` but `#!/bin/bash` and `set -uxo pipefail`,
    /// and records the exit status of the line before the end marker: that line must be pytest.
    #[test]
    fn eval_script_has_the_harness_shape() {
        let mut t = export_task("t-abc");
        t.python_path = Some("/work/repo/src".into());
        let script = eval_script(&t, "fedcba");
        let lines: Vec<&str> = script.lines().collect();
        assert_eq!(lines[..3], ["#!/bin/bash", "set -uxo pipefail", "cd /testbed"]);
        assert!(lines.contains(&"export PYTHONPATH='/testbed/src'"), "{script}");
        let start = lines.iter().position(|l| *l == "echo '>>>>> Start Test Output'").unwrap();
        let end = lines.iter().position(|l| *l == "echo '>>>>> End Test Output'").unwrap();
        assert_eq!(end, start + 2, "{script}");
        let pytest = lines[start + 1];
        assert!(pytest.starts_with("python3 -m pytest ") && pytest.contains(" -rA "), "{pytest}");
        for test in t.task.fail_to_pass.iter().chain(&t.task.pass_to_pass) {
            assert!(pytest.contains(&crate::export::harbor::shell_quote(test)), "{test} not run: {pytest}");
        }
        let restore = "git checkout fedcba -- 'tests/test_m.py' 'tests/test_other.py'";
        assert_eq!(lines.iter().filter(|l| **l == restore).count(), 2, "{script}");
    }

    #[test]
    fn image_spec_commits_the_bug_as_the_rows_base_commit() {
        let t = export_task("t-abc");
        let bugged = Bugged { commit: "c0ffee".into(), date: "1700000000 +0200".into() };
        let spec = image_spec(&t, "socratic-env-pkg:abc123", &bugged);
        assert_eq!(
            (spec.from.as_str(), spec.name.as_str()),
            ("socratic-env-pkg:abc123", "socratic-swebench-pkg:t-abc")
        );
        assert!(spec.script.contains("GIT_COMMITTER_DATE='1700000000 +0200'"), "{}", spec.script);
        assert!(spec.script.contains("commit -q --no-verify -m 'socratic task pkg.t-abc'"), "{}", spec.script);
        assert!(spec.script.contains("[ \"$head\" != c0ffee ]"), "{}", spec.script);
        assert!(spec.script.contains("ln -sfn /work/repo /testbed"), "{}", spec.script);
        assert_eq!(spec.files, vec![("/tmp/socratic-bug.patch".to_string(), t.task.bug_patch.clone().into_bytes())]);
    }
}
