//! A Solver's patch, written against the task's bugged tree (what a Solver sees, what SWE-bench
//! calls the model patch), turned into the patch that is graded: base commit → bugged tree with
//! the Solver's patch applied, for every file the bug or the Solver touched. Environment images
//! hold the clean base commit, so this is what `engine::checkout::Checkout::combined_patch`
//! gives for the same patch applied in a checkout — made here in memory, with no checkout.
//!
//! In: the task's bug patch, the Solver's patch, and a reader of files at the base commit. Out:
//! the combined patch, or a [`CombineError`] saying why the Solver's patch cannot be graded (it
//! does not parse, holds no file, is binary, or a hunk does not apply), naming the file and hunk.

use crate::diff::{unified_diff, Patch, PatchError};
use std::collections::{BTreeMap, BTreeSet};

/// Why a Solver's patch cannot be graded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CombineError {
    #[error("the patch is not a unified diff: {0}")]
    Malformed(PatchError),
    #[error("the patch holds no file diff")]
    NoFile,
    #[error("the patch does not apply to the task's tree: {0}")]
    DoesNotApply(PatchError),
    /// The task's own bug patch or its repository failed (not the caller's fault).
    #[error("{0}")]
    Task(String),
}

/// The combined patch for `solver_patch` on the tree `bug_patch` makes of the base commit;
/// `clean(path)` reads a file at the base commit (`None` when it has no such file).
pub fn combined_patch(
    bug_patch: &str,
    solver_patch: &str,
    clean: impl Fn(&str) -> Result<Option<String>, String>,
) -> Result<String, CombineError> {
    let solver = Patch::parse(solver_patch).map_err(CombineError::Malformed)?;
    if solver.files.is_empty() {
        return Err(CombineError::NoFile);
    }
    let bug = Patch::parse(bug_patch).map_err(|e| CombineError::Task(format!("the task's bug patch: {e}")))?;
    let read = |path: &str| clean(path).map_err(CombineError::Task).map(Option::unwrap_or_default);
    // The tree as it stands: path → text, for the files changed so far (bug, then Solver).
    let mut tree: BTreeMap<String, String> = BTreeMap::new();
    let mut touched: BTreeSet<String> = BTreeSet::new();
    for f in &bug.files {
        let before = match f.old_path() {
            Some(p) => read(&p)?,
            None => String::new(),
        };
        let after = f.apply(&before).map_err(|e| CombineError::Task(format!("the task's bug patch: {e}")))?;
        apply_to_tree(&mut tree, f.old_path(), f.new_path(), after);
        touched.extend(f.path());
    }
    for f in &solver.files {
        let before = match f.old_path() {
            Some(p) => match tree.get(&p) {
                Some(text) => text.clone(),
                None => read(&p)?,
            },
            None => String::new(),
        };
        let after = f.apply(&before).map_err(CombineError::DoesNotApply)?;
        apply_to_tree(&mut tree, f.old_path(), f.new_path(), after);
        touched.extend(f.path());
    }
    touched.extend(solver.paths());
    let mut out = String::new();
    for path in touched {
        let before = read(&path)?;
        let after = match tree.get(&path) {
            Some(text) => text.clone(),
            None => before.clone(),
        };
        if before != after {
            out.push_str(&unified_diff(&path, &before, &after));
        }
    }
    Ok(out)
}

/// Record one file's change: a deleted or renamed-away file reads as empty (as a checkout's
/// missing file does), the new path holds the new text.
fn apply_to_tree(tree: &mut BTreeMap<String, String>, old: Option<String>, new: Option<String>, after: String) {
    if let Some(old) = old.filter(|o| new.as_ref() != Some(o)) {
        tree.insert(old, String::new());
    }
    if let Some(new) = new {
        tree.insert(new, after);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLEAN: &str = "def f(a, b):\n    return a < b\n\n\ndef g(x):\n    return x + 1\n";
    const BUG: &str = "--- a/m.py\n+++ b/m.py\n@@ -1,2 +1,2 @@\n def f(a, b):\n-    return a < b\n+    return a <= b\n";

    fn clean(path: &str) -> Result<Option<String>, String> {
        Ok(match path {
            "m.py" => Some(CLEAN.to_string()),
            "other.py" => Some("x = 1\n".to_string()),
            _ => None,
        })
    }

    #[test]
    fn the_fix_cancels_the_bug_and_other_changes_stay() {
        let fix = crate::diff::reverse(BUG).unwrap();
        assert_eq!(combined_patch(BUG, &fix, clean).unwrap(), "", "gold: the clean tree");
        let other = "--- a/other.py\n+++ b/other.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n";
        let combined = combined_patch(BUG, other, clean).unwrap();
        assert_eq!(
            combined,
            format!(
                "{}{}",
                unified_diff("m.py", CLEAN, &CLEAN.replace("a < b", "a <= b")),
                unified_diff("other.py", "x = 1\n", "x = 2\n")
            )
        );
        let new_file = "--- /dev/null\n+++ b/new.py\n@@ -0,0 +1 @@\n+y = 3\n";
        assert!(combined_patch(BUG, new_file, clean).unwrap().contains("+y = 3"));
    }

    /// The same patch through a real checkout (`Checkout::combined_patch`, what `solve` grades)
    /// and through `combined_patch` gives the same bytes.
    #[test]
    fn equals_what_a_checkout_gives() {
        use crate::diff::git::Repo;
        use crate::engine::checkout::Checkout;
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir_all(src.join("pkg")).unwrap();
        std::fs::write(src.join("m.py"), CLEAN).unwrap();
        std::fs::write(src.join("pkg/other.py"), "x = 1\ny = 2\n").unwrap();
        let repo = Repo::init(&src).unwrap();
        let base = repo.commit_all("base", 1_700_000_000).unwrap();
        // As generation writes bug patches (git applies them: `diff --git` headers).
        let bug = unified_diff("m.py", CLEAN, &CLEAN.replace("a < b", "a <= b"));
        let mut task = crate::engine::curriculum::tests::task("t-1", 1, crate::model::Decision::None);
        (task.repo, task.base_commit, task.bug_patch) = (src.display().to_string(), base.clone(), bug.clone());
        let clean = |path: &str| -> Result<Option<String>, String> {
            let blob = repo.blob_at(&base, path).map_err(|e| e.to_string())?;
            Ok(blob.map(|b| String::from_utf8_lossy(&b).into_owned()))
        };
        type Edit = fn(&std::path::Path);
        let edits: [(&str, Edit); 4] = [
            ("gold", |d| std::fs::write(d.join("m.py"), CLEAN).unwrap()),
            ("other file", |d| std::fs::write(d.join("pkg/other.py"), "x = 1\ny = 3\n").unwrap()),
            ("new file", |d| std::fs::write(d.join("pkg/new.py"), "z = 0\n").unwrap()),
            ("gold and more", |d| {
                std::fs::write(d.join("m.py"), CLEAN.replace("x + 1", "x + 2")).unwrap();
                std::fs::write(d.join("pkg/other.py"), "x = 0\ny = 2\n").unwrap();
            }),
        ];
        for (name, edit) in edits {
            let checkout = Checkout::create(&task, &dir.path().join(name)).unwrap();
            edit(&checkout.dir);
            let solver = checkout.solver_diff().unwrap();
            assert!(!solver.is_empty(), "{name}");
            let expected = checkout.combined_patch(&solver).unwrap();
            assert_eq!(combined_patch(&bug, &solver, clean).unwrap(), expected, "{name}: {solver}");
        }
    }

    #[test]
    fn bad_patches_are_named() {
        assert_eq!(combined_patch(BUG, "just words\n", clean), Err(CombineError::NoFile));
        let stale = "--- a/m.py\n+++ b/m.py\n@@ -1,2 +1,2 @@\n def f(a, b):\n-    return a > b\n+    return a < b\n";
        let e = combined_patch(BUG, stale, clean).unwrap_err();
        assert!(matches!(e, CombineError::DoesNotApply(_)), "{e}");
        assert!(e.to_string().contains("m.py: hunk 1"), "{e}");
        let truncated = "--- a/m.py\n+++ b/m.py\n@@ -1,2 +1,2 @@\n def f(a, b):\n";
        assert!(matches!(combined_patch(BUG, truncated, clean), Err(CombineError::Malformed(_))));
    }
}
