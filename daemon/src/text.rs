//! Text helpers shared by every stage.
//!
//! In: a name read from the file system or a repository (a folder, a file, a remote). Out: the
//! same name safe to write into a generated file or onto a terminal: control characters escaped,
//! nothing else changed.

/// `name` with each control character (newline, carriage return, escape, ...) written as its
/// escape (`\n`, `\r`, `\u{1b}`), so a name read from a folder or file can never start a line of
/// its own in a generated file or on a terminal; other characters are kept as they are.
pub fn escape_controls(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_nothing_else() {
        assert_eq!(escape_controls("tally\nRUN x\r\u{1b}[1m\tü/é \"q\""), "tally\\nRUN x\\r\\u{1b}[1m\\tü/é \"q\"");
        assert_eq!(escape_controls("plain-name_1.2"), "plain-name_1.2");
        assert!(!escape_controls("a\u{85}b\u{7f}").chars().any(char::is_control));
    }
}
