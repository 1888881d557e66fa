//! Reading a unified diff into a [`Patch`].
//!
//! In: the text. Out: the patch, or a [`PatchError::Malformed`] naming the 1-based line. A file
//! starts at a `diff ` line or a `---` / `+++` pair (joining the header of a file that has no
//! hunk yet, unless that header already has one); text after a file's hunks waits for the next
//! file and becomes the start of its header (or the patch's trailer when no file follows).
//! Hunk bodies are read by the counts of their `@@` line, as git does.

use super::{FilePatch, Header, HeaderLine, Hunk, HunkLine, LineEnd, LineKind, Patch, PatchError, Range};

pub(super) fn parse(text: &str) -> Result<Patch, PatchError> {
    let mut parser =
        Parser { lines: text.split_inclusive('\n').collect(), at: 0, files: Vec::new(), pending: Vec::new() };
    parser.run()?;
    Ok(Patch { files: parser.files, trailer: parser.pending })
}

/// What starts a file.
#[derive(Clone, Copy)]
enum FileStart {
    /// A `diff ...` line.
    Diff,
    /// A `---` / `+++` pair.
    Paths,
}

struct Parser<'a> {
    lines: Vec<&'a str>,
    /// 0-based index of the next line to read.
    at: usize,
    files: Vec<FilePatch>,
    /// Lines after the last hunk, not yet given to a file.
    pending: Vec<HeaderLine>,
}

impl Parser<'_> {
    fn run(&mut self) -> Result<(), PatchError> {
        while let Some(&raw) = self.lines.get(self.at) {
            let (text, end) = LineEnd::split(raw);
            if text.starts_with("@@") {
                let hunk = self.hunk(text, end)?;
                self.add_hunk(hunk);
            } else if let Some(old) = text.strip_prefix("--- ") {
                let new = self.plus_line_after()?;
                let old = HeaderLine { header: Header::Old(old.to_string()), end };
                self.start_file(FileStart::Paths, [old, new]);
                self.at += 2;
            } else if text.starts_with("+++ ") {
                return Err(self.error(self.at, "a `+++` line without a `---` line before it".into()));
            } else {
                let line = HeaderLine { header: classify(text), end };
                if text.starts_with("diff ") {
                    self.start_file(FileStart::Diff, [line]);
                } else {
                    self.add_text(line);
                }
                self.at += 1;
            }
        }
        Ok(())
    }

    fn error(&self, index: usize, problem: String) -> PatchError {
        PatchError::Malformed { line: index + 1, problem }
    }

    /// The `+++` line that must follow the `---` line at `self.at`.
    fn plus_line_after(&self) -> Result<HeaderLine, PatchError> {
        let next = self.lines.get(self.at + 1).map(|raw| LineEnd::split(raw));
        match next.and_then(|(text, end)| text.strip_prefix("+++ ").map(|p| (p, end))) {
            Some((path, end)) => Ok(HeaderLine { header: Header::New(path.to_string()), end }),
            None => Err(self.error(self.at, "a `---` line not followed by a `+++` line".into())),
        }
    }

    /// Give `lines` to the last file when it is still in its header and has no line of this
    /// kind yet; otherwise they start a new file (after the pending text).
    fn start_file<const N: usize>(&mut self, start: FileStart, lines: [HeaderLine; N]) {
        let joins = self.pending.is_empty()
            && self.files.last().is_some_and(|f| {
                f.hunks.is_empty()
                    && !f.header.iter().any(|h| match start {
                        FileStart::Diff => is_diff_line(&h.header) || matches!(h.header, Header::Old(_)),
                        FileStart::Paths => matches!(h.header, Header::Old(_)),
                    })
            });
        match self.files.last_mut() {
            Some(file) if joins => file.header.extend(lines),
            _ => {
                let mut header = std::mem::take(&mut self.pending);
                header.extend(lines);
                self.files.push(FilePatch { header, hunks: Vec::new() });
            }
        }
    }

    /// A line that starts no file: part of the current header, or pending after hunks.
    fn add_text(&mut self, line: HeaderLine) {
        match self.files.last_mut() {
            Some(file) if file.hunks.is_empty() => file.header.push(line),
            _ => self.pending.push(line),
        }
    }

    /// A hunk belongs to the last file unless text came between them (then it starts a file
    /// with no name, as does a hunk before any header).
    fn add_hunk(&mut self, hunk: Hunk) {
        match self.files.last_mut() {
            Some(file) if self.pending.is_empty() => file.hunks.push(hunk),
            _ => {
                let header = std::mem::take(&mut self.pending);
                self.files.push(FilePatch { header, hunks: vec![hunk] });
            }
        }
    }

    /// Read the hunk whose `@@` line is at `self.at`; leaves `self.at` after it.
    fn hunk(&mut self, text: &str, end: LineEnd) -> Result<Hunk, PatchError> {
        let header_at = self.at;
        let (old, new, section) =
            hunk_header(text).ok_or_else(|| self.error(header_at, format!("malformed hunk header `{text}`")))?;
        let mut hunk = Hunk { old, new, section: section.to_string(), end, lines: Vec::new() };
        let (mut old_left, mut new_left) = (old.len, new.len);
        self.at += 1;
        loop {
            self.attach_markers(&mut hunk)?;
            if old_left == 0 && new_left == 0 {
                return Ok(hunk);
            }
            let Some(&raw) = self.lines.get(self.at) else {
                let problem = format!(
                    "the hunk `{text}` ends early: {old_left} old and {new_left} new lines missing at the end of the text"
                );
                return Err(self.error(header_at, problem));
            };
            let line = self.body_line(raw)?;
            let counts = match line.kind {
                LineKind::Removed => old_left.checked_sub(1).map(|o| (o, new_left)),
                LineKind::Added => new_left.checked_sub(1).map(|n| (old_left, n)),
                LineKind::Context | LineKind::BlankContext => old_left.checked_sub(1).zip(new_left.checked_sub(1)),
            };
            let Some((o, n)) = counts else {
                let problem = format!("more {} lines than the hunk `{text}` counts", line.kind.name());
                return Err(self.error(self.at, problem));
            };
            (old_left, new_left) = (o, n);
            hunk.lines.push(line);
            self.at += 1;
        }
    }

    /// One line of a hunk body: ` `, `-` or `+` and the text, or an empty line (blank context).
    fn body_line(&self, raw: &str) -> Result<HunkLine, PatchError> {
        let (body, end) = LineEnd::split(raw);
        let kind = match body.as_bytes().first() {
            Some(b' ') => LineKind::Context,
            Some(b'-') => LineKind::Removed,
            Some(b'+') => LineKind::Added,
            None if end != LineEnd::Missing => LineKind::BlankContext,
            _ => {
                let shown: String = body.chars().take(60).collect();
                let problem =
                    format!("`{shown}` inside a hunk is neither context (` `), removed (`-`) nor added (`+`)");
                return Err(self.error(self.at, problem));
            }
        };
        let text = body.get(1..).unwrap_or("").to_string();
        Ok(HunkLine { kind, text, end, no_newline: None })
    }

    /// `\ No newline at end of file` lines at `self.at` go to the hunk line before them.
    fn attach_markers(&mut self, hunk: &mut Hunk) -> Result<(), PatchError> {
        while let Some(&raw) = self.lines.get(self.at).filter(|raw| raw.starts_with('\\')) {
            let problem = match hunk.lines.last_mut() {
                None => "a `\\` marker before any line of the hunk",
                Some(line) if line.no_newline.is_some() => "two `\\` markers after one line",
                Some(line) => {
                    line.no_newline = Some(raw.to_string());
                    self.at += 1;
                    continue;
                }
            };
            return Err(self.error(self.at, problem.into()));
        }
        Ok(())
    }
}

/// `@@ -a,b +c,d @@section` → the two ranges and the section text.
fn hunk_header(text: &str) -> Option<(Range, Range, &str)> {
    let rest = text.strip_prefix("@@ -")?;
    let (old, rest) = rest.split_once(" +")?;
    let (new, section) = rest.split_once(" @@")?;
    Some((range(old)?, range(new)?, section))
}

/// `start[,len]`, in the form git writes (no sign, no leading zeros), so that it renders back.
fn range(text: &str) -> Option<Range> {
    let number = |digits: &str| -> Option<u32> {
        let canonical = !digits.is_empty()
            && digits.bytes().all(|b| b.is_ascii_digit())
            && (digits == "0" || !digits.starts_with('0'));
        if canonical {
            digits.parse().ok()
        } else {
            None
        }
    };
    match text.split_once(',') {
        Some((start, len)) => Some(Range { start: number(start)?, len: number(len)?, len_written: true }),
        None => Some(Range { start: number(text)?, len: 1, len_written: false }),
    }
}

fn is_diff_line(h: &Header) -> bool {
    match h {
        Header::Git(_) => true,
        Header::Text(t) => t.starts_with("diff "),
        _ => false,
    }
}

/// What a line outside hunks says; [`Header::Text`] unless the typed form renders back exactly.
fn classify(text: &str) -> Header {
    let typed = typed_header(text);
    match typed {
        Some(h) if h.to_string() == text => h,
        _ => Header::Text(text.to_string()),
    }
}

fn typed_header(text: &str) -> Option<Header> {
    let keyword = |prefix: &str| text.strip_prefix(prefix).map(str::to_string);
    if text.starts_with("GIT binary patch") || text.starts_with("Binary files ") {
        return Some(Header::Binary(text.to_string()));
    }
    if let Some(rest) = text.strip_prefix("index ") {
        let (hashes, mode) = match rest.split_once(' ') {
            Some((h, m)) => (h, Some(m.to_string())),
            None => (rest, None),
        };
        let (from, to) = hashes.split_once("..")?;
        return Some(Header::Index { from: from.to_string(), to: to.to_string(), mode });
    }
    keyword("diff --git ")
        .map(Header::Git)
        .or_else(|| keyword("new file mode ").map(Header::NewFileMode))
        .or_else(|| keyword("deleted file mode ").map(Header::DeletedFileMode))
        .or_else(|| keyword("old mode ").map(Header::OldMode))
        .or_else(|| keyword("new mode ").map(Header::NewMode))
        .or_else(|| keyword("rename from ").map(Header::RenameFrom))
        .or_else(|| keyword("rename to ").map(Header::RenameTo))
        .or_else(|| keyword("copy from ").map(Header::CopyFrom))
        .or_else(|| keyword("copy to ").map(Header::CopyTo))
}
