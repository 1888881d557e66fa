//! `socratic.tasks` (a `workspace/executeCommand`): the task list editors show (Neovim's
//! quickfix list, VS Code's curriculum view).
//!
//! In: the workspace's tasks (read from the store), the session's repository root and open documents, and an optional
//! argument `{"all": true}` (every repository in the store, not only the workspace's). Out:
//! `{root, attempt, tasks: [row]}`; a row is id, repo, file (relative), uri, line (1-based),
//! column (1-based, UTF-8 bytes), status (the state word, `stale` when an edit in this editor
//! cut the site), stage, decision and anchor (the three facts behind the word), operator, skill, enclosing, statement (the first line of the problem
//! statement); rows are sorted by file and line. For documents open in this session the line
//! and column are where the site is now, not where it was at the task's commit.

use super::text::position_of;
use super::{view, Session};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::Uri;

/// One task as an editor lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskRow {
    pub id: String,
    pub repo: String,
    pub file: String,
    pub uri: Option<String>,
    pub line: usize,
    pub column: usize,
    pub status: String,
    pub stage: String,
    pub decision: crate::model::Decision,
    pub anchor: crate::model::AnchorState,
    pub operator: String,
    pub skill: Option<String>,
    pub enclosing: String,
    pub statement: String,
}

/// Where a task sits in an open document: 0-based line, 0-based byte column, stale.
pub type Placed = (usize, usize, bool);

/// The rows of `tasks` (each with its canonical repository root) in `root` (every task when
/// `root` is `None`), placed at `open[task id]` when the task is anchored in an open document.
pub fn rows(
    tasks: &[(PathBuf, crate::model::Task)],
    root: Option<&Path>,
    open: &HashMap<String, Placed>,
) -> Vec<TaskRow> {
    let mut out: Vec<TaskRow> = tasks
        .iter()
        .filter(|(r, _)| root.is_none_or(|root| r.as_path() == root))
        .map(|(r, t)| {
            let (line, col, stale) = open.get(&t.id).copied().unwrap_or((t.site.start_line, t.site.start_col, false));
            TaskRow {
                id: t.id.clone(),
                repo: t.repo.clone(),
                file: t.site.file.clone(),
                uri: Uri::from_file_path(r.join(&t.site.file)).map(|u| u.as_str().to_string()),
                line: line + 1,
                column: col + 1,
                status: view::state(t, stale).to_string(),
                stage: t.stage.name().to_string(),
                decision: t.decision,
                anchor: t.anchor,
                operator: t.operator.clone(),
                skill: t.skill.clone(),
                enclosing: t.enclosing.clone(),
                statement: t.problem_statement.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("").to_string(),
            }
        })
        .collect();
    out.sort_by(|a, b| (&a.repo, &a.file, a.line, &a.id).cmp(&(&b.repo, &b.file, b.line, &b.id)));
    out
}

/// Whether the argument asks for every repository: `{"all": true}` or `"all"`.
fn wants_all(args: &[Value]) -> bool {
    match args.first() {
        Some(Value::Object(o)) => o.get("all").and_then(Value::as_bool).unwrap_or(false),
        Some(Value::String(s)) => s == "all",
        _ => false,
    }
}

pub(super) async fn handle(session: &Session, args: &[Value]) -> Result<Option<Value>> {
    let root = if wants_all(args) { None } else { session.state().root.clone() };
    let shared = session.shared.clone();
    let root2 = root.clone();
    let tasks = tokio::task::spawn_blocking(move || shared.tasks_of_root(root2.as_deref()))
        .await
        .map_err(|e| super::invalid(format!("listing tasks: {e}")))?
        .map_err(|e| super::invalid(format!("listing tasks: {e:#}")))?;
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
    let list = rows(&tasks, root.as_deref(), &open);
    Ok(Some(serde_json::json!({
        "root": st.root.as_ref().map(|r| r.display().to_string()),
        "attempt": st.attempt.as_ref().map(|a| a.task.id.clone()),
        "tasks": list,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Decision, Task, TaskStage};

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
        let snap = vec![
            (PathBuf::from("/r"), task("t-b", "b.py", 9, TaskStage::Valid)),
            (PathBuf::from("/r"), task("t-a", "a.py", 2, TaskStage::Candidate)),
            (PathBuf::from("/other"), accepted),
        ];
        let open = HashMap::from([("t-b".to_string(), (11usize, 0usize, true))]);
        let rows = rows(&snap, Some(Path::new("/r")), &open);
        let ids: Vec<_> = rows.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["t-a", "t-b"]);
        assert_eq!((rows[0].line, rows[0].column, rows[0].status.as_str()), (3, 5, "candidate"));
        assert_eq!((rows[1].line, rows[1].column, rows[1].status.as_str()), (12, 1, "stale"));
        assert_eq!(rows[0].statement, "First line.");
        assert_eq!(rows[0].uri.as_deref(), Some("file:///r/a.py"));
        let all = super::rows(&snap, None, &HashMap::new());
        assert_eq!(all.len(), 3);
        assert!(wants_all(&[serde_json::json!({"all": true})]));
        assert!(!wants_all(&[serde_json::json!({"all": "yes"})]));
        assert!(!wants_all(&[]));
    }
}
