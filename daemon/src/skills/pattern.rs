//! Repair patterns: what kind of fix a patch is, read from tree-sitter trees of its hunks.
//!
//! In: a unified diff (a gold patch or a Solver's successful patch). Out: the [`Pattern`]s it
//! shows, the most specific first. Each hunk's old and new side is parsed as a Python fragment
//! (dedented; tree-sitter tolerates the partial code a hunk holds), the syntax nodes on changed
//! lines are summarised as features (statement kinds, comparison / boolean / arithmetic
//! operators, `not`, literals, names, string methods, exception types, call arity, None guards),
//! and the difference of the two summaries decides the pattern. Each pattern names the catalogue
//! operators whose tasks exercise it (the inverse relation) and its anchor query. Pure.

use super::touched::dedent;
use crate::anchor::parse_python;
use crate::anchor::syntax::node_text;
use crate::diff::{Hunk, Patch, Side};
use crate::operators::mutmut::string_method_twin;
use serde::Serialize;
use std::collections::BTreeMap;
use tree_sitter::Node;

/// A kind of repair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pattern {
    AddedNoneGuard,
    AddedExceptionHandling,
    ChangedExceptionType,
    RestoredLoopOrCondition,
    RestoredMissingStatement,
    ChangedComparison,
    ChangedBooleanOperator,
    NegationChanged,
    ChangedStringMethod,
    ChangedLoopControl,
    ChangedBooleanLiteral,
    OffByOne,
    ChangedArithmeticOperator,
    ChangedReturnValue,
    FixedCallArguments,
    WrongAttributeOrName,
    ReorderedStatements,
    SwappedBranches,
    RestoredOperand,
    RestoredBaseClass,
}

/// Every pattern, in decision order (the first that fits a hunk wins).
pub const ALL: &[Pattern] = &[
    Pattern::AddedNoneGuard,
    Pattern::AddedExceptionHandling,
    Pattern::ChangedExceptionType,
    Pattern::RestoredBaseClass,
    Pattern::RestoredLoopOrCondition,
    Pattern::ChangedComparison,
    Pattern::ChangedBooleanOperator,
    Pattern::NegationChanged,
    Pattern::ChangedStringMethod,
    Pattern::ChangedLoopControl,
    Pattern::ChangedBooleanLiteral,
    Pattern::OffByOne,
    Pattern::RestoredOperand,
    Pattern::ChangedArithmeticOperator,
    Pattern::ChangedReturnValue,
    Pattern::FixedCallArguments,
    Pattern::RestoredMissingStatement,
    Pattern::ReorderedStatements,
    Pattern::SwappedBranches,
    Pattern::WrongAttributeOrName,
];

impl Pattern {
    /// kebab-case name (also the stem of skill names).
    pub fn name(self) -> &'static str {
        match self {
            Pattern::AddedNoneGuard => "added-none-guard",
            Pattern::AddedExceptionHandling => "added-exception-handling",
            Pattern::ChangedExceptionType => "changed-exception-type",
            Pattern::RestoredLoopOrCondition => "restored-loop-or-condition",
            Pattern::RestoredMissingStatement => "restored-missing-statement",
            Pattern::ChangedComparison => "changed-comparison",
            Pattern::ChangedBooleanOperator => "changed-boolean-operator",
            Pattern::NegationChanged => "negation-changed",
            Pattern::ChangedStringMethod => "changed-string-method",
            Pattern::ChangedLoopControl => "changed-loop-control",
            Pattern::ChangedBooleanLiteral => "changed-boolean-literal",
            Pattern::OffByOne => "off-by-one",
            Pattern::ChangedArithmeticOperator => "changed-arithmetic-operator",
            Pattern::ChangedReturnValue => "changed-return-value",
            Pattern::FixedCallArguments => "fixed-call-arguments",
            Pattern::WrongAttributeOrName => "wrong-attribute-or-name",
            Pattern::ReorderedStatements => "reordered-statements",
            Pattern::SwappedBranches => "swapped-branches",
            Pattern::RestoredOperand => "restored-operand",
            Pattern::RestoredBaseClass => "restored-base-class",
        }
    }

    /// The pattern with this name.
    pub fn from_name(name: &str) -> Option<Pattern> {
        ALL.iter().copied().find(|p| p.name() == name)
    }

    /// Catalogue operators whose bug, reversed, is this repair (first: the closest).
    pub fn operators(self) -> &'static [&'static str] {
        match self {
            Pattern::AddedNoneGuard => &["remove_none_guard", "remove_conditional"],
            Pattern::AddedExceptionHandling => &["remove_wrapper", "swallow_exception"],
            Pattern::ChangedExceptionType => &["wrong_exception_type"],
            Pattern::RestoredLoopOrCondition => &["remove_loop", "remove_conditional", "invert_if_else"],
            Pattern::RestoredMissingStatement => &["remove_assignment", "remove_conditional", "remove_method"],
            Pattern::ChangedComparison => &["flip_comparison", "change_operator"],
            Pattern::ChangedBooleanOperator => &["swap_boolean_operator", "break_chain"],
            Pattern::NegationChanged => &["remove_not", "invert_if_else"],
            Pattern::ChangedStringMethod => &["swap_string_method"],
            Pattern::ChangedLoopControl => &["swap_break_continue"],
            Pattern::ChangedBooleanLiteral => &["flip_boolean_literal"],
            Pattern::OffByOne => &["off_by_one", "change_constant"],
            Pattern::ChangedArithmeticOperator => &["change_operator", "swap_operands", "augmented_to_assignment"],
            Pattern::ChangedReturnValue => &["return_wrong_value", "return_none"],
            Pattern::FixedCallArguments => &["drop_call_argument"],
            Pattern::WrongAttributeOrName => &["return_wrong_value", "swap_operands"],
            Pattern::ReorderedStatements => &["shuffle_statements", "shuffle_methods"],
            Pattern::SwappedBranches => &["invert_if_else"],
            Pattern::RestoredOperand => &["break_chain"],
            Pattern::RestoredBaseClass => &["remove_base_class"],
        }
    }

    /// The anchor query (file stem in `queries/python/`) that finds sites for this pattern.
    pub fn anchor(self) -> &'static str {
        self.operators().first().copied().unwrap_or("")
    }

    /// One line: what the fix does.
    pub fn summary(self) -> &'static str {
        match self {
            Pattern::AddedNoneGuard => "add a guard that handles a None value before it is used",
            Pattern::AddedExceptionHandling => {
                "add or restore exception handling (or the context manager) around a failing operation"
            }
            Pattern::ChangedExceptionType => "catch the exception type the code actually raises",
            Pattern::RestoredLoopOrCondition => "restore a missing loop or condition",
            Pattern::RestoredMissingStatement => "restore a missing statement (assignment, call, return)",
            Pattern::ChangedComparison => "correct a comparison operator",
            Pattern::ChangedBooleanOperator => "correct a boolean operator (and / or) or a dropped operand",
            Pattern::NegationChanged => "add or remove a negation",
            Pattern::ChangedStringMethod => "call the right string method",
            Pattern::ChangedLoopControl => "use the right loop control (break / continue)",
            Pattern::ChangedBooleanLiteral => "correct a True / False literal",
            Pattern::OffByOne => "correct an off-by-one constant or bound",
            Pattern::ChangedArithmeticOperator => "correct an arithmetic operator or operand order",
            Pattern::ChangedReturnValue => "return the right value",
            Pattern::FixedCallArguments => "pass the right arguments to a call",
            Pattern::WrongAttributeOrName => "use the right attribute or variable name",
            Pattern::ReorderedStatements => "put statements back in the right order",
            Pattern::SwappedBranches => "put the bodies of an if / else back on the right branches",
            Pattern::RestoredOperand => "restore an operand dropped from an expression",
            Pattern::RestoredBaseClass => "restore a missing base class",
        }
    }
}

/// One fact about the syntax on the changed lines of a hunk side; [`features`] counts them and
/// [`decide`] compares the counts of the two sides.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Feature {
    /// An `if` whose condition tests for None (`is None`, `is not None`, `== None`).
    NoneGuard,
    /// Outermost compound statements starting on a changed line (an `if` that is no None guard).
    If,
    Loop,
    Try,
    With,
    Def,
    /// An `except` clause on a changed line, and the exception type it names.
    Except,
    ExceptType(String),
    /// A base class of a class whose `class` line changed.
    BaseClass(String),
    /// A simple statement on a changed line, and its text without whitespace.
    Statement,
    StatementText(String),
    /// A simple statement inside an `except` clause.
    InExcept,
    /// The changed lines follow an `except` line (a handler body).
    AfterExcept,
    /// A `return` statement's text without whitespace, and the kind of its value (`none` for a
    /// bare `return`).
    Return(String),
    ReturnValue(String),
    /// `break_statement` or `continue_statement`.
    LoopControl(String),
    Comparison(String),
    BooleanOperator(String),
    Not,
    BinaryOperator(String),
    AugmentedOperator(String),
    Assignment,
    /// An integer literal as written.
    Integer(String),
    /// `true` or `false`.
    BooleanLiteral(String),
    NoneLiteral,
    Call,
    Callee(String),
    /// A call's callee and its arguments without whitespace.
    CallArguments {
        callee: String,
        arguments: String,
    },
    /// An attribute that names a string method with a twin (`startswith` / `endswith`, ...).
    StringMethod(String),
    Name(String),
}

/// Feature counts of the syntax on changed lines of one hunk side.
type Features = BTreeMap<Feature, i64>;

fn bump(f: &mut Features, key: Feature) {
    *f.entry(key).or_default() += 1;
}

/// Text without whitespace.
fn squeezed(text: &str) -> String {
    text.split_whitespace().collect()
}

const STATEMENTS: &[&str] = &[
    "expression_statement",
    "return_statement",
    "raise_statement",
    "assert_statement",
    "delete_statement",
    "pass_statement",
    "import_statement",
    "import_from_statement",
    "global_statement",
    "nonlocal_statement",
];

/// Is this an `if` whose condition tests for None (`is None`, `is not None`, `== None`)?
fn is_none_test(cond: Node) -> bool {
    let mut stack = vec![cond];
    while let Some(n) = stack.pop() {
        if n.kind() == "comparison_operator" {
            let mut c = n.walk();
            if n.named_children(&mut c).any(|x| x.kind() == "none") {
                return true;
            }
        }
        let mut c = n.walk();
        stack.extend(n.named_children(&mut c));
    }
    false
}

/// Node kinds that are statements.
fn is_statement(kind: &str) -> bool {
    STATEMENTS.contains(&kind)
        || matches!(
            kind,
            "if_statement"
                | "for_statement"
                | "while_statement"
                | "try_statement"
                | "with_statement"
                | "function_definition"
                | "class_definition"
                | "decorated_definition"
                | "break_statement"
                | "continue_statement"
        )
}

/// Is there an enclosing statement that also starts on a changed line?
fn statement_ancestor_on(n: Node, rows: &[usize]) -> bool {
    let mut p = n.parent();
    while let Some(x) = p {
        if is_statement(x.kind()) && rows.contains(&x.start_position().row) {
            return true;
        }
        p = x.parent();
    }
    false
}

/// Has `n` an ancestor of this kind?
fn inside(n: Node, kind: &str) -> bool {
    let mut p = n.parent();
    while let Some(x) = p {
        if x.kind() == kind {
            return true;
        }
        p = x.parent();
    }
    false
}

/// Summarise the nodes of `src` whose first line is one of `rows`.
fn features(src: &str, rows: &[usize]) -> Features {
    let mut f = Features::new();
    let Ok(tree) = parse_python(src) else { return f };
    let on_changed = |n: Node| rows.contains(&n.start_position().row);
    let mut stack = vec![tree.root_node()];
    while let Some(n) = stack.pop() {
        let mut cursor = n.walk();
        stack.extend(n.children(&mut cursor));
        if n.is_error() || n.is_missing() {
            continue;
        }
        let covered = (n.start_position().row..=n.end_position().row).any(|r| rows.contains(&r));
        if !covered {
            continue;
        }
        let here = on_changed(n);
        // The outermost statement starting on a changed line (not one nested in it).
        let top = here && !statement_ancestor_on(n, rows);
        let text = node_text(n, src);
        match n.kind() {
            "if_statement" if top => {
                let none = n.child_by_field_name("condition").is_some_and(is_none_test);
                bump(&mut f, if none { Feature::NoneGuard } else { Feature::If });
            }
            "for_statement" | "while_statement" if top => bump(&mut f, Feature::Loop),
            "try_statement" if top => bump(&mut f, Feature::Try),
            "with_statement" if top => bump(&mut f, Feature::With),
            "function_definition" if top => bump(&mut f, Feature::Def),
            "except_clause" if here => {
                bump(&mut f, Feature::Except);
                if let Some(v) =
                    n.child_by_field_name("value").or_else(|| n.named_child(0)).filter(|v| v.kind() != "block")
                {
                    bump(&mut f, Feature::ExceptType(node_text(v, src).to_string()));
                }
            }
            "class_definition" if here => {
                if let Some(sc) = n.child_by_field_name("superclasses") {
                    let mut c = sc.walk();
                    for b in sc.named_children(&mut c) {
                        bump(&mut f, Feature::BaseClass(node_text(b, src).to_string()));
                    }
                }
            }
            k if here && STATEMENTS.contains(&k) => {
                bump(&mut f, Feature::Statement);
                if inside(n, "except_clause") {
                    bump(&mut f, Feature::InExcept);
                }
                bump(&mut f, Feature::StatementText(squeezed(text)));
                if k == "return_statement" {
                    bump(&mut f, Feature::Return(squeezed(text)));
                    let value = n.named_child(0).map_or("none", |v| v.kind());
                    bump(&mut f, Feature::ReturnValue(value.to_string()));
                }
            }
            "break_statement" | "continue_statement" if here => {
                bump(&mut f, Feature::LoopControl(n.kind().to_string()))
            }
            "comparison_operator" => {
                let mut c = n.walk();
                for op in n.children_by_field_name("operators", &mut c) {
                    bump(&mut f, Feature::Comparison(node_text(op, src).to_string()));
                }
            }
            "boolean_operator" => {
                if let Some(op) = n.child_by_field_name("operator") {
                    bump(&mut f, Feature::BooleanOperator(node_text(op, src).to_string()));
                }
            }
            "not_operator" => bump(&mut f, Feature::Not),
            "binary_operator" => {
                if let Some(op) = n.child_by_field_name("operator") {
                    bump(&mut f, Feature::BinaryOperator(node_text(op, src).to_string()));
                }
            }
            "augmented_assignment" => {
                if let Some(op) = n.child_by_field_name("operator") {
                    bump(&mut f, Feature::AugmentedOperator(node_text(op, src).to_string()));
                }
            }
            "assignment" => bump(&mut f, Feature::Assignment),
            "integer" => bump(&mut f, Feature::Integer(text.to_string())),
            "true" | "false" => bump(&mut f, Feature::BooleanLiteral(n.kind().to_string())),
            "none" => bump(&mut f, Feature::NoneLiteral),
            "call" => {
                bump(&mut f, Feature::Call);
                let callee = n.child_by_field_name("function").map(|c| node_text(c, src)).unwrap_or("");
                let arguments =
                    n.child_by_field_name("arguments").map(|a| squeezed(node_text(a, src))).unwrap_or_default();
                bump(&mut f, Feature::Callee(callee.to_string()));
                bump(&mut f, Feature::CallArguments { callee: callee.to_string(), arguments });
            }
            "attribute" => {
                if let Some(a) = n.child_by_field_name("attribute") {
                    let name = node_text(a, src);
                    if string_method_twin(name).is_some() {
                        bump(&mut f, Feature::StringMethod(name.to_string()));
                    }
                }
            }
            "identifier" => bump(&mut f, Feature::Name(text.to_string())),
            _ => {}
        }
    }
    f
}

/// Features whose count differs, with new minus old.
fn delta(old: &Features, new: &Features) -> Features {
    let mut d = Features::new();
    for k in old.keys().chain(new.keys()) {
        let v = count(new, k) - count(old, k);
        if v != 0 {
            d.insert(k.clone(), v);
        }
    }
    d
}

fn count(f: &Features, key: &Feature) -> i64 {
    f.get(key).copied().unwrap_or(0)
}

/// Does the difference hold a feature of this kind?
fn changed(d: &Features, kind: impl Fn(&Feature) -> bool) -> bool {
    d.keys().any(kind)
}

fn added(d: &Features, key: &Feature) -> bool {
    count(d, key) > 0
}

fn removed(d: &Features, key: &Feature) -> bool {
    count(d, key) < 0
}

/// The integer literals of a side, each as often as it occurs (in the order of their text).
fn ints(f: &Features) -> Vec<i128> {
    f.iter()
        .filter_map(|(k, n)| match k {
            Feature::Integer(text) => text.replace('_', "").parse::<i128>().ok().map(|v| (v, *n)),
            _ => None,
        })
        .flat_map(|(v, n)| std::iter::repeat_n(v, n.max(0) as usize))
        .collect()
}

/// Is this a one-step change of an integer (or an added `+ 1` / `- 1`)?
fn is_off_by_one(old: &Features, new: &Features, d: &Features) -> bool {
    let (o, n) = (ints(old), ints(new));
    if o.len() == n.len() && !o.is_empty() {
        let mut diffs = o.iter().zip(n.iter()).filter(|(a, b)| a != b);
        if let Some((a, b)) = diffs.next() {
            return diffs.next().is_none() && (a - b).abs() == 1;
        }
    }
    let binop = |op: &str| Feature::BinaryOperator(op.to_string());
    let plus_minus = |f: &Features| count(f, &binop("+")) + count(f, &binop("-"));
    let one_changed = count(d, &Feature::Integer("1".into())).abs() == 1;
    one_changed && (plus_minus(new) - plus_minus(old)).abs() == 1
}

/// The pattern of one hunk's feature difference.
fn decide(old: &Features, new: &Features, order_only: bool) -> Option<Pattern> {
    use Feature as F;
    let d = delta(old, new);
    if order_only {
        return Some(Pattern::ReorderedStatements);
    }
    let structural = changed(&d, |k| !matches!(k, F::StatementText(_) | F::Return(_)));
    if !structural {
        // Same syntax, different order: operands swapped.
        let has_ops =
            |f: &Features| changed(f, |k| matches!(k, F::BinaryOperator(_) | F::Comparison(_) | F::BooleanOperator(_)));
        return (has_ops(old) || has_ops(new)).then_some(Pattern::ChangedArithmeticOperator);
    }
    if added(&d, &F::NoneGuard) {
        return Some(Pattern::AddedNoneGuard);
    }
    let swallowed = removed(&d, &F::StatementText("pass".into()))
        && (new.contains_key(&F::InExcept) || new.contains_key(&F::AfterExcept));
    if added(&d, &F::Try) || added(&d, &F::Except) || added(&d, &F::With) || swallowed {
        return Some(Pattern::AddedExceptionHandling);
    }
    if changed(&d, |k| matches!(k, F::ExceptType(_))) {
        return Some(Pattern::ChangedExceptionType);
    }
    let bases = || d.iter().filter(|(k, _)| matches!(k, F::BaseClass(_)));
    if bases().next().is_some() && bases().all(|(_, v)| *v > 0) {
        return Some(Pattern::RestoredBaseClass);
    }
    if added(&d, &F::Loop) || added(&d, &F::If) {
        return Some(Pattern::RestoredLoopOrCondition);
    }
    if added(&d, &F::Def) {
        return Some(Pattern::RestoredMissingStatement);
    }
    let return_changed = changed(&d, |k| matches!(k, F::Return(_)));
    // `return None` (or a bare `return`) replaced by a real value.
    if removed(&d, &F::ReturnValue("none".into())) && return_changed {
        return Some(Pattern::ChangedReturnValue);
    }
    // Only a condition taken away (no operator makes that bug): not a catalogue pattern.
    let removed_if = removed(&d, &F::If) || removed(&d, &F::NoneGuard);
    if removed_if && !d.iter().any(|(k, v)| matches!(k, F::Comparison(_)) && *v > 0) {
        return None;
    }
    if changed(&d, |k| matches!(k, F::Comparison(_))) {
        return Some(Pattern::ChangedComparison);
    }
    if changed(&d, |k| matches!(k, F::BooleanOperator(_))) {
        return Some(Pattern::ChangedBooleanOperator);
    }
    let not_changed = d.contains_key(&F::Not);
    if not_changed && d.keys().all(|k| matches!(k, F::Not | F::StatementText(_) | F::Return(_))) {
        return Some(Pattern::NegationChanged);
    }
    if changed(&d, |k| matches!(k, F::StringMethod(_))) {
        return Some(Pattern::ChangedStringMethod);
    }
    if changed(&d, |k| matches!(k, F::LoopControl(_))) {
        return Some(Pattern::ChangedLoopControl);
    }
    let literal_changed = changed(&d, |k| matches!(k, F::BooleanLiteral(_)));
    let name_changed = changed(&d, |k| matches!(k, F::Name(_)));
    if literal_changed && !name_changed {
        return Some(Pattern::ChangedBooleanLiteral);
    }
    if is_off_by_one(old, new, &d) {
        return Some(Pattern::OffByOne);
    }
    let operators = || d.iter().filter(|(k, _)| matches!(k, F::BinaryOperator(_)));
    let augmented = changed(&d, |k| matches!(k, F::AugmentedOperator(_)));
    if operators().next().is_some() && operators().all(|(_, v)| *v > 0) && !augmented {
        return Some(Pattern::RestoredOperand);
    }
    if operators().next().is_some() || augmented {
        return Some(Pattern::ChangedArithmeticOperator);
    }
    if not_changed {
        return Some(Pattern::NegationChanged);
    }
    if count(&d, &F::Statement) > 0 {
        return Some(Pattern::RestoredMissingStatement);
    }
    // A callee present on both sides whose arguments changed.
    let callees = |f: &Features| -> std::collections::BTreeSet<String> {
        f.keys()
            .filter_map(|k| match k {
                F::Callee(c) => Some(c.clone()),
                _ => None,
            })
            .collect()
    };
    let both: std::collections::BTreeSet<String> = callees(old).intersection(&callees(new)).cloned().collect();
    if d.keys().any(|k| matches!(k, F::CallArguments { callee, .. } if both.contains(callee))) {
        return Some(Pattern::FixedCallArguments);
    }
    // A returned literal or bare local replaced; an attribute or call changed is a name fix.
    let simple = |f: &Features| {
        f.keys().any(|k| {
            matches!(k, F::ReturnValue(kind) if matches!(
                kind.as_str(),
                "identifier" | "none" | "true" | "false" | "integer" | "float" | "string" | "list" | "dictionary" | "tuple"
            ))
        })
    };
    if return_changed && (simple(old) || simple(new) || !name_changed) {
        return Some(Pattern::ChangedReturnValue);
    }
    if name_changed || changed(&d, |k| matches!(k, F::Call | F::Callee(_) | F::CallArguments { .. })) {
        return Some(Pattern::WrongAttributeOrName);
    }
    if literal_changed || changed(&d, |k| matches!(k, F::Integer(_))) {
        return Some(Pattern::ChangedReturnValue);
    }
    None
}

/// The pattern of one hunk, if one fits.
pub fn classify_hunk(h: &Hunk) -> Option<Pattern> {
    let (old_side, new_side) = (h.old_side(), h.new_side());
    if old_side.changed.is_empty() && new_side.changed.is_empty() {
        return None;
    }
    let new_src = dedent(&new_side.lines);
    let mut old = side_features(&old_side.lines, &old_side.changed);
    let mut new = side_features(&new_side.lines, &new_side.changed);
    clause_features(&old_side.lines, &old_side.changed, &mut old);
    clause_features(&new_side.lines, &new_side.changed, &mut new);
    if order_only(&changed_lines(&old_side), &changed_lines(&new_side)) {
        let swapped = swaps_branches(&new_src, &new_side.changed) || else_between(&new_side.lines, &new_side.changed);
        return Some(if swapped { Pattern::SwappedBranches } else { Pattern::ReorderedStatements });
    }
    decide(&old, &new, false)
}

/// Features of one hunk side. Leading context lines that break the parse (the end of a
/// docstring, the middle of a bracket) are dropped, up to the first changed line.
fn side_features(lines: &[String], changed: &[usize]) -> Features {
    let first = changed.first().copied().unwrap_or(0);
    for skip in 0..=first {
        let Some(rest) = lines.get(skip..) else { break };
        let src = dedent(rest);
        if parse_python(&src).is_ok_and(|t| !t.root_node().has_error()) {
            let rows: Vec<usize> = changed.iter().map(|r| r - skip).collect();
            return features(&src, &rows);
        }
    }
    features(&dedent(lines), changed)
}

/// The trimmed, non-blank changed lines of a hunk side.
fn changed_lines(side: &Side) -> Vec<String> {
    side.changed
        .iter()
        .filter_map(|i| side.lines.get(*i))
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// The same lines removed and added, only in another order.
fn order_only(old: &[String], new: &[String]) -> bool {
    let (mut a, mut b) = (old.to_vec(), new.to_vec());
    a.sort();
    b.sort();
    !a.is_empty() && a == b
}

/// Is there an `else:` line between the first and the last changed row (a hunk cut out of a
/// larger if / else that tree-sitter cannot see whole)?
fn else_between(lines: &[String], changed: &[usize]) -> bool {
    match (changed.first(), changed.last()) {
        (Some(a), Some(b)) => lines.iter().take(*b).skip(*a).any(|l| l.trim() == "else:"),
        _ => false,
    }
}

/// Do the changed rows fall in both the `if` body and the `else` body of one if statement?
fn swaps_branches(src: &str, rows: &[usize]) -> bool {
    let Ok(tree) = parse_python(src) else { return false };
    let mut stack = vec![tree.root_node()];
    let touches = |n: Node| (n.start_position().row..=n.end_position().row).any(|r| rows.contains(&r));
    while let Some(n) = stack.pop() {
        if n.kind() == "if_statement" {
            let body = n.child_by_field_name("consequence");
            let mut c = n.walk();
            let alt = n.children_by_field_name("alternative", &mut c).find(|a| a.kind() == "else_clause");
            if let (Some(b), Some(a)) = (body, alt) {
                if touches(b) && touches(a) {
                    return true;
                }
            }
        }
        let mut c = n.walk();
        stack.extend(n.named_children(&mut c));
    }
    false
}

/// `except` lines parse only after a `try`: give each changed one its own `try` and read its
/// exception type; note when the changed lines follow an `except` line (a handler body).
fn clause_features(lines: &[String], changed: &[usize], f: &mut Features) {
    for &row in changed {
        let Some(line) = lines.get(row).map(|l| l.trim()) else { continue };
        if line.starts_with("except") && line.ends_with(':') {
            let src = format!("try:\n    pass\n{line}\n    pass\n");
            let Ok(tree) = parse_python(&src) else { continue };
            let mut stack = vec![tree.root_node()];
            while let Some(n) = stack.pop() {
                if n.kind() == "except_clause" {
                    let mut c = n.walk();
                    let value = n.named_children(&mut c).find(|v| v.kind() != "block" && v.kind() != "comment");
                    if let Some(v) = value {
                        let key = Feature::ExceptType(node_text(v, &src).to_string());
                        if !f.contains_key(&key) {
                            bump(f, key);
                        }
                    }
                }
                let mut c = n.walk();
                stack.extend(n.named_children(&mut c));
            }
        }
    }
    if let Some(first) = changed.first() {
        let before = lines.iter().take(*first).rev().find(|l| !l.trim().is_empty());
        if before.is_some_and(|l| l.trim_start().starts_with("except")) {
            bump(f, Feature::AfterExcept);
        }
    }
}

/// The patterns of a patch's Python hunks, the most frequent first (ties: decision order).
pub fn classify_patch(patch: &str) -> Vec<Pattern> {
    let mut counts: BTreeMap<Pattern, usize> = BTreeMap::new();
    let files = Patch::parse(patch).map(|p| p.files).unwrap_or_default();
    for f in &files {
        let path = f.path().unwrap_or_default();
        if !path.is_empty() && !path.ends_with(".py") {
            continue;
        }
        if is_test_path(&path) {
            continue;
        }
        // A block moved from one hunk to another: the file's changes are a reordering.
        let removed: Vec<String> = f.hunks.iter().flat_map(|h| changed_lines(&h.old_side())).collect();
        let added_lines: Vec<String> = f.hunks.iter().flat_map(|h| changed_lines(&h.new_side())).collect();
        if f.hunks.len() > 1 && order_only(&removed, &added_lines) {
            *counts.entry(Pattern::ReorderedStatements).or_default() += 1;
            continue;
        }
        for h in &f.hunks {
            if let Some(p) = classify_hunk(h) {
                *counts.entry(p).or_default() += 1;
            }
        }
    }
    let mut v: Vec<(Pattern, usize)> = counts.into_iter().collect();
    let rank = |p: &Pattern| ALL.iter().position(|q| q == p).unwrap_or(usize::MAX);
    v.sort_by(|a, b| b.1.cmp(&a.1).then(rank(&a.0).cmp(&rank(&b.0))));
    v.into_iter().map(|(p, _)| p).collect()
}

/// Test files do not say what the repair was.
fn is_test_path(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    path.split('/').any(|s| s == "tests" || s == "test") || name.starts_with("test_") || name.ends_with("_test.py")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::unified_diff;

    /// A real before/after pair of `m.py` classifies as `expect` (primary pattern).
    fn check(before: &str, after: &str, expect: Pattern) {
        let patch = unified_diff("pkg/m.py", before, after);
        let got = classify_patch(&patch);
        assert_eq!(got.first().copied(), Some(expect), "patch:\n{patch}\nall: {got:?}");
    }

    #[test]
    fn none_guard() {
        check(
            "def size(items):\n    total = 0\n    return len(items)\n",
            "def size(items):\n    total = 0\n    if items is None:\n        return 0\n    return len(items)\n",
            Pattern::AddedNoneGuard,
        );
    }

    #[test]
    fn comparison_and_boolean_and_negation() {
        check(
            "def f(a, b):\n    if a < b:\n        return a\n    return b\n",
            "def f(a, b):\n    if a <= b:\n        return a\n    return b\n",
            Pattern::ChangedComparison,
        );
        check(
            "def f(a, b):\n    return a and b\n",
            "def f(a, b):\n    return a or b\n",
            Pattern::ChangedBooleanOperator,
        );
        check(
            "def f(a):\n    if a.empty():\n        return 1\n",
            "def f(a):\n    if not a.empty():\n        return 1\n",
            Pattern::NegationChanged,
        );
    }

    #[test]
    fn constants_operators_literals() {
        check(
            "def f(xs):\n    for i in range(len(xs) - 1):\n        print(i)\n",
            "def f(xs):\n    for i in range(len(xs)):\n        print(i)\n",
            Pattern::OffByOne,
        );
        check("def f(xs):\n    return xs[:3]\n", "def f(xs):\n    return xs[:4]\n", Pattern::OffByOne);
        check(
            "def area(w, h):\n    return w + h\n",
            "def area(w, h):\n    return w * h\n",
            Pattern::ChangedArithmeticOperator,
        );
        check(
            "def f():\n    strict = False\n    return strict\n",
            "def f():\n    strict = True\n    return strict\n",
            Pattern::ChangedBooleanLiteral,
        );
        check("def f(s):\n    return s.lower()\n", "def f(s):\n    return s.upper()\n", Pattern::ChangedStringMethod);
        check(
            "def f(xs):\n    for x in xs:\n        if x:\n            continue\n",
            "def f(xs):\n    for x in xs:\n        if x:\n            break\n",
            Pattern::ChangedLoopControl,
        );
    }

    #[test]
    fn exceptions() {
        check(
            "def load(p):\n    data = read(p)\n    return data\n",
            "def load(p):\n    try:\n        data = read(p)\n    except OSError:\n        data = None\n    return data\n",
            Pattern::AddedExceptionHandling,
        );
        check(
            "def load(p):\n    try:\n        return read(p)\n    except KeyError:\n        return None\n",
            "def load(p):\n    try:\n        return read(p)\n    except ValueError:\n        return None\n",
            Pattern::ChangedExceptionType,
        );
        check(
            "def load(p):\n    try:\n        return read(p)\n    except KeyError:\n        pass\n",
            "def load(p):\n    try:\n        return read(p)\n    except KeyError:\n        raise LoadError(p)\n",
            Pattern::AddedExceptionHandling,
        );
    }

    #[test]
    fn statements_returns_calls_names() {
        check(
            "def f(x):\n    y = x * 2\n    return x\n",
            "def f(x):\n    y = x * 2\n    return y\n",
            Pattern::ChangedReturnValue,
        );
        check("def f(x):\n    return None\n", "def f(x):\n    return x\n", Pattern::ChangedReturnValue);
        check(
            "def f(x):\n    total = 0\n    return total\n",
            "def f(x):\n    total = 0\n    total = x.count()\n    return total\n",
            Pattern::RestoredMissingStatement,
        );
        check(
            "def f(x):\n    return fmt(x, None)\n",
            "def f(x):\n    return fmt(x, width=3)\n",
            Pattern::FixedCallArguments,
        );
        check(
            "def f(self):\n    return self.nam\n",
            "def f(self):\n    return self.name\n",
            Pattern::WrongAttributeOrName,
        );
        check(
            "def f(xs):\n    out = []\n    return out\n",
            "def f(xs):\n    out = []\n    for x in xs:\n        out.append(x)\n    return out\n",
            Pattern::RestoredLoopOrCondition,
        );
        check("class A:\n    pass\n", "class A(Base):\n    pass\n", Pattern::RestoredBaseClass);
        check(
            "def f(t):\n    return re.sub(r'[a-z]+', '-', t)\n",
            "def f(t):\n    return re.sub(r'[a-z0-9]+', '-', t)\n",
            Pattern::FixedCallArguments,
        );
        check(
            "def f(a, b):\n    return a - b\n",
            "def f(a, b):\n    return b - a\n",
            Pattern::ChangedArithmeticOperator,
        );
    }

    #[test]
    fn a_removed_condition_is_no_catalogue_pattern() {
        let p = unified_diff(
            "m.py",
            "def f(s):\n    if s == t:\n        return s\n    return g(s)\n",
            "def f(s):\n    return g(s)\n",
        );
        assert_eq!(classify_patch(&p), vec![]);
    }

    #[test]
    fn tests_and_non_python_are_ignored() {
        let p =
            unified_diff("tests/test_m.py", "def test_a():\n    assert 1 < 2\n", "def test_a():\n    assert 1 <= 2\n");
        assert!(classify_patch(&p).is_empty());
        assert!(classify_patch("garbage\n@@ nonsense").is_empty());
    }

    #[test]
    fn every_pattern_names_catalogue_operators_and_a_query() {
        let queries = crate::anchor::QuerySet::embedded();
        for p in ALL {
            assert!(!p.operators().is_empty(), "{p:?}");
            for op in p.operators() {
                assert!(crate::operators::operator(op).is_some(), "{p:?}: {op}");
            }
            assert!(queries.get(p.anchor()).is_some(), "{p:?} anchor");
            assert_eq!(Pattern::from_name(p.name()), Some(*p));
        }
    }
}
