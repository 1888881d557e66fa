//! `socratic.tasks` (a `workspace/executeCommand`): the task list editors show (Neovim's
//! quickfix list, VS Code's curriculum view); its rows are also what `socratic tasks list` and
//! `socratic curriculum list` print.
//!
//! In: the workspace's tasks (read from the store), the session's repository root and open
//! documents, and an optional [`TaskListArguments`] (`{"all": true}`: every repository in the
//! store, not only the workspace's). Out: a [`TaskList`] of [`TaskRow`]s (see
//! [`protocol`](super::protocol)) sorted by repository, file and line. For documents open in
//! this session the line and column are where the site is now, not where it was at the task's
//! commit, and a site an edit cut is `stale`.

use super::protocol::{self, TaskList, TaskListArguments, TaskRow, TASKS};
use super::text::position_of;
use super::{invalid, view, Session};
use crate::model::Task;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::Uri;

/// Where a task sits in an open document: 0-based line, 0-based byte column, stale.
pub type Placed = (usize, usize, bool);

/// The row of `task` whose repository is at `root`, placed at `placed` (from an open document)
/// or else at its site at the task's commit.
pub fn row(task: &Task, root: &Path, placed: Option<Placed>) -> TaskRow {
    let (line, col, stale) = placed.unwrap_or((task.site.start_line, task.site.start_col, false));
    TaskRow {
        id: task.id.clone(),
        repo: task.repo.clone(),
        base_commit: task.base_commit.clone(),
        file: task.site.file.clone(),
        uri: Uri::from_file_path(root.join(&task.site.file)).map(|u| u.as_str().to_string()),
        line: line + 1,
        column: col + 1,
        status: view::state(task, stale).to_string(),
        stage: task.stage.name().to_string(),
        decision: task.decision,
        anchor: task.anchor,
        operator: task.operator.clone(),
        skill: task.skill.clone(),
        enclosing: task.enclosing.clone(),
        statement: task.problem_statement.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("").to_string(),
    }
}

/// The rows of `tasks` (each with its canonical repository root) in `root` (every task when
/// `root` is `None`), placed at `open[task id]` when the task is anchored in an open document.
pub fn rows(tasks: &[(PathBuf, Task)], root: Option<&Path>, open: &HashMap<String, Placed>) -> Vec<TaskRow> {
    let mut out: Vec<TaskRow> = tasks
        .iter()
        .filter(|(r, _)| root.is_none_or(|root| r.as_path() == root))
        .map(|(r, t)| row(t, r, open.get(&t.id).copied()))
        .collect();
    out.sort_by(|a, b| (&a.repo, &a.file, a.line, &a.id).cmp(&(&b.repo, &b.file, b.line, &b.id)));
    out
}

/// The rows of stored tasks as no editor has them open (at their sites at the tasks' commits),
/// in the given order: what the CLI prints.
pub fn stored_rows<'a>(tasks: impl IntoIterator<Item = &'a Task>) -> Vec<TaskRow> {
    let mut roots: HashMap<&str, PathBuf> = HashMap::new();
    tasks
        .into_iter()
        .map(|t| {
            let root = roots.entry(t.repo.as_str()).or_insert_with(|| super::state::canonical(Path::new(&t.repo)));
            row(t, root, None)
        })
        .collect()
}

pub(super) async fn handle(session: &Session, args: &[Value]) -> Result<Option<Value>> {
    let options: TaskListArguments = protocol::optional(TASKS, args).map_err(invalid)?.unwrap_or_default();
    let root = if options.all { None } else { session.state().root.clone() };
    let shared = session.shared.clone();
    let wanted = root.clone();
    let tasks = tokio::task::spawn_blocking(move || shared.tasks_of_root(wanted.as_deref()))
        .await
        .map_err(|e| invalid(format!("{TASKS}: {e}")))?
        .map_err(|e| invalid(format!("{TASKS}: {e:#}")))?;
    let st = session.state();
    let mut open = HashMap::new();
    for doc in st.docs.values() {
        let text = doc.text();
        for a in &doc.anchors {
            let at = position_of(text, a.span.start);
            let line_start = text[..a.span.start.min(text.len())].rfind('\n').map_or(0, |i| i + 1);
            open.insert(a.task_id.clone(), (at.line as usize, a.span.start.min(text.len()) - line_start, a.stale));
        }
    }
    let list = TaskList {
        root: st.root.as_ref().map(|r| r.display().to_string()),
        attempt: st.attempt.as_ref().map(|(_, task)| task.clone()),
        tasks: rows(&tasks, root.as_deref(), &open),
    };
    serde_json::to_value(&list).map(Some).map_err(|e| invalid(format!("{TASKS}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Decision, TaskStage};

    fn task(id: &str, file: &str, line: usize, stage: TaskStage) -> Task {
        let mut t = crate::model::test_support::task(id, "flip_comparison", stage);
        t.site.file = file.into();
        (t.site.start_line, t.site.start_col, t.site.end_line, t.site.end_col) = (line, 4, line, 5);
        t.problem_statement = "\n  First line.\nSecond.".into();
        t
    }

    #[test]
    fn rows_keep_the_workspace_sort_by_place_and_follow_open_documents() {
        let mut accepted = task("t-x", "x.py", 0, TaskStage::Valid);
        accepted.decision = Decision::Accepted;
        let tasks = vec![
            (PathBuf::from("/r"), task("t-b", "b.py", 9, TaskStage::Valid)),
            (PathBuf::from("/r"), task("t-a", "a.py", 2, TaskStage::Candidate)),
            (PathBuf::from("/other"), accepted),
        ];
        let open = HashMap::from([("t-b".to_string(), (11usize, 0usize, true))]);
        let rows = rows(&tasks, Some(Path::new("/r")), &open);
        let ids: Vec<_> = rows.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["t-a", "t-b"]);
        assert_eq!((rows[0].line, rows[0].column, rows[0].status.as_str()), (3, 5, "candidate"));
        assert_eq!((rows[1].line, rows[1].column, rows[1].status.as_str()), (12, 1, "stale"));
        assert_eq!(rows[0].statement, "First line.");
        assert_eq!(rows[0].uri.as_deref(), Some("file:///r/a.py"));
        let all = super::rows(&tasks, None, &HashMap::new());
        assert_eq!(all.len(), 3);
        assert_eq!(all[2].base_commit, "c");
        assert_eq!(
            (all[2].status.as_str(), all[2].stage.as_str(), all[2].decision),
            ("accepted", "valid", Decision::Accepted)
        );
    }
}
