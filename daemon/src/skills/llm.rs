//! The optional LLM distiller: the same [`Distiller`] interface, with the skill text written by a
//! model behind an OpenAI-compatible `/v1/chat/completions` endpoint.
//!
//! In: the [`Group`]s, an endpoint URL, a model name and an API key (from
//! `SOCRATIC_LLM_API_KEY`, optional). Out: one [`Skill`] per group whose name, description,
//! applicability and operations come from the model; kind, anchor, operators, evidence and
//! stats always come from the group (the model never invents evidence). The prompt
//! (`llm_prompt.md`) and the response schema (`skills_schema.json`) live beside this file; every
//! response is checked against the schema ([`validate_schema`], a validator for the keywords the
//! schema uses) and rejected with a message naming the offending field.

use super::agent_skill::{description_problem, name_problem};
use super::distill::{rule_skill, DistillError, Distiller, Group};
use crate::model::Skill;
use serde_json::{json, Value};
use std::time::Duration;

/// The system prompt.
pub const PROMPT: &str = include_str!("llm_prompt.md");
/// The JSON schema of a response.
pub const SCHEMA: &str = include_str!("skills_schema.json");
/// Environment variable holding the API key.
pub const API_KEY_ENV: &str = "SOCRATIC_LLM_API_KEY";

/// An OpenAI-compatible chat completions endpoint.
#[derive(Debug, Clone)]
pub struct LlmDistiller {
    pub url: String,
    pub model: String,
    pub api_key: Option<String>,
    pub timeout: Duration,
}

impl LlmDistiller {
    /// Endpoint and model from the command line, key from the environment.
    pub fn from_env(url: &str, model: &str) -> LlmDistiller {
        LlmDistiller {
            url: url.to_string(),
            model: model.to_string(),
            api_key: std::env::var(API_KEY_ENV).ok().filter(|k| !k.is_empty()),
            timeout: Duration::from_secs(120),
        }
    }

    /// The full completions URL (see [`crate::chat::endpoint`]).
    pub fn endpoint(&self) -> String {
        crate::chat::endpoint(&self.url)
    }
}

/// The request body for these groups.
pub fn request_body(model: &str, groups: &[Group]) -> Value {
    let schema: Value = serde_json::from_str(SCHEMA).unwrap_or(Value::Null);
    let groups: Vec<Value> = groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            json!({
                "group": i,
                "suggested_name": g.name(),
                "kind": g.kind,
                "repair_pattern": g.pattern.map(|p| json!({"name": p.name(), "summary": p.summary()})),
                "failure_mode": g.mode.map(|m| json!({"name": m.name(), "advice": m.advice()})),
                "stats": g.stats,
                "operators": g.pattern.map(|p| p.operators().to_vec()).unwrap_or_default(),
                "evidence_traces": g.evidence.len(),
            })
        })
        .collect();
    json!({
        "model": model,
        "temperature": 0,
        "messages": [
            {"role": "system", "content": PROMPT},
            {"role": "user", "content": serde_json::to_string_pretty(&json!({"groups": groups})).unwrap_or_default()},
        ],
        "response_format": {"type": "json_schema", "json_schema": {"name": "skills", "strict": true, "schema": schema}},
    })
}

/// Check `value` against `schema` for the keywords our schema uses: `type`, `required`,
/// `properties`, `additionalProperties: false`, `items`, `minItems`, `maxItems`, `minLength`,
/// `maxLength`, `pattern`, `minimum`, `enum`. Errors name the JSON pointer.
pub fn validate_schema(value: &Value, schema: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    check_node(value, schema, "", &mut errors);
    errors
}

fn check_node(v: &Value, s: &Value, at: &str, errors: &mut Vec<String>) {
    let here = if at.is_empty() { "/" } else { at };
    if let Some(t) = s.get("type").and_then(Value::as_str) {
        let ok = match t {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            "null" => v.is_null(),
            _ => true,
        };
        if !ok {
            errors.push(format!("{here}: expected {t}, found {}", crate::traces::json_type(v)));
            return;
        }
    }
    if let Some(allowed) = s.get("enum").and_then(Value::as_array) {
        if !allowed.contains(v) {
            errors.push(format!("{here}: not one of the allowed values"));
        }
    }
    if let Some(obj) = v.as_object() {
        for r in s.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
            if !obj.contains_key(r) {
                errors.push(format!("{here}: missing required field '{r}'"));
            }
        }
        let props = s.get("properties").and_then(Value::as_object);
        for (k, child) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(cs) => check_node(child, cs, &format!("{at}/{k}"), errors),
                None if s.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    errors.push(format!("{here}: unexpected field '{k}'"))
                }
                None => {}
            }
        }
    }
    if let Some(arr) = v.as_array() {
        if let Some(min) = s.get("minItems").and_then(Value::as_u64) {
            if (arr.len() as u64) < min {
                errors.push(format!("{here}: {} items (at least {min})", arr.len()));
            }
        }
        if let Some(max) = s.get("maxItems").and_then(Value::as_u64) {
            if arr.len() as u64 > max {
                errors.push(format!("{here}: {} items (at most {max})", arr.len()));
            }
        }
        if let Some(items) = s.get("items") {
            for (i, x) in arr.iter().enumerate() {
                check_node(x, items, &format!("{at}/{i}"), errors);
            }
        }
    }
    if let Some(text) = v.as_str() {
        let n = text.chars().count() as u64;
        if let Some(min) = s.get("minLength").and_then(Value::as_u64) {
            if n < min {
                errors.push(format!("{here}: {n} characters (at least {min})"));
            }
        }
        if let Some(max) = s.get("maxLength").and_then(Value::as_u64) {
            if n > max {
                errors.push(format!("{here}: {n} characters (at most {max})"));
            }
        }
        if let Some(p) = s.get("pattern").and_then(Value::as_str) {
            match regex::Regex::new(p) {
                Ok(re) if !re.is_match(text) => errors.push(format!("{here}: '{text}' does not match {p}")),
                Ok(_) => {}
                Err(e) => errors.push(format!("{here}: schema pattern {p} is invalid: {e}")),
            }
        }
    }
    if let (Some(min), Some(x)) = (s.get("minimum").and_then(Value::as_f64), v.as_f64()) {
        if x < min {
            errors.push(format!("{here}: {x} is below {min}"));
        }
    }
}

/// The JSON object in a completion's message content (a ```json fence is tolerated).
fn content_json(content: &str) -> Result<Value, DistillError> {
    let t = content.trim();
    let t = t
        .strip_prefix("```json")
        .or_else(|| t.strip_prefix("```"))
        .map(|r| r.trim_end().trim_end_matches("```"))
        .unwrap_or(t);
    serde_json::from_str(t.trim()).map_err(|e| DistillError::BadResponse(format!("message content is not JSON: {e}")))
}

/// Turn a chat completion response body into skills for `groups`.
pub fn parse_response(body: &str, groups: &[Group]) -> Result<Vec<Skill>, DistillError> {
    let doc: Value =
        serde_json::from_str(body).map_err(|e| DistillError::BadResponse(format!("body is not JSON: {e}")))?;
    let content = doc
        .pointer("/choices/0/message/content")
        .and_then(Value::as_str)
        .ok_or_else(|| DistillError::BadResponse("no choices[0].message.content string".into()))?;
    let answer = content_json(content)?;
    let schema: Value =
        serde_json::from_str(SCHEMA).map_err(|e| DistillError::Config(format!("skills_schema.json: {e}")))?;
    let errors = validate_schema(&answer, &schema);
    if !errors.is_empty() {
        return Err(DistillError::BadResponse(format!("does not follow skills_schema.json: {}", errors.join("; "))));
    }
    let items = answer.get("skills").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut out: Vec<Skill> = Vec::new();
    let mut answered = vec![false; groups.len()];
    for item in items {
        let index = item.get("group").and_then(Value::as_u64).unwrap_or(u64::MAX) as usize;
        let g = groups.get(index).ok_or_else(|| {
            DistillError::BadResponse(format!("group {index} does not exist ({} groups)", groups.len()))
        })?;
        let text = |k: &str| item.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let list = |k: &str| {
            item.get(k)
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect::<Vec<_>>())
                .unwrap_or_default()
        };
        let (name, description) = (text("name"), text("description"));
        if let Some(p) = name_problem(&name).or_else(|| description_problem(&description)) {
            return Err(DistillError::BadResponse(format!("group {index}: {p}")));
        }
        if out.iter().any(|s| s.name == name) || answered.get(index).copied().unwrap_or(false) {
            return Err(DistillError::BadResponse(format!("group {index} or name '{name}' answered twice")));
        }
        if let Some(a) = answered.get_mut(index) {
            *a = true;
        }
        out.push(Skill {
            name,
            description,
            applicability: list("applicability"),
            operations: list("operations"),
            ..rule_skill(g)
        });
    }
    // A group the model skipped keeps its rule-based skill.
    for (g, done) in groups.iter().zip(answered) {
        let fallback = rule_skill(g);
        if !done && !out.iter().any(|s| s.name == fallback.name) {
            out.push(fallback);
        }
    }
    Ok(out)
}

impl Distiller for LlmDistiller {
    fn skills(&self, groups: &[Group]) -> Result<Vec<Skill>, DistillError> {
        if groups.is_empty() {
            return Ok(Vec::new());
        }
        let url = self.endpoint();
        let body = request_body(&self.model, groups);
        // One attempt: a distiller run is cheap to repeat, and a failure falls back to nothing.
        let client = crate::chat::ChatClient {
            url: url.clone(),
            api_key: self.api_key.clone(),
            timeout: self.timeout,
            retries: 0,
            backoff: Duration::ZERO,
        };
        let text = client.post(&body).map_err(|e| DistillError::Http {
            url: url.clone(),
            message: match e {
                crate::chat::ChatError::GaveUp { message, .. } => message,
                crate::chat::ChatError::Status { status, snippet, .. }
                | crate::chat::ChatError::Unauthorized { status, snippet, .. } => format!("HTTP {status}: {snippet}"),
                crate::chat::ChatError::NotFound { snippet, .. } => format!("HTTP 404: {snippet}"),
                other => other.to_string(),
            },
        })?;
        parse_response(&text, groups)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{SkillKind, SkillStats};
    use crate::skills::pattern::Pattern;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;

    fn groups() -> Vec<Group> {
        vec![Group {
            kind: SkillKind::RepairPattern,
            pattern: Some(Pattern::ChangedComparison),
            mode: None,
            evidence: vec!["tr-a".into(), "tr-b".into()],
            stats: SkillStats { traces: 2, failures: 1, failure_rate: 0.5 },
        }]
    }

    fn completion(content: &str) -> String {
        json!({"choices": [{"message": {"role": "assistant", "content": content}}]}).to_string()
    }

    /// A one-shot HTTP/1.1 server on 127.0.0.1 answering `status` and `body`; returns the URL
    /// and a handle yielding the request it received (head and body).
    fn stub(status: u16, body: String) -> (String, std::thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let handle = std::thread::spawn(move || {
            let (stream, _) = listener.accept().expect("accept");
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut head = String::new();
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                head.push_str(&line);
            }
            let mut buf = vec![0u8; length];
            let _ = reader.read_exact(&mut buf);
            let mut stream = stream;
            let _ = write!(stream, "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
            let _ = stream.flush();
            format!("{head}\n{}", String::from_utf8_lossy(&buf))
        });
        (url, handle)
    }

    fn distiller(url: &str) -> LlmDistiller {
        LlmDistiller {
            url: url.to_string(),
            model: "stub-model".into(),
            api_key: Some("k123".into()),
            timeout: Duration::from_secs(10),
        }
    }

    #[test]
    fn good_response_becomes_skills_with_group_evidence() {
        let answer = json!({"skills": [{"group": 0, "name": "fix-comparison-bounds", "description": "Check comparison boundaries.", "applicability": ["a comparison decides a branch"], "operations": ["test equal values", "fix the operator"]}]});
        let (url, server) = stub(200, completion(&format!("```json\n{answer}\n```")));
        let skills = distiller(&url).skills(&groups()).expect("skills");
        let request = server.join().expect("server");
        assert!(request.starts_with("POST /v1/chat/completions"), "{request}");
        assert!(request.to_lowercase().contains("authorization: bearer k123"), "{request}");
        assert!(request.contains("\"model\":\"stub-model\"") && request.contains("changed-comparison"), "{request}");
        assert_eq!(skills.len(), 1);
        let s = &skills[0];
        assert_eq!((s.name.as_str(), s.operations.len()), ("fix-comparison-bounds", 2));
        assert_eq!(s.evidence, vec!["tr-a".to_string(), "tr-b".to_string()]);
        assert_eq!(s.operators, vec!["flip_comparison".to_string(), "change_operator".to_string()]);
        assert_eq!(s.stats.failure_rate, 0.5);
    }

    #[test]
    fn bad_responses_give_clear_errors() {
        let cases: Vec<(u16, String, &str)> = vec![
            (200, completion("not json at all"), "not JSON"),
            (200, completion(&json!({"skills": [{"group": 0, "name": "Bad Name", "description": "d", "applicability": ["a"], "operations": ["o"]}]}).to_string()), "/skills/0/name"),
            (200, completion(&json!({"skills": [{"group": 0, "name": "ok"}]}).to_string()), "missing required field 'description'"),
            (200, completion(&json!({"skills": [{"group": 5, "name": "ok", "description": "d", "applicability": ["a"], "operations": ["o"]}]}).to_string()), "group 5 does not exist"),
            (200, "{}".to_string(), "no choices"),
            (500, "{\"error\":\"boom\"}".to_string(), "HTTP 500"),
        ];
        for (status, body, expect) in cases {
            let (url, server) = stub(status, body);
            let err = distiller(&url).skills(&groups()).expect_err("must fail").to_string();
            let _ = server.join();
            assert!(err.contains(expect), "{err} lacks {expect}");
        }
    }

    #[test]
    fn unreachable_endpoint_is_an_http_error() {
        let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(9);
        let err = distiller(&format!("http://127.0.0.1:{port}")).skills(&groups()).expect_err("no server").to_string();
        assert!(err.contains("LLM request to http://127.0.0.1"), "{err}");
    }

    #[test]
    fn schema_and_endpoint() {
        let schema: Value = serde_json::from_str(SCHEMA).expect("schema parses");
        assert!(validate_schema(&json!({"skills": []}), &schema).is_empty());
        assert!(!validate_schema(&json!({"skills": [], "extra": 1}), &schema).is_empty());
        assert!(!validate_schema(&json!([]), &schema).is_empty());
        assert_eq!(distiller("http://h/v1").endpoint(), "http://h/v1/chat/completions");
        assert_eq!(distiller("http://h/").endpoint(), "http://h/v1/chat/completions");
        assert_eq!(distiller("http://h/x/chat/completions").endpoint(), "http://h/x/chat/completions");
    }
}
