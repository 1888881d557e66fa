//! mini-swe-agent `.traj.json` importer (text format `mini-swe-agent-1` and tool-call format
//! `mini-swe-agent-1.1`).
//!
//! In: one JSON document with `messages` (role/content chat messages), `info` (`exit_status`,
//! `submission`, `model_stats.instance_cost`, `config.model.model_name`), `trajectory_format`
//! and `instance_id`. In the text format each assistant message holds one ```` ```bash ````
//! block and the next user message its `<returncode>N</returncode>` and `<output>`; in the
//! tool-call format assistant `tool_calls` run `bash` and `tool` messages answer them (with
//! `extra.returncode` / `extra.raw_output`).
//! Out: one `Trace` (source `MiniSweAgent`): commands as Command / TestRun events with their exit
//! codes, assistant thoughts and user feedback (the task, format errors) as Messages, the
//! `COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT` command as Submit. The label is inferred from the
//! submission and `info.exit_status` (`LimitsExceeded` → max iterations, empty → no-patch).

use super::value_fields::{
    as_exit_code, as_object, at, get, lenient_f64, lenient_str, non_empty, opt_array, opt_object, opt_str, req_array,
    req_str, wrong_type,
};
use super::{infer, Ctx, Doc};
use crate::model::{Event, Record, SourceFormat, TaskRef, Trace};
use regex::Regex;
use serde_json::Value;
use std::sync::LazyLock;

/// A mini-swe-agent trajectory: `trajectory_format: mini-swe-agent*`, or `messages` with an
/// `info.mini_version`.
pub fn sniff(doc: &Doc) -> bool {
    let Some(v) = doc.json() else { return false };
    match v.get("trajectory_format").and_then(Value::as_str) {
        Some(format) => format.starts_with("mini-swe-agent"),
        None => v.get("messages").is_some() && v.get("info").is_some_and(|i| i.get("mini_version").is_some()),
    }
}

/// The trajectory as one trace.
pub fn parse(doc: &Doc, ctx: &Ctx) -> Result<Vec<Record>, String> {
    let root = doc.json().ok_or("expected one JSON document, got JSON Lines")?;
    as_object(root, "document")?;
    let messages = req_array(root, "messages", "messages")?;
    let info = opt_object(root, "info", "info")?.unwrap_or(&Value::Null);
    let submission = opt_str(info, "submission", "info.submission")?;
    let exit_status = opt_str(info, "exit_status", "info.exit_status")?.or_else(|| exit_message_status(messages));
    let instance_id = opt_str(root, "instance_id", "instance_id")?.map(str::to_string);

    let events = events(messages)?;
    let trace = Trace {
        id: String::new(),
        source: SourceFormat::MiniSweAgent,
        format_version: lenient_str(root, &["trajectory_format"]).map(str::to_string),
        task: TaskRef {
            instance_id: instance_id.or_else(|| ctx.instance_id_hint.clone()),
            problem_statement: problem_statement(messages),
            ..TaskRef::default()
        },
        model: lenient_str(info, &["config", "model", "model_name"]).map(str::to_string),
        label: infer::label(submission, exit_status, &events),
        events,
        final_patch: submission.map(str::to_string),
        cost_usd: lenient_f64(info, &["model_stats", "instance_cost"]),
        started_at: None,
        ended_at: None,
        origin: ctx.origin.clone(),
        messages: super::conversation::chat_messages(messages),
    };
    Ok(vec![Record::Trace(trace)])
}

/// The exit status carried by a final `exit` message (tool-call format), if any.
fn exit_message_status(messages: &[Value]) -> Option<&str> {
    messages
        .iter()
        .rev()
        .find(|m| lenient_str(m, &["role"]) == Some("exit"))
        .and_then(|m| lenient_str(m, &["extra", "exit_status"]))
}

/// The task text: the PR description inside the first user message's `<pr_description>` tags.
fn problem_statement(messages: &[Value]) -> Option<String> {
    static PR: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?s)<pr_description>\s*(?:Consider the following PR description:\s*)?(.*?)\s*</pr_description>")
            .expect("static pattern")
    });
    let first_user = messages.iter().find(|m| lenient_str(m, &["role"]) == Some("user"))?;
    let text = lenient_str(first_user, &["content"])?;
    PR.captures(text).and_then(|c| c.get(1)).map(|m| m.as_str().to_string()).filter(|s| !s.is_empty())
}

/// A command the assistant issued whose result has not been seen yet.
struct Pending {
    /// The tool call id (tool-call format); `None` for a bash block (text format).
    call_id: Option<String>,
    command: String,
}

/// Turns messages into events, pairing each command with the message that answers it.
#[derive(Default)]
struct Walk {
    events: Vec<Event>,
    pending: Vec<Pending>,
}

impl Walk {
    /// Close a command with its result (or with none when it never got one).
    fn close(&mut self, pending: Pending, exit_code: Option<i32>, output: &str) {
        if is_submit(&pending.command) {
            self.events.push(Event::Submit { note: None });
        } else {
            self.events.push(infer::command_event(&pending.command, exit_code, output));
        }
    }

    /// Commands that were never answered still happened.
    fn flush(&mut self) {
        for p in std::mem::take(&mut self.pending) {
            self.close(p, None, "");
        }
    }

    fn message(&mut self, role: &str, text: &str) {
        if let Some(text) = non_empty(text) {
            self.events.push(Event::Message { role: role.to_string(), text: infer::excerpt(text.trim()) });
        }
    }
}

/// All events of the conversation, in order.
fn events(messages: &[Value]) -> Result<Vec<Event>, String> {
    let mut walk = Walk::default();
    for (n, m) in messages.iter().enumerate() {
        let name = format!("messages[{n}]");
        as_object(m, &name)?;
        let role = req_str(m, "role", &format!("{name}.role"))?;
        let content = content_text(m, &name)?;
        match role {
            "assistant" => assistant(&mut walk, m, &content, &name)?,
            "tool" => tool_result(&mut walk, m, &content, &name)?,
            "user" => user(&mut walk, &content),
            "exit" => walk.flush(),
            _ => {}
        }
    }
    walk.flush();
    Ok(walk.events)
}

/// A message's text: a string, a list of `{type: text, text}` parts, or nothing.
fn content_text(m: &Value, name: &str) -> Result<String, String> {
    match get(m, "content") {
        None => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(parts)) => {
            Ok(parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect::<Vec<_>>().join("\n"))
        }
        Some(other) => Err(wrong_type(&format!("{name}.content"), "a string or a list of parts", other)),
    }
}

/// An assistant turn: its thought, and the commands it issues (tool calls, or one bash block).
fn assistant(walk: &mut Walk, m: &Value, content: &str, name: &str) -> Result<(), String> {
    walk.flush();
    match opt_array(m, "tool_calls", &format!("{name}.tool_calls"))? {
        Some(calls) => {
            walk.message("assistant", content);
            for call in calls {
                let command = tool_call_command(call);
                walk.pending.push(Pending { call_id: lenient_str(call, &["id"]).map(str::to_string), command });
            }
        }
        None => {
            static BLOCK: LazyLock<Regex> =
                LazyLock::new(|| Regex::new(r"(?s)```bash\s*\n(.*?)\n```").expect("static pattern"));
            let blocks: Vec<&str> = BLOCK.captures_iter(content).filter_map(|c| c.get(1)).map(|b| b.as_str()).collect();
            walk.message("assistant", &BLOCK.replace_all(content, ""));
            // mini-swe-agent runs a block only when there is exactly one; otherwise the next
            // user message is a format error.
            if let [command] = blocks.as_slice() {
                walk.pending.push(Pending { call_id: None, command: command.trim().to_string() });
            }
        }
    }
    Ok(())
}

/// The shell command of a `bash` tool call (`function.arguments` is a JSON string or object).
fn tool_call_command(call: &Value) -> String {
    let arguments = at(call, &["function", "arguments"]);
    let parsed = match arguments {
        Some(Value::String(s)) => serde_json::from_str::<Value>(s).ok(),
        Some(other) => Some(other.clone()),
        None => None,
    };
    parsed
        .as_ref()
        .and_then(|a| lenient_str(a, &["command"]))
        .map(str::to_string)
        .or_else(|| arguments.and_then(Value::as_str).map(str::to_string))
        .unwrap_or_default()
}

/// A `tool` message answers the pending call with its id (or the oldest one).
fn tool_result(walk: &mut Walk, m: &Value, content: &str, name: &str) -> Result<(), String> {
    let call_id = opt_str(m, "tool_call_id", &format!("{name}.tool_call_id"))?;
    let position = walk.pending.iter().position(|p| call_id.is_some() && p.call_id.as_deref() == call_id).unwrap_or(0);
    if position >= walk.pending.len() {
        walk.message("tool", content);
        return Ok(());
    }
    let pending = walk.pending.remove(position);
    let (parsed_code, parsed_output) = observation(content);
    let exit_code = at(m, &["extra", "returncode"]).and_then(as_exit_code).or(parsed_code);
    let output = lenient_str(m, &["extra", "raw_output"]).map(str::to_string).unwrap_or(parsed_output);
    walk.close(pending, exit_code, &output);
    Ok(())
}

/// A user message is the observation of a pending bash block, or feedback / the task.
fn user(walk: &mut Walk, content: &str) {
    let answers_block = walk.pending.first().is_some_and(|p| p.call_id.is_none());
    if !answers_block {
        walk.message("user", content);
        return;
    }
    let pending = walk.pending.remove(0);
    let (exit_code, output) = observation(content);
    walk.close(pending, exit_code, &output);
}

/// The exit code and output of an observation: `<returncode>`, then `<output>` or the
/// `<output_head>` / `<output_tail>` of a long one; the whole text when untagged.
fn observation(content: &str) -> (Option<i32>, String) {
    static CODE: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"<returncode>\s*(-?\d+)\s*</returncode>").expect("static pattern"));
    static OUTPUT: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?s)<output>\n?(.*?)\n?</output>").expect("static pattern"));
    static HEAD_TAIL: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"(?s)<output_head>\n?(.*?)\n?</output_head>.*?<output_tail>\n?(.*?)\n?</output_tail>")
            .expect("static pattern")
    });
    let exit_code = CODE.captures(content).and_then(|c| c.get(1)).and_then(|m| m.as_str().parse().ok());
    let output = if let Some(m) = OUTPUT.captures(content).and_then(|c| c.get(1)) {
        m.as_str().to_string()
    } else if let Some(c) = HEAD_TAIL.captures(content) {
        let part = |i| c.get(i).map_or("", |m| m.as_str());
        format!("{}\n[... output elided ...]\n{}", part(1), part(2))
    } else {
        CODE.replace(content, "").trim().to_string()
    };
    (exit_code, output)
}

/// mini-swe-agent's submit command (older versions used another marker).
fn is_submit(command: &str) -> bool {
    command.contains("COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT") || command.contains("MINI_SWE_AGENT_FINAL_OUTPUT")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FailureReason, Outcome};
    use crate::redact::MARK;
    use crate::traces::value_fields::test_support::{
        exit_codes, import, import_fixture, kinds, other_fixtures, parse_err, SHARED,
    };
    use serde_json::json;
    use std::path::Path;

    fn one(rel: &str) -> Trace {
        let mut traces = import_fixture(rel, "mini-swe-agent");
        assert_eq!(traces.len(), 1, "{rel}");
        traces.remove(0)
    }

    #[test]
    fn text_format_hitting_the_step_limit_with_no_patch() {
        let t = one("mini-swe-agent/v1text_toy.traj.json");
        assert_eq!(t.format_version.as_deref(), Some("mini-swe-agent-1"));
        assert_eq!(t.task.instance_id.as_deref(), Some("toy__slug-3"));
        assert_eq!(t.task.problem_statement.as_deref(), Some("slugify() drops digits from titles"));
        assert_eq!(t.model.as_deref(), Some("anthropic/claude-sonnet-4-20250514"));
        assert_eq!(t.cost_usd, Some(0.0421));
        assert_eq!(
            kinds(&t),
            ["message", "message", "command", "message", "command", "message", "message", "message", "test_run"]
        );
        assert_eq!(exit_codes(&t), [Some(0), Some(0), Some(1)]);
        assert!(!t.has_patch());
        assert_eq!((t.label.outcome, t.label.failure), (Outcome::NoPatch, Some(FailureReason::EmptyPatch)));
        assert!(t.label.reason.contains("LimitsExceeded"), "{}", t.label.reason);
        let secret_output = t.events.iter().find_map(|e| match e {
            Event::Command { command, output, .. } if command.starts_with("env") => Some(output.clone()),
            _ => None,
        });
        let secret_output = secret_output.unwrap_or_default();
        assert!(secret_output.contains(MARK) && !secret_output.contains("sk-ant-"), "{secret_output}");
    }

    #[test]
    fn tool_call_format_with_exit_codes_and_submit() {
        let t = one("mini-swe-agent/toolcall_toy.traj.json");
        assert_eq!(t.format_version.as_deref(), Some("mini-swe-agent-1.1"));
        assert_eq!(t.model.as_deref(), Some("openai/gpt-5-mini"));
        assert_eq!(kinds(&t), ["message", "command", "message", "message", "test_run", "test_run", "submit"]);
        assert_eq!(exit_codes(&t), [Some(0), Some(1), Some(0)]);
        assert!(matches!(&t.events[1], Event::Command { output, .. } if output.starts_with("import re")));
        assert!(t.has_patch());
        assert_eq!((t.label.outcome, t.label.failure), (Outcome::Resolved, None), "last test run passed");
    }

    #[test]
    fn observations_parse_code_and_output() {
        assert_eq!(observation("<returncode>2</returncode>\n<output>\nboom\n</output>"), (Some(2), "boom".into()));
        let long = "<returncode>0</returncode>\n<warning>long</warning><output_head>\nA\n</output_head>\n<elided_chars>\n9 characters elided\n</elided_chars>\n<output_tail>\nZ\n</output_tail>";
        let (code, out) = observation(long);
        assert_eq!(code, Some(0));
        assert!(out.starts_with('A') && out.ends_with('Z'), "{out}");
        assert_eq!(observation("The last command timed out"), (None, "The last command timed out".into()));
    }

    #[test]
    fn bad_input_names_the_field() {
        let f = "mini-swe-agent-1";
        let cases = [
            (json!({"trajectory_format": f, "messages": "hi"}), "messages: expected an array, got string"),
            (json!({"trajectory_format": f}), "messages: missing"),
            (json!({"trajectory_format": f, "messages": [], "info": "x"}), "info: expected an object, got string"),
            (json!({"trajectory_format": f, "messages": [{"content": "x"}]}), "messages[0].role: missing"),
            (
                json!({"trajectory_format": f, "messages": [{"role": "user", "content": 5}]}),
                "messages[0].content: expected a string",
            ),
            (
                json!({"trajectory_format": f, "messages": [{"role": "assistant", "tool_calls": {}}]}),
                "messages[0].tool_calls: expected an array",
            ),
            (
                json!({"trajectory_format": f, "messages": [], "info": {"exit_status": []}}),
                "info.exit_status: expected a string",
            ),
            (json!({"trajectory_format": f, "messages": [], "instance_id": 9}), "instance_id: expected a string"),
        ];
        for (doc, want) in cases {
            let doc = Doc::Json(doc);
            assert!(sniff(&doc), "{doc:?}");
            let e = parse_err(parse, doc);
            assert!(e.contains(want), "{e} / {want}");
        }
        let truncated = br#"{"trajectory_format": "mini-swe-agent-1", "messages": [{"role": "#;
        assert!(crate::traces::parse_file(Path::new("t.traj.json"), truncated).is_err());
    }

    #[test]
    fn sniff_claims_no_other_format() {
        for (path, doc) in other_fixtures(|folder, name| folder == "mini-swe-agent" && name.contains(".traj")) {
            assert!(!sniff(&doc), "{} claimed", path.display());
        }
    }

    #[test]
    fn real_samples() {
        let dir = Path::new(SHARED).join("mini-swe-agent");
        if !dir.exists() {
            return;
        }
        for (file, id, version) in [
            ("v1text_resolved_django__django-16255.traj.json", "django__django-16255", "mini-swe-agent-1"),
            ("v1text_unresolved_django__django-10999.traj.json", "django__django-10999", "mini-swe-agent-1"),
            (
                "toolcall_resolved_scikit-learn__scikit-learn-15100.traj.json",
                "scikit-learn__scikit-learn-15100",
                "mini-swe-agent-1.1",
            ),
        ] {
            let mut traces = import(&dir.join(file), "mini-swe-agent");
            assert_eq!(traces.len(), 1);
            let t = traces.remove(0);
            assert_eq!(t.task.instance_id.as_deref(), Some(id), "{file}");
            assert_eq!(t.format_version.as_deref(), Some(version), "{file}");
            assert!(t.has_patch(), "{file}");
            assert_ne!(t.label.outcome, Outcome::NoPatch, "{file}");
            assert!(t.events.len() > 10, "{file}");
            assert_eq!(t.events.last().map(Event::kind), Some("submit"), "{file}");
            assert!(exit_codes(&t).iter().filter(|c| c.is_some()).count() >= 8, "{file}: {:?}", exit_codes(&t));
            assert!(t.cost_usd.is_some_and(|c| c > 0.0), "{file}");
            assert!(t.model.is_some() && t.task.problem_statement.is_some(), "{file}");
        }
    }
}
