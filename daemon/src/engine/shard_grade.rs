//! Grade shards: a file of Solver predictions graded over nodes as `solve` and `serve` grade.
//!
//! In (head): the store and a SWE-bench predictions file (JSON Lines: `instance_id`,
//! `model_name_or_path`, `model_patch` against the task's bugged tree), a shard count. Out:
//! `Work::Grade` shards, one group per environment (each cut into at most `shards`), each
//! prediction carrying its task (FAIL_TO_PASS from the verdict, the whole suite as
//! PASS_TO_PASS: `serve::catalog`'s lookup) and the patch graded, combined on the head
//! (`serve::combine`), so a node needs only the environment image. In (node): the predictions and
//! a Docker engine. Out: an `EvalReport` per prediction from `grade::grade` in one warm worker
//! (a worker that dies is replaced and the prediction graded once more). In (head again): the
//! graded predictions. Out: what `solve` stores for an attempt — the task as an instance and the
//! Solver's trace (model = `model_name_or_path`, the report's label), plus a solve result row
//! when the task belongs to a round — idempotently: a trace's id is a hash of the instance,
//! model and patch, so a prediction graded twice (a shard rerun, a file imported twice) is
//! stored once, with the first grading.

use super::grade::{self, TestRun};
use super::shard::{GradedPrediction, Prediction, ShardInput, Work, SHARD_FORMAT};
use crate::model::{Environment, Record, SolveResult};
use crate::sandbox::worker::Worker;
use crate::sandbox::{Engine, Limits};
use crate::serve::catalog::{Catalog, LookupError};
use crate::serve::combine::{combined_patch, CombineError};
use crate::store::Store;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// A predictions file's line as SWE-bench writes it.
#[derive(Debug, Deserialize)]
struct PredictionLine {
    instance_id: String,
    model_name_or_path: String,
    #[serde(default)]
    model_patch: Option<String>,
}

/// Read a SWE-bench predictions file (JSON Lines; a JSON array is taken too). Every error names
/// the file and line: a line that is not a prediction, or a prediction given twice.
fn read_predictions(path: &Path) -> anyhow::Result<Vec<(usize, PredictionLine)>> {
    let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let parsed: Vec<(usize, serde_json::Result<PredictionLine>)> = if text.trim_start().starts_with('[') {
        let values: Vec<serde_json::Value> =
            serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{}: not a JSON array: {e}", path.display()))?;
        values.into_iter().enumerate().map(|(i, v)| (i + 1, serde_json::from_value(v))).collect()
    } else {
        let lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
        lines.map(|(i, l)| (i + 1, serde_json::from_str(l))).collect()
    };
    let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut out = Vec::new();
    for (line, p) in parsed {
        let p = p.map_err(|e| {
            anyhow::anyhow!(
                "{}:{line}: not a prediction {{instance_id, model_name_or_path, model_patch}}: {e}",
                path.display()
            )
        })?;
        if let Some(first) = seen.insert((p.instance_id.clone(), p.model_name_or_path.clone()), line) {
            anyhow::bail!(
                "{}:{line}: {} of {} is predicted again (first at line {first})",
                path.display(),
                p.instance_id,
                p.model_name_or_path
            );
        }
        out.push((line, p));
    }
    Ok(out)
}

/// The patch graded for a model patch: `Ok(None)` for an empty one (no patch), `Err` with why
/// for one that does not parse or apply; a fault of the task itself is an error.
fn combine(repo: &crate::diff::git::Repo, task: &crate::model::Task, patch: &str) -> anyhow::Result<Prediction> {
    let clean = |path: &str| -> Result<Option<String>, String> {
        let blob = repo.blob_at(&task.base_commit, path).map_err(|e| e.to_string())?;
        Ok(blob.map(|b| String::from_utf8_lossy(&b).into_owned()))
    };
    let (combined, unusable) = if patch.trim().is_empty() {
        (None, None)
    } else {
        match combined_patch(&task.bug_patch, patch, clean) {
            Ok(c) => (Some(c), None),
            Err(CombineError::Task(e)) => anyhow::bail!("task {}: {e}", task.id),
            Err(e) => (None, Some(e.to_string())),
        }
    };
    Ok(Prediction {
        instance_id: String::new(),
        model: String::new(),
        model_patch: patch.to_string(),
        task: task.clone(),
        combined,
        unusable,
    })
}

/// The grade shards of a predictions file: every instance must be gradable in `home`'s store
/// (a valid task with its environment), else an error names the line and the instance.
pub fn plan_grade(home: &Path, predictions: &Path, shards: usize) -> anyhow::Result<Vec<ShardInput>> {
    let lines = read_predictions(predictions)?;
    let catalog = Catalog::open(home)?;
    let mut groups: BTreeMap<(String, String), (Environment, Vec<Prediction>)> = BTreeMap::new();
    let mut repos = BTreeMap::new();
    for (line, p) in lines {
        let at = || format!("{}:{line}", predictions.display());
        let g = catalog.lookup(&p.instance_id).map_err(|e| match e {
            LookupError::Unknown(_) => {
                anyhow::anyhow!("{}: unknown instance {:?} (not in this store)", at(), p.instance_id)
            }
            other => anyhow::anyhow!("{}: {other}", at()),
        })?;
        let repo = match repos.entry(g.task.repo.clone()) {
            std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::btree_map::Entry::Vacant(v) => v.insert(
                crate::diff::git::Repo::open(Path::new(&g.task.repo))
                    .map_err(|e| anyhow::anyhow!("{}: the repository of {}: {e}", at(), p.instance_id))?,
            ),
        };
        let mut prediction = combine(repo, &g.task, p.model_patch.as_deref().unwrap_or(""))
            .map_err(|e| anyhow::anyhow!("{}: {e}", at()))?;
        prediction.instance_id = p.instance_id;
        prediction.model = p.model_name_or_path;
        let key = (g.env.repo.clone(), g.env.head.clone());
        groups.entry(key).or_insert_with(|| ((*g.env).clone(), Vec::new())).1.push(prediction);
    }
    let mut out = Vec::new();
    for ((repo, head), (environment, predictions)) in groups {
        let parts = super::shard::split(predictions, shards);
        let total = parts.len();
        out.extend(parts.into_iter().enumerate().map(|(shard, predictions)| ShardInput {
            format: SHARD_FORMAT,
            kind: "grade".into(),
            shard,
            shards: total,
            repo: repo.clone(),
            head: head.clone(),
            work: Work::Grade { environment: Box::new(environment.clone()), predictions },
        }));
    }
    Ok(out)
}

/// The key a prediction is given and imported by.
pub fn key_of(instance_id: &str, model: &str) -> String {
    format!("{instance_id} {model}")
}

/// Grade predictions in one warm worker of the environment's image; `after_first` is called
/// once the first is graded.
pub async fn grade_predictions(
    engine: &Engine,
    env: &Environment,
    predictions: &[Prediction],
    mut after_first: impl FnMut(),
) -> anyhow::Result<Vec<GradedPrediction>> {
    let mut worker: Option<Worker> = None;
    let mut out = Vec::with_capacity(predictions.len());
    for p in predictions {
        let started = std::time::Instant::now();
        let origin = format!("grade:{}:{}", p.model, p.task.id);
        let report = match (&p.combined, &p.unusable) {
            (_, Some(why)) => grade::report(&p.task, Some(&TestRun::Broken(why.clone())), &origin),
            (None, None) => grade::report(&p.task, None, &origin),
            (Some(combined), None) => grade_in_worker(engine, env, &mut worker, p, combined, &origin).await?,
        };
        out.push(GradedPrediction {
            instance_id: p.instance_id.clone(),
            model: p.model.clone(),
            model_patch: p.model_patch.clone(),
            report,
            duration_ms: started.elapsed().as_millis() as u64,
        });
        if out.len() == 1 {
            after_first();
        }
    }
    if let Some(w) = worker {
        if let Err(e) = w.shutdown().await {
            tracing::warn!("removing the grading container: {e}");
        }
    }
    Ok(out)
}

/// Grade one combined patch; a worker that dies under it is replaced and it is graded once more.
async fn grade_in_worker(
    engine: &Engine,
    env: &Environment,
    slot: &mut Option<Worker>,
    p: &Prediction,
    combined: &str,
    origin: &str,
) -> anyhow::Result<crate::model::EvalReport> {
    let mut first = None;
    for _ in 0..2 {
        let mut worker = match slot.take() {
            Some(w) => w,
            None => Worker::start(engine, &env.image, &Limits::default(), &env.run_env()).await?,
        };
        match grade::grade(&mut worker, env, &p.task, &p.model_patch, combined, origin).await {
            Ok((report, _)) => {
                *slot = Some(worker);
                return Ok(report);
            }
            Err(e) => {
                tracing::warn!("worker lost grading {}: {e:#}; starting another", p.instance_id);
                let _ = worker.shutdown().await;
                first.get_or_insert(e);
            }
        }
    }
    let e = first.map_or_else(|| "no worker".to_string(), |e| format!("{e:#}"));
    anyhow::bail!("grading {} of {} failed twice (the worker died): {e}", p.instance_id, p.model)
}

/// What importing graded predictions did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GradeImport {
    pub recorded: usize,
    pub resolved: usize,
    pub already: usize,
}

/// Record graded predictions as `solve` records an attempt (see the module doc). Every task
/// must be in the store (checked before anything is written).
pub fn import_graded(store: &mut Store, graded: &[(&Path, &GradedPrediction)]) -> anyhow::Result<GradeImport> {
    let mut plan = Vec::new();
    for (path, g) in graded {
        let task = store.tasks_by_id(std::slice::from_ref(&g.report.instance_id))?.pop().ok_or_else(|| {
            anyhow::anyhow!(
                "{}: task {} ({}) is not in this store: import into the home the predictions were planned from",
                path.display(),
                g.report.instance_id,
                g.instance_id
            )
        })?;
        let env = store.environment(&task.repo, &task.base_commit)?.ok_or_else(|| {
            anyhow::anyhow!("{}: no environment stored for {} at {}", path.display(), task.repo, task.base_commit)
        })?;
        plan.push((task, env, *g));
    }
    let mut summary = GradeImport::default();
    for (task, env, g) in plan {
        let attempt = super::solve::Attempt { events: vec![], imported: None, error: None };
        let origin = format!("grade:{}:{}", g.model, task.id);
        let trace = super::solve::attempt_trace(&task, &g.model, attempt, &g.model_patch, g.report.label(), &origin);
        let instance = super::solve::task_instance(&task, &env);
        let inserted = store.insert_records(&[Record::Instance(instance), Record::Trace(trace.clone())])?;
        if inserted.traces == 0 {
            summary.already += 1;
            continue;
        }
        summary.recorded += 1;
        summary.resolved += usize::from(g.report.resolved);
        if let Some(round) = task.round {
            let result = SolveResult {
                task_id: task.id.clone(),
                round,
                solver: g.model.clone(),
                report: g.report.clone(),
                diff: g.model_patch.clone(),
                trace_id: trace.id,
                duration_ms: g.duration_ms,
            };
            store.save_solve_result(&result)?;
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predictions_are_read_as_swe_bench_writes_them_and_bad_lines_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("preds.jsonl");
        let line = |id: &str, patch: serde_json::Value| {
            serde_json::json!({"instance_id": id, "model_name_or_path": "m", "model_patch": patch}).to_string()
        };
        std::fs::write(&path, format!("{}\n\n{}\n", line("a", "diff".into()), line("b", serde_json::Value::Null)))
            .unwrap();
        let read = read_predictions(&path).unwrap();
        assert_eq!(read.iter().map(|(l, p)| (*l, p.instance_id.as_str())).collect::<Vec<_>>(), [(1, "a"), (3, "b")]);
        assert_eq!(read[1].1.model_patch, None, "a null patch is no patch");

        std::fs::write(&path, format!("{}\n{}\n", line("a", "x".into()), line("a", "y".into()))).unwrap();
        let err = read_predictions(&path).unwrap_err().to_string();
        assert!(err.contains("preds.jsonl:2: a of m is predicted again (first at line 1)"), "{err}");

        std::fs::write(&path, "{\"instance_id\": \"a\"}\n").unwrap();
        let err = read_predictions(&path).unwrap_err().to_string();
        assert!(err.contains("preds.jsonl:1: not a prediction") && err.contains("model_name_or_path"), "{err}");
    }
}
