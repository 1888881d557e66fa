//! Secret redaction: every string of a record passes through here before it is stored.
//!
//! In: text or a `Record`. Out: the same with every secret replaced by `[REDACTED]`: tokens and
//! keys recognised by their shape (`rules::TOKEN_RULES`: cloud, VCS, registry, payment, chat and
//! AI vendors, JWTs), PEM private key blocks, passwords in URLs, `curl -u` and `Authorization:`
//! values, and the values of secret-named assignments in env, shell, code, JSON, YAML and CLI
//! flag forms (`keyed`, with an entropy test for names that only may hold a secret).
//!
//! Text without any secret comes back borrowed. The shape rules run as one combined pattern and
//! every pattern is free of look-around and back-references: a handful of linear passes.

mod keyed;
pub mod rules;

pub use keyed::{shannon_entropy, ENTROPY_THRESHOLD};

use crate::model::Record;
use rules::{CONTEXT_RULES, PRIVATE_KEY, TOKEN_RULES};
use serde_json::Value;
use std::borrow::Cow;
use std::sync::LazyLock;

/// What replaces a secret.
pub const MARK: &str = "[REDACTED]";

/// `\b` in the rules is an ASCII word boundary, which keeps the fast DFA engines usable.
fn compile_rule(pattern: &str) -> String {
    pattern.replace(r"\b", r"(?-u:\b)")
}

/// The lazy DFA's cache for the combined shape rules: the default (2 MiB) is cleared over and
/// over on secret-dense text, which costs a factor of ten.
const TOKENS_DFA_CACHE_BYTES: usize = 32 << 20;

/// Every shape rule as one alternation: one pass replaces them all.
static TOKENS: LazyLock<regex::Regex> = LazyLock::new(|| {
    let alternation: Vec<String> = TOKEN_RULES.iter().map(|r| format!("(?:{})", compile_rule(r.pattern))).collect();
    regex::RegexBuilder::new(&alternation.join("|"))
        .dfa_size_limit(TOKENS_DFA_CACHE_BYTES)
        .build()
        .expect("static pattern")
});

static PRIVATE_KEY_BLOCK: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(PRIVATE_KEY).expect("static pattern"));

static CONTEXTS: LazyLock<Vec<regex::Regex>> = LazyLock::new(|| {
    CONTEXT_RULES.iter().map(|r| regex::Regex::new(&compile_rule(r.pattern)).expect("static pattern")).collect()
});

/// Words that start an `Authorization:` value without being its secret.
const AUTH_SCHEMES: &[&str] = &["bearer", "basic", "token", "digest", "apikey", "sso-key"];

/// The names of every rule, shape and context ones, as the test corpus refers to them.
pub fn rule_names() -> impl Iterator<Item = &'static str> {
    TOKEN_RULES.iter().chain(CONTEXT_RULES).map(|r| r.name).chain(["private-key", "keyed-assignment", "keyed-entropy"])
}

/// The new text when a pass replaced something.
fn changed(replaced: Cow<'_, str>) -> Option<String> {
    match replaced {
        Cow::Owned(s) => Some(s),
        Cow::Borrowed(_) => None,
    }
}

/// Replace every secret in `text`. Borrowed when nothing matched.
pub fn redact(text: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(text);
    // Blocks first: a key's base64 lines must not be cut up by the shape rules.
    if let Some(s) = changed(PRIVATE_KEY_BLOCK.replace_all(&out, MARK)) {
        out = Cow::Owned(s);
    }
    for context in CONTEXTS.iter() {
        let replace = |caps: &regex::Captures| {
            let (kept, secret) = (caps.get(1).map_or("", |m| m.as_str()), caps.get(2).map_or("", |m| m.as_str()));
            if AUTH_SCHEMES.contains(&secret.to_ascii_lowercase().as_str()) {
                // `Authorization: Bearer $TOKEN`: the scheme is no secret, the variable neither.
                return caps[0].to_string();
            }
            format!("{kept}{MARK}{}", caps.get(3).map_or("", |m| m.as_str()))
        };
        if let Some(s) = changed(context.replace_all(&out, replace)) {
            out = Cow::Owned(s);
        }
    }
    if let Some(s) = changed(TOKENS.replace_all(&out, MARK)) {
        out = Cow::Owned(s);
    }
    if let Some(s) = changed(keyed::redact_assignments(&out)) {
        out = Cow::Owned(s);
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
    fn redacts_secrets_in_their_contexts() {
        check(r#"{"Authorization": "Bearer abc.def.ghi123"}"#, r#"{"Authorization": "Bearer [REDACTED]"}"#);
        check("GET /login?user=bob&password=Sw0rdfish&next=/", "GET /login?user=bob&password=[REDACTED]&next=/");
        check(r#"{\"password\": \"two words\"}"#, r#"{\"password\": \"[REDACTED]\"}"#);
        check("mysql --password=Sw0rdfish -u root", "mysql --password=[REDACTED] -u root");
        check("export GITLAB_TOKEN='glpat-abcdefghij0123456789'", "export GITLAB_TOKEN='[REDACTED]'");
        // A key printed from a JSON credentials file: escaped newlines, still one block.
        check(
            r#""private_key": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----\n""#,
            r#""private_key": "[REDACTED]\n""#,
        );
        // A key whose END line was cut off: its base64 goes all the same.
        check("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7\nqZx9+/abc=\n", "[REDACTED]");
    }

    #[test]
    fn comparisons_and_references_are_not_assignments() {
        for s in [
            "if password == expected:",
            "token => handle(token)",
            "export API_TOKEN=$API_TOKEN_FROM_VAULT",
            "password = self.password",
            r#"secret: "{{ vault.secret }}""#,
        ] {
            assert!(matches!(redact(s), Cow::Borrowed(_)), "changed: {s} -> {}", redact(s));
        }
    }

    #[test]
    fn leaves_ordinary_text_alone() {
        for s in ["def f(password_length): pass", "https://github.com/x/y", "sk-short", "tokenizer = 3"] {
            assert!(matches!(redact(s), Cow::Borrowed(_)), "changed: {s}");
        }
    }
}
