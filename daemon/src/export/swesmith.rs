//! SWE-smith export: a JSON list of task instances.
//!
//! In: prepared tasks ([`super::ExportTask`]). Out: `OUT.json`.
//!
//! Followed: SWE-smith's task instances (the files its validation collects into
//! `logs/task_insts/<repo>.json`, and the instances of the `SWE-bench/SWE-smith` dataset):
//! `instance_id`, `repo`, `patch` — the patch that *introduces* the bug, applied to the clean
//! repository —, `FAIL_TO_PASS` and `PASS_TO_PASS` as JSON lists, `created_at`, `image_name`
//! (the image the tests run in), `base_commit` (the clean commit) and `problem_statement`.
//!
//! `image_name` is our environment image for the clean commit (the repository is at
//! `/work/repo` in it, not at SWE-smith's `/testbed`); a task without one is an error, since
//! every validated task has one.

use super::{write_file, ExportError, ExportTask, Result};
use serde::Serialize;
use std::path::Path;

/// One SWE-smith task instance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Instance {
    pub instance_id: String,
    pub repo: String,
    pub patch: String,
    #[serde(rename = "FAIL_TO_PASS")]
    pub fail_to_pass: Vec<String>,
    #[serde(rename = "PASS_TO_PASS")]
    pub pass_to_pass: Vec<String>,
    pub created_at: String,
    pub image_name: String,
    pub base_commit: String,
    pub problem_statement: String,
}

/// The instance of a task; `Err` when it has no environment image.
pub fn instance(t: &ExportTask) -> std::result::Result<Instance, String> {
    let image = t.image.clone().ok_or_else(|| {
        format!(
            "no environment image for {} at {}: build it and validate the task (`socratic tasks validate`)",
            crate::text::escape_controls(&t.task.repo),
            t.task.base_commit
        )
    })?;
    Ok(Instance {
        instance_id: t.instance_id.clone(),
        repo: t.repo.clone(),
        patch: t.task.bug_patch.clone(),
        fail_to_pass: t.task.fail_to_pass.clone(),
        pass_to_pass: t.task.pass_to_pass.clone(),
        created_at: t.created_at.clone(),
        image_name: image,
        base_commit: t.task.base_commit.clone(),
        problem_statement: t.task.problem_statement.clone(),
    })
}

/// Write `out`: a pretty-printed JSON list of instances.
pub fn write(tasks: &[ExportTask], out: &Path) -> Result<()> {
    let instances = tasks
        .iter()
        .map(|t| instance(t).map_err(|message| ExportError::Task { task: t.task.id.clone(), message }))
        .collect::<Result<Vec<_>>>()?;
    let mut text = serde_json::to_string_pretty(&instances)
        .map_err(|e| ExportError::Output { path: out.display().to_string(), message: e.to_string() })?;
    text.push('\n');
    write_file(out, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::tests::export_task;

    #[test]
    fn instance_keeps_the_bug_patch_and_lists() {
        let t = export_task("t-abc");
        let v = serde_json::to_value(instance(&t).unwrap()).unwrap();
        assert_eq!(v["patch"], t.task.bug_patch);
        assert_eq!(v["image_name"], "socratic-env-pkg:abc123");
        assert_eq!(v["FAIL_TO_PASS"], serde_json::json!(["tests/test_m.py::test_equal[1-1]"]));
        assert!(v["PASS_TO_PASS"].is_array());
        assert_eq!(v["base_commit"], t.task.base_commit);
    }

    #[test]
    fn no_image_is_an_error_naming_the_repository() {
        let mut t = export_task("t-abc");
        t.image = None;
        let e = instance(&t).unwrap_err();
        assert!(e.contains("no environment image for /src/pkg"), "{e}");
    }
}
