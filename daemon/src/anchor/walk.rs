//! Which files of a repository get indexed.
//!
//! In: a repository root and a size limit. Out: the Python source files to index (relative
//! path + text) and every skipped file or folder with its reason. Honours `.gitignore`; skips
//! tests, vendored and generated code, what is not library code (top-level `docs/`, `examples/`,
//! `scripts/`, ... folders; `setup.py`, `noxfile.py` and other build or task scripts at the top),
//! non-Python files (counted), symlinks (never followed), files over the size limit and files
//! that are not UTF-8.

use serde::Serialize;
use std::path::{Path, PathBuf};

/// A file or folder left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// Relative path; folders end with `/`.
    pub path: String,
    pub reason: String,
}

/// A Python file to index.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: String,
    pub text: String,
}

/// What the walk found.
#[derive(Debug, Default)]
pub struct WalkResult {
    pub files: Vec<SourceFile>,
    pub skipped: Vec<Skipped>,
    /// Files that are not Python (not listed one by one).
    pub non_python: usize,
}

const TEST_DIRS: &[&str] = &["tests", "testing", "test"];
const VENDOR_DIRS: &[&str] = &["vendor", "_vendor", "third_party", "site-packages", "node_modules"];

/// Top-level folders that hold no library code.
pub const NON_LIBRARY_DIRS: &[&str] = &[
    "docs",
    "doc",
    "examples",
    "example",
    "benchmarks",
    "benchmark",
    "bench",
    "scripts",
    "tools",
    "ci",
    "build",
    "dist",
    ".github",
];
/// Top-level files that are build or task scripts, not library code.
pub const NON_LIBRARY_FILES: &[&str] =
    &["setup.py", "conftest.py", "noxfile.py", "fabfile.py", "tasks.py", "dodo.py", "hatch_build.py", "build.py"];

/// Why a top-level folder or file (repository-relative, no `/`) is not library code, if it is not.
pub fn top_level_skip_reason(name: &str, is_dir: bool) -> Option<&'static str> {
    if is_dir && NON_LIBRARY_DIRS.contains(&name) {
        Some("not library code (documentation, examples, tooling)")
    } else if !is_dir && NON_LIBRARY_FILES.contains(&name) {
        Some("build or task script")
    } else {
        None
    }
}

/// Why a folder is not walked, if it is not.
pub fn dir_skip_reason(name: &str) -> Option<&'static str> {
    if TEST_DIRS.contains(&name) {
        Some("test folder")
    } else if VENDOR_DIRS.contains(&name) {
        Some("vendored folder")
    } else if name == ".git" || name == "__pycache__" {
        Some("not source")
    } else {
        None
    }
}

/// Why a Python file name is skipped, if it is.
pub fn file_name_skip_reason(name: &str) -> Option<&'static str> {
    if name.starts_with("test_") || name.ends_with("_test.py") || name == "conftest.py" {
        Some("test file")
    } else if name.ends_with("_pb2.py") || name.ends_with("_pb2_grpc.py") {
        Some("generated file")
    } else {
        None
    }
}

/// True when one of the first five lines is a comment saying the file is generated.
pub fn looks_generated(text: &str) -> bool {
    text.lines().take(5).any(|line| {
        let line = line.trim_start();
        let lower = line.to_ascii_lowercase();
        line.starts_with('#') && (lower.contains("generated") || lower.contains("do not edit"))
    })
}

fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

/// Walk `root` and sort what it holds into files to index and skipped entries.
pub fn walk(root: &Path, max_file_bytes: u64) -> WalkResult {
    let mut result = WalkResult::default();
    let pruned = std::sync::Arc::new(std::sync::Mutex::new(Vec::<Skipped>::new()));
    let walker = ignore::WalkBuilder::new(root)
        .follow_links(false)
        .hidden(false)
        .git_ignore(true)
        .git_exclude(true)
        .require_git(false)
        .sort_by_file_name(|a, b| a.cmp(b))
        .filter_entry({
            let root = root.to_path_buf();
            let pruned = std::sync::Arc::clone(&pruned);
            move |entry| {
                let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
                let name = entry.file_name().to_string_lossy();
                if !is_dir || entry.depth() == 0 {
                    return true;
                }
                let reason = dir_skip_reason(&name)
                    .or_else(|| (entry.depth() == 1).then(|| top_level_skip_reason(&name, true)).flatten());
                match reason {
                    Some(reason) => {
                        if name != ".git" && name != "__pycache__" {
                            let mut list = pruned.lock().unwrap_or_else(|e| e.into_inner());
                            list.push(Skipped {
                                path: format!("{}/", relative(&root, entry.path())),
                                reason: reason.to_string(),
                            });
                        }
                        false
                    }
                    None => true,
                }
            }
        })
        .build();
    for entry in walker {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                result.skipped.push(Skipped { path: error_path(&e, root), reason: format!("unreadable: {e}") });
                continue;
            }
        };
        let Some(file_type) = entry.file_type() else { continue };
        if file_type.is_dir() {
            continue;
        }
        let rel = relative(root, entry.path());
        if file_type.is_symlink() {
            if rel.ends_with(".py") || symlink_leaves(root, entry.path()) {
                result.skipped.push(Skipped { path: rel, reason: symlink_reason(root, entry.path()).to_string() });
            }
            continue;
        }
        if !rel.ends_with(".py") {
            result.non_python += 1;
            continue;
        }
        match read_source(entry.path(), &rel, max_file_bytes) {
            Ok(file) => result.files.push(file),
            Err(skip) => result.skipped.push(skip),
        }
    }
    result.skipped.extend(pruned.lock().map(|l| l.clone()).unwrap_or_default());
    result.skipped.sort_by(|a, b| a.path.cmp(&b.path));
    result
}

fn error_path(e: &ignore::Error, root: &Path) -> String {
    match e {
        ignore::Error::WithPath { path, .. } => relative(root, path),
        _ => String::new(),
    }
}

fn symlink_leaves(root: &Path, link: &Path) -> bool {
    let target: Option<PathBuf> = std::fs::canonicalize(link).ok();
    let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    target.is_none_or(|t| !t.starts_with(&root))
}

fn symlink_reason(root: &Path, link: &Path) -> &'static str {
    if symlink_leaves(root, link) {
        "symlink pointing outside the repository (not followed)"
    } else {
        "symlink (not followed)"
    }
}

/// Read one candidate file, or say why it is skipped.
fn read_source(path: &Path, rel: &str, max_file_bytes: u64) -> Result<SourceFile, Skipped> {
    let skip = |reason: String| Skipped { path: rel.to_string(), reason };
    let name = rel.rsplit('/').next().unwrap_or(rel);
    let top = (!rel.contains('/')).then(|| top_level_skip_reason(name, false)).flatten();
    if let Some(reason) = file_name_skip_reason(name).or(top) {
        return Err(skip(reason.to_string()));
    }
    let size = std::fs::metadata(path).map_err(|e| skip(format!("unreadable: {e}")))?.len();
    if size > max_file_bytes {
        return Err(skip(format!("too large: {size} bytes (limit {max_file_bytes})")));
    }
    let bytes = std::fs::read(path).map_err(|e| skip(format!("unreadable: {e}")))?;
    let text = String::from_utf8(bytes)
        .map_err(|e| skip(format!("not UTF-8 (invalid byte at offset {})", e.utf8_error().valid_up_to())))?;
    if looks_generated(&text) {
        return Err(skip("generated file".to_string()));
    }
    Ok(SourceFile { path: rel.to_string(), text })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_rules() {
        assert_eq!(file_name_skip_reason("test_x.py"), Some("test file"));
        assert_eq!(file_name_skip_reason("x_test.py"), Some("test file"));
        assert_eq!(file_name_skip_reason("conftest.py"), Some("test file"));
        assert_eq!(file_name_skip_reason("api_pb2.py"), Some("generated file"));
        assert_eq!(file_name_skip_reason("contest.py"), None);
        assert_eq!(dir_skip_reason("_vendor"), Some("vendored folder"));
        assert_eq!(dir_skip_reason("testing"), Some("test folder"));
        assert_eq!(dir_skip_reason("src"), None);
        assert!(top_level_skip_reason("docs", true).is_some());
        assert!(top_level_skip_reason("setup.py", false).is_some());
        assert_eq!(top_level_skip_reason("docs", false), None);
        assert_eq!(top_level_skip_reason("core.py", false), None);
    }

    #[test]
    fn build_scripts_and_docs_are_not_library_code() {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in [
            ("setup.py", "from setuptools import setup\nsetup()\n"),
            ("noxfile.py", "import nox\n"),
            ("docs/conf.py", "project = 'x'\n"),
            ("pkg/__init__.py", "x = 1\n"),
            ("pkg/setup.py", "def setup():\n    return 1\n"),
            ("pkg/docs/render.py", "def render():\n    return 1\n"),
        ] {
            let p = dir.path().join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let result = walk(dir.path(), 1 << 20);
        let files: Vec<&str> = result.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(files, vec!["pkg/__init__.py", "pkg/docs/render.py", "pkg/setup.py"]);
        let skipped: Vec<&str> = result.skipped.iter().map(|s| s.path.as_str()).collect();
        assert_eq!(skipped, vec!["docs/", "noxfile.py", "setup.py"]);
    }

    #[test]
    fn generated_marker_only_in_leading_comments() {
        assert!(looks_generated("# Generated by Django 5.1\nfrom x import y\n"));
        assert!(looks_generated("#!/usr/bin/env python\n# DO NOT EDIT\n"));
        assert!(!looks_generated("\"\"\"Generated docs helper.\"\"\"\n"));
        assert!(!looks_generated("x = 1\n\n\n\n\n# generated\n"));
    }
}
