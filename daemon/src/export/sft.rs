//! Supervised fine-tuning rows: the curriculum as chat JSON Lines (TRL's `messages` format,
//! OpenAI fine-tuning's), the examples `socratic train` trains on.
//!
//! In: prepared tasks (each with its fix, the bug patch reversed) and their repositories. Out:
//! one `ChatExample` per task (`crate::train::data::task_example`: system, user = problem
//! statement, file, the anchored function as it reads in the bugged tree — read from the base
//! commit's blob with the bug patch applied in memory — and the failing tests; assistant = the
//! fix), and `OUT.jsonl` with one `{"id", "messages"}` object per line. In the `line` answer
//! format (`crate::train::data::AnswerFormat`) a task whose fix is not a one-line replacement
//! in its anchored function is left out, with the reason.

use super::{write_file, ExportTask, Result, Skipped};
use crate::diff::git::Repo;
use crate::train::data::{bugged_function_view, example, AnswerFormat};
use crate::train::ChatExample;
use std::collections::HashMap;
use std::path::Path;

/// The examples of `tasks` in the answer format, and the tasks left out (in `diff`, a task whose
/// repository or function cannot be read keeps the code of its hunks in the prompt instead).
pub fn examples(tasks: &[ExportTask], answer: AnswerFormat) -> (Vec<ChatExample>, Vec<Skipped>) {
    let mut repos: HashMap<&str, Option<Repo>> = HashMap::new();
    let (mut out, mut skipped) = (Vec::new(), Vec::new());
    for t in tasks {
        let repo = repos.entry(t.task.repo.as_str()).or_insert_with(|| Repo::open(Path::new(&t.task.repo)).ok());
        let function = repo.as_ref().and_then(|r| bugged_function_view(r, &t.task));
        match example(&t.task, &t.fix, function.as_ref(), answer) {
            Ok(e) => out.push(e),
            Err(reason) => skipped.push(Skipped {
                task_id: t.task.id.clone(),
                reason: format!("--answer {}: {reason}", answer.as_str()),
            }),
        }
    }
    (out, skipped)
}

/// The JSON Lines text of `examples`.
pub fn jsonl(examples: &[ChatExample]) -> String {
    examples.iter().filter_map(|e| serde_json::to_string(e).ok()).map(|l| l + "\n").collect()
}

/// Write `out`; returns the tasks left out and the ids written.
pub fn write(tasks: &[ExportTask], out: &Path, answer: AnswerFormat) -> Result<(Vec<String>, Vec<Skipped>)> {
    let (rows, skipped) = examples(tasks, answer);
    write_file(out, jsonl(&rows).as_bytes())?;
    Ok((rows.into_iter().map(|r| r.id).collect(), skipped))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::tests::export_task;

    #[test]
    fn a_row_is_system_user_assistant_with_the_fix_as_target() {
        let t = export_task("t-abc");
        let (rows, _) = examples(std::slice::from_ref(&t), AnswerFormat::Diff);
        let line = jsonl(&rows);
        let v: serde_json::Value = serde_json::from_str(line.trim_end()).unwrap();
        assert_eq!(v["id"], "t-abc");
        let roles: Vec<&str> = v["messages"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
        assert_eq!(roles, ["system", "user", "assistant"]);
        let user = v["messages"][1]["content"].as_str().unwrap();
        assert!(user.contains("returns True") && user.contains("File: pkg/m.py"), "{user}");
        assert!(user.contains("tests/test_m.py::test_equal[1-1]"), "{user}");
        // No repository: the bugged code of the hunk stands in, never the fixed line.
        assert!(user.contains("return a <= b") && !user.contains("return a < b"), "{user}");
        assert_eq!(v["messages"][2]["content"], t.fix.as_str());
        assert!(t.fix.contains("+    return a < b"));
    }

    #[test]
    fn a_line_row_marks_the_fixed_line_and_answers_it_and_multi_line_fixes_are_left_out() {
        use crate::train::data::{line_messages, single_line_fix, FunctionView};
        let t = export_task("t-abc");
        let fix = single_line_fix(&t.fix).unwrap();
        assert_eq!(
            (fix.file.as_str(), fix.line, fix.old.as_str(), fix.new.as_str()),
            ("pkg/m.py", 2, "    return a <= b", "    return a < b")
        );
        // No repository: no function to show, so no line example.
        let (rows, skipped) = examples(std::slice::from_ref(&t), AnswerFormat::Line);
        assert!(rows.is_empty() && skipped[0].reason.contains("--answer line"), "{skipped:?}");
        let function = FunctionView { code: "def f(a, b):\n    return a <= b".into(), start_line: 1 };
        let row = crate::train::data::example(&t.task, &t.fix, Some(&function), AnswerFormat::Line).unwrap();
        let user = &row.messages[1].content;
        assert!(user.contains(">>>     return a <= b") && user.contains("    def f(a, b):"), "{user}");
        assert!(user.ends_with("It now reads:\n    return a <= b"), "{user}");
        assert!(!user.contains("a < b"), "the fix is not in the prompt: {user}");
        assert_eq!(row.messages[2].content, "    return a < b\n");
        // Solving builds the same turns for the same marked line.
        assert_eq!(line_messages(&t.task, &function, 2).unwrap(), row.messages[..2].to_vec());
        assert!(line_messages(&t.task, &function, 3).is_none(), "outside the function");
        // A fix that adds a line is not a one-line replacement.
        let added = "--- a/pkg/m.py\n+++ b/pkg/m.py\n@@ -1,2 +1,3 @@\n def f(a, b):\n+    a = a\n     return a < b\n";
        let why = single_line_fix(added).unwrap_err();
        assert!(why.contains("removes 0 and adds 1"), "{why}");
        let err = crate::train::data::example(&t.task, added, Some(&function), AnswerFormat::Line).unwrap_err();
        assert!(err.contains("not a one-line replacement"), "{err}");
    }
}
