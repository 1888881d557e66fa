//! `textDocument/codeAction`: accept, reject, start an attempt, show the patch — for each task
//! diagnostic in the request (or each task whose site overlaps the range); titles name the task
//! and its operator (`socratic: accept t-… (flip_comparison) into the curriculum`).

use super::protocol::{ACCEPT, REJECT, SHOW_PATCH, START_ATTEMPT};
use super::text::{offset_of, Pos};
use super::{view, Session, SOURCE};
use tower_lsp_server::jsonrpc::Result;
use tower_lsp_server::ls_types::*;

/// The actions offered for one task.
pub(super) fn actions_for(task_id: &str, label: &str, diagnostic: Option<&Diagnostic>) -> Vec<CodeActionOrCommand> {
    let items = [
        (ACCEPT, format!("socratic: accept {label} into the curriculum")),
        (REJECT, format!("socratic: reject {label}")),
        (START_ATTEMPT, format!("socratic: start an attempt at {label}")),
        (SHOW_PATCH, format!("socratic: show the bug patch of {label}")),
    ];
    items
        .into_iter()
        .map(|(command, title)| {
            CodeActionOrCommand::CodeAction(CodeAction {
                title: title.clone(),
                kind: Some(CodeActionKind::QUICKFIX),
                diagnostics: diagnostic.map(|d| vec![d.clone()]),
                command: Some(Command {
                    title,
                    command: command.into(),
                    // the protocol's TaskId argument, by id
                    arguments: Some(vec![serde_json::Value::String(task_id.into())]),
                }),
                ..Default::default()
            })
        })
        .collect()
}

pub(super) async fn handle(session: &Session, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
    let mut out = Vec::new();
    let mut seen = Vec::new();
    let file = {
        let st = session.state();
        match (st.root.as_ref(), st.docs.get(&params.text_document.uri)) {
            (Some(root), Some(doc)) => session.shared.file_tasks(root, &doc.rel),
            _ => Default::default(),
        }
    };
    for d in &params.context.diagnostics {
        if d.source.as_deref() != Some(SOURCE) {
            continue;
        }
        if let Some(serde_json::Value::String(id)) = &d.data {
            if !seen.contains(id) {
                seen.push(id.clone());
                let label = file.task(id).map(view::action_label).unwrap_or_else(|| super::view_label(d));
                out.extend(actions_for(id, &label, Some(d)));
            }
        }
    }
    if out.is_empty() {
        // no diagnostics passed along: offer the tasks under the range
        let st = session.state();
        if let Some(doc) = st.docs.get(&params.text_document.uri) {
            let r = params.range;
            let s = offset_of(doc.text(), Pos { line: r.start.line, col: r.start.character });
            let e = offset_of(doc.text(), Pos { line: r.end.line, col: r.end.character });
            if let (Some(s), Some(e)) = (s, e) {
                let file = st.root.as_ref().map(|root| session.shared.file_tasks(root, &doc.rel)).unwrap_or_default();
                for a in doc.anchors.iter().filter(|a| a.span.start <= e && s <= a.span.end) {
                    if let Some(task) = file.task(&a.task_id) {
                        out.extend(actions_for(&task.id, &view::action_label(task), None));
                    }
                }
            }
        }
    }
    Ok(if out.is_empty() { None } else { Some(out) })
}
