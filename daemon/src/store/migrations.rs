//! Versioned schema migrations, applied in order inside one transaction each; the version lives in
//! `PRAGMA user_version`. Append new steps; never edit a released one. A step is SQL, or a Rust
//! function when stored JSON has to be rewritten (it works on `serde_json::Value`, never on
//! today's model types, so it keeps meaning what it meant when it was released).

use rusqlite::{params, Connection, Transaction};
use serde_json::{json, Value};

enum Migration {
    Sql(&'static str),
    Rust(fn(&Transaction) -> rusqlite::Result<()>),
}

/// Migration N (1-based) is `MIGRATIONS[N-1]`.
const MIGRATIONS: &[Migration] = &[
    // 1: traces, reports, instances, tasks.
    Migration::Sql(
        "CREATE TABLE traces (
        id TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        instance_id TEXT,
        json TEXT NOT NULL,
        label_json TEXT NOT NULL,
        imported_at TEXT NOT NULL
     );
     CREATE INDEX traces_instance ON traces(instance_id);
     CREATE TABLE reports (
        key TEXT PRIMARY KEY,
        instance_id TEXT NOT NULL,
        source TEXT NOT NULL,
        priority INTEGER NOT NULL,
        json TEXT NOT NULL,
        imported_at TEXT NOT NULL
     );
     CREATE INDEX reports_instance ON reports(instance_id);
     CREATE TABLE instances (
        instance_id TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        json TEXT NOT NULL,
        imported_at TEXT NOT NULL
     );
     CREATE TABLE tasks (
        id TEXT PRIMARY KEY,
        repo TEXT NOT NULL,
        operator TEXT NOT NULL,
        file TEXT NOT NULL,
        status TEXT NOT NULL,
        json TEXT NOT NULL,
        created_at TEXT NOT NULL
     );
     CREATE INDEX tasks_repo_file ON tasks(repo, file);",
    ),
    // 2: environments and verdicts.
    Migration::Sql(
        "CREATE TABLE environments (
        repo TEXT NOT NULL,
        head TEXT NOT NULL,
        image TEXT NOT NULL,
        json TEXT NOT NULL,
        built_at TEXT NOT NULL,
        PRIMARY KEY (repo, head)
     );
     CREATE TABLE verdicts (
        task_id TEXT PRIMARY KEY,
        valid INTEGER NOT NULL,
        json TEXT NOT NULL,
        decided_at TEXT NOT NULL
     );",
    ),
    // 3: distilled skills, one row per name (the stable id), versioned.
    Migration::Sql(
        "CREATE TABLE skills (
        name TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        version INTEGER NOT NULL,
        json TEXT NOT NULL,
        updated_at TEXT NOT NULL
     );",
    ),
    // 4: gradient features (cache) and scores.
    Migration::Sql(
        "CREATE TABLE score_features (
        model_hash TEXT NOT NULL,
        task_hash TEXT NOT NULL,
        subset TEXT NOT NULL,
        dim INTEGER NOT NULL,
        seed INTEGER NOT NULL,
        loss REAL NOT NULL,
        feature BLOB NOT NULL,
        computed_at TEXT NOT NULL,
        PRIMARY KEY (model_hash, task_hash, subset, dim, seed)
     );
     CREATE TABLE scores (
        task_id TEXT NOT NULL,
        reference_set TEXT NOT NULL,
        model_hash TEXT NOT NULL,
        reward REAL NOT NULL,
        json TEXT NOT NULL,
        scored_at TEXT NOT NULL,
        PRIMARY KEY (task_id, reference_set, model_hash)
     );",
    ),
    // 5: rounds of the loop and Solver attempts.
    Migration::Sql(
        "CREATE TABLE rounds (
        number INTEGER PRIMARY KEY,
        step TEXT NOT NULL,
        json TEXT NOT NULL,
        updated_at TEXT NOT NULL
     );
     CREATE TABLE solve_results (
        task_id TEXT NOT NULL,
        round INTEGER NOT NULL,
        solver TEXT NOT NULL,
        outcome TEXT NOT NULL,
        trace_id TEXT NOT NULL,
        json TEXT NOT NULL,
        solved_at TEXT NOT NULL,
        PRIMARY KEY (task_id, round, solver)
     );",
    ),
    // 6: a task's lifecycle as three facts (stage, decision, anchor) in queryable, indexed
    // columns; a verdict's outcome as one enum.
    Migration::Rust(lifecycle_columns),
    // 7: a trace's label evidence (which report gave its effective label and why). Effective
    // labels are reset to each trace's own label here; `Store::open` then recomputes them all
    // with the rule that a report labels only the traces it can be tied to.
    Migration::Sql(
        "ALTER TABLE traces ADD COLUMN label_evidence TEXT;
     UPDATE traces SET label_json = json_extract(json, '$.label');",
    ),
    // 8: a score may carry no reward (no reference set, a random model): `reward` nullable.
    Migration::Sql(
        "CREATE TABLE scores_new (
        task_id TEXT NOT NULL,
        reference_set TEXT NOT NULL,
        model_hash TEXT NOT NULL,
        reward REAL,
        json TEXT NOT NULL,
        scored_at TEXT NOT NULL,
        PRIMARY KEY (task_id, reference_set, model_hash)
     );
     INSERT INTO scores_new SELECT task_id, reference_set, model_hash, reward, json, scored_at FROM scores;
     DROP TABLE scores;
     ALTER TABLE scores_new RENAME TO scores;",
    ),
    // 9: repository identity. `repositories` maps a checkout's path to its identity (origin
    // remote normalised, else root commit); a task's `repo_id` column is the identity of its
    // `repo` path, or the path itself until that path's identity is recorded (the engine and
    // the language server record it whenever they open a repository, which also rewrites the
    // `repo_id` of that path's tasks).
    Migration::Sql(
        "CREATE TABLE repositories (
        path TEXT PRIMARY KEY,
        identity TEXT NOT NULL
     );
     ALTER TABLE tasks ADD COLUMN repo_id TEXT NOT NULL DEFAULT '';
     UPDATE tasks SET repo_id = repo;
     CREATE INDEX tasks_repo_id_file ON tasks(repo_id, file);",
    ),
    // 10: LoRA training runs (model and adapter hashes, data, settings, loss curve, throughput).
    Migration::Sql(
        "CREATE TABLE training_runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        model_hash TEXT NOT NULL,
        adapter_hash TEXT NOT NULL,
        round INTEGER,
        json TEXT NOT NULL,
        finished_at TEXT NOT NULL
     );
     CREATE INDEX training_runs_adapter ON training_runs(adapter_hash);",
    ),
    // 11: evolve runs (settings, held-out set) and their per-round steps.
    Migration::Sql(
        "CREATE TABLE evolve_runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        repo TEXT NOT NULL,
        state TEXT NOT NULL,
        json TEXT NOT NULL,
        updated_at TEXT NOT NULL
     );
     CREATE TABLE evolve_steps (
        run_id INTEGER NOT NULL,
        round INTEGER NOT NULL,
        step TEXT NOT NULL,
        state TEXT NOT NULL,
        starts INTEGER NOT NULL,
        json TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (run_id, round, step)
     );",
    ),
    // 12: efficacy experiments (inputs, pool, split, warm-up, skills) and each finished arm × seed.
    Migration::Sql(
        "CREATE TABLE experiments (
        id TEXT PRIMARY KEY,
        json TEXT NOT NULL,
        updated_at TEXT NOT NULL
     );
     CREATE TABLE experiment_arms (
        experiment TEXT NOT NULL,
        arm TEXT NOT NULL,
        seed INTEGER NOT NULL,
        json TEXT NOT NULL,
        finished_at TEXT NOT NULL,
        PRIMARY KEY (experiment, arm, seed)
     );",
    ),
];

/// The version that added label evidence: a store older than this has its labels recomputed.
pub const LABEL_EVIDENCE_VERSION: i64 = 7;

#[derive(Debug)]
pub enum MigrationError {
    TooNew { found: i64, known: i64 },
    Sqlite(rusqlite::Error),
}

impl From<rusqlite::Error> for MigrationError {
    fn from(e: rusqlite::Error) -> Self {
        MigrationError::Sqlite(e)
    }
}

/// Bring the schema to the latest version; returns the version the store had before.
pub fn apply(conn: &mut Connection) -> Result<i64, MigrationError> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    apply_up_to(conn, MIGRATIONS.len())?;
    Ok(found)
}

/// Bring the schema to `version` (tests build old stores with it).
pub(super) fn apply_up_to(conn: &mut Connection, version: usize) -> Result<(), MigrationError> {
    let known = MIGRATIONS.len() as i64;
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > known {
        return Err(MigrationError::TooNew { found, known });
    }
    for (i, step) in MIGRATIONS.iter().enumerate().take(version).skip(found as usize) {
        // Write-locked from the start, the version read again inside: another process opening
        // the same fresh store at once (two shards on one node) applies each step once; this
        // one waits for it (busy_timeout) and skips what it did.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let now: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if now > i as i64 {
            continue;
        }
        match step {
            Migration::Sql(sql) => tx.execute_batch(sql)?,
            Migration::Rust(f) => f(&tx)?,
        }
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}

/// 6: split the old one-word `status` into stage / decision / anchor (in the JSON and in new
/// columns), add the queried columns (round, skill) with indexes, and turn a verdict's
/// `valid` + `rejected_at` into `outcome`.
fn lifecycle_columns(tx: &Transaction) -> rusqlite::Result<()> {
    tx.execute_batch(
        "ALTER TABLE tasks ADD COLUMN stage TEXT NOT NULL DEFAULT 'candidate';
         ALTER TABLE tasks ADD COLUMN decision TEXT NOT NULL DEFAULT 'none';
         ALTER TABLE tasks ADD COLUMN anchor TEXT NOT NULL DEFAULT 'fresh';
         ALTER TABLE tasks ADD COLUMN round INTEGER;
         ALTER TABLE tasks ADD COLUMN skill TEXT;",
    )?;
    let verdicts = rewrite_verdicts(tx)?;
    let scored: std::collections::HashSet<String> =
        tx.prepare("SELECT DISTINCT task_id FROM scores")?.query_map([], |r| r.get(0))?.collect::<Result<_, _>>()?;
    let rows: Vec<(String, String)> = tx
        .prepare("SELECT id, json FROM tasks")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut update = tx.prepare(
        "UPDATE tasks SET json = ?2, stage = ?3, decision = ?4, anchor = ?5, round = ?6, skill = ?7 WHERE id = ?1",
    )?;
    for (id, text) in rows {
        let Ok(mut task) = serde_json::from_str::<Value>(&text) else { continue };
        let (stage, decision, anchor) = split_status(&task, verdicts.get(&id), scored.contains(&id));
        let obj = task.as_object_mut().expect("a task row is a JSON object");
        obj.remove("status");
        obj.insert("stage".into(), stage.clone());
        obj.insert("decision".into(), json!(decision));
        obj.insert("anchor".into(), json!(anchor));
        let round = obj.get("round").and_then(Value::as_u64);
        let skill = obj.get("skill").and_then(Value::as_str).map(str::to_string);
        let stage_word = stage["stage"].as_str().unwrap_or("candidate").to_string();
        update.execute(params![id, task.to_string(), stage_word, decision, anchor, round, skill])?;
    }
    tx.execute_batch(
        "ALTER TABLE tasks DROP COLUMN status;
         CREATE INDEX tasks_round ON tasks(round);
         CREATE INDEX tasks_stage ON tasks(stage);
         CREATE INDEX tasks_decision ON tasks(decision);
         CREATE INDEX tasks_anchor ON tasks(anchor);
         CREATE INDEX tasks_skill ON tasks(skill);
         CREATE INDEX tasks_operator ON tasks(operator);
         CREATE INDEX solve_results_round ON solve_results(round, solver);",
    )
}

/// Verdict JSON `{valid, rejected_at, ...}` → `{outcome, ...}`; returns each task's new verdict.
fn rewrite_verdicts(tx: &Transaction) -> rusqlite::Result<std::collections::HashMap<String, Value>> {
    let rows: Vec<(String, String)> = tx
        .prepare("SELECT task_id, json FROM verdicts")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut out = std::collections::HashMap::new();
    let mut update = tx.prepare("UPDATE verdicts SET json = ?2 WHERE task_id = ?1")?;
    for (id, text) in rows {
        let Ok(mut verdict) = serde_json::from_str::<Value>(&text) else { continue };
        let Some(obj) = verdict.as_object_mut() else { continue };
        if obj.contains_key("outcome") {
            out.insert(id, verdict);
            continue;
        }
        let valid = obj.remove("valid").and_then(|v| v.as_bool()).unwrap_or(false);
        let stage = obj.remove("rejected_at").and_then(|v| v.as_str().map(str::to_string));
        let outcome = match (valid, stage) {
            (true, _) => json!("valid"),
            (false, Some(stage)) => json!({ "rejected": stage }),
            (false, None) => json!({ "rejected": "execution" }),
        };
        obj.insert("outcome".into(), outcome);
        update.execute(params![id, verdict.to_string()])?;
        out.insert(id, verdict);
    }
    Ok(out)
}

/// The three facts an old one-word status stood for. Accepted, rejected and stale hid the
/// stage: it is recovered from the verdict (valid → scored when a score exists).
fn split_status(task: &Value, verdict: Option<&Value>, has_score: bool) -> (Value, &'static str, &'static str) {
    let word = task["status"]["state"].as_str().unwrap_or("candidate");
    let from_verdict = || match verdict.map(|v| &v["outcome"]) {
        Some(Value::String(s)) if s == "valid" => {
            if has_score {
                json!({"stage": "scored"})
            } else {
                json!({"stage": "valid"})
            }
        }
        Some(Value::Object(o)) => {
            let stage = o.get("rejected").and_then(Value::as_str).unwrap_or("execution");
            let reason = verdict.and_then(|v| v["reason"].as_str()).unwrap_or("");
            json!({"stage": "invalid", "reason": format!("{stage}: {reason}")})
        }
        _ => json!({"stage": "candidate"}),
    };
    match word {
        "valid" | "scored" | "candidate" => (json!({"stage": word}), "none", "fresh"),
        "invalid" => (json!({"stage": "invalid", "reason": task["status"]["reason"].clone()}), "none", "fresh"),
        "accepted" => (from_verdict(), "accepted", "fresh"),
        "rejected" => (from_verdict(), "rejected", "fresh"),
        "stale" => (from_verdict(), "none", "stale"),
        _ => (from_verdict(), "none", "fresh"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AnchorState, Decision, RejectStage, TaskStage, VerdictOutcome};
    use crate::store::Store;

    /// A task row as version 5 stored it: `status` = `{"state": word[, "reason"]}`.
    fn old_task(id: &str, status: Value) -> String {
        let mut t = serde_json::to_value(crate::model::test_support::task(id, "flip_comparison", TaskStage::Candidate))
            .expect("json");
        let obj = t.as_object_mut().expect("object");
        for k in ["stage", "decision", "anchor"] {
            obj.remove(k);
        }
        obj.insert("status".into(), status);
        t.to_string()
    }

    fn old_verdict(id: &str, valid: bool, rejected_at: Option<&str>) -> String {
        json!({"task_id": id, "valid": valid, "rejected_at": rejected_at, "reason": "why",
               "fail_to_pass": [], "pass_to_pass": [], "duration_ms": 3})
        .to_string()
    }

    #[test]
    fn version_5_statuses_become_three_facts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut conn = Connection::open(dir.path().join("socratic.db")).expect("open");
        apply_up_to(&mut conn, 5).expect("v5");
        let rows = [
            ("t-cand", json!({"state": "candidate"}), None),
            (
                "t-inv",
                json!({"state": "invalid", "reason": "flaky: x"}),
                Some(old_verdict("t-inv", false, Some("flaky"))),
            ),
            ("t-acc", json!({"state": "accepted"}), Some(old_verdict("t-acc", true, None))),
            ("t-rej", json!({"state": "rejected"}), Some(old_verdict("t-rej", false, Some("fail-to-pass")))),
            ("t-stale", json!({"state": "stale"}), Some(old_verdict("t-stale", true, None))),
        ];
        for (id, status, verdict) in &rows {
            conn.execute(
                "INSERT INTO tasks (id, repo, operator, file, status, json, created_at) VALUES (?1, '/r', 'op', 'm.py', 'x', ?2, 'now')",
                params![id, old_task(id, status.clone())],
            )
            .expect("task");
            if let Some(v) = verdict {
                conn.execute(
                    "INSERT INTO verdicts (task_id, valid, json, decided_at) VALUES (?1, 0, ?2, 'now')",
                    params![id, v],
                )
                .expect("verdict");
            }
        }
        conn.execute(
            "INSERT INTO scores (task_id, reference_set, model_hash, reward, json, scored_at) VALUES ('t-acc', 'r', 'm', 0.5, '{}', 'now')",
            [],
        )
        .expect("score");
        drop(conn);

        let store = Store::open(dir.path()).expect("migrated");
        let facts = |id: &str| {
            let t = store.task(id).expect("read").expect("task");
            (t.stage, t.decision, t.anchor)
        };
        assert_eq!(facts("t-cand"), (TaskStage::Candidate, Decision::None, AnchorState::Fresh));
        assert_eq!(facts("t-inv"), (TaskStage::Invalid("flaky: x".into()), Decision::None, AnchorState::Fresh));
        assert_eq!(facts("t-acc"), (TaskStage::Scored, Decision::Accepted, AnchorState::Fresh));
        assert_eq!(
            facts("t-rej"),
            (TaskStage::Invalid("fail-to-pass: why".into()), Decision::Rejected, AnchorState::Fresh)
        );
        assert_eq!(facts("t-stale"), (TaskStage::Valid, Decision::None, AnchorState::Stale));
        let verdict = store.verdict("t-rej").expect("read").expect("verdict");
        assert_eq!(verdict.outcome, VerdictOutcome::Rejected(RejectStage::FailToPass));
        assert!(store.verdict("t-acc").expect("read").expect("verdict").is_valid());
        // the columns agree with the JSON
        let accepted = store
            .tasks_where(&crate::store::TaskQuery { decision: Some(Decision::Accepted), ..Default::default() })
            .expect("query");
        assert_eq!(accepted.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), ["t-acc"]);
        assert_eq!(store.count_tasks(&crate::store::TaskQuery::valid()).expect("count"), 2);
        // version 8: until its path's identity is recorded, a task's repository identity is its path
        let by_id = crate::store::TaskQuery { repo_id: Some("/r".into()), ..Default::default() };
        assert_eq!(store.count_tasks(&by_id).expect("count"), 5);
    }
}
