//! Supervised fine-tuning rows: the curriculum as chat JSON Lines (TRL's `messages` format,
//! OpenAI fine-tuning's), the examples `socratic train` trains on.
//!
//! In: prepared tasks (each with its fix, the bug patch reversed) and their repositories. Out:
//! one `ChatExample` per task (`crate::train::data::task_example`: system, user = problem
//! statement, file, the anchored function as it reads in the bugged tree — read from the base
//! commit's blob with the bug patch applied in memory — and the failing tests; assistant = the
//! fix), and `OUT.jsonl` with one `{"id", "messages"}` object per line.

use super::{write_file, ExportTask, Result};
use crate::diff::git::Repo;
use crate::train::data::{bugged_function, task_example};
use crate::train::ChatExample;
use std::collections::HashMap;
use std::path::Path;

/// The examples of `tasks` (a task whose repository or function cannot be read keeps the code
/// of its hunks in the prompt instead).
pub fn examples(tasks: &[ExportTask]) -> Vec<ChatExample> {
    let mut repos: HashMap<&str, Option<Repo>> = HashMap::new();
    tasks
        .iter()
        .map(|t| {
            let repo = repos.entry(t.task.repo.as_str()).or_insert_with(|| Repo::open(Path::new(&t.task.repo)).ok());
            let function = repo.as_ref().and_then(|r| bugged_function(r, &t.task));
            task_example(&t.task, &t.fix, function.as_deref())
        })
        .collect()
}

/// The JSON Lines text of `examples`.
pub fn jsonl(examples: &[ChatExample]) -> String {
    examples.iter().filter_map(|e| serde_json::to_string(e).ok()).map(|l| l + "\n").collect()
}

/// Write `out`.
pub fn write(tasks: &[ExportTask], out: &Path) -> Result<()> {
    write_file(out, jsonl(&examples(tasks)).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::tests::export_task;

    #[test]
    fn a_row_is_system_user_assistant_with_the_fix_as_target() {
        let t = export_task("t-abc");
        let rows = examples(std::slice::from_ref(&t));
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
}
