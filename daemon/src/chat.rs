//! The one OpenAI-compatible `/v1/chat/completions` client (blocking, ureq), shared by the LLM
//! distiller and the agent Solver.
//!
//! In: a base or full endpoint URL, an optional API key, a JSON request body; a retry policy.
//! Out: the response body text, or a [`ChatError`] naming the endpoint: 401 / 403 (the key) and
//! 404 (the URL or model) fail at once; 429, 5xx and connection errors are retried with
//! exponential back-off until the retries run out. [`Completion`] reads the message content
//! and the `usage` field (tokens, and `usage.cost` where the server reports one).

use serde_json::Value;
use std::time::Duration;

/// Why a chat request failed; every variant names the endpoint.
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    #[error(
        "{url} refused the request (HTTP {status}): check the API key (and the variable it comes from): {snippet}"
    )]
    Unauthorized { url: String, status: u16, snippet: String },
    #[error("{url} answered HTTP 404: check the endpoint URL and the model name: {snippet}")]
    NotFound { url: String, snippet: String },
    #[error("{url} failed after {attempts} attempt(s): {message}")]
    GaveUp { url: String, attempts: u32, message: String },
    #[error("{url} answered HTTP {status}: {snippet}")]
    Status { url: String, status: u16, snippet: String },
    #[error("{url} gave a response we cannot read: {message}")]
    BadResponse { url: String, message: String },
}

/// The full completions URL: a base URL gets `/v1/chat/completions` (or `/chat/completions`
/// after `/v1`) appended.
pub fn endpoint(url: &str) -> String {
    let base = url.trim_end_matches('/');
    if base.ends_with("/chat/completions") {
        base.to_string()
    } else if base.ends_with("/v1") {
        format!("{base}/chat/completions")
    } else {
        format!("{base}/v1/chat/completions")
    }
}

/// The API key held by the environment variable `--api-key-env` names; none when no variable is
/// named, an error naming the variable when it is unset or empty.
pub fn api_key_from_env(var: Option<&str>) -> anyhow::Result<Option<String>> {
    let Some(var) = var else { return Ok(None) };
    match std::env::var(var) {
        Ok(key) if !key.is_empty() => Ok(Some(key)),
        _ => anyhow::bail!("--api-key-env {var}: the variable is not set"),
    }
}

/// An endpoint with its key, time limit and retry policy.
#[derive(Debug, Clone)]
pub struct ChatClient {
    /// The full completions URL (see [`endpoint`]).
    pub url: String,
    pub api_key: Option<String>,
    /// Per request.
    pub timeout: Duration,
    /// Extra attempts after a 429 / 5xx / connection error.
    pub retries: u32,
    /// Wait before the first retry; doubled for each next one.
    pub backoff: Duration,
}

impl ChatClient {
    pub fn new(url: &str, api_key: Option<String>) -> ChatClient {
        ChatClient {
            url: endpoint(url),
            api_key,
            timeout: Duration::from_secs(120),
            retries: 4,
            backoff: Duration::from_millis(500),
        }
    }

    /// POST `body`; the response body of the first 2xx answer.
    pub fn post(&self, body: &Value) -> Result<String, ChatError> {
        let agent: ureq::Agent =
            ureq::Agent::config_builder().timeout_global(Some(self.timeout)).http_status_as_error(false).build().into();
        let text = serde_json::to_string(body)
            .map_err(|e| ChatError::BadResponse { url: self.url.clone(), message: e.to_string() })?;
        let mut wait = self.backoff;
        let mut last = String::new();
        for attempt in 0..=self.retries {
            if attempt > 0 {
                std::thread::sleep(wait);
                wait = wait.saturating_mul(2);
            }
            let mut req = agent.post(&self.url).header("Content-Type", "application/json");
            if let Some(key) = &self.api_key {
                req = req.header("Authorization", &format!("Bearer {key}"));
            }
            let mut resp = match req.send(text.as_bytes()) {
                Ok(r) => r,
                Err(e) => {
                    last = e.to_string();
                    continue;
                }
            };
            let status = resp.status().as_u16();
            let answer = match resp.body_mut().read_to_string() {
                Ok(a) => a,
                Err(e) => {
                    last = format!("reading the body: {e}");
                    continue;
                }
            };
            let snippet: String = answer.chars().take(300).collect();
            match status {
                200..=299 => return Ok(answer),
                401 | 403 => return Err(ChatError::Unauthorized { url: self.url.clone(), status, snippet }),
                404 => return Err(ChatError::NotFound { url: self.url.clone(), snippet }),
                429 | 500..=599 => last = format!("HTTP {status}: {snippet}"),
                _ => return Err(ChatError::Status { url: self.url.clone(), status, snippet }),
            }
        }
        Err(ChatError::GaveUp { url: self.url.clone(), attempts: self.retries + 1, message: last })
    }

    /// One chat turn: `messages` to `model`; the reply's content and usage.
    pub fn complete(&self, model: &str, messages: &[Value]) -> Result<Completion, ChatError> {
        let body = serde_json::json!({"model": model, "messages": messages});
        let text = self.post(&body)?;
        Completion::parse(&text).map_err(|message| ChatError::BadResponse { url: self.url.clone(), message })
    }
}

/// A chat completion: the assistant's text and what it cost.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Completion {
    pub content: String,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// `usage.cost` when the server reports it (USD).
    pub cost_usd: Option<f64>,
}

impl Completion {
    /// Read a response body; the error says what is missing.
    pub fn parse(body: &str) -> Result<Completion, String> {
        let doc: Value = serde_json::from_str(body).map_err(|e| format!("body is not JSON: {e}"))?;
        let content = doc
            .pointer("/choices/0/message/content")
            .and_then(Value::as_str)
            .ok_or("no choices[0].message.content string")?
            .to_string();
        let usage = |k: &str| doc.pointer(&format!("/usage/{k}")).and_then(Value::as_u64).unwrap_or(0);
        Ok(Completion {
            content,
            prompt_tokens: usage("prompt_tokens"),
            completion_tokens: usage("completion_tokens"),
            cost_usd: doc.pointer("/usage/cost").and_then(Value::as_f64),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_and_usage() {
        assert_eq!(endpoint("http://h/v1"), "http://h/v1/chat/completions");
        assert_eq!(endpoint("http://h/"), "http://h/v1/chat/completions");
        assert_eq!(endpoint("http://h/x/chat/completions"), "http://h/x/chat/completions");
        let c = Completion::parse(
            r#"{"choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":7,"completion_tokens":3,"cost":0.01}}"#,
        )
        .unwrap();
        assert_eq!((c.content.as_str(), c.prompt_tokens, c.completion_tokens, c.cost_usd), ("hi", 7, 3, Some(0.01)));
        assert!(Completion::parse("{}").unwrap_err().contains("choices"));
        assert!(Completion::parse("<html>").unwrap_err().contains("not JSON"));
    }
}
