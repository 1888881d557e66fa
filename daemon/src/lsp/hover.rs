//! `textDocument/hover`: the task whose site is under the cursor.

use super::text::{offset_of, Pos};
use super::{invalid, view, Session};
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;

pub(super) async fn handle(session: &Session, params: HoverParams) -> Result<Option<Hover>> {
    let p = params.text_document_position_params;
    let st = session.state();
    let Some(doc) = st.docs.get(&p.text_document.uri) else { return Ok(None) };
    let at = offset_of(doc.text(), Pos { line: p.position.line, col: p.position.character }).ok_or_else(|| {
        invalid(format!("position {}:{} is outside the document", p.position.line, p.position.character))
    })?;
    let Some(root) = st.root.clone() else { return Ok(None) };
    let file = session.shared.file_tasks(&root, &doc.rel);
    let mut parts = Vec::new();
    let mut first = None;
    for a in doc.anchors.iter().filter(|a| a.span.start <= at && at <= a.span.end) {
        let Some(task) = file.task(&a.task_id) else { continue };
        parts.push(view::hover(task, file.verdicts.get(&task.id), a.stale, None));
        first.get_or_insert(super::diagnostics::range(doc.text(), a.span.start, a.span.end));
    }
    if parts.is_empty() {
        return Ok(None);
    }
    Ok(Some(Hover {
        contents: HoverContents::Markup(MarkupContent { kind: MarkupKind::Markdown, value: parts.join("\n\n") }),
        range: first,
    }))
}
