//! Claude Code session logs (`~/.claude/projects/<project>/<session>.jsonl`).
//!
//! In: JSON Lines of `{"type": "user"|"assistant"|"summary"|"system", "sessionId", "timestamp",
//! "message": {"role", "model", "content": string | [text | thinking | tool_use | tool_result]}}`.
//! Out: one `Record::Trace` per `sessionId`, in order of first appearance: text as `Message`s,
//! `Bash` tool uses as `Command`/`TestRun` events with the output and exit status of their
//! matching `tool_result`, `Edit`/`MultiEdit`/`Write`/`NotebookEdit` as `Edit` events with a
//! descriptive diff, other tools as `tool` messages. Sessions carry no final patch, so the label
//! is inferred (no patch). A malformed line (a string where an object is expected, a missing
//! field) is skipped with a warning on the context naming its line, and the rest imports; a file
//! with no readable session line is an error.

use super::fields::{
    as_object, missing, opt_array, opt_bool, opt_f64, opt_object, opt_str, req_str, wrong_type, Object,
};
use super::{infer, Ctx, Doc};
use crate::model::{Event, Record, SourceFormat, TaskRef, Trace};
use serde_json::Value;
use std::collections::HashMap;

pub fn sniff(doc: &Doc) -> bool {
    records(doc).iter().any(is_session_line)
}

/// The JSON Lines records (a one-line file decodes as a single document).
fn records(doc: &Doc) -> &[Value] {
    match doc {
        Doc::Lines(lines) => lines,
        Doc::Json(v @ Value::Object(_)) => std::slice::from_ref(v),
        Doc::Json(_) => &[],
    }
}

fn is_session_line(v: &Value) -> bool {
    v.as_object().is_some_and(|o| {
        matches!(o.get("type").and_then(Value::as_str), Some("user" | "assistant"))
            && o.get("message").is_some_and(Value::is_object)
            && o.get("sessionId").is_some_and(Value::is_string)
    })
}

pub fn parse(doc: &Doc, ctx: &Ctx) -> Result<Vec<Record>, String> {
    let mut sessions: Vec<Session> = Vec::new();
    let mut by_id: HashMap<String, usize> = HashMap::new();
    let mut skipped: Vec<String> = Vec::new();
    let mut read = 0;
    for (n, line) in records(doc).iter().enumerate() {
        match read_line(line, &mut sessions, &mut by_id) {
            Ok(true) => read += 1,
            Ok(false) => {}
            Err(e) => skipped.push(format!("line {}: {e}", n + 1)),
        }
    }
    if read == 0 {
        if let Some(first) = skipped.first() {
            return Err(first.clone());
        }
    }
    if !skipped.is_empty() {
        ctx.warn(format!("skipped {} malformed line(s), imported the rest: {}", skipped.len(), skipped.join("; ")));
    }
    Ok(sessions.into_iter().map(|s| Record::Trace(s.into_trace(ctx))).collect())
}

/// Read one line into its session. `Ok(false)` for lines that are not messages (summaries,
/// system lines); on an error the session is left as it was before the line.
fn read_line(line: &Value, sessions: &mut Vec<Session>, by_id: &mut HashMap<String, usize>) -> Result<bool, String> {
    let o = as_object(line, "record")?;
    if !matches!(opt_str(o, "type")?, Some("user" | "assistant")) {
        return Ok(false);
    }
    let id = req_str(o, "sessionId")?;
    let index = match by_id.get(id) {
        Some(&index) => index,
        None => {
            let mut session = Session::default();
            session.read_line(o)?;
            by_id.insert(id.to_string(), sessions.len());
            sessions.push(session);
            return Ok(true);
        }
    };
    let Some(session) = sessions.get_mut(index) else { return Ok(false) };
    let events_before = session.events.len();
    let result = session.read_line(o);
    if result.is_err() {
        session.events.truncate(events_before);
        session.pending.retain(|_, p| p.index() < events_before);
    }
    result.map(|()| true)
}

/// A tool use waiting for its result: the index of its event.
enum Pending {
    Command { index: usize, command: String },
    Edit { index: usize, path: Option<String> },
}

impl Pending {
    fn index(&self) -> usize {
        match self {
            Pending::Command { index, .. } | Pending::Edit { index, .. } => *index,
        }
    }
}

#[derive(Default)]
struct Session {
    events: Vec<Event>,
    pending: HashMap<String, Pending>,
    model: Option<String>,
    version: Option<String>,
    started_at: Option<String>,
    ended_at: Option<String>,
    cost_usd: Option<f64>,
}

impl Session {
    fn read_line(&mut self, o: &Object) -> Result<(), String> {
        if let Some(t) = opt_str(o, "timestamp")? {
            self.started_at.get_or_insert_with(|| t.to_string());
            self.ended_at = Some(t.to_string());
        }
        if let Some(v) = opt_str(o, "version")? {
            self.version.get_or_insert_with(|| v.to_string());
        }
        if let Some(cost) = opt_f64(o, "costUSD")? {
            *self.cost_usd.get_or_insert(0.0) += cost;
        }
        let message = opt_object(o, "message")?.ok_or_else(|| missing("message"))?;
        let in_message = |e: String| format!("message: {e}");
        let role = match opt_str(message, "role").map_err(in_message)? {
            Some(role) => role,
            None => req_str(o, "type")?,
        };
        if let Some(model) = opt_str(message, "model").map_err(in_message)? {
            if self.model.is_none() && !model.starts_with('<') {
                self.model = Some(model.to_string());
            }
        }
        match message.get("content") {
            None | Some(Value::Null) => Ok(()),
            Some(Value::String(text)) => {
                self.message(role, text);
                Ok(())
            }
            Some(Value::Array(blocks)) => blocks.iter().enumerate().try_for_each(|(b, block)| {
                let what = format!("message.content[{b}]");
                as_object(block, &what).and_then(|block| self.read_block(role, block)).map_err(|e| {
                    if e.starts_with(&what) {
                        e
                    } else {
                        format!("{what}: {e}")
                    }
                })
            }),
            Some(other) => Err(wrong_type("message.content", "a string or an array", other)),
        }
    }

    fn message(&mut self, role: &str, text: &str) {
        if !text.trim().is_empty() {
            self.events.push(Event::Message { role: role.to_string(), text: text.to_string() });
        }
    }

    fn read_block(&mut self, role: &str, block: &Object) -> Result<(), String> {
        match req_str(block, "type")? {
            "text" => self.message(role, req_str(block, "text")?),
            "thinking" => self.message("thinking", opt_str(block, "thinking")?.unwrap_or("")),
            "tool_use" => self.tool_use(block)?,
            "tool_result" => self.tool_result(block)?,
            _ => {}
        }
        Ok(())
    }

    fn tool_use(&mut self, block: &Object) -> Result<(), String> {
        let id = opt_str(block, "id")?.unwrap_or("").to_string();
        let name = req_str(block, "name")?;
        let empty = Object::new();
        let input = opt_object(block, "input")?.unwrap_or(&empty);
        let in_input = |e: String| format!("{name} input: {e}");
        let index = self.events.len();
        match name {
            "Bash" => {
                let command = req_str(input, "command").map_err(in_input)?.to_string();
                self.events.push(infer::command_event(&command, None, ""));
                self.pending.insert(id, Pending::Command { index, command });
            }
            "Edit" | "MultiEdit" | "Write" | "NotebookEdit" => {
                let (path, diff) = edit_description(name, input).map_err(in_input)?;
                self.events.push(Event::Edit { path: path.clone(), diff });
                self.pending.insert(id, Pending::Edit { index, path });
            }
            _ => {
                let text = format!("{name} {}", Value::Object(input.clone()));
                self.events.push(Event::Message { role: "tool".into(), text: infer::excerpt(&text) });
            }
        }
        Ok(())
    }

    fn tool_result(&mut self, block: &Object) -> Result<(), String> {
        let id = req_str(block, "tool_use_id")?;
        let output = result_text(block)?;
        let is_error = opt_bool(block, "is_error")?.unwrap_or(false);
        match self.pending.remove(id) {
            Some(Pending::Command { index, command }) => {
                if let Some(event) = self.events.get_mut(index) {
                    *event = infer::command_event(&command, Some(exit_code(&output, is_error)), &output);
                }
            }
            Some(Pending::Edit { index, path }) if is_error => {
                if let Some(event) = self.events.get_mut(index) {
                    let path = path.as_deref().unwrap_or("a file");
                    let text = infer::excerpt(&format!("edit of {path} failed: {output}"));
                    *event = Event::Message { role: "tool".into(), text };
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn into_trace(self, ctx: &Ctx) -> Trace {
        let problem_statement = infer::first_user_message(&self.events);
        let label = infer::label(None, None, &self.events);
        Trace {
            id: String::new(),
            source: SourceFormat::ClaudeCode,
            format_version: self.version,
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

/// The text of a `tool_result`: a string, or the text blocks of an array.
fn result_text(block: &Object) -> Result<String, String> {
    match block.get("content") {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(parts)) => {
            Ok(parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect::<Vec<_>>().join("\n"))
        }
        Some(other) => Err(wrong_type("content", "a string or an array", other)),
    }
}

/// The exit code a result states (`Exit code 2`), else 1 for an error and 0 otherwise.
fn exit_code(output: &str, is_error: bool) -> i32 {
    static EXIT: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"(?m)^Exit code:? (-?\d+)").expect("static pattern"));
    EXIT.captures(output).and_then(|c| c.get(1)).and_then(|m| m.as_str().parse().ok()).unwrap_or(i32::from(is_error))
}

/// The path and a diff describing an edit tool's input.
fn edit_description(name: &str, input: &Object) -> Result<(Option<String>, String), String> {
    let path = match opt_str(input, "file_path")? {
        Some(p) => Some(p.to_string()),
        None => opt_str(input, "notebook_path")?.map(str::to_string),
    };
    let shown = path.as_deref().unwrap_or("file");
    let diff = match name {
        "Write" => describe_edit(shown, "", opt_str(input, "content")?.unwrap_or("")),
        "NotebookEdit" => describe_edit(shown, "", opt_str(input, "new_source")?.unwrap_or("")),
        "MultiEdit" => {
            let edits = opt_array(input, "edits")?.ok_or_else(|| missing("edits"))?;
            let parts = edits
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    let e = as_object(e, &format!("edits[{i}]"))?;
                    let at = |err: String| format!("edits[{i}]: {err}");
                    Ok(describe_edit(
                        shown,
                        req_str(e, "old_string").map_err(at)?,
                        req_str(e, "new_string").map_err(at)?,
                    ))
                })
                .collect::<Result<Vec<_>, String>>()?;
            parts.join("")
        }
        _ => describe_edit(shown, req_str(input, "old_string")?, req_str(input, "new_string")?),
    };
    Ok((path, diff))
}

/// A unified diff of an edit's old and new text (the snippet, not the whole file), shortened
/// when long. Used by importers whose tools replace strings rather than give diffs.
pub(super) fn describe_edit(path: &str, old: &str, new: &str) -> String {
    let mut out = crate::diff::text_diff(path, path, old, new);
    if out.is_empty() {
        out = format!("--- {path}\n+++ {path}\n(no change)\n");
    }
    infer::excerpt(&out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Outcome, TestStatus};
    use crate::traces::parse_file;
    use std::path::{Path, PathBuf};

    fn check(text: &str) -> Result<Vec<Trace>, String> {
        let doc = crate::traces::decode("s.jsonl", text.as_bytes()).map_err(|e| e.to_string())?;
        assert!(sniff(&doc), "not sniffed");
        check_warned(text).map(|(traces, _)| traces)
    }

    /// The traces and the warnings of a session file (sniffed or not).
    fn check_warned(text: &str) -> Result<(Vec<Trace>, Vec<String>), String> {
        let doc = crate::traces::decode("s.jsonl", text.as_bytes()).map_err(|e| e.to_string())?;
        let ctx = Ctx {
            origin: "s.jsonl".into(),
            path: PathBuf::from("s.jsonl"),
            instance_id_hint: None,
            warnings: Default::default(),
        };
        let traces = parse(&doc, &ctx)?
            .into_iter()
            .filter_map(|r| if let Record::Trace(t) = r { Some(t) } else { None })
            .collect();
        Ok((traces, ctx.warnings.into_inner()))
    }

    fn line(session: &str, kind: &str, content: Value) -> String {
        serde_json::json!({"type": kind, "sessionId": session, "timestamp": "2025-01-01T00:00:00Z",
            "message": {"role": kind, "model": "claude-x", "content": content}})
        .to_string()
    }

    fn bash(id: &str, command: &str) -> Value {
        serde_json::json!([{"type": "tool_use", "id": id, "name": "Bash", "input": {"command": command}}])
    }

    fn result(id: &str, content: &str, is_error: bool) -> Value {
        serde_json::json!([{"type": "tool_result", "tool_use_id": id, "content": content, "is_error": is_error}])
    }

    #[test]
    fn commands_take_output_and_exit_code_from_results() {
        let text = [
            line("s", "user", Value::String("fix it".into())),
            line("s", "assistant", bash("t1", "ls")),
            line("s", "user", result("t1", "a.py", false)),
            line("s", "assistant", bash("t2", "python -m pytest -rA")),
            line("s", "user", result("t2", "Exit code 2\nFAILED a.py::t - x", true)),
            line("s", "assistant", bash("t3", "false")),
            line("s", "user", serde_json::json!([{"type": "tool_result", "tool_use_id": "t3", "content": [{"type": "text", "text": "boom"}], "is_error": true}])),
            line("s", "assistant", bash("t4", "sleep 100")),
        ]
        .join("\n");
        let t = check(&text).unwrap().remove(0);
        assert_eq!(t.events.len(), 5);
        assert_eq!(t.events[1], Event::Command { command: "ls".into(), exit_code: Some(0), output: "a.py".into() });
        match &t.events[2] {
            Event::TestRun { exit_code, statuses, .. } => {
                assert_eq!(*exit_code, Some(2));
                assert_eq!(statuses.get("a.py::t"), Some(&TestStatus::Failed));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(t.events[3], Event::Command { command: "false".into(), exit_code: Some(1), output: "boom".into() });
        assert_eq!(t.events[4], Event::Command { command: "sleep 100".into(), exit_code: None, output: String::new() });
        assert_eq!(t.task.problem_statement.as_deref(), Some("fix it"));
        assert_eq!(t.model.as_deref(), Some("claude-x"));
        assert_eq!((t.label.outcome, t.final_patch.clone()), (Outcome::NoPatch, None));
    }

    #[test]
    fn edits_and_other_tools() {
        let text = [
            line("s", "assistant", serde_json::json!([
                {"type": "thinking", "thinking": "hmm"},
                {"type": "tool_use", "id": "e1", "name": "Edit", "input": {"file_path": "m.py", "old_string": "a\n", "new_string": "b\n"}},
                {"type": "tool_use", "id": "e2", "name": "MultiEdit", "input": {"file_path": "n.py", "edits": [{"old_string": "x", "new_string": "y"}]}},
                {"type": "tool_use", "id": "e3", "name": "Write", "input": {"file_path": "w.py", "content": "print(1)\n"}},
                {"type": "tool_use", "id": "e4", "name": "Edit", "input": {"file_path": "z.py", "old_string": "q", "new_string": "r"}},
                {"type": "tool_use", "id": "r1", "name": "Read", "input": {"file_path": "m.py"}}])),
            line("s", "user", result("e4", "String to replace not found", true)),
        ]
        .join("\n");
        let t = check(&text).unwrap().remove(0);
        assert_eq!(t.events[0], Event::Message { role: "thinking".into(), text: "hmm".into() });
        match &t.events[1] {
            Event::Edit { path, diff } => {
                assert_eq!(path.as_deref(), Some("m.py"));
                assert!(diff.contains("-a\n+b\n"), "{diff}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(&t.events[2], Event::Edit { diff, .. } if diff.contains("-x") && diff.contains("+y")));
        assert!(matches!(&t.events[3], Event::Edit { diff, .. } if diff.contains("+print(1)")));
        assert!(
            matches!(&t.events[4], Event::Message { role, text } if role == "tool" && text.contains("z.py failed"))
        );
        assert!(matches!(&t.events[5], Event::Message { role, text } if role == "tool" && text.starts_with("Read ")));
    }

    #[test]
    fn one_trace_per_session_and_summaries_skipped() {
        let text = [
            r#"{"type": "summary", "summary": "s", "leafUuid": "u"}"#.to_string(),
            line("a", "user", Value::String("one".into())),
            line("b", "user", Value::String("two".into())),
            line("a", "assistant", serde_json::json!([{"type": "text", "text": "ok"}])),
        ]
        .join("\n");
        let traces = check(&text).unwrap();
        assert_eq!(traces.len(), 2);
        assert_eq!(traces[0].events.len(), 2);
        assert_eq!(traces[1].task.problem_statement.as_deref(), Some("two"));
    }

    #[test]
    fn bad_lines_name_the_field() {
        let good = line("s", "user", Value::String("x".into()));
        let cases = [
            (r#"{"type": "user", "message": {"content": "x"}}"#, "missing field `sessionId`"),
            (r#"{"type": "user", "sessionId": "s"}"#, "missing field `message`"),
            (r#"{"type": "user", "sessionId": "s", "message": {"content": 5}}"#, "`message.content`"),
            (
                r#"{"type": "assistant", "sessionId": "s", "message": {"content": [{"type": "tool_use", "id": "x", "name": "Bash", "input": {}}]}}"#,
                "message.content[0]: Bash input: missing field `command`",
            ),
            (
                r#"{"type": "assistant", "sessionId": "s", "message": {"content": [7]}}"#,
                "message.content[0]: expected an object",
            ),
            (
                r#"{"type": "user", "sessionId": "s", "message": {"content": [{"type": "tool_result", "tool_use_id": "x", "content": 3}]}}"#,
                "`content`",
            ),
            ("[1]", "line 2: record: expected an object"),
        ];
        for (bad, want) in cases {
            // Beside a good line, the bad one is skipped with a warning naming it.
            let (traces, warnings) = check_warned(&format!("{good}\n{bad}")).unwrap();
            assert_eq!(traces.len(), 1, "{bad}");
            let [w] = warnings.as_slice() else { panic!("{bad}: {warnings:?}") };
            assert!(w.contains("skipped 1 malformed line(s)") && w.contains("line 2") && w.contains(want), "{w}");
            // With no good line, it is the file's error.
            let e = check_warned(&format!("{bad}\n{bad}")).unwrap_err();
            let want = want.strip_prefix("line 2: ").unwrap_or(want);
            assert!(e.contains(want) && e.starts_with("line 1"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_failed_line_leaves_its_session_as_it_was() {
        let first = line("s", "assistant", bash("t1", "pytest"));
        let bad =
            r#"{"type": "assistant", "sessionId": "s", "message": {"content": [{"type": "text", "text": "half"}, 7]}}"#;
        let (traces, warnings) = check_warned(&format!("{first}\n{bad}")).unwrap();
        assert_eq!(warnings.len(), 1);
        assert_eq!(traces[0].events.len(), 1, "{:?}", traces[0].events);
    }

    #[test]
    fn sniff_leaves_other_formats_alone() {
        for text in [
            r#"{"timestamp": "t", "type": "session_meta", "payload": {"id": "x"}}"#,
            r#"[{"role": "user", "content": "hi"}]"#,
            r#"{"type": "user", "message": {"content": "no session"}}"#,
            r#"{"instance_id": "a__b-1", "model_patch": "diff"}"#,
        ] {
            let doc = crate::traces::decode("f", text.as_bytes()).unwrap();
            assert!(!sniff(&doc), "claimed: {text}");
        }
    }

    #[test]
    fn fixture_is_imported_and_redacted() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/traces/claude-code/session.jsonl");
        let bytes = std::fs::read(path).unwrap();
        let (name, records) = parse_file(Path::new(path), &bytes).unwrap();
        assert_eq!(name, "claude-code");
        assert_eq!(records.len(), 2);
        let Some(Record::Trace(t)) = records.first() else { panic!("no trace") };
        assert!(t.id.starts_with("tr-"));
        let json = serde_json::to_string(t).unwrap();
        assert!(!json.contains("hunter2pass") && json.contains("[REDACTED]"), "{json}");
        let kinds: Vec<&str> = t.events.iter().map(Event::kind).collect();
        assert!(kinds.contains(&"test_run") && kinds.contains(&"edit") && kinds.contains(&"command"), "{kinds:?}");
        assert_eq!(t.started_at.as_deref(), Some("2025-06-14T10:00:00Z"));
    }

    #[test]
    fn real_shared_file() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/fixtures/traces/claude-code/representative_messages.jsonl"
        );
        if !Path::new(path).parent().is_some_and(Path::exists) {
            return;
        }
        let bytes = std::fs::read(path).unwrap();
        let (name, records) = parse_file(Path::new(path), &bytes).unwrap();
        assert_eq!(name, "claude-code");
        let Some(Record::Trace(t)) = records.first() else { panic!("no trace") };
        assert_eq!(records.len(), 1);
        assert_eq!(t.model.as_deref(), Some("claude-3-sonnet-20240229"));
        let command = t.events.iter().find_map(|e| match e {
            Event::Command { command, exit_code, output } => Some((command.clone(), *exit_code, output.clone())),
            _ => None,
        });
        assert_eq!(
            command,
            Some((
                "python /tmp/decorator_example.py".into(),
                Some(0),
                "Hello, Alice!\nHello, Alice!\nHello, Alice!".into()
            ))
        );
        assert_eq!(t.events.iter().filter(|e| e.kind() == "edit").count(), 1);
    }
}
