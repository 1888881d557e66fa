//! Unified diffs and git: the one place that reads, writes, reverses and applies patches.
//!
//! In: the text of a unified diff (`git diff`, `diff -u`, SWE-bench and SWE-smith patches, what
//! [`unified_diff`] writes), two texts to compare, a file's text to patch, or a git repository
//! ([`git`]). Out: a [`Patch`] — [`FilePatch`]es with their header lines ([`Header`]: `diff
//! --git`, `index`, new / deleted file, mode, rename, `---` / `+++`, other text) and [`Hunk`]s
//! (old and new [`Range`], lines tagged context / removed / added, each with its `\ No newline at
//! end of file` marker) — that [`Patch::render`]s back to the very bytes it was parsed from; its
//! reverse (what undoes it); a file's text with a file patch applied in memory; the old-side
//! lines a patch changes per file; a new diff of two texts. Malformed input is a [`PatchError`]
//! that names the line and what was wrong, never a panic. [`git`] is the crate's only git2 user,
//! and its [`git::GitError`] names the operation and the path.

mod apply;
pub mod git;
mod make;
mod parse;
mod reverse;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

pub use make::{text_diff, unified_diff};

/// A patch that cannot be parsed, reversed or applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The text is not a well-formed unified diff; `line` is 1-based.
    #[error("line {line}: {problem}")]
    Malformed { line: usize, problem: String },
    /// The patch holds something that has no safe reverse (binary content, a copy, no hunk).
    #[error("cannot reverse the patch: {0}")]
    Irreversible(String),
    /// A hunk's old side is not what the file holds.
    #[error("{path}: hunk {hunk} does not apply: {problem}")]
    DoesNotApply { path: String, hunk: usize, problem: String },
}

/// How a line of the patch ends, as written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LineEnd {
    #[default]
    Lf,
    CrLf,
    /// The last line of a text that does not end with a newline.
    Missing,
}

impl LineEnd {
    pub fn as_str(self) -> &'static str {
        match self {
            LineEnd::Lf => "\n",
            LineEnd::CrLf => "\r\n",
            LineEnd::Missing => "",
        }
    }

    /// A raw line (as `split_inclusive('\n')` gives it) split into its text and its end.
    pub fn split(raw: &str) -> (&str, LineEnd) {
        if let Some(text) = raw.strip_suffix("\r\n") {
            (text, LineEnd::CrLf)
        } else if let Some(text) = raw.strip_suffix('\n') {
            (text, LineEnd::Lf)
        } else {
            (raw, LineEnd::Missing)
        }
    }
}

/// A parsed unified diff. `Patch::parse(text)?.render() == text` for every text that parses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Patch {
    pub files: Vec<FilePatch>,
    /// Lines after the last hunk that start no file (a mail signature, say); the whole text
    /// when it holds no diff at all.
    pub trailer: Vec<HeaderLine>,
}

/// One file of a patch: every line before its first hunk, then its hunks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilePatch {
    /// In order: text that came before the file (a commit message, `Index:` lines), `diff
    /// --git`, extended headers, `---` / `+++`.
    pub header: Vec<HeaderLine>,
    pub hunks: Vec<Hunk>,
}

/// A line outside hunks and how it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderLine {
    pub header: Header,
    pub end: LineEnd,
}

/// What a line outside hunks says. Each variant holds the text after its keyword, so that the
/// line renders back exactly; a line that would not is [`Header::Text`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Header {
    /// `diff --git a/x b/y`: the text after `diff --git `.
    Git(String),
    /// `index abc..def 100644`.
    Index {
        from: String,
        to: String,
        mode: Option<String>,
    },
    NewFileMode(String),
    DeletedFileMode(String),
    OldMode(String),
    NewMode(String),
    RenameFrom(String),
    RenameTo(String),
    CopyFrom(String),
    CopyTo(String),
    /// `GIT binary patch` or `Binary files a and b differ`, the whole line.
    Binary(String),
    /// `--- a/x`: the text after `--- ` (a tab and a timestamp included, if any).
    Old(String),
    /// `+++ b/x`: the text after `+++ `.
    New(String),
    /// Any other line, as written.
    Text(String),
}

/// One hunk: `@@ -old +new @@section` and its lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hunk {
    pub old: Range,
    pub new: Range,
    /// The text after the closing `@@` as written, leading space included (git puts the
    /// enclosing `def` / `class` line there).
    pub section: String,
    /// How the `@@` line ends.
    pub end: LineEnd,
    pub lines: Vec<HunkLine>,
}

/// A hunk's line range on one side: 1-based start (the line before an empty range) and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub start: u32,
    pub len: u32,
    /// `,len` was written (git and `similar` leave out `,1`).
    pub len_written: bool,
}

/// One line of a hunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HunkLine {
    pub kind: LineKind,
    /// The line without its sign and its end.
    pub text: String,
    pub end: LineEnd,
    /// The `\ No newline at end of file` line that follows it, as written: the file's line has
    /// no end.
    pub no_newline: Option<String>,
}

/// What a hunk line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    Context,
    /// A blank context line written without its leading space, as some editors save patches.
    BlankContext,
    Removed,
    Added,
}

/// One side of a hunk as code: the lines (text only) and which of them changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Side {
    pub lines: Vec<String>,
    /// 0-based indexes into `lines` of the removed (old side) or added (new side) lines.
    pub changed: Vec<usize>,
}

impl Patch {
    /// Parse a unified diff. Hunk bodies are read by the counts in their `@@` line; text
    /// outside hunks is kept as header lines.
    pub fn parse(text: &str) -> Result<Patch, PatchError> {
        parse::parse(text)
    }

    /// The patch as text, byte for byte what it was parsed from.
    pub fn render(&self) -> String {
        self.to_string()
    }

    /// Every hunk of every file.
    pub fn hunks(&self) -> impl Iterator<Item = &Hunk> {
        self.files.iter().flat_map(|f| f.hunks.iter())
    }

    /// The files the patch touches (new path, else old), without `a/` / `b/`.
    pub fn paths(&self) -> BTreeSet<String> {
        self.files.iter().filter_map(FilePatch::path).collect()
    }

    /// Lines of the old side that the patch changes, per file (1-based, by old path, else new
    /// path). An insertion counts the lines on both sides of it.
    pub fn changed_old_lines(&self) -> BTreeMap<String, BTreeSet<u32>> {
        let mut out: BTreeMap<String, BTreeSet<u32>> = BTreeMap::new();
        for file in &self.files {
            let Some(path) = file.old_path().or_else(|| file.new_path()) else { continue };
            let lines = out.entry(path).or_default();
            for hunk in &file.hunks {
                lines.extend(hunk.changed_old_lines());
            }
        }
        out
    }
}

impl FilePatch {
    /// The path before the change; `None` for a created file or when no header names it.
    pub fn old_path(&self) -> Option<String> {
        self.named(|h| match h {
            Header::Old(p) => Some(path_of(p)),
            Header::RenameFrom(p) | Header::CopyFrom(p) => Some(Some(unquote(p))),
            _ => None,
        })
        .unwrap_or_else(|| self.git_paths().map(|(old, _)| old))
    }

    /// The path after the change; `None` for a deleted file or when no header names it.
    pub fn new_path(&self) -> Option<String> {
        self.named(|h| match h {
            Header::New(p) => Some(path_of(p)),
            Header::RenameTo(p) | Header::CopyTo(p) => Some(Some(unquote(p))),
            _ => None,
        })
        .unwrap_or_else(|| self.git_paths().map(|(_, new)| new))
    }

    /// The file's name: the new path, else the old one.
    pub fn path(&self) -> Option<String> {
        self.new_path().or_else(|| self.old_path())
    }

    /// The path of the first header that names one: `Some(None)` when it names `/dev/null`,
    /// `None` when no header does.
    fn named(&self, pick: impl Fn(&Header) -> Option<Option<String>>) -> Option<Option<String>> {
        self.header.iter().find_map(|h| pick(&h.header))
    }

    /// Both paths of the `diff --git` line, when they can be told apart.
    fn git_paths(&self) -> Option<(String, String)> {
        self.header.iter().find_map(|h| match &h.header {
            Header::Git(rest) => split_git_paths(rest),
            _ => None,
        })
    }

    /// Does the file carry binary content (which has no text to apply or reverse)?
    pub fn is_binary(&self) -> bool {
        self.header.iter().any(|h| matches!(h.header, Header::Binary(_)))
    }
}

impl Hunk {
    /// The old side: context and removed lines.
    pub fn old_side(&self) -> Side {
        self.side(LineKind::Removed)
    }

    /// The new side: context and added lines.
    pub fn new_side(&self) -> Side {
        self.side(LineKind::Added)
    }

    fn side(&self, changed_kind: LineKind) -> Side {
        let mut side = Side::default();
        for line in &self.lines {
            if line.kind == changed_kind {
                side.changed.push(side.lines.len());
            } else if !line.is_context() {
                continue;
            }
            side.lines.push(line.text.clone());
        }
        side
    }

    /// The removed and added lines, in order.
    pub fn changes(&self) -> impl Iterator<Item = &HunkLine> {
        self.lines.iter().filter(|l| !l.is_context())
    }

    /// Old-side lines this hunk changes: each removed line, and for an insertion that replaces
    /// nothing the old lines on both sides of it.
    fn changed_old_lines(&self) -> BTreeSet<u32> {
        let mut out = BTreeSet::new();
        let mut old_line = self.old.start;
        // A `+` run right after a `-` run replaces those lines: already counted.
        let mut replacing = false;
        for line in &self.lines {
            match line.kind {
                LineKind::Removed => {
                    out.insert(old_line);
                    old_line = old_line.saturating_add(1);
                    replacing = true;
                }
                LineKind::Added if !replacing => {
                    out.insert(old_line.saturating_sub(1).max(1));
                    out.insert(old_line.max(1));
                }
                LineKind::Added => {}
                LineKind::Context | LineKind::BlankContext => {
                    old_line = old_line.saturating_add(1);
                    replacing = false;
                }
            }
        }
        out
    }
}

impl LineKind {
    /// The kind in words, for messages.
    pub fn name(self) -> &'static str {
        match self {
            LineKind::Context | LineKind::BlankContext => "context",
            LineKind::Removed => "removed",
            LineKind::Added => "added",
        }
    }
}

impl HunkLine {
    pub fn is_context(&self) -> bool {
        matches!(self.kind, LineKind::Context | LineKind::BlankContext)
    }

    /// The sign the line is written with (none for a blank context line).
    pub fn sign(&self) -> &'static str {
        match self.kind {
            LineKind::Context => " ",
            LineKind::BlankContext => "",
            LineKind::Removed => "-",
            LineKind::Added => "+",
        }
    }

    /// The line as the file holds it: its text and its end, unless a marker says it has none.
    pub fn file_text(&self) -> String {
        let end = if self.no_newline.is_some() { "" } else { self.end.as_str() };
        format!("{}{end}", self.text)
    }
}

impl fmt::Display for Patch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for file in &self.files {
            write!(f, "{file}")?;
        }
        self.trailer.iter().try_for_each(|line| write!(f, "{line}"))
    }
}

impl fmt::Display for FilePatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.header.iter().try_for_each(|line| write!(f, "{line}"))?;
        self.hunks.iter().try_for_each(|hunk| write!(f, "{hunk}"))
    }
}

impl fmt::Display for HeaderLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.header, self.end.as_str())
    }
}

impl fmt::Display for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Header::Git(rest) => write!(f, "diff --git {rest}"),
            Header::Index { from, to, mode: Some(mode) } => write!(f, "index {from}..{to} {mode}"),
            Header::Index { from, to, mode: None } => write!(f, "index {from}..{to}"),
            Header::NewFileMode(m) => write!(f, "new file mode {m}"),
            Header::DeletedFileMode(m) => write!(f, "deleted file mode {m}"),
            Header::OldMode(m) => write!(f, "old mode {m}"),
            Header::NewMode(m) => write!(f, "new mode {m}"),
            Header::RenameFrom(p) => write!(f, "rename from {p}"),
            Header::RenameTo(p) => write!(f, "rename to {p}"),
            Header::CopyFrom(p) => write!(f, "copy from {p}"),
            Header::CopyTo(p) => write!(f, "copy to {p}"),
            Header::Old(p) => write!(f, "--- {p}"),
            Header::New(p) => write!(f, "+++ {p}"),
            Header::Binary(text) | Header::Text(text) => f.write_str(text),
        }
    }
}

impl fmt::Display for Hunk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "@@ -{} +{} @@{}{}", self.old, self.new, self.section, self.end.as_str())?;
        self.lines.iter().try_for_each(|line| write!(f, "{line}"))
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.len_written || self.len != 1 {
            write!(f, "{},{}", self.start, self.len)
        } else {
            write!(f, "{}", self.start)
        }
    }
}

impl fmt::Display for HunkLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}{}", self.sign(), self.text, self.end.as_str(), self.no_newline.as_deref().unwrap_or(""))
    }
}

/// A path from a `---` / `+++` line: the timestamp after a tab dropped, git's quoting undone,
/// `a/` or `b/` stripped; `None` for `/dev/null`.
fn path_of(written: &str) -> Option<String> {
    let name = if written.starts_with('"') { written } else { written.split('\t').next().unwrap_or(written) };
    let name = unquote(name.trim());
    (name != "/dev/null").then(|| strip_side_prefix(&name).to_string())
}

fn strip_side_prefix(path: &str) -> &str {
    path.strip_prefix("a/").or_else(|| path.strip_prefix("b/")).unwrap_or(path)
}

/// `a/x b/y` (the rest of a `diff --git` line) → (`x`, `y`), when the split is unambiguous:
/// both sides the same path, or ` b/` occurring once.
fn split_git_paths(rest: &str) -> Option<(String, String)> {
    if let Some(same) = same_git_path(rest) {
        return Some((same.to_string(), same.to_string()));
    }
    let mut parts = rest.match_indices(" b/");
    let (at, _) = parts.next()?;
    if parts.next().is_some() {
        return None;
    }
    let old = rest.get(..at)?.strip_prefix("a/")?;
    let new = rest.get(at + 3..)?;
    Some((old.to_string(), new.to_string()))
}

/// The path of `a/<path> b/<path>` (both sides equal, whatever the first prefix), else `None`.
fn same_git_path(rest: &str) -> Option<&str> {
    let half = rest.len().checked_sub(1)? / 2;
    let same = rest.len() % 2 == 1
        && rest.get(2..half).is_some()
        && rest.get(2..half) == rest.get(half + 3..)
        && rest.get(half..half + 3) == Some(" b/");
    if same {
        rest.get(2..half)
    } else {
        None
    }
}

/// Undo git's C-style quoting of a path (`"a/\303\251.py"`); other text is returned as is.
fn unquote(text: &str) -> String {
    let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) else { return text.to_string() };
    let mut bytes = Vec::with_capacity(inner.len());
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0u8; 4];
            bytes.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        match chars.next() {
            Some('n') => bytes.push(b'\n'),
            Some('t') => bytes.push(b'\t'),
            Some('r') => bytes.push(b'\r'),
            Some('a') => bytes.push(7),
            Some('b') => bytes.push(8),
            Some('f') => bytes.push(12),
            Some('v') => bytes.push(11),
            Some(d @ '0'..='7') => {
                let mut value = d as u32 - '0' as u32;
                for _ in 0..2 {
                    match chars.peek() {
                        Some(&o @ '0'..='7') => {
                            value = value * 8 + (o as u32 - '0' as u32);
                            chars.next();
                        }
                        _ => break,
                    }
                }
                bytes.push((value & 0xff) as u8);
            }
            Some(other) => {
                let mut buf = [0u8; 4];
                bytes.extend_from_slice(other.encode_utf8(&mut buf).as_bytes());
            }
            None => bytes.push(b'\\'),
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The reverse of a unified diff as text: see [`Patch::reverse`].
pub fn reverse(patch: &str) -> Result<String, PatchError> {
    Ok(Patch::parse(patch)?.reverse()?.render())
}

/// The changed lines of a patch with whitespace removed, sign kept, one per line: equal for
/// patches that differ only in layout. A text that does not parse is its own key, whitespace
/// removed.
pub fn normalised(patch: &str) -> String {
    let Ok(patch) = Patch::parse(patch) else { return patch.split_whitespace().collect() };
    let lines: Vec<String> = patch
        .hunks()
        .flat_map(Hunk::changes)
        .map(|l| format!("{}{}", l.sign(), l.text.split_whitespace().collect::<String>()))
        .collect();
    lines.join("\n")
}
