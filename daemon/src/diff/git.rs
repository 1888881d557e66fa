//! Git repositories through git2: the only code in the crate that calls it.
//!
//! In: a repository's folder, revisions, relative file paths, patch texts. Out: HEAD and commit
//! facts, file contents at a commit, the working tree against HEAD as a patch, whether a patch
//! applies (to the working tree, to HEAD's tree), a patch applied to the working tree, a tree
//! written out as files, and new commits (everything in the working tree; a patch on top of a
//! commit, kept by a ref). Every failure is one [`GitError`] naming the operation and the path.

use git2::{ApplyLocation, ApplyOptions, Diff, DiffFormat, DiffOptions, IndexAddOption, Repository, Signature, Time};
use std::path::{Path, PathBuf};

/// A git operation that failed, where, and git's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {operation}: {message}")]
pub struct GitError {
    /// What was being done, e.g. "open the repository", "apply the patch to HEAD's tree".
    pub operation: String,
    /// The repository (or file) it was done in.
    pub path: String,
    pub message: String,
}

/// The author and committer of every commit socratic writes.
const AUTHOR: (&str, &str) = ("socratic", "socratic@localhost");

/// An open repository.
pub struct Repo {
    repo: Repository,
    path: PathBuf,
}

impl Repo {
    /// Open the repository at `path` (its working tree or its `.git`).
    pub fn open(path: &Path) -> Result<Repo, GitError> {
        let repo = Repository::open(path).map_err(error("open the repository", path))?;
        Ok(Repo { repo, path: path.to_path_buf() })
    }

    /// Create a repository at `path` (the folder may exist; an existing repository is reopened).
    pub fn init(path: &Path) -> Result<Repo, GitError> {
        let repo = Repository::init(path).map_err(error("create a repository", path))?;
        Ok(Repo { repo, path: path.to_path_buf() })
    }

    fn fail(&self, operation: &str) -> impl FnOnce(git2::Error) -> GitError + '_ {
        let operation = operation.to_string();
        move |e| GitError { operation, path: self.path.display().to_string(), message: e.message().to_string() }
    }

    fn refuse(&self, operation: &str, message: &str) -> GitError {
        GitError { operation: operation.into(), path: self.path.display().to_string(), message: message.into() }
    }

    /// The folder the repository was opened at.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The root of the working tree.
    pub fn workdir(&self) -> Result<PathBuf, GitError> {
        self.repo
            .workdir()
            .map(|w| w.components().collect::<PathBuf>())
            .ok_or_else(|| self.refuse("find the working tree", "a bare repository has no working tree"))
    }

    /// The id of the HEAD commit.
    pub fn head_commit(&self) -> Result<String, GitError> {
        let commit = self.repo.head().and_then(|h| h.peel_to_commit()).map_err(self.fail("read the HEAD commit"))?;
        Ok(commit.id().to_string())
    }

    /// Committer time of a commit, in seconds since the epoch.
    pub fn commit_time(&self, rev: &str) -> Result<i64, GitError> {
        let seconds = self.commit(rev)?.committer().when().seconds();
        Ok(seconds)
    }

    fn commit(&self, rev: &str) -> Result<git2::Commit<'_>, GitError> {
        self.repo
            .revparse_single(rev)
            .and_then(|o| o.peel_to_commit())
            .map_err(self.fail(&format!("find commit {rev}")))
    }

    fn tree(&self, rev: &str) -> Result<git2::Tree<'_>, GitError> {
        self.repo
            .revparse_single(rev)
            .and_then(|o| o.peel_to_tree())
            .map_err(self.fail(&format!("find the tree of {rev}")))
    }

    /// The URL of the `origin` remote, if there is one.
    pub fn origin_url(&self) -> Option<String> {
        self.repo.find_remote("origin").ok().and_then(|r| r.url().map(str::to_string))
    }

    /// Is this working-tree file the same as in HEAD and the index (git status shows nothing)?
    pub fn is_unchanged(&self, rel: &str) -> bool {
        self.repo.status_file(Path::new(rel)).is_ok_and(|s| s.is_empty())
    }

    /// The content of `rel` at `rev`; `None` when the commit has no such file.
    pub fn blob_at(&self, rev: &str, rel: &str) -> Result<Option<Vec<u8>>, GitError> {
        let tree = self.tree(rev)?;
        let Ok(entry) = tree.get_path(Path::new(rel)) else { return Ok(None) };
        let blob = entry
            .to_object(&self.repo)
            .and_then(|o| o.peel_to_blob())
            .map_err(self.fail(&format!("read {rel} at {rev}")))?;
        Ok(Some(blob.content().to_vec()))
    }

    /// Write every file of `rev`'s tree under `dir` (executable files keep their bit).
    pub fn write_tree_to(&self, rev: &str, dir: &Path) -> Result<(), GitError> {
        let tree = self.tree(rev)?;
        let mut failure: Option<GitError> = None;
        let walked = tree.walk(git2::TreeWalkMode::PreOrder, |root, entry| {
            if entry.kind() != Some(git2::ObjectType::Blob) {
                return git2::TreeWalkResult::Ok;
            }
            let rel = format!("{root}{}", entry.name().unwrap_or_default());
            let written = entry
                .to_object(&self.repo)
                .and_then(|o| o.peel_to_blob())
                .map_err(self.fail(&format!("read {rel} at {rev}")))
                .and_then(|blob| {
                    let path = dir.join(&rel);
                    write_file(&path, blob.content(), entry.filemode()).map_err(|e| GitError {
                        operation: format!("write the file {rel} of {rev}"),
                        path: path.display().to_string(),
                        message: e.to_string(),
                    })
                });
            match written {
                Ok(()) => git2::TreeWalkResult::Ok,
                Err(e) => {
                    failure = Some(e);
                    git2::TreeWalkResult::Abort
                }
            }
        });
        match failure {
            Some(e) => Err(e),
            None => walked.map_err(self.fail(&format!("walk the tree of {rev}"))),
        }
    }

    /// The working tree (index and untracked files included) against HEAD, as a patch; empty
    /// when nothing changed.
    pub fn working_tree_diff(&self) -> Result<String, GitError> {
        let operation = "diff the working tree against HEAD";
        let head = self.repo.head().and_then(|h| h.peel_to_tree()).map_err(self.fail(operation))?;
        let mut opts = DiffOptions::new();
        opts.include_untracked(true).recurse_untracked_dirs(true).show_untracked_content(true);
        let diff =
            self.repo.diff_tree_to_workdir_with_index(Some(&head), Some(&mut opts)).map_err(self.fail(operation))?;
        let mut out = Vec::new();
        diff.print(DiffFormat::Patch, |_, _, line| {
            if matches!(line.origin(), '+' | '-' | ' ') {
                out.push(line.origin() as u8);
            }
            out.extend_from_slice(line.content());
            true
        })
        .map_err(self.fail(operation))?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    fn read_patch(&self, patch: &str) -> Result<Diff<'static>, GitError> {
        Diff::from_buffer(patch.as_bytes()).map_err(self.fail("read the patch"))
    }

    /// Check that a patch applies both to the working tree and to HEAD's tree.
    pub fn check_applies(&self, patch: &str) -> Result<(), GitError> {
        let diff = self.read_patch(patch)?;
        let mut options = ApplyOptions::new();
        options.check(true);
        self.repo
            .apply(&diff, ApplyLocation::WorkDir, Some(&mut options))
            .map_err(self.fail("apply the patch to the working tree (check only)"))?;
        self.check_applies_at_head(patch)
    }

    /// Check that a patch applies to HEAD's tree (what environment images hold).
    pub fn check_applies_at_head(&self, patch: &str) -> Result<(), GitError> {
        let diff = self.read_patch(patch)?;
        let head = self.repo.head().and_then(|h| h.peel_to_tree()).map_err(self.fail("read HEAD's tree"))?;
        self.repo.apply_to_tree(&head, &diff, None).map_err(self.fail("apply the patch to HEAD's tree"))?;
        Ok(())
    }

    /// Apply a patch to the files of the working tree.
    pub fn apply_to_workdir(&self, patch: &str) -> Result<(), GitError> {
        let diff = self.read_patch(patch)?;
        self.repo.apply(&diff, ApplyLocation::WorkDir, None).map_err(self.fail("apply the patch to the working tree"))
    }

    /// Commit everything in the working tree on top of HEAD (no parent on an unborn HEAD), at
    /// `seconds`; HEAD itself when its tree is already that. Returns the commit id.
    pub fn commit_all(&self, message: &str, seconds: i64) -> Result<String, GitError> {
        let mut index = self.repo.index().map_err(self.fail("read the index"))?;
        index.add_all(["*"], IndexAddOption::DEFAULT, None).map_err(self.fail("add the working tree to the index"))?;
        index.write().map_err(self.fail("write the index"))?;
        let tree_id = index.write_tree().map_err(self.fail("write the tree"))?;
        let tree = self.repo.find_tree(tree_id).map_err(self.fail("find the written tree"))?;
        let parents = match self.repo.head().ok().and_then(|h| h.peel_to_commit().ok()) {
            Some(head) if head.tree_id() == tree.id() => return Ok(head.id().to_string()),
            Some(head) => vec![head],
            None => vec![],
        };
        let parent_refs: Vec<&git2::Commit> = parents.iter().collect();
        let sig = signature(&Time::new(seconds, 0)).map_err(self.fail("make the signature"))?;
        let id =
            self.repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &parent_refs).map_err(self.fail("commit"))?;
        Ok(id.to_string())
    }

    /// Commit `rev`'s tree with `patch` applied as a child of `rev`, at `rev`'s committer time
    /// (so the same inputs give the same id), and point `ref_name` at it. Only objects and that
    /// ref are written: never the working tree or a branch. Returns the commit id.
    pub fn commit_patch_on(&self, rev: &str, patch: &str, message: &str, ref_name: &str) -> Result<String, GitError> {
        let base = self.commit(rev)?;
        let diff = self.read_patch(patch)?;
        let base_tree = base.tree().map_err(self.fail(&format!("read the tree of {rev}")))?;
        let mut index = self
            .repo
            .apply_to_tree(&base_tree, &diff, None)
            .map_err(self.fail(&format!("apply the patch at {rev}")))?;
        let tree_id = index.write_tree_to(&self.repo).map_err(self.fail("write the patched tree"))?;
        let tree = self.repo.find_tree(tree_id).map_err(self.fail("find the patched tree"))?;
        let sig = signature(&base.committer().when()).map_err(self.fail("make the signature"))?;
        let commit = self
            .repo
            .commit(None, &sig, &sig, message, &tree, &[&base])
            .map_err(self.fail(&format!("commit the patch on {rev}")))?;
        self.repo
            .reference(ref_name, commit, true, &format!("socratic: {ref_name}"))
            .map_err(self.fail(&format!("write {ref_name}")))?;
        Ok(commit.to_string())
    }
}

fn error(operation: &str, path: &Path) -> impl FnOnce(git2::Error) -> GitError {
    let (operation, path) = (operation.to_string(), path.display().to_string());
    move |e| GitError { operation, path, message: e.message().to_string() }
}

fn signature(when: &Time) -> Result<Signature<'static>, git2::Error> {
    Signature::new(AUTHOR.0, AUTHOR.1, when)
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
