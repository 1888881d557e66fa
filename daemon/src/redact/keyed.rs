//! Secrets recognised by the name they are assigned to, whatever their vendor.
//!
//! In: text. Out: the same with the value of every secret-named assignment replaced: env and
//! shell (`DB_PASS=x`, `export GITLAB_TOKEN="x"`), code (`password = "x"`), JSON (`"api_key":
//! "x"`, also inside an escaped JSON string), subscripts (`ENV['SECRET_KEY'] = 'x'`), YAML (`client_secret: x`) and CLI flags
//! (`--password x`, `--api-key=x`). Quoted values are replaced whole, spaces included.
//!
//! Names come in two strengths. A strong name (`password`, `secret`, `token`, `api_key`,
//! `credentials`, ...) has any literal value replaced, unless the value is code (a call, an
//! index, an attribute path, a variable or template reference, a type, a boolean). A weak name
//! (`key`, `auth`, `client_id`, ...) has its value replaced only when it is long, mixes letters
//! and digits and has a high Shannon entropy: that covers the keys of vendors no rule names,
//! while `sort_key = name` or `cache_key: 6f1c2a7e-...` stay. Two cases drop a strong name to
//! weak: an unquoted value in code (`token = try_next()`: spaces around `=`, where a literal
//! secret would be quoted), and a lowercase `pass` (`case_status_pass: mark`, while `DB_PASS=x`
//! stays strong). Comparisons (`==`, `=>`), `Class::method` paths, `$VARIABLE`s, templates and
//! masks (`****`) are never replaced.

use super::MARK;
use std::borrow::Cow;
use std::sync::LazyLock;

/// Bits per character above which a weak-named value counts as random.
pub const ENTROPY_THRESHOLD: f64 = 3.5;
/// Shortest weak-named value that can count as random.
const MIN_RANDOM_LEN: usize = 16;
/// Longest quoted value looked at; a quote not closed by then is not a quoted value.
const MAX_QUOTED_LEN: usize = 1024;

/// A name that may hold a secret, its separator, and the value's opening quote if any.
static ASSIGNMENT: LazyLock<regex::Regex> = LazyLock::new(|| {
    let word = r"(?:pass|pwd|secret|token|key|cred|auth|pat|(?:client|access|app|api|consumer)[_.-]?id)";
    let pattern = format!(
        r#"(?i)(?:--(?P<flag>[a-z0-9_-]*{word}[a-z0-9_-]*)(?:=|[ \t]+)|(?P<key>[a-z0-9_.-]*{word}[a-z0-9_.-]*)(?P<sep>\\{{0,3}}["']?\]?[ \t]{{0,3}}(?:=>|:=|=|:)[ \t]{{0,3}}))(?P<open>\\{{0,3}}["'])?"#
    );
    regex::Regex::new(&pattern).expect("static pattern")
});

/// How sure a name is to hold a secret.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum NameStrength {
    /// Any literal value is a secret.
    Strong,
    /// Only a random-looking value is.
    Weak,
}

/// Whether `name` (`DB_PASSWORD`, `apiKey`, `x-api-key`, `--client-secret`) names a secret.
pub fn name_strength(name: &str) -> Option<NameStrength> {
    let words = split_words(name);
    let mut words: Vec<&str> = words.iter().map(String::as_str).collect();
    // `GITHUB_TOKEN_2`, `password1`: a trailing number does not change what it is.
    while words.last().is_some_and(|w| w.chars().all(|c| c.is_ascii_digit())) {
        words.pop();
    }
    let last = *words.last()?;
    let before = if words.len() >= 2 { words[words.len() - 2] } else { "" };
    let strong_suffix = ["password", "passwd", "passphrase", "secret", "token", "apikey"];
    let strong_exact = ["pass", "pwd", "pat", "credential", "credentials", "creds", "pw"];
    if strong_suffix.iter().any(|s| last.ends_with(s)) || strong_exact.contains(&last) {
        return Some(NameStrength::Strong);
    }
    if last == "key" || last == "keys" {
        let strong_before = [
            "api",
            "secret",
            "private",
            "access",
            "auth",
            "signing",
            "encryption",
            "master",
            "license",
            "client",
            "service",
            "account",
            "admin",
            "deploy",
            "webhook",
            "session",
            "hmac",
            "jwt",
            "app",
            "aes",
        ];
        return Some(if strong_before.contains(&before) { NameStrength::Strong } else { NameStrength::Weak });
    }
    let id_owners = ["client", "access", "app", "api", "consumer"];
    if last == "auth" || (last == "id" && id_owners.contains(&before)) {
        return Some(NameStrength::Weak);
    }
    None
}

fn last_word(name: &str) -> Option<String> {
    split_words(name).into_iter().rev().find(|w| !w.chars().all(|c| c.is_ascii_digit()))
}

/// `DB_PASSWORD` → [db, password]; `apiKey` → [api, key]; `x-api-key` → [x, api, key].
fn split_words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for c in name.chars() {
        if !c.is_ascii_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            previous_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && previous_lower && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        previous_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        current.push(c.to_ascii_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// Shannon entropy of `s` in bits per character.
pub fn shannon_entropy(s: &str) -> f64 {
    let mut counts = [0usize; 256];
    for b in s.bytes() {
        counts[b as usize] += 1;
    }
    let len = s.len() as f64;
    if len == 0.0 {
        return 0.0;
    }
    counts.iter().filter(|&&n| n > 0).map(|&n| n as f64 / len).map(|p| -p * p.log2()).sum()
}

/// Long, letters and digits (or base64 punctuation), high entropy, and not a UUID or a git SHA.
pub fn looks_random(value: &str) -> bool {
    let has_letter = value.bytes().any(|b| b.is_ascii_alphabetic());
    let has_digit_or_symbol = value.bytes().any(|b| b.is_ascii_digit() || b == b'+' || b == b'/');
    value.len() >= MIN_RANDOM_LEN
        && !value.contains(char::is_whitespace)
        && has_letter
        && has_digit_or_symbol
        && !is_path(value)
        && !is_uuid(value)
        && !is_git_sha(value)
        && shannon_entropy(value) >= ENTROPY_THRESHOLD
}

fn is_uuid(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    parts.len() == 5
        && parts.iter().zip([8, 4, 4, 4, 12]).all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn is_git_sha(value: &str) -> bool {
    matches!(value.len(), 40 | 64) && value.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn is_path(value: &str) -> bool {
    value.starts_with('/')
        || value.starts_with("./")
        || value.starts_with("../")
        || value.starts_with("~/")
        || value.contains("://")
}

/// A value that is code or a reference rather than a literal secret.
fn is_code(value: &str, name: &str, quoted: bool) -> bool {
    let lower = value.to_ascii_lowercase();
    let words = [
        "null",
        "none",
        "nil",
        "true",
        "false",
        "undefined",
        "str",
        "string",
        "int",
        "bool",
        "bytes",
        "optional",
        "any",
        "secretstr",
        "required",
        "optional[str]",
        "redacted",
        "xxx",
        "***",
        "...",
        "<redacted>",
    ];
    let masked = value.chars().all(|c| matches!(c, '*' | 'x' | 'X' | '.' | '•' | '-'));
    if masked || words.contains(&lower.as_str()) || value.contains(MARK) {
        return true;
    }
    if value.starts_with('$') || value.starts_with('%') || value.starts_with("{{") || value.starts_with("<%") {
        return true;
    }
    if quoted {
        return false;
    }
    // Unquoted: a call, an index, a generic, an attribute path or an identifier like `new_password`.
    if value.contains(['(', '[', '{', '<']) {
        return true;
    }
    let identifier = |s: &str| {
        s.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    let dotted = value.contains('.') && value.split('.').all(identifier);
    let snake = identifier(value) && value.contains('_') && !value.chars().any(|c| c.is_ascii_digit());
    let same_word = identifier(value) && {
        let name = name.to_ascii_lowercase();
        let value = lower.trim_start_matches('_');
        name.contains(value) || ["pass", "pwd", "secret", "token", "key"].iter().any(|w| value.contains(w))
    };
    dotted || snake || same_word
}

/// Where the value starting at `rest` ends: for a quoted value the closing quote, else the first
/// character that cannot be part of a bare value.
fn value_end(rest: &str, quote: Option<&str>) -> Option<(usize, bool)> {
    if let Some(quote) = quote {
        let window = &rest[..floor_char_boundary(rest, MAX_QUOTED_LEN)];
        let close = window.find(quote);
        let newline = window.find('\n');
        match (close, newline) {
            (Some(c), Some(n)) if n < c => {}
            (Some(c), _) => return Some((c, true)),
            _ => {}
        }
    }
    let end = rest.find(|c: char| c.is_whitespace() || "\"'`,;)}]<>&|\\".contains(c)).unwrap_or(rest.len());
    (end > 0).then_some((end, false))
}

fn floor_char_boundary(s: &str, at: usize) -> usize {
    let mut i = at.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Replace the values of secret-named assignments in `text`. Borrowed when none was replaced.
pub fn redact_assignments(text: &str) -> Cow<'_, str> {
    let mut out = String::new();
    let mut copied = 0;
    for caps in ASSIGNMENT.captures_iter(text) {
        let Some(whole) = caps.get(0) else { continue };
        if whole.start() < copied {
            continue;
        }
        let (name, is_flag) = match (caps.name("flag"), caps.name("key")) {
            (Some(flag), _) => (flag.as_str(), true),
            (None, Some(key)) => (key.as_str(), false),
            _ => continue,
        };
        let Some(strength) = name_strength(name) else { continue };
        let rest = &text[whole.end()..];
        // `password == other`, `token => ...` in a match arm: comparisons are not assignments.
        // `Class::method` paths are not assignments either.
        if rest.starts_with(['=', '>', ':']) || rest.starts_with(MARK) {
            continue;
        }
        let quote = caps.name("open").map(|m| m.as_str());
        let Some((len, quoted)) = value_end(rest, quote) else { continue };
        // An opening quote never closed on the line is left as it is; the bare value follows it.
        let value_start = whole.end();
        let value = &rest[..len];
        let trimmed = value.trim();
        let env_form = !is_flag
            && caps.name("sep").is_some_and(|s| s.as_str() == "=")
            && name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        let separator = caps.name("sep").map_or("", |s| s.as_str());
        // In code (`token = try_next()`, `x.password = value`) a literal secret is quoted: an
        // unquoted value there only counts when it looks random.
        let code_form = !is_flag && !quoted && separator.contains('=') && separator.trim() != separator;
        // `pass` is a secret in `DB_PASS=` but a result in `case_status_pass: mark`.
        let lower_pass =
            !name.chars().any(|c| c.is_ascii_lowercase()) || !matches!(last_word(name).as_deref(), Some("pass" | "pw"));
        let strength = if code_form || !lower_pass { NameStrength::Weak } else { strength };
        let secret = match strength {
            NameStrength::Strong => {
                trimmed.len() >= 3
                    && !(trimmed.len() < 6 && trimmed.chars().all(|c| c.is_ascii_digit()))
                    && (env_form && !trimmed.starts_with('$') || !is_code(trimmed, name, quoted))
            }
            NameStrength::Weak => looks_random(trimmed),
        };
        if !secret {
            continue;
        }
        out.push_str(&text[copied..value_start]);
        out.push_str(MARK);
        copied = value_start + value.len();
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_classified_by_their_last_word() {
        for strong in ["DB_PASS", "ADMIN_PASSWORD", "GITLAB_TOKEN", "apiKey", "x-api-key", "client_secret", "TOKEN_2"] {
            assert_eq!(name_strength(strong), Some(NameStrength::Strong), "{strong}");
        }
        for weak in ["sort_key", "KEY", "client_id", "auth"] {
            assert_eq!(name_strength(weak), Some(NameStrength::Weak), "{weak}");
        }
        for none in ["max_tokens", "password_length", "tokenizer", "TOKEN_FILE", "session_id", "bypass_cache"] {
            assert_eq!(name_strength(none), None, "{none}");
        }
    }

    #[test]
    fn entropy_separates_random_from_words() {
        assert!(shannon_entropy("aB3xQ9mZ2kL7pW4vN8rT") > ENTROPY_THRESHOLD);
        assert!(shannon_entropy("aaaaaaaaaaaaaaaaaaaa") < 1.0);
        assert!(looks_random("Zx9Qm2Lk7Pw4Vn8Rt3Bc"));
        assert!(!looks_random("correct_horse_battery"));
        assert!(!looks_random("6f1c2a7e-0000-4000-8000-000000000001"));
        assert!(!looks_random("4ebf70a9c2d1e0f3b5a6978877665544332211aa"));
    }
}
