//! One indexed Python file, kept open for incremental edits.
//!
//! In: a relative path, the source text and a [`QuerySet`]; later, edits as
//! `(start_byte, old_end_byte, new_text)`. Out: the tree, every query [`Site`] with its
//! enclosing scope, the function/class definitions and the syntax-error ranges. An edit
//! updates the old tree (`Tree::edit`), re-parses with it, and re-runs the queries on this file
//! only. Pure: no file system access.

use super::queries::QuerySet;
use super::syntax::{self, Definition, SyntaxErrorRange};
use super::AnchorError;
use crate::model::Site;
use std::time::{Duration, Instant};
use streaming_iterator::StreamingIterator;
use tree_sitter::{InputEdit, Node, Parser, Query, QueryCursor, Tree};

/// How long the last edit took, by phase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EditTiming {
    /// `Tree::edit` plus the incremental parse.
    pub parse: Duration,
    /// Re-running the queries, scopes, definitions and error scan.
    pub reindex: Duration,
}

/// A parsed file with its sites.
#[derive(Debug)]
pub struct FileIndex {
    /// Path relative to the repository root, `/` separated.
    pub path: String,
    source: String,
    tree: Tree,
    pub sites: Vec<Site>,
    pub definitions: Vec<Definition>,
    pub syntax_errors: Vec<SyntaxErrorRange>,
    pub last_edit: EditTiming,
}

/// A parser for Python.
pub fn python_parser() -> Result<Parser, AnchorError> {
    let mut parser = Parser::new();
    parser.set_language(&super::queries::python()).map_err(|e| AnchorError::Language(e.to_string()))?;
    Ok(parser)
}

/// Parse Python source from scratch.
pub fn parse_python(source: &str) -> Result<Tree, AnchorError> {
    python_parser()?.parse(source, None).ok_or_else(|| AnchorError::Language("the parser returned no tree".into()))
}

impl FileIndex {
    /// Parse and index one file.
    pub fn new(path: &str, source: String, queries: &QuerySet) -> Result<FileIndex, AnchorError> {
        let tree = parse_python(&source)?;
        let mut index = FileIndex {
            path: path.to_string(),
            source,
            tree,
            sites: Vec::new(),
            definitions: Vec::new(),
            syntax_errors: Vec::new(),
            last_edit: EditTiming::default(),
        };
        index.reindex(queries);
        Ok(index)
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn tree(&self) -> &Tree {
        &self.tree
    }

    pub fn lines(&self) -> usize {
        syntax::line_count(&self.source)
    }

    /// Replace `start_byte..old_end_byte` by `new_text`, re-parse incrementally and re-run the
    /// queries. A range outside the text or off a character boundary is an error and changes
    /// nothing.
    pub fn apply_edit(
        &mut self,
        start_byte: usize,
        old_end_byte: usize,
        new_text: &str,
        queries: &QuerySet,
    ) -> Result<(), AnchorError> {
        let started = Instant::now();
        self.edit_tree(start_byte, old_end_byte, new_text)?;
        let parsed = Instant::now();
        self.reindex(queries);
        self.last_edit = EditTiming { parse: parsed - started, reindex: parsed.elapsed() };
        Ok(())
    }

    /// Replace `start_byte..old_end_byte` by `new_text` and re-parse incrementally, without
    /// re-running the queries: `sites`, `definitions` and `syntax_errors` keep their values from
    /// the last full index until `refresh` is called. For callers that track their own anchors
    /// per keystroke (the language server).
    pub fn apply_text_edit(
        &mut self,
        start_byte: usize,
        old_end_byte: usize,
        new_text: &str,
    ) -> Result<(), AnchorError> {
        let started = Instant::now();
        self.edit_tree(start_byte, old_end_byte, new_text)?;
        self.last_edit = EditTiming { parse: started.elapsed(), reindex: Duration::ZERO };
        Ok(())
    }

    /// Re-run the queries, scopes and error scan on the current text.
    pub fn refresh(&mut self, queries: &QuerySet) {
        self.reindex(queries);
    }

    fn edit_tree(&mut self, start: usize, old_end: usize, new_text: &str) -> Result<(), AnchorError> {
        let valid = start <= old_end
            && old_end <= self.source.len()
            && self.source.is_char_boundary(start)
            && self.source.is_char_boundary(old_end);
        if !valid {
            return Err(AnchorError::Edit(format!(
                "{}: edit range {start}..{old_end} is not a character range of the {}-byte text",
                self.path,
                self.source.len()
            )));
        }
        let mut new_source = String::with_capacity(self.source.len() + new_text.len());
        new_source.push_str(&self.source[..start]);
        new_source.push_str(new_text);
        new_source.push_str(&self.source[old_end..]);
        let new_end = start + new_text.len();
        let edit = InputEdit {
            start_byte: start,
            old_end_byte: old_end,
            new_end_byte: new_end,
            start_position: syntax::point_at(&self.source, start),
            old_end_position: syntax::point_at(&self.source, old_end),
            new_end_position: syntax::point_at(&new_source, new_end),
        };
        self.tree.edit(&edit);
        let tree = python_parser()?
            .parse(&new_source, Some(&self.tree))
            .ok_or_else(|| AnchorError::Language("the parser returned no tree".into()))?;
        self.tree = tree;
        self.source = new_source;
        Ok(())
    }

    fn reindex(&mut self, queries: &QuerySet) {
        self.definitions = syntax::definitions(&self.tree, &self.source);
        self.sites = collect_sites(&self.tree, &self.source, &self.path, queries, &self.definitions);
        self.syntax_errors = syntax::syntax_errors(&self.tree);
    }

    /// The node a site points at, if the tree still has it.
    pub fn node_for<'t>(&'t self, site: &Site) -> Option<Node<'t>> {
        find_node(&self.tree, site)
    }
}

/// The node of kind `site.node_kind` spanning exactly the site's bytes.
pub fn find_node<'t>(tree: &'t Tree, site: &Site) -> Option<Node<'t>> {
    let mut node = tree.root_node().descendant_for_byte_range(site.start_byte, site.end_byte)?;
    loop {
        if node.start_byte() != site.start_byte || node.end_byte() != site.end_byte {
            return None;
        }
        if node.kind() == site.node_kind {
            return Some(node);
        }
        node = node.parent()?;
    }
}

/// Run every query over the tree; a capture whose name starts with `_` is a helper and makes
/// no site. Sites are sorted by position then query, without duplicates. `defs` are the
/// file's [`syntax::definitions`], used for scopes.
pub fn collect_sites(tree: &Tree, source: &str, path: &str, queries: &QuerySet, defs: &[Definition]) -> Vec<Site> {
    let mut sites = Vec::new();
    match &queries.combined {
        Some(combined) => {
            let owner = |pattern: usize| {
                combined.owner.get(pattern).and_then(|i| queries.queries.get(*i)).map(|q| q.name.as_str())
            };
            run_query(&combined.query, tree, source, &mut |pattern, node, capture| {
                if let Some(name) = owner(pattern) {
                    sites.push(site_for(node, path, name, capture, defs));
                }
            });
        }
        None => {
            for named in &queries.queries {
                run_query(&named.query, tree, source, &mut |_, node, capture| {
                    sites.push(site_for(node, path, &named.name, capture, defs))
                });
            }
        }
    }
    sites.sort_by(|a, b| {
        (a.start_byte, a.end_byte, &a.query, &a.capture).cmp(&(b.start_byte, b.end_byte, &b.query, &b.capture))
    });
    sites.dedup();
    sites
}

/// Call `found(pattern, node, capture name)` for every capture not named `_...`. In a file with
/// syntax errors, only the top-level statements without one are searched: sites inside broken
/// code are of no use, and matching inside large error regions is quadratic (40 KB of `(`
/// took seconds).
fn run_query(query: &Query, tree: &Tree, source: &str, found: &mut dyn FnMut(usize, Node, &str)) {
    let root = tree.root_node();
    if !root.has_error() {
        return run_query_in(query, root, source, found);
    }
    let mut walk = root.walk();
    for statement in root.children(&mut walk).filter(|n| !n.has_error()) {
        run_query_in(query, statement, source, found);
    }
}

fn run_query_in(query: &Query, node: Node, source: &str, found: &mut dyn FnMut(usize, Node, &str)) {
    let names = query.capture_names();
    let mut cursor = QueryCursor::new();
    let mut matches = cursor.matches(query, node, source.as_bytes());
    while let Some(m) = matches.next() {
        for capture in m.captures {
            let capture_name = names.get(capture.index as usize).copied().unwrap_or("");
            if !capture_name.starts_with('_') {
                found(m.pattern_index, capture.node, capture_name);
            }
        }
    }
}

fn site_for(node: Node, path: &str, query: &str, capture: &str, defs: &[Definition]) -> Site {
    let (start, end) = (node.start_position(), node.end_position());
    Site {
        file: path.to_string(),
        start_byte: node.start_byte(),
        end_byte: node.end_byte(),
        start_line: start.row,
        start_col: start.column,
        end_line: end.row,
        end_col: end.column,
        node_kind: node.kind().to_string(),
        scope: syntax::scope_in(defs, node.start_byte(), node.end_byte()),
        query: query.to_string(),
        capture: capture.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "class Ledger:\n    def balance(self, xs):\n        total = 0\n        for x in xs:\n            total += x\n        return total\n";

    #[test]
    fn sites_carry_scope_and_query() {
        let queries = QuerySet::embedded();
        let f = FileIndex::new("ledger.py", SRC.to_string(), &queries).expect("index");
        let loops: Vec<&Site> = f.sites.iter().filter(|s| s.query == "remove_loop").collect();
        assert_eq!(loops.len(), 1);
        assert_eq!(loops[0].scope, "Ledger.balance");
        assert_eq!(loops[0].start_line, 3);
        assert!(f.node_for(loops[0]).is_some());
        assert_eq!(f.definitions.len(), 2);
    }

    #[test]
    fn incremental_edit_matches_full_reindex() {
        let queries = QuerySet::embedded();
        let mut f = FileIndex::new("ledger.py", SRC.to_string(), &queries).expect("index");
        let at = SRC.find("return total").unwrap_or(0);
        f.apply_edit(at, at, "if total is None:\n            return 0\n        ", &queries).expect("edit");
        let fresh = FileIndex::new("ledger.py", f.source().to_string(), &queries).expect("index");
        assert_eq!(f.sites, fresh.sites);
        assert!(f.syntax_errors.is_empty());
        assert!(f.sites.iter().any(|s| s.query == "remove_none_guard"), "guard site after edit");
    }

    #[test]
    fn combined_query_finds_what_separate_queries_find() {
        let src = include_str!("../../tests/fixtures/tallyho/ledger.py");
        let mut queries = QuerySet::embedded();
        let tree = parse_python(src).expect("tree");
        let defs = syntax::definitions(&tree, src);
        let combined = collect_sites(&tree, src, "l.py", &queries, &defs);
        queries.combined = None;
        let separate = collect_sites(&tree, src, "l.py", &queries, &defs);
        assert!(combined.len() > 100);
        assert_eq!(combined, separate);
    }

    #[test]
    fn bad_edit_range_is_an_error() {
        let queries = QuerySet::embedded();
        let mut f = FileIndex::new("x.py", "x = 'é'\n".to_string(), &queries).expect("index");
        assert!(f.apply_edit(6, 5, "", &queries).is_err());
        assert!(f.apply_edit(6, 7, "", &queries).is_err(), "inside a character");
        assert!(f.apply_edit(0, 999, "", &queries).is_err());
        assert_eq!(f.source(), "x = 'é'\n");
    }
}
