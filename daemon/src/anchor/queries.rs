//! Anchor queries: tree-sitter queries over Python, loaded at run time.
//!
//! In: a queries folder (`--queries DIR`, else `$SOCRATIC_QUERIES`, else the `queries/python/`
//! folder found above the binary or the working directory), or the copies compiled into the
//! binary when no folder is found. Out: a [`QuerySet`] of compiled queries named after their
//! file (`remove_loop.scm` -> `remove_loop`), plus a [`QueryProblem`] for each file that does
//! not compile (file, 1-based line and column, message). A broken file never stops the others.

use super::AnchorError;
use serde::Serialize;
use std::path::{Path, PathBuf};
use tree_sitter::{Language, Query};

/// The queries shipped with socratic, compiled in as the fallback.
pub const EMBEDDED: &[(&str, &str)] = &[
    ("augmented_to_assignment", include_str!("../../../queries/python/augmented_to_assignment.scm")),
    ("break_chain", include_str!("../../../queries/python/break_chain.scm")),
    ("change_constant", include_str!("../../../queries/python/change_constant.scm")),
    ("change_operator", include_str!("../../../queries/python/change_operator.scm")),
    ("drop_call_argument", include_str!("../../../queries/python/drop_call_argument.scm")),
    ("flip_boolean_literal", include_str!("../../../queries/python/flip_boolean_literal.scm")),
    ("flip_comparison", include_str!("../../../queries/python/flip_comparison.scm")),
    ("invert_if_else", include_str!("../../../queries/python/invert_if_else.scm")),
    ("off_by_one", include_str!("../../../queries/python/off_by_one.scm")),
    ("remove_assignment", include_str!("../../../queries/python/remove_assignment.scm")),
    ("remove_base_class", include_str!("../../../queries/python/remove_base_class.scm")),
    ("remove_conditional", include_str!("../../../queries/python/remove_conditional.scm")),
    ("remove_loop", include_str!("../../../queries/python/remove_loop.scm")),
    ("remove_method", include_str!("../../../queries/python/remove_method.scm")),
    ("remove_none_guard", include_str!("../../../queries/python/remove_none_guard.scm")),
    ("remove_not", include_str!("../../../queries/python/remove_not.scm")),
    ("remove_wrapper", include_str!("../../../queries/python/remove_wrapper.scm")),
    ("return_none", include_str!("../../../queries/python/return_none.scm")),
    ("return_wrong_value", include_str!("../../../queries/python/return_wrong_value.scm")),
    ("shuffle_methods", include_str!("../../../queries/python/shuffle_methods.scm")),
    ("shuffle_statements", include_str!("../../../queries/python/shuffle_statements.scm")),
    ("swallow_exception", include_str!("../../../queries/python/swallow_exception.scm")),
    ("swap_boolean_operator", include_str!("../../../queries/python/swap_boolean_operator.scm")),
    ("swap_break_continue", include_str!("../../../queries/python/swap_break_continue.scm")),
    ("swap_operands", include_str!("../../../queries/python/swap_operands.scm")),
    ("swap_string_method", include_str!("../../../queries/python/swap_string_method.scm")),
    ("wrong_exception_type", include_str!("../../../queries/python/wrong_exception_type.scm")),
];

/// Environment variable naming a queries folder.
pub const QUERIES_ENV: &str = "SOCRATIC_QUERIES";

/// The Python grammar every query and parse uses.
pub fn python() -> Language {
    tree_sitter_python::LANGUAGE.into()
}

/// One compiled query.
#[derive(Debug)]
pub struct NamedQuery {
    /// File stem: the operator or anchor name.
    pub name: String,
    /// Where it came from: a file path, or `embedded:<name>.scm`.
    pub origin: String,
    pub query: Query,
}

/// A query file that did not compile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueryProblem {
    pub file: String,
    /// 1-based line and column of the error.
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for QueryProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file, self.line, self.column, self.message)
    }
}

/// Every loaded query, in name order, and the files that failed.
#[derive(Debug, Default)]
pub struct QuerySet {
    pub queries: Vec<NamedQuery>,
    pub problems: Vec<QueryProblem>,
    /// The folder they were read from; `None` for the embedded copies.
    pub dir: Option<PathBuf>,
    /// All good queries compiled as one, so a file is walked once rather than once per query.
    pub combined: Option<CombinedQuery>,
}

/// Every good query's patterns in one [`Query`]; `owner[pattern]` is the index in
/// `QuerySet::queries` of the query the pattern came from.
#[derive(Debug)]
pub struct CombinedQuery {
    pub query: Query,
    pub owner: Vec<usize>,
}

/// Compile the good queries' texts (in `queries` order) as one query; `None` if that fails or
/// the pattern counts do not line up.
fn combine(texts: &[&str], queries: &[NamedQuery]) -> Option<CombinedQuery> {
    let joined: String = texts.iter().map(|t| format!("{t}\n")).collect();
    let query = Query::new(&python(), &joined).ok()?;
    let owner: Vec<usize> =
        queries.iter().enumerate().flat_map(|(i, q)| std::iter::repeat_n(i, q.query.pattern_count())).collect();
    (owner.len() == query.pattern_count()).then_some(CombinedQuery { query, owner })
}

impl QuerySet {
    /// Compile `(name, origin, text)` triples; pure.
    pub fn from_sources<'a>(items: impl IntoIterator<Item = (&'a str, String, &'a str)>) -> QuerySet {
        let language = python();
        let mut set = QuerySet::default();
        let mut good: Vec<(NamedQuery, &str)> = Vec::new();
        for (name, origin, text) in items {
            match Query::new(&language, text) {
                Ok(query) => good.push((NamedQuery { name: name.to_string(), origin, query }, text)),
                Err(e) => set.problems.push(QueryProblem {
                    file: origin,
                    line: e.row + 1,
                    column: e.column + 1,
                    message: format!("{:?} error: {}", e.kind, e.message.trim()),
                }),
            }
        }
        good.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        let texts: Vec<&str> = good.iter().map(|(_, t)| *t).collect();
        set.queries = good.into_iter().map(|(q, _)| q).collect();
        set.combined = combine(&texts, &set.queries);
        set
    }

    /// The shipped queries compiled into the binary.
    pub fn embedded() -> QuerySet {
        QuerySet::from_sources(EMBEDDED.iter().map(|(name, text)| (*name, format!("embedded:{name}.scm"), *text)))
    }

    /// Every `*.scm` file in `dir` (not recursive). An unreadable folder is an error; a file
    /// that does not compile is a problem, and the others still load.
    pub fn from_dir(dir: &Path) -> Result<QuerySet, AnchorError> {
        let io_err = |source| AnchorError::Io { path: dir.display().to_string(), source };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io_err)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "scm") && p.is_file())
            .collect();
        files.sort();
        let mut texts = Vec::new();
        let mut unreadable = Vec::new();
        for path in &files {
            let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            match std::fs::read_to_string(path) {
                Ok(text) => texts.push((name, path.display().to_string(), text)),
                Err(e) => unreadable.push(QueryProblem {
                    file: path.display().to_string(),
                    line: 0,
                    column: 0,
                    message: e.to_string(),
                }),
            }
        }
        let mut set = QuerySet::from_sources(texts.iter().map(|(n, o, t)| (n.as_str(), o.clone(), t.as_str())));
        set.problems.extend(unreadable);
        set.dir = Some(dir.to_path_buf());
        Ok(set)
    }

    /// Load from the flag, else the environment, else a `queries/python` folder found above
    /// the binary or the working directory, else the embedded copies.
    pub fn resolve(flag: Option<&Path>) -> Result<QuerySet, AnchorError> {
        match find_queries_dir(flag) {
            Some(dir) => QuerySet::from_dir(&dir),
            None => Ok(QuerySet::embedded()),
        }
    }

    pub fn get(&self, name: &str) -> Option<&NamedQuery> {
        self.queries.iter().find(|q| q.name == name)
    }

    pub fn names(&self) -> Vec<&str> {
        self.queries.iter().map(|q| q.name.as_str()).collect()
    }
}

/// The folder `resolve` would read, if any.
pub fn find_queries_dir(flag: Option<&Path>) -> Option<PathBuf> {
    if let Some(dir) = flag {
        return Some(dir.to_path_buf());
    }
    if let Some(dir) = std::env::var_os(QUERIES_ENV).filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().ok();
    let cwd = std::env::current_dir().ok();
    let starts = exe.iter().chain(cwd.iter());
    starts
        .flat_map(|start| start.ancestors().map(|a| a.join("queries").join("python")).collect::<Vec<_>>())
        .find(|candidate| candidate.is_dir())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_queries_all_compile() {
        let set = QuerySet::embedded();
        assert!(set.problems.is_empty(), "{:?}", set.problems);
        assert_eq!(set.queries.len(), EMBEDDED.len());
        let combined = set.combined.as_ref().expect("combined");
        assert_eq!(combined.owner.len(), combined.query.pattern_count());
    }

    #[test]
    fn broken_query_names_file_line_and_column() {
        let set = QuerySet::from_sources([(
            "bad",
            "bad.scm".to_string(),
            "; comment\n(if_statement\n  (nonexistent_node)) @site\n",
        )]);
        assert!(set.queries.is_empty());
        let p = &set.problems[0];
        assert_eq!((p.file.as_str(), p.line), ("bad.scm", 3), "{p}");
        assert!(p.column >= 1);
    }
}
