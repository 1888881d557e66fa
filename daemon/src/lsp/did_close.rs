//! `textDocument/didClose`: forget the document and clear its diagnostics.

use super::Session;
use tower_lsp_server::ls_types::*;

pub(super) async fn handle(session: &Session, params: DidCloseTextDocumentParams) {
    session.state().docs.remove(&params.text_document.uri);
    session.publish(&params.text_document.uri).await;
}
