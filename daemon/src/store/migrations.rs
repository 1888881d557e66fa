//! Versioned schema migrations, applied in order inside one transaction each; the version lives in
//! `PRAGMA user_version`. Append new steps; never edit a released one.

use rusqlite::Connection;

/// Migration N (1-based) is `MIGRATIONS[N-1]`.
const MIGRATIONS: &[&str] = &[
    // 1: traces, reports, instances, tasks.
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
    // 2: environments and verdicts.
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
    // 3: distilled skills, one row per name (the stable id), versioned.
    "CREATE TABLE skills (
        name TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        version INTEGER NOT NULL,
        json TEXT NOT NULL,
        updated_at TEXT NOT NULL
     );",
    // 4: gradient features (cache) and scores.
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
    // 5: rounds of the loop and Solver attempts.
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
];

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

/// Bring the schema to the latest version.
pub fn apply(conn: &mut Connection) -> Result<(), MigrationError> {
    let known = MIGRATIONS.len() as i64;
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > known {
        return Err(MigrationError::TooNew { found, known });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}
