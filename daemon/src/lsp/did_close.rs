//! `textDocument/didClose`: forget the document and clear its diagnostics.

use super::Session;
use tower_lsp_server::ls_types::*;

pub(super) async fn handle(session: &Session, params: DidCloseTextDocumentParams) {
    let attempt_doc = {
        let mut st = session.state();
        st.docs.remove(&params.text_document.uri);
        st.attempt_docs.remove(&params.text_document.uri).is_some()
    };
    if !attempt_doc {
        // an attempt's test file keeps its failing-test diagnostics
        session.publish(&params.text_document.uri).await;
    }
}
