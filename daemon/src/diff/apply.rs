//! Applying a file's patch to its text, in memory.
//!
//! In: a [`FilePatch`] and the text of the file it was made from. Out: the patched text, or
//! [`PatchError::DoesNotApply`] naming the file, the hunk and the first line that differs. Each
//! hunk must match exactly at the line its header gives (no offset search, no fuzz), hunks in
//! order and not overlapping; line ends are part of the match, and a `\ No newline at end of
//! file` marker means the file's line has none.

use super::{FilePatch, Hunk, LineKind, PatchError};

impl FilePatch {
    /// The text after this file's hunks are applied to `original`.
    pub fn apply(&self, original: &str) -> Result<String, PatchError> {
        let fail = |hunk: usize, problem: String| PatchError::DoesNotApply {
            path: self.path().unwrap_or_else(|| "(unnamed file)".into()),
            hunk,
            problem,
        };
        if self.is_binary() {
            return Err(fail(0, "binary content has no text to apply".into()));
        }
        let lines: Vec<&str> = original.split_inclusive('\n').collect();
        let mut out = String::with_capacity(original.len());
        let mut next = 0;
        for (i, hunk) in self.hunks.iter().enumerate() {
            let at = first_old_line(hunk, lines.len()).map_err(|p| fail(i + 1, p))?;
            if at < next {
                return Err(fail(i + 1, format!("it starts at line {} inside the hunk before it", at + 1)));
            }
            lines[next..at].iter().for_each(|l| out.push_str(l));
            next = apply_hunk(hunk, &lines, at, &mut out).map_err(|p| fail(i + 1, p))?;
        }
        lines.get(next..).unwrap_or_default().iter().for_each(|l| out.push_str(l));
        Ok(out)
    }
}

/// 0-based index of the hunk's first old-side line (for an empty old side: of the line after
/// which it inserts).
fn first_old_line(hunk: &Hunk, file_lines: usize) -> Result<usize, String> {
    let start = hunk.old.start as usize;
    let at = match (hunk.old.len, start) {
        (0, s) => s,
        (_, 0) => return Err(format!("its old side starts at line 0 but has {} lines", hunk.old.len)),
        (_, s) => s - 1,
    };
    if at + hunk.old.len as usize > file_lines {
        return Err(format!(
            "its old side is lines {}..{} but the file has {file_lines} lines",
            start,
            start + hunk.old.len as usize
        ));
    }
    Ok(at)
}

/// Check the hunk's old side against `lines[at..]`, write its new side to `out`; returns the
/// index of the first line after the old side.
fn apply_hunk(hunk: &Hunk, lines: &[&str], at: usize, out: &mut String) -> Result<usize, String> {
    let mut index = at;
    for line in &hunk.lines {
        if line.kind != LineKind::Added {
            let found = lines.get(index).copied().unwrap_or("");
            let expected = line.file_text();
            if found != expected {
                return Err(format!("line {} is {:?}, the patch expects {:?}", index + 1, found, expected));
            }
            index += 1;
        }
        if line.kind != LineKind::Removed {
            out.push_str(&line.file_text());
        }
    }
    Ok(index)
}
