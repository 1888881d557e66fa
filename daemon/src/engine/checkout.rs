//! A Solver's working copy of a task: the repository's files at the task's base commit with the
//! bug applied, committed as the only commit of a fresh git repository (so neither `git log` nor
//! `git diff` shows the bug). The Solver's diff is the working tree against that commit; the
//! patch graded in the container is the base commit → working tree (bug and fix together),
//! because environment images hold the clean base commit.
//!
//! In: a task (its repository, base commit, bug patch) and a folder. Out: the checkout, the
//! Solver's diff, the combined patch, and file reads / writes for built-in solvers.

use crate::model::Task;
use crate::tasks::patch::unified_diff;
use git2::{ApplyLocation, Diff, DiffFormat, DiffOptions, Repository, Signature, Time};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

pub struct Checkout {
    pub dir: PathBuf,
    source: PathBuf,
    base_commit: String,
    bug_files: BTreeSet<String>,
}

fn git_err(what: &str) -> impl Fn(git2::Error) -> anyhow::Error + '_ {
    move |e| anyhow::anyhow!("{what}: {}", e.message())
}

impl Checkout {
    /// Write the bugged tree of `task` into `dir` (emptied first) and commit it.
    pub fn create(task: &Task, dir: &Path) -> anyhow::Result<Checkout> {
        if dir.exists() {
            std::fs::remove_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
        }
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
        let source = Repository::open(&task.repo).map_err(git_err(&task.repo))?;
        let tree = source
            .revparse_single(&task.base_commit)
            .and_then(|o| o.peel_to_tree())
            .map_err(git_err(&format!("{} at {}", task.repo, task.base_commit)))?;
        let mut write_error = None;
        tree.walk(git2::TreeWalkMode::PreOrder, |root, entry| {
            if entry.kind() != Some(git2::ObjectType::Blob) {
                return git2::TreeWalkResult::Ok;
            }
            let rel = format!("{root}{}", entry.name().unwrap_or_default());
            let written = entry
                .to_object(&source)
                .map_err(|e| e.message().to_string())
                .and_then(|o| o.peel_to_blob().map_err(|e| e.message().to_string()))
                .and_then(|blob| {
                    write_file(&dir.join(&rel), blob.content(), entry.filemode()).map_err(|e| e.to_string())
                });
            if let Err(e) = written {
                write_error = Some(format!("{rel}: {e}"));
                return git2::TreeWalkResult::Abort;
            }
            git2::TreeWalkResult::Ok
        })
        .ok();
        if let Some(e) = write_error {
            anyhow::bail!("writing the checkout of {}: {e}", task.id);
        }
        let repo = Repository::init(dir).map_err(git_err(&dir.display().to_string()))?;
        let diff = Diff::from_buffer(task.bug_patch.as_bytes()).map_err(git_err("the bug patch"))?;
        repo.apply(&diff, ApplyLocation::WorkDir, None)
            .map_err(git_err(&format!("applying the bug patch of {}", task.id)))?;
        let mut index = repo.index().map_err(git_err("index"))?;
        index.add_all(["*"], git2::IndexAddOption::DEFAULT, None).map_err(git_err("git add"))?;
        index.write().map_err(git_err("index"))?;
        let tree_id = index.write_tree().map_err(git_err("write tree"))?;
        let commit_tree = repo.find_tree(tree_id).map_err(git_err("tree"))?;
        let sig = Signature::new("socratic", "socratic@localhost", &Time::new(1_700_000_000, 0))
            .map_err(git_err("signature"))?;
        repo.commit(Some("HEAD"), &sig, &sig, "task", &commit_tree, &[]).map_err(git_err("commit"))?;
        let bug_files = crate::skills::diff::files(&task.bug_patch);
        Ok(Checkout {
            dir: dir.to_path_buf(),
            source: PathBuf::from(&task.repo),
            base_commit: task.base_commit.clone(),
            bug_files,
        })
    }

    /// The working tree against the bugged commit (untracked files included), as a patch.
    pub fn solver_diff(&self) -> anyhow::Result<String> {
        let repo = Repository::open(&self.dir).map_err(git_err("checkout"))?;
        let head = repo.head().and_then(|h| h.peel_to_tree()).map_err(git_err("checkout HEAD"))?;
        let mut opts = DiffOptions::new();
        opts.include_untracked(true).recurse_untracked_dirs(true).show_untracked_content(true);
        let diff = repo.diff_tree_to_workdir_with_index(Some(&head), Some(&mut opts)).map_err(git_err("diff"))?;
        let mut out = Vec::new();
        diff.print(DiffFormat::Patch, |_, _, line| {
            if matches!(line.origin(), '+' | '-' | ' ') {
                out.push(line.origin() as u8);
            }
            out.extend_from_slice(line.content());
            true
        })
        .map_err(git_err("diff"))?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    /// Base commit → working tree, for every file the bug or the Solver touched
    /// (`solver_diff`: what [`Checkout::solver_diff`] gives for the current tree).
    pub fn combined_patch(&self, solver_diff: &str) -> anyhow::Result<String> {
        let mut files = self.bug_files.clone();
        files.extend(crate::skills::diff::files(solver_diff));
        let source = Repository::open(&self.source).map_err(git_err("repository"))?;
        let tree =
            source.revparse_single(&self.base_commit).and_then(|o| o.peel_to_tree()).map_err(git_err("base commit"))?;
        let mut out = String::new();
        for file in files {
            let before = match tree.get_path(Path::new(&file)) {
                Ok(entry) => {
                    let blob = entry.to_object(&source).and_then(|o| o.peel_to_blob()).map_err(git_err(&file))?;
                    String::from_utf8_lossy(blob.content()).into_owned()
                }
                Err(_) => String::new(),
            };
            let after = std::fs::read_to_string(self.dir.join(&file)).unwrap_or_default();
            if before != after {
                out.push_str(&unified_diff(&file, &before, &after));
            }
        }
        Ok(out)
    }

    pub fn read(&self, file: &str) -> anyhow::Result<String> {
        std::fs::read_to_string(self.dir.join(file)).map_err(|e| anyhow::anyhow!("{file}: {e}"))
    }

    pub fn write(&self, file: &str, text: &str) -> anyhow::Result<()> {
        std::fs::write(self.dir.join(file), text).map_err(|e| anyhow::anyhow!("{file}: {e}"))
    }
}

fn write_file(path: &Path, bytes: &[u8], mode: i32) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, bytes)?;
    if mode == 0o100755 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(())
}
