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
