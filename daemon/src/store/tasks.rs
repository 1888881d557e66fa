//! Task rows: candidate and validated repair tasks, keyed by their content id.

use super::{now, sql_error, to_json, Result, Store};
use crate::model::Task;
use rusqlite::params;

impl Store {
    /// Insert tasks in one transaction; an id already stored is left as it is. Returns how many
    /// were new.
    pub fn insert_tasks(&mut self, tasks: &[Task]) -> Result<usize> {
        let tx = self.conn.transaction().map_err(|e| sql_error(&self.path, "begin", e))?;
        let mut added = 0;
        for t in tasks {
            added += tx
                .execute(
                    "INSERT OR IGNORE INTO tasks (id, repo, operator, file, status, json, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![t.id, t.repo, t.operator, t.site.file, t.status.name(), to_json(t), now()],
                )
                .map_err(|e| sql_error(&self.path, "insert task", e))?;
        }
        tx.commit().map_err(|e| sql_error(&self.path, "commit", e))?;
        Ok(added)
    }

    /// Replace a stored task (status, statement, tests ...).
    pub fn update_task(&mut self, task: &Task) -> Result<()> {
        self.conn()
            .execute(
                "UPDATE tasks SET status = ?2, json = ?3 WHERE id = ?1",
                params![task.id, task.status.name(), to_json(task)],
            )
            .map_err(|e| self.err("update task", e))?;
        Ok(())
    }

    /// All tasks, oldest first.
    pub fn tasks(&self) -> Result<Vec<Task>> {
        self.json_rows("SELECT json FROM tasks ORDER BY rowid", "list tasks")
    }

    /// One task by id or unique id prefix.
    pub fn task(&self, id: &str) -> Result<Option<Task>> {
        let matches: Vec<Task> = self.tasks()?.into_iter().filter(|t| t.id == id || t.id.starts_with(id)).collect();
        Ok(if matches.len() == 1 { matches.into_iter().next() } else { None })
    }
}
