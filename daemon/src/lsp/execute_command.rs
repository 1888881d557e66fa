//! `workspace/executeCommand`: accept / reject a task, show its patch, generate tasks, run a
//! round, start and finish an attempt, list the tasks ([`super::tasks`]). Store work runs in
//! `spawn_blocking`; long work reports `$/progress`.

use super::attempt::Attempt;
use super::state::Change;
use super::{invalid, Session};
use crate::model::TaskStatus;
use crate::tasks::GenerateConfig;
use serde_json::{json, Value};
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::*;

/// The task id argument: a string, or an object with `id` / `taskId`.
fn task_arg(args: &[Value]) -> Result<String> {
    match args.first() {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::Object(o)) => o
            .get("id")
            .or_else(|| o.get("taskId"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| invalid("expected {\"id\": TASK_ID}")),
        _ => Err(invalid("expected a task id as the first argument")),
    }
}

fn failed(e: impl std::fmt::Display) -> Error {
    let mut err = Error::internal_error();
    err.message = e.to_string().into();
    err
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> anyhow::Result<T> + Send + 'static) -> Result<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(failed(format!("{e:#}"))),
        Err(e) => Err(failed(format!("worker failed: {e}"))),
    }
}

async fn set_status(session: &Session, args: &[Value], status: TaskStatus) -> Result<Option<Value>> {
    let id = task_arg(args)?;
    let shared = session.shared.clone();
    let task = blocking(move || shared.set_status(&id, status)).await?;
    session.shared.notify(Change::Tasks);
    Ok(Some(json!({"id": task.id, "status": task.status.name()})))
}

/// A work-done progress, when the client supports it (otherwise messages are only logged).
struct Progress {
    ongoing: Option<tower_lsp_server::OngoingProgress<tower_lsp_server::Unbounded, tower_lsp_server::NotCancellable>>,
}

impl Progress {
    async fn begin(session: &Session, title: &str) -> Progress {
        let token = NumberOrString::String(format!("socratic-{}", uuid_like()));
        let ongoing = match session.client.create_work_done_progress(token.clone()).await {
            Ok(()) => Some(session.client.progress(token, title).begin().await),
            Err(_) => None,
        };
        Progress { ongoing }
    }

    async fn report(&self, msg: &str) {
        tracing::info!("{msg}");
        if let Some(p) = &self.ongoing {
            p.report(msg.to_string()).await;
        }
    }

    async fn end(self, msg: &str) {
        if let Some(p) = self.ongoing {
            p.finish_with_message(msg.to_string()).await;
        }
    }
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// `socratic.generate [uri | {uri}]`: one file, or the whole workspace.
async fn generate(session: &Session, args: &[Value], title: &str) -> Result<(Value, Progress)> {
    let root = session.state().root.clone().ok_or_else(|| invalid("no workspace root"))?;
    let uri = match args.first() {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Object(o)) => o.get("uri").and_then(Value::as_str).map(str::to_string),
        _ => None,
    };
    let file = match uri {
        Some(u) => {
            let uri: Uri = u.parse().map_err(|_| invalid(format!("not a URI: {u}")))?;
            Some(
                super::did_open::relative(Some(&root), &uri)
                    .ok_or_else(|| invalid(format!("{u} is not a Python file of the workspace")))?,
            )
        }
        None => None,
    };
    let progress = Progress::begin(session, title).await;
    progress.report(&format!("generating tasks in {}", file.as_deref().unwrap_or("the workspace"))).await;
    let shared = session.shared.clone();
    let (root2, file2) = (root.clone(), file.clone());
    let (generated, added) =
        blocking(move || shared.generate(&root2, file2.as_deref(), &GenerateConfig::default())).await?;
    session.shared.notify(Change::Tasks);
    progress.report(&format!("{generated} candidates, {added} new")).await;
    Ok((json!({"generated": generated, "added": added, "file": file}), progress))
}

/// Run (or resume) a round of the loop on the workspace with its own store connection and
/// runtime, off the server's threads.
fn run_engine_round(home: &std::path::Path, root: &std::path::Path) -> anyhow::Result<crate::model::Round> {
    let mut store = crate::store::Store::open(home)?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(crate::engine::round::run_round(
        &mut store,
        home,
        &crate::engine::round::RoundOptions::new(root.to_path_buf()),
    ))
}

pub(super) async fn handle(session: &Session, params: ExecuteCommandParams) -> Result<Option<Value>> {
    let args = params.arguments;
    match params.command.as_str() {
        "socratic.accept" => set_status(session, &args, TaskStatus::Accepted).await,
        "socratic.reject" => set_status(session, &args, TaskStatus::Rejected).await,
        "socratic.showPatch" => {
            let id = task_arg(&args)?;
            let task = session.shared.task(&id).ok_or_else(|| invalid(format!("no task '{id}'")))?;
            session
                .client
                .log_message(MessageType::INFO, format!("bug patch of {}:\n{}", task.id, task.bug_patch))
                .await;
            Ok(Some(json!({"id": task.id, "patch": task.bug_patch})))
        }
        "socratic.generate" => {
            let (value, progress) = generate(session, &args, "socratic: generate").await?;
            progress.end("done").await;
            Ok(Some(value))
        }
        "socratic.round" => {
            let root = session.state().root.clone().ok_or_else(|| invalid("no workspace root"))?;
            let progress = Progress::begin(session, "socratic: round").await;
            progress.report("distill, generate, validate, score, select (needs a container engine)").await;
            let home = session.shared.home.clone();
            let outcome = tokio::task::spawn_blocking(move || run_engine_round(&home, &root)).await;
            let _ = session.shared.reload();
            session.shared.notify(Change::Tasks);
            let round = match outcome {
                Ok(Ok(r)) => r,
                Ok(Err(e)) => {
                    progress.end("failed").await;
                    return Err(invalid(format!("the round did not finish: {e:#}")));
                }
                Err(e) => {
                    progress.end("failed").await;
                    return Err(invalid(format!("the round did not finish: {e}")));
                }
            };
            let line = crate::cli::round_line(&round);
            session.client.show_message(MessageType::INFO, format!("socratic {line}")).await;
            progress.end("done").await;
            Ok(Some(serde_json::to_value(&round).unwrap_or(Value::Null)))
        }
        "socratic.startAttempt" => {
            let id = task_arg(&args)?;
            let task = session.shared.task(&id).ok_or_else(|| invalid(format!("no task '{id}'")))?;
            let mut st = session.state();
            let root = st.root.clone().ok_or_else(|| invalid("no workspace root"))?;
            if let Some(running) = &st.attempt {
                return Err(invalid(format!("an attempt at {} is running; finish it first", running.task.id)));
            }
            st.attempt = Some(Attempt::start(task.clone(), &root));
            Ok(Some(json!({"id": task.id, "attempt": "started"})))
        }
        "socratic.finishAttempt" => {
            let attempt = session.state().attempt.take().ok_or_else(|| invalid("no attempt is running"))?;
            let shared = session.shared.clone();
            let (id, trace_id, label) = blocking(move || {
                let patch = super::attempt::working_tree_diff(&attempt.root)?;
                let task_id = attempt.task.id.clone();
                let record = attempt.finish(patch);
                let (trace_id, label) = match &record {
                    crate::model::Record::Trace(t) => (t.id.clone(), t.label.outcome.as_str().to_string()),
                    _ => (String::new(), String::new()),
                };
                shared.insert_records(&[record])?;
                Ok((task_id, trace_id, label))
            })
            .await?;
            Ok(Some(json!({"id": id, "trace": trace_id, "label": label})))
        }
        "socratic.tasks" => super::tasks::handle(session, &args).await,
        other => Err(invalid(format!("unknown command '{other}'"))),
    }
}
