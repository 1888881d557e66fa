//! A repository's identity: what ties a checkout's tasks to every other clone of it.
//!
//! In: the store and a path inside a git repository. Out: the identity (`origin` remote
//! normalised, else the root commit: [`crate::diff::git::Repo::identity`]) recorded in the store
//! for the checkout's root (as tasks name it, and canonicalised when that differs), which also
//! moves the tasks generated there under it. Called wherever tasks are generated and wherever
//! an editor asks for a repository's tasks.

use crate::store::Store;
use std::path::Path;

/// Record the identity of the repository at `path`; returns it.
pub fn record_identity(store: &mut Store, path: &Path) -> anyhow::Result<String> {
    let root = crate::anchor::repo_root(path)?;
    let repo = crate::diff::git::Repo::open(&root)?;
    let identity = repo.identity()?;
    store.set_repo_identity(&root.display().to_string(), &identity)?;
    if let Ok(canonical) = root.canonicalize() {
        if canonical != root {
            store.set_repo_identity(&canonical.display().to_string(), &identity)?;
        }
    }
    Ok(identity)
}
