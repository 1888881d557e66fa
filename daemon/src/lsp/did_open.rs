//! `textDocument/didOpen`: parse the text, anchor the file's tasks, publish. A document over
//! the size limits (`document::too_big`) is not parsed: the editor is told why in its log. A
//! document under a running attempt's checkout is only recorded in the attempt.

use super::attempt::AttemptDoc;
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

/// Keep a document under an attempt's checkout (recorded as opened in the attempt); false when
/// it is not under one.
fn open_in_attempt(session: &Session, doc: &TextDocumentItem) -> bool {
    let Some((attempt, rel)) = doc.uri.to_file_path().and_then(|p| session.shared.attempt_at(&p)) else {
        return false;
    };
    session.shared.with_attempt(&attempt, |a| a.opened(&rel));
    session.state().attempt_docs.insert(doc.uri.clone(), AttemptDoc { attempt, rel, text: doc.text.clone() });
    true
}

pub(super) async fn handle(session: &Session, params: DidOpenTextDocumentParams) {
    let doc = params.text_document;
    if open_in_attempt(session, &doc) {
        return;
    }
    let refused = {
        let mut st = session.state();
        let Some(root) = st.root.clone() else { return };
        let Some(rel) = relative(Some(&root), &doc.uri) else { return };
        st.docs.remove(&doc.uri);
        let open: usize = st.docs.values().map(|d| d.text().len()).sum();
        match super::document::too_big(doc.text.len(), open) {
            Some(why) => Some(format!("socratic: {rel}: {why}; no tasks are shown in it")),
            None => {
                let tasks = session.shared.tasks_in(&root, &rel);
                let shared = &session.shared;
                let site_text = |t: &_| shared.site_text(&root, t);
                let opened = super::cpu_heavy(|| {
                    Document::open(&rel, doc.version, doc.text, &tasks, &site_text, &shared.queries)
                });
                match opened {
                    Ok(d) => {
                        st.docs.insert(doc.uri.clone(), d);
                        None
                    }
                    Err(e) => {
                        tracing::warn!("didOpen {rel}: {e}");
                        return;
                    }
                }
            }
        }
    };
    if let Some(message) = refused {
        session.warn(message).await;
    }
    session.publish(&doc.uri).await;
}
