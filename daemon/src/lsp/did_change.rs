//! `textDocument/didChange`: apply each change to the document (incremental re-parse), move the
//! anchors with the text, mark tasks whose site was deleted stale, publish. A change that
//! takes the document over the size limit closes it for us (the editor is told why). A
//! document under an attempt's checkout only has its edits recorded in the attempt.

use super::text::{offset_of, Pos};
use super::Session;
use tower_lsp_server::ls_types::*;

/// Record the changes of a document under an attempt's checkout in the attempt; false when the
/// document is not one.
fn change_in_attempt(session: &Session, uri: &Uri, changes: &[TextDocumentContentChangeEvent]) -> bool {
    let mut st = session.state();
    let Some(doc) = st.attempt_docs.get_mut(uri) else { return false };
    let mut edits = Vec::new();
    for change in changes {
        let span = match change.range {
            Some(range) => match byte_span(&doc.text, range) {
                Some(span) => span,
                None => break,
            },
            None => (0, doc.text.len()),
        };
        let line = change.range.map_or(0, |r| r.start.line);
        edits.push((line, span.1 - span.0, change.text.clone()));
        doc.text.replace_range(span.0..span.1, &change.text);
    }
    let (attempt, rel) = (doc.attempt.clone(), doc.rel.clone());
    drop(st);
    session.shared.with_attempt(&attempt, |a| {
        for (line, removed, text) in edits {
            a.edited(&rel, line, removed, &text);
        }
    });
    true
}

pub(super) async fn handle(session: &Session, params: DidChangeTextDocumentParams) {
    let uri = params.text_document.uri;
    if change_in_attempt(session, &uri, &params.content_changes) {
        return;
    }
    let mut too_big = None;
    let stale = {
        let mut guard = session.state();
        let st = &mut *guard;
        let open: usize = st.docs.iter().filter(|(u, _)| **u != uri).map(|(_, d)| d.text().len()).sum();
        let Some(doc) = st.docs.get_mut(&uri) else { return };
        let mut stale = Vec::new();
        for change in params.content_changes {
            // The change's byte span, once: `None` for a full replacement, `Some(None)` for a
            // range outside the document.
            let span = change.range.map(|range| byte_span(doc.text(), range));
            let size = match span {
                Some(Some((s, e))) => doc.text().len() - (e - s) + change.text.len(),
                Some(None) => doc.text().len(),
                None => change.text.len(),
            };
            if let Some(why) = super::document::too_big(size, open) {
                too_big = Some(format!("socratic: {}: {why}; no tasks are shown in it", doc.rel));
                break;
            }
            let result = match (change.range, span) {
                (Some(_), Some(Some((s, e)))) => doc.apply(s, e, &change.text),
                (Some(range), _) => Err(format!("range {range:?} is outside the document")),
                (None, _) => super::cpu_heavy(|| doc.replace_all(&change.text)),
            };
            match result {
                Ok(gone) => stale.extend(gone),
                Err(e) => {
                    // out of sync with the editor: keep what we have; the next full sync repairs it
                    tracing::warn!("didChange {}: {e}", doc.rel);
                    break;
                }
            }
        }
        doc.version = params.text_document.version;
        if too_big.is_some() {
            st.docs.remove(&uri);
        }
        stale
    };
    if let Some(message) = too_big {
        session.warn(message).await;
    }
    session.mark_stale(stale);
    session.publish(&uri).await;
}

/// The byte offsets `range` covers in `text`, when both ends are inside it and in order.
fn byte_span(text: &str, range: Range) -> Option<(usize, usize)> {
    let start = offset_of(text, Pos { line: range.start.line, col: range.start.character })?;
    let end = offset_of(text, Pos { line: range.end.line, col: range.end.character })?;
    (start <= end).then_some((start, end))
}
