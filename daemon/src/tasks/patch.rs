//! Bug patches: unified diffs `git apply` accepts, and the git checks that they apply.
//!
//! In: a file path and its text before and after a rewrite; a git repository. Out: a
//! `diff --git` unified diff with `a/` and `b/` paths, a normalised form for near-duplicate
//! detection, and whether the diff applies to the working tree and to HEAD's tree.

use git2::{ApplyLocation, ApplyOptions, Diff, Repository};

/// A unified diff of one file, `diff --git` header included, 3 lines of context.
pub fn unified_diff(path: &str, before: &str, after: &str) -> String {
    let diff = similar::TextDiff::from_lines(before, after);
    let body = diff.unified_diff().context_radius(3).header(&format!("a/{path}"), &format!("b/{path}")).to_string();
    format!("diff --git a/{path} b/{path}\n{body}")
}

/// The changed lines of a patch with whitespace removed: equal for patches that differ only
/// in layout.
pub fn normalised(patch: &str) -> String {
    patch
        .lines()
        .filter(|l| (l.starts_with('+') || l.starts_with('-')) && !l.starts_with("+++") && !l.starts_with("---"))
        .map(|l| {
            let sign = &l[..1];
            let rest: String = l[1..].split_whitespace().collect();
            format!("{sign}{rest}")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Check that a patch applies both to the working tree and to HEAD's tree; `Err` says which
/// check failed.
pub fn check_applies(repo: &Repository, patch: &str) -> Result<(), String> {
    let diff = Diff::from_buffer(patch.as_bytes()).map_err(|e| format!("not a patch: {}", e.message()))?;
    let mut options = ApplyOptions::new();
    options.check(true);
    repo.apply(&diff, ApplyLocation::WorkDir, Some(&mut options))
        .map_err(|e| format!("does not apply to the working tree: {}", e.message()))?;
    check_applies_at_head(repo, patch)
}

/// Check that a patch applies to HEAD's tree (what environment images hold).
pub fn check_applies_at_head(repo: &Repository, patch: &str) -> Result<(), String> {
    let diff = Diff::from_buffer(patch.as_bytes()).map_err(|e| format!("not a patch: {}", e.message()))?;
    let head = repo.head().and_then(|h| h.peel_to_tree()).map_err(|e| format!("no HEAD tree: {}", e.message()))?;
    repo.apply_to_tree(&head, &diff, None).map_err(|e| format!("does not apply at HEAD: {}", e.message()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_has_git_header_and_hunk() {
        let p = unified_diff("pkg/m.py", "a = 1\nb = 2\n", "a = 1\nb = 3\n");
        assert!(p.starts_with("diff --git a/pkg/m.py b/pkg/m.py\n--- a/pkg/m.py\n+++ b/pkg/m.py\n@@"), "{p}");
        assert!(p.contains("-b = 2\n+b = 3\n"), "{p}");
    }

    #[test]
    fn missing_final_newline_is_marked() {
        let p = unified_diff("m.py", "a = 1", "a = 2");
        assert!(p.contains("\\ No newline at end of file"), "{p}");
    }

    #[test]
    fn normalisation_ignores_layout() {
        let a = unified_diff("m.py", "x = 1\n", "x = a+b\n");
        let b = unified_diff("m.py", "x = 1\n", "x = a + b\n");
        assert_eq!(normalised(&a), normalised(&b));
    }
}
