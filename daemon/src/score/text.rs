//! Task text: what the language model reads and what it is asked to write.
//!
//! In: a problem statement and a fix as a unified diff (the reverse of a task's bug patch, or a
//! benchmark instance's gold patch). Out: a `TaskText` whose `prompt` is the statement plus the
//! code the fix touches, as it reads before the fix (hunk context and removed lines, at most
//! `CONTEXT_LINES` per hunk), and whose `target` is the fix itself. No IO, no model.

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

    /// A generated task: its fix is the reverse of its bug patch.
    pub fn from_task(task: &Task) -> TaskText {
        TaskText::from_fix(&task.problem_statement, &reverse_patch(&task.bug_patch))
    }

    /// Content hash of the text (the feature cache key's task part).
    pub fn hash(&self) -> String {
        let mut bytes = self.prompt.as_bytes().to_vec();
        bytes.push(0);
        bytes.extend_from_slice(self.target.as_bytes());
        sha256_hex(&bytes)
    }
}

/// The reverse of a unified diff (the fix of a bug patch): see `skills::diff::reverse`.
pub fn reverse_patch(patch: &str) -> String {
    crate::skills::diff::reverse(patch)
}

/// Per file, the code before the fix: context and `-` lines of each hunk (bounded).
fn before_side(diff: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut file = String::from("?");
    let mut in_hunk = false;
    let mut taken = 0;
    for line in diff.lines() {
        if let Some(name) = line.strip_prefix("--- ") {
            if !in_hunk || name.starts_with("a/") || name.starts_with("b/") || name == "/dev/null" {
                file = name.strip_prefix("a/").or_else(|| name.strip_prefix("b/")).unwrap_or(name).to_string();
                in_hunk = false;
                continue;
            }
        }
        if line.starts_with("+++ ") && !in_hunk {
            continue;
        }
        if line.starts_with("diff ") {
            in_hunk = false;
            continue;
        }
        if line.starts_with("@@") {
            in_hunk = true;
            taken = 0;
            out.push((file.clone(), String::new()));
            continue;
        }
        if !in_hunk || line.starts_with('+') || line.starts_with('\\') || taken >= CONTEXT_LINES {
            continue;
        }
        let code = line.strip_prefix(['-', ' ']).unwrap_or(line);
        if let Some((_, text)) = out.last_mut() {
            text.push_str(code);
            text.push('\n');
            taken += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUG: &str = "diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -1,3 +1,3 @@ def f\n def f(x):\n-    return x + 1\n+    return x - 1\n \n";

    #[test]
    fn reverse_swaps_lines_ranges_and_headers() {
        let fix = reverse_patch(BUG);
        assert!(fix.contains("-    return x - 1\n+    return x + 1\n"), "{fix}");
        // `a/` stays the old side, as `git apply` requires.
        assert!(fix.contains("--- a/m.py\n+++ b/m.py\n"), "{fix}");
        assert_eq!(reverse_patch(&fix), BUG);
    }

    #[test]
    fn prompt_holds_statement_and_buggy_code_not_the_fix() {
        let t = TaskText::from_fix("f is off by two", &reverse_patch(BUG));
        assert!(t.prompt.contains("f is off by two"));
        assert!(t.prompt.contains("return x - 1"), "{}", t.prompt);
        assert!(!t.prompt.contains("return x + 1"), "{}", t.prompt);
        assert!(t.target.contains("+    return x + 1"));
        assert_ne!(t.hash(), TaskText::from_fix("other", &reverse_patch(BUG)).hash());
    }
}
