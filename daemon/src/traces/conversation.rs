//! The conversation an agent had, kept whole at import (role + content), so the resolved
//! attempts can be trained on as the agent saw them (`socratic train --method rft`).
//!
//! In: chat message lists (mini-swe-agent's `messages`, SWE-agent's `history`: `role`,
//! `content` as a string or a list of text parts, assistant `tool_calls`), SWE-agent trajectory
//! steps (`response` or `thought` + `action`, then `observation`) and OpenHands events. Out:
//! `ChatTurn`s in order with roles system / user / assistant / tool; a tool call is written
//! into the assistant's text as the command it ran (a fenced bash block), so any chat template
//! renders it. Empty turns are dropped. Secrets are redacted with the rest of the record by
//! `traces::parse_file`.

use super::value_fields::lenient_str;
use crate::model::ChatTurn;
use serde_json::Value;

/// The roles a stored turn may have.
const ROLES: &[&str] = &["system", "user", "assistant", "tool"];

fn turn(role: &str, content: String) -> Option<ChatTurn> {
    (ROLES.contains(&role) && !content.trim().is_empty()).then(|| ChatTurn { role: role.to_string(), content })
}

/// A message's text: a string, or the `text` of a list of parts.
pub fn content_text(m: &Value) -> String {
    match m.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => {
            parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect::<Vec<_>>().join("\n")
        }
        _ => String::new(),
    }
}

/// A tool call as text: its `command` argument in a bash block, else `name(arguments)`.
fn tool_call_text(call: &Value) -> String {
    let name = lenient_str(call, &["function", "name"]).unwrap_or("tool");
    let arguments = match call.get("function").and_then(|f| f.get("arguments")) {
        Some(Value::String(s)) => serde_json::from_str::<Value>(s).unwrap_or(Value::String(s.clone())),
        Some(other) => other.clone(),
        None => Value::Null,
    };
    match lenient_str(&arguments, &["command"]) {
        Some(command) if name == "bash" => format!("```bash\n{command}\n```"),
        _ => format!("{name}({arguments})"),
    }
}

/// An OpenAI-style message list (mini-swe-agent `messages`, SWE-agent `history`).
pub fn chat_messages(messages: &[Value]) -> Vec<ChatTurn> {
    messages
        .iter()
        .filter_map(|m| {
            let role = lenient_str(m, &["role"])?;
            let mut content = content_text(m);
            if let Some(calls) = m.get("tool_calls").and_then(Value::as_array) {
                for call in calls {
                    if !content.is_empty() {
                        content.push('\n');
                    }
                    content.push_str(&tool_call_text(call));
                }
            }
            turn(role, content)
        })
        .collect()
}

/// A SWE-agent run: its `history` when that holds the assistant's turns, else the history's
/// opening turns (system prompt, task) followed by the steps.
pub fn swe_agent(history: &[Value], steps: &[Value]) -> Vec<ChatTurn> {
    let mut turns = chat_messages(history);
    if !turns.iter().any(|t| t.role == "assistant") {
        turns.extend(swe_agent_steps(steps));
    }
    turns
}

/// SWE-agent steps: each step's model response (else its thought and action) then its
/// observation.
pub fn swe_agent_steps(steps: &[Value]) -> Vec<ChatTurn> {
    let mut out = Vec::new();
    for step in steps {
        let response = lenient_str(step, &["response"]).map(str::to_string).unwrap_or_else(|| {
            let thought = lenient_str(step, &["thought"]).unwrap_or("");
            let action = lenient_str(step, &["action"]).unwrap_or("");
            format!("{thought}\n```\n{action}\n```").trim().to_string()
        });
        out.extend(turn("assistant", response));
        let observation = match step.get("observation") {
            Some(Value::String(s)) => s.clone(),
            Some(v @ Value::Array(_)) => content_text(&serde_json::json!({ "content": v })),
            _ => String::new(),
        };
        out.extend(turn("user", observation));
    }
    out
}

/// OpenHands events: the user's messages, the agent's actions (thought and what it ran), the
/// observations as tool turns.
pub fn openhands_events(items: &[Value]) -> Vec<ChatTurn> {
    let mut out = Vec::new();
    for item in items {
        let args = item.get("args").unwrap_or(&Value::Null);
        if let Some(action) = lenient_str(item, &["action"]) {
            let source = lenient_str(item, &["source"]).unwrap_or("agent");
            let text = |k: &str| lenient_str(args, &[k]).unwrap_or("").to_string();
            let role = match (action, source) {
                ("system", _) => "system",
                (_, "user") => "user",
                _ => "assistant",
            };
            let content = match action {
                "system" | "message" => text("content"),
                "run" => format!("{}\n```bash\n{}\n```", text("thought"), text("command")),
                "run_ipython" => format!("{}\n```python\n{}\n```", text("thought"), text("code")),
                "finish" => format!("{}\n{}", text("thought"), text("final_thought")),
                other => {
                    let mut rest = args.clone();
                    if let Some(o) = rest.as_object_mut() {
                        o.remove("thought");
                    }
                    format!("{}\n{other}({rest})", text("thought"))
                }
            };
            out.extend(turn(role, content.trim().to_string()));
        } else if item.get("observation").is_some() {
            out.extend(turn("tool", lenient_str(item, &["content"]).unwrap_or("").to_string()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tool_calls_become_bash_blocks_and_empty_turns_go() {
        let turns = chat_messages(&[
            json!({"role": "system", "content": "sys"}),
            json!({"role": "user", "content": [{"type": "text", "text": "task"}]}),
            json!({"role": "assistant", "content": "look", "tool_calls": [
                {"id": "c1", "function": {"name": "bash", "arguments": "{\"command\": \"ls -la\"}"}}]}),
            json!({"role": "tool", "content": "a.py"}),
            json!({"role": "exit", "content": "done"}),
            json!({"role": "user", "content": "  "}),
        ]);
        let roles: Vec<&str> = turns.iter().map(|t| t.role.as_str()).collect();
        assert_eq!(roles, ["system", "user", "assistant", "tool"]);
        assert_eq!(turns[2].content, "look\n```bash\nls -la\n```");
        assert_eq!(turns[1].content, "task");
    }

    #[test]
    fn openhands_actions_and_observations_alternate() {
        let turns = openhands_events(&[
            json!({"source": "user", "action": "message", "args": {"content": "fix it"}}),
            json!({"source": "agent", "action": "run", "args": {"thought": "check", "command": "pytest"}}),
            json!({"source": "agent", "observation": "run", "content": "1 failed", "cause": 1}),
        ]);
        let got: Vec<(&str, &str)> = turns.iter().map(|t| (t.role.as_str(), t.content.as_str())).collect();
        assert_eq!(got, [("user", "fix it"), ("assistant", "check\n```bash\npytest\n```"), ("tool", "1 failed")]);
    }
}
