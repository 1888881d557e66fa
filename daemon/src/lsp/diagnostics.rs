//! The diagnostics of one open document: one per anchored task.

use super::document::Document;
use super::state::FileTasks;
use super::text::position_of;
use super::{view, SOURCE};
use crate::model::{AnchorState, Decision, TaskStage};
use std::path::Path;
use tower_lsp_server::ls_types::*;

/// The LSP range of a byte span of `text`.
pub(super) fn range(text: &str, start: usize, end: usize) -> Range {
    let (s, e) = (position_of(text, start), position_of(text, end));
    Range { start: Position::new(s.line, s.col), end: Position::new(e.line, e.col) }
}

/// Where a test id (`path/to/test_x.py::Class::test`) lives, as a location in the repository.
fn test_location(root: &Path, test: &str) -> Option<Location> {
    let file = test.split("::").next()?;
    let uri = Uri::from_file_path(root.join(file))?;
    Some(Location { uri, range: Range::default() })
}

pub(super) fn of(doc: &Document, file: &FileTasks, root: Option<&Path>) -> Vec<Diagnostic> {
    let text = doc.text();
    let mut out = Vec::new();
    for a in &doc.anchors {
        let Some(task) = file.task(&a.task_id) else { continue };
        if task.decision == Decision::Rejected || matches!(task.stage, TaskStage::Invalid(_)) {
            continue;
        }
        let stale = a.stale || task.anchor == AnchorState::Stale;
        let tests: &[String] = file
            .verdicts
            .get(&task.id)
            .map(|v| v.fail_to_pass.as_slice())
            .filter(|f| !f.is_empty())
            .unwrap_or(&task.fail_to_pass);
        let related: Vec<DiagnosticRelatedInformation> = root
            .map(|root| {
                tests
                    .iter()
                    .filter_map(|t| {
                        test_location(root, t).map(|location| DiagnosticRelatedInformation {
                            location,
                            message: format!("fails with the bug: {t}"),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.push(Diagnostic {
            range: range(text, a.span.start, a.span.end),
            severity: Some(if view::is_strong(task) && !stale {
                DiagnosticSeverity::INFORMATION
            } else {
                DiagnosticSeverity::HINT
            }),
            code: Some(NumberOrString::String(view::code(task))),
            source: Some(SOURCE.into()),
            message: view::message(task, stale),
            related_information: if related.is_empty() { None } else { Some(related) },
            tags: if stale { Some(vec![DiagnosticTag::UNNECESSARY]) } else { None },
            data: Some(serde_json::Value::String(task.id.clone())),
            ..Default::default()
        });
    }
    out
}
