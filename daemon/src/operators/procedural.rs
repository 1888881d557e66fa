//! SWE-smith's procedural modifiers as rewrites.
//!
//! In: the node an operator's query captured as `@site`, the source, a seeded RNG. Out: edits,
//! or `None` when the node does not fit the operator. Pure.

use super::edit::{self, code_children, Edit};
use crate::anchor::syntax::node_text;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tree_sitter::Node;

/// Delete a whole statement (assignment, `if`, loop, method).
pub fn remove_statement(node: Node, source: &str, _rng: &mut ChaCha8Rng) -> Option<Vec<Edit>> {
    edit::delete_statement(node, source)
}

fn field_children<'t>(node: Node<'t>, field: &str) -> Vec<Node<'t>> {
    let mut cursor = node.walk();
    node.children_by_field_name(field, &mut cursor).collect()
}

/// Swap the `else` body with the body of the branch just before it (the `if`, or the last
/// `elif`).
pub fn invert_if_else(node: Node, source: &str, _rng: &mut ChaCha8Rng) -> Option<Vec<Edit>> {
    let alternatives = field_children(node, "alternative");
    let (else_clause, earlier) = alternatives.split_last()?;
    if else_clause.kind() != "else_clause" {
        return None;
    }
    let (branch, branch_body) = match earlier.last() {
        Some(elif) => (*elif, elif.child_by_field_name("consequence")?),
        None => (node, node.child_by_field_name("consequence")?),
    };
    let else_body = else_clause.child_by_field_name("body")?;
    let own_lines = branch_body.start_position().row > branch.start_position().row
        && else_body.start_position().row > else_clause.start_position().row;
    if !own_lines || branch_body.start_position().column != else_body.start_position().column {
        return None;
    }
    Some(vec![
        Edit::replace(branch_body, node_text(else_body, source)),
        Edit::replace(else_body, node_text(branch_body, source)),
    ])
}

/// Shuffle a block's statements (docstrings and nested definitions stay put).
pub fn shuffle_statements(node: Node, source: &str, rng: &mut ChaCha8Rng) -> Option<Vec<Edit>> {
    let in_class = node.parent().is_some_and(|p| p.kind() == "class_definition");
    if in_class {
        return None;
    }
    let slots: Vec<Node> = code_children(node)
        .into_iter()
        .filter(|s| {
            !edit::is_docstring(*s)
                && !matches!(s.kind(), "function_definition" | "class_definition" | "decorated_definition")
        })
        .collect();
    edit::permute_slots(&slots, source, rng)
}

/// Replace a `try` or `with` statement by its body.
pub fn remove_wrapper(node: Node, source: &str, _rng: &mut ChaCha8Rng) -> Option<Vec<Edit>> {
    let body = node.child_by_field_name("body")?;
    edit::unwrap_body(node, body, source)
}

/// `a + b + c` -> `a + b` or `a + c`.
pub fn break_chain(node: Node, source: &str, rng: &mut ChaCha8Rng) -> Option<Vec<Edit>> {
    let inner = node.child_by_field_name("left")?;
    if inner.kind() != "binary_operator" {
        return None;
    }
    if rng.random_bool(0.5) {
        Some(vec![Edit::replace(node, node_text(inner, source))])
    } else {
        let first = inner.child_by_field_name("left")?;
        Some(vec![Edit::replace(inner, node_text(first, source))])
    }
}

/// A decimal or hex integer literal's value, if it is one we can rewrite.
pub fn integer_value(text: &str) -> Option<(i128, u32)> {
    let clean: String = text.chars().filter(|c| *c != '_').collect();
    let lower = clean.to_ascii_lowercase();
    if let Some(hex) = lower.strip_prefix("0x") {
        return i128::from_str_radix(hex, 16).ok().map(|v| (v, 16));
    }
    if lower.starts_with("0o") || lower.starts_with("0b") || lower.ends_with('j') || lower.ends_with('l') {
        return None;
    }
    lower.parse::<i128>().ok().map(|v| (v, 10))
}

/// Format a value in the radix it was written in.
pub fn format_integer(value: i128, radix: u32) -> String {
    match radix {
        16 if value >= 0 => format!("0x{value:x}"),
        _ => value.to_string(),
    }
}

/// An integer literal plus or minus one (zero always becomes one).
pub fn change_constant(node: Node, source: &str, rng: &mut ChaCha8Rng) -> Option<Vec<Edit>> {
    let (value, radix) = integer_value(node_text(node, source))?;
    let delta = if value == 0 || rng.random_bool(0.5) { 1 } else { -1 };
    Some(vec![Edit::replace(node, format_integer(value + delta, radix))])
}

/// The operator a family swap turns `op` into.
pub fn family_swap(op: &str) -> Option<&'static str> {
    Some(match op {
        "+" => "-",
        "-" => "+",
        "*" => "/",
        "/" => "*",
        "//" => "/",
        "%" => "//",
        "**" => "*",
        "<<" => ">>",
        ">>" => "<<",
        "&" => "|",
        "|" => "&",
        "^" => "|",
        "<" => "<=",
        "<=" => "<",
        ">" => ">=",
        ">=" => ">",
        _ => return None,
    })
}

/// The operator tokens of a binary or comparison operator node.
pub fn operator_tokens(node: Node) -> Vec<Node> {
    match node.kind() {
        "comparison_operator" => field_children(node, "operators"),
        _ => node.child_by_field_name("operator").into_iter().collect(),
    }
}

/// Pick one operator token (seeded) and replace it with `swap(token)`.
pub fn swap_one_token(node: Node, rng: &mut ChaCha8Rng, swap: fn(&str) -> Option<&'static str>) -> Option<Vec<Edit>> {
    let tokens: Vec<(Node, &'static str)> =
        operator_tokens(node).into_iter().filter_map(|t| swap(t.kind()).map(|s| (t, s))).collect();
    if tokens.is_empty() {
        return None;
    }
    let (token, replacement) = tokens[rng.random_range(0..tokens.len())];
    Some(vec![Edit::replace(token, replacement)])
}

/// `+` <-> `-`, `*` <-> `/`, `<` <-> `<=`, ...
pub fn change_operator(node: Node, _source: &str, rng: &mut ChaCha8Rng) -> Option<Vec<Edit>> {
    swap_one_token(node, rng, family_swap)
}

/// `a - b` -> `b - a`; comparisons with one operator only.
pub fn swap_operands(node: Node, source: &str, _rng: &mut ChaCha8Rng) -> Option<Vec<Edit>> {
    let (left, right) = match node.kind() {
        "binary_operator" => (node.child_by_field_name("left")?, node.child_by_field_name("right")?),
        "comparison_operator" => match code_children(node).as_slice() {
            [l, r] => (*l, *r),
            _ => return None,
        },
        _ => return None,
    };
    let (l, r) = (node_text(left, source), node_text(right, source));
    if l == r {
        return None;
    }
    Some(vec![Edit::replace(left, r), Edit::replace(right, l)])
}

/// Drop one positional base class (`class A(B, C)` -> `class A(C)`; a lone base goes with
/// its parentheses).
pub fn remove_base_class(node: Node, _source: &str, rng: &mut ChaCha8Rng) -> Option<Vec<Edit>> {
    let bases = node.child_by_field_name("superclasses")?;
    let items = code_children(bases);
    let positional: Vec<usize> = items
        .iter()
        .enumerate()
        .filter(|(_, n)| !matches!(n.kind(), "keyword_argument" | "list_splat" | "dictionary_splat"))
        .map(|(i, _)| i)
        .collect();
    if positional.is_empty() {
        return None;
    }
    let i = positional[rng.random_range(0..positional.len())];
    if items.len() == 1 {
        return Some(vec![Edit::replace(bases, "")]);
    }
    edit::remove_list_item(&items, i).map(|e| vec![e])
}

/// Reorder the definitions of a method that a class body defines more than once (a property
/// and its setter, an `@overload` chain, a redefinition: the last one wins). Methods of
/// distinct names are left alone: the class is the same in any order (an equivalent mutant).
pub fn shuffle_methods(node: Node, source: &str, rng: &mut ChaCha8Rng) -> Option<Vec<Edit>> {
    let body = node.child_by_field_name("body")?;
    let mut by_name: Vec<(&str, Vec<Node>)> = Vec::new();
    for method in code_children(body) {
        let def = match method.kind() {
            "function_definition" => method,
            "decorated_definition" => method.child_by_field_name("definition")?,
            _ => continue,
        };
        let Some(name) = def.child_by_field_name("name").map(|n| node_text(n, source)) else { continue };
        match by_name.iter_mut().find(|(n, _)| *n == name) {
            Some((_, defs)) => defs.push(method),
            None => by_name.push((name, vec![method])),
        }
    }
    // A property's getter and setter (`@name.setter`) in another order fail at import (the
    // setter's decorator names what is not defined yet): no test runs, not a task either.
    let chained =
        |name: &str, defs: &[Node]| defs.iter().any(|d| node_text(*d, source).starts_with(&format!("@{name}.")));
    let repeated: Vec<&Vec<Node>> =
        by_name.iter().filter(|(name, defs)| defs.len() > 1 && !chained(name, defs)).map(|(_, defs)| defs).collect();
    if repeated.is_empty() {
        return None;
    }
    let defs = repeated[rng.random_range(0..repeated.len())];
    edit::permute_slots(defs, source, rng)
}

#[cfg(test)]
mod tests {
    use crate::operators::testing::{check, check_none, check_one_of, mutations};

    #[test]
    fn invert_if_else_swaps_bodies() {
        check(
            "invert_if_else",
            "def f(x):\n    if x > 0:\n        return 1\n    else:\n        return -1\n",
            "def f(x):\n    if x > 0:\n        return -1\n    else:\n        return 1\n",
        );
        check(
            "invert_if_else",
            "def f(x):\n    if x:\n        a()\n    elif x is None:\n        b()\n    else:\n        # fallback\n        c()\n",
            "def f(x):\n    if x:\n        a()\n    elif x is None:\n        c()\n    else:\n        # fallback\n        b()\n",
        );
        check_none("invert_if_else", "def f(x):\n    if x: a()\n    else:\n        b()\n");
    }

    #[test]
    fn shuffle_statements_reorders_and_keeps_docstring() {
        let input = "def f():\n    \"\"\"Doc.\"\"\"\n    a = 1\n    b = a + 1\n    return b\n";
        let out = mutations("shuffle_statements", input, 3);
        assert_eq!(out.len(), 1);
        assert!(out[0].starts_with("def f():\n    \"\"\"Doc.\"\"\"\n"), "{}", out[0]);
        assert_ne!(out[0], input);
        let mut lines: Vec<&str> = out[0].lines().collect();
        lines.sort();
        let mut expected: Vec<&str> = input.lines().collect();
        expected.sort();
        assert_eq!(lines, expected);
    }

    #[test]
    fn remove_assignment_deletes_the_line_or_leaves_pass() {
        check("remove_assignment", "def f(x):\n    y = x * 2\n    return y\n", "def f(x):\n    return y\n");
        check("remove_assignment", "def f(x):\n    x.total += 1\n", "def f(x):\n    pass\n");
    }

    #[test]
    fn remove_conditional_and_loop() {
        check(
            "remove_conditional",
            "def f(x):\n    if x < 0:\n        x = 0\n    return x\n",
            "def f(x):\n    return x\n",
        );
        check(
            "remove_loop",
            "def f(xs):\n    t = 0\n    for x in xs:\n        t += x\n    return t\n",
            "def f(xs):\n    t = 0\n    return t\n",
        );
        check("remove_loop", "def f():\n    while True:\n        g()\n", "def f():\n    pass\n");
    }

    #[test]
    fn remove_wrapper_keeps_body_dedented() {
        check(
            "remove_wrapper",
            "def f(p):\n    try:\n        v = int(p)\n        return v\n    except ValueError:\n        return None\n",
            "def f(p):\n    v = int(p)\n    return v\n",
        );
        check(
            "remove_wrapper",
            "def f(p):\n    with open(p) as h:\n        return h.read()\n",
            "def f(p):\n    return h.read()\n",
        );
    }

    #[test]
    fn break_chain_drops_an_operand() {
        check_one_of("break_chain", "t = a + b + c\n", &["t = a + b\n", "t = a + c\n"]);
    }

    #[test]
    fn change_constant_moves_by_one() {
        check_one_of("change_constant", "x = 10\n", &["x = 11\n", "x = 9\n"]);
        check("change_constant", "x = 0\n", "x = 1\n");
        check_one_of("change_constant", "m = 0xff\n", &["m = 0x100\n", "m = 0xfe\n"]);
        check_none("change_constant", "z = 3j\n");
    }

    #[test]
    fn change_operator_stays_in_family() {
        check("change_operator", "d = a + b\n", "d = a - b\n");
        check("change_operator", "d = a * b\n", "d = a / b\n");
        check("change_operator", "ok = a < b\n", "ok = a <= b\n");
        check_none("change_operator", "ok = a == b\n");
    }

    #[test]
    fn swap_operands_swaps() {
        check("swap_operands", "d = a - b\n", "d = b - a\n");
        check("swap_operands", "ok = k in d\n", "ok = d in k\n");
        check_none("swap_operands", "d = a - a\n");
    }

    #[test]
    fn remove_base_class_drops_one_base() {
        check("remove_base_class", "class A(Base):\n    pass\n", "class A:\n    pass\n");
        check_one_of(
            "remove_base_class",
            "class A(B, C, metaclass=M):\n    pass\n",
            &["class A(C, metaclass=M):\n    pass\n", "class A(B, metaclass=M):\n    pass\n"],
        );
        check_none("remove_base_class", "class A(metaclass=M):\n    pass\n");
    }

    #[test]
    fn remove_method_deletes_it() {
        check(
            "remove_method",
            "class A:\n    def a(self):\n        return 1\n\n    def b(self):\n        return 2\n",
            "class A:\n\n    def b(self):\n        return 2\n",
        );
    }

    #[test]
    fn shuffle_methods_reorders_only_definitions_of_one_name() {
        // Distinct names: any order defines the same class.
        check_none(
            "shuffle_methods",
            "class A:\n    def a(self):\n        return 1\n\n    def b(self):\n        return 2\n",
        );
        check_none("shuffle_methods", "class A:\n    def a(self):\n        return 1\n");
        check_none(
            "shuffle_methods",
            "class A:\n    @property\n    def a(self):\n        return 1\n\n    @a.setter\n    def a(self, v):\n        pass\n",
        );
        // A redefinition: the last one wins, so swapping them changes the class.
        check(
            "shuffle_methods",
            "class A:\n    def a(self):\n        return 1\n\n    def b(self):\n        return 2\n\n    def a(self):\n        return 3\n",
            "class A:\n    def a(self):\n        return 3\n\n    def b(self):\n        return 2\n\n    def a(self):\n        return 1\n",
        );
    }
}
