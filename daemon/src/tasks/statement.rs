//! Draft problem statements: name the entry point and the behaviour area, never the change.
//!
//! In: the operator name, the enclosing dotted name and the file. Out: one or two sentences a
//! user could have written in an issue. Pure.

use crate::anchor::syntax::MODULE_SCOPE;

/// The behaviour area an operator's bug shows up in.
fn symptom(operator: &str) -> &'static str {
    match operator {
        "swallow_exception" | "wrong_exception_type" => "handles some error cases incorrectly",
        "remove_none_guard" => "misbehaves for some edge-case inputs",
        "remove_base_class" | "remove_method" | "shuffle_methods" => "no longer behaves as documented for some uses",
        "swap_break_continue" | "remove_loop" | "off_by_one" => "processes some inputs incorrectly",
        "remove_wrapper" => "misbehaves in some situations",
        _ => "returns wrong results for some inputs",
    }
}

/// A draft statement, e.g. "`Ledger.balance` in `tallyho/ledger.py` returns wrong results
/// for some inputs."
pub fn draft(operator: &str, enclosing: &str, file: &str) -> String {
    let subject = if enclosing.is_empty() || enclosing == MODULE_SCOPE {
        format!("Module-level code in `{file}`")
    } else {
        format!("`{enclosing}` in `{file}`")
    };
    format!("{subject} {}. It worked as expected before; the existing behaviour should be restored.", symptom(operator))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_entry_point_not_change() {
        let s = draft("change_operator", "Ledger.balance", "tallyho/ledger.py");
        assert!(s.starts_with("`Ledger.balance` in `tallyho/ledger.py` returns wrong results for some inputs."), "{s}");
        for op in crate::operators::CATALOGUE {
            let s = draft(op.name, "f", "m.py");
            assert!(!s.contains(op.name) && !s.contains('<') && !s.contains("TODO"), "{s}");
        }
        assert!(draft("remove_loop", MODULE_SCOPE, "m.py").starts_with("Module-level code in `m.py`"));
    }
}
