//! Making a unified diff of two texts.
//!
//! In: a file's text before and after. Out: the hunks (3 lines of context, hunks closer than
//! 6 unchanged lines merged) that turn one into the other, written as `similar` writes them
//! (`@@ -a,b +c,d @@` without a section, `,1` left out, `\ No newline at end of file` after a
//! last line without an end). Which lines match comes from `similar`; the ranges are counted
//! here from the lines themselves, because `similar` 2.7 can put a deletion that precedes a
//! repeated line at the wrong position of the new side, and then writes a hunk header whose
//! start or counts disagree with its lines (a patch git refuses).

use super::{Hunk, HunkLine, LineEnd, LineKind, Range};
use similar::{ChangeTag, TextDiff};

/// Unchanged lines kept around each change.
const CONTEXT: usize = 3;
const NO_NEWLINE: &str = "\\ No newline at end of file\n";

/// A unified diff of one file, `diff --git` header included, 3 lines of context, `a/` and `b/`
/// paths: what `git apply` accepts.
pub fn unified_diff(path: &str, before: &str, after: &str) -> String {
    format!("diff --git a/{path} b/{path}\n{}", text_diff(&format!("a/{path}"), &format!("b/{path}"), before, after))
}

/// `---` / `+++` lines named as given and the hunks that turn `before` into `after`; empty when
/// they are equal.
pub fn text_diff(old_name: &str, new_name: &str, before: &str, after: &str) -> String {
    let hunks = hunks(before, after);
    if hunks.is_empty() {
        return String::new();
    }
    let mut out = format!("--- {old_name}\n+++ {new_name}\n");
    for hunk in hunks {
        out.push_str(&hunk.to_string());
    }
    out
}

/// One line of the line-by-line comparison, with its 0-based positions on both sides.
struct Compared<'a> {
    kind: LineKind,
    raw: &'a str,
    old: usize,
    new: usize,
}

/// Every line of both texts in diff order, positions counted by walking them.
fn compare<'a>(before: &'a str, after: &'a str) -> Vec<Compared<'a>> {
    let diff = TextDiff::from_lines(before, after);
    let (mut old, mut new) = (0, 0);
    let mut out = Vec::new();
    for change in diff.iter_all_changes() {
        let kind = match change.tag() {
            ChangeTag::Equal => LineKind::Context,
            ChangeTag::Delete => LineKind::Removed,
            ChangeTag::Insert => LineKind::Added,
        };
        out.push(Compared { kind, raw: change.value(), old, new });
        old += usize::from(kind != LineKind::Added);
        new += usize::from(kind != LineKind::Removed);
    }
    out
}

fn hunks(before: &str, after: &str) -> Vec<Hunk> {
    let lines = compare(before, after);
    let changed: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].kind != LineKind::Context).collect();
    let mut out = Vec::new();
    let mut rest = changed.as_slice();
    while let Some(&first) = rest.first() {
        // Extend over every change whose gap to the previous one is at most 2 × context.
        let mut last = first;
        let mut taken = 1;
        while let Some(&next) = rest.get(taken).filter(|&&next| next - last - 1 <= 2 * CONTEXT) {
            last = next;
            taken += 1;
        }
        rest = &rest[taken..];
        let span = first.saturating_sub(CONTEXT)..(last + CONTEXT + 1).min(lines.len());
        out.push(hunk(&lines[span]));
    }
    out
}

fn hunk(lines: &[Compared<'_>]) -> Hunk {
    let range = |first: Option<usize>, len: usize| {
        let start = first.map_or(0, |f| f + usize::from(len > 0));
        Range { start: start as u32, len: len as u32, len_written: len != 1 }
    };
    let old_len = lines.iter().filter(|l| l.kind != LineKind::Added).count();
    let new_len = lines.iter().filter(|l| l.kind != LineKind::Removed).count();
    let first = lines.first();
    Hunk {
        old: range(first.map(|l| l.old), old_len),
        new: range(first.map(|l| l.new), new_len),
        section: String::new(),
        end: LineEnd::Lf,
        lines: lines.iter().map(hunk_line).collect(),
    }
}

/// A line of the text as a hunk line: a last line without an end gets the marker.
fn hunk_line(line: &Compared<'_>) -> HunkLine {
    let (text, end) = LineEnd::split(line.raw);
    let (end, no_newline) = match end {
        LineEnd::Missing => (LineEnd::Lf, Some(NO_NEWLINE.to_string())),
        end => (end, None),
    };
    HunkLine { kind: line.kind, text: text.to_string(), end, no_newline }
}
