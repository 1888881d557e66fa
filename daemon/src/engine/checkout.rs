//! A Solver's working copy of a task: the repository's files at the task's base commit with the
//! bug applied, committed as the only commit of a fresh git repository (so neither `git log` nor
//! `git diff` shows the bug). The Solver's diff is the working tree against that commit; the
//! patch graded in the container is the base commit → working tree (bug and fix together),
//! because environment images hold the clean base commit.
//!
//! In: a task (its repository, base commit, bug patch) and a folder. Out: the checkout, the
//! Solver's diff, the combined patch, and file reads / writes for built-in solvers.

use crate::diff::git::Repo;
use crate::diff::unified_diff;
use crate::model::Task;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

pub struct Checkout {
    pub dir: PathBuf,
    source: PathBuf,
    base_commit: String,
    bug_files: BTreeSet<String>,
}

impl Checkout {
    /// Write the bugged tree of `task` into `dir` (emptied first) and commit it.
    pub fn create(task: &Task, dir: &Path) -> anyhow::Result<Checkout> {
        if dir.exists() {
            std::fs::remove_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
        }
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
        Repo::open(Path::new(&task.repo))?.write_tree_to(&task.base_commit, dir)?;
        let repo = Repo::init(dir)?;
        repo.apply_to_workdir(&task.bug_patch)
            .map_err(|e| anyhow::anyhow!("applying the bug patch of {}: {e}", task.id))?;
        repo.commit_all("task", 1_700_000_000)?;
        Ok(Checkout {
            dir: dir.to_path_buf(),
            source: PathBuf::from(&task.repo),
            base_commit: task.base_commit.clone(),
            bug_files: crate::skills::touched::files(&task.bug_patch),
        })
    }

    /// The checkout of `task` that [`Checkout::create`] wrote into `dir` earlier (nothing is
    /// read or written here).
    pub fn open(task: &Task, dir: &Path) -> Checkout {
        Checkout {
            dir: dir.to_path_buf(),
            source: PathBuf::from(&task.repo),
            base_commit: task.base_commit.clone(),
            bug_files: crate::skills::touched::files(&task.bug_patch),
        }
    }

    /// The working tree against the bugged commit (untracked files included), as a patch.
    pub fn solver_diff(&self) -> anyhow::Result<String> {
        Ok(Repo::open(&self.dir)?.working_tree_diff()?)
    }

    /// Base commit → working tree, for every file the bug or the Solver touched
    /// (`solver_diff`: what [`Checkout::solver_diff`] gives for the current tree).
    pub fn combined_patch(&self, solver_diff: &str) -> anyhow::Result<String> {
        let mut files = self.bug_files.clone();
        files.extend(crate::skills::touched::files(solver_diff));
        let source = Repo::open(&self.source)?;
        let mut out = String::new();
        for file in files {
            let before = source.blob_at(&self.base_commit, &file)?;
            let before = before.map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
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
