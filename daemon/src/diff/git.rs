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

/// The author and committer of every commit socratic writes (name, email).
pub const AUTHOR: (&str, &str) = ("socratic", "socratic@localhost");

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

    /// Committer time of a commit in git's raw form, `<seconds> <+hhmm>` (what
    /// `GIT_COMMITTER_DATE` takes), so the same commit can be made again elsewhere.
    pub fn commit_raw_date(&self, rev: &str) -> Result<String, GitError> {
        let when = self.commit(rev)?.committer().when();
        let minutes = when.offset_minutes();
        let sign = if minutes < 0 { '-' } else { '+' };
        Ok(format!("{} {sign}{:02}{:02}", when.seconds(), minutes.abs() / 60, minutes.abs() % 60))
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

    /// The repository's identity, the same in every clone: its `origin` remote normalised
    /// ([`normalise_remote`]) when it has one, else `root:<id>` of the first commit reached by
    /// following first parents from HEAD.
    pub fn identity(&self) -> Result<String, GitError> {
        if let Some(url) = self.origin_url() {
            if let Some(id) = normalise_remote(&url) {
                return Ok(id);
            }
        }
        let mut walk = self.repo.revwalk().map_err(self.fail("walk the history"))?;
        walk.push_head().map_err(self.fail("walk the history from HEAD"))?;
        walk.simplify_first_parent().map_err(self.fail("walk the history"))?;
        let mut root = None;
        for oid in walk {
            root = Some(oid.map_err(self.fail("walk the history"))?);
        }
        let root = root.ok_or_else(|| self.refuse("find the root commit", "the repository has no commit"))?;
        Ok(format!("root:{root}"))
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

    /// The paths of every file in `rev`'s tree (what [`Repo::write_tree_to`] writes), in tree order.
    pub fn tree_files(&self, rev: &str) -> Result<Vec<String>, GitError> {
        let tree = self.tree(rev)?;
        let mut out = Vec::new();
        tree.walk(git2::TreeWalkMode::PreOrder, |root, entry| {
            if entry.kind() == Some(git2::ObjectType::Blob) {
                out.push(format!("{root}{}", entry.name().unwrap_or_default()));
            }
            git2::TreeWalkResult::Ok
        })
        .map_err(self.fail(&format!("walk the tree of {rev}")))?;
        Ok(out)
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

/// A remote URL as one identity for every way of writing it: `host/path` with the scheme, user,
/// port, trailing `/` and `.git` dropped and the host lower-cased
/// (`https://GitHub.com/a/b.git`, `git@github.com:a/b`, `ssh://git@github.com:22/a/b/` are all
/// `github.com/a/b`); a local path or `file://` URL is `file:<path>` (made absolute against
/// nothing: as written, minus a trailing `/` and `.git`). `None` for an empty URL.
pub fn normalise_remote(url: &str) -> Option<String> {
    let url = url.trim();
    if url.is_empty() {
        return None;
    }
    let strip = |p: &str| -> String {
        let p = p.trim_end_matches('/');
        p.strip_suffix(".git").unwrap_or(p).trim_end_matches('/').to_string()
    };
    if let Some(path) = url.strip_prefix("file://") {
        return Some(format!("file:{}", strip(path)));
    }
    let (host, path) = if let Some((_, rest)) = url.split_once("://") {
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        (authority, path)
    } else if let Some((host, path)) = url.split_once(':').filter(|(h, _)| h.len() > 1 && !h.contains('/')) {
        (host, path)
    } else {
        return Some(format!("file:{}", strip(url)));
    };
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = host.split_once(':').map_or(host, |(h, _)| h).to_ascii_lowercase();
    Some(format!("{host}/{}", strip(path.trim_start_matches('/'))))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remotes_normalise_to_one_identity() {
        let want = Some("github.com/pallets/markupsafe".to_string());
        for url in [
            "https://github.com/pallets/markupsafe.git",
            "https://GitHub.com/pallets/markupsafe/",
            "git@github.com:pallets/markupsafe.git",
            "ssh://git@github.com:22/pallets/markupsafe",
            "http://user@github.com/pallets/markupsafe",
        ] {
            assert_eq!(normalise_remote(url), want, "{url}");
        }
        assert_eq!(normalise_remote("/srv/git/proj.git/").as_deref(), Some("file:/srv/git/proj"));
        assert_eq!(normalise_remote("file:///srv/git/proj").as_deref(), Some("file:/srv/git/proj"));
        assert_eq!(normalise_remote(" "), None);
    }

    #[test]
    fn identity_is_the_origin_else_the_root_commit() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repo::init(dir.path()).unwrap();
        assert!(repo.identity().is_err(), "no commit yet");
        std::fs::write(dir.path().join("a.txt"), "a").unwrap();
        let root = repo.commit_all("one", 1_700_000_000).unwrap();
        std::fs::write(dir.path().join("a.txt"), "b").unwrap();
        repo.commit_all("two", 1_700_000_100).unwrap();
        assert_eq!(repo.identity().unwrap(), format!("root:{root}"));
        repo.repo.remote("origin", "git@example.com:team/proj.git").unwrap();
        assert_eq!(repo.identity().unwrap(), "example.com/team/proj");
    }
}
