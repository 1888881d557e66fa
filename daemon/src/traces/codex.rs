//! Codex CLI rollouts (`~/.codex/sessions/YYYY/MM/DD/rollout-*.jsonl`).
//!
//! In: JSON Lines of `{"timestamp", "type": "session_meta"|"turn_context"|"response_item"|
//! "event_msg", "payload": {...}}`. Response items are messages, reasoning summaries, shell
//! calls (`function_call` named `shell`/`exec_command`/..., `arguments` a JSON string with
//! `command` or `cmd` as a list or a string), `apply_patch` calls (custom or function tool),
//! and their `*_output`s matched by `call_id` (a JSON string with `output` and
//! `metadata.exit_code`, or plain text).
//! Out: one `Record::Trace` per file: `Message`s, `Command`/`TestRun` events with output and
//! exit code, one `Edit` per file an `apply_patch` touches; repository and commit from the
//! session's git info. No final patch, so the label is inferred (no patch).

use super::fields::{as_object, missing, opt_array, opt_object, opt_str, wrong_type, Object};
use super::{infer, Ctx, Doc};
use crate::model::{Event, Record, SourceFormat, TaskRef, Trace};
use serde_json::Value;
use std::collections::HashMap;

/// Record types of the rollout format.
const RECORD_TYPES: &[&str] = &["session_meta", "turn_context", "response_item", "event_msg"];

/// Function-call names that run a shell command.
const SHELL_TOOLS: &[&str] = &["shell", "exec_command", "container.exec", "local_shell", "shell_command"];

pub fn sniff(doc: &Doc) -> bool {
    records(doc).iter().any(|v| {
        v.as_object().is_some_and(|o| {
            o.get("type").and_then(Value::as_str).is_some_and(|t| RECORD_TYPES.contains(&t))
                && o.get("payload").is_some_and(Value::is_object)
        })
    })
}

fn records(doc: &Doc) -> &[Value] {
    match doc {
        Doc::Lines(lines) => lines,
        Doc::Json(v @ Value::Object(_)) => std::slice::from_ref(v),
        Doc::Json(_) => &[],
    }
}

pub fn parse(doc: &Doc, ctx: &Ctx) -> Result<Vec<Record>, String> {
    let mut rollout = Rollout::default();
    for (n, line) in records(doc).iter().enumerate() {
        let at = |e: String| format!("line {}: {e}", n + 1);
        rollout.read_line(as_object(line, "record").map_err(at)?).map_err(at)?;
    }
    Ok(vec![Record::Trace(rollout.into_trace(ctx))])
}

/// A shell command whose result may arrive in two parts (output item, end event).
struct Call {
    index: usize,
    command: String,
    output: Option<String>,
    exit_code: Option<i32>,
}

#[derive(Default)]
struct Rollout {
    events: Vec<Event>,
    calls: HashMap<String, Call>,
    model: Option<String>,
    version: Option<String>,
    repo: Option<String>,
    base_commit: Option<String>,
    started_at: Option<String>,
    ended_at: Option<String>,
}

impl Rollout {
    fn read_line(&mut self, o: &Object) -> Result<(), String> {
        if let Some(t) = opt_str(o, "timestamp")? {
            self.started_at.get_or_insert_with(|| t.to_string());
            self.ended_at = Some(t.to_string());
        }
        let Some(kind) = opt_str(o, "type")?.filter(|t| RECORD_TYPES.contains(t)) else { return Ok(()) };
        let payload = opt_object(o, "payload")?.ok_or_else(|| missing("payload"))?;
        let in_payload = |e: String| format!("{kind} payload: {e}");
        match kind {
            "session_meta" => self.session_meta(payload),
            "turn_context" => {
                if let Some(model) = opt_str(payload, "model")? {
                    self.model.get_or_insert_with(|| model.to_string());
                }
                Ok(())
            }
            "response_item" => self.response_item(payload),
            _ => self.event_msg(payload),
        }
        .map_err(in_payload)
    }

    fn session_meta(&mut self, p: &Object) -> Result<(), String> {
        self.version = opt_str(p, "cli_version")?.map(str::to_string).or(self.version.take());
        if let Some(git) = opt_object(p, "git")? {
            let in_git = |e: String| format!("git: {e}");
            self.repo = opt_str(git, "repository_url").map_err(in_git)?.map(str::to_string);
            self.base_commit = opt_str(git, "commit_hash").map_err(in_git)?.map(str::to_string);
        }
        Ok(())
    }

    fn response_item(&mut self, p: &Object) -> Result<(), String> {
        match opt_str(p, "type")?.unwrap_or("") {
            "message" => {
                let role = opt_str(p, "role")?.unwrap_or("assistant");
                self.message(role, &content_text(p, "content")?);
            }
            "reasoning" => {
                let mut text = content_text(p, "summary")?;
                if text.is_empty() {
                    text = content_text(p, "content")?;
                }
                self.message("thinking", &text);
            }
            "function_call" => {
                let name = opt_str(p, "name")?.unwrap_or("");
                let call_id = opt_str(p, "call_id")?.unwrap_or("");
                self.function_call(name, call_id, p.get("arguments"))?;
            }
            "custom_tool_call" => {
                let name = opt_str(p, "name")?.unwrap_or("");
                let input = opt_str(p, "input")?.unwrap_or("");
                if name == "apply_patch" {
                    self.events.extend(patch_edits(input));
                } else {
                    self.tool_message(name, input);
                }
            }
            "local_shell_call" => {
                let call_id = opt_str(p, "call_id")?.unwrap_or("");
                let action = opt_object(p, "action")?.ok_or_else(|| missing("action"))?;
                let command = command_text(action).map_err(|e| format!("action: {e}"))?;
                self.shell(call_id, &command);
            }
            "function_call_output" | "custom_tool_call_output" | "local_shell_call_output" => {
                let call_id = opt_str(p, "call_id")?.unwrap_or("");
                let (output, exit_code) = call_output(p)?;
                self.finish_call(call_id, Some(output), exit_code);
            }
            _ => {}
        }
        Ok(())
    }

    fn event_msg(&mut self, p: &Object) -> Result<(), String> {
        if opt_str(p, "type")? == Some("exec_command_end") {
            let call_id = opt_str(p, "call_id")?.unwrap_or("");
            let exit_code = match p.get("exit_code") {
                Some(Value::Number(n)) => n.as_i64().and_then(|c| i32::try_from(c).ok()),
                None | Some(Value::Null) => None,
                Some(other) => return Err(wrong_type("exit_code", "a number", other)),
            };
            let output = opt_str(p, "aggregated_output")?.or(opt_str(p, "stdout")?).map(str::to_string);
            self.finish_call(call_id, output, exit_code);
        }
        Ok(())
    }

    fn message(&mut self, role: &str, text: &str) {
        if !text.trim().is_empty() {
            self.events.push(Event::Message { role: role.to_string(), text: text.to_string() });
        }
    }

    fn tool_message(&mut self, name: &str, input: &str) {
        self.events.push(Event::Message { role: "tool".into(), text: infer::excerpt(&format!("{name} {input}")) });
    }

    fn function_call(&mut self, name: &str, call_id: &str, arguments: Option<&Value>) -> Result<(), String> {
        let parsed: Option<Value> = match arguments {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => serde_json::from_str(s).ok(),
            Some(v @ Value::Object(_)) => Some(v.clone()),
            Some(other) => return Err(wrong_type("arguments", "a JSON string", other)),
        };
        let raw = arguments.map(|a| a.as_str().map_or_else(|| a.to_string(), str::to_string)).unwrap_or_default();
        match (name, parsed.as_ref().and_then(Value::as_object)) {
            ("apply_patch", Some(args)) => {
                let patch = opt_str(args, "input").map_err(|e| format!("arguments: {e}"))?.unwrap_or("");
                self.events.extend(patch_edits(patch));
            }
            (shell, Some(args)) if SHELL_TOOLS.contains(&shell) => {
                let command = command_text(args).map_err(|e| format!("arguments: {e}"))?;
                match argv_patch(args).or_else(|| apply_patch_in_command(&command)) {
                    Some(patch) => self.events.extend(patch_edits(patch)),
                    None => self.shell(call_id, &command),
                }
            }
            _ => self.tool_message(name, &raw),
        }
        Ok(())
    }

    fn shell(&mut self, call_id: &str, command: &str) {
        let index = self.events.len();
        self.events.push(infer::command_event(command, None, ""));
        let call = Call { index, command: command.to_string(), output: None, exit_code: None };
        self.calls.insert(call_id.to_string(), call);
    }

    /// Record what is known of a call's result (output item or end event, in either order).
    fn finish_call(&mut self, call_id: &str, output: Option<String>, exit_code: Option<i32>) {
        let Some(call) = self.calls.get_mut(call_id) else { return };
        if output.is_some() && call.output.is_none() {
            call.output = output;
        }
        call.exit_code = call.exit_code.or(exit_code);
        let event = infer::command_event(&call.command, call.exit_code, call.output.as_deref().unwrap_or(""));
        if let Some(slot) = self.events.get_mut(call.index) {
            *slot = event;
        }
    }

    fn into_trace(self, ctx: &Ctx) -> Trace {
        let problem_statement = self.events.iter().find_map(|e| match e {
            Event::Message { role, text } if role == "user" && !text.trim_start().starts_with('<') => {
                Some(text.clone())
            }
            _ => None,
        });
        let label = infer::label(None, None, &self.events);
        Trace {
            id: String::new(),
            source: SourceFormat::CodexCli,
            format_version: self.version,
            task: TaskRef {
                instance_id: ctx.instance_id_hint.clone(),
                repo: self.repo,
                base_commit: self.base_commit,
                problem_statement,
            },
            model: self.model,
            events: self.events,
            final_patch: None,
            label,
            cost_usd: None,
            started_at: self.started_at,
            ended_at: self.ended_at,
            origin: ctx.origin.clone(),
            messages: Vec::new(),
        }
    }
}

/// The text of a content field: a string, or the `text` of each part of an array.
fn content_text(p: &Object, key: &str) -> Result<String, String> {
    match p.get(key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(parts)) => {
            Ok(parts.iter().filter_map(|part| part.get("text").and_then(Value::as_str)).collect::<Vec<_>>().join("\n"))
        }
        Some(other) => Err(wrong_type(key, "a string or an array", other)),
    }
}

/// A command given as `command` or `cmd`, a list of arguments or a string. `bash -lc <script>`
/// gives the script.
fn command_text(args: &Object) -> Result<String, String> {
    let key = if args.contains_key("command") { "command" } else { "cmd" };
    match args.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(_)) => {
            let argv: Vec<String> = opt_array(args, key)?
                .into_iter()
                .flatten()
                .enumerate()
                .map(|(i, v)| {
                    v.as_str().map(str::to_string).ok_or_else(|| wrong_type(&format!("{key}[{i}]"), "a string", v))
                })
                .collect::<Result<_, _>>()?;
            Ok(join_argv(&argv))
        }
        None | Some(Value::Null) => Err(missing("command")),
        Some(other) => Err(wrong_type(key, "a list or a string", other)),
    }
}

fn join_argv(argv: &[String]) -> String {
    match argv {
        [shell, flag, script] if shell.ends_with("sh") && flag.starts_with('-') && flag.ends_with('c') => {
            script.clone()
        }
        _ => argv
            .iter()
            .map(|a| {
                if a.is_empty() || a.contains(|c: char| c.is_whitespace() || "'\"$;&|<>*?`\\".contains(c)) {
                    format!("'{}'", a.replace('\'', r"'\''"))
                } else {
                    a.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(" "),
    }
}

/// The patch of a `["apply_patch", "<patch>"]` command list.
fn argv_patch(args: &Object) -> Option<&str> {
    match args.get("command").and_then(Value::as_array).map(Vec::as_slice) {
        Some([Value::String(program), Value::String(patch)]) if program == "apply_patch" => Some(patch),
        _ => None,
    }
}

/// The patch of an `apply_patch` run through the shell (a heredoc script), if it is one.
fn apply_patch_in_command(command: &str) -> Option<&str> {
    let start = command.find("*** Begin Patch")?;
    command.trim_start().starts_with("apply_patch").then(|| command.get(start..)).flatten()
}

/// A call's output and exit code: a JSON string `{"output", "metadata": {"exit_code"}}`, or
/// plain text that may state `Process exited with code N` / `Exit code: N`.
fn call_output(p: &Object) -> Result<(String, Option<i32>), String> {
    let text = match p.get("output") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(_)) => content_text(p, "output")?,
        Some(Value::Object(o)) => opt_str(o, "content").map_err(|e| format!("output: {e}"))?.unwrap_or("").to_string(),
        Some(other) => return Err(wrong_type("output", "a string", other)),
    };
    if let Ok(Value::Object(o)) = serde_json::from_str::<Value>(&text) {
        if let Some(Value::String(out)) = o.get("output") {
            let exit = o.get("metadata").and_then(|m| m.get("exit_code")).and_then(Value::as_i64);
            return Ok((out.clone(), exit.and_then(|c| i32::try_from(c).ok())));
        }
    }
    let exit = stated_exit_code(&text);
    Ok((text, exit))
}

fn stated_exit_code(text: &str) -> Option<i32> {
    static EXIT: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(?m)^(?:Process exited with code|Exit code:?) (-?\d+)").expect("static pattern")
    });
    EXIT.captures(text).and_then(|c| c.get(1)).and_then(|m| m.as_str().parse().ok())
}

/// One `Edit` per file section (`*** Add File:`, `*** Update File:`, `*** Delete File:`) of a
/// Codex patch; the whole patch as one edit when it has no sections.
fn patch_edits(patch: &str) -> Vec<Event> {
    const HEADERS: &[&str] = &["*** Add File: ", "*** Update File: ", "*** Delete File: "];
    let mut edits: Vec<(String, String)> = Vec::new();
    for line in patch.split_inclusive('\n') {
        let trimmed = line.trim_end();
        if let Some(path) = HEADERS.iter().find_map(|h| trimmed.strip_prefix(h)) {
            edits.push((path.trim().to_string(), line.to_string()));
        } else if trimmed == "*** End Patch" {
            break;
        } else if trimmed == "*** Begin Patch" {
            continue;
        } else if let Some((_, diff)) = edits.last_mut() {
            diff.push_str(line);
        }
    }
    if edits.is_empty() {
        return vec![Event::Edit { path: None, diff: infer::excerpt(patch) }];
    }
    edits.into_iter().map(|(path, diff)| Event::Edit { path: Some(path), diff: infer::excerpt(&diff) }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Outcome;
    use crate::traces::parse_file;
    use serde_json::json;
    use std::path::{Path, PathBuf};

    fn check(lines: &[Value]) -> Result<Trace, String> {
        let text: Vec<String> = lines.iter().map(Value::to_string).collect();
        let doc = crate::traces::decode("r.jsonl", text.join("\n").as_bytes()).map_err(|e| e.to_string())?;
        assert!(sniff(&doc), "not sniffed");
        let ctx = Ctx {
            origin: "r.jsonl".into(),
            path: PathBuf::from("r.jsonl"),
            instance_id_hint: None,
            warnings: Default::default(),
        };
        match parse(&doc, &ctx)?.pop() {
            Some(Record::Trace(t)) => Ok(t),
            other => panic!("{other:?}"),
        }
    }

    fn item(payload: Value) -> Value {
        json!({"timestamp": "2026-01-01T00:00:00Z", "type": "response_item", "payload": payload})
    }

    fn call(name: &str, id: &str, args: Value) -> Value {
        item(json!({"type": "function_call", "name": name, "call_id": id, "arguments": args.to_string()}))
    }

    fn output(id: &str, output: &str) -> Value {
        item(json!({"type": "function_call_output", "call_id": id, "output": output}))
    }

    #[test]
    fn shell_calls_get_output_and_exit_code() {
        let t = check(&[
            json!({"type": "session_meta", "payload": {"id": "x", "cli_version": "0.40.0", "git": {"repository_url": "https://github.com/a/b", "commit_hash": "abc"}}}),
            json!({"type": "turn_context", "payload": {"model": "gpt-5-codex"}}),
            item(json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": "<environment_context>x</environment_context>"}]})),
            item(json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": "fix the bug"}]})),
            call("shell", "c1", json!({"command": ["bash", "-lc", "pytest -q"]})),
            output("c1", &json!({"output": "FAILED t.py::x", "metadata": {"exit_code": 1}}).to_string()),
            call("exec_command", "c2", json!({"cmd": "ls -a"})),
            output("c2", "Process exited with code 0\nOutput:\n."),
            call("shell", "c3", json!({"command": ["git", "commit", "-m", "a b"]})),
            json!({"type": "event_msg", "payload": {"type": "exec_command_end", "call_id": "c3", "exit_code": 128, "aggregated_output": "fatal"}}),
        ])
        .unwrap();
        assert_eq!(t.format_version.as_deref(), Some("0.40.0"));
        assert_eq!(
            (t.task.repo.as_deref(), t.task.base_commit.as_deref()),
            (Some("https://github.com/a/b"), Some("abc"))
        );
        assert_eq!(t.task.problem_statement.as_deref(), Some("fix the bug"));
        assert_eq!(t.model.as_deref(), Some("gpt-5-codex"));
        assert!(matches!(&t.events[2], Event::TestRun { command, exit_code: Some(1), .. } if command == "pytest -q"));
        assert_eq!(
            t.events[3],
            Event::Command {
                command: "ls -a".into(),
                exit_code: Some(0),
                output: "Process exited with code 0\nOutput:\n.".into()
            }
        );
        assert_eq!(
            t.events[4],
            Event::Command { command: "git commit -m 'a b'".into(), exit_code: Some(128), output: "fatal".into() }
        );
        assert_eq!(t.label.outcome, Outcome::NoPatch);
    }

    #[test]
    fn apply_patch_gives_one_edit_per_file() {
        let patch = "*** Begin Patch\n*** Update File: a.py\n@@\n-x\n+y\n*** Add File: b.py\n+new\n*** End Patch";
        let t = check(&[
            item(json!({"type": "custom_tool_call", "name": "apply_patch", "input": patch, "call_id": "p1"})),
            call("shell", "p2", json!({"command": ["apply_patch", patch]})),
            call("shell", "p5", json!({"command": ["bash", "-lc", format!("apply_patch <<'EOF'\n{patch}\nEOF\n")]})),
            call("apply_patch", "p3", json!({"input": "no sections"})),
            item(json!({"type": "reasoning", "summary": [{"type": "summary_text", "text": "think"}], "encrypted_content": "zzz"})),
            call("update_plan", "p4", json!({"plan": []})),
        ])
        .unwrap();
        assert_eq!(t.events.len(), 9);
        assert_eq!(
            t.events[0],
            Event::Edit { path: Some("a.py".into()), diff: "*** Update File: a.py\n@@\n-x\n+y\n".into() }
        );
        assert_eq!(t.events[1], Event::Edit { path: Some("b.py".into()), diff: "*** Add File: b.py\n+new\n".into() });
        assert_eq!(t.events[2..4], t.events[0..2]);
        assert_eq!(t.events[4..6], t.events[0..2]);
        assert_eq!(t.events[6], Event::Edit { path: None, diff: "no sections".into() });
        assert_eq!(t.events[7], Event::Message { role: "thinking".into(), text: "think".into() });
        assert!(
            matches!(&t.events[8], Event::Message { role, text } if role == "tool" && text.starts_with("update_plan"))
        );
    }

    #[test]
    fn bad_records_name_the_field() {
        let cases = [
            (json!({"type": "response_item"}), "missing field `payload`"),
            (item(json!({"type": "message", "content": 4})), "response_item payload: field `content`"),
            (call("shell", "c", json!({"command": 3})), "field `command`"),
            (call("shell", "c", json!({"command": ["ls", 1]})), "`command[1]`"),
            (call("shell", "c", json!({})), "missing field `command`"),
            (item(json!({"type": "function_call", "name": "shell", "arguments": 5})), "`arguments`"),
            (json!({"type": "session_meta", "payload": {"git": {"commit_hash": 1}}}), "git: field `commit_hash`"),
            (json!({"type": "event_msg", "payload": {"type": "exec_command_end", "exit_code": "1"}}), "`exit_code`"),
        ];
        for (bad, want) in cases {
            let e = check(&[json!({"type": "turn_context", "payload": {}}), bad.clone()]).unwrap_err();
            assert!(e.starts_with("line 2: ") && e.contains(want), "{bad}: {e}");
        }
    }

    #[test]
    fn sniff_leaves_other_formats_alone() {
        for text in [
            r#"{"type": "user", "sessionId": "s", "message": {"role": "user", "content": "x"}}"#,
            r#"{"type": "response_item"}"#,
            r#"[{"type": "say", "ts": 1}]"#,
            r#"{"instance_id": "a__b-1", "model_patch": "diff"}"#,
        ] {
            let doc = crate::traces::decode("f", text.as_bytes()).unwrap();
            assert!(!sniff(&doc), "claimed: {text}");
        }
    }

    #[test]
    fn fixture_is_imported_and_redacted() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/traces/codex-cli/rollout.jsonl");
        let bytes = std::fs::read(path).unwrap();
        let (name, records) = parse_file(Path::new(path), &bytes).unwrap();
        assert_eq!(name, "codex-cli");
        let Some(Record::Trace(t)) = records.first() else { panic!("no trace") };
        let json = serde_json::to_string(t).unwrap();
        assert!(!json.contains("ghp_") && json.contains("[REDACTED]"), "{json}");
        let kinds: Vec<&str> = t.events.iter().map(Event::kind).collect();
        assert_eq!(kinds, ["message", "message", "test_run", "edit", "command", "test_run", "message"]);
        assert!(matches!(&t.events[5], Event::TestRun { exit_code: Some(0), .. }));
    }

    #[test]
    fn real_shared_file() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures/traces/codex-cli");
        let path = format!("{dir}/rollout-2026-01-02T03-04-05-11111111-1111-4111-8111-111111111111.jsonl");
        if !Path::new(dir).exists() {
            return;
        }
        let bytes = std::fs::read(&path).unwrap();
        let (name, records) = parse_file(Path::new(&path), &bytes).unwrap();
        assert_eq!((name, records.len()), ("codex-cli", 1));
        let Some(Record::Trace(t)) = records.first() else { panic!("no trace") };
        assert_eq!(t.model.as_deref(), Some("synthetic-model"));
        assert_eq!(t.format_version.as_deref(), Some("0.0.0-test"));
        assert!(t.events.contains(&Event::Command {
            command: "find . -maxdepth 1 -type f".into(),
            exit_code: None,
            output: "./alpha.txt\n./beta.txt".into()
        }));
        assert!(t.events.contains(&Event::Edit {
            path: Some("gamma.txt".into()),
            diff: "*** Add File: gamma.txt\n+synthetic\n".into()
        }));
        assert!(!serde_json::to_string(t).unwrap().contains("SYNTHETIC_ENCRYPTED"));
        assert_eq!(t.started_at.as_deref(), Some("2026-01-02T03:04:05.000Z"));
    }
}
