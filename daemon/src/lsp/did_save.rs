//! `textDocument/didSave`: a save of a document under an attempt's checkout is recorded in it.

use super::Session;
use tower_lsp_server::ls_types::*;

pub(super) async fn handle(session: &Session, params: DidSaveTextDocumentParams) {
    let doc = session.state().attempt_docs.get(&params.text_document.uri).cloned();
    if let Some(doc) = doc {
        session.shared.with_attempt(&doc.attempt, |a| a.saved(&doc.rel));
    }
}
