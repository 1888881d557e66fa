//! Environment and verdict rows: what `tasks validate` builds and decides.

use super::{now, sql_error, to_json, Result, Store};
use crate::model::Environment;
use crate::model::{Task, Verdict};
use rusqlite::params;

impl Store {
    /// Keep a built environment (replacing one for the same repository and commit).
    pub fn save_environment(&mut self, env: &Environment) -> Result<()> {
        self.conn()
            .execute(
                "INSERT OR REPLACE INTO environments (repo, head, image, json, built_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![env.repo, env.head, env.image, to_json(env), now()],
            )
            .map_err(|e| self.err("save environment", e))?;
        Ok(())
    }

    /// The environment built for a repository at a commit, if any.
    pub fn environment(&self, repo: &str, head: &str) -> Result<Option<Environment>> {
        self.json_row(
            "SELECT json FROM environments WHERE repo = ?1 AND head = ?2",
            params![repo, head],
            "get environment",
            "environment",
        )
    }

    /// Record a verdict and the task it updates, in one transaction.
    pub fn record_verdict(&mut self, task: &Task, verdict: &Verdict) -> Result<()> {
        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(|e| sql_error(&path, "begin", e))?;
        tx.execute(
            "INSERT OR REPLACE INTO verdicts (task_id, valid, json, decided_at) VALUES (?1, ?2, ?3, ?4)",
            params![verdict.task_id, verdict.is_valid(), to_json(verdict), now()],
        )
        .map_err(|e| sql_error(&path, "save verdict", e))?;
        super::tasks::write_pipeline_fields(&tx, task).map_err(|e| sql_error(&path, "update task", e))?;
        tx.commit().map_err(|e| sql_error(&path, "commit", e))
    }

    /// The verdict for a task, if decided.
    pub fn verdict(&self, task_id: &str) -> Result<Option<Verdict>> {
        self.json_row("SELECT json FROM verdicts WHERE task_id = ?1", [task_id], "get verdict", "verdict")
    }

    /// The verdicts of these tasks (those decided), in the order given.
    pub fn verdicts_of(&self, task_ids: &[String]) -> Result<Vec<Verdict>> {
        let mut out = Vec::new();
        for id in task_ids {
            out.extend(self.verdict(id)?);
        }
        Ok(out)
    }

    /// Every verdict.
    pub fn verdicts(&self) -> Result<Vec<Verdict>> {
        self.json_rows("SELECT json FROM verdicts ORDER BY rowid", "list verdicts")
    }
}
