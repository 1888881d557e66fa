//! Candidate one-line repairs for the LM Solver's constrained decoding (`--decode candidates`).
//!
//! In: a Python file's text, its path, the code of the function the lines are in, and the
//! 1-based lines fault localisation ranked. Out: every distinct one-line change of those lines
//! that the catalogue's self-inverse operators (`REPAIR_OPERATORS`, each at each of its sites on
//! those lines, with several seeds for the operators that choose at random) or the inverse rules
//! make, each as the changed line and its minimal `OLD => NEW` edit
//! (`crate::train::data::LineEdit`). These operators undo themselves (a comparison negated, a
//! literal flipped, an operator changed within its family, a constant moved by one); operators
//! that only delete (an argument dropped, a value made `None`, an operand or a `not` removed)
//! are left out, as a repair rarely deletes. The textual rules add the inverses the catalogue
//! lacks: `not` inserted into a condition (of `remove_not`), an assignment made augmented (of
//! `augmented_to_assignment`), a returned name or literal replaced by another name of the
//! function or `True` / `False` / `None` (of `return_none` and `return_wrong_value`), true and
//! floor division swapped, and an exception type replaced by any other the file names. The model
//! only ranks them (`crate::engine::lm_solver`). What the candidates cannot reach (a dropped
//! argument, a `return None` whose expression is gone) no ranking can fix: the Solver reports
//! how often the fix is among them. Pure: no IO.

use crate::anchor::{FileIndex, QuerySet};
use crate::operators::{self, SITE_CAPTURE};
use crate::train::data::{AnswerFormat, LineEdit};
use std::collections::{BTreeMap, BTreeSet};

/// The catalogue's operators whose rewrite can undo a one-line mutation (each undoes itself;
/// `return_wrong_value` also undoes `return_none` when the value was a name).
pub const REPAIR_OPERATORS: &[&str] = &[
    "flip_comparison",
    "swap_boolean_operator",
    "flip_boolean_literal",
    "change_constant",
    "change_operator",
    "swap_operands",
    "off_by_one",
    "swap_string_method",
    "swap_break_continue",
    "wrong_exception_type",
    "return_wrong_value",
];

/// Seeds tried per operator and site (operators that pick among several rewrites: an
/// exception type among eight, an operator within its family).
const SEEDS: u64 = 16;

/// One candidate: line `line` (1-based) would read `new_line`, the edit `edit` of its old text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CandidateEdit {
    pub line: u32,
    pub new_line: String,
    pub edit: LineEdit,
}

impl CandidateEdit {
    /// The answer this candidate stands for in a marked-line answer format, ending with its
    /// newline as training targets do: `OLD => NEW` (`edit`) or the new line (`line`).
    pub fn answer(&self, format: AnswerFormat) -> String {
        match format {
            AnswerFormat::Edit => self.edit.answer(),
            _ => format!("{}\n", self.new_line),
        }
    }
}

/// The distinct one-line changes of `lines` in `source` (path `path`), in line order and then
/// by the new text; `scope` is the code of the function they are in (its parameters and
/// assigned names are what a `return` may have returned). Changes that would not parse are
/// left out (the catalogue checks its own).
pub fn one_line_edits(path: &str, source: &str, scope: &str, lines: &BTreeSet<u32>) -> Vec<CandidateEdit> {
    let queries = QuerySet::embedded();
    let Ok(index) = FileIndex::new(path, source.to_string(), &queries) else {
        return Vec::new();
    };
    let old_lines: Vec<&str> = source.lines().collect();
    let mut out: BTreeMap<(u32, String), LineEdit> = BTreeMap::new();
    let mut add = |mutated: &str| {
        if let Some((line, new_line)) = single_changed_line(&old_lines, mutated) {
            if lines.contains(&line) {
                let old = old_lines[line as usize - 1];
                if let Some(edit) = LineEdit::between(old, &new_line) {
                    out.entry((line, new_line)).or_insert(edit);
                }
            }
        }
    };
    for site in &index.sites {
        let on_lines = (site.start_line..=site.end_line).any(|l| lines.contains(&(l as u32 + 1)));
        if site.capture != SITE_CAPTURE || !on_lines || !REPAIR_OPERATORS.contains(&site.query.as_str()) {
            continue;
        }
        let Some(op) = operators::operator(&site.query) else { continue };
        for seed in 0..SEEDS {
            if let Ok(mutated) = operators::mutate(op, source, index.tree(), site, seed) {
                add(&mutated);
            }
        }
    }
    let names = scope_names(scope);
    let exceptions = exception_names(source);
    for &line in lines {
        let Some(old) = old_lines.get(line as usize - 1) else { continue };
        let rewrites = with_not(old)
            .into_iter()
            .chain(augmented(old))
            .chain(divisions(old))
            .chain(other_returns(old, &names))
            .chain(other_exceptions(old, &exceptions));
        for new_line in rewrites {
            let mutated = replace_line(&old_lines, line, &new_line);
            if operators::validate(source, &mutated).is_ok() {
                add(&mutated);
            }
        }
    }
    out.into_iter().map(|((line, new_line), edit)| CandidateEdit { line, new_line, edit }).collect()
}

/// The only line `mutated` changes (1-based, and its new text), when it changes exactly one and
/// keeps the line count.
fn single_changed_line(old_lines: &[&str], mutated: &str) -> Option<(u32, String)> {
    let new_lines: Vec<&str> = mutated.lines().collect();
    if new_lines.len() != old_lines.len() {
        return None;
    }
    let mut changed = old_lines.iter().zip(&new_lines).enumerate().filter(|(_, (a, b))| a != b);
    let (at, (_, new)) = changed.next()?;
    if changed.next().is_some() {
        return None;
    }
    Some((at as u32 + 1, new.to_string()))
}

/// The inverse of `remove_not`, which the catalogue lacks: `if c:` → `if not c:` (also `elif`,
/// `while`, `return c`), and `a and b` → `a and not b` (also `or`), once per operator.
fn with_not(line: &str) -> Vec<String> {
    let mut out: Vec<String> = negated_condition(line).into_iter().collect();
    for op in [" and ", " or "] {
        for (at, _) in line.match_indices(op) {
            let after = at + op.len();
            if !line[after..].starts_with("not ") {
                out.push(format!("{}not {}", &line[..after], &line[after..]));
            }
        }
    }
    out
}

/// `if c:` → `if not c:` (also `elif`, `while`, `return c`). `None` when the line has no such
/// condition or already negates it.
fn negated_condition(line: &str) -> Option<String> {
    let body = line.trim_start();
    let indent = &line[..line.len() - body.len()];
    ["if ", "elif ", "while ", "return "].iter().find_map(|kw| {
        let rest = body.strip_prefix(kw)?;
        let block = *kw != "return ";
        if rest.starts_with("not ") || rest.trim().is_empty() || (block && !rest.trim_end().ends_with(':')) {
            return None;
        }
        Some(format!("{indent}{kw}not {rest}"))
    })
}

/// True and floor division swapped, once per operator: `a / b` ↔ `a // b`.
fn divisions(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (from, to) in [(" / ", " // "), (" // ", " / ")] {
        for (at, _) in line.match_indices(from) {
            out.push(format!("{}{to}{}", &line[..at], &line[at + from.len()..]));
        }
    }
    out
}

/// The inverse of `augmented_to_assignment`: `x = y` → `x += y`, `x -= y`, `x |= y`.
fn augmented(line: &str) -> Vec<String> {
    let body = line.trim_start();
    let Some(at) = body.find(" = ") else { return Vec::new() };
    let target = &body[..at];
    if !target.chars().all(|c| c.is_alphanumeric() || "_.[]'\"".contains(c)) || target.is_empty() {
        return Vec::new();
    }
    let indent = &line[..line.len() - body.len()];
    ["+=", "-=", "|="].iter().map(|op| format!("{indent}{target} {op} {}", &body[at + 3..])).collect()
}

/// Of `return_none` and `return_wrong_value`: `return x` (a name, or `None`) → `return y` for
/// every other name of the function, and `True`, `False` and `None`.
fn other_returns(line: &str, names: &[String]) -> Vec<String> {
    let body = line.trim_start();
    let Some(value) = body.strip_prefix("return ").map(str::trim) else { return Vec::new() };
    if !is_name(value) {
        return Vec::new();
    }
    let indent = &line[..line.len() - body.len()];
    let literals = ["True", "False", "None"].map(String::from);
    names.iter().chain(&literals).filter(|n| n.as_str() != value).map(|n| format!("{indent}return {n}")).collect()
}

/// Of `wrong_exception_type` for types the catalogue does not swap in: each exception name in
/// an `except` line → every other exception type the file names.
fn other_exceptions(line: &str, exceptions: &BTreeSet<String>) -> Vec<String> {
    if !line.trim_start().starts_with("except") {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (current, at) in exceptions.iter().filter_map(|e| word_at(line, e).map(|at| (e, at))) {
        for other in exceptions.iter().filter(|e| *e != current) {
            out.push(format!("{}{other}{}", &line[..at], &line[at + current.len()..]));
        }
    }
    out
}

/// The function's parameters (not `self` or `cls`) and the names it assigns or loops over, in
/// order of first appearance, at most 12.
fn scope_names(scope: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |n: &str| {
        let n = n.trim().trim_start_matches('*');
        let n = n.split([':', '=']).next().unwrap_or("").trim();
        if is_name(n) && n != "self" && n != "cls" && n != "None" && !out.iter().any(|o| o == n) && out.len() < 12 {
            out.push(n.to_string());
        }
    };
    if let (Some(open), Some(close)) = (scope.find('('), scope.find("):").or_else(|| scope.find(") ->"))) {
        if open < close {
            scope[open + 1..close].split(',').for_each(&mut push);
        }
    }
    for line in scope.lines().skip(1) {
        let body = line.trim_start();
        if let Some(rest) = body.strip_prefix("for ") {
            rest.split(" in ").next().unwrap_or("").split(',').for_each(&mut push);
        } else if let Some(at) = body.find(" = ") {
            body[..at].split(',').for_each(&mut push);
        }
    }
    out
}

/// Exception type names in `source`: the catalogue's and every `…Error` / `…Exception` /
/// `…Warning` name the file mentions.
fn exception_names(source: &str) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = operators::EXCEPTION_TYPES.iter().map(|s| s.to_string()).collect();
    for word in source.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
        let typed = ["Error", "Exception", "Warning"].iter().any(|s| word.ends_with(s));
        if typed && word.starts_with(|c: char| c.is_ascii_uppercase()) {
            out.insert(word.to_string());
        }
    }
    out
}

fn is_name(s: &str) -> bool {
    s.starts_with(|c: char| c.is_alphabetic() || c == '_') && s.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// Where `word` first occurs in `line` as a whole word.
fn word_at(line: &str, word: &str) -> Option<usize> {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    line.match_indices(word).map(|(at, _)| at).find(|&at| {
        let before = line[..at].chars().next_back().is_none_or(|c| !is_word(c));
        let after = line[at + word.len()..].chars().next().is_none_or(|c| !is_word(c));
        before && after
    })
}

fn replace_line(old_lines: &[&str], line: u32, new_line: &str) -> String {
    let mut out: Vec<&str> = old_lines.to_vec();
    out[line as usize - 1] = new_line;
    let mut text = out.join("\n");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(ls: &[u32]) -> BTreeSet<u32> {
        ls.iter().copied().collect()
    }

    fn reads(cands: &[CandidateEdit], line: u32, text: &str) -> bool {
        cands.iter().any(|c| c.line == line && c.new_line == text)
    }

    #[test]
    fn the_inverse_of_each_one_line_mutation_is_a_candidate() {
        let src = "def f(a, b, xs):\n    if a >= b:\n        return True\n    try:\n        return xs[a + 1]\n    except KeyError:\n        return None\n";
        let c = one_line_edits("m.py", src, src, &lines(&[2, 3, 5, 6]));
        assert!(reads(&c, 2, "    if a < b:"), "comparison negated back: {c:#?}");
        assert!(reads(&c, 2, "    if not a >= b:"), "not inserted");
        assert!(reads(&c, 3, "        return False"), "literal flipped back");
        assert!(reads(&c, 5, "        return xs[a - 1]") || reads(&c, 5, "        return xs[a]"), "{c:#?}");
        assert!(reads(&c, 6, "    except IndexError:"), "exception type changed back: {c:#?}");
        assert!(c.iter().all(|x| [2, 3, 5, 6].contains(&x.line)), "only the ranked lines");
        let edit = &c.iter().find(|x| x.line == 3 && x.new_line.ends_with("False")).unwrap().edit;
        assert_eq!(edit.answer(), "True => False\n", "answered in the edit format training uses");
        let distinct: BTreeSet<(u32, &str)> = c.iter().map(|x| (x.line, x.new_line.as_str())).collect();
        assert_eq!(distinct.len(), c.len(), "no duplicates");
    }

    #[test]
    fn lines_outside_the_set_and_unparsable_files_give_nothing() {
        let src = "def f(a, b):\n    return a <= b\n";
        assert!(one_line_edits("m.py", src, src, &lines(&[1])).is_empty(), "the def line has no candidate");
        assert!(!one_line_edits("m.py", src, src, &lines(&[2])).is_empty());
        assert!(one_line_edits("m.py", "def (:\n", "", &lines(&[1])).is_empty());
        let call = "def f(a, b):\n    return g(a, b)\n";
        let c = one_line_edits("m.py", call, call, &lines(&[2]));
        assert!(!c.iter().any(|x| x.new_line.contains("g(a)") || x.new_line.contains("None, b")), "deletions: {c:#?}");
        assert_eq!(with_not("    while x:"), ["    while not x:"]);
        assert_eq!(with_not("    if not x:"), Vec::<String>::new());
        assert_eq!(with_not("    return"), Vec::<String>::new());
        assert_eq!(
            with_not("    if a and b or not c:"),
            ["    if not a and b or not c:", "    if a and not b or not c:"]
        );
        assert_eq!(divisions("m = n / 2 // k"), ["m = n // 2 // k", "m = n / 2 / k"]);
    }

    #[test]
    fn the_textual_rules_undo_what_the_catalogue_cannot() {
        let src = "class BadKeyError(Exception):\n    pass\n\ndef f(a, b=1, *rest):\n    total = a\n    total = b\n    try:\n        return None\n    except KeyError:\n        return a\n";
        let c = one_line_edits("m.py", src, &src[src.find("def").unwrap()..], &lines(&[6, 8, 9]));
        assert!(reads(&c, 6, "    total += b") && reads(&c, 6, "    total -= b"), "augmented: {c:#?}");
        for name in ["a", "b", "rest", "total"] {
            assert!(reads(&c, 8, &format!("        return {name}")), "return {name}: {c:#?}");
        }
        assert!(reads(&c, 9, "    except BadKeyError:") && reads(&c, 9, "    except ValueError:"), "{c:#?}");
        assert_eq!(
            scope_names("def g(self, x: int = 0, **kw) -> int:\n    for i, j in x:\n        y = i\n"),
            ["x", "kw", "i", "j", "y"]
        );
        assert_eq!(word_at("except KeyErrors, KeyError:", "KeyError"), Some(18));
    }
}
