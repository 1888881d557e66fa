//! Where a test is defined: a pytest node id (`tests/test_x.py::TestClass::test_name[param]`)
//! resolved to the 0-based line of its `def` with tree-sitter (classes and functions by their
//! dotted names, `anchor::syntax::definitions`).
//!
//! In: a node id, and the test file's text (or a repository root to read it from). Out: the
//! file (relative) and line; `None` when the file or the definition is not there. No LSP types.

use crate::anchor::file::parse_python;
use crate::anchor::syntax::definitions;
use std::path::Path;

/// The test file of a node id and the dotted name of its definition (parameters dropped).
pub fn split(id: &str) -> Option<(&str, String)> {
    let bare = id.split('[').next().unwrap_or(id);
    let mut parts = bare.split("::");
    let file = parts.next().filter(|f| !f.is_empty())?;
    let names: Vec<&str> = parts.collect();
    (!names.is_empty() && names.iter().all(|n| !n.is_empty())).then(|| (file, names.join(".")))
}

/// The 0-based line of the `def` of test `id` in `source` (the test file's text).
pub fn def_line(source: &str, id: &str) -> Option<u32> {
    let (_, name) = split(id)?;
    let tree = parse_python(source).ok()?;
    let def = definitions(&tree, source).into_iter().find(|d| d.name == name)?;
    // a decorated function's node starts at its `def`; the line of the name is the same
    Some(def.start_line as u32)
}

/// The test file (relative to `root`) and the 0-based line of test `id`'s `def`; the line is
/// `None` when the file has no such definition, the whole answer `None` when it cannot be read.
pub fn locate(root: &Path, id: &str) -> Option<(String, Option<u32>)> {
    let (file, _) = split(id)?;
    let source = std::fs::read_to_string(root.join(file)).ok()?;
    Some((file.to_string(), def_line(&source, id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "import pytest\n\n\ndef test_top():\n    assert True\n\n\nclass TestLedger:\n    @pytest.mark.parametrize('x', [1, 2])\n    def test_balance(self, x):\n        assert x\n\n    def test_top(self):\n        pass\n";

    #[test]
    fn node_ids_resolve_to_their_def_lines() {
        assert_eq!(def_line(SOURCE, "tests/test_l.py::test_top"), Some(3));
        assert_eq!(def_line(SOURCE, "tests/test_l.py::TestLedger::test_top"), Some(12));
        assert_eq!(def_line(SOURCE, "tests/test_l.py::TestLedger::test_balance[1]"), Some(9));
        assert_eq!(def_line(SOURCE, "tests/test_l.py::TestLedger::test_gone"), None);
        assert_eq!(def_line(SOURCE, "tests/test_l.py"), None);
        assert_eq!(split("a.py::C::t[x::y]").map(|(f, n)| (f.to_string(), n)), Some(("a.py".into(), "C.t".into())));
        assert_eq!(split("::t"), None);
    }

    #[test]
    fn a_missing_file_is_none_and_a_missing_test_has_no_line() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("tests")).expect("mkdir");
        std::fs::write(dir.path().join("tests/test_l.py"), SOURCE).expect("write");
        assert_eq!(locate(dir.path(), "tests/test_l.py::test_top"), Some(("tests/test_l.py".into(), Some(3))));
        assert_eq!(locate(dir.path(), "tests/test_l.py::nope"), Some(("tests/test_l.py".into(), None)));
        assert_eq!(locate(dir.path(), "tests/none.py::test_top"), None);
    }
}
