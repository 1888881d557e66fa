//! Cline task exports: `ui_messages.json` and `api_conversation_history.json` of one task.
//!
//! In: either file, decoded. `ui_messages.json` is an array of `{ts, type: "say"|"ask",
//! say/ask, text}` (`command` then `command_output` chunks, `tool` with a JSON text, `text`,
//! `reasoning`, `completion_result`, `api_req_started` whose JSON text holds the request's
//! `cost`). `api_conversation_history.json` is an array of Anthropic messages `{role, content:
//! string | [text | thinking | tool_use | tool_result]}`.
//! Out: one `Record::Trace` per task: messages, commands with their output, file edits,
//! `Submit` at `completion_result` / `attempt_completion`, and the summed cost. The two files
//! describe the same task, so an API history with a `ui_messages.json` beside it gives no
//! records (the task is imported once, from the UI messages, which hold commands' output and
//! the cost). No final patch, so the label is inferred (no patch).

use super::claude_code::describe_edit;
use super::fields::{as_object, missing, opt_bool, opt_f64, opt_object, opt_str, req_str, wrong_type, Object};
use super::{infer, Ctx, Doc};
use crate::model::{Event, Record, SourceFormat, TaskRef, Trace};
use serde_json::Value;
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    UiMessages,
    ApiHistory,
}

pub fn sniff(doc: &Doc) -> bool {
    kind(doc).is_some()
}

fn kind(doc: &Doc) -> Option<Kind> {
    let Doc::Json(Value::Array(items)) = doc else { return None };
    let first = items.first()?.as_object()?;
    let openhands_like = items.iter().take(20).any(|v| v.get("action").is_some() || v.get("observation").is_some());
    if openhands_like {
        None
    } else if first.get("ts").is_some_and(Value::is_number) && matches!(str_of(first, "type"), Some("say" | "ask")) {
        Some(Kind::UiMessages)
    } else if matches!(str_of(first, "role"), Some("user" | "assistant"))
        && first.get("content").is_some_and(|c| c.is_string() || c.is_array())
    {
        Some(Kind::ApiHistory)
    } else {
        None
    }
}

fn str_of<'a>(o: &'a Object, key: &str) -> Option<&'a str> {
    o.get(key).and_then(Value::as_str)
}

pub fn parse(doc: &Doc, ctx: &Ctx) -> Result<Vec<Record>, String> {
    let items = match doc {
        Doc::Json(Value::Array(items)) => items,
        _ => return Err("expected a JSON array of Cline messages".to_string()),
    };
    match kind(doc) {
        Some(Kind::UiMessages) => Ok(vec![Record::Trace(parse_ui(items)?.into_trace(ctx))]),
        Some(Kind::ApiHistory) if ctx.path.with_file_name("ui_messages.json").exists() => Ok(Vec::new()),
        Some(Kind::ApiHistory) => Ok(vec![Record::Trace(parse_api(items)?.into_trace(ctx))]),
        None => Err("not a Cline ui_messages.json or api_conversation_history.json".to_string()),
    }
}

/// What both files build up.
#[derive(Default)]
struct Task {
    events: Vec<Event>,
    model: Option<String>,
    cost_usd: Option<f64>,
    started_at: Option<String>,
    ended_at: Option<String>,
}

impl Task {
    fn message(&mut self, role: &str, text: &str) {
        if !text.trim().is_empty() {
            self.events.push(Event::Message { role: role.to_string(), text: text.to_string() });
        }
    }

    fn add_cost(&mut self, cost: f64) {
        *self.cost_usd.get_or_insert(0.0) += cost;
    }

    fn note_model(&mut self, o: &Object) -> Result<(), String> {
        if let Some(info) = opt_object(o, "modelInfo")? {
            if let Some(id) = opt_str(info, "modelId").map_err(|e| format!("modelInfo: {e}"))? {
                self.model.get_or_insert_with(|| id.to_string());
            }
        }
        Ok(())
    }

    fn into_trace(self, ctx: &Ctx) -> Trace {
        let problem_statement = infer::first_user_message(&self.events);
        let label = infer::label(None, None, &self.events);
        Trace {
            id: String::new(),
            source: SourceFormat::Cline,
            format_version: None,
            task: TaskRef { instance_id: ctx.instance_id_hint.clone(), problem_statement, ..TaskRef::default() },
            model: self.model,
            events: self.events,
            final_patch: None,
            label,
            cost_usd: self.cost_usd,
            started_at: self.started_at,
            ended_at: self.ended_at,
            origin: ctx.origin.clone(),
            messages: Vec::new(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// ui_messages.json

/// A command whose output chunks are still arriving.
struct OpenCommand {
    index: usize,
    command: String,
    output: String,
}

fn parse_ui(items: &[Value]) -> Result<Task, String> {
    let mut task = Task::default();
    let mut open: Option<OpenCommand> = None;
    let mut last_tool: Option<String> = None;
    let mut seen_task_text = false;
    for (n, item) in items.iter().enumerate() {
        let what = format!("message {}", n + 1);
        let at = |e: String| if e.starts_with(&what) { e } else { format!("{what}: {e}") };
        let o = as_object(item, &what).map_err(at)?;
        let (kind, sub) = ui_kind(o).map_err(at)?;
        let text = opt_str(o, "text").map_err(at)?.unwrap_or("");
        let partial = opt_bool(o, "partial").map_err(at)?.unwrap_or(false);
        note_time(&mut task, o).map_err(at)?;
        task.note_model(o).map_err(at)?;
        if sub != "command_output" {
            open = None;
        }
        if sub != "tool" {
            last_tool = None;
        }
        match (kind, sub) {
            ("say", "text") => {
                task.message(if seen_task_text { "assistant" } else { "user" }, text);
                seen_task_text = true;
            }
            (_, "user_feedback") => task.message("user", text),
            ("say", "reasoning") => task.message("thinking", text),
            (_, "followup") => task.message("assistant", &followup_text(text)),
            (_, "command") => {
                let index = task.events.len();
                task.events.push(infer::command_event(text, None, ""));
                open = Some(OpenCommand { index, command: text.to_string(), output: String::new() });
            }
            (_, "command_output") => {
                if let Some(cmd) = open.as_mut() {
                    cmd.output.push_str(text);
                    if let Some(slot) = task.events.get_mut(cmd.index) {
                        *slot = infer::command_event(&cmd.command, stated_exit_code(&cmd.output), &cmd.output);
                    }
                }
            }
            (_, "tool") if last_tool.as_deref() != Some(text) => {
                if let Some(event) = ui_tool(text, partial).map_err(at)? {
                    task.events.push(event);
                }
                last_tool = Some(text.to_string());
            }
            ("say", "completion_result") => {
                task.message("assistant", text);
                task.events.push(Event::Submit { note: Some(infer::excerpt(text)) });
            }
            ("ask", "completion_result") if !text.trim().is_empty() => {
                task.events.push(Event::Submit { note: Some(infer::excerpt(text)) });
            }
            ("say", "api_req_started") => {
                if let Some(cost) = request_cost(text, partial).map_err(at)? {
                    task.add_cost(cost);
                }
            }
            (_, "error" | "api_req_failed" | "mistake_limit_reached") => task.message("system", text),
            _ => {}
        }
    }
    Ok(task)
}

/// `("say", "text")`, `("ask", "command_output")`, ...
fn ui_kind(o: &Object) -> Result<(&str, &str), String> {
    match req_str(o, "type")? {
        "say" => Ok(("say", req_str(o, "say")?)),
        "ask" => Ok(("ask", req_str(o, "ask")?)),
        other => Err(format!("field `type`: expected \"say\" or \"ask\", found {other:?}")),
    }
}

fn note_time(task: &mut Task, o: &Object) -> Result<(), String> {
    let Some(ms) = opt_f64(o, "ts")? else { return Ok(()) };
    let Some(time) = chrono::DateTime::from_timestamp_millis(ms as i64) else { return Ok(()) };
    let time = time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    task.started_at.get_or_insert_with(|| time.clone());
    task.ended_at = Some(time);
    Ok(())
}

/// A `followup` question's text (JSON `{question, options}` or plain).
fn followup_text(text: &str) -> String {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(o)) => o.get("question").and_then(Value::as_str).unwrap_or(text).to_string(),
        _ => text.to_string(),
    }
}

/// The JSON text of a message, or `None` for a partial (still streaming) one that is not JSON.
fn json_text(text: &str, partial: bool) -> Result<Option<Object>, String> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(o)) => Ok(Some(o)),
        Ok(other) => Err(format!("field `text`: expected a JSON object, found {}", super::json_type(&other))),
        Err(_) if partial => Ok(None),
        Err(e) => Err(format!("field `text`: not JSON ({e})")),
    }
}

fn request_cost(text: &str, partial: bool) -> Result<Option<f64>, String> {
    let Some(o) = json_text(text, partial)? else { return Ok(None) };
    opt_f64(&o, "cost").map_err(|e| format!("text: {e}"))
}

/// A `tool` message: file writes and edits become `Edit`s, other tools `tool` messages.
fn ui_tool(text: &str, partial: bool) -> Result<Option<Event>, String> {
    let Some(o) = json_text(text, partial)? else { return Ok(None) };
    let in_text = |e: String| format!("text: {e}");
    let tool = req_str(&o, "tool").map_err(in_text)?;
    let path = opt_str(&o, "path").map_err(in_text)?;
    let content = opt_str(&o, "content").map_err(in_text)?.unwrap_or("");
    let shown = path.unwrap_or("file");
    let event = match tool {
        "editedExistingFile" => {
            let diff = opt_str(&o, "diff").map_err(in_text)?.unwrap_or(content);
            Event::Edit { path: path.map(str::to_string), diff: infer::excerpt(diff) }
        }
        "newFileCreated" => Event::Edit { path: path.map(str::to_string), diff: describe_edit(shown, "", content) },
        "fileDeleted" => Event::Edit { path: path.map(str::to_string), diff: format!("deleted {shown}") },
        _ => Event::Message {
            role: "tool".into(),
            text: format!("{tool} {}", path.unwrap_or("")).trim_end().to_string(),
        },
    };
    Ok(Some(event))
}

fn stated_exit_code(output: &str) -> Option<i32> {
    static EXIT: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"(?m)^Exit code:? (-?\d+)").expect("static pattern"));
    EXIT.captures(output).and_then(|c| c.get(1)).and_then(|m| m.as_str().parse().ok())
}

// ---------------------------------------------------------------------------------------------
// api_conversation_history.json

/// Tool uses waiting for their results: by id, and the order they were made in (results given
/// as `[tool for '...'] Result:` text name no id).
#[derive(Default)]
struct Waiting {
    by_id: HashMap<String, (usize, String)>,
    unanswered: Vec<String>,
}

fn parse_api(items: &[Value]) -> Result<Task, String> {
    let mut task = Task::default();
    let mut waiting = Waiting::default();
    for (n, item) in items.iter().enumerate() {
        let what = format!("message {}", n + 1);
        let at = |e: String| if e.starts_with(&what) { e } else { format!("{what}: {e}") };
        let o = as_object(item, &what).map_err(at)?;
        let role = req_str(o, "role").map_err(at)?;
        task.note_model(o).map_err(at)?;
        if let Some(metrics) = opt_object(o, "metrics").map_err(at)? {
            if let Some(cost) = opt_f64(metrics, "cost").map_err(|e| at(format!("metrics: {e}")))? {
                task.add_cost(cost);
            }
        }
        match o.get("content") {
            Some(Value::String(text)) => task.message(role, text),
            Some(Value::Array(blocks)) => {
                for (b, block) in blocks.iter().enumerate() {
                    let in_block = |e: String| at(format!("content[{b}]: {e}"));
                    let block = as_object(block, "block").map_err(in_block)?;
                    api_block(&mut task, &mut waiting, role, block).map_err(in_block)?;
                }
            }
            None | Some(Value::Null) => return Err(at(missing("content"))),
            Some(other) => return Err(at(wrong_type("content", "a string or an array", other))),
        }
    }
    Ok(task)
}

fn api_block(task: &mut Task, waiting: &mut Waiting, role: &str, block: &Object) -> Result<(), String> {
    match req_str(block, "type")? {
        "text" => {
            let text = req_str(block, "text")?;
            match tool_result_text(text) {
                Some((tool, output)) => answer(task, waiting, None, tool, output),
                None => task.message(role, text),
            }
        }
        "thinking" => task.message("thinking", opt_str(block, "thinking")?.unwrap_or("")),
        "tool_use" => api_tool_use(task, waiting, block)?,
        "tool_result" => {
            let id = req_str(block, "tool_use_id")?;
            let output = match block.get("content") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Array(parts)) => {
                    parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect::<Vec<_>>().join("\n")
                }
                None | Some(Value::Null) => String::new(),
                Some(other) => return Err(wrong_type("content", "a string or an array", other)),
            };
            answer(task, waiting, Some(id), "", &output);
        }
        _ => {}
    }
    Ok(())
}

fn api_tool_use(task: &mut Task, waiting: &mut Waiting, block: &Object) -> Result<(), String> {
    let name = req_str(block, "name")?;
    let id = opt_str(block, "id")?.unwrap_or("");
    let empty = Object::new();
    let input = opt_object(block, "input")?.unwrap_or(&empty);
    let in_input = |e: String| format!("{name} input: {e}");
    let path = match opt_str(input, "path").map_err(in_input)? {
        Some(p) => Some(p),
        None => opt_str(input, "absolutePath").map_err(in_input)?,
    };
    match name {
        "execute_command" => {
            let command = req_str(input, "command").map_err(in_input)?;
            waiting.by_id.insert(id.to_string(), (task.events.len(), command.to_string()));
            waiting.unanswered.push(id.to_string());
            task.events.push(infer::command_event(command, None, ""));
        }
        "write_to_file" => {
            let content = opt_str(input, "content").map_err(in_input)?.unwrap_or("");
            let diff = describe_edit(path.unwrap_or("file"), "", content);
            task.events.push(Event::Edit { path: path.map(str::to_string), diff });
        }
        "replace_in_file" => {
            let diff = opt_str(input, "diff").map_err(in_input)?.unwrap_or("");
            task.events.push(Event::Edit { path: path.map(str::to_string), diff: infer::excerpt(diff) });
        }
        "attempt_completion" => {
            let result = opt_str(input, "result").map_err(in_input)?.unwrap_or("");
            task.message("assistant", result);
            task.events.push(Event::Submit { note: Some(infer::excerpt(result)) });
        }
        _ => {
            let text = format!("{name} {}", Value::Object(input.clone()));
            task.events.push(Event::Message { role: "tool".into(), text: infer::excerpt(&text) });
        }
    }
    Ok(())
}

/// `[execute_command for 'ls'] Result:\n...` → `("execute_command", "...")`.
fn tool_result_text(text: &str) -> Option<(&str, &str)> {
    let rest = text.strip_prefix('[')?;
    let (head, body) = rest.split_once("] Result:")?;
    let (tool, _) = head.split_once(" for ")?;
    (!tool.contains(char::is_whitespace)).then_some((tool, body.strip_prefix('\n').unwrap_or(body)))
}

/// A tool's result: fills the command it answers (by id, or the oldest unanswered command for
/// text results of `execute_command`); other results become `tool` messages.
fn answer(task: &mut Task, waiting: &mut Waiting, id: Option<&str>, tool: &str, output: &str) {
    let id = match id {
        Some(id) => Some(id.to_string()),
        None if tool == "execute_command" && !waiting.unanswered.is_empty() => Some(waiting.unanswered.remove(0)),
        None => None,
    };
    match id.and_then(|id| {
        waiting.unanswered.retain(|u| u != &id);
        waiting.by_id.remove(&id)
    }) {
        Some((index, command)) => {
            if let Some(slot) = task.events.get_mut(index) {
                *slot = infer::command_event(&command, stated_exit_code(output), output);
            }
        }
        None => {
            let label = if tool.is_empty() { "tool result".to_string() } else { format!("{tool} result") };
            task.events
                .push(Event::Message { role: "tool".into(), text: infer::excerpt(&format!("{label}: {output}")) });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Outcome;
    use crate::traces::parse_file;
    use serde_json::json;
    use std::path::{Path, PathBuf};

    fn check_at(path: &str, value: Value) -> Result<Vec<Trace>, String> {
        let doc = Doc::Json(value);
        assert!(sniff(&doc), "not sniffed");
        let ctx = Ctx {
            origin: path.into(),
            path: PathBuf::from(path),
            instance_id_hint: None,
            warnings: Default::default(),
        };
        Ok(parse(&doc, &ctx)?
            .into_iter()
            .filter_map(|r| if let Record::Trace(t) = r { Some(t) } else { None })
            .collect())
    }

    fn check(value: Value) -> Result<Trace, String> {
        check_at("nowhere/x.json", value)?.pop().ok_or_else(|| "no trace".to_string())
    }

    fn say(ts: i64, say: &str, text: &str) -> Value {
        json!({"ts": ts, "type": "say", "say": say, "text": text})
    }

    #[test]
    fn ui_messages_commands_tools_cost_and_submit() {
        let t = check(json!([
            say(1_700_000_000_000, "text", "Fix area()"),
            say(1, "api_req_started", r#"{"request": "x", "cost": 0.25}"#),
            say(2, "reasoning", "look first"),
            {"ts": 3, "type": "ask", "ask": "command", "text": "pytest -q", "modelInfo": {"modelId": "claude-z"}},
            {"ts": 4, "type": "ask", "ask": "command_output", "text": "FAILED a.py::t\n"},
            {"ts": 5, "type": "ask", "ask": "command_output", "text": "Exit code: 1"},
            {"ts": 6, "type": "ask", "ask": "tool", "text": r#"{"tool": "editedExistingFile", "path": "a.py", "diff": "-a\n+b"}"#},
            say(7, "tool", r#"{"tool": "editedExistingFile", "path": "a.py", "diff": "-a\n+b"}"#),
            say(8, "tool", r#"{"tool": "newFileCreated", "path": "n.py", "content": "x = 1\n"}"#),
            say(9, "tool", r#"{"tool": "readFile", "path": "a.py"}"#),
            say(10, "api_req_started", r#"{"cost": 0.5}"#),
            say(11, "text", "done"),
            say(12, "completion_result", "All fixed"),
            {"ts": 13, "type": "ask", "ask": "completion_result", "text": ""},
            say(14, "checkpoint_created", ""),
        ]))
        .unwrap();
        let kinds: Vec<&str> = t.events.iter().map(Event::kind).collect();
        assert_eq!(
            kinds,
            ["message", "message", "test_run", "edit", "edit", "message", "message", "message", "submit"]
        );
        assert!(
            matches!(&t.events[2], Event::TestRun { exit_code: Some(1), output, .. } if output == "FAILED a.py::t\nExit code: 1")
        );
        assert_eq!(t.events[3], Event::Edit { path: Some("a.py".into()), diff: "-a\n+b".into() });
        assert_eq!(t.cost_usd, Some(0.75));
        assert_eq!(t.model.as_deref(), Some("claude-z"));
        assert_eq!(t.task.problem_statement.as_deref(), Some("Fix area()"));
        assert_eq!(t.events[8], Event::Submit { note: Some("All fixed".into()) });
        assert_eq!(t.started_at.as_deref(), Some("2023-11-14T22:13:20.000Z"));
        assert_eq!(t.label.outcome, Outcome::NoPatch);
    }

    #[test]
    fn api_history_commands_edits_and_completion() {
        let t = check(json!([
            {"role": "user", "content": [{"type": "text", "text": "<task>fix it</task>"}]},
            {"role": "assistant", "modelInfo": {"modelId": "claude-y"}, "content": [
                {"type": "thinking", "thinking": "hm"},
                {"type": "tool_use", "id": "a", "name": "execute_command", "input": {"command": "ls"}}]},
            {"role": "user", "content": [{"type": "text", "text": "[execute_command for 'ls'] Result:\nCommand executed.\nOutput:\na.py"}]},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "b", "name": "execute_command", "input": {"command": "false"}},
                {"type": "tool_use", "id": "c", "name": "replace_in_file", "input": {"path": "a.py", "diff": "------- SEARCH\na\n=======\nb\n+++++++ REPLACE"}},
                {"type": "tool_use", "id": "d", "name": "write_to_file", "input": {"absolutePath": "/w/n.py", "content": "x\n"}},
                {"type": "tool_use", "id": "e", "name": "read_file", "input": {"path": "a.py"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "b", "content": "Exit code: 1\nboom"},
                {"type": "text", "text": "[read_file for 'a.py'] Result:\nb"}]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "f", "name": "attempt_completion", "input": {"result": "Done"}}]},
        ]))
        .unwrap();
        let kinds: Vec<&str> = t.events.iter().map(Event::kind).collect();
        assert_eq!(
            kinds,
            ["message", "message", "command", "command", "edit", "edit", "message", "message", "message", "submit"]
        );
        assert_eq!(
            t.events[2],
            Event::Command { command: "ls".into(), exit_code: None, output: "Command executed.\nOutput:\na.py".into() }
        );
        assert_eq!(
            t.events[3],
            Event::Command { command: "false".into(), exit_code: Some(1), output: "Exit code: 1\nboom".into() }
        );
        assert!(matches!(&t.events[5], Event::Edit { path: Some(p), diff } if p == "/w/n.py" && diff.contains("+x")));
        assert!(
            matches!(&t.events[7], Event::Message { role, text } if role == "tool" && text == "read_file result: b")
        );
        assert_eq!(t.model.as_deref(), Some("claude-y"));
        assert_eq!(t.task.problem_statement.as_deref(), Some("<task>fix it</task>"));
    }

    #[test]
    fn api_history_beside_ui_messages_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ui_messages.json"), "[]").unwrap();
        let path = dir.path().join("api_conversation_history.json");
        let got = check_at(&path.display().to_string(), json!([{"role": "user", "content": "hi"}])).unwrap();
        assert!(got.is_empty());
    }

    #[test]
    fn bad_messages_name_the_field() {
        let cases = [
            (json!([{"ts": 1, "type": "say", "say": "text", "text": "a"}, 5]), "message 2: expected an object"),
            (
                json!([{"ts": 1, "type": "say", "say": "text"}, {"ts": 2, "type": "say"}]),
                "message 2: missing field `say`",
            ),
            (
                json!([{"ts": 1, "type": "say", "say": "text"}, {"ts": 2, "type": "shout", "say": "x"}]),
                "message 2: field `type`",
            ),
            (json!([{"ts": 1, "type": "say", "say": "text", "text": 3}]), "message 1: field `text`"),
            (json!([{"ts": 1, "type": "say", "say": "tool", "text": "{oops"}]), "message 1: field `text`: not JSON"),
            (json!([{"ts": 1, "type": "say", "say": "tool", "text": "{}"}]), "missing field `tool`"),
            (json!([{"ts": 1, "type": "say", "say": "api_req_started", "text": "{\"cost\": \"1\"}"}]), "`cost`"),
            (
                json!([{"role": "user", "content": "x"}, {"role": "assistant", "content": 1}]),
                "message 2: field `content`",
            ),
            (json!([{"role": "user", "content": "x"}, {"role": "assistant"}]), "message 2: missing field `content`"),
            (
                json!([{"role": "assistant", "content": [{"type": "tool_use", "name": "execute_command", "input": {}}]}]),
                "content[0]: execute_command input: missing field `command`",
            ),
            (json!([{"role": "user", "content": [{"type": "text"}]}]), "content[0]: missing field `text`"),
        ];
        for (bad, want) in cases {
            let e = check(bad.clone()).unwrap_err();
            assert!(e.contains(want), "{bad}: {e}");
        }
        let partial = json!([{"ts": 1, "type": "say", "say": "tool", "text": "{\"tool\": \"rea", "partial": true}]);
        assert!(check(partial).is_ok());
    }

    #[test]
    fn sniff_leaves_other_formats_alone() {
        for value in [
            json!([{"id": 1, "action": "message", "args": {}, "source": "user"}, {"id": 2, "observation": "run", "content": ""}]),
            json!([{"role": "user", "content": "x", "action": "run"}]),
            json!([{"instance_id": "a__b-1", "model_patch": "d"}]),
            json!({"messages": [{"role": "user", "content": "x"}], "info": {}}),
            json!([]),
            json!([{"role": "system", "content": "x"}]),
        ] {
            assert!(!sniff(&Doc::Json(value.clone())), "claimed: {value}");
        }
        assert!(!sniff(&Doc::Lines(vec![json!({"ts": 1, "type": "say", "say": "text"})])));
    }

    fn fixture(rel: &str) -> (String, Vec<Record>) {
        let path = format!("{}/../tests/fixtures/traces/cline/{rel}", env!("CARGO_MANIFEST_DIR"));
        let bytes = std::fs::read(&path).unwrap();
        let (name, records) = parse_file(Path::new(&path), &bytes).unwrap_or_else(|e| panic!("{e}"));
        (name.to_string(), records)
    }

    #[test]
    fn fixtures() {
        let (name, records) = fixture("task-1/ui_messages.json");
        assert_eq!((name.as_str(), records.len()), ("cline", 1));
        let Some(Record::Trace(t)) = records.first() else { panic!("no trace") };
        assert!(t.events.iter().any(|e| matches!(e, Event::TestRun { exit_code: Some(0), .. })));
        assert!(t.events.iter().any(|e| e.kind() == "submit"));
        assert!(t.cost_usd.is_some_and(|c| (c - 0.0123).abs() < 1e-9), "{:?}", t.cost_usd);
        let (name, records) = fixture("task-1/api_conversation_history.json");
        assert_eq!((name.as_str(), records.len()), ("cline", 0));
        let (_, records) = fixture("task-2/api_conversation_history.json");
        let Some(Record::Trace(t)) = records.first() else { panic!("no trace") };
        assert!(t.events.iter().any(|e| matches!(e, Event::Command { command, .. } if command.contains("pytest"))
            || matches!(e, Event::TestRun { command, .. } if command.contains("pytest"))));
        assert!(t.events.iter().any(|e| e.kind() == "edit") && t.events.iter().any(|e| e.kind() == "submit"));
    }

    #[test]
    fn real_shared_files() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures/traces/cline");
        if !Path::new(dir).exists() {
            return;
        }
        let read = |f: &str| {
            let path = format!("{dir}/{f}");
            let bytes = std::fs::read(&path).unwrap();
            parse_file(Path::new(&path), &bytes).unwrap_or_else(|e| panic!("{e}")).1
        };
        let records = read("ui_messages.json");
        let Some(Record::Trace(t)) = records.first() else { panic!("no trace") };
        assert_eq!(t.model.as_deref(), Some("claude-sonnet-4-5-20250929"));
        assert!(t.cost_usd.is_some_and(|c| (c - 1.05461835).abs() < 1e-6), "{:?}", t.cost_usd);
        assert_eq!(t.events.iter().filter(|e| matches!(e, Event::Command { .. } | Event::TestRun { .. })).count(), 2);
        assert_eq!(t.events.iter().filter(|e| e.kind() == "edit").count(), 27);
        assert!(matches!(t.events.last(), Some(Event::Submit { .. })));
        assert!(read("api_conversation_history.json").is_empty(), "imported once, from ui_messages.json");

        // Alone (as if no ui_messages.json were beside it), the API history is a trace too.
        let bytes = std::fs::read(format!("{dir}/api_conversation_history.json")).unwrap();
        let doc = crate::traces::decode("api.json", &bytes).unwrap();
        let ctx = Ctx {
            origin: "api.json".into(),
            path: PathBuf::from("alone/api_conversation_history.json"),
            instance_id_hint: None,
            warnings: Default::default(),
        };
        let Ok(mut records) = parse(&doc, &ctx) else { panic!("api history alone") };
        let Some(Record::Trace(t)) = records.pop() else { panic!("no trace") };
        assert_eq!(t.events.iter().filter(|e| matches!(e, Event::Command { .. } | Event::TestRun { .. })).count(), 2);
        assert!(matches!(t.events.last(), Some(Event::Submit { .. })));
    }
}
