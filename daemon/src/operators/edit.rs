//! Text edits and the shared rewrite shapes (delete a statement, unwrap a body, permute
//! statements, drop a list item).
//!
//! In: a source string and tree nodes. Out: [`Edit`]s (byte range + replacement), or `None`
//! when the shape does not fit (e.g. a statement sharing its line). Pure.

use crate::anchor::syntax::node_text;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use tree_sitter::Node;

/// Replace `start..end` with `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

impl Edit {
    pub fn new(start: usize, end: usize, text: impl Into<String>) -> Edit {
        Edit { start, end, text: text.into() }
    }

    /// Replace the whole node.
    pub fn replace(node: Node, text: impl Into<String>) -> Edit {
        Edit::new(node.start_byte(), node.end_byte(), text)
    }
}

/// Apply edits that do not overlap; `None` when they overlap or leave the text.
pub fn apply_edits(source: &str, edits: &[Edit]) -> Option<String> {
    let mut sorted: Vec<&Edit> = edits.iter().collect();
    sorted.sort_by_key(|e| (e.start, e.end));
    let mut out = String::with_capacity(source.len());
    let mut at = 0;
    for e in sorted {
        if e.start < at || e.end < e.start {
            return None;
        }
        out.push_str(source.get(at..e.start)?);
        out.push_str(&e.text);
        at = e.end;
    }
    out.push_str(source.get(at..)?);
    Some(out)
}

/// Byte offset of the start of the line holding `byte`.
pub fn line_start(source: &str, byte: usize) -> usize {
    source.as_bytes()[..byte.min(source.len())].iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1)
}

/// Byte offset just past the newline ending the line holding `byte` (or the text's end).
pub fn line_end_with_newline(source: &str, byte: usize) -> usize {
    let byte = byte.min(source.len());
    source.as_bytes()[byte..].iter().position(|b| *b == b'\n').map_or(source.len(), |i| byte + i + 1)
}

/// True when only spaces and tabs come before the node on its line.
pub fn starts_its_line(node: Node, source: &str) -> bool {
    let start = node.start_byte();
    source.get(line_start(source, start)..start).is_some_and(|s| s.chars().all(|c| c == ' ' || c == '\t'))
}

/// True when only whitespace or a comment follows the node on its line.
pub fn ends_its_line(node: Node, source: &str) -> bool {
    let end = node.end_byte();
    let rest = source.get(end..line_end_with_newline(source, end)).unwrap_or("");
    let rest = rest.trim();
    rest.is_empty() || rest.starts_with('#')
}

/// Named children that are not comments.
pub fn code_children(node: Node) -> Vec<Node> {
    let mut cursor = node.walk();
    node.named_children(&mut cursor).filter(|c| c.kind() != "comment").collect()
}

/// True for a bare string statement (a docstring).
pub fn is_docstring(node: Node) -> bool {
    node.kind() == "expression_statement"
        && code_children(node).first().is_some_and(|c| c.kind() == "string")
        && node.named_child_count() == 1
}

/// Delete a statement that owns its lines. When it is the only statement of its block, it
/// becomes `pass` instead so the block stays valid.
pub fn delete_statement(node: Node, source: &str) -> Option<Vec<Edit>> {
    let parent = node.parent()?;
    let only = parent.kind() == "block" && code_children(parent).len() == 1;
    if only {
        return Some(vec![Edit::replace(node, "pass")]);
    }
    if !starts_its_line(node, source) || !ends_its_line(node, source) {
        return None;
    }
    let start = line_start(source, node.start_byte());
    let end = line_end_with_newline(source, node.end_byte());
    Some(vec![Edit::new(start, end, "")])
}

/// Replace a compound statement by its body, dedented to the statement's column.
pub fn unwrap_body(stmt: Node, body: Node, source: &str) -> Option<Vec<Edit>> {
    if body.start_position().row == stmt.start_position().row || !starts_its_line(stmt, source) {
        return None;
    }
    let (stmt_col, body_col) = (stmt.start_position().column, body.start_position().column);
    if body_col <= stmt_col {
        return None;
    }
    let delta = body_col - stmt_col;
    let body_text = source.get(line_start(source, body.start_byte())..body.end_byte())?;
    let dedented: Vec<&str> = body_text.split('\n').map(|line| strip_indent(line, delta)).collect();
    Some(vec![Edit::new(line_start(source, stmt.start_byte()), stmt.end_byte(), dedented.join("\n"))])
}

fn strip_indent(line: &str, width: usize) -> &str {
    let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
    if line.trim().is_empty() {
        ""
    } else {
        &line[indent.min(width)..]
    }
}

/// Permute the texts of statements that each own their lines and share a column. The order
/// always changes (an identity shuffle is rotated). `None` for fewer than two slots.
pub fn permute_slots(slots: &[Node], source: &str, rng: &mut ChaCha8Rng) -> Option<Vec<Edit>> {
    if slots.len() < 2 {
        return None;
    }
    let col = slots[0].start_position().column;
    let aligned = slots
        .iter()
        .all(|s| s.start_position().column == col && starts_its_line(*s, source) && ends_its_line(*s, source));
    if !aligned {
        return None;
    }
    let mut order: Vec<usize> = (0..slots.len()).collect();
    order.shuffle(rng);
    if order.iter().enumerate().all(|(i, o)| i == *o) {
        order.rotate_left(1);
    }
    let edits =
        slots.iter().zip(&order).map(|(slot, from)| Edit::replace(*slot, node_text(slots[*from], source))).collect();
    Some(edits)
}

/// Remove item `i` of a comma-separated list together with one neighbouring comma.
pub fn remove_list_item(items: &[Node], i: usize) -> Option<Edit> {
    let item = items.get(i)?;
    if let Some(next) = items.get(i + 1) {
        Some(Edit::new(item.start_byte(), next.start_byte(), ""))
    } else if i > 0 {
        let prev = items.get(i - 1)?;
        Some(Edit::new(prev.end_byte(), item.end_byte(), ""))
    } else {
        Some(Edit::replace(*item, ""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_apply_in_order_and_reject_overlap() {
        let s = "abcdef";
        assert_eq!(apply_edits(s, &[Edit::new(4, 5, "X"), Edit::new(0, 1, "")]).as_deref(), Some("bcdXf"));
        assert_eq!(apply_edits(s, &[Edit::new(0, 3, ""), Edit::new(2, 4, "")]), None);
        assert_eq!(apply_edits(s, &[Edit::new(0, 99, "")]), None);
    }

    #[test]
    fn line_bounds() {
        let s = "ab\ncd\nef";
        assert_eq!(line_start(s, 4), 3);
        assert_eq!(line_end_with_newline(s, 4), 6);
        assert_eq!(line_end_with_newline(s, 7), 8);
        assert_eq!(strip_indent("        x", 4), "    x");
        assert_eq!(strip_indent("  x", 4), "x");
    }
}
