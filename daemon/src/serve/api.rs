//! The endpoints as plain async functions over the [`Service`]: JSON in (already read and size
//! checked), a status and a JSON body (or text) out. The HTTP glue is `http.rs`.
//!
//! `POST /v1/grade` `{instance_id, patch}` → `{instance_id, resolved, outcome, failure,
//! fail_to_pass: {passed, failed}, pass_to_pass: {passed, failed}, reward, duration_ms, cached}`
//! (`cached`: answered from the verdict cache, without a worker);
//! `POST /v1/grade/batch` a list of those requests → the list of answers in the same order (an
//! item that cannot be graded answers `{instance_id, status, field, error}` in its place);
//! `GET /v1/tasks?round=N` → `{tasks: [..]}`; `GET /healthz`; `GET /metrics`. Errors are
//! `{error, field}` with a 4xx naming the field, 429 with Retry-After when the queue is full.

use super::catalog::{Gradable, LookupError};
use super::combine::{combined_patch, CombineError};
use super::pool::Busy;
use super::Service;
use crate::engine::grade;
use crate::model::EvalReport;
use serde_json::{json, Value};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Instant;

/// What an endpoint answers.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Body,
    /// Seconds for a Retry-After header (429).
    pub retry_after_s: Option<u64>,
}

#[derive(Debug)]
pub enum Body {
    Json(Value),
    Text(String),
}

impl Answer {
    pub fn json(status: u16, value: Value) -> Answer {
        Answer { status, body: Body::Json(value), retry_after_s: None }
    }

    /// A 4xx / 5xx naming the field at fault (`body` for the request as a whole).
    pub fn error(status: u16, field: &str, message: impl Into<String>) -> Answer {
        Answer::json(status, json!({"error": message.into(), "field": field}))
    }

    fn busy(busy: Busy, capacity: usize) -> Answer {
        let message =
            format!("the grading queue is full ({capacity} grades admitted); retry after {} s", busy.retry_after_s);
        Answer { retry_after_s: Some(busy.retry_after_s), ..Answer::error(429, "body", message) }
    }
}

/// One grade request, checked: the instance and the patch.
struct GradeRequest {
    instance_id: String,
    patch: String,
}

/// Read `{instance_id, patch}` from a JSON value; `at` prefixes field names (`[3].patch`).
fn grade_request(value: &Value, at: &str) -> Result<GradeRequest, Answer> {
    let Some(object) = value.as_object() else {
        let field = if at.is_empty() { "body" } else { at };
        return Err(Answer::error(400, field, format!("{field}: expected an object {{\"instance_id\", \"patch\"}}")));
    };
    let text = |name: &str| -> Result<String, Answer> {
        let field = format!("{at}{}{name}", if at.is_empty() { "" } else { "." });
        match object.get(name) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(Answer::error(400, &field, format!("{field}: expected a string"))),
            None => Err(Answer::error(400, &field, format!("{field}: missing"))),
        }
    };
    Ok(GradeRequest { instance_id: text("instance_id")?, patch: text("patch")? })
}

/// A request ready to grade, or the answer it gets without grading.
enum Prepared {
    Run {
        g: Arc<Gradable>,
        patch: String,
        combined: String,
    },
    /// An empty patch: graded `no-patch` at once, as `grade::grade` does, without a worker.
    Empty(Arc<Gradable>),
    /// A patch graded before (the verdict cache).
    Cached(EvalReport),
}

fn prepare(service: &Service, req: GradeRequest, at: &str) -> Result<Prepared, Answer> {
    let field = |name: &str| if at.is_empty() { name.to_string() } else { format!("{at}.{name}") };
    let g = service.catalog.lookup(&req.instance_id).map_err(|e| match e {
        LookupError::Unknown(_) | LookupError::NotGradable { .. } => {
            Answer::error(404, &field("instance_id"), e.to_string())
        }
        LookupError::Store(_) | LookupError::Listing(_) => Answer::error(500, "body", e.to_string()),
    })?;
    if req.patch.trim().is_empty() {
        return Ok(Prepared::Empty(g));
    }
    let repo = crate::diff::git::Repo::open(std::path::Path::new(&g.task.repo))
        .map_err(|e| Answer::error(500, "body", format!("the task's repository: {e}")))?;
    let clean = |path: &str| -> Result<Option<String>, String> {
        let blob = repo.blob_at(&g.task.base_commit, path).map_err(|e| e.to_string())?;
        Ok(blob.map(|b| String::from_utf8_lossy(&b).into_owned()))
    };
    match combined_patch(&g.task.bug_patch, &req.patch, clean) {
        Ok(combined) => match service.cache.get(&cache_key(&g, &combined)) {
            Some(report) => Ok(Prepared::Cached(report)),
            None => Ok(Prepared::Run { g, patch: req.patch, combined }),
        },
        Err(CombineError::Task(e)) => Err(Answer::error(500, "body", format!("instance {}: {e}", req.instance_id))),
        Err(e) => Err(Answer::error(422, &field("patch"), format!("{}: {e}", field("patch")))),
    }
}

fn cache_key(g: &Gradable, combined: &str) -> super::cache::Key {
    super::cache::Key::new(&g.task.id, &g.env.image, combined)
}

/// The answer body of a grade.
fn graded(instance_id: &str, report: &EvalReport, started: Instant, cached: bool) -> Value {
    json!({
        "instance_id": instance_id,
        "resolved": report.resolved,
        "outcome": report.outcome.as_str(),
        "failure": report.failure,
        "fail_to_pass": {"passed": report.fail_to_pass_success, "failed": report.fail_to_pass_failure},
        "pass_to_pass": {"passed": report.pass_to_pass_success, "failed": report.pass_to_pass_failure},
        "reward": if report.resolved { 1.0 } else { 0.0 },
        "duration_ms": started.elapsed().as_millis() as u64,
        "cached": cached,
    })
}

/// Grade prepared requests (all admitted together, or 429), answers in order.
async fn grade_all(
    service: &Arc<Service>,
    items: Vec<(String, Result<Prepared, Answer>)>,
) -> Result<Vec<Answer>, Answer> {
    let started = Instant::now();
    let runs = items.iter().filter(|(_, p)| matches!(p, Ok(Prepared::Run { .. }))).count();
    let pool = &service.pool;
    let admission = match pool.admit(runs) {
        Ok(a) => a,
        Err(busy) => {
            service.metrics.rejected.fetch_add(1, Relaxed);
            return Err(Answer::busy(busy, pool.capacity()));
        }
    };
    let futures = items.into_iter().map(|(instance_id, prepared)| {
        let admission = &admission;
        async move {
            match prepared {
                Err(answer) => answer,
                Ok(Prepared::Empty(g)) => {
                    let report = grade::report(&g.task, None, &format!("serve:{}", g.instance_id));
                    service.metrics.graded(report.outcome.as_str(), started.elapsed().as_secs_f64());
                    Answer::json(200, graded(&instance_id, &report, started, false))
                }
                Ok(Prepared::Cached(report)) => {
                    service.metrics.graded(report.outcome.as_str(), started.elapsed().as_secs_f64());
                    Answer::json(200, graded(&instance_id, &report, started, true))
                }
                Ok(Prepared::Run { g, patch, combined }) => match pool.grade(admission, &g, &patch, &combined).await {
                    Ok(report) => {
                        service.cache.put(cache_key(&g, &combined), &report);
                        service.metrics.graded(report.outcome.as_str(), started.elapsed().as_secs_f64());
                        Answer::json(200, graded(&instance_id, &report, started, false))
                    }
                    Err(e) => {
                        service.metrics.errors.fetch_add(1, Relaxed);
                        Answer::error(503, "body", format!("{e:#}"))
                    }
                },
            }
        }
    });
    Ok(futures_util::future::join_all(futures).await)
}

/// `POST /v1/grade`.
pub async fn grade_one(service: Arc<Service>, body: Value) -> Answer {
    let prepared = match grade_request(&body, "") {
        Ok(req) => (req.instance_id.clone(), prepare(&service, req, "")),
        Err(answer) => return answer,
    };
    match grade_all(&service, vec![prepared]).await {
        Ok(mut answers) => answers.pop().unwrap_or_else(|| Answer::error(500, "body", "no answer")),
        Err(answer) => answer,
    }
}

/// `POST /v1/grade/batch`.
pub async fn grade_batch(service: Arc<Service>, body: Value) -> Answer {
    let Some(list) = body.as_array() else {
        return Answer::error(400, "body", "body: expected a list of {\"instance_id\", \"patch\"} objects");
    };
    let mut items = Vec::with_capacity(list.len());
    for (i, value) in list.iter().enumerate() {
        let at = format!("[{i}]");
        match grade_request(value, &at) {
            Ok(req) => items.push((req.instance_id.clone(), prepare(&service, req, &at))),
            Err(answer) => return answer,
        }
    }
    let runs = items.iter().filter(|(_, p)| matches!(p, Ok(Prepared::Run { .. }))).count();
    if runs > service.pool.capacity() {
        return Answer::error(
            413,
            "body",
            format!(
                "the batch holds {runs} patches to run; this service admits {} at once (--workers + --queue)",
                service.pool.capacity()
            ),
        );
    }
    match grade_all(&service, items).await {
        Ok(answers) => Answer::json(200, Value::Array(answers.into_iter().map(batch_item).collect())),
        Err(answer) => answer,
    }
}

/// One batch answer: the grade, or the error with its status inside.
fn batch_item(answer: Answer) -> Value {
    match answer.body {
        Body::Json(Value::Object(mut o)) if answer.status != 200 => {
            o.insert("status".into(), json!(answer.status));
            Value::Object(o)
        }
        Body::Json(v) => v,
        Body::Text(t) => json!({"status": answer.status, "error": t}),
    }
}

/// `GET /v1/tasks?round=N`.
pub fn tasks(service: &Service, query: Option<&str>) -> Answer {
    let mut round = None;
    for pair in query.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("round", n)) => match n.parse::<u32>() {
                Ok(n) => round = Some(n),
                Err(_) => return Answer::error(400, "round", format!("round: expected a round number, got {n:?}")),
            },
            _ => {
                return Answer::error(
                    400,
                    pair.split('=').next().unwrap_or(pair),
                    format!("unknown query parameter {pair:?} (known: round)"),
                )
            }
        }
    }
    match service.catalog.list(round) {
        Ok(tasks) => Answer::json(200, json!({"round": round, "tasks": tasks})),
        Err(e) => Answer::error(500, "body", e.to_string()),
    }
}

/// `GET /healthz`.
pub fn health(service: &Service) -> Answer {
    let m = &service.metrics;
    Answer::json(
        200,
        json!({
            "ok": true,
            "workers": m.workers.load(Relaxed),
            "queue_depth": m.queue_depth.load(Relaxed),
            "capacity": service.pool.capacity(),
            "grades": m.grades_total(),
        }),
    )
}

/// `GET /metrics`.
pub fn metrics(service: &Service) -> Answer {
    let text = service.metrics.render() + &service.cache.render();
    Answer { status: 200, body: Body::Text(text), retry_after_s: None }
}
