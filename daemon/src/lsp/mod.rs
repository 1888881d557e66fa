//! The language server: repair tasks as diagnostics in the editor.
//!
//! In: LSP over any byte stream (stdio for `socratic lsp --standalone`, a Unix socket
//! connection in the daemon), plus the shared [`state::Shared`] (the store, the task snapshot).
//! Out: `textDocument/publishDiagnostics` (one diagnostic per task anchored in an open
//! document), hovers, code actions and `workspace/executeCommand` results; task status changes
//! and editor traces written to the store.
//!
//! Only this module knows LSP types and JSON-RPC. One file per request or notification, each a
//! thin adapter over plain functions ([`text`], [`document`], [`view`], [`attempt`]); command
//! arguments and results are the types of [`protocol`]. Handlers
//! never wait on Docker and never hold a lock across `.await`; document state is updated before
//! a handler's first `.await`, so concurrent handlers see edits in order. A panic in a handler
//! is caught and answered with an internal error; the server stays up.

pub mod attempt;
pub mod attempt_run;
pub mod bench;
mod code_action;
pub mod daemon;
mod diagnostics;
mod did_change;
mod did_close;
mod did_open;
mod did_save;
pub mod document;
pub mod evolve;
mod execute_command;
pub mod frames;
mod hover;
mod initialize;
pub mod protocol;
pub mod proxy;
mod record_event;
pub mod round;
pub mod state;
pub mod tasks;
pub mod test_location;
pub mod text;
pub mod view;

use attempt::AttemptDoc;
use document::Document;
use futures_util::FutureExt;
use state::{Change, Shared};
use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use tokio::io::{AsyncRead, AsyncWrite};
use tower_lsp_server::jsonrpc::{Error, Result};
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, LanguageServer, LspService, Server};

pub use protocol::COMMANDS;

/// The diagnostic source.
pub const SOURCE: &str = "socratic";

/// Run CPU-heavy work (parsing a large document) on the handler without starving other
/// sessions: on a multi-thread runtime the worker thread first hands its other tasks to
/// another thread; elsewhere (a current-thread runtime) it simply runs.
pub(crate) fn cpu_heavy<T>(work: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(work),
        _ => work(),
    }
}

/// What one editor connection holds.
#[derive(Default)]
pub(crate) struct SessionState {
    /// Canonical repository root (from `initialize`).
    pub root: Option<PathBuf>,
    pub docs: HashMap<Uri, Document>,
    /// The attempt this editor started: (attempt id, task id); the attempt itself is shared.
    pub attempt: Option<(String, String)>,
    /// Documents open under an attempt's checkout (recorded in it, never indexed).
    pub attempt_docs: HashMap<Uri, AttemptDoc>,
    /// `initializationOptions.round`: the editor's round options (see [`round`]).
    pub round_options: Option<serde_json::Value>,
}

/// One editor connection.
pub(crate) struct Session {
    pub client: Client,
    pub shared: Arc<Shared>,
    state: Mutex<SessionState>,
}

impl Session {
    /// The session state; never held across `.await`.
    pub fn state(&self) -> MutexGuard<'_, SessionState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Say something to the user through the editor's log (`window/logMessage`) and ours.
    pub async fn warn(&self, message: String) {
        tracing::warn!("{message}");
        self.client.log_message(MessageType::WARNING, message).await;
    }

    /// Publish the diagnostics of one open document (an empty list when it is not open).
    pub async fn publish(&self, uri: &Uri) {
        let (diags, version) = {
            let st = self.state();
            match st.docs.get(uri) {
                Some(doc) => {
                    let file = st.root.as_ref().map(|root| self.shared.file_tasks(root, &doc.rel)).unwrap_or_default();
                    (diagnostics::of(doc, &file, st.root.as_deref()), Some(doc.version))
                }
                None => (Vec::new(), None),
            }
        };
        self.client.publish_diagnostics(uri.clone(), diags, version).await;
    }

    /// Re-anchor new tasks in every open document and publish them all.
    pub async fn republish_all(&self) {
        let uris: Vec<Uri> = {
            let mut st = self.state();
            let root = st.root.clone();
            for doc in st.docs.values_mut() {
                if let Some(root) = &root {
                    let shared = &self.shared;
                    doc.add_tasks(&shared.tasks_in(root, &doc.rel), &|t| shared.site_text(root, t));
                }
            }
            st.docs.keys().cloned().collect()
        };
        for uri in uris {
            self.publish(&uri).await;
        }
    }

    /// Mark tasks' anchors stale in the store (after an edit deleted their sites; their stage and
    /// the user's decision stay) and tell the others.
    pub fn mark_stale(&self, ids: Vec<String>) {
        if ids.is_empty() {
            return;
        }
        let shared = self.shared.clone();
        tokio::task::spawn_blocking(move || {
            for id in &ids {
                if let Err(e) = shared.set_anchor(id, crate::model::AnchorState::Stale) {
                    tracing::warn!("mark {id} stale: {e:#}");
                }
            }
            shared.notify(Change::Tasks);
        });
    }
}

/// The `LanguageServer` of one connection.
pub struct Backend(Arc<Session>);

/// Run a handler, turning a panic into an internal error (logged).
async fn guarded<T>(what: &str, fut: impl Future<Output = Result<T>>) -> Result<T> {
    match AssertUnwindSafe(fut).catch_unwind().await {
        Ok(r) => r,
        Err(panic) => {
            let msg =
                panic.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| panic.downcast_ref::<String>().cloned());
            tracing::error!("{what}: handler panicked: {}", msg.unwrap_or_default());
            Err(Error::internal_error())
        }
    }
}

/// Run a notification handler, logging a panic.
async fn guarded_note(what: &str, fut: impl Future<Output = ()>) {
    let _ = guarded(what, fut.map(Ok::<(), Error>)).await;
}

/// An invalid-params error with a message.
pub(crate) fn invalid(msg: impl Into<String>) -> Error {
    let mut e = Error::invalid_params(msg.into());
    e.data = None;
    e
}

impl LanguageServer for Backend {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        guarded("initialize", initialize::handle(&self.0, params)).await
    }

    async fn initialized(&self, _: InitializedParams) {
        let weak = Arc::downgrade(&self.0);
        spawn_listener(weak, self.0.shared.subscribe());
    }

    async fn shutdown(&self) -> Result<()> {
        Ok(())
    }

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        guarded_note("didOpen", did_open::handle(&self.0, params)).await
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        guarded_note("didChange", did_change::handle(&self.0, params)).await
    }

    async fn did_save(&self, params: DidSaveTextDocumentParams) {
        guarded_note("didSave", did_save::handle(&self.0, params)).await
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        guarded_note("didClose", did_close::handle(&self.0, params)).await
    }

    async fn hover(&self, params: HoverParams) -> Result<Option<Hover>> {
        guarded("hover", hover::handle(&self.0, params)).await
    }

    async fn code_action(&self, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        guarded("codeAction", code_action::handle(&self.0, params)).await
    }

    async fn execute_command(&self, params: ExecuteCommandParams) -> Result<Option<LSPAny>> {
        guarded("executeCommand", execute_command::handle(&self.0, params)).await
    }
}

impl Backend {
    async fn record_event(&self, params: serde_json::Value) {
        guarded_note(protocol::RECORD_EVENT, record_event::handle(&self.0, params)).await
    }

    /// The answer to a request `frames` could not pass on: its error.
    async fn invalid_message(&self, params: frames::InvalidMessage) -> Result<serde_json::Value> {
        Err(Error { code: params.code.into(), message: params.message.into(), data: None })
    }
}

/// Re-publish on every shared change until the session is gone.
fn spawn_listener(weak: Weak<Session>, mut rx: tokio::sync::broadcast::Receiver<Change>) {
    tokio::spawn(async move {
        loop {
            let change = rx.recv().await;
            if matches!(change, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                break;
            }
            let Some(session) = weak.upgrade() else { break };
            if let Ok(Change::File(_)) = change {
                // files open in this editor follow the editor's buffer; the rest has nothing shown
                continue;
            }
            session.republish_all().await;
        }
    });
}

/// The LSP service of one connection over the shared state.
pub fn service(shared: Arc<Shared>) -> (LspService<Backend>, tower_lsp_server::ClientSocket) {
    LspService::build(|client| {
        Backend(Arc::new(Session { client, shared, state: Mutex::new(SessionState::default()) }))
    })
    .custom_method(protocol::RECORD_EVENT, Backend::record_event)
    .custom_method(frames::INVALID_MESSAGE, Backend::invalid_message)
    .finish()
}

/// Serve one connection until it closes (or the client exits).
pub async fn serve<I: AsyncRead + Unpin + Send + 'static, O: AsyncWrite>(input: I, output: O, shared: Arc<Shared>) {
    let (service, socket) = service(shared);
    Server::new(frames::sanitize(input), output, socket).serve(service).await;
}

/// A short label for a task diagnostic: its code.
fn view_label(d: &Diagnostic) -> String {
    match &d.code {
        Some(NumberOrString::String(s)) => s.clone(),
        Some(NumberOrString::Number(n)) => n.to_string(),
        None => "task".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_handler_answers_an_internal_error() {
        let r: Result<()> = guarded("test", async { panic!("boom") }).await;
        assert_eq!(r.unwrap_err().code, tower_lsp_server::jsonrpc::ErrorCode::InternalError);
        let ok: Result<u8> = guarded("test", async { Ok(7) }).await;
        assert_eq!(ok.unwrap(), 7);
    }
}
