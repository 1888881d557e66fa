//! SWE-bench export: one dataset row per task, as JSON Lines.
//!
//! In: prepared tasks ([`super::ExportTask`]) and their git repositories. Out: `OUT.jsonl`, and
//! in each repository one commit holding the bugged tree, kept alive by the ref
//! `refs/socratic/tasks/<task id>`.
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

use super::{write_file, ExportError, ExportTask, Result};
use crate::diff::git::{GitError, Repo};
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;

/// One SWE-bench dataset row, fields in the datasets' order.
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
    }
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

/// Write `out` (one row per line) after making every task's bugged commit; returns the refs
/// written.
pub fn write(tasks: &[ExportTask], out: &Path) -> Result<Vec<String>> {
    let mut repos: HashMap<&str, Repo> = HashMap::new();
    let mut text = String::new();
    let mut refs = Vec::new();
    for t in tasks {
        let task_err = |e: GitError| ExportError::Task { task: t.task.id.clone(), message: e.to_string() };
        if !repos.contains_key(t.task.repo.as_str()) {
            let repo = Repo::open(Path::new(&t.task.repo)).map_err(task_err)?;
            repos.insert(&t.task.repo, repo);
        }
        let repo = &repos[t.task.repo.as_str()];
        let commit = bugged_commit(repo, t).map_err(task_err)?;
        refs.push(format!("{} {}", t.task.repo, bugged_ref(&t.task.id)));
        let row = serde_json::to_string(&row(t, &commit))
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
        ] {
            assert!(keys.contains(&key), "missing {key}: {keys:?}");
        }
        assert_eq!(keys.len(), 12);
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
}
