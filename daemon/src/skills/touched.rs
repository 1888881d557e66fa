//! What a patch touches: its files and, read by tree-sitter, its functions and classes.
//!
//! In: the text of a unified diff (parsed by [`crate::diff`]). Out: the paths it changes, the
//! `path::name` of each definition a hunk changes (the innermost `def` / `class` around a
//! changed line, else the one named in the hunk header), and hunk sides dedented into Python
//! fragments. Pure; a patch that does not parse touches nothing.

use crate::anchor::parse_python;
use crate::anchor::syntax::definition_name;
use crate::diff::{Patch, Side};
use std::collections::BTreeSet;

/// The files a patch touches.
pub fn files(patch: &str) -> BTreeSet<String> {
    Patch::parse(patch).map(|p| p.paths()).unwrap_or_default()
}

/// Remove the common leading indentation of non-blank lines, so a hunk from inside a function
/// body parses as a module-level fragment.
pub fn dedent(lines: &[String]) -> String {
    let indent =
        lines.iter().filter(|l| !l.trim().is_empty()).map(|l| l.len() - l.trim_start().len()).min().unwrap_or(0);
    let mut out = String::new();
    for l in lines {
        out.push_str(l.get(indent..).unwrap_or(l.trim_start()));
        out.push('\n');
    }
    out
}

/// The functions and classes a patch touches, as `path::name`: the definition named in each
/// hunk header, and the definitions inside the hunk that contain a changed line.
pub fn functions(patch: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let Ok(patch) = Patch::parse(patch) else { return out };
    for f in &patch.files {
        let path = f.path().unwrap_or_default();
        for h in &f.hunks {
            let mut names: Vec<String> = Vec::new();
            for side in [h.old_side(), h.new_side()] {
                names.extend(enclosing_definitions(&side));
            }
            if names.is_empty() {
                names.extend(section_definition(&h.section));
            }
            for n in names {
                out.insert(format!("{path}::{n}"));
            }
        }
    }
    out
}

/// The `def` / `class` name in a hunk header's section text, read by tree-sitter.
fn section_definition(section: &str) -> Option<String> {
    let line = section.trim();
    if line.is_empty() {
        return None;
    }
    let src = format!("{line}\n    pass\n");
    let tree = parse_python(&src).ok()?;
    let mut cursor = tree.root_node().walk();
    let first = tree
        .root_node()
        .named_children(&mut cursor)
        .find(|n| matches!(n.kind(), "function_definition" | "class_definition" | "decorated_definition"))?;
    let def = if first.kind() == "decorated_definition" { first.child_by_field_name("definition")? } else { first };
    definition_name(def, &src).map(str::to_string)
}

/// Names of the innermost definitions in a hunk side that contain a changed line.
fn enclosing_definitions(side: &Side) -> Vec<String> {
    if side.changed.is_empty() {
        return Vec::new();
    }
    let src = dedent(&side.lines);
    let Ok(tree) = parse_python(&src) else { return Vec::new() };
    let mut out = Vec::new();
    for &row in &side.changed {
        let mut best: Option<String> = None;
        let mut stack = vec![tree.root_node()];
        while let Some(node) = stack.pop() {
            if node.start_position().row > row || node.end_position().row < row {
                continue;
            }
            if matches!(node.kind(), "function_definition" | "class_definition") && node.start_position().row != row {
                if let Some(n) = definition_name(node, &src) {
                    best = Some(n.to_string());
                }
            }
            let mut cursor = node.walk();
            stack.extend(node.named_children(&mut cursor));
        }
        if let Some(b) = best {
            if !out.contains(&b) {
                out.push(b);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATCH: &str = "diff --git a/pkg/m.py b/pkg/m.py\n--- a/pkg/m.py\n+++ b/pkg/m.py\n@@ -10,3 +10,3 @@ class Box:\n     def area(self, w, h):\n-        return w + h\n+        return w * h\n \n";

    fn check(patch: &str, expect: (&[&str], &[&str])) {
        let files: Vec<String> = files(patch).into_iter().collect();
        let funcs: Vec<String> = functions(patch).into_iter().collect();
        assert_eq!(files, expect.0, "files of\n{patch}");
        assert_eq!(funcs, expect.1, "functions of\n{patch}");
    }

    #[test]
    fn files_and_functions() {
        check(PATCH, (&["pkg/m.py"], &["pkg/m.py::area"]));
        let header_only = "--- a/x.py\n+++ b/x.py\n@@ -3 +3 @@ def scale(v):\n-    return v\n+    return v * 2\n";
        check(header_only, (&["x.py"], &["x.py::scale"]));
        // A hunk whose counts disagree with its lines is malformed: nothing is read from it.
        check(&header_only.replace("-3 +3", "-3,2 +3,2"), (&[], &[]));
        check("not a diff", (&[], &[]));
        let deleted = "diff --git a/gone.py b/gone.py\ndeleted file mode 100644\n--- a/gone.py\n+++ /dev/null\n@@ -1,2 +0,0 @@\n-def f():\n-    pass\n";
        check(deleted, (&["gone.py"], &["gone.py::f"]));
    }

    #[test]
    fn hunk_sides_dedent_to_module_level() {
        let patch = Patch::parse(PATCH).unwrap();
        let new = patch.files[0].hunks[0].new_side();
        assert_eq!(dedent(&new.lines), "def area(self, w, h):\n    return w * h\n\n");
    }
}
