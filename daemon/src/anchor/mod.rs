//! The site index: where in a Python repository each anchor query matches.
//!
//! In: a git repository's working tree and a [`QuerySet`]. Out: a [`RepoIndex`] — one
//! [`FileIndex`] per indexed file (tree, sites with enclosing scope, definitions, syntax-error
//! ranges), the skipped files with reasons, and timing. [`IndexSummary`] is the stable
//! report `socratic repo index` prints. Files with syntax errors are indexed as far as
//! tree-sitter parsed them.

pub mod file;
pub mod queries;
pub mod syntax;
pub mod walk;

pub use file::{find_node, parse_python, FileIndex};
pub use queries::{QueryProblem, QuerySet};
pub use syntax::{Definition, SyntaxErrorRange};
pub use walk::Skipped;

use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Default per-file size limit: 1 MiB.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Errors of the anchor stage; each names what it is about.
#[derive(Debug, thiserror::Error)]
pub enum AnchorError {
    #[error("{path} is not a git repository: {message}")]
    NotGitRepo { path: String, message: String },
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("python grammar: {0}")]
    Language(String),
    #[error("edit: {0}")]
    Edit(String),
}

/// Indexing options.
#[derive(Debug, Clone)]
pub struct IndexConfig {
    /// Files larger than this are skipped (and listed).
    pub max_file_bytes: u64,
}

impl Default for IndexConfig {
    fn default() -> Self {
        IndexConfig { max_file_bytes: DEFAULT_MAX_FILE_BYTES }
    }
}

/// A whole indexed repository.
#[derive(Debug)]
pub struct RepoIndex {
    pub root: PathBuf,
    pub files: Vec<FileIndex>,
    pub skipped: Vec<Skipped>,
    pub non_python: usize,
    pub elapsed: Duration,
}

/// The working-tree root of the git repository at `path`, or an error naming `path`.
pub fn repo_root(path: &Path) -> Result<PathBuf, AnchorError> {
    let not_repo = |message: String| AnchorError::NotGitRepo { path: path.display().to_string(), message };
    if !path.is_dir() {
        return Err(not_repo("no such folder".into()));
    }
    let repo = crate::diff::git::Repo::open(path).map_err(|e| not_repo(e.message))?;
    repo.workdir().map_err(|e| not_repo(e.message))
}

/// Index every eligible Python file of the repository at `path`.
pub fn index_repo(path: &Path, queries: &QuerySet, config: &IndexConfig) -> Result<RepoIndex, AnchorError> {
    let started = Instant::now();
    let root = repo_root(path)?;
    let walked = walk::walk(&root, config.max_file_bytes);
    let files = index_files(walked.files, queries)?;
    Ok(RepoIndex { root, files, skipped: walked.skipped, non_python: walked.non_python, elapsed: started.elapsed() })
}

/// Parse and query files on all cores; the result keeps the input order.
pub fn index_files(files: Vec<walk::SourceFile>, queries: &QuerySet) -> Result<Vec<FileIndex>, AnchorError> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
    let chunk = files.len().div_ceil(workers).max(1);
    let chunks: Vec<Vec<walk::SourceFile>> = chunk_owned(files, chunk);
    let results: Vec<Result<Vec<FileIndex>, AnchorError>> = std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|part| {
                s.spawn(move || {
                    part.into_iter().map(|f| FileIndex::new(&f.path, f.text, queries)).collect::<Result<Vec<_>, _>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(AnchorError::Language("an indexing thread panicked".into()))))
            .collect()
    });
    let mut out = Vec::new();
    for r in results {
        out.extend(r?);
    }
    Ok(out)
}

fn chunk_owned<T>(items: Vec<T>, size: usize) -> Vec<Vec<T>> {
    let mut chunks = Vec::new();
    let mut current = Vec::with_capacity(size);
    for item in items {
        current.push(item);
        if current.len() == size {
            chunks.push(std::mem::replace(&mut current, Vec::with_capacity(size)));
        }
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

/// One file's syntax errors.
#[derive(Debug, Clone, Serialize)]
pub struct FileErrors {
    pub file: String,
    pub ranges: Vec<SyntaxErrorRange>,
}

/// What `repo index` reports.
#[derive(Debug, Clone, Serialize)]
pub struct IndexSummary {
    pub root: String,
    /// Where the queries came from (a folder, or `embedded`).
    pub queries: String,
    pub files: usize,
    pub lines: usize,
    pub functions: usize,
    pub classes: usize,
    /// Sites per query name; every loaded query is listed, with 0 when it matched nothing.
    pub sites: BTreeMap<String, usize>,
    pub skipped: Vec<Skipped>,
    pub non_python_files: usize,
    pub syntax_errors: Vec<FileErrors>,
    pub query_problems: Vec<QueryProblem>,
    pub elapsed_ms: u64,
}

impl IndexSummary {
    pub fn new(index: &RepoIndex, queries: &QuerySet) -> IndexSummary {
        let mut sites: BTreeMap<String, usize> = queries.queries.iter().map(|q| (q.name.clone(), 0)).collect();
        for site in index.files.iter().flat_map(|f| &f.sites) {
            *sites.entry(site.query.clone()).or_default() += 1;
        }
        let defs = || index.files.iter().flat_map(|f| &f.definitions);
        IndexSummary {
            root: index.root.display().to_string(),
            queries: queries.dir.as_ref().map_or("embedded".to_string(), |d| d.display().to_string()),
            files: index.files.len(),
            lines: index.files.iter().map(FileIndex::lines).sum(),
            functions: defs().filter(|d| d.kind == "function").count(),
            classes: defs().filter(|d| d.kind == "class").count(),
            sites,
            skipped: index.skipped.clone(),
            non_python_files: index.non_python,
            syntax_errors: index
                .files
                .iter()
                .filter(|f| !f.syntax_errors.is_empty())
                .map(|f| FileErrors { file: f.path.clone(), ranges: f.syntax_errors.clone() })
                .collect(),
            query_problems: queries.problems.clone(),
            elapsed_ms: index.elapsed.as_millis() as u64,
        }
    }
}
