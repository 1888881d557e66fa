//! Inverses of common repairs: undo a None guard, swallow an exception, catch the wrong
//! exception type, return the wrong value.
//!
//! In: the node an operator's query captured as `@site`, the source, a seeded RNG. Out: edits,
//! or `None` when the node does not fit. Pure.

use super::edit::{self, code_children, Edit};
use super::mutmut::returned_value;
use super::procedural::{format_integer, integer_value};
use crate::anchor::syntax::node_text;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeSet;
use tree_sitter::Node;

/// Delete `if x is None: return/raise ...` (also `== None`).
pub fn remove_none_guard(node: Node, source: &str, _rng: &mut ChaCha8Rng) -> Option<Vec<Edit>> {
    let condition = node.child_by_field_name("condition")?;
    let mut cursor = condition.walk();
    let ops: Vec<&str> = condition.children_by_field_name("operators", &mut cursor).map(|o| o.kind()).collect();
    let operands = code_children(condition);
    let is_none_test = matches!(ops.as_slice(), ["is"] | ["=="]) && operands.iter().any(|o| o.kind() == "none");
    if !is_none_test {
        return None;
    }
    edit::delete_statement(node, source)
}

/// `except E: <handler>` -> `except E: pass`.
pub fn swallow_exception(node: Node, source: &str, _rng: &mut ChaCha8Rng) -> Option<Vec<Edit>> {
    let body = code_children(node).into_iter().find(|c| c.kind() == "block")?;
    if node_text(body, source).trim() == "pass" {
        return None;
    }
    Some(vec![Edit::replace(body, "pass")])
}

/// Exception types to swap in.
pub const EXCEPTION_TYPES: &[&str] =
    &["ValueError", "TypeError", "KeyError", "IndexError", "AttributeError", "RuntimeError", "LookupError", "OSError"];

/// `except ValueError` -> `except TypeError` (one element of a tuple).
pub fn wrong_exception_type(node: Node, source: &str, rng: &mut ChaCha8Rng) -> Option<Vec<Edit>> {
    let mut value = node.child_by_field_name("value")?;
    if value.kind() == "as_pattern" {
        value = code_children(value).into_iter().next()?;
    }
    let target = match value.kind() {
        "identifier" | "attribute" => value,
        "tuple" | "parenthesized_expression" => {
            let names: Vec<Node> =
                code_children(value).into_iter().filter(|n| matches!(n.kind(), "identifier" | "attribute")).collect();
            if names.is_empty() {
                return None;
            }
            names[rng.random_range(0..names.len())]
        }
        _ => return None,
    };
    let current = node_text(target, source);
    let choices: Vec<&str> =
        EXCEPTION_TYPES.iter().copied().filter(|t| *t != current && !current.ends_with(&format!(".{t}"))).collect();
    Some(vec![Edit::replace(target, choices[rng.random_range(0..choices.len())])])
}

/// The function definition enclosing a node (not crossing a class).
fn enclosing_function(node: Node) -> Option<Node> {
    let mut current = node.parent();
    while let Some(n) = current {
        match n.kind() {
            "function_definition" => return Some(n),
            "class_definition" => return None,
            _ => current = n.parent(),
        }
    }
    None
}

/// Parameter names of a function, without `self` and `cls`.
fn parameter_names<'s>(function: Node, source: &'s str) -> Vec<&'s str> {
    let Some(params) = function.child_by_field_name("parameters") else { return Vec::new() };
    code_children(params)
        .into_iter()
        .filter_map(|p| match p.kind() {
            "identifier" => Some(p),
            "default_parameter" | "typed_default_parameter" => p.child_by_field_name("name"),
            "typed_parameter" => code_children(p).into_iter().find(|c| c.kind() == "identifier"),
            _ => None,
        })
        .map(|n| node_text(n, source))
        .filter(|n| *n != "self" && *n != "cls")
        .collect()
}

/// Plain names assigned in a function body (nested definitions excluded).
fn assigned_names<'s>(function: Node, source: &'s str) -> Vec<&'s str> {
    let mut names = Vec::new();
    let Some(body) = function.child_by_field_name("body") else { return names };
    let mut stack = vec![body];
    while let Some(n) = stack.pop() {
        if matches!(n.kind(), "function_definition" | "class_definition" | "lambda") {
            continue;
        }
        if n.kind() == "assignment" {
            if let Some(left) = n.child_by_field_name("left").filter(|l| l.kind() == "identifier") {
                names.push(node_text(left, source));
            }
        }
        stack.extend(code_children(n));
    }
    names
}

/// Return another local or parameter of the same function; a lone literal is flipped instead.
pub fn return_wrong_value(node: Node, source: &str, rng: &mut ChaCha8Rng) -> Option<Vec<Edit>> {
    let value = returned_value(node)?;
    let text = node_text(value, source);
    let names: BTreeSet<&str> = enclosing_function(node)
        .map(|f| parameter_names(f, source).into_iter().chain(assigned_names(f, source)).collect())
        .unwrap_or_default();
    let others: Vec<&str> = names.into_iter().filter(|n| *n != text).collect();
    if !others.is_empty() && value.kind() != "none" {
        return Some(vec![Edit::replace(value, others[rng.random_range(0..others.len())])]);
    }
    let flipped = match value.kind() {
        "true" => "False".to_string(),
        "false" => "True".to_string(),
        "integer" => integer_value(text).map(|(v, r)| format_integer(if v == 0 { 1 } else { v - 1 }, r))?,
        _ => return None,
    };
    Some(vec![Edit::replace(value, flipped)])
}

#[cfg(test)]
mod tests {
    use crate::operators::testing::{check, check_none, check_one_of};

    #[test]
    fn remove_none_guard_deletes_guard() {
        check(
            "remove_none_guard",
            "def f(x):\n    if x is None:\n        return 0\n    return x.size\n",
            "def f(x):\n    return x.size\n",
        );
        check(
            "remove_none_guard",
            "def f(x):\n    if x == None:\n        raise ValueError('x')\n    return x\n",
            "def f(x):\n    return x\n",
        );
        check_none("remove_none_guard", "def f(x):\n    if x is not None:\n        return 0\n    return 1\n");
    }

    #[test]
    fn swallow_exception_passes() {
        check(
            "swallow_exception",
            "try:\n    go()\nexcept KeyError as e:\n    log(e)\n    raise\n",
            "try:\n    go()\nexcept KeyError as e:\n    pass\n",
        );
        check_none("swallow_exception", "try:\n    go()\nexcept KeyError:\n    pass\n");
    }

    #[test]
    fn wrong_exception_type_changes_the_type() {
        let out = crate::operators::testing::mutations(
            "wrong_exception_type",
            "try:\n    go()\nexcept KeyError as e:\n    raise\n",
            1,
        );
        assert_eq!(out.len(), 1);
        assert!(!out[0].contains("KeyError") && out[0].contains(" as e:"), "{}", out[0]);
        let out = crate::operators::testing::mutations(
            "wrong_exception_type",
            "try:\n    go()\nexcept (KeyError, IndexError):\n    raise\n",
            2,
        );
        assert_eq!(out.len(), 1);
        assert!(out[0].contains("except ("), "{}", out[0]);
        check_none("wrong_exception_type", "try:\n    go()\nexcept:\n    raise\n");
    }

    #[test]
    fn return_wrong_value_returns_another_name() {
        check_one_of(
            "return_wrong_value",
            "def f(a, b=1):\n    total = a + b\n    return total\n",
            &["def f(a, b=1):\n    total = a + b\n    return a\n", "def f(a, b=1):\n    total = a + b\n    return b\n"],
        );
        check("return_wrong_value", "def f():\n    return True\n", "def f():\n    return False\n");
        check_none("return_wrong_value", "def f():\n    return g()\n");
    }
}
