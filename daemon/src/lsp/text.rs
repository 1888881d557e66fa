//! Positions and anchors: pure text arithmetic, no LSP types.
//!
//! In: a document's text, LSP-style positions (line, UTF-16 column) and edits as byte ranges.
//! Out: byte offsets, positions, and task anchors moved with the text (or marked stale when an
//! edit touches their site).

/// A (line, UTF-16 column) pair, as LSP counts by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

/// The byte offset of a position, or `None` when the line is past the end of the text or the
/// column falls inside a character. A column past the end of its line clamps to the line end
/// (as the LSP specification asks).
pub fn offset_of(text: &str, pos: Pos) -> Option<usize> {
    let mut line_start = 0usize;
    for _ in 0..pos.line {
        let rest = text.get(line_start..)?;
        let nl = rest.find('\n')?;
        line_start += nl + 1;
    }
    let line = &text[line_start..];
    let line_end = line.find('\n').map_or(line.len(), |i| i);
    let line = &line[..line_end];
    let mut units = 0u32;
    for (i, c) in line.char_indices() {
        if units == pos.col {
            return Some(line_start + i);
        }
        units += c.len_utf16() as u32;
        if units > pos.col {
            return None;
        }
    }
    Some(line_start + line.len())
}

/// The position of a byte offset (clamped to the text, rounded down to a character boundary).
pub fn position_of(text: &str, byte: usize) -> Pos {
    let mut byte = byte.min(text.len());
    while !text.is_char_boundary(byte) {
        byte -= 1;
    }
    let before = &text[..byte];
    let line = before.matches('\n').count() as u32;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().map(|c| c.len_utf16() as u32).sum();
    Pos { line, col }
}

/// One replacement: bytes `start..old_end` of the old text became `new_len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edit {
    pub start: usize,
    pub old_end: usize,
    pub new_len: usize,
}

/// A byte range following the text it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

/// Where a span is after an edit: shifted when the edit is wholly before it, unchanged when
/// wholly after it, `None` when the edit replaced or cut into its text (the site is gone).
/// Inserting exactly at the span's start shifts it; inserting at its end leaves it alone.
pub fn move_span(span: Span, edit: Edit) -> Option<Span> {
    if edit.old_end <= span.start && !(edit.start == edit.old_end && edit.start == span.end && span.start == span.end) {
        let delta = edit.new_len as isize - (edit.old_end - edit.start) as isize;
        let shift = |b: usize| (b as isize + delta).max(0) as usize;
        return Some(Span { start: shift(span.start), end: shift(span.end) });
    }
    if edit.start >= span.end {
        return Some(span);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_round_trip_with_utf16_columns() {
        let text = "a = 1\nb = 'é𝄞'\nc\n";
        for byte in [0, 3, 6, 11, 13, 17, 19, text.len()] {
            let p = position_of(text, byte);
            assert_eq!(offset_of(text, p), Some(byte), "{byte} {p:?}");
        }
        assert_eq!(position_of(text, 13), Pos { line: 1, col: 6 });
        // the column inside the surrogate pair of 𝄞
        assert_eq!(offset_of(text, Pos { line: 1, col: 7 }), None);
        assert_eq!(offset_of(text, Pos { line: 0, col: 99 }), Some(5));
        assert_eq!(offset_of(text, Pos { line: 9, col: 0 }), None);
        assert_eq!(offset_of(text, Pos { line: 3, col: 0 }), Some(text.len()));
    }

    #[test]
    fn spans_move_with_edits_and_die_when_touched() {
        let s = Span { start: 10, end: 20 };
        assert_eq!(move_span(s, Edit { start: 0, old_end: 0, new_len: 5 }), Some(Span { start: 15, end: 25 }));
        assert_eq!(move_span(s, Edit { start: 2, old_end: 8, new_len: 0 }), Some(Span { start: 4, end: 14 }));
        assert_eq!(move_span(s, Edit { start: 10, old_end: 10, new_len: 1 }), Some(Span { start: 11, end: 21 }));
        assert_eq!(move_span(s, Edit { start: 20, old_end: 25, new_len: 1 }), Some(s));
        assert_eq!(move_span(s, Edit { start: 12, old_end: 13, new_len: 1 }), None);
        assert_eq!(move_span(s, Edit { start: 5, old_end: 30, new_len: 0 }), None);
    }
}
