//! Task rows: candidate and validated repair tasks, keyed by their content id.
//!
//! In: tasks, decisions, anchor states, a [`TaskQuery`], repository identities. Out: tasks. The
//! full task is a JSON column; what is queried (repository, file, operator, stage, decision,
//! anchor, round, skill) is also a real column with an index, written from the task by one
//! function ([`TaskColumns`]) so the two never disagree. Nothing here reads every task to find one.
//!
//! A task's `repo` is a path (where it was generated); `repo_id` is that checkout's identity
//! (recorded with [`Store::set_repo_identity`]: the same in every clone), so the tasks of a
//! repository are found from any clone of it (`TaskQuery::repo_id`).

use super::{now, sql_error, to_json, Result, Store};
use crate::model::{AnchorState, Decision, Task};
use rusqlite::params_from_iter;
use rusqlite::types::Value as SqlValue;

/// A task row's parameters: its id, the queried columns and its JSON.
struct TaskColumns<'a> {
    id: &'a str,
    repo: &'a str,
    operator: &'a str,
    file: &'a str,
    stage: &'static str,
    decision: &'static str,
    anchor: &'static str,
    round: Option<u32>,
    skill: Option<&'a str>,
    json: &'a str,
}

impl<'a> TaskColumns<'a> {
    fn of(t: &'a Task, json: &'a str) -> TaskColumns<'a> {
        TaskColumns {
            id: &t.id,
            repo: &t.repo,
            operator: &t.operator,
            file: &t.site.file,
            stage: t.stage.name(),
            decision: t.decision.name(),
            anchor: t.anchor.name(),
            round: t.round,
            skill: t.skill.as_deref(),
            json,
        }
    }

    /// `?1` id, `?2` repo, `?3` operator, `?4` file, `?5` stage, `?6` decision, `?7` anchor,
    /// `?8` round, `?9` skill, `?10` json: what the insert and the update both bind.
    fn bind(&self) -> [&dyn rusqlite::ToSql; 10] {
        [
            &self.id,
            &self.repo,
            &self.operator,
            &self.file,
            &self.stage,
            &self.decision,
            &self.anchor,
            &self.round,
            &self.skill,
            &self.json,
        ]
    }
}

/// Which tasks to read: every field given narrows the set (all of them are indexed columns).
/// Rows come oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskQuery {
    /// The path tasks were generated at.
    pub repo: Option<String>,
    /// The repository's identity (any clone's tasks).
    pub repo_id: Option<String>,
    pub file: Option<String>,
    pub round: Option<u32>,
    /// Rounds up to and including this one.
    pub round_at_most: Option<u32>,
    /// Any of these stage names (`candidate`, `valid`, `invalid`, `scored`).
    pub stages: Vec<&'static str>,
    pub decision: Option<Decision>,
    /// Leave out tasks with this decision.
    pub not_decision: Option<Decision>,
    pub anchor: Option<AnchorState>,
    pub skill: Option<String>,
    pub operator: Option<String>,
    pub limit: Option<usize>,
}

impl TaskQuery {
    /// Tasks that passed validation (valid or scored).
    pub fn valid() -> TaskQuery {
        TaskQuery { stages: vec!["valid", "scored"], ..Default::default() }
    }

    pub fn in_round(round: u32) -> TaskQuery {
        TaskQuery { round: Some(round), ..Default::default() }
    }

    /// `WHERE ...` (possibly empty) and its parameters.
    fn where_clause(&self) -> (String, Vec<SqlValue>) {
        let mut w = Where::default();
        let text = |s: &str| SqlValue::from(s.to_string());
        if let Some(r) = &self.repo {
            w.add("repo =", text(r));
        }
        if let Some(r) = &self.repo_id {
            w.add("repo_id =", text(r));
        }
        if let Some(f) = &self.file {
            w.add("file =", text(f));
        }
        if let Some(n) = self.round {
            w.add("round =", i64::from(n).into());
        }
        if let Some(n) = self.round_at_most {
            w.add("round <=", i64::from(n).into());
        }
        if let Some(d) = self.decision {
            w.add("decision =", text(d.name()));
        }
        if let Some(d) = self.not_decision {
            w.add("decision !=", text(d.name()));
        }
        if let Some(a) = self.anchor {
            w.add("anchor =", text(a.name()));
        }
        if let Some(s) = &self.skill {
            w.add("skill =", text(s));
        }
        if let Some(o) = &self.operator {
            w.add("operator =", text(o));
        }
        if !self.stages.is_empty() {
            let marks: Vec<String> = self.stages.iter().map(|s| w.param(text(s))).collect();
            w.conds.push(format!("stage IN ({})", marks.join(", ")));
        }
        let clause = if w.conds.is_empty() { String::new() } else { format!(" WHERE {}", w.conds.join(" AND ")) };
        (clause, w.args)
    }
}

/// Conditions and their numbered parameters, built up in order.
#[derive(Default)]
struct Where {
    conds: Vec<String>,
    args: Vec<SqlValue>,
}

impl Where {
    /// A parameter's placeholder (`?N`).
    fn param(&mut self, value: SqlValue) -> String {
        self.args.push(value);
        format!("?{}", self.args.len())
    }

    /// `<column and operator> ?N`, e.g. `add("round <=", 3)`.
    fn add(&mut self, column_op: &str, value: SqlValue) {
        let mark = self.param(value);
        self.conds.push(format!("{column_op} {mark}"));
    }
}

/// Task writes: `repo_id` is the identity recorded for the task's path (`?2`), else the path.
const INSERT_TASK: &str =
    "INSERT OR IGNORE INTO tasks (id, repo, operator, file, stage, decision, anchor, round, skill,
     json, created_at, repo_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11,
     COALESCE((SELECT identity FROM repositories WHERE path = ?2), ?2))";
const UPDATE_TASK: &str =
    "UPDATE tasks SET repo = ?2, operator = ?3, file = ?4, stage = ?5, decision = ?6, anchor = ?7,
     round = ?8, skill = ?9, json = ?10, repo_id = COALESCE((SELECT identity FROM repositories WHERE path = ?2), ?2)
     WHERE id = ?1";

/// Tasks counted by (operator, skill): what targeting needs to know of the curriculum.
pub type CoverageCounts = Vec<(String, Option<String>, usize)>;

impl Store {
    /// Insert tasks in one transaction; an id already stored is left as it is. Returns how many
    /// were new.
    pub fn insert_tasks(&mut self, tasks: &[Task]) -> Result<usize> {
        let tx = self.conn.transaction().map_err(|e| sql_error(&self.path, "begin", e))?;
        let mut added = 0;
        {
            let mut insert = tx.prepare_cached(INSERT_TASK).map_err(|e| sql_error(&self.path, "insert task", e))?;
            let created = now();
            for t in tasks {
                let json = to_json(t);
                let c = TaskColumns::of(t, &json);
                let mut bound = c.bind().to_vec();
                bound.push(&created);
                added += insert.execute(bound.as_slice()).map_err(|e| sql_error(&self.path, "insert task", e))?;
            }
        }
        tx.commit().map_err(|e| sql_error(&self.path, "commit", e))?;
        Ok(added)
    }

    /// Replace a stored task's pipeline fields (stage, statement, tests, image ...). The user's
    /// decision and the anchor state stay as stored: only [`Store::set_decision`] and
    /// [`Store::set_anchor`] change them, so a pipeline step working from an older copy of the
    /// task never undoes an accept made meanwhile.
    pub fn update_task(&mut self, task: &Task) -> Result<()> {
        write_pipeline_fields(self.conn(), task).map_err(|e| self.err("update task", e))
    }

    /// Every task, oldest first. Reads the whole table: for reports and exports of everything,
    /// never to find a few (use [`Store::tasks_where`]).
    pub fn tasks(&self) -> Result<Vec<Task>> {
        self.tasks_where(&TaskQuery::default())
    }

    /// The tasks a query selects, oldest first.
    pub fn tasks_where(&self, q: &TaskQuery) -> Result<Vec<Task>> {
        let (clause, args) = q.where_clause();
        let limit = q.limit.map(|n| format!(" LIMIT {n}")).unwrap_or_default();
        let sql = format!("SELECT json FROM tasks{clause} ORDER BY rowid{limit}");
        let mut stmt = self.conn().prepare_cached(&sql).map_err(|e| self.err("query tasks", e))?;
        let texts: Vec<String> = stmt
            .query_map(params_from_iter(args), |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err("query tasks", e))?;
        texts.iter().map(|t| serde_json::from_str(t).map_err(|e| self.corrupt(format!("task: {e}")))).collect()
    }

    /// How many tasks a query selects.
    pub fn count_tasks(&self, q: &TaskQuery) -> Result<usize> {
        let (clause, args) = q.where_clause();
        let sql = format!("SELECT count(*) FROM tasks{clause}");
        let n: i64 = self
            .conn()
            .prepare_cached(&sql)
            .and_then(|mut s| s.query_row(params_from_iter(args), |r| r.get(0)))
            .map_err(|e| self.err("count tasks", e))?;
        Ok(n as usize)
    }

    /// Tasks by id, in the order given; ids not stored are left out.
    pub fn tasks_by_id(&self, ids: &[String]) -> Result<Vec<Task>> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.extend(self.json_row::<Task>("SELECT json FROM tasks WHERE id = ?1", [id], "get task", "task")?);
        }
        Ok(out)
    }

    /// One task by id or unique id prefix (an index range scan: at most two rows are read).
    pub fn task(&self, id: &str) -> Result<Option<Task>> {
        if id.is_empty() {
            return Ok(None);
        }
        let mut stmt = self
            .conn()
            .prepare_cached(
                "SELECT id, json FROM tasks WHERE id >= ?1 AND id < ?1 || char(1114111) ORDER BY id LIMIT 2",
            )
            .map_err(|e| self.err("get task", e))?;
        let rows: Vec<(String, String)> = stmt
            .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err("get task", e))?;
        let hit = match rows.as_slice() {
            [(_, text)] => Some(text),
            [(first, text), _] if first == id => Some(text),
            _ => None,
        };
        hit.map(|text| serde_json::from_str(text).map_err(|e| self.corrupt(format!("task {id}: {e}")))).transpose()
    }

    /// Record the user's decision on a task (id or unique prefix); returns the task as stored.
    pub fn set_decision(&mut self, id: &str, decision: Decision) -> Result<Option<Task>> {
        self.change_task(id, "set decision", |t| t.decision = decision)
    }

    /// Mark a task's anchor fresh or stale; its stage and decision are left as they are.
    pub fn set_anchor(&mut self, id: &str, anchor: AnchorState) -> Result<Option<Task>> {
        self.change_task(id, "set anchor", |t| t.anchor = anchor)
    }

    fn change_task(&mut self, id: &str, op: &'static str, change: impl FnOnce(&mut Task)) -> Result<Option<Task>> {
        let Some(mut task) = self.task(id)? else { return Ok(None) };
        change(&mut task);
        write_task(self.conn(), &task).map_err(|e| self.err(op, e))?;
        Ok(Some(task))
    }

    /// Valid, not rejected tasks counted by (operator, skill).
    pub fn coverage_counts(&self) -> Result<CoverageCounts> {
        let mut stmt = self
            .conn()
            .prepare_cached(
                "SELECT operator, skill, count(*) FROM tasks WHERE stage IN ('valid', 'scored') AND decision != 'rejected'
                 GROUP BY operator, skill",
            )
            .map_err(|e| self.err("count coverage", e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?, r.get::<_, i64>(2)? as usize))
            })
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err("count coverage", e))?;
        Ok(rows)
    }

    /// Record the identity of the checkout at `path` (a canonical path) and move that path's
    /// tasks under it; returns how many tasks changed identity.
    pub fn set_repo_identity(&mut self, path: &str, identity: &str) -> Result<usize> {
        let tx = self.conn.transaction().map_err(|e| sql_error(&self.path, "begin", e))?;
        tx.execute(
            "INSERT INTO repositories (path, identity) VALUES (?1, ?2)
             ON CONFLICT (path) DO UPDATE SET identity = excluded.identity",
            [path, identity],
        )
        .map_err(|e| sql_error(&self.path, "record repository identity", e))?;
        let moved = tx
            .execute("UPDATE tasks SET repo_id = ?2 WHERE repo = ?1 AND repo_id != ?2", [path, identity])
            .map_err(|e| sql_error(&self.path, "record repository identity", e))?;
        tx.commit().map_err(|e| sql_error(&self.path, "commit", e))?;
        Ok(moved)
    }

    /// The identity recorded for the checkout at `path`.
    pub fn repo_identity(&self, path: &str) -> Result<Option<String>> {
        self.conn()
            .prepare_cached("SELECT identity FROM repositories WHERE path = ?1")
            .and_then(|mut s| s.query_row([path], |r| r.get(0)).map(Some))
            .or_else(|e| if e == rusqlite::Error::QueryReturnedNoRows { Ok(None) } else { Err(e) })
            .map_err(|e| self.err("read repository identity", e))
    }

    /// The distinct repositories tasks were generated in (a skip scan of the (repo, file)
    /// index: one lookup per repository, whatever the number of tasks).
    pub fn task_repos(&self) -> Result<Vec<String>> {
        let mut stmt = self
            .conn()
            .prepare_cached(
                "WITH RECURSIVE r(repo) AS (
                    SELECT min(repo) FROM tasks
                    UNION ALL SELECT (SELECT min(repo) FROM tasks WHERE repo > r.repo) FROM r WHERE r.repo IS NOT NULL
                 ) SELECT repo FROM r WHERE repo IS NOT NULL",
            )
            .map_err(|e| self.err("list repos", e))?;
        let rows =
            stmt.query_map([], |r| r.get(0)).and_then(|rows| rows.collect()).map_err(|e| self.err("list repos", e))?;
        Ok(rows)
    }
}

/// Write a task keeping the decision and anchor state stored for it.
pub(super) fn write_pipeline_fields(conn: &rusqlite::Connection, task: &Task) -> rusqlite::Result<()> {
    let stored: Option<(String, String)> = conn
        .prepare_cached("SELECT decision, anchor FROM tasks WHERE id = ?1")?
        .query_row([&task.id], |r| Ok((r.get(0)?, r.get(1)?)))
        .map(Some)
        .or_else(|e| if e == rusqlite::Error::QueryReturnedNoRows { Ok(None) } else { Err(e) })?;
    let Some((decision, anchor)) = stored else { return Ok(()) };
    let mut task = task.clone();
    task.decision = Decision::parse(&decision).unwrap_or_default();
    task.anchor = AnchorState::parse(&anchor).unwrap_or_default();
    write_task(conn, &task)
}

/// Write a task's JSON and its queried columns (the one place both are written after insert).
pub(super) fn write_task(conn: &rusqlite::Connection, task: &Task) -> rusqlite::Result<()> {
    let json = to_json(task);
    let c = TaskColumns::of(task, &json);
    conn.prepare_cached(UPDATE_TASK)?.execute(&c.bind()[..])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{test_support, TaskStage};

    fn task_at(id: &str, repo: &str) -> Task {
        let mut t = test_support::task(id, "flip_comparison", TaskStage::Candidate);
        t.repo = repo.into();
        t
    }

    #[test]
    fn tasks_are_found_by_repository_identity_from_any_clone() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        store.insert_tasks(&[task_at("t-1", "/clone-a")]).unwrap();
        let of = |store: &Store, id: &str| {
            let q = TaskQuery { repo_id: Some(id.into()), ..Default::default() };
            store.tasks_where(&q).unwrap().into_iter().map(|t| t.id).collect::<Vec<_>>()
        };
        assert_eq!(of(&store, "/clone-a"), ["t-1"], "the path until an identity is recorded");
        assert_eq!(store.set_repo_identity("/clone-a", "example.com/team/proj").unwrap(), 1);
        assert_eq!(of(&store, "example.com/team/proj"), ["t-1"]);
        // A second clone of the same repository: new tasks land under the same identity.
        store.set_repo_identity("/clone-b", "example.com/team/proj").unwrap();
        store.insert_tasks(&[task_at("t-2", "/clone-b")]).unwrap();
        assert_eq!(of(&store, "example.com/team/proj"), ["t-1", "t-2"]);
        assert_eq!(store.repo_identity("/clone-b").unwrap().as_deref(), Some("example.com/team/proj"));
        assert_eq!(store.repo_identity("/elsewhere").unwrap(), None);
        // A pipeline update keeps the identity; the path stays where the task was generated.
        let mut t = store.task("t-2").unwrap().unwrap();
        t.stage = TaskStage::Valid;
        store.update_task(&t).unwrap();
        assert_eq!(of(&store, "example.com/team/proj"), ["t-1", "t-2"]);
        assert_eq!(store.task("t-2").unwrap().unwrap().repo, "/clone-b");
    }
}
