//! Secret redaction: every string of a record passes through here before it is stored.
//!
//! In: text or a `Record`. Out: the same with API keys, tokens, `Authorization:` values and
//! passwords in URLs replaced by `[REDACTED]`.

use crate::model::Record;
use serde_json::Value;
use std::borrow::Cow;
use std::sync::LazyLock;

/// What replaces a secret.
pub const MARK: &str = "[REDACTED]";

static PATTERNS: LazyLock<Vec<regex::Regex>> = LazyLock::new(|| {
    [
        // OpenAI / Anthropic style keys.
        r"sk-(?:ant-|proj-)?[A-Za-z0-9_-]{16,}",
        // GitHub tokens.
        r"gh[pousr]_[A-Za-z0-9]{20,}",
        r"github_pat_[A-Za-z0-9_]{20,}",
        // AWS access key ids.
        r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b",
        // Google API keys.
        r"AIza[0-9A-Za-z_-]{30,}",
        // Slack tokens.
        r"xox[abprs]-[A-Za-z0-9-]{10,}",
        // Hugging Face tokens.
        r"hf_[A-Za-z0-9]{30,}",
    ]
    .iter()
    .map(|p| regex::Regex::new(p).expect("static pattern"))
    .collect()
});

/// `Authorization: Bearer xyz`, `x-api-key: xyz`, `"api_key": "xyz"`, `AWS_SECRET_ACCESS_KEY=xyz`, ...:
/// group 1 keeps the name and separator, the value is replaced.
static KEYED: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(
        r#"(?i)((?:authorization|proxy-authorization)\s*[:=]\s*(?:bearer|basic|token)?\s*|(?:x-api-key|api[_-]?key|secret[_-]?access[_-]?key|access[_-]?token|auth[_-]?token|password|passwd|secret)["']?\s*[:=]\s*["']?)([^\s"'\\,;}]{6,})"#,
    )
    .expect("static pattern")
});

/// `scheme://user:password@host`: the password is replaced.
static URL_PASSWORD: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r"([a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]+:)([^\s@/]+)(@)").expect("static pattern")
});

/// Replace every secret in `text`. Borrowed when nothing matched.
pub fn redact(text: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(text);
    if let Cow::Owned(s) = URL_PASSWORD.replace_all(&out, format!("${{1}}{MARK}${{3}}")) {
        out = Cow::Owned(s);
    }
    if let Cow::Owned(s) = KEYED.replace_all(&out, format!("${{1}}{MARK}")) {
        out = Cow::Owned(s);
    }
    for p in PATTERNS.iter() {
        if let Cow::Owned(s) = p.replace_all(&out, MARK) {
            out = Cow::Owned(s);
        }
    }
    out
}

/// Redact every string (and object key) in a JSON value, in place.
pub fn redact_value(value: &mut Value) {
    match value {
        Value::String(s) => {
            if let Cow::Owned(r) = redact(s) {
                *s = r;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_value),
        Value::Object(map) => map.values_mut().for_each(redact_value),
        _ => {}
    }
}

/// Redact every string field of a record.
pub fn redact_record(record: Record) -> Record {
    let mut value = match serde_json::to_value(&record) {
        Ok(v) => v,
        Err(_) => return record,
    };
    redact_value(&mut value);
    serde_json::from_value(value).unwrap_or(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expect: &str) {
        assert_eq!(redact(input), expect, "input: {input}");
    }

    #[test]
    fn redacts_known_secret_shapes() {
        check("key sk-ant-api03-abcdefghijklmnopqrstuv end", "key [REDACTED] end");
        check("OPENAI_API_KEY=sk-proj-ABCDEFGHIJKLMNOP1234", "OPENAI_API_KEY=[REDACTED]");
        check("token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "token [REDACTED]");
        check("id AKIAIOSFODNN7EXAMPLE.", "id [REDACTED].");
        check("Authorization: Bearer abc.def.ghi123", "Authorization: Bearer [REDACTED]");
        check("git clone https://bob:hunter22@github.com/x/y", "git clone https://bob:[REDACTED]@github.com/x/y");
        check(r#"{"api_key": "s3cr3tvalue"}"#, r#"{"api_key": "[REDACTED]"}"#);
        check("export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG", "export AWS_SECRET_ACCESS_KEY=[REDACTED]");
    }

    #[test]
    fn leaves_ordinary_text_alone() {
        for s in ["def f(password_length): pass", "https://github.com/x/y", "sk-short", "tokenizer = 3"] {
            assert!(matches!(redact(s), Cow::Borrowed(_)), "changed: {s}");
        }
    }
}
