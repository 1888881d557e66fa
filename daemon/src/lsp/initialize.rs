//! `initialize`: remember the repository root, the editor's round options
//! (`initializationOptions.round`) and diagnostic settings (`initializationOptions.diagnostics`:
//! `{show, perFunction}`), refresh the task snapshot, announce capabilities.

use super::state::canonical;
use super::{Session, COMMANDS};
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;

/// The root folder the client names: the first workspace folder, else the root URI.
fn root_of(params: &InitializeParams) -> Option<std::path::PathBuf> {
    let from_folders = params
        .workspace_folders
        .as_ref()
        .and_then(|f| f.first())
        .and_then(|f| f.uri.to_file_path().map(|p| p.into_owned()));
    #[allow(deprecated)]
    let from_root = || params.root_uri.as_ref().and_then(|u| u.to_file_path().map(|p| p.into_owned()));
    from_folders.or_else(from_root)
}

pub(super) async fn handle(session: &Session, params: InitializeParams) -> Result<InitializeResult> {
    let root =
        root_of(&params).map(|r| crate::anchor::repo_root(&r).map(|r| canonical(&r)).unwrap_or_else(|_| canonical(&r)));
    tracing::info!("initialize: root {:?}", root);
    let round_options = params.initialization_options.as_ref().and_then(|o| o.get("round")).cloned();
    let diagnostics = params.initialization_options.as_ref().and_then(|o| o.get("diagnostics")).cloned();
    let diagnostics = match diagnostics.map(serde_json::from_value::<super::protocol::DiagnosticOptions>) {
        None => Default::default(),
        Some(Ok(o)) => super::protocol::DiagnosticSettings::default().with(&o),
        Some(Err(e)) => {
            session.warn(format!("socratic: initializationOptions.diagnostics: {e}; using the defaults")).await;
            Default::default()
        }
    };
    {
        let mut st = session.state();
        st.root = root;
        st.round_options = round_options;
        st.diagnostics = diagnostics;
    }
    let shared = session.shared.clone();
    if let Ok(Err(e)) = tokio::task::spawn_blocking(move || shared.reload()).await {
        tracing::warn!("reload tasks: {e:#}");
    }
    Ok(InitializeResult {
        server_info: Some(ServerInfo { name: "socratic".into(), version: Some(env!("CARGO_PKG_VERSION").into()) }),
        capabilities: ServerCapabilities {
            text_document_sync: Some(TextDocumentSyncCapability::Options(TextDocumentSyncOptions {
                open_close: Some(true),
                change: Some(TextDocumentSyncKind::INCREMENTAL),
                save: Some(TextDocumentSyncSaveOptions::Supported(true)),
                ..Default::default()
            })),
            hover_provider: Some(HoverProviderCapability::Simple(true)),
            code_action_provider: Some(CodeActionProviderCapability::Simple(true)),
            execute_command_provider: Some(ExecuteCommandOptions {
                commands: COMMANDS.iter().map(|c| c.to_string()).collect(),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    })
}
