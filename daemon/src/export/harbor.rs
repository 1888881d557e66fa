//! Harbor export: one task folder per task.
//!
//! In: prepared tasks ([`super::ExportTask`]). Out: `OUT_DIR/<instance id>/` holding
//!
//! - `instruction.md`: the problem statement and where the repository is;
//! - `task.toml`: `version = "1.0"`, `[metadata]` (author, category, tags and the task's
//!   provenance: task id, repo, commit, operator, skill, site), `[verifier]` / `[agent]`
//!   `timeout_sec`, `[environment]` `build_timeout_sec`, `cpus`, `memory_mb`, `storage_mb`;
//! - `environment/Dockerfile` + `environment/bug.patch`: `FROM` the task's environment image,
//!   the bug applied, then the repository re-initialised with the bugged tree as its only
//!   commit (the build products' exclude list kept), so `git diff` / `git log` inside the
//!   container do not show the bug;
//! - `tests/test.sh`: puts the test files of the FAIL_TO_PASS and PASS_TO_PASS tests back as
//!   committed, runs exactly those tests with pytest, and writes the reward to
//!   `/logs/verifier/reward.txt`: `1` when all of them pass, else `0` (a missing test counts as
//!   not passing, as in SWE-bench grading);
//! - `solution/solve.sh`: applies the fix (the reverse of the bug) with `git apply`.
//!
//! Followed: Harbor's task format (harborframework.com, "Tasks"; the successor of
//! Terminal-Bench's layout): the environment folder is the Docker build context, `tests/` is
//! uploaded to `/tests` after the agent finishes and `bash /tests/test.sh` runs in the agent's
//! container, the verifier writes its reward to `/logs/verifier/reward.txt`, and the oracle
//! agent runs `solution/solve.sh`. The repository is at `/work/repo` (our environment images'
//! layout, the Dockerfile's `WORKDIR`); the scripts read `SOCRATIC_REPO_DIR` first so they can
//! run against a checkout elsewhere.

use super::{ExportError, ExportTask, Result};
use crate::sandbox::worker::REPO_DIR;
use std::fmt::Write as _;
use std::path::Path;

/// The files of one task folder: relative path, contents, executable.
pub fn files(t: &ExportTask) -> std::result::Result<Vec<(String, String, bool)>, String> {
    let image = t.image.as_deref().ok_or_else(|| {
        format!(
            "no environment image for {} at {}: build it and validate the task (`socratic tasks validate`)",
            crate::text::escape_controls(&t.task.repo),
            t.task.base_commit
        )
    })?;
    Ok(vec![
        ("instruction.md".into(), instruction(t), false),
        ("task.toml".into(), task_toml(t), false),
        ("environment/Dockerfile".into(), dockerfile(t, image), false),
        ("environment/bug.patch".into(), with_newline(&t.task.bug_patch), false),
        ("tests/test.sh".into(), test_sh(t), true),
        ("solution/solve.sh".into(), solve_sh(t), true),
    ])
}

/// What the agent reads.
pub fn instruction(t: &ExportTask) -> String {
    let mut s = with_newline(t.task.problem_statement.trim_end());
    let _ = write!(
        s,
        "\n---\n\nThe repository is at `{REPO_DIR}`. Change its code so that the behaviour described above is \
         fixed. Tests exercising it are run when you finish; do not edit the test files.\n"
    );
    s
}

/// Harbor's task configuration.
pub fn task_toml(t: &ExportTask) -> String {
    let task = &t.task;
    let mut tags = vec!["python".to_string(), "socratic".to_string(), task.operator.clone()];
    tags.extend(task.skill.iter().cloned());
    let mut s = String::new();
    let _ = writeln!(s, "# socratic task {}, exported for Harbor.", crate::text::escape_controls(&t.instance_id));
    let _ = writeln!(s, "version = \"1.0\"\n");
    let _ = writeln!(s, "[metadata]");
    let _ = writeln!(s, "author_name = \"socratic\"");
    let _ = writeln!(s, "category = \"debugging\"");
    let _ = writeln!(s, "tags = [{}]", tags.iter().map(|t| toml_string(t)).collect::<Vec<_>>().join(", "));
    let _ = writeln!(s, "instance_id = {}", toml_string(&t.instance_id));
    let _ = writeln!(s, "task_id = {}", toml_string(&task.id));
    let _ = writeln!(s, "repo = {}", toml_string(&t.repo));
    let _ = writeln!(s, "base_commit = {}", toml_string(&task.base_commit));
    let _ = writeln!(s, "operator = {}", toml_string(&task.operator));
    if let Some(skill) = &task.skill {
        let _ = writeln!(s, "skill = {}", toml_string(skill));
    }
    let _ = writeln!(s, "site = {}", toml_string(&format!("{}:{}", task.site.file, task.site.start_line + 1)));
    let _ = writeln!(s, "fail_to_pass = {}", task.fail_to_pass.len());
    let _ = writeln!(s, "pass_to_pass = {}", task.pass_to_pass.len());
    let _ = writeln!(s, "\n[verifier]\ntimeout_sec = 600.0");
    let _ = writeln!(s, "\n[agent]\ntimeout_sec = 1800.0");
    let _ = writeln!(s, "\n[environment]\nbuild_timeout_sec = 600.0\ncpus = 1\nmemory_mb = 4096\nstorage_mb = 10240");
    s
}

/// The agent's container: the environment image with the bug applied and committed as the
/// repository's only commit.
pub fn dockerfile(t: &ExportTask, image: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# socratic task {}: the environment image of {} with the bug applied.",
        crate::text::escape_controls(&t.instance_id),
        crate::text::escape_controls(&t.repo)
    );
    let _ = writeln!(s, "# The repository is re-initialised with the bugged tree as its only commit, keeping the");
    let _ = writeln!(s, "# exclude list of the installed build products, so git shows no trace of the bug.");
    let _ = writeln!(s, "FROM {image}");
    let _ = writeln!(s, "WORKDIR {REPO_DIR}");
    if let Some(path) = &t.python_path {
        let _ = writeln!(s, "ENV PYTHONPATH={path}");
    }
    let _ = writeln!(s, "COPY bug.patch /tmp/socratic-bug.patch");
    let _ = writeln!(
        s,
        "RUN git apply /tmp/socratic-bug.patch \\\n \
         && rm /tmp/socratic-bug.patch \\\n \
         && cp .git/info/exclude /tmp/socratic-exclude \\\n \
         && rm -rf .git \\\n \
         && git init -q \\\n \
         && cp /tmp/socratic-exclude .git/info/exclude \\\n \
         && rm /tmp/socratic-exclude \\\n \
         && git add -A \\\n \
         && git -c user.name=socratic -c user.email=socratic@localhost commit -q -m 'task {}'",
        shell_safe_message(&t.instance_id)
    );
    s
}

/// The verifier: restore the test files, run the F2P and P2P tests, write the reward.
pub fn test_sh(t: &ExportTask) -> String {
    let task = &t.task;
    let tests: Vec<&String> = task.fail_to_pass.iter().chain(&task.pass_to_pass).collect();
    let mut files: Vec<&str> = tests.iter().map(|id| id.split("::").next().unwrap_or(id)).collect();
    files.sort_unstable();
    files.dedup();
    let mut s = String::new();
    let _ = writeln!(s, "#!/bin/bash");
    let _ = writeln!(s, "# Verifier of socratic task {}: puts the test files back as committed, runs", t.instance_id);
    let _ = writeln!(
        s,
        "# its {} FAIL_TO_PASS and {} PASS_TO_PASS tests, and writes the reward",
        task.fail_to_pass.len(),
        task.pass_to_pass.len()
    );
    let _ = writeln!(s, "# (1: every one passes, 0: otherwise) to /logs/verifier/reward.txt.");
    let _ = writeln!(s, "set -uo pipefail");
    let _ = writeln!(s, "mkdir -p /logs/verifier");
    let _ = writeln!(s, "echo 0 > /logs/verifier/reward.txt");
    let _ = writeln!(s, "cd \"${{SOCRATIC_REPO_DIR:-{REPO_DIR}}}\" || exit 1");
    let _ = writeln!(
        s,
        "git checkout -q HEAD --{} || true",
        files.iter().map(|f| format!(" {}", shell_quote(f))).collect::<String>()
    );
    let _ = writeln!(s, "python3 -m pytest -p no:cacheprovider -rA --junitxml=/logs/verifier/junit.xml \\");
    for (i, test) in tests.iter().enumerate() {
        let end = if i + 1 == tests.len() { "" } else { " \\" };
        let _ = writeln!(s, "  {}{end}", shell_quote(test));
    }
    let _ = writeln!(s, "status=$?");
    let _ = writeln!(s, "if [ \"$status\" -eq 0 ]; then echo 1 > /logs/verifier/reward.txt; fi");
    let _ = writeln!(s, "echo \"pytest exit status $status, reward $(cat /logs/verifier/reward.txt)\"");
    let _ = writeln!(s, "exit 0");
    s
}

/// The reference solution: the fix, applied with `git apply`.
pub fn solve_sh(t: &ExportTask) -> String {
    let fix = with_newline(&t.fix);
    let mut delimiter = "SOCRATIC_FIX".to_string();
    while fix.lines().any(|l| l == delimiter) {
        delimiter.push('_');
    }
    let mut s = String::new();
    let _ = writeln!(s, "#!/bin/bash");
    let _ = writeln!(
        s,
        "# Reference solution of socratic task {}: applies the fix (the bug patch reversed).",
        t.instance_id
    );
    let _ = writeln!(s, "set -euo pipefail");
    let _ = writeln!(s, "cd \"${{SOCRATIC_REPO_DIR:-{REPO_DIR}}}\"");
    let _ = writeln!(s, "git apply --verbose <<'{delimiter}'");
    s.push_str(&fix);
    let _ = writeln!(s, "{delimiter}");
    s
}

/// Write one folder per task under `dir` (created when missing). A task folder that already
/// exists is replaced when it holds a `task.toml` (an earlier export), refused otherwise.
pub fn write(tasks: &[ExportTask], dir: &Path) -> Result<()> {
    let out_err = |path: &Path, e: std::io::Error| ExportError::Output {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    if dir.exists() && !dir.is_dir() {
        return Err(ExportError::Output {
            path: dir.display().to_string(),
            message: "it is a file; Harbor tasks go in a folder".into(),
        });
    }
    std::fs::create_dir_all(dir).map_err(|e| out_err(dir, e))?;
    for t in tasks {
        let files = files(t).map_err(|message| ExportError::Task { task: t.task.id.clone(), message })?;
        let folder = dir.join(&t.instance_id);
        if folder.exists() {
            if !folder.join("task.toml").is_file() {
                return Err(ExportError::Output {
                    path: folder.display().to_string(),
                    message: "exists and is not a task folder from an earlier export; not replacing it".into(),
                });
            }
            std::fs::remove_dir_all(&folder).map_err(|e| out_err(&folder, e))?;
        }
        for (rel, contents, executable) in files {
            let path = folder.join(&rel);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|e| out_err(parent, e))?;
            }
            std::fs::write(&path, contents).map_err(|e| out_err(&path, e))?;
            if executable {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                    .map_err(|e| out_err(&path, e))?;
            }
        }
    }
    Ok(())
}

fn with_newline(s: &str) -> String {
    if s.is_empty() || s.ends_with('\n') {
        s.to_string()
    } else {
        format!("{s}\n")
    }
}

/// A POSIX shell word holding `s` exactly.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Instance ids are `[A-Za-z0-9._-]` already; this keeps a commit message inside '...' safe anyway.
fn shell_safe_message(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')).collect()
}

/// A TOML basic string.
pub fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::tests::export_task;

    #[test]
    fn a_folder_has_the_harbor_files() {
        let t = export_task("t-abc");
        let got: Vec<(String, bool)> = files(&t).unwrap().into_iter().map(|(p, _, x)| (p, x)).collect();
        let names: Vec<&str> = got.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            names,
            [
                "instruction.md",
                "task.toml",
                "environment/Dockerfile",
                "environment/bug.patch",
                "tests/test.sh",
                "solution/solve.sh"
            ]
        );
        assert!(got.iter().filter(|(_, x)| *x).all(|(p, _)| p.ends_with(".sh")));
        let mut no_image = t.clone();
        no_image.image = None;
        assert!(files(&no_image).unwrap_err().contains("no environment image"));
    }

    #[test]
    fn test_sh_runs_each_test_and_writes_the_reward() {
        let t = export_task("t-abc");
        let s = test_sh(&t);
        assert!(s.starts_with("#!/bin/bash\n"));
        assert!(s.contains("'tests/test_m.py::test_equal[1-1]' \\\n"), "{s}");
        assert!(s.contains("'tests/test_other.py::TestX::test_it'\\''s'\n"), "{s}");
        assert!(s.contains("git checkout -q HEAD -- 'tests/test_m.py' 'tests/test_other.py' || true"), "{s}");
        assert!(s.contains("echo 1 > /logs/verifier/reward.txt"));
        assert!(s.contains("echo 0 > /logs/verifier/reward.txt"));
    }

    #[test]
    fn solve_sh_delimiter_never_matches_a_patch_line() {
        let mut t = export_task("t-abc");
        // Not a line a patch can hold, but the guard does not rely on that.
        t.fix.push_str("SOCRATIC_FIX\n");
        let s = solve_sh(&t);
        assert!(s.contains("<<'SOCRATIC_FIX_'\n"), "{s}");
        assert!(s.ends_with("\nSOCRATIC_FIX\nSOCRATIC_FIX_\n"), "{s}");
    }

    #[test]
    fn dockerfile_starts_from_the_image_and_hides_the_bug() {
        let mut t = export_task("t-abc");
        t.python_path = Some("/work/repo/src".into());
        let d = dockerfile(&t, "socratic-env-pkg:abc123");
        assert!(
            d.contains("\nFROM socratic-env-pkg:abc123\nWORKDIR /work/repo\nENV PYTHONPATH=/work/repo/src\n"),
            "{d}"
        );
        assert!(
            d.contains("git apply /tmp/socratic-bug.patch")
                && d.contains("rm -rf .git")
                && d.contains("commit -q -m 'task pkg.t-abc'"),
            "{d}"
        );
    }

    #[test]
    fn toml_strings_escape() {
        assert_eq!(toml_string("a\"b\\c\nd\u{1}"), "\"a\\\"b\\\\c\\nd\\u0001\"");
        let toml = task_toml(&export_task("t-abc"));
        assert!(toml.contains("version = \"1.0\"\n") && toml.contains("[verifier]\ntimeout_sec = 600.0"), "{toml}");
        assert!(
            toml.contains("tags = [\"python\", \"socratic\", \"flip_comparison\", \"changed-comparison\"]"),
            "{toml}"
        );
    }
}
