//! Task text: what the language model reads and what it is asked to write.
//!
//! In: a problem statement and a fix as a unified diff (the reverse of a task's bug patch, or a
//! benchmark instance's gold patch). Out: a `TaskText` whose `prompt` is the statement plus the
//! code the fix touches, as it reads before the fix (hunk context and removed lines, at most
//! `CONTEXT_LINES` per hunk), and whose `target` is the fix itself. No IO, no model.

use crate::diff::{LineKind, Patch};
use crate::model::{sha256_hex, Task};

/// At most this many code lines of each hunk go into the prompt (about ±20 around the change).
pub const CONTEXT_LINES: usize = 40;
/// At most this many characters of the problem statement go into the prompt.
pub const STATEMENT_CHARS: usize = 4000;

/// The prompt (masked out of the loss) and the target (scored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskText {
    pub prompt: String,
    pub target: String,
}

impl TaskText {
    /// Prompt from the statement and the pre-fix side of `fix_diff`; target = `fix_diff`.
    pub fn from_fix(problem_statement: &str, fix_diff: &str) -> TaskText {
        let statement: String = problem_statement.trim().chars().take(STATEMENT_CHARS).collect();
        let mut prompt = format!("Problem:\n{statement}\n");
        for (file, code) in before_side(fix_diff) {
            prompt.push_str(&format!("\nCode ({file}):\n{code}"));
        }
        prompt.push_str("\nFix (unified diff):\n");
        TaskText { prompt, target: fix_diff.to_string() }
    }

    /// A generated task: its fix is the reverse of its bug patch (empty when the bug patch
    /// cannot be reversed).
    pub fn from_task(task: &Task) -> TaskText {
        TaskText::from_fix(&task.problem_statement, &crate::diff::reverse(&task.bug_patch).unwrap_or_default())
    }

    /// Content hash of the text (the feature cache key's task part).
    pub fn hash(&self) -> String {
        let mut bytes = self.prompt.as_bytes().to_vec();
        bytes.push(0);
        bytes.extend_from_slice(self.target.as_bytes());
        sha256_hex(&bytes)
    }
}

/// Per hunk, its file and the code before the fix: context and removed lines (bounded). None
/// when the diff does not parse.
pub(crate) fn before_side(diff: &str) -> Vec<(String, String)> {
    let Ok(patch) = Patch::parse(diff) else { return Vec::new() };
    let mut out = Vec::new();
    for file in &patch.files {
        let name = file.old_path().or_else(|| file.new_path()).unwrap_or_else(|| "?".into());
        for hunk in &file.hunks {
            let code: String = hunk
                .lines
                .iter()
                .filter(|l| l.kind != LineKind::Added)
                .take(CONTEXT_LINES)
                .map(|l| format!("{}\n", l.text))
                .collect();
            out.push((name.clone(), code));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::reverse;

    const BUG: &str = "diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -1,3 +1,3 @@ def f\n def f(x):\n-    return x + 1\n+    return x - 1\n \n";

    #[test]
    fn prompt_holds_statement_and_buggy_code_not_the_fix() {
        let t = TaskText::from_fix("f is off by two", &reverse(BUG).unwrap());
        assert!(t.prompt.contains("f is off by two"));
        assert!(t.prompt.contains("return x - 1"), "{}", t.prompt);
        assert!(!t.prompt.contains("return x + 1"), "{}", t.prompt);
        assert!(t.target.contains("+    return x + 1"));
        assert_ne!(t.hash(), TaskText::from_fix("other", &reverse(BUG).unwrap()).hash());
    }
}
