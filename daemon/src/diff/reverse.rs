//! The reverse of a patch: what undoes it.
//!
//! In: a [`Patch`]. Out: the patch that turns its new side back into its old side, or
//! [`PatchError::Irreversible`] for what has no safe reverse: binary content, copies, a `diff
//! --git` line whose two paths cannot be told apart, or no hunk at all. Swaps removed and added
//! lines (removals first in each change block, markers moving with their lines), hunk ranges
//! (written with explicit lengths), `---` / `+++` paths, `index` hashes, new / deleted file and
//! old / new mode lines, rename from / to; other text is kept.

use super::{FilePatch, Header, HeaderLine, Hunk, HunkLine, LineEnd, LineKind, Patch, PatchError, Range};

impl Patch {
    /// The patch that undoes this one.
    pub fn reverse(&self) -> Result<Patch, PatchError> {
        if self.hunks().next().is_none() {
            return Err(PatchError::Irreversible("it has no hunk".into()));
        }
        let files = self.files.iter().map(reverse_file).collect::<Result<_, _>>()?;
        let trailer = self.trailer.iter().map(reverse_header_line).collect::<Result<_, _>>()?;
        Ok(Patch { files, trailer })
    }
}

fn reverse_file(file: &FilePatch) -> Result<FilePatch, PatchError> {
    let mut header = Vec::with_capacity(file.header.len());
    let mut lines = file.header.iter().peekable();
    while let Some(line) = lines.next() {
        match (&line.header, lines.peek()) {
            (Header::Old(old), Some(next)) => {
                let Header::New(new) = &next.header else {
                    return Err(PatchError::Irreversible(format!("`--- {old}` is not followed by a `+++` line")));
                };
                let (rev_old, rev_new) = reverse_file_names(old, new);
                header.push(HeaderLine { header: Header::Old(rev_old), end: line.end });
                header.push(HeaderLine { header: Header::New(rev_new), end: next.end });
                lines.next();
            }
            _ => header.push(reverse_header_line(line)?),
        }
    }
    Ok(FilePatch { header, hunks: file.hunks.iter().map(reverse_hunk).collect() })
}

/// `--- a/x` / `+++ b/y` become `--- a/y` / `+++ b/x`, keeping the `a/` `b/` prefixes and
/// `/dev/null`.
fn reverse_file_names(old: &str, new: &str) -> (String, String) {
    let prefixed = |s: &str, p: &str| s == "/dev/null" || s.starts_with(p);
    if !(prefixed(old, "a/") && prefixed(new, "b/")) {
        return (new.to_string(), old.to_string());
    }
    let swap =
        |s: &str, p: &str| if s == "/dev/null" { s.to_string() } else { format!("{p}{}", s.get(2..).unwrap_or("")) };
    (swap(new, "a/"), swap(old, "b/"))
}

/// A line outside hunks with its sides swapped.
fn reverse_header_line(line: &HeaderLine) -> Result<HeaderLine, PatchError> {
    let refuse = |what: &str| Err(PatchError::Irreversible(format!("{what} `{}`", line.header)));
    let header = match &line.header {
        Header::Binary(_) => return refuse("binary content"),
        Header::CopyFrom(_) | Header::CopyTo(_) => return refuse("a copy"),
        Header::Old(_) | Header::New(_) => return refuse("an unpaired file name line"),
        Header::Git(rest) => match reverse_git_paths(rest) {
            Some(reversed) => Header::Git(reversed),
            None => return refuse("the two paths cannot be told apart in"),
        },
        Header::Index { from, to, mode } => Header::Index { from: to.clone(), to: from.clone(), mode: mode.clone() },
        Header::NewFileMode(m) => Header::DeletedFileMode(m.clone()),
        Header::DeletedFileMode(m) => Header::NewFileMode(m.clone()),
        Header::OldMode(m) => Header::NewMode(m.clone()),
        Header::NewMode(m) => Header::OldMode(m.clone()),
        Header::RenameFrom(p) => Header::RenameTo(p.clone()),
        Header::RenameTo(p) => Header::RenameFrom(p.clone()),
        Header::Text(t) => Header::Text(t.clone()),
    };
    Ok(HeaderLine { header, end: line.end })
}

/// `a/x b/y` → `a/y b/x`; unchanged when both sides name the same path.
fn reverse_git_paths(rest: &str) -> Option<String> {
    if super::same_git_path(rest).is_some() {
        return Some(rest.to_string());
    }
    let (old, new) = super::split_git_paths(rest)?;
    Some(format!("a/{new} b/{old}"))
}

/// Ranges swapped (lengths written out), and in each change block the added lines, as removed,
/// before the removed lines, as added.
fn reverse_hunk(hunk: &Hunk) -> Hunk {
    let explicit = |r: Range| Range { len_written: true, ..r };
    let mut lines = Vec::with_capacity(hunk.lines.len());
    let (mut removed, mut added): (Vec<HunkLine>, Vec<HunkLine>) = (Vec::new(), Vec::new());
    for line in &hunk.lines {
        match line.kind {
            LineKind::Removed => added.push(HunkLine { kind: LineKind::Added, ..line.clone() }),
            LineKind::Added => removed.push(HunkLine { kind: LineKind::Removed, ..line.clone() }),
            LineKind::Context | LineKind::BlankContext => {
                lines.append(&mut removed);
                lines.append(&mut added);
                lines.push(line.clone());
            }
        }
    }
    lines.append(&mut removed);
    lines.append(&mut added);
    end_all_but_the_last(&mut lines);
    Hunk { old: explicit(hunk.new), new: explicit(hunk.old), section: hunk.section.clone(), end: hunk.end, lines }
}

/// A line without an end (the last of a text cut short) that moved before others gets one.
fn end_all_but_the_last(lines: &mut [HunkLine]) {
    let Some((_, before_last)) = lines.split_last_mut() else { return };
    for line in before_last {
        if line.end == LineEnd::Missing {
            line.end = LineEnd::Lf;
        }
        if let Some(marker) = line.no_newline.as_mut().filter(|m| !m.ends_with('\n')) {
            marker.push('\n');
        }
    }
}
