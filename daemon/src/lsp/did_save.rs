//! `textDocument/didSave`: recorded in a running attempt.

use super::Session;
use tower_lsp_server::ls_types::*;

pub(super) async fn handle(session: &Session, params: DidSaveTextDocumentParams) {
    let mut st = session.state();
    let rel = st.docs.get(&params.text_document.uri).map(|d| d.rel.clone());
    if let (Some(attempt), Some(rel)) = (st.attempt.as_mut(), rel) {
        attempt.saved(&rel);
    }
}
