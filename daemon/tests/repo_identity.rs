//! Repository identity with real git clones: tasks generated in one clone of a repository are
//! the tasks of every clone of it (same origin remote), as the language server lists them per
//! file and per workspace; a repository with other history sees none of them.

use socratic::lsp::state::{canonical, Shared};
use socratic::store::Store;
use std::path::Path;
use std::process::Command;

mod common;
use common::{commit_all, copy_dir, example_repo_source, socratic};

fn git_clone(from: &Path, to: &Path) {
    let out = Command::new("git").arg("clone").arg("-q").arg(from).arg(to).output().expect("git clone");
    assert!(out.status.success(), "git clone: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_second_clone_sees_the_tasks_of_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("source");
    copy_dir(&example_repo_source(), &source);
    commit_all(&source);
    let (a, b) = (dir.path().join("clone-a"), dir.path().join("elsewhere/clone-b"));
    git_clone(&source, &a);
    git_clone(&source, &b);
    // Same files, other history: another repository.
    let other = dir.path().join("other");
    copy_dir(&example_repo_source(), &other);
    commit_all(&other);

    let home = dir.path().join("home");
    let out = socratic(&home, &["tasks", "generate", "--repo", a.to_str().unwrap(), "--budget", "6", "--seed", "2"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stored = Store::open(&home).unwrap().tasks().unwrap();
    assert!(stored.len() >= 3, "only {} tasks", stored.len());
    let file = stored[0].site.file.clone();
    let in_file = stored.iter().filter(|t| t.site.file == file).count();

    let shared = Shared::open(&home).unwrap();
    let ids = |root: &Path| -> Vec<String> {
        let mut ids: Vec<String> =
            shared.tasks_of_root(Some(&canonical(root))).unwrap().into_iter().map(|(_, t)| t.id).collect();
        ids.sort();
        ids
    };
    let mut want: Vec<String> = stored.iter().map(|t| t.id.clone()).collect();
    want.sort();
    assert_eq!(ids(&a), want);
    assert_eq!(ids(&b), want, "the second clone lists the first clone's tasks");
    assert_eq!(shared.file_tasks(&canonical(&b), &file).tasks.len(), in_file, "and shows them in {file}");
    assert!(ids(&other).is_empty(), "a repository with other history has none");
    // The tasks keep the path they were generated at as their location.
    assert!(stored.iter().all(|t| canonical(Path::new(&t.repo)) == canonical(&a)));
}
