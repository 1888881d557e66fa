//! The mutation-operator catalogue: each operator is one anchor query
//! (`queries/python/<name>.scm`, whose `@site` capture marks the node to rewrite) and one
//! rewrite function.
//!
//! In: a file's source and tree, a [`Site`] the operator's query matched, and a seed. Out: the
//! mutated source, checked to differ from the input and to re-parse without `ERROR` or
//! `MISSING` nodes, or a [`MutateError`] saying why this site does not fit. Two kinds of
//! rewrite are refused as equivalent on sight: one inside a type annotation (annotations do not
//! run: with `from __future__ import annotations` they are never evaluated, and a broken one
//! fails at import, which is no repair task either), and one whose syntax tree equals the
//! original's but for whitespace and comments (a shuffle that moved only blank lines). Rewrites are pure;
//! the only randomness (which operand, which order) comes from a ChaCha RNG seeded by the caller.

pub mod edit;
pub(crate) mod mutmut;
mod procedural;
mod repair;
pub use repair::EXCEPTION_TYPES;

use crate::anchor::find_node;
use crate::model::Site;
use edit::Edit;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tree_sitter::{Node, Tree};

/// A rewrite: the site's node and the whole source in, edits out (`None`: does not fit).
pub type RewriteFn = fn(Node, &str, &mut ChaCha8Rng) -> Option<Vec<Edit>>;

/// The capture that marks an operator's site in its query.
pub const SITE_CAPTURE: &str = "site";

/// Where an operator comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Family {
    /// SWE-smith's procedural modifiers.
    Procedural,
    /// mutmut's mutation operators.
    Mutmut,
    /// Inverses of common repairs.
    RepairInverse,
}

/// One mutation operator.
#[derive(Debug, Clone, Copy)]
pub struct Operator {
    /// Also the query file name.
    pub name: &'static str,
    pub family: Family,
    pub summary: &'static str,
    pub rewrite: RewriteFn,
}

/// Why an operator produced nothing at a site.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MutateError {
    #[error("the site's node is not in the tree")]
    NodeNotFound,
    #[error("the rewrite does not fit this site")]
    NotApplicable,
    #[error("the rewrite left the code unchanged")]
    Unchanged,
    #[error("the rewritten code does not parse")]
    BrokenSyntax,
    #[error("the site is inside a type annotation")]
    InAnnotation,
    #[error("the rewrite changes only whitespace or comments")]
    Equivalent,
}

impl MutateError {
    /// Short kebab-case key for reports.
    pub fn key(&self) -> &'static str {
        match self {
            MutateError::NodeNotFound => "node-not-found",
            MutateError::NotApplicable => "not-applicable",
            MutateError::Unchanged => "unchanged",
            MutateError::BrokenSyntax => "broken-syntax",
            MutateError::InAnnotation => "inside-annotation",
            MutateError::Equivalent => "equivalent-rewrite",
        }
    }
}

const fn op(name: &'static str, family: Family, summary: &'static str, rewrite: RewriteFn) -> Operator {
    Operator { name, family, summary, rewrite }
}

/// Every operator, in a fixed order.
pub const CATALOGUE: &[Operator] = &[
    op("invert_if_else", Family::Procedural, "swap the bodies of an if/else", procedural::invert_if_else),
    op("shuffle_statements", Family::Procedural, "shuffle the statements of a block", procedural::shuffle_statements),
    op("remove_assignment", Family::Procedural, "remove an assignment", procedural::remove_statement),
    op("remove_conditional", Family::Procedural, "remove an if without else", procedural::remove_statement),
    op("remove_loop", Family::Procedural, "remove a for/while loop", procedural::remove_statement),
    op("remove_wrapper", Family::Procedural, "remove a try/with wrapper, keep its body", procedural::remove_wrapper),
    op("break_chain", Family::Procedural, "drop one operand of an operator chain", procedural::break_chain),
    op("change_constant", Family::Procedural, "change an integer constant by one", procedural::change_constant),
    op("change_operator", Family::Procedural, "change an operator within its family", procedural::change_operator),
    op("swap_operands", Family::Procedural, "swap the operands of an operator", procedural::swap_operands),
    op("remove_base_class", Family::Procedural, "remove a base class", procedural::remove_base_class),
    op("remove_method", Family::Procedural, "remove a method", procedural::remove_statement),
    op("shuffle_methods", Family::Procedural, "shuffle the methods of a class", procedural::shuffle_methods),
    op("flip_comparison", Family::Mutmut, "negate a comparison operator", mutmut::flip_comparison),
    op("swap_boolean_operator", Family::Mutmut, "and <-> or", mutmut::swap_boolean_operator),
    op("flip_boolean_literal", Family::Mutmut, "True <-> False", mutmut::flip_boolean_literal),
    op("remove_not", Family::Mutmut, "drop a not", mutmut::remove_not),
    op("augmented_to_assignment", Family::Mutmut, "x += y -> x = y", mutmut::augmented_to_assignment),
    op("off_by_one", Family::Mutmut, "off-by-one in a range() or slice bound", mutmut::off_by_one),
    op("drop_call_argument", Family::Mutmut, "drop a call argument or set it to None", mutmut::drop_call_argument),
    op("swap_string_method", Family::Mutmut, "lower <-> upper, lstrip <-> rstrip, ...", mutmut::swap_string_method),
    op("swap_break_continue", Family::Mutmut, "break <-> continue", mutmut::swap_break_continue),
    op("return_none", Family::Mutmut, "return x -> return None", mutmut::return_none),
    op(
        "remove_none_guard",
        Family::RepairInverse,
        "remove an `if x is None: return/raise` guard",
        repair::remove_none_guard,
    ),
    op(
        "swallow_exception",
        Family::RepairInverse,
        "replace an except handler's body with pass",
        repair::swallow_exception,
    ),
    op("wrong_exception_type", Family::RepairInverse, "catch a different exception type", repair::wrong_exception_type),
    op(
        "return_wrong_value",
        Family::RepairInverse,
        "return another local or a flipped literal",
        repair::return_wrong_value,
    ),
];

/// The operator with this name.
pub fn operator(name: &str) -> Option<&'static Operator> {
    CATALOGUE.iter().find(|o| o.name == name)
}

/// Apply `operator` at `site` of `source` (parsed as `tree`): the mutated source.
pub fn mutate(operator: &Operator, source: &str, tree: &Tree, site: &Site, seed: u64) -> Result<String, MutateError> {
    let node = find_node(tree, site).ok_or(MutateError::NodeNotFound)?;
    if in_annotation(node) {
        return Err(MutateError::InAnnotation);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let edits = (operator.rewrite)(node, source, &mut rng).ok_or(MutateError::NotApplicable)?;
    let mutated = edit::apply_edits(source, &edits).ok_or(MutateError::NotApplicable)?;
    let new_tree = checked_tree(source, &mutated)?;
    if shape(tree, source) == shape(&new_tree, &mutated) {
        return Err(MutateError::Equivalent);
    }
    Ok(mutated)
}

/// The rewrite must change the code and re-parse with no `ERROR` or `MISSING` node.
pub fn validate(original: &str, mutated: &str) -> Result<(), MutateError> {
    checked_tree(original, mutated).map(|_| ())
}

fn checked_tree(original: &str, mutated: &str) -> Result<Tree, MutateError> {
    if original == mutated {
        return Err(MutateError::Unchanged);
    }
    let tree = crate::anchor::parse_python(mutated).map_err(|_| MutateError::BrokenSyntax)?;
    if tree.root_node().has_error() {
        return Err(MutateError::BrokenSyntax);
    }
    Ok(tree)
}

/// Whether `node` is (inside) a type annotation: a parameter's, a return type, or a
/// variable's (`x: int = 0`).
fn in_annotation(node: Node) -> bool {
    let mut current = Some(node);
    while let Some(n) = current {
        if n.kind() == "type" {
            return true;
        }
        current = n.parent();
    }
    false
}

/// The tree in preorder as (kind, children, text of leaves), comments left out and every string
/// literal taken whole (its spaces are content). Two sources with the same shape differ only in
/// whitespace and comments; indentation that moves code between blocks changes the shape.
fn shape<'s>(tree: &Tree, source: &'s str) -> Vec<(u16, usize, &'s str)> {
    let mut out = Vec::new();
    let mut stack = vec![tree.root_node()];
    while let Some(node) = stack.pop() {
        let whole = node.kind() == "string" || node.child_count() == 0;
        let mut cursor = node.walk();
        let children: Vec<Node> =
            if whole { Vec::new() } else { node.children(&mut cursor).filter(|c| c.kind() != "comment").collect() };
        let text = if whole { source.get(node.byte_range()).unwrap_or("") } else { "" };
        out.push((node.kind_id(), children.len(), text));
        stack.extend(children.into_iter().rev());
    }
    out
}

#[cfg(test)]
pub(crate) mod testing {
    //! `check(operator, input, expected)`: run the operator's shipped query over real Python
    //! and compare the first site that fits.

    use super::*;
    use crate::anchor::{FileIndex, QuerySet};

    /// Every mutation the operator makes on `input`, one per fitting site, with seed `seed`.
    pub fn mutations(name: &str, input: &str, seed: u64) -> Vec<String> {
        let queries = QuerySet::embedded();
        let op = operator(name).unwrap_or_else(|| panic!("no operator {name}"));
        let file = FileIndex::new("t.py", input.to_string(), &queries).expect("index");
        file.sites
            .iter()
            .filter(|s| s.query == name && s.capture == SITE_CAPTURE)
            .filter_map(|s| mutate(op, input, file.tree(), s, seed).ok())
            .collect()
    }

    /// The first fitting site's mutation equals `expected`.
    pub fn check(name: &str, input: &str, expected: &str) {
        let all = mutations(name, input, 0);
        assert!(!all.is_empty(), "{name}: no mutation of\n{input}");
        assert_eq!(all[0], expected, "{name}: first mutation of\n{input}");
    }

    /// The first fitting site's mutation is one of `expected` (the choice is seeded).
    pub fn check_one_of(name: &str, input: &str, expected: &[&str]) {
        for seed in 0..8 {
            let all = mutations(name, input, seed);
            assert!(!all.is_empty(), "{name}: no mutation of\n{input}");
            assert!(expected.contains(&all[0].as_str()), "{name} seed {seed}: unexpected\n{}", all[0]);
        }
    }

    /// The operator finds no site that fits.
    pub fn check_none(name: &str, input: &str) {
        let all = mutations(name, input, 0);
        assert!(all.is_empty(), "{name}: unexpected mutation\n{}", all.first().map(String::as_str).unwrap_or(""));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operator_has_a_shipped_query_and_unique_name() {
        let queries = crate::anchor::QuerySet::embedded();
        for op in CATALOGUE {
            let q = queries.get(op.name).unwrap_or_else(|| panic!("no query for {}", op.name));
            assert!(q.query.capture_names().contains(&SITE_CAPTURE), "{} lacks @site", op.name);
        }
        let mut names: Vec<_> = CATALOGUE.iter().map(|o| o.name).collect();
        names.dedup();
        assert_eq!(names.len(), CATALOGUE.len());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Any text, Python-like or not: indexing and every operator at every site never panic.
        #[test]
        fn operators_never_panic_on_any_input(src in "[a-z_ ():=+<>!\\-\n\t0-9,.\\[\\]'\"#*/%&|]{0,240}") {
            let queries = crate::anchor::QuerySet::embedded();
            if let Ok(file) = crate::anchor::FileIndex::new("p.py", src.clone(), &queries) {
                for site in &file.sites {
                    if let Some(op) = operator(&site.query) {
                        if let Ok(out) = mutate(op, &src, file.tree(), site, 1) {
                            proptest::prop_assert!(out != src);
                        }
                    }
                }
            }
        }

        /// Random edits keep the incremental index equal to a fresh one.
        #[test]
        fn random_edits_match_fresh_index(a in 0usize..200, b in 0usize..40, text in "[a-z \n():=]{0,12}") {
            let queries = crate::anchor::QuerySet::embedded();
            let src = "def f(x):\n    if x is None:\n        return 0\n    for i in range(x):\n        x += i\n    return x\n";
            let mut file = crate::anchor::FileIndex::new("p.py", src.to_string(), &queries).map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            let start = a.min(src.len());
            let end = (start + b).min(src.len());
            if file.apply_edit(start, end, &text, &queries).is_ok() {
                let fresh = crate::anchor::FileIndex::new("p.py", file.source().to_string(), &queries).map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
                proptest::prop_assert_eq!(&file.sites, &fresh.sites);
            }
        }
    }

    #[test]
    fn annotation_sites_and_whitespace_only_rewrites_are_refused() {
        let queries = crate::anchor::QuerySet::embedded();
        let src = "from __future__ import annotations\n\n\ndef f(a: int | None, b: int = 1) -> str | None:\n    return a | b\n";
        let file = crate::anchor::FileIndex::new("t.py", src.to_string(), &queries).unwrap();
        let op = operator("change_operator").unwrap();
        let results: Vec<_> = file
            .sites
            .iter()
            .filter(|s| s.query == "change_operator" && s.capture == SITE_CAPTURE)
            .map(|s| mutate(op, src, file.tree(), s, 0))
            .collect();
        assert_eq!(results.iter().filter(|r| **r == Err(MutateError::InAnnotation)).count(), 2, "{results:?}");
        assert!(
            results.iter().any(|r| r.as_ref().is_ok_and(|m| m.contains("return a & b") || m.contains("return a ^ b"))),
            "{results:?}"
        );

        let tree = |s: &str| crate::anchor::parse_python(s).unwrap();
        let a = "def f():\n    x = 1\n\n    y = 2  # two\n    return ' a  b'\n";
        let blank_moved = "def f():\n    x = 1\n    y = 2\n\n    return ' a  b'\n";
        let string_spaces = "def f():\n    x = 1\n\n    y = 2\n    return ' a b'\n";
        let dedented = "def f():\n    x = 1\n\n    y = 2\nreturn ' a  b'\n";
        assert_eq!(shape(&tree(a), a), shape(&tree(blank_moved), blank_moved));
        assert_ne!(shape(&tree(a), a), shape(&tree(string_spaces), string_spaces));
        assert_ne!(shape(&tree(a), a), shape(&tree(dedented), dedented));
    }

    #[test]
    fn validate_rejects_unchanged_and_broken() {
        assert_eq!(validate("x = 1\n", "x = 1\n"), Err(MutateError::Unchanged));
        assert_eq!(validate("x = 1\n", "x = (1\n"), Err(MutateError::BrokenSyntax));
        assert_eq!(validate("x = 1\n", "x = 2\n"), Ok(()));
    }
}
