//! The store: one SQLite file (`socratic.db`) under the home directory, and the only code that
//! opens it.
//!
//! In: model records to keep. Out: the same records back, summaries and counts.
//! WAL journal, versioned migrations (`PRAGMA user_version`), every write a transaction: a
//! process killed at any instant leaves the file readable with every committed record intact.
//!
//! Labels: a trace keeps the label its importer inferred; its *effective* label comes from the
//! best stored evaluation report of its instance *that applies to it* (same run or model, or the
//! same evaluated patch; see `labels`), recomputed whenever either side is inserted, whichever
//! was imported first (a per-instance report beats an aggregate run report; the later import
//! wins a tie). Which report gave the label, and why the others did not, is kept beside it.

mod evolve;
mod experiments;
pub mod labels;
mod migrations;
pub mod owner_only;
mod rounds;
mod score;
mod skills;
pub use evolve::{EvolveLine, EvolveRun, EvolveSettings, EvolveState, EvolveStep, Rate, StepState};
pub use score::FeatureRow;
pub use tasks::TaskQuery;
pub mod tasks;
mod training;
mod validation;

use crate::model::{EvalReport, Instance, Label, Record, SourceFormat, Trace};
pub use labels::{LabelEvidence, ReportVerdict};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Store errors name the operation and the file.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store {path}: {op}: {source}")]
    Sqlite { path: String, op: &'static str, source: rusqlite::Error },
    #[error("store {path}: cannot create home folder: {source}")]
    Home { path: String, source: std::io::Error },
    #[error("store {path}: cannot create the file: {source}")]
    File { path: String, source: std::io::Error },
    #[error("store {path}: stored record is corrupt: {message}")]
    Corrupt { path: String, message: String },
    #[error("store {path}: schema version {found} is newer than this program knows ({known}); upgrade socratic")]
    TooNew { path: String, found: i64, known: i64 },
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// The open store.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

/// What inserting one batch of records did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct InsertSummary {
    pub traces: usize,
    pub reports: usize,
    pub instances: usize,
    pub duplicates: usize,
}

/// Counts for `traces stats`.
#[derive(Debug, Default, Clone, Serialize)]
pub struct TraceStats {
    pub traces: usize,
    pub reports: usize,
    pub instances: usize,
    pub by_source: BTreeMap<String, usize>,
    pub by_outcome: BTreeMap<String, usize>,
    pub by_failure: BTreeMap<String, usize>,
    pub labelled_by_report: usize,
    pub inferred: usize,
}

/// A trace with its effective label.
#[derive(Debug, Clone, Serialize)]
pub struct StoredTrace {
    #[serde(flatten)]
    pub trace: Trace,
    /// The label in force: from a report that applies to this trace, else the importer's own.
    pub effective_label: Label,
    /// Which report gave the effective label and why it applies; which were passed over and why.
    pub label_evidence: LabelEvidence,
    pub imported_at: String,
}

/// Reports that describe one instance rank: per-instance reports above aggregate ones.
fn report_priority(source: SourceFormat) -> i64 {
    match source {
        SourceFormat::SweBenchRunReport => 1,
        _ => 2,
    }
}

impl Store {
    /// Open (creating if needed) `home/socratic.db` and bring its schema up to date. A home it
    /// creates is 0700; the file is 0600 (SQLite gives its WAL files the file's mode).
    pub fn open(home: &Path) -> Result<Store> {
        owner_only::create_dir(home).map_err(|source| StoreError::Home { path: home.display().to_string(), source })?;
        let path = home.join("socratic.db");
        owner_only::open_file(&path).map_err(|source| StoreError::File { path: path.display().to_string(), source })?;
        let conn = Connection::open(&path).map_err(|source| StoreError::Sqlite {
            path: path.display().to_string(),
            op: "open",
            source,
        })?;
        let mut store = Store { conn, path };
        store.configure()?;
        let found = migrations::apply(&mut store.conn).map_err(|e| store.migration_error(e))?;
        if found < migrations::LABEL_EVIDENCE_VERSION {
            store.relabel_all()?;
        }
        Ok(store)
    }

    /// WAL mode, the busy timeout and foreign keys. Switching a fresh file to WAL takes a lock
    /// that SQLite's busy handler does not wait for, so when several processes open one new
    /// store at once the switch is retried for up to the busy timeout (once one process has
    /// switched, the file stays in WAL mode and the others find it so).
    fn configure(&self) -> Result<()> {
        const BUSY_MS: u64 = 5000;
        let started = std::time::Instant::now();
        loop {
            let configured = self.conn.execute_batch(&format!(
                "PRAGMA busy_timeout={BUSY_MS}; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
            ));
            match configured {
                Err(e) if is_busy(&e) && started.elapsed().as_millis() < u128::from(BUSY_MS) => {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                other => return other.map_err(|e| self.err("configure", e)),
            }
        }
    }

    fn migration_error(&self, e: migrations::MigrationError) -> StoreError {
        match e {
            migrations::MigrationError::TooNew { found, known } => {
                StoreError::TooNew { path: self.path_str(), found, known }
            }
            migrations::MigrationError::Sqlite(source) => self.err("migrate", source),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The home folder the store file lives in.
    pub fn home(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    fn path_str(&self) -> String {
        self.path.display().to_string()
    }

    pub(crate) fn err(&self, op: &'static str, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite { path: self.path_str(), op, source }
    }

    pub(crate) fn corrupt(&self, message: impl Into<String>) -> StoreError {
        StoreError::Corrupt { path: self.path_str(), message: message.into() }
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// `PRAGMA integrity_check` says "ok".
    pub fn integrity_ok(&self) -> Result<bool> {
        let r: String = self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(|e| self.err("integrity_check", e))?;
        Ok(r == "ok")
    }

    /// Insert one file's records in a single transaction; duplicates (same content) are counted,
    /// not stored twice. Reports relabel the traces of their instance.
    pub fn insert_records(&mut self, records: &[Record]) -> Result<InsertSummary> {
        let path = self.path.clone();
        let sql_err = |op, source| sql_error(&path, op, source);
        let tx = self.conn.transaction().map_err(|e| sql_err("begin", e))?;
        let mut summary = InsertSummary::default();
        let mut touched = Vec::new();
        for record in records {
            let inserted = match record {
                Record::Trace(t) => insert_trace(&tx, t).inspect(|n| summary.traces += n),
                Record::Report(r) => insert_report(&tx, r).inspect(|n| summary.reports += n),
                Record::Instance(i) => insert_instance(&tx, i).inspect(|n| summary.instances += n),
            }
            .map_err(|e| sql_err("insert", e))?;
            if inserted == 0 {
                summary.duplicates += 1;
            }
            if let Some(id) = record_instance_id(record) {
                touched.push(id.to_string());
            }
        }
        touched.sort();
        touched.dedup();
        for id in &touched {
            relabel(&tx, id).map_err(|e| sql_err("relabel", e))?;
        }
        tx.commit().map_err(|e| sql_err("commit", e))?;
        Ok(summary)
    }

    /// Recompute the effective label of every trace (after the migration that added evidence).
    fn relabel_all(&mut self) -> Result<()> {
        let path = self.path.clone();
        let sql_err = |op, source| sql_error(&path, op, source);
        let tx = self.conn.transaction().map_err(|e| sql_err("begin", e))?;
        let ids: Vec<String> = {
            let mut stmt = tx
                .prepare("SELECT DISTINCT instance_id FROM traces WHERE instance_id IS NOT NULL")
                .map_err(|e| sql_err("relabel", e))?;
            let rows = stmt.query_map([], |r| r.get(0)).map_err(|e| sql_err("relabel", e))?;
            rows.collect::<rusqlite::Result<_>>().map_err(|e| sql_err("relabel", e))?
        };
        for id in &ids {
            relabel(&tx, id).map_err(|e| sql_err("relabel", e))?;
        }
        tx.commit().map_err(|e| sql_err("commit", e))
    }

    /// All traces, oldest import first.
    pub fn traces(&self) -> Result<Vec<StoredTrace>> {
        let mut stmt = self
            .conn
            .prepare("SELECT json, label_json, imported_at, label_evidence FROM traces ORDER BY rowid")
            .map_err(|e| self.err("list traces", e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get(3)?)))
            .map_err(|e| self.err("list traces", e))?;
        let mut out = Vec::new();
        for row in rows {
            let (json, label, imported_at, evidence) = row.map_err(|e| self.err("list traces", e))?;
            out.push(self.decode_trace(&json, &label, imported_at, evidence)?);
        }
        Ok(out)
    }

    /// One trace by id or unique id prefix.
    pub fn trace(&self, id: &str) -> Result<Option<StoredTrace>> {
        let like = format!("{}%", id.replace(['%', '_'], ""));
        let mut stmt = self
            .conn
            .prepare(
                "SELECT json, label_json, imported_at, label_evidence FROM traces WHERE id = ?1 OR id LIKE ?2 LIMIT 2",
            )
            .map_err(|e| self.err("get trace", e))?;
        let rows: Vec<(String, String, String, Option<String>)> = stmt
            .query_map(params![id, like], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .map_err(|e| self.err("get trace", e))?
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| self.err("get trace", e))?;
        match rows.as_slice() {
            [(json, label, at, evidence)] => Ok(Some(self.decode_trace(json, label, at.clone(), evidence.clone())?)),
            _ => Ok(None),
        }
    }

    fn decode_trace(
        &self,
        json: &str,
        label: &str,
        imported_at: String,
        evidence: Option<String>,
    ) -> Result<StoredTrace> {
        let trace: Trace = serde_json::from_str(json).map_err(|e| self.corrupt(format!("trace: {e}")))?;
        let effective_label: Label = serde_json::from_str(label).map_err(|e| self.corrupt(format!("label: {e}")))?;
        let label_evidence = match evidence {
            Some(e) => serde_json::from_str(&e).map_err(|e| self.corrupt(format!("label evidence: {e}")))?,
            None => LabelEvidence::default(),
        };
        Ok(StoredTrace { trace, effective_label, label_evidence, imported_at })
    }

    /// Every stored evaluation report.
    pub fn reports(&self) -> Result<Vec<EvalReport>> {
        self.json_rows("SELECT json FROM reports ORDER BY rowid", "list reports")
    }

    /// Every stored benchmark instance.
    pub fn instances(&self) -> Result<Vec<Instance>> {
        self.json_rows("SELECT json FROM instances ORDER BY rowid", "list instances")
    }

    /// The instance with this id, if stored.
    pub fn instance(&self, instance_id: &str) -> Result<Option<Instance>> {
        self.json_row("SELECT json FROM instances WHERE instance_id = ?1", [instance_id], "get instance", "instance")
    }

    /// The JSON column of the one row `sql` selects, decoded; `None` when there is no row.
    /// `op` names the query in SQLite errors, `what` the record in decoding errors.
    pub(crate) fn json_row<T: serde::de::DeserializeOwned>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        op: &'static str,
        what: &str,
    ) -> Result<Option<T>> {
        let json: Option<String> =
            self.conn.query_row(sql, params, |r| r.get(0)).optional().map_err(|e| self.err(op, e))?;
        json.map(|j| serde_json::from_str(&j).map_err(|e| self.corrupt(format!("{what}: {e}")))).transpose()
    }

    pub(crate) fn json_rows<T: serde::de::DeserializeOwned>(&self, sql: &str, op: &'static str) -> Result<Vec<T>> {
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.err(op, e))?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(|e| self.err(op, e))?;
        let mut out = Vec::new();
        for row in rows {
            let json = row.map_err(|e| self.err(op, e))?;
            out.push(serde_json::from_str(&json).map_err(|e| self.corrupt(format!("{op}: {e}")))?);
        }
        Ok(out)
    }

    /// Counts by source, effective outcome and failure reason.
    pub fn trace_stats(&self) -> Result<TraceStats> {
        let mut stats = TraceStats::default();
        for st in self.traces()? {
            stats.traces += 1;
            *stats.by_source.entry(st.trace.source.as_str().to_string()).or_default() += 1;
            *stats.by_outcome.entry(st.effective_label.outcome.as_str().to_string()).or_default() += 1;
            if let Some(f) = st.effective_label.failure {
                *stats.by_failure.entry(f.as_str().to_string()).or_default() += 1;
            }
            if st.effective_label.inferred {
                stats.inferred += 1;
            } else {
                stats.labelled_by_report += 1;
            }
        }
        stats.reports = self.count("reports")?;
        stats.instances = self.count("instances")?;
        Ok(stats)
    }

    fn count(&self, table: &'static str) -> Result<usize> {
        let n: i64 = self
            .conn
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .map_err(|e| self.err("count", e))?;
        Ok(n as usize)
    }
}

/// A SQLite error for the store at `path`, usable while a transaction borrows the store.
pub(crate) fn sql_error(path: &Path, op: &'static str, source: rusqlite::Error) -> StoreError {
    StoreError::Sqlite { path: path.display().to_string(), op, source }
}

fn record_instance_id(record: &Record) -> Option<&str> {
    match record {
        Record::Trace(t) => t.task.instance_id.as_deref(),
        Record::Report(r) => Some(&r.instance_id),
        Record::Instance(_) => None,
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("model types serialize")
}

fn insert_trace(tx: &rusqlite::Transaction, t: &Trace) -> rusqlite::Result<usize> {
    tx.execute(
        "INSERT OR IGNORE INTO traces (id, source, instance_id, json, label_json, imported_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![t.id, t.source.as_str(), t.task.instance_id, to_json(t), to_json(&t.label), now()],
    )
}

fn insert_report(tx: &rusqlite::Transaction, r: &EvalReport) -> rusqlite::Result<usize> {
    let mut keyed = r.clone();
    keyed.origin.clear();
    let key = crate::model::sha256_hex(to_json(&keyed).as_bytes());
    tx.execute(
        "INSERT OR IGNORE INTO reports (key, instance_id, source, priority, json, imported_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![key, r.instance_id, r.source.as_str(), report_priority(r.source), to_json(r), now()],
    )
}

fn insert_instance(tx: &rusqlite::Transaction, i: &Instance) -> rusqlite::Result<usize> {
    tx.execute(
        "INSERT OR IGNORE INTO instances (instance_id, source, json, imported_at) VALUES (?1, ?2, ?3, ?4)",
        params![i.instance_id, i.source.as_str(), to_json(i), now()],
    )
}

/// Set the effective label of every trace of an instance from the best report that applies to
/// it (its own label when none does), with the evidence.
fn relabel(tx: &rusqlite::Transaction, instance_id: &str) -> rusqlite::Result<()> {
    let reports: Vec<EvalReport> = {
        let mut stmt =
            tx.prepare("SELECT json FROM reports WHERE instance_id = ?1 ORDER BY priority DESC, rowid DESC")?;
        let rows = stmt.query_map([instance_id], |r| r.get::<_, String>(0))?;
        rows.filter_map(|json| json.map(|j| serde_json::from_str(&j).ok()).transpose())
            .collect::<rusqlite::Result<_>>()?
    };
    let traces: Vec<(String, String)> = {
        let mut stmt = tx.prepare("SELECT id, json FROM traces WHERE instance_id = ?1")?;
        let rows = stmt.query_map([instance_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for (id, json) in traces {
        let Ok(trace) = serde_json::from_str::<Trace>(&json) else { continue };
        let (label, evidence) = labels::effective_label(&trace, &reports);
        tx.execute(
            "UPDATE traces SET label_json = ?1, label_evidence = ?2 WHERE id = ?3",
            params![to_json(&label), to_json(&evidence), id],
        )?;
    }
    Ok(())
}

/// Is this SQLite's "database is locked" / "busy"?
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if matches!(f.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn processes_opening_one_fresh_store_at_once_each_get_it_migrated() {
        for _ in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let home = dir.path().join("home");
            let opens: Vec<_> = (0..6)
                .map(|_| {
                    let home = home.clone();
                    std::thread::spawn(move || Store::open(&home).map(|_| ()).map_err(|e| e.to_string()))
                })
                .collect();
            for o in opens {
                o.join().unwrap().unwrap();
            }
        }
    }
    use crate::model::*;

    fn trace(instance: &str, patch: &str) -> Trace {
        let mut t = Trace {
            id: String::new(),
            source: SourceFormat::MiniSweAgent,
            format_version: None,
            task: TaskRef { instance_id: Some(instance.into()), ..Default::default() },
            model: None,
            events: vec![],
            final_patch: Some(patch.into()),
            label: Label::inferred(Outcome::Unknown, None, "patch submitted; no report"),
            cost_usd: None,
            started_at: None,
            ended_at: None,
            origin: "t.json".into(),
            messages: Vec::new(),
        };
        t.id = t.compute_id();
        t
    }

    fn report(instance: &str, source: SourceFormat, outcome: Outcome) -> EvalReport {
        crate::model::test_support::report(instance, source, outcome, "r.json")
    }

    #[test]
    fn report_labels_trace_in_either_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        // Trace first, then report.
        s.insert_records(&[Record::Trace(trace("a__b-1", "d1"))]).unwrap();
        s.insert_records(&[Record::Report(report("a__b-1", SourceFormat::SweBenchReport, Outcome::Resolved))]).unwrap();
        // Report first, then trace.
        s.insert_records(&[Record::Report(report("a__b-2", SourceFormat::SweBenchReport, Outcome::Unresolved))])
            .unwrap();
        s.insert_records(&[Record::Trace(trace("a__b-2", "d2"))]).unwrap();
        let traces = s.traces().unwrap();
        let by_instance = |id: &str| traces.iter().find(|t| t.trace.task.instance_id.as_deref() == Some(id)).unwrap();
        assert_eq!(by_instance("a__b-1").effective_label.outcome, Outcome::Resolved);
        assert!(!by_instance("a__b-1").effective_label.inferred);
        assert_eq!(by_instance("a__b-2").effective_label.outcome, Outcome::Unresolved);
        // The inferred label is kept on the trace itself.
        assert!(by_instance("a__b-2").trace.label.inferred);
    }

    #[test]
    fn per_instance_report_beats_run_report() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        s.insert_records(&[Record::Trace(trace("a__b-3", "d"))]).unwrap();
        s.insert_records(&[Record::Report(report("a__b-3", SourceFormat::SweBenchReport, Outcome::Unresolved))])
            .unwrap();
        s.insert_records(&[Record::Report(report("a__b-3", SourceFormat::SweBenchRunReport, Outcome::Resolved))])
            .unwrap();
        assert_eq!(s.traces().unwrap()[0].effective_label.outcome, Outcome::Unresolved);
    }

    #[test]
    fn opening_a_version_6_store_recomputes_its_labels_with_evidence() {
        let dir = tempfile::tempdir().unwrap();
        let empty = trace("a__b-9", "");
        let other_run = report("a__b-9", SourceFormat::SweBenchRunReport, Outcome::Resolved);
        {
            let mut conn = Connection::open(dir.path().join("socratic.db")).unwrap();
            migrations::apply_up_to(&mut conn, 6).unwrap();
            // As version 6 left it: the aggregate report's label on a trace with an empty patch.
            conn.execute(
                "INSERT INTO traces (id, source, instance_id, json, label_json, imported_at) VALUES (?1, ?2, ?3, ?4, ?5, 't')",
                params![empty.id, empty.source.as_str(), "a__b-9", to_json(&empty), to_json(&other_run.label())],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO reports (key, instance_id, source, priority, json, imported_at) VALUES ('k', 'a__b-9', ?1, 1, ?2, 't')",
                params![other_run.source.as_str(), to_json(&other_run)],
            )
            .unwrap();
        }
        let s = Store::open(dir.path()).unwrap();
        let stored = &s.traces().unwrap()[0];
        assert_eq!(stored.effective_label.outcome, Outcome::Unknown);
        assert!(stored.effective_label.inferred && stored.label_evidence.applied.is_none());
        assert!(stored.label_evidence.ignored[0].why.contains("empty patch"), "{:?}", stored.label_evidence);
    }

    #[test]
    fn reinsert_is_idempotent_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut s = Store::open(dir.path()).unwrap();
            let recs = [
                Record::Trace(trace("x__y-1", "p")),
                Record::Report(report("x__y-1", SourceFormat::SweBenchReport, Outcome::Resolved)),
            ];
            let first = s.insert_records(&recs).unwrap();
            assert_eq!((first.traces, first.reports, first.duplicates), (1, 1, 0));
            let second = s.insert_records(&recs).unwrap();
            assert_eq!((second.traces, second.reports, second.duplicates), (0, 0, 2));
        }
        let s = Store::open(dir.path()).unwrap();
        assert!(s.integrity_ok().unwrap());
        let stats = s.trace_stats().unwrap();
        assert_eq!((stats.traces, stats.reports, stats.labelled_by_report), (1, 1, 1));
        let id = &s.traces().unwrap()[0].trace.id;
        assert!(s.trace(&id[..8]).unwrap().is_some());
    }
}
