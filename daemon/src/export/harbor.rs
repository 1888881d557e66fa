//! Harbor export: one task folder per task.
//!
//! In: prepared tasks ([`super::ExportTask`]), an output folder, [`super::ImageOptions`]. Out:
//! `OUT_DIR/<instance id>/` holding
//!
//! - `instruction.md`: the problem statement and where the repository is;
//! - `task.toml`: `version = "1.0"`, `[metadata]` (author, category, tags and the task's
//!   provenance: task id, repo, commit, operator, skill, site), `[verifier]` / `[agent]`
//!   `timeout_sec`, `[environment]` `build_timeout_sec`, `cpus`, `memory_mb`, `storage_mb`;
//! - `environment/`: the Docker build context. By default it is portable: `Dockerfile` starts
//!   from a public Python image (`ARG BASE_IMAGE`, `python:3.X-slim` with the Python of the
//!   Debian release the environment was built on, or the image it was built from when that was
//!   pulled from a registry), copies `repo/` (the clean tree at the task's commit), installs it
//!   with the environment's recorded install commands (`pytest` added when missing), then applies
//!   `bug.patch` and re-initialises the repository with the bugged tree as its only commit
//!   (build products kept out of git), so `git diff` / `git log` inside the container do not show
//!   the bug. `socratic-ca.sh` makes pip use a `ca-bundle.pem` put beside the Dockerfile (for
//!   TLS-intercepting proxies). With a registry ([`super::ImageOptions::registry`]) the same
//!   container is prebuilt from the environment image, tagged `<registry>/socratic-harbor-<folder>:<task id>`
//!   and pushed, and the Dockerfile starts `FROM` it; with `save`, the prebuilt image is written
//!   to `environment/image.tar` (`docker load -i` it before building);
//! - `tests/test.sh`: puts the test files of the FAIL_TO_PASS and PASS_TO_PASS tests back as
//!   committed, runs exactly those tests (the task's full lists) with pytest, and writes the
//!   reward to `/logs/verifier/reward.txt`: `1` when all of them pass, else `0` (a missing test
//!   counts as not passing, as in SWE-bench grading). The FAIL_TO_PASS tests run first on their
//!   own (`-x`): when one fails, the reward is `0` without the full run (the covering-test part
//!   of `solve`'s fast path needs the coverage map, which a task folder does not carry);
//! - `solution/solve.sh`: applies the fix (the reverse of the bug) with `git apply`.
//!
//! `OUT_DIR/.socratic-export.json` lists every file an export wrote, per task folder. Exporting
//! again into the folder first removes those files (and the folders they leave empty), so task
//! folders of an earlier export that are no longer selected are gone; files it did not write
//! are never removed, and a task folder it did not write is refused.
//!
//! Followed: Harbor's task format (harborframework.com, "Tasks"; the successor of
//! Terminal-Bench's layout): the environment folder is the Docker build context, `tests/` is
//! uploaded to `/tests` after the agent finishes and `bash /tests/test.sh` runs in the agent's
//! container, the verifier writes its reward to `/logs/verifier/reward.txt`, and the oracle
//! agent runs `solution/solve.sh`. The repository is at `/work/repo` (our environment images'
//! layout, the Dockerfile's `WORKDIR`); the scripts read `SOCRATIC_REPO_DIR` first so they can
//! run against a checkout elsewhere.

use super::{ExportError, ExportTask, ImageOptions, Result};
use crate::diff::git::Repo;
use crate::sandbox::derived::{self, Derived};
use crate::sandbox::worker::REPO_DIR;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The manifest of what an export wrote, in the output folder.
pub const MANIFEST: &str = ".socratic-export.json";
/// Where a task folder's prebuilt image is saved (`docker save`).
pub const SAVED_IMAGE: &str = "environment/image.tar";

/// How a task's Dockerfile gets its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base {
    /// Rebuilt from a public Python image and the recorded install commands.
    Portable,
    /// `FROM` a prebuilt image (bug applied, repository re-initialised), pushed or saved.
    Prebuilt(String),
}

/// The files of one task folder: relative path, contents, executable. The repository tree of a
/// portable folder (`environment/repo/`) is written from git, not listed here.
pub fn files(t: &ExportTask, base: &Base) -> std::result::Result<Vec<(String, String, bool)>, String> {
    let dockerfile = match base {
        Base::Portable => {
            let recipe = t.recipe.as_ref().ok_or_else(|| {
                format!(
                    "no environment recorded for {} at {}: build it (`socratic env build`) and validate the task",
                    crate::text::escape_controls(&t.task.repo),
                    t.task.base_commit
                )
            })?;
            portable_dockerfile(t, recipe)
        }
        Base::Prebuilt(image) => prebuilt_dockerfile(t, image),
    };
    let mut out = vec![
        ("instruction.md".into(), instruction(t), false),
        ("task.toml".into(), task_toml(t), false),
        ("environment/Dockerfile".into(), dockerfile, false),
    ];
    if *base == Base::Portable {
        out.push(("environment/bug.patch".into(), with_newline(&t.task.bug_patch), false));
        out.push(("environment/socratic-ca.sh".into(), CA_SH.into(), false));
    }
    out.push(("tests/test.sh".into(), test_sh(t), true));
    out.push(("solution/solve.sh".into(), solve_sh(t), true));
    Ok(out)
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
    let _ = writeln!(s, "\n[environment]\nbuild_timeout_sec = 1800.0\ncpus = 1\nmemory_mb = 4096\nstorage_mb = 10240");
    s
}

/// Sourced before each install step of a portable Dockerfile.
const CA_SH: &str = "# Sourced before each install step: a ca-bundle.pem put beside the Dockerfile (for a\n\
# TLS-intercepting proxy) is what pip and Python use to check certificates.\n\
if [ -f /tmp/socratic/ca-bundle.pem ]; then\n\
  export PIP_CERT=/tmp/socratic/ca-bundle.pem SSL_CERT_FILE=/tmp/socratic/ca-bundle.pem REQUESTS_CA_BUNDLE=/tmp/socratic/ca-bundle.pem\n\
fi\n";

/// The public Python image a portable Dockerfile starts from: the environment's own base when it
/// came from a registry, else `python:3.X-slim` with the Python of the Debian release our
/// bootstrapped base image is (`socratic-base:<suite>-<key>`).
pub fn public_base(base_image: &str) -> String {
    let Some(suite) = base_image.strip_prefix("socratic-base:") else { return base_image.to_string() };
    let python = match suite.split('-').next().unwrap_or_default() {
        "bullseye" => "3.9",
        "trixie" => "3.13",
        _ => "3.11",
    };
    format!("python:{python}-slim")
}

/// The commands (after `cd` into the repository) that apply the bug and make the bugged tree
/// the repository's only commit, keeping the exclude list of the installed build products.
pub fn hide_bug_commands(instance_id: &str, patch: &str) -> Vec<String> {
    vec![
        format!("git apply {patch}"),
        format!("rm {patch}"),
        "cp .git/info/exclude /tmp/socratic-exclude".into(),
        "rm -rf .git".into(),
        "git init -q".into(),
        "cp /tmp/socratic-exclude .git/info/exclude".into(),
        "rm /tmp/socratic-exclude".into(),
        "git add -A".into(),
        format!(
            "git -c user.name=socratic -c user.email=socratic@localhost commit -q -m 'task {}'",
            shell_safe_message(instance_id)
        ),
    ]
}

fn run_lines(commands: &[String]) -> String {
    format!("RUN {}", commands.join(" \\\n && "))
}

/// A Dockerfile that rebuilds the environment from a public image, then hides the bug.
pub fn portable_dockerfile(t: &ExportTask, recipe: &super::Recipe) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# socratic task {}: {} installed on a public Python image, the bug applied.",
        crate::text::escape_controls(&t.instance_id),
        crate::text::escape_controls(&t.repo)
    );
    let _ = writeln!(s, "# The repository is re-initialised with the bugged tree as its only commit, keeping the");
    let _ = writeln!(s, "# exclude list of the installed build products, so git shows no trace of the bug.");
    let _ = writeln!(s, "# Put a ca-bundle.pem beside this file when pip must trust a proxy's certificate.");
    let _ = writeln!(s, "ARG BASE_IMAGE={}", public_base(&recipe.base_image));
    let _ = writeln!(s, "FROM ${{BASE_IMAGE}}");
    let _ = writeln!(s, "ENV PYTHONDONTWRITEBYTECODE=1 PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1");
    let _ = writeln!(
        s,
        "RUN command -v git >/dev/null 2>&1 \\\n || (apt-get update -qq && apt-get install -y -qq --no-install-recommends git \\\n \
         && rm -rf /var/lib/apt/lists/*)"
    );
    let _ = writeln!(s, "COPY socratic-ca.sh bug.patch ca-bundle.pe[m] /tmp/socratic/");
    let _ = writeln!(s, "COPY repo {REPO_DIR}");
    let _ = writeln!(s, "WORKDIR {REPO_DIR}");
    let _ = writeln!(
        s,
        "RUN git init -q && git add -A \\\n && git -c user.name=socratic -c user.email=socratic@localhost commit -q -m clean"
    );
    for cmd in &recipe.install_commands {
        let _ = writeln!(s, "RUN . /tmp/socratic/socratic-ca.sh && ({cmd})");
    }
    let _ = writeln!(
        s,
        "RUN python3 -c 'import pytest' 2>/dev/null \\\n || (. /tmp/socratic/socratic-ca.sh \\\n \
         && python3 -m pip install --quiet --break-system-packages pytest)"
    );
    if let Some(path) = &t.python_path {
        let _ = writeln!(s, "ENV PYTHONPATH={path}");
    }
    let mut hide = vec!["git ls-files --others --exclude-standard | sed 's|^|/|' >> .git/info/exclude".to_string()];
    hide.extend(hide_bug_commands(&t.instance_id, "/tmp/socratic/bug.patch"));
    hide.push("rm -rf /tmp/socratic".into());
    let _ = writeln!(s, "{}", run_lines(&hide));
    s
}

/// A Dockerfile that starts from the task's prebuilt image.
pub fn prebuilt_dockerfile(t: &ExportTask, image: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# socratic task {}: the prebuilt environment of {} with the bug applied and the",
        crate::text::escape_controls(&t.instance_id),
        crate::text::escape_controls(&t.repo)
    );
    let _ = writeln!(s, "# repository re-initialised with the bugged tree as its only commit.");
    let _ = writeln!(s, "FROM {image}");
    let _ = writeln!(s, "WORKDIR {REPO_DIR}");
    if let Some(path) = &t.python_path {
        let _ = writeln!(s, "ENV PYTHONPATH={path}");
    }
    s
}

/// The prebuilt image of a task: `[<registry>/]socratic-harbor-<folder>:<task id>`.
pub fn prebuilt_name(registry: Option<&str>, t: &ExportTask) -> String {
    let local = super::swebench::image_name(t).replacen("socratic-swebench-", "socratic-harbor-", 1);
    match registry.map(|r| r.trim_end_matches('/')) {
        Some(r) if !r.is_empty() => format!("{r}/{local}"),
        _ => local,
    }
}

/// How the prebuilt image of a task is made from its environment image.
pub fn prebuilt_spec(t: &ExportTask, env_image: &str, name: &str) -> Derived {
    let patch = "/tmp/socratic-bug.patch";
    let mut commands = vec!["set -e".to_string(), format!("cd {REPO_DIR}")];
    commands.extend(hide_bug_commands(&t.instance_id, patch));
    Derived {
        from: env_image.to_string(),
        name: name.to_string(),
        files: vec![(patch.to_string(), with_newline(&t.task.bug_patch).into_bytes())],
        script: commands.join("\n") + "\n",
    }
}

/// The verifier: restore the test files, run the F2P and P2P tests, write the reward.
pub fn test_sh(t: &ExportTask) -> String {
    let task = &t.task;
    let tests: Vec<&String> = task.fail_to_pass.iter().chain(&task.pass_to_pass).collect();
    let files = super::swebench::test_files(t);
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
    if !task.pass_to_pass.is_empty() {
        // The fast step: the FAIL_TO_PASS tests alone, up to the first failure. A failure there
        // settles the reward at 0 without the full run; a reward of 1 always comes from it.
        let _ = writeln!(s, "if ! python3 -m pytest -p no:cacheprovider -q -x \\");
        for (i, test) in task.fail_to_pass.iter().enumerate() {
            let end = if i + 1 == task.fail_to_pass.len() { "; then" } else { " \\" };
            let _ = writeln!(s, "  {}{end}", shell_quote(test));
        }
        let _ = writeln!(s, "  echo \"a FAIL_TO_PASS test does not pass: reward 0, the full run skipped\"");
        let _ = writeln!(s, "  exit 0");
        let _ = writeln!(s, "fi");
    }
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

/// What `.socratic-export.json` records: per task folder, the files written (relative to it).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format: String,
    pub tasks: BTreeMap<String, Vec<String>>,
}

/// Write the task folders (building, tagging, pushing or saving prebuilt images as `images`
/// asks); returns the images made.
pub async fn export(tasks: &[ExportTask], dir: &Path, images: &ImageOptions, owner: &str) -> Result<Vec<String>> {
    let prebuilt = !images.skip && (images.registry.is_some() || images.save);
    let bases: Vec<Base> = tasks
        .iter()
        .map(|t| if prebuilt { Base::Prebuilt(prebuilt_name(images.registry.as_deref(), t)) } else { Base::Portable })
        .collect();
    // Everything a folder needs is checked before anything is built or removed.
    for (t, base) in tasks.iter().zip(&bases) {
        files(t, base).map_err(|message| ExportError::Task { task: t.task.id.clone(), message })?;
    }
    let mut built = Vec::new();
    let engine = if prebuilt { Some(super::connect(owner).await?) } else { None };
    if let Some(engine) = &engine {
        for (t, base) in tasks.iter().zip(&bases) {
            let Base::Prebuilt(name) = base else { continue };
            let env_image = super::env_image(engine, t).await?;
            derived::build(engine, &prebuilt_spec(t, &env_image, name)).await.map_err(|e| image_err(t, e))?;
            if images.registry.is_some() && !images.no_push {
                derived::push(engine, name).await.map_err(|e| image_err(t, e))?;
            }
            built.push(name.clone());
        }
    }
    let mut written = write(tasks, &bases, dir)?;
    if let (Some(engine), true) = (&engine, images.save) {
        for (t, name) in tasks.iter().zip(&built) {
            derived::save(engine, name, &dir.join(&t.instance_id).join(SAVED_IMAGE))
                .await
                .map_err(|e| image_err(t, e))?;
            written.tasks.entry(t.instance_id.clone()).or_default().push(SAVED_IMAGE.to_string());
            write_manifest(dir, &written)?;
        }
    }
    Ok(built)
}

fn image_err(t: &ExportTask, e: crate::sandbox::SandboxError) -> ExportError {
    ExportError::Task { task: t.task.id.clone(), message: e.to_string() }
}

/// Write one folder per task under `dir` (created when missing), after removing what the
/// previous export into `dir` wrote; returns the new manifest (also written).
pub fn write(tasks: &[ExportTask], bases: &[Base], dir: &Path) -> Result<Manifest> {
    if dir.exists() && !dir.is_dir() {
        return Err(ExportError::Output {
            path: dir.display().to_string(),
            message: "it is a file; Harbor tasks go in a folder".into(),
        });
    }
    std::fs::create_dir_all(dir).map_err(|e| out_err(dir, e))?;
    let previous = read_manifest(dir)?;
    for t in tasks {
        let folder = dir.join(&t.instance_id);
        if folder.exists() && !previous.tasks.contains_key(&t.instance_id) {
            return Err(ExportError::Output {
                path: folder.display().to_string(),
                message: format!(
                    "exists and was not written by an earlier export (not in {MANIFEST}); not replacing it"
                ),
            });
        }
    }
    for (name, files) in &previous.tasks {
        remove_written(&dir.join(name), files)?;
    }
    let mut manifest = Manifest { format: "harbor".into(), tasks: BTreeMap::new() };
    // Recorded before each folder is written, so a failure half-way leaves a manifest that
    // still names everything written so far.
    for (t, base) in tasks.iter().zip(bases) {
        let files = files(t, base).map_err(|message| ExportError::Task { task: t.task.id.clone(), message })?;
        let folder = dir.join(&t.instance_id);
        let mut names: Vec<String> = files.iter().map(|(rel, _, _)| rel.clone()).collect();
        if *base == Base::Portable {
            names.extend(tree_files(t)?.into_iter().map(|f| format!("environment/repo/{f}")));
        }
        manifest.tasks.insert(t.instance_id.clone(), names);
        write_manifest(dir, &manifest)?;
        for (rel, contents, executable) in files {
            write_one(&folder.join(&rel), contents.as_bytes(), executable)?;
        }
        if *base == Base::Portable {
            let repo = Repo::open(Path::new(&t.task.repo))
                .map_err(|e| ExportError::Task { task: t.task.id.clone(), message: e.to_string() })?;
            repo.write_tree_to(&t.task.base_commit, &folder.join("environment/repo"))
                .map_err(|e| ExportError::Task { task: t.task.id.clone(), message: e.to_string() })?;
        }
    }
    write_manifest(dir, &manifest)?;
    Ok(manifest)
}

/// The files of a task's clean tree (relative paths), what `write_tree_to` writes.
fn tree_files(t: &ExportTask) -> Result<Vec<String>> {
    let task_err =
        |e: crate::diff::git::GitError| ExportError::Task { task: t.task.id.clone(), message: e.to_string() };
    let repo = Repo::open(Path::new(&t.task.repo)).map_err(task_err)?;
    repo.tree_files(&t.task.base_commit).map_err(task_err)
}

fn out_err(path: &Path, e: std::io::Error) -> ExportError {
    ExportError::Output { path: path.display().to_string(), message: e.to_string() }
}

fn write_one(path: &Path, bytes: &[u8], executable: bool) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| out_err(parent, e))?;
    }
    std::fs::write(path, bytes).map_err(|e| out_err(path, e))?;
    if executable {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(|e| out_err(path, e))?;
    }
    Ok(())
}

/// The manifest of the previous export into `dir` (empty when there is none).
pub fn read_manifest(dir: &Path) -> Result<Manifest> {
    let path = dir.join(MANIFEST);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| ExportError::Output {
            path: path.display().to_string(),
            message: format!("not a manifest socratic wrote ({e}); move it away to export here"),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Manifest::default()),
        Err(e) => Err(out_err(&path, e)),
    }
}

fn write_manifest(dir: &Path, manifest: &Manifest) -> Result<()> {
    let mut text = serde_json::to_string_pretty(manifest)
        .map_err(|e| ExportError::Output { path: dir.join(MANIFEST).display().to_string(), message: e.to_string() })?;
    text.push('\n');
    super::write_file(&dir.join(MANIFEST), text.as_bytes())
}

/// Remove the files listed (relative to `folder`), then every folder under `folder` (and
/// `folder` itself) that this left empty. Paths that leave `folder` are ignored.
fn remove_written(folder: &Path, files: &[String]) -> Result<()> {
    let mut dirs: BTreeSet<PathBuf> = BTreeSet::new();
    for rel in files {
        let rel_path = Path::new(rel);
        if rel_path.components().any(|c| !matches!(c, std::path::Component::Normal(_))) {
            continue;
        }
        let path = folder.join(rel_path);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(out_err(&path, e)),
        }
        let mut parent = path.parent();
        while let Some(p) = parent {
            if !p.starts_with(folder) {
                break;
            }
            dirs.insert(p.to_path_buf());
            parent = p.parent();
        }
    }
    // Deepest first: a folder's children are removed before it is tried.
    let mut dirs: Vec<PathBuf> = dirs.into_iter().collect();
    dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
    for d in dirs {
        let _ = std::fs::remove_dir(&d); // only succeeds when empty
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
        let got: Vec<(String, bool)> =
            files(&t, &Base::Portable).unwrap().into_iter().map(|(p, _, x)| (p, x)).collect();
        let names: Vec<&str> = got.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            names,
            [
                "instruction.md",
                "task.toml",
                "environment/Dockerfile",
                "environment/bug.patch",
                "environment/socratic-ca.sh",
                "tests/test.sh",
                "solution/solve.sh"
            ]
        );
        assert!(got.iter().filter(|(_, x)| *x).all(|(p, _)| p.ends_with(".sh")));
        let prebuilt = files(&t, &Base::Prebuilt("reg.example/socratic-harbor-pkg:t-abc".into())).unwrap();
        assert!(!prebuilt.iter().any(|(p, _, _)| p.ends_with("bug.patch")), "the prebuilt image holds the bug");
        let mut no_env = t.clone();
        no_env.recipe = None;
        assert!(files(&no_env, &Base::Portable).unwrap_err().contains("no environment recorded"));
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
        // The fast step runs the FAIL_TO_PASS tests alone, before the full run, and stops there.
        let fast = s.find("-q -x \\\n").expect("a fast step");
        let full = s.find("--junitxml").expect("the full run");
        assert!(fast < full, "{s}");
        let step = &s[fast..full];
        assert!(step.contains("exit 0\nfi\n"), "{s}");
        for f2p in &t.task.fail_to_pass {
            assert!(step.contains(&shell_quote(f2p)), "{s}");
        }
        for p2p in &t.task.pass_to_pass {
            assert!(!step.contains(&shell_quote(p2p)), "{s}");
        }
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
    fn portable_dockerfile_rebuilds_from_a_public_image_and_hides_the_bug() {
        let mut t = export_task("t-abc");
        t.python_path = Some("/work/repo/src".into());
        let d = portable_dockerfile(&t, t.recipe.as_ref().unwrap());
        assert!(d.contains("\nARG BASE_IMAGE=python:3.11-slim\nFROM ${BASE_IMAGE}\n"), "{d}");
        assert!(!d.contains("socratic-env") && !d.contains("socratic-base"), "{d}");
        assert!(d.contains("\nCOPY repo /work/repo\nWORKDIR /work/repo\n"), "{d}");
        assert!(
            d.contains("\nRUN . /tmp/socratic/socratic-ca.sh && (python3 -m pip install --quiet -e '.[test]' || python3 -m pip install -e .)\n"),
            "{d}"
        );
        assert!(d.contains("import pytest"), "{d}");
        assert!(d.contains("\nENV PYTHONPATH=/work/repo/src\n"), "{d}");
        let install = d.find("pip install --quiet -e").unwrap();
        let bug = d.find("git apply /tmp/socratic/bug.patch").unwrap();
        assert!(install < bug, "installed clean, then the bug applied: {d}");
        assert!(d.contains("rm -rf .git") && d.contains("commit -q -m 'task pkg.t-abc'"), "{d}");
        assert_eq!(public_base("python:3.12-slim"), "python:3.12-slim");
        assert_eq!(public_base("socratic-base:trixie-0123"), "python:3.13-slim");
    }

    #[test]
    fn prebuilt_images_are_named_for_the_registry() {
        let t = export_task("t-abc");
        assert_eq!(prebuilt_name(Some("ghcr.io/me/"), &t), "ghcr.io/me/socratic-harbor-pkg:t-abc");
        assert_eq!(prebuilt_name(None, &t), "socratic-harbor-pkg:t-abc");
        let d = prebuilt_dockerfile(&t, "ghcr.io/me/socratic-harbor-pkg:t-abc");
        assert!(d.contains("\nFROM ghcr.io/me/socratic-harbor-pkg:t-abc\nWORKDIR /work/repo\n"), "{d}");
        let spec = prebuilt_spec(&t, "socratic-env-pkg:abc123", "ghcr.io/me/socratic-harbor-pkg:t-abc");
        assert!(spec.script.contains("git apply /tmp/socratic-bug.patch\n"), "{}", spec.script);
        assert_eq!(spec.files[0].1, t.task.bug_patch.as_bytes());
    }

    #[test]
    fn removing_a_previous_export_keeps_files_it_did_not_write() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("pkg.t-1");
        for rel in ["task.toml", "environment/repo/a/b.py", "notes.txt"] {
            write_one(&folder.join(rel), b"x", false).unwrap();
        }
        let written = vec!["task.toml".to_string(), "environment/repo/a/b.py".into(), "../escape".into()];
        remove_written(&folder, &written).unwrap();
        assert!(folder.join("notes.txt").is_file(), "a file the export did not write stays");
        assert!(!folder.join("environment").exists(), "folders the export emptied go");
        std::fs::remove_file(folder.join("notes.txt")).unwrap();
        remove_written(&folder, &written).unwrap();
        assert!(!folder.exists());
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
