//! `textDocument/didOpen`: parse the text, anchor the file's tasks, publish.

use super::document::Document;
use super::Session;
use tower_lsp_server::ls_types::*;

/// The path of `uri` relative to `root`, `/` separated, when it is a Python file inside it.
pub(super) fn relative(root: Option<&std::path::Path>, uri: &Uri) -> Option<String> {
    let path = uri.to_file_path()?;
    if path.extension().and_then(|e| e.to_str()) != Some("py") {
        return None;
    }
    let path = super::state::canonical(&path);
    let rel = path.strip_prefix(root?).ok()?;
    Some(rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/"))
}

pub(super) async fn handle(session: &Session, params: DidOpenTextDocumentParams) {
    let doc = params.text_document;
    {
        let mut st = session.state();
        let Some(root) = st.root.clone() else { return };
        let Some(rel) = relative(Some(&root), &doc.uri) else { return };
        let tasks = session.shared.tasks_in(&root, &rel);
        let shared = &session.shared;
        match Document::open(&rel, doc.version, doc.text, &tasks, &|t| shared.site_text(&root, t), &shared.queries) {
            Ok(d) => {
                st.docs.insert(doc.uri.clone(), d);
            }
            Err(e) => {
                tracing::warn!("didOpen {rel}: {e}");
                return;
            }
        }
    }
    session.publish(&doc.uri).await;
}
