//! The diagnostics of one open document: one per anchored task the settings show.
//!
//! In: the document (its anchors), the file's tasks (with their verdicts and which ones a round
//! kept), the editor's [`DiagnosticSettings`] and a way to find a test's `def` line. Out: LSP
//! diagnostics. Which: by default the curriculum only (tasks a round kept and tasks the user
//! accepted; `scored` adds every scored task, `all` every task but rejected and invalid ones), at
//! most `perFunction` per enclosing function (accepted, then kept, then scored first; the rest
//! are in the task list). Where: the lines the bug patch changes (its old side), moved with the
//! anchor and kept inside the site; the whole site when the anchor is stale. Related
//! information: each failing test at the line of its `def`.

use super::document::{Anchor, Document};
use super::protocol::{DiagnosticSettings, DiagnosticShow};
use super::state::FileTasks;
use super::text::{offset_of, position_of, Pos};
use super::{view, SOURCE};
use crate::model::{AnchorState, Decision, Task, TaskStage};
use std::collections::HashMap;
use std::path::Path;
use tower_lsp_server::ls_types::*;

/// The LSP range of a byte span of `text`.
pub(super) fn range(text: &str, start: usize, end: usize) -> Range {
    let (s, e) = (position_of(text, start), position_of(text, end));
    Range { start: Position::new(s.line, s.col), end: Position::new(e.line, e.col) }
}

/// Where a test is: its file relative to the root and its `def` line (0-based), if known.
pub(super) type Locate<'a> = dyn Fn(&str) -> Option<(String, Option<u32>)> + 'a;

/// Where a test id lives, as a location in the repository: its `def` line when found.
fn test_location(root: &Path, test: &str, locate: &Locate) -> Option<Location> {
    let (file, line) = locate(test)?;
    let uri = Uri::from_file_path(root.join(file))?;
    let line = line.unwrap_or(0);
    Some(Location { uri, range: Range { start: Position::new(line, 0), end: Position::new(line, 0) } })
}

/// Whether the settings show `task` (`kept`: a round kept it).
pub fn shown(task: &Task, kept: bool, show: DiagnosticShow) -> bool {
    if task.decision == Decision::Rejected || matches!(task.stage, TaskStage::Invalid(_)) {
        return false;
    }
    let curriculum = kept || task.decision == Decision::Accepted;
    match show {
        DiagnosticShow::Curriculum => curriculum,
        DiagnosticShow::Scored => curriculum || task.stage == TaskStage::Scored,
        DiagnosticShow::All => true,
    }
}

/// Which first when a function has more tasks than it may show: accepted, kept, scored, valid.
fn rank(task: &Task, kept: bool) -> u8 {
    match (task.decision == Decision::Accepted, kept, &task.stage) {
        (true, _, _) => 0,
        (_, true, _) => 1,
        (_, _, TaskStage::Scored) => 2,
        (_, _, TaskStage::Valid) => 3,
        _ => 4,
    }
}

/// The byte span to underline for `task` anchored at `anchor`: the lines its bug patch changes
/// (moved with the anchor, from the first non-blank character, kept inside the site), else the
/// whole site.
pub fn site_span(text: &str, anchor: &Anchor, task: &Task) -> (usize, usize) {
    let whole = (anchor.span.start, anchor.span.end);
    if anchor.stale {
        return whole;
    }
    let Some((first, last)) = super::attempt::changed_old_lines(&task.bug_patch, &task.site.file) else {
        return whole;
    };
    let delta = position_of(text, anchor.span.start).line as i64 - task.site.start_line as i64;
    let (first, last) = (first as i64 + delta, last as i64 + delta);
    if first < 0 || last < first {
        return whole;
    }
    let (Some(line_start), Some(line_end)) = (
        offset_of(text, Pos { line: first as u32, col: 0 }),
        offset_of(text, Pos { line: last as u32, col: u32::MAX }),
    ) else {
        return whole;
    };
    let indent = text[line_start..].bytes().take_while(|b| *b == b' ' || *b == b'\t').count();
    let (s, e) = ((line_start + indent).max(whole.0), line_end.min(whole.1));
    if s < e {
        (s, e)
    } else {
        whole
    }
}

/// The anchors to show, in document order.
fn chosen<'a>(doc: &'a Document, file: &'a FileTasks, settings: DiagnosticSettings) -> Vec<(&'a Anchor, &'a Task)> {
    let mut picked: Vec<(&Anchor, &Task)> = doc
        .anchors
        .iter()
        .filter_map(|a| file.task(&a.task_id).map(|t| (a, t)))
        .filter(|(_, t)| shown(t, file.kept.contains(&t.id), settings.show))
        .collect();
    if settings.per_function > 0 {
        let mut by_function: HashMap<&str, Vec<(&Anchor, &Task)>> = HashMap::new();
        for (a, t) in picked {
            by_function.entry(t.enclosing.as_str()).or_default().push((a, t));
        }
        picked = by_function
            .into_values()
            .flat_map(|mut group| {
                group.sort_by_key(|(a, t)| (rank(t, file.kept.contains(&t.id)), a.span.start));
                group.truncate(settings.per_function);
                group
            })
            .collect();
        picked.sort_by_key(|(a, _)| (a.span.start, a.span.end));
    }
    picked
}

pub(super) fn of(
    doc: &Document,
    file: &FileTasks,
    root: Option<&Path>,
    settings: DiagnosticSettings,
    locate: &Locate,
) -> Vec<Diagnostic> {
    let text = doc.text();
    let mut out = Vec::new();
    for (a, task) in chosen(doc, file, settings) {
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
                        test_location(root, t, locate).map(|location| DiagnosticRelatedInformation {
                            location,
                            message: format!("fails with the bug: {t}"),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let (start, end) = site_span(text, a, task);
        out.push(Diagnostic {
            range: range(text, start, end),
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

#[cfg(test)]
mod tests {
    use super::super::text::Span;
    use super::*;
    use crate::model::test_support::task;

    fn anchor(id: &str, start: usize, end: usize) -> Anchor {
        Anchor { task_id: id.into(), span: Span { start, end }, stale: false }
    }

    #[test]
    fn the_curriculum_shows_by_default_and_the_rest_on_request() {
        let mut t = task("t-1", "flip_comparison", TaskStage::Scored);
        assert!(!shown(&t, false, DiagnosticShow::Curriculum));
        assert!(shown(&t, true, DiagnosticShow::Curriculum), "kept by a round");
        assert!(shown(&t, false, DiagnosticShow::Scored));
        t.decision = Decision::Accepted;
        assert!(shown(&t, false, DiagnosticShow::Curriculum), "accepted");
        t.decision = Decision::Rejected;
        assert!(!shown(&t, true, DiagnosticShow::All), "rejected never");
        let candidate = task("t-2", "flip_comparison", TaskStage::Candidate);
        assert!(!shown(&candidate, false, DiagnosticShow::Scored));
        assert!(shown(&candidate, false, DiagnosticShow::All));
    }

    #[test]
    fn the_range_is_the_changed_lines_moved_with_the_anchor_inside_the_site() {
        // the site: a function at lines 1-4 (0-based) of the commit; the bug changes line 3
        let text = "import os\n\n\ndef f(x):\n    a = 1\n    if x < 3:\n        return a\n    return 0\n";
        let mut t = task("t-1", "flip_comparison", TaskStage::Valid);
        t.site.file = "m.py".into();
        t.site.start_line = 1;
        t.bug_patch = "--- a/m.py\n+++ b/m.py\n@@ -4,1 +4,1 @@\n-    if x < 3:\n+    if x <= 3:\n".into();
        // the document has two more lines before the function than the commit had
        let start = text.find("def f").unwrap();
        let a = anchor("t-1", start, text.len() - 1);
        let (s, e) = site_span(text, &a, &t);
        assert_eq!(&text[s..e], "if x < 3:");
        let stale = Anchor { stale: true, ..a.clone() };
        assert_eq!(site_span(text, &stale, &t), (start, text.len() - 1));
        t.bug_patch = "not a patch".into();
        assert_eq!(site_span(text, &a, &t), (start, text.len() - 1));
    }

    #[test]
    fn at_most_n_per_function_the_curriculum_first() {
        let text = "x = 1\n".repeat(10);
        let mut tasks = Vec::new();
        let mut anchors = Vec::new();
        for i in 0..4 {
            let mut t = task(&format!("t-{i}"), "flip_comparison", TaskStage::Scored);
            t.enclosing = "f".into();
            t.bug_patch = String::new();
            tasks.push(t);
            anchors.push(anchor(&format!("t-{i}"), i * 6, i * 6 + 5));
        }
        tasks[3].decision = Decision::Accepted;
        let mut other = task("t-9", "flip_comparison", TaskStage::Scored);
        other.enclosing = "g".into();
        tasks.push(other);
        anchors.push(anchor("t-9", 50, 55));
        let queries = crate::anchor::queries::QuerySet::embedded();
        let mut doc = Document::open("m.py", 1, text, &[], &|_| None, &queries).expect("doc");
        doc.anchors = anchors;
        let file = FileTasks { tasks, verdicts: HashMap::new(), kept: ["t-2".to_string()].into() };
        let ids = |settings| -> Vec<String> {
            chosen(&doc, &file, settings).into_iter().map(|(_, t)| t.id.clone()).collect()
        };
        let two = DiagnosticSettings { show: DiagnosticShow::Scored, per_function: 2 };
        assert_eq!(ids(two), ["t-2", "t-3", "t-9"], "accepted and kept first, in document order");
        assert_eq!(ids(DiagnosticSettings { per_function: 0, ..two }).len(), 5);
        assert_eq!(ids(DiagnosticSettings::default()), ["t-2", "t-3"]);
        let none = |_: &str| None;
        let diags = of(&doc, &file, Some(Path::new("/r")), DiagnosticSettings::default(), &none);
        assert_eq!(diags.len(), 2);
    }
}
