//! `workspace/executeCommand`: accept / reject a task, show its patch, generate tasks, run a
//! round ([`super::round`]: the user's options, progress), the attempt commands
//! ([`super::attempt_run`]), list the tasks ([`super::tasks`]).
//!
//! In: the command name and its arguments, parsed into the [`protocol`] argument types (a bad
//! argument is an invalid-params error naming the command and the argument). Out: the
//! [`protocol`] result type of the command, serialized. Store work runs in `spawn_blocking`;
//! long work reports `$/progress`.

use super::protocol::{self, *};
use super::state::Change;
use super::{invalid, Session};
use crate::model::Decision;
use crate::tasks::GenerateConfig;
use serde::Serialize;
use serde_json::Value;
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::*;

/// The task id argument of `command`.
fn task_arg(command: &str, args: &[Value]) -> Result<String> {
    protocol::required::<TaskId>(command, args).map(|t| t.id().to_string()).map_err(invalid)
}

/// A command's result as the JSON-RPC answer.
fn answer(result: &impl Serialize) -> Result<Option<Value>> {
    serde_json::to_value(result).map(Some).map_err(failed)
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

async fn set_decision(session: &Session, command: &str, args: &[Value], decision: Decision) -> Result<Option<Value>> {
    let id = task_arg(command, args)?;
    let shared = session.shared.clone();
    let task = blocking(move || shared.set_decision(&id, decision)).await?;
    session.shared.notify(Change::Tasks);
    answer(&StatusChanged {
        status: task.state_word().to_string(),
        stage: task.stage.name().to_string(),
        decision: task.decision,
        id: task.id,
    })
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
async fn generate(session: &Session, args: &[Value], title: &str) -> Result<(Generated, Progress)> {
    let uri = protocol::optional::<DocumentUri>(GENERATE, args).map_err(invalid)?.map(|d| d.uri().to_string());
    let root = session.state().root.clone().ok_or_else(|| invalid("no workspace root"))?;
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
    Ok((Generated { generated, added, file }, progress))
}

pub(super) async fn handle(session: &Session, params: ExecuteCommandParams) -> Result<Option<Value>> {
    let args = params.arguments;
    match params.command.as_str() {
        ACCEPT => set_decision(session, ACCEPT, &args, Decision::Accepted).await,
        REJECT => set_decision(session, REJECT, &args, Decision::Rejected).await,
        SHOW_PATCH => {
            let id = task_arg(SHOW_PATCH, &args)?;
            let task = session.shared.task(&id).ok_or_else(|| invalid(format!("no task '{id}'")))?;
            session
                .client
                .log_message(MessageType::INFO, format!("bug patch of {}:\n{}", task.id, task.bug_patch))
                .await;
            answer(&TaskPatch { id: task.id, patch: task.bug_patch })
        }
        GENERATE => {
            let (generated, progress) = generate(session, &args, "socratic: generate").await?;
            progress.end("done").await;
            answer(&generated)
        }
        ROUND => {
            let round = super::round::run(session, &args).await?;
            let line = crate::engine::round::round_line(&round);
            session.client.show_message(MessageType::INFO, format!("socratic {line}")).await;
            answer(&RoundSummary::of(&round))
        }
        EVOLVE => {
            let summary = super::evolve::run(session, &args).await?;
            let message = format!("socratic {}", super::evolve::finished_line(&summary));
            session.client.show_message(MessageType::INFO, message).await;
            answer(&EvolveSummary::of(&summary))
        }
        START_ATTEMPT => answer(&super::attempt_run::start(session, &args).await?),
        RUN_ATTEMPT_TESTS => answer(&super::attempt_run::run_tests(session, &args).await?),
        FINISH_ATTEMPT => {
            let finished = super::attempt_run::finish(session, &args).await?;
            let message = format!(
                "socratic: attempt at {} graded {} ({}); stored as trace {}",
                finished.id, finished.label, finished.reason, finished.trace
            );
            session.client.show_message(MessageType::INFO, message).await;
            answer(&finished)
        }
        ABANDON_ATTEMPT => answer(&super::attempt_run::abandon(session, &args).await?),
        TASKS => super::tasks::handle(session, &args).await,
        other => Err(invalid(format!("unknown command '{other}'"))),
    }
}
