//! Exports: the curriculum (or every valid task) written in the formats other tools read, so a
//! round's tasks can train or evaluate a Solver outside socratic.
//!
//! In: the store (rounds, tasks, verdicts, environments), each task's git repository, a
//! [`Selection`] and an output path. Out: the files of one [`Format`] and an [`ExportSummary`]
//! naming what was written and which selected tasks were left out, and why.
//!
//! - [`swebench`]: SWE-bench dataset rows as JSON Lines (`patch` = the fix).
//! - [`swesmith`]: a JSON list of SWE-smith task instances (`patch` = the bug).
//! - [`harbor`]: one Harbor task folder per task.
//! - [`sft`]: chat JSON Lines (`messages`: system, user, assistant = the fix) for fine-tuning.
//! - [`verl`]: a Parquet dataset for verl's RL trainers (prompt messages, `reward_model.ground_truth` = instance id).
//!
//! Choices every format shares:
//! - **Which tasks.** By default the curriculum of the latest finished round
//!   ([`crate::engine::curriculum`]: kept tasks minus rejected ones, plus accepted ones);
//!   `--round N` reads round N's curriculum instead; `--valid` takes every task with a valid
//!   verdict (of round N with `--round N`) that nobody rejected. A selected task without a valid
//!   verdict (an accepted candidate not validated yet) is left out and named in the summary.
//! - **Instance id** `<repository folder name>.<task id>`, e.g. `tallyho.t-3f2a…`: task ids are
//!   content hashes (commit + bug patch), so re-exporting gives the same ids; the folder name
//!   keeps ids from several repositories apart and readable. Characters outside
//!   `[A-Za-z0-9._-]` become `_`.
//! - **`repo`** `owner/name` when the repository's `origin` remote is a URL or scp-style address
//!   ending in `owner/name[.git]` (what SWE-bench and SWE-smith put there), else
//!   `local/<folder name>`: the tasks were generated in a local checkout.
//! - **The fix** (gold patch) is the reverse of the bug patch, made by
//!   [`crate::diff::reverse`] — the function our importer applies to SWE-smith
//!   instances, which also swaps `index` lines and keeps `\ No newline` markers with their line.
//! - **`created_at`** the clean commit's committer time (UTC, `YYYY-MM-DDTHH:MM:SSZ`): stable
//!   across exports.
//! - **Tests.** FAIL_TO_PASS and PASS_TO_PASS are the lists stored on the task (validation
//!   stores the full PASS_TO_PASS there); a list the task lacks comes from its verdict.
//! - **Images** ([`ImageOptions`]). SWE-bench rows name one image per task, which the export
//!   builds from the task's environment image (a Docker engine is needed unless images are
//!   left out); Harbor folders rebuild their environment from a public base image, or start
//!   from a prebuilt image tagged for a registry (pushed unless told not to) or saved into the
//!   folder.

pub mod harbor;
pub mod sft;
pub mod swebench;
pub mod swesmith;
pub mod verl;

use crate::diff::git::Repo;
use crate::engine::curriculum::pick_round;
use crate::model::{Decision, Task, Verdict};
use crate::sandbox::Engine;
use crate::store::{Store, StoreError, TaskQuery};
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;

/// The formats `socratic export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Swebench,
    Swesmith,
    Harbor,
    Sft,
    Verl,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Swebench => "swebench",
            Format::Swesmith => "swesmith",
            Format::Harbor => "harbor",
            Format::Sft => "sft",
            Format::Verl => "verl",
        }
    }
}

/// Which tasks to export.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// The round whose curriculum (or, with `valid`, whose valid tasks) to export; `None`: the
    /// latest finished round (or, with `valid`, every round).
    pub round: Option<u32>,
    /// Every valid task instead of a curriculum.
    pub valid: bool,
}

/// What an export does with images.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageOptions {
    /// Write files only: build, tag, push and save no image (SWE-bench rows still name the
    /// images an export without this builds).
    pub skip: bool,
    /// Harbor: build each task's image here and tag it `<registry>/socratic-harbor-<folder>:<task
    /// id>`; the task's Dockerfile starts `FROM` it.
    pub registry: Option<String>,
    /// With `registry`: tag only (push later with `docker push`).
    pub no_push: bool,
    /// Harbor: build each task's image and `docker save` it into the folder
    /// (`environment/image.tar`); the Dockerfile starts `FROM` it once loaded.
    pub save: bool,
}

/// Export errors name the input that caused them.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("nothing to export: {0}")]
    Nothing(String),
    #[error("no round {number} in the store ({known})")]
    NoRound { number: u32, known: String },
    #[error("task {task}: {message}")]
    Task { task: String, message: String },
    #[error("cannot write {path}: {message}")]
    Output { path: String, message: String },
    #[error("{0}; `--no-images` writes the files without building the images they name")]
    Engine(String),
}

pub type Result<T> = std::result::Result<T, ExportError>;

/// A selected task left out of the export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub task_id: String,
    pub reason: String,
}

/// The tasks a selection holds.
#[derive(Debug, Clone)]
pub struct Selected {
    /// What was selected, in words (`round 2 curriculum`, `valid tasks`, `valid tasks of round 2`).
    pub source: String,
    pub tasks: Vec<Task>,
    pub skipped: Vec<Skipped>,
}

/// A task with everything a format writes about it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportTask {
    pub task: Task,
    pub instance_id: String,
    /// `owner/name` or `local/<folder name>`.
    pub repo: String,
    /// The fix: the bug patch reversed.
    pub fix: String,
    /// The environment image the task was validated in.
    pub image: Option<String>,
    /// `PYTHONPATH` the tests need in that image (source layouts that could not be installed).
    pub python_path: Option<String>,
    /// How that image was built, when its environment is stored.
    pub recipe: Option<Recipe>,
    /// The clean commit's committer time, `YYYY-MM-DDTHH:MM:SSZ`.
    pub created_at: String,
}

/// How an environment image was built: what a portable Dockerfile repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipe {
    /// The image the environment was built from.
    pub base_image: String,
    /// The install commands that worked, in order, run in the repository.
    pub install_commands: Vec<String>,
}

/// What an export wrote.
#[derive(Debug, Clone, Serialize)]
pub struct ExportSummary {
    pub format: Format,
    pub out: String,
    pub source: String,
    /// Instance ids written, in export order.
    pub exported: Vec<String>,
    pub skipped: Vec<Skipped>,
    /// Git refs written into the task repositories (SWE-bench: one bugged commit per task).
    pub refs: Vec<String>,
    /// Images built (and tagged, pushed or saved as asked), one per task.
    pub images: Vec<String>,
}

/// Select, prepare and write: the whole `socratic export`.
pub async fn export(
    store: &Store,
    format: Format,
    selection: &Selection,
    out: &Path,
    images: &ImageOptions,
    answer: crate::train::data::AnswerFormat,
) -> Result<ExportSummary> {
    let owner = crate::sandbox::owner_of_home(store.home());
    let selected = select(store, selection)?;
    let mut tasks = prepare(store, &selected.tasks)?;
    let mut skipped = selected.skipped;
    let mut built = Vec::new();
    let refs = match format {
        Format::Swebench => {
            let bugged = swebench::bugged_commits(&tasks)?;
            if !images.skip {
                built = swebench::build_images(&connect(&owner).await?, &tasks, &bugged).await?;
            }
            swebench::write(&tasks, &bugged, out)?
        }
        Format::Swesmith => swesmith::write(&tasks, out).map(|()| Vec::new())?,
        Format::Harbor => {
            built = harbor::export(&tasks, out, images, &owner).await?;
            Vec::new()
        }
        Format::Verl => {
            let (written, left_out) = verl::write(&tasks, out)?;
            tasks.retain(|t| written.contains(&t.task.id));
            skipped.extend(left_out);
            Vec::new()
        }
        Format::Sft => {
            let (written, left_out) = sft::write(&tasks, out, answer)?;
            tasks.retain(|t| written.contains(&t.task.id));
            skipped.extend(left_out);
            Vec::new()
        }
    };
    Ok(ExportSummary {
        format,
        out: out.display().to_string(),
        source: selected.source,
        exported: tasks.iter().map(|t| t.instance_id.clone()).collect(),
        skipped,
        refs,
        images: built,
    })
}

/// The Docker engine (connected for the home `owner` names), or an error saying how to export
/// without one.
pub(crate) async fn connect(owner: &str) -> Result<Engine> {
    Engine::connect(owner).await.map_err(|e| ExportError::Engine(e.to_string()))
}

/// A task's environment image, checked to exist.
pub(crate) async fn env_image(engine: &Engine, t: &ExportTask) -> Result<String> {
    let task_err = |message: String| ExportError::Task { task: t.task.id.clone(), message };
    let repo = crate::text::escape_controls(&t.task.repo);
    let image = t.image.clone().ok_or_else(|| {
        task_err(format!(
            "no environment image for {repo} at {}: build it and validate the task (`socratic tasks validate`)",
            t.task.base_commit
        ))
    })?;
    if !engine.image_exists(&image).await {
        return Err(task_err(format!(
            "its environment image {image} is not in the Docker engine: `socratic env build --repo {repo}` builds it again"
        )));
    }
    Ok(image)
}

/// The tasks a selection holds, in export order (curriculum order, or oldest first), each with
/// its tests filled from its verdict; tasks without a valid verdict are skipped.
pub fn select(store: &Store, selection: &Selection) -> Result<Selected> {
    let (source, chosen): (String, Vec<Task>) = if selection.valid {
        let source = match selection.round {
            Some(n) => format!("valid tasks of round {n}"),
            None => "valid tasks".to_string(),
        };
        let query = TaskQuery { round: selection.round, not_decision: Some(Decision::Rejected), ..TaskQuery::valid() };
        (source, store.tasks_where(&query)?)
    } else {
        let rounds = store.rounds()?;
        let round = pick_round(&rounds, selection.round).ok_or_else(|| match selection.round {
            Some(number) => {
                let known: Vec<String> = rounds.iter().map(|r| r.number.to_string()).collect();
                let known = if known.is_empty() {
                    "no round has run yet".to_string()
                } else {
                    format!("rounds: {}", known.join(", "))
                };
                ExportError::NoRound { number, known }
            }
            None if rounds.is_empty() => ExportError::Nothing(
                "no round has run yet (`socratic round`); `--valid` exports every valid task".to_string(),
            ),
            None => ExportError::Nothing(format!(
                "no round has finished yet ({} started); pass `--round N` or `--valid`",
                rounds.len()
            )),
        })?;
        let mut source = format!("round {} curriculum", round.number);
        if round.step != crate::model::RoundStep::Done {
            source.push_str(&format!(" (unfinished: next step {})", round.step.as_str()));
        }
        (source, crate::engine::curriculum::load(store, round)?.into_iter().map(|e| e.task).collect())
    };
    let ids: Vec<String> = chosen.iter().map(|t| t.id.clone()).collect();
    let verdicts: HashMap<String, Verdict> =
        store.verdicts_of(&ids)?.into_iter().map(|v| (v.task_id.clone(), v)).collect();
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    for task in chosen {
        let verdict = verdicts.get(&task.id);
        match with_tests(task, verdict) {
            Ok(task) => out.push(task),
            Err(s) => skipped.push(s),
        }
    }
    if out.is_empty() {
        let why = match (skipped.len(), selection.valid) {
            (0, true) => format!("no {source} in the store (`socratic tasks validate` decides them)"),
            (0, false) => format!("the {source} is empty"),
            (n, _) => format!("none of the {n} tasks of the {source} is valid ({})", skipped_list(&skipped)),
        };
        return Err(ExportError::Nothing(why));
    }
    Ok(Selected { source, tasks: out, skipped })
}

/// A task with its FAIL_TO_PASS / PASS_TO_PASS filled from its valid verdict where it lacks
/// them, or why it cannot be exported or graded (no valid verdict, no FAIL_TO_PASS test).
pub fn with_tests(mut task: Task, verdict: Option<&Verdict>) -> std::result::Result<Task, Skipped> {
    match verdict {
        Some(v) if v.is_valid() => {
            if task.fail_to_pass.is_empty() {
                task.fail_to_pass = v.fail_to_pass.clone();
            }
            if task.pass_to_pass.is_empty() {
                task.pass_to_pass = v.pass_to_pass.clone();
            }
            if task.fail_to_pass.is_empty() {
                Err(Skipped { task_id: task.id, reason: "valid verdict without FAIL_TO_PASS tests".into() })
            } else {
                Ok(task)
            }
        }
        Some(v) => Err(Skipped {
            task_id: task.id,
            reason: format!("not valid ({}: {})", v.rejected_at().map_or("retry", |s| s.name()), v.reason),
        }),
        None => Err(Skipped { task_id: task.id, reason: "not validated yet (`socratic tasks validate`)".into() }),
    }
}

fn skipped_list(skipped: &[Skipped]) -> String {
    let shown: Vec<String> = skipped.iter().take(3).map(|s| format!("{}: {}", s.task_id, s.reason)).collect();
    let more = if skipped.len() > 3 { format!("; and {} more", skipped.len() - 3) } else { String::new() };
    format!("{}{more}", shown.join("; "))
}

/// What each task's repository says about it (name, commit time), its fix and its environment.
pub fn prepare(store: &Store, tasks: &[Task]) -> Result<Vec<ExportTask>> {
    let mut repos: HashMap<String, RepoFacts> = HashMap::new();
    let mut out = Vec::with_capacity(tasks.len());
    for task in tasks {
        let task_err = |message: String| ExportError::Task { task: task.id.clone(), message };
        if !repos.contains_key(&task.repo) {
            let facts = RepoFacts::read(Path::new(&task.repo)).map_err(task_err)?;
            repos.insert(task.repo.clone(), facts);
        }
        let facts = &repos[&task.repo];
        let created_at = facts.commit_time(&task.base_commit).map_err(task_err)?;
        let fix = crate::diff::reverse(&task.bug_patch)
            .map_err(|e| task_err(format!("its bug patch cannot be reversed into a fix: {e}")))?;
        let env = store.environment(&task.repo, &task.base_commit)?;
        let image = task.image.clone().or_else(|| env.as_ref().map(|e| e.image.clone()));
        let recipe = env
            .as_ref()
            .map(|e| Recipe { base_image: e.base_image.clone(), install_commands: e.install_commands.clone() });
        // Known-flaky tests are never PASS_TO_PASS, whenever the task was stored.
        let mut task = task.clone();
        if let Some(e) = &env {
            task.pass_to_pass.retain(|t| !e.flaky.contains_key(t));
        }
        let python_path = env.and_then(|e| e.python_path);
        out.push(ExportTask {
            instance_id: instance_id(&facts.folder, &task.id),
            repo: facts.name.clone(),
            fix,
            image,
            python_path,
            recipe,
            created_at,
            task,
        });
    }
    Ok(out)
}

/// `<folder>.<task id>` with characters outside `[A-Za-z0-9._-]` replaced by `_`.
pub fn instance_id(folder: &str, task_id: &str) -> String {
    let safe = |s: &str| -> String {
        s.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' }).collect()
    };
    let folder = safe(folder);
    let folder = if folder.trim_matches(['.', '_', '-']).is_empty() { "repo".to_string() } else { folder };
    format!("{folder}.{}", safe(task_id))
}

/// A task's instance id (what every export writes for it), from its repository path alone.
pub fn instance_id_of(task: &Task) -> String {
    instance_id(&repo_folder(Path::new(&task.repo)), &task.id)
}

/// A repository's folder name as exports write it (control characters escaped).
fn repo_folder(root: &Path) -> String {
    crate::text::escape_controls(root.file_name().and_then(|n| n.to_str()).unwrap_or("repo"))
}

/// `owner/name` from a remote URL (`https://host/owner/name.git`, `ssh://git@host/owner/name`,
/// `git@host:owner/name.git`); `None` for local paths and anything else.
pub fn repo_name_from_url(url: &str) -> Option<String> {
    let url = url.trim();
    let path = if let Some((_, rest)) = url.split_once("://") {
        rest.split_once('/')?.1
    } else if let Some((host, path)) = url.split_once(':') {
        // scp-like `user@host:path`; a Windows drive (`C:`) or a local path is not one.
        if host.len() < 2 || host.contains('/') {
            return None;
        }
        path
    } else {
        return None;
    };
    let path = path.trim_end_matches('/');
    let path = path.strip_suffix(".git").unwrap_or(path);
    let mut parts = path.rsplit('/').filter(|p| !p.is_empty());
    let name = parts.next()?;
    let owner = parts.next()?;
    let ok = |s: &str| s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    (ok(owner) && ok(name)).then(|| format!("{owner}/{name}"))
}

/// A task repository: its folder name, its `repo` value, and an open handle for commit times.
struct RepoFacts {
    folder: String,
    name: String,
    repo: Repo,
}

impl RepoFacts {
    fn read(root: &Path) -> std::result::Result<RepoFacts, String> {
        let repo = Repo::open(root).map_err(|e| format!("cannot open its repository: {e}"))?;
        let folder = repo_folder(root);
        let from_origin = repo.origin_url().as_deref().and_then(repo_name_from_url);
        // The folder is escaped: the name goes into comments, TOML and JSON of the exports.
        let name = from_origin.unwrap_or_else(|| format!("local/{folder}"));
        Ok(RepoFacts { folder, name, repo })
    }

    fn commit_time(&self, commit: &str) -> std::result::Result<String, String> {
        let seconds = self.repo.commit_time(commit).map_err(|e| format!("base commit not found: {e}"))?;
        Ok(utc_time(seconds))
    }
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn utc_time(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0).unwrap_or_default().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Write `bytes` to `path` through a temporary file beside it, so a failed export never leaves a
/// half-written file where the old one was.
pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let out_err = |e: std::io::Error| ExportError::Output { path: path.display().to_string(), message: e.to_string() };
    if path.is_dir() {
        return Err(ExportError::Output {
            path: path.display().to_string(),
            message: "it is a folder; name a file".into(),
        });
    }
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("export");
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(out_err)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        out_err(e)
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::Site;

    /// A task as the exporters see it (no repository needed).
    pub(crate) fn export_task(id: &str) -> ExportTask {
        let bug = "diff --git a/pkg/m.py b/pkg/m.py\n--- a/pkg/m.py\n+++ b/pkg/m.py\n@@ -1,2 +1,2 @@\n def f(a, b):\n-    return a < b\n+    return a <= b\n";
        ExportTask {
            task: Task {
                id: id.into(),
                repo: "/src/pkg".into(),
                base_commit: "0123456789abcdef0123456789abcdef01234567".into(),
                operator: "flip_comparison".into(),
                skill: Some("changed-comparison".into()),
                site: Site {
                    file: "pkg/m.py".into(),
                    start_byte: 20,
                    end_byte: 25,
                    start_line: 1,
                    start_col: 11,
                    end_line: 1,
                    end_col: 16,
                    node_kind: "comparison_operator".into(),
                    scope: "f".into(),
                    query: "flip_comparison".into(),
                    capture: "op".into(),
                },
                bug_patch: bug.into(),
                enclosing: "f".into(),
                problem_statement: "`f(1, 1)` returns True; it should say 1 is not below 1.\n".into(),
                fail_to_pass: vec!["tests/test_m.py::test_equal[1-1]".into()],
                pass_to_pass: vec![
                    "tests/test_m.py::test_below".into(),
                    "tests/test_other.py::TestX::test_it's".into(),
                ],
                image: Some("socratic-env-pkg:abc123".into()),
                stage: crate::model::TaskStage::Scored,
                decision: Decision::None,
                anchor: crate::model::AnchorState::Fresh,
                seed: 0,
                round: Some(1),
            },
            instance_id: format!("pkg.{id}"),
            repo: "local/pkg".into(),
            fix: crate::diff::reverse(bug).unwrap(),
            image: Some("socratic-env-pkg:abc123".into()),
            python_path: None,
            recipe: Some(Recipe {
                base_image: "socratic-base:bookworm-0123456789ab".into(),
                install_commands: vec![
                    "python3 -m pip install --quiet -e '.[test]' || python3 -m pip install -e .".into()
                ],
            }),
            created_at: "2024-05-06T07:08:09Z".into(),
        }
    }

    #[test]
    fn instance_ids_are_safe_and_stable() {
        assert_eq!(instance_id("tallyho", "t-0123"), "tallyho.t-0123");
        assert_eq!(instance_id("my repo/x", "t-1"), "my_repo_x.t-1");
        assert_eq!(instance_id("...", "t-1"), "repo.t-1");
    }

    #[test]
    fn repo_names_from_remotes() {
        assert_eq!(
            repo_name_from_url("https://github.com/pallets/markupsafe.git").as_deref(),
            Some("pallets/markupsafe")
        );
        assert_eq!(repo_name_from_url("https://github.com/pallets/markupsafe/").as_deref(), Some("pallets/markupsafe"));
        assert_eq!(repo_name_from_url("git@github.com:pytoolz/toolz.git").as_deref(), Some("pytoolz/toolz"));
        assert_eq!(
            repo_name_from_url("ssh://git@gitlab.example.com:2222/group/sub/proj.git").as_deref(),
            Some("sub/proj")
        );
        assert_eq!(repo_name_from_url("/srv/git/proj.git"), None);
        assert_eq!(repo_name_from_url("C:\\repos\\proj"), None);
        assert_eq!(repo_name_from_url("https://host/only"), None);
        assert_eq!(repo_name_from_url("https://host/a b/c"), None);
    }

    #[test]
    fn utc_times() {
        assert_eq!(utc_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_time(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn write_file_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no/such/dir/out.jsonl");
        let e = write_file(&missing, b"x").unwrap_err().to_string();
        assert!(e.starts_with(&format!("cannot write {}", missing.display())), "{e}");
        let e = write_file(dir.path(), b"x").unwrap_err().to_string();
        assert!(e.contains("it is a folder"), "{e}");
        let ok = dir.path().join("out.jsonl");
        write_file(&ok, b"one").unwrap();
        write_file(&ok, b"two").unwrap();
        assert_eq!(std::fs::read_to_string(&ok).unwrap(), "two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left");
    }
}
