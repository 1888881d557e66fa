//! Pure helpers over a parsed Python tree.
//!
//! In: a tree-sitter tree or node and the source text. Out: dotted scopes (`Class.method`,
//! `func`, `<module>`), function/class definitions, syntax-error ranges, byte <-> point maps.

use serde::Serialize;
use tree_sitter::{Node, Point, Tree};

/// The scope name of code outside any function or class.
pub const MODULE_SCOPE: &str = "<module>";

/// A function or class, by its dotted name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Definition {
    /// Dotted name including enclosing classes and functions, e.g. `Ledger.balance`.
    pub name: String,
    /// `function` or `class`.
    pub kind: &'static str,
    pub start_byte: usize,
    pub end_byte: usize,
    /// 0-based lines.
    pub start_line: usize,
    pub end_line: usize,
    /// Index of the enclosing definition in the same list.
    #[serde(skip)]
    pub parent: Option<usize>,
}

/// A region tree-sitter could not parse (`ERROR`) or had to invent (`MISSING`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyntaxErrorRange {
    /// `error` or `missing`.
    pub kind: &'static str,
    pub start_byte: usize,
    pub end_byte: usize,
    /// 0-based line and column.
    pub start_line: usize,
    pub start_col: usize,
    pub end_line: usize,
    pub end_col: usize,
}

/// The text of a node; empty when the range is not valid UTF-8 boundaries (never panics).
pub fn node_text<'s>(node: Node, source: &'s str) -> &'s str {
    source.get(node.start_byte()..node.end_byte()).unwrap_or("")
}

/// The name of a function or class definition node, if it is one.
pub fn definition_name<'s>(node: Node, source: &'s str) -> Option<&'s str> {
    match node.kind() {
        "function_definition" | "class_definition" => node.child_by_field_name("name").map(|n| node_text(n, source)),
        _ => None,
    }
}

/// Dotted names of the functions and classes strictly enclosing `node`, or `<module>`.
pub fn scope_of(node: Node, source: &str) -> String {
    let mut names = Vec::new();
    let mut current = node.parent();
    while let Some(n) = current {
        if let Some(name) = definition_name(n, source) {
            names.push(name);
        }
        current = n.parent();
    }
    if names.is_empty() {
        return MODULE_SCOPE.to_string();
    }
    names.reverse();
    names.join(".")
}

/// Join a scope and a name (`<module>` + `f` = `f`).
pub fn join_scope(scope: &str, name: &str) -> String {
    if scope == MODULE_SCOPE || scope.is_empty() {
        name.to_string()
    } else {
        format!("{scope}.{name}")
    }
}

/// Every function and class in the tree, in source order, with dotted names.
pub fn definitions(tree: &Tree, source: &str) -> Vec<Definition> {
    let mut out: Vec<Definition> = Vec::new();
    let mut stack: Vec<(Node, Option<usize>)> = vec![(tree.root_node(), None)];
    while let Some((node, parent)) = stack.pop() {
        let mut child_parent = parent;
        if let Some(name) = definition_name(node, source) {
            let dotted = match parent.and_then(|p| out.get(p)) {
                Some(p) => format!("{}.{name}", p.name),
                None => name.to_string(),
            };
            out.push(Definition {
                name: dotted,
                kind: if node.kind() == "class_definition" { "class" } else { "function" },
                start_byte: node.start_byte(),
                end_byte: node.end_byte(),
                start_line: node.start_position().row,
                end_line: node.end_position().row,
                parent,
            });
            child_parent = Some(out.len() - 1);
        }
        let mut cursor = node.walk();
        let children: Vec<Node> = node.named_children(&mut cursor).collect();
        for child in children.into_iter().rev() {
            stack.push((child, child_parent));
        }
    }
    out
}

/// The same answer as [`scope_of`], from a file's [`definitions`] instead of parent walks
/// (which cost a descent from the root each): the innermost definition strictly enclosing the
/// byte range `start..end`. A definition with exactly that range is the node itself or a
/// node wrapping it (a block holding only that definition), so it is never the scope.
pub fn scope_in(defs: &[Definition], start: usize, end: usize) -> String {
    let mut at = defs.partition_point(|d| d.start_byte <= start).checked_sub(1);
    while let Some(i) = at {
        let Some(d) = defs.get(i) else { break };
        let is_self = d.start_byte == start && d.end_byte == end;
        if !is_self && d.start_byte <= start && end <= d.end_byte {
            return d.name.clone();
        }
        at = d.parent;
    }
    MODULE_SCOPE.to_string()
}

/// `ERROR` and `MISSING` regions, outermost only; empty for a clean tree.
pub fn syntax_errors(tree: &Tree) -> Vec<SyntaxErrorRange> {
    let root = tree.root_node();
    let mut out = Vec::new();
    if !root.has_error() {
        return out;
    }
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        if node.is_error() || node.is_missing() {
            out.push(error_range(node));
            continue;
        }
        if !node.has_error() {
            continue;
        }
        let mut cursor = node.walk();
        let children: Vec<Node> = node.children(&mut cursor).collect();
        stack.extend(children.into_iter().rev());
    }
    out.sort_by_key(|e| (e.start_byte, e.end_byte));
    out
}

fn error_range(node: Node) -> SyntaxErrorRange {
    SyntaxErrorRange {
        kind: if node.is_missing() { "missing" } else { "error" },
        start_byte: node.start_byte(),
        end_byte: node.end_byte(),
        start_line: node.start_position().row,
        start_col: node.start_position().column,
        end_line: node.end_position().row,
        end_col: node.end_position().column,
    }
}

/// The tree-sitter point (0-based row, byte column) of a byte offset; offsets past the end
/// clamp to the end.
pub fn point_at(source: &str, byte: usize) -> Point {
    let bytes = source.as_bytes();
    let byte = byte.min(bytes.len());
    let before = &bytes[..byte];
    let row = before.iter().filter(|b| **b == b'\n').count();
    let line_start = before.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    Point { row, column: byte - line_start }
}

/// Number of lines (a final line without a newline counts).
pub fn line_count(source: &str) -> usize {
    let newlines = source.bytes().filter(|b| *b == b'\n').count();
    if source.is_empty() || source.ends_with('\n') {
        newlines
    } else {
        newlines + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(src: &str) -> Tree {
        let mut p = tree_sitter::Parser::new();
        p.set_language(&super::super::queries::python()).expect("language");
        p.parse(src, None).expect("tree")
    }

    #[test]
    fn dotted_definitions_and_scopes() {
        let src = "class A:\n    def m(self):\n        def inner():\n            return 1\n        return inner\n\ndef f():\n    pass\n";
        let tree = parse(src);
        let names: Vec<String> = definitions(&tree, src).into_iter().map(|d| d.name).collect();
        assert_eq!(names, ["A", "A.m", "A.m.inner", "f"]);
        let ret = tree
            .root_node()
            .descendant_for_byte_range(src.find("1").unwrap_or(0), src.find("1").unwrap_or(0) + 1)
            .expect("node");
        assert_eq!(scope_of(ret, src), "A.m.inner");
        assert_eq!(scope_of(tree.root_node(), src), MODULE_SCOPE);
        let defs = definitions(&tree, src);
        let mut stack = vec![tree.root_node()];
        while let Some(n) = stack.pop() {
            assert_eq!(scope_in(&defs, n.start_byte(), n.end_byte()), scope_of(n, src), "{}", n.kind());
            let mut c = n.walk();
            stack.extend(n.children(&mut c));
        }
    }

    #[test]
    fn scope_lookup_agrees_with_parent_walk_on_every_node() {
        let src = include_str!("../../tests/fixtures/tallyho/ledger.py");
        let tree = parse(src);
        let defs = definitions(&tree, src);
        let mut stack = vec![tree.root_node()];
        while let Some(n) = stack.pop() {
            assert_eq!(
                scope_in(&defs, n.start_byte(), n.end_byte()),
                scope_of(n, src),
                "{} at {:?}",
                n.kind(),
                n.start_position()
            );
            let mut c = n.walk();
            stack.extend(n.children(&mut c));
        }
    }

    #[test]
    fn syntax_errors_are_ranges() {
        let src = "def f(:\n    return 1\n\nx = 2\n";
        let errs = syntax_errors(&parse(src));
        assert!(!errs.is_empty());
        assert_eq!(errs[0].start_line, 0);
        assert!(syntax_errors(&parse("x = 1\n")).is_empty());
    }

    #[test]
    fn points_and_lines() {
        let src = "ab\ncd\n";
        assert_eq!(point_at(src, 4), Point { row: 1, column: 1 });
        assert_eq!(point_at(src, 99), Point { row: 2, column: 0 });
        assert_eq!(line_count(src), 2);
        assert_eq!(line_count("a"), 1);
        assert_eq!(line_count(""), 0);
    }
}
