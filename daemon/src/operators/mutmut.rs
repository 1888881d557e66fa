//! mutmut's mutation operators as rewrites.
//!
//! In: the node an operator's query captured as `@site`, the source, a seeded RNG. Out: edits,
//! or `None` when the node does not fit. Pure.

use super::edit::{self, code_children, Edit};
use super::procedural::{format_integer, integer_value, swap_one_token};
use crate::anchor::syntax::node_text;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tree_sitter::Node;

/// The negation of a comparison operator.
pub fn negated_comparison(op: &str) -> Option<&'static str> {
    Some(match op {
        "<" => ">=",
        ">=" => "<",
        ">" => "<=",
        "<=" => ">",
        "==" => "!=",
        "!=" => "==",
        "<>" => "==",
        "is" => "is not",
        "is not" => "is",
        "in" => "not in",
        "not in" => "in",
        _ => return None,
    })
}

/// `<` <-> `>=`, `==` <-> `!=`, `is` <-> `is not`, `in` <-> `not in`.
pub fn flip_comparison(node: Node, _source: &str, rng: &mut ChaCha8Rng) -> Option<Vec<Edit>> {
    swap_one_token(node, rng, negated_comparison)
}

/// `and` <-> `or`.
pub fn swap_boolean_operator(node: Node, _source: &str, _rng: &mut ChaCha8Rng) -> Option<Vec<Edit>> {
    let op = node.child_by_field_name("operator")?;
    let other = match op.kind() {
        "and" => "or",
        "or" => "and",
        _ => return None,
    };
    Some(vec![Edit::replace(op, other)])
}

/// `True` <-> `False`.
pub fn flip_boolean_literal(node: Node, _source: &str, _rng: &mut ChaCha8Rng) -> Option<Vec<Edit>> {
    let other = match node.kind() {
        "true" => "False",
        "false" => "True",
        _ => return None,
    };
    Some(vec![Edit::replace(node, other)])
}

/// `not x` -> `x`.
pub fn remove_not(node: Node, source: &str, _rng: &mut ChaCha8Rng) -> Option<Vec<Edit>> {
    let argument = node.child_by_field_name("argument")?;
    Some(vec![Edit::replace(node, node_text(argument, source))])
}

/// `x += y` -> `x = y`.
pub fn augmented_to_assignment(node: Node, _source: &str, _rng: &mut ChaCha8Rng) -> Option<Vec<Edit>> {
    let op = node.child_by_field_name("operator")?;
    Some(vec![Edit::replace(op, "=")])
}

/// An expression moved by `delta`: literals are recomputed, `e - k` / `e + k` adjust `k`,
/// anything else gets `+ 1` / `- 1` (parenthesised when needed).
pub fn shifted(expr: Node, source: &str, delta: i128) -> Option<String> {
    let text = node_text(expr, source);
    match expr.kind() {
        "integer" => integer_value(text).map(|(v, r)| format_integer(v + delta, r)),
        "unary_operator" => {
            let op = expr.child_by_field_name("operator")?;
            let arg = expr.child_by_field_name("argument")?;
            if op.kind() != "-" || arg.kind() != "integer" {
                return Some(add_delta(text, expr.kind(), delta));
            }
            integer_value(node_text(arg, source)).map(|(v, _)| (-v + delta).to_string())
        }
        "binary_operator" => shifted_sum(expr, source, delta).or_else(|| Some(add_delta(text, expr.kind(), delta))),
        kind => Some(add_delta(text, kind, delta)),
    }
}

fn shifted_sum(expr: Node, source: &str, delta: i128) -> Option<String> {
    let op = expr.child_by_field_name("operator")?.kind();
    let left = node_text(expr.child_by_field_name("left")?, source);
    let right = expr.child_by_field_name("right")?;
    if right.kind() != "integer" {
        return None;
    }
    let (k, _) = integer_value(node_text(right, source))?;
    let signed = match op {
        "+" => k + delta,
        "-" => -k + delta,
        _ => return None,
    };
    Some(match signed {
        0 => left.to_string(),
        s if s > 0 => format!("{left} + {s}"),
        s => format!("{left} - {}", -s),
    })
}

fn add_delta(text: &str, kind: &str, delta: i128) -> String {
    let simple =
        matches!(kind, "identifier" | "attribute" | "call" | "subscript" | "parenthesized_expression" | "integer");
    let base = if simple { text.to_string() } else { format!("({text})") };
    if delta >= 0 {
        format!("{base} + {delta}")
    } else {
        format!("{base} - {}", -delta)
    }
}

/// The start/stop expressions of a slice (not the step).
fn slice_bounds(slice: Node) -> Vec<Node> {
    let mut colons = 0;
    let mut bounds = Vec::new();
    let mut cursor = slice.walk();
    for child in slice.children(&mut cursor) {
        if child.kind() == ":" {
            colons += 1;
        } else if child.is_named() && child.kind() != "comment" && colons < 2 {
            bounds.push(child);
        }
    }
    bounds
}

/// Off by one in the stop of `range(...)` or in a slice bound.
pub fn off_by_one(node: Node, source: &str, rng: &mut ChaCha8Rng) -> Option<Vec<Edit>> {
    let target = match node.kind() {
        "call" => {
            let args = code_children(node.child_by_field_name("arguments")?);
            if args.is_empty()
                || args.len() > 3
                || args.iter().any(|a| a.kind().contains("splat") || a.kind() == "keyword_argument")
            {
                return None;
            }
            args[if args.len() == 1 { 0 } else { 1 }]
        }
        "slice" => {
            let bounds = slice_bounds(node);
            if bounds.is_empty() {
                return None;
            }
            bounds[rng.random_range(0..bounds.len())]
        }
        _ => return None,
    };
    let delta = if rng.random_bool(0.5) { 1 } else { -1 };
    let text = shifted(target, source, delta)?;
    Some(vec![Edit::replace(target, text)])
}

/// Drop one argument of a call, or set it to `None`.
pub fn drop_call_argument(node: Node, source: &str, rng: &mut ChaCha8Rng) -> Option<Vec<Edit>> {
    let list = node.child_by_field_name("arguments")?;
    if list.kind() != "argument_list" {
        return None;
    }
    let args = code_children(list);
    if args.is_empty() {
        return None;
    }
    let i = rng.random_range(0..args.len());
    let arg = args[i];
    let to_none = rng.random_bool(0.5) && !arg.kind().contains("splat") && node_text(arg, source) != "None";
    if to_none {
        let target = if arg.kind() == "keyword_argument" { arg.child_by_field_name("value")? } else { arg };
        if node_text(target, source) == "None" {
            return None;
        }
        return Some(vec![Edit::replace(target, "None")]);
    }
    if args.len() == 1 {
        let inner_start = list.start_byte() + 1;
        let inner_end = list.end_byte().checked_sub(1)?;
        return (inner_start <= inner_end).then(|| vec![Edit::new(inner_start, inner_end, "")]);
    }
    edit::remove_list_item(&args, i).map(|e| vec![e])
}

/// A string method's twin.
pub fn string_method_twin(name: &str) -> Option<&'static str> {
    Some(match name {
        "lower" => "upper",
        "upper" => "lower",
        "lstrip" => "rstrip",
        "rstrip" => "lstrip",
        "startswith" => "endswith",
        "endswith" => "startswith",
        "split" => "rsplit",
        "rsplit" => "split",
        "find" => "rfind",
        "rfind" => "find",
        "ljust" => "rjust",
        "rjust" => "ljust",
        _ => return None,
    })
}

/// `s.lower()` -> `s.upper()` and the like.
pub fn swap_string_method(node: Node, source: &str, _rng: &mut ChaCha8Rng) -> Option<Vec<Edit>> {
    let function = node.child_by_field_name("function")?;
    let name = function.child_by_field_name("attribute")?;
    let twin = string_method_twin(node_text(name, source))?;
    Some(vec![Edit::replace(name, twin)])
}

/// `break` <-> `continue`.
pub fn swap_break_continue(node: Node, _source: &str, _rng: &mut ChaCha8Rng) -> Option<Vec<Edit>> {
    let other = match node.kind() {
        "break_statement" => "continue",
        "continue_statement" => "break",
        _ => return None,
    };
    Some(vec![Edit::replace(node, other)])
}

/// The returned expression of a `return` statement.
pub fn returned_value(node: Node) -> Option<Node> {
    code_children(node).into_iter().next()
}

/// `return x` -> `return None`.
pub fn return_none(node: Node, _source: &str, _rng: &mut ChaCha8Rng) -> Option<Vec<Edit>> {
    let value = returned_value(node)?;
    if value.kind() == "none" {
        return None;
    }
    Some(vec![Edit::replace(value, "None")])
}

#[cfg(test)]
mod tests {
    use crate::operators::testing::{check, check_none, check_one_of};

    #[test]
    fn flip_comparison_negates() {
        check("flip_comparison", "ok = a < b\n", "ok = a >= b\n");
        check("flip_comparison", "ok = a == b\n", "ok = a != b\n");
        check("flip_comparison", "ok = a is None\n", "ok = a is not None\n");
        check("flip_comparison", "ok = a is not None\n", "ok = a is None\n");
        check("flip_comparison", "ok = k in d\n", "ok = k not in d\n");
        check("flip_comparison", "ok = k not in d\n", "ok = k in d\n");
        check_one_of("flip_comparison", "ok = 0 < x <= 9\n", &["ok = 0 >= x <= 9\n", "ok = 0 < x > 9\n"]);
    }

    #[test]
    fn boolean_operators_and_literals() {
        check("swap_boolean_operator", "ok = a and b\n", "ok = a or b\n");
        check("swap_boolean_operator", "ok = a or b\n", "ok = a and b\n");
        check("flip_boolean_literal", "strict = True\n", "strict = False\n");
        check("flip_boolean_literal", "strict = False\n", "strict = True\n");
        check("remove_not", "if not ready:\n    go()\n", "if ready:\n    go()\n");
    }

    #[test]
    fn augmented_becomes_plain() {
        check("augmented_to_assignment", "total += x\n", "total = x\n");
        check("augmented_to_assignment", "mask |= bit\n", "mask = bit\n");
    }

    #[test]
    fn off_by_one_in_range_and_slices() {
        check_one_of(
            "off_by_one",
            "for i in range(n):\n    pass\n",
            &["for i in range(n + 1):\n    pass\n", "for i in range(n - 1):\n    pass\n"],
        );
        check_one_of(
            "off_by_one",
            "for i in range(0, 10):\n    pass\n",
            &["for i in range(0, 11):\n    pass\n", "for i in range(0, 9):\n    pass\n"],
        );
        check_one_of(
            "off_by_one",
            "for i in range(len(x) - 1):\n    pass\n",
            &["for i in range(len(x)):\n    pass\n", "for i in range(len(x) - 2):\n    pass\n"],
        );
        check_one_of(
            "off_by_one",
            "t = s[1:-1]\n",
            &["t = s[2:-1]\n", "t = s[0:-1]\n", "t = s[1:0]\n", "t = s[1:-2]\n"],
        );
        check_one_of("off_by_one", "t = s[a + b:]\n", &["t = s[(a + b) + 1:]\n", "t = s[(a + b) - 1:]\n"]);
        check_none("off_by_one", "r = range(*args)\n");
    }

    #[test]
    fn drop_call_argument_drops_or_nones() {
        check_one_of("drop_call_argument", "f(a)\n", &["f()\n", "f(None)\n"]);
        check_one_of(
            "drop_call_argument",
            "f(a, key=b)\n",
            &["f(key=b)\n", "f(a)\n", "f(None, key=b)\n", "f(a, key=None)\n"],
        );
        check_none("drop_call_argument", "f()\n");
    }

    #[test]
    fn string_methods_swap() {
        check("swap_string_method", "k = name.lower()\n", "k = name.upper()\n");
        check("swap_string_method", "ok = p.startswith('x')\n", "ok = p.endswith('x')\n");
        check("swap_string_method", "p = s.split(',', 1)\n", "p = s.rsplit(',', 1)\n");
        check_none("swap_string_method", "k = name.casefold()\n");
    }

    #[test]
    fn break_continue_and_return_none() {
        check(
            "swap_break_continue",
            "for x in xs:\n    if x:\n        break\n",
            "for x in xs:\n    if x:\n        continue\n",
        );
        check("swap_break_continue", "for x in xs:\n    continue\n", "for x in xs:\n    break\n");
        check("return_none", "def f(x):\n    return x + 1\n", "def f(x):\n    return None\n");
        check_none("return_none", "def f(x):\n    return None\n");
        check_none("return_none", "def f(x):\n    return\n");
    }
}
