//! Unified diffs read without the repository: files, hunks, and each hunk's old and new side.
//!
//! In: the text of a unified diff (`diff --git` or plain `---`/`+++`). Out: [`FilePatch`]es with
//! their [`Hunk`]s (old / new side text, which lines of each side changed, the function named in
//! the hunk header), the functions a patch touches (tree-sitter over the header and the hunk),
//! and the reverse of a patch. Pure; malformed input yields fewer hunks, never a panic.

use crate::anchor::parse_python;
use crate::anchor::syntax::definition_name;
use std::collections::BTreeSet;

/// One hunk: both sides reconstructed from context, `-` and `+` lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hunk {
    /// 1-based first line of the old side, from the header.
    pub old_start: usize,
    pub new_start: usize,
    /// Text after the second `@@` (git puts the enclosing `def` / `class` line there).
    pub section: String,
    pub old_lines: Vec<String>,
    pub new_lines: Vec<String>,
    /// 0-based indexes into `old_lines` / `new_lines` of the removed / added lines.
    pub old_changed: Vec<usize>,
    pub new_changed: Vec<usize>,
}

/// One file of a patch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilePatch {
    /// The new path (the old one for a deletion), without `a/` / `b/`.
    pub path: String,
    pub hunks: Vec<Hunk>,
}

fn strip_prefix_path(p: &str) -> String {
    let p = p.split('\t').next().unwrap_or(p).trim();
    p.strip_prefix("a/").or_else(|| p.strip_prefix("b/")).unwrap_or(p).to_string()
}

/// `@@ -a,b +c,d @@ section` -> (a, c, section).
fn hunk_header(line: &str) -> Option<(usize, usize, String)> {
    let rest = line.strip_prefix("@@ ")?;
    let end = rest.find(" @@")?;
    let ranges = &rest[..end];
    let section = rest.get(end + 3..).unwrap_or("").trim().to_string();
    let mut parts = ranges.split_whitespace();
    let old = parts.next()?.strip_prefix('-')?;
    let new = parts.next()?.strip_prefix('+')?;
    let start = |r: &str| r.split(',').next().and_then(|n| n.parse::<usize>().ok());
    Some((start(old)?, start(new)?, section))
}

/// Parse a unified diff. Lines outside hunks (`index`, mode lines, ...) are skipped.
pub fn parse(patch: &str) -> Vec<FilePatch> {
    let mut files: Vec<FilePatch> = Vec::new();
    let mut in_hunk = false;
    for line in patch.lines() {
        if let Some(rest) = line.strip_prefix("diff --git ") {
            let path = rest.split_whitespace().last().map(strip_prefix_path).unwrap_or_default();
            files.push(FilePatch { path, hunks: Vec::new() });
            in_hunk = false;
            continue;
        }
        if !in_hunk || line.starts_with("--- ") || line.starts_with("+++ ") {
            if let Some(p) = line.strip_prefix("+++ ") {
                let path = strip_prefix_path(p);
                match files.last_mut() {
                    Some(f) if f.hunks.is_empty() => {
                        if path != "/dev/null" {
                            f.path = path;
                        }
                    }
                    _ => files.push(FilePatch { path, hunks: Vec::new() }),
                }
                in_hunk = false;
                continue;
            }
            if line.starts_with("--- ") {
                in_hunk = false;
                continue;
            }
        }
        if line.starts_with("@@") {
            if let Some((old_start, new_start, section)) = hunk_header(line) {
                if files.is_empty() {
                    files.push(FilePatch::default());
                }
                if let Some(f) = files.last_mut() {
                    f.hunks.push(Hunk { old_start, new_start, section, ..Default::default() });
                    in_hunk = true;
                }
            }
            continue;
        }
        if !in_hunk {
            continue;
        }
        let Some(h) = files.last_mut().and_then(|f| f.hunks.last_mut()) else { continue };
        if let Some(t) = line.strip_prefix('-') {
            h.old_changed.push(h.old_lines.len());
            h.old_lines.push(t.to_string());
        } else if let Some(t) = line.strip_prefix('+') {
            h.new_changed.push(h.new_lines.len());
            h.new_lines.push(t.to_string());
        } else if line.starts_with('\\') {
            // "\ No newline at end of file"
        } else {
            let t = line.strip_prefix(' ').unwrap_or(line);
            h.old_lines.push(t.to_string());
            h.new_lines.push(t.to_string());
        }
    }
    files.retain(|f| !f.path.is_empty() || !f.hunks.is_empty());
    files
}

/// The files a patch touches.
pub fn files(patch: &str) -> BTreeSet<String> {
    parse(patch).into_iter().map(|f| f.path).filter(|p| !p.is_empty()).collect()
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
    for f in parse(patch) {
        for h in &f.hunks {
            let mut names: Vec<String> = Vec::new();
            for (lines, changed) in [(&h.old_lines, &h.old_changed), (&h.new_lines, &h.new_changed)] {
                names.extend(enclosing_definitions(lines, changed));
            }
            if names.is_empty() {
                if let Some(n) = section_definition(&h.section) {
                    names.push(n);
                }
            }
            for n in names {
                out.insert(format!("{}::{}", f.path, n));
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
fn enclosing_definitions(lines: &[String], changed: &[usize]) -> Vec<String> {
    if changed.is_empty() {
        return Vec::new();
    }
    let src = dedent(lines);
    let Ok(tree) = parse_python(&src) else { return Vec::new() };
    let mut out = Vec::new();
    for &row in changed {
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

/// The reverse of a unified diff (see `traces::swebench::reverse_patch`); empty when the diff
/// cannot be reversed safely.
pub fn reverse(patch: &str) -> String {
    crate::traces::swebench::reverse_patch(patch).unwrap_or_default()
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
        let header_only = "--- a/x.py\n+++ b/x.py\n@@ -3,2 +3,2 @@ def scale(v):\n-    return v\n+    return v * 2\n";
        check(header_only, (&["x.py"], &["x.py::scale"]));
        check("not a diff", (&[], &[]));
    }

    #[test]
    fn hunk_sides_are_rebuilt() {
        let f = parse(PATCH);
        let h = &f[0].hunks[0];
        assert_eq!(h.old_start, 10);
        assert_eq!(h.old_lines[h.old_changed[0]], "        return w + h");
        assert_eq!(h.new_lines[h.new_changed[0]], "        return w * h");
        assert_eq!(dedent(&h.new_lines), "def area(self, w, h):\n    return w * h\n\n");
    }

    #[test]
    fn reverse_twice_is_identity() {
        let r = reverse(PATCH);
        assert!(r.contains("-        return w * h\n+        return w + h\n"), "{r}");
        assert_eq!(reverse(&r), PATCH);
    }
}
