//! One open document: its text in a [`FileIndex`] and the anchors of its tasks.
//!
//! In: the text the editor opened, the tasks of that file, then edits (byte ranges or whole
//! texts). Out: the text re-parsed incrementally (tree-sitter) and each task's byte span moved
//! with the text; a task whose site an edit touched becomes stale (reported back so the caller
//! can mark it in the store). No LSP types, no IO.

use super::text::{move_span, Edit, Span};
use crate::anchor::file::{find_node, FileIndex};
use crate::anchor::queries::QuerySet;
use crate::model::{AnchorState, Decision, Site, Task, TaskStage};

/// Where one task sits in the document now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    pub task_id: String,
    pub span: Span,
    /// The site was deleted or changed by an edit (or the document does not have it).
    pub stale: bool,
}

/// An open document.
#[derive(Debug)]
pub struct Document {
    /// Path relative to the repository root, `/` separated.
    pub rel: String,
    pub version: i32,
    pub index: FileIndex,
    pub anchors: Vec<Anchor>,
}

/// Whether the tree has the site's node at exactly the site's bytes.
fn site_present(index: &FileIndex, site: &Site, span: Span) -> bool {
    let moved = Site { start_byte: span.start, end_byte: span.end, ..site.clone() };
    span.end <= index.source().len() && find_node(index.tree(), &moved).is_some()
}

/// The largest document the server parses and anchors; a larger one is left alone (the editor
/// is told so). Python files this large are generated code; 1 MiB of pathological text still
/// parses in about a second.
pub const MAX_DOCUMENT_BYTES: usize = 1 << 20;

/// The most text one editor session may have open and indexed at once.
pub const MAX_SESSION_BYTES: usize = 32 << 20;

/// Why a document of `size` bytes is not indexed when the session already holds `open` bytes.
pub fn too_big(size: usize, open: usize) -> Option<String> {
    let mib = |b: usize| format!("{:.1} MiB", b as f64 / (1 << 20) as f64);
    if size > MAX_DOCUMENT_BYTES {
        Some(format!("{} is over the {} limit of a document", mib(size), mib(MAX_DOCUMENT_BYTES)))
    } else if open + size > MAX_SESSION_BYTES {
        Some(format!(
            "{} more would take this editor's open documents over {} (close some)",
            mib(size),
            mib(MAX_SESSION_BYTES)
        ))
    } else {
        None
    }
}

impl Document {
    /// Parse `text` and anchor `tasks` at their sites (stale when the text no longer has them).
    /// `site_text` gives a task's site text at its base commit, when known: the site is then
    /// found again when the text moved (the file differs from that commit).
    pub fn open(
        rel: &str,
        version: i32,
        text: String,
        tasks: &[Task],
        site_text: &dyn Fn(&Task) -> Option<String>,
        queries: &QuerySet,
    ) -> Result<Document, String> {
        let index = FileIndex::new(rel, text, queries).map_err(|e| e.to_string())?;
        let mut doc = Document { rel: rel.to_string(), version, index, anchors: Vec::new() };
        doc.add_tasks(tasks, site_text);
        Ok(doc)
    }

    /// Anchor tasks not anchored yet (new tasks after a generation run).
    pub fn add_tasks(&mut self, tasks: &[Task], site_text: &dyn Fn(&Task) -> Option<String>) {
        for t in tasks {
            if self.anchors.iter().any(|a| a.task_id == t.id)
                || t.decision == Decision::Rejected
                || matches!(t.stage, TaskStage::Invalid(_))
            {
                continue;
            }
            let at = Span { start: t.site.start_byte, end: t.site.end_byte };
            let found = match site_text(t) {
                Some(original) => relocate(&self.index, &t.site, &original),
                None => site_present(&self.index, &t.site, at).then_some(at),
            };
            let stale = t.anchor == AnchorState::Stale || found.is_none();
            self.anchors.push(Anchor { task_id: t.id.clone(), span: found.unwrap_or(at), stale });
        }
        self.anchors.sort_by_key(|a| (a.span.start, a.span.end));
    }

    pub fn text(&self) -> &str {
        self.index.source()
    }

    /// Apply one replacement and re-parse incrementally (anchors move with the text; the
    /// queries are not re-run per keystroke); returns the ids of tasks this edit made stale.
    pub fn apply(&mut self, start: usize, old_end: usize, new_text: &str) -> Result<Vec<String>, String> {
        self.index.apply_text_edit(start, old_end, new_text).map_err(|e| e.to_string())?;
        let edit = Edit { start, old_end, new_len: new_text.len() };
        let mut gone = Vec::new();
        for a in self.anchors.iter_mut().filter(|a| !a.stale) {
            match move_span(a.span, edit) {
                Some(span) => a.span = span,
                None => {
                    a.stale = true;
                    gone.push(a.task_id.clone());
                }
            }
        }
        Ok(gone)
    }

    /// Replace the whole text, as the smallest single edit (common prefix and suffix kept).
    pub fn replace_all(&mut self, new_text: &str) -> Result<Vec<String>, String> {
        let (start, old_end, new_mid) = minimal_edit(self.text(), new_text);
        let mid = new_text[start..start + new_mid].to_string();
        self.apply(start, old_end, &mid)
    }
}

/// The smallest replacement turning `old` into `new`: `(start, old_end, new_len)`, on
/// character boundaries.
pub fn minimal_edit(old: &str, new: &str) -> (usize, usize, usize) {
    let mut prefix = old.bytes().zip(new.bytes()).take_while(|(a, b)| a == b).count();
    while !old.is_char_boundary(prefix) || !new.is_char_boundary(prefix) {
        prefix -= 1;
    }
    let max_suffix = old.len().min(new.len()) - prefix;
    let mut suffix = old.bytes().rev().zip(new.bytes().rev()).take(max_suffix).take_while(|(a, b)| a == b).count();
    while !old.is_char_boundary(old.len() - suffix) || !new.is_char_boundary(new.len() - suffix) {
        suffix -= 1;
    }
    (prefix, old.len() - suffix, new.len() - suffix - prefix)
}

/// Where a site's text is in the current file: at its recorded bytes when the same node is
/// still there, else the occurrence of `site_text` nearest to them that is the same kind of
/// node; `None` when the text is gone.
pub fn relocate(index: &FileIndex, site: &Site, site_text: &str) -> Option<Span> {
    let at = Span { start: site.start_byte, end: site.end_byte };
    if index.source().get(at.start..at.end) == Some(site_text) && site_present(index, site, at) {
        return Some(at);
    }
    if site_text.is_empty() {
        return None;
    }
    index
        .source()
        .match_indices(site_text)
        .map(|(i, _)| Span { start: i, end: i + site_text.len() })
        .filter(|s| site_present(index, site, *s))
        .min_by_key(|s| s.start.abs_diff(site.start_byte))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_edit_keeps_prefix_and_suffix() {
        assert_eq!(minimal_edit("abcdef", "abXdef"), (2, 3, 1));
        assert_eq!(minimal_edit("abc", "abc"), (3, 3, 0));
        assert_eq!(minimal_edit("aaa", "aaaa"), (3, 3, 1));
        assert_eq!(minimal_edit("é", "è"), (0, 2, 2));
    }
}
