//! OpenHands importer: evaluation `output.jsonl` and serialized event lists.
//!
//! In: either JSON Lines of `EvalOutput` records (`instance_id`, `test_result.git_patch`,
//! `metadata.llm_config.model`, `history`, `metrics.accumulated_cost`, `error`, `instance` with
//! `repo` / `base_commit` / `problem_statement`), or one JSON array of events (objects with an
//! `action` or an `observation` key). A JSONL file with a single record decodes as one object and
//! is accepted too.
//! Out: one `Trace` per record (source `OpenHandsEval`) or one for the event list (source
//! `OpenHandsEvents`). `run` / `run_ipython` actions become Command / TestRun events with the
//! exit code of their observation (`extras.metadata.exit_code` or `extras.exit_code`; OpenHands'
//! `-1`, "no exit code", becomes `None`), `edit` actions become Edit events (the observation's
//! diff when it has one), `read` becomes a Command, thoughts and messages become Messages, error
//! observations become system Messages, `finish` becomes Submit. The label is inferred from the
//! patch and `error` (`Agent reached maximum iteration` → max iterations, empty patch →
//! no-patch). Event lists carry no final patch: with edits they are labelled unknown, without
//! them no-patch.

use super::value_fields::{
    as_exit_code, as_object, at, get, lenient_f64, lenient_str, non_empty, opt_array, opt_object, opt_str, wrong_type,
};
use super::{infer, Ctx, Doc};
use crate::model::{Event, Label, Outcome, Record, SourceFormat, TaskRef, Trace};
use serde_json::Value;
use std::collections::HashMap;

/// OpenHands eval output (records with `instance_id` and `history` or `test_result`), or an
/// event list (every element has `action` or `observation`).
pub fn sniff(doc: &Doc) -> bool {
    match doc {
        Doc::Lines(lines) => lines.first().is_some_and(is_eval_output),
        Doc::Json(v @ Value::Object(_)) => is_eval_output(v),
        Doc::Json(Value::Array(items)) => !items.is_empty() && items.iter().all(is_event),
        Doc::Json(_) => false,
    }
}

fn is_eval_output(v: &Value) -> bool {
    v.get("instance_id").is_some() && (v.get("history").is_some() || v.get("test_result").is_some())
}

fn is_event(v: &Value) -> bool {
    v.get("action").is_some() || v.get("observation").is_some()
}

/// One trace per eval record, or one for an event list.
pub fn parse(doc: &Doc, ctx: &Ctx) -> Result<Vec<Record>, String> {
    match doc {
        Doc::Lines(lines) => lines
            .iter()
            .enumerate()
            .map(|(n, line)| {
                let origin = format!("{}:{}", ctx.origin, n + 1);
                eval_output(line, origin).map_err(|e| format!("line {}: {e}", n + 1))
            })
            .collect(),
        Doc::Json(v @ Value::Object(_)) => Ok(vec![eval_output(v, ctx.origin.clone())?]),
        Doc::Json(Value::Array(items)) => Ok(vec![event_list(items, ctx)?]),
        Doc::Json(other) => Err(wrong_type("document", "an object or an array of events", other)),
    }
}

/// One `EvalOutput` record as a trace.
fn eval_output(v: &Value, origin: String) -> Result<Record, String> {
    as_object(v, "record")?;
    let instance = opt_object(v, "instance", "instance")?.unwrap_or(&Value::Null);
    let instance_id = opt_str(v, "instance_id", "instance_id")?
        .or_else(|| lenient_str(instance, &["instance_id"]))
        .ok_or_else(|| super::value_fields::missing("instance_id"))?;
    let test_result = opt_object(v, "test_result", "test_result")?.unwrap_or(&Value::Null);
    let patch = opt_str(test_result, "git_patch", "test_result.git_patch")?;
    let error = opt_str(v, "error", "error")?;
    let history = opt_array(v, "history", "history")?.unwrap_or_default();
    let events = history_events(history, "history")?;
    let trace = Trace {
        id: String::new(),
        source: SourceFormat::OpenHandsEval,
        format_version: None,
        task: TaskRef {
            instance_id: Some(instance_id.to_string()),
            repo: lenient_str(instance, &["repo"]).map(str::to_string),
            base_commit: lenient_str(instance, &["base_commit"]).map(str::to_string),
            problem_statement: lenient_str(instance, &["problem_statement"]).map(str::to_string),
        },
        model: lenient_str(v, &["metadata", "llm_config", "model"]).map(str::to_string),
        label: infer::label(patch, error, &events),
        events,
        final_patch: patch.map(str::to_string),
        cost_usd: lenient_f64(v, &["metrics", "accumulated_cost"]),
        started_at: timestamp(history.first()),
        ended_at: timestamp(history.last()),
        origin,
        messages: super::conversation::openhands_events(history),
    };
    Ok(Record::Trace(trace))
}

/// A serialized event list as one trace. It has no final patch.
fn event_list(items: &[Value], ctx: &Ctx) -> Result<Record, String> {
    let events = history_events(items, "events")?;
    let label = if events.iter().any(|e| matches!(e, Event::Edit { .. })) {
        Label::inferred(Outcome::Unknown, None, "event list with edits; it records no final patch")
    } else {
        infer::label(None, None, &events)
    };
    let model = items.iter().find_map(|e| lenient_str(e, &["tool_call_metadata", "model_response", "model"]));
    let cost = items.iter().filter_map(|e| lenient_f64(e, &["llm_metrics", "accumulated_cost"])).reduce(f64::max);
    let trace = Trace {
        id: String::new(),
        source: SourceFormat::OpenHandsEvents,
        format_version: None,
        task: TaskRef { instance_id: ctx.instance_id_hint.clone(), ..TaskRef::default() },
        model: model.map(str::to_string),
        events,
        final_patch: None,
        label,
        cost_usd: cost,
        started_at: timestamp(items.first()),
        ended_at: timestamp(items.last()),
        origin: ctx.origin.clone(),
        messages: super::conversation::openhands_events(items),
    };
    Ok(Record::Trace(trace))
}

pub(super) fn timestamp(event: Option<&Value>) -> Option<String> {
    event.and_then(|e| lenient_str(e, &["timestamp"])).map(str::to_string)
}

/// An event id (`id`, `cause`), which OpenHands writes as a number or a string.
fn event_id(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// Builds events; an action's event is completed in place by the observation that names it as
/// its `cause`.
#[derive(Default)]
struct Walk {
    events: Vec<Event>,
    /// Action id → index of its event in `events`.
    by_action: HashMap<String, usize>,
}

impl Walk {
    fn message(&mut self, role: &str, text: Option<&str>) {
        if let Some(text) = text.and_then(non_empty) {
            self.events.push(Event::Message { role: role.to_string(), text: infer::excerpt(text.trim()) });
        }
    }

    /// Push an action's event and remember where it is.
    fn push_action(&mut self, id: Option<String>, event: Event) {
        if let Some(id) = id {
            self.by_action.insert(id, self.events.len());
        }
        self.events.push(event);
    }

    /// The event of the action an observation answers.
    fn caused_by(&mut self, item: &Value) -> Option<&mut Event> {
        let index = *self.by_action.get(&event_id(item.get("cause"))?)?;
        self.events.get_mut(index)
    }
}

/// The events of an OpenHands history or event list.
pub(super) fn history_events(items: &[Value], name: &str) -> Result<Vec<Event>, String> {
    let mut walk = Walk::default();
    for (n, item) in items.iter().enumerate() {
        let name = format!("{name}[{n}]");
        as_object(item, &name)?;
        let content = opt_str(item, "content", &format!("{name}.content"))?.unwrap_or("");
        if let Some(action) = opt_str(item, "action", &format!("{name}.action"))? {
            let args = opt_object(item, "args", &format!("{name}.args"))?.unwrap_or(&Value::Null);
            action_event(&mut walk, item, action, args);
        } else if let Some(observation) = opt_str(item, "observation", &format!("{name}.observation"))? {
            let extras = opt_object(item, "extras", &format!("{name}.extras"))?.unwrap_or(&Value::Null);
            observation_event(&mut walk, item, observation, extras, content);
        }
    }
    Ok(walk.events)
}

/// One action: its thought, then what it did.
fn action_event(walk: &mut Walk, item: &Value, action: &str, args: &Value) {
    let id = event_id(item.get("id"));
    let thought = lenient_str(args, &["thought"]);
    match action {
        "run" | "run_ipython" => {
            walk.message("assistant", thought);
            let command = lenient_str(args, &["command"]).or_else(|| lenient_str(args, &["code"])).unwrap_or("");
            walk.push_action(id, infer::command_event(command, None, ""));
        }
        "edit" => {
            walk.message("assistant", thought);
            let path = lenient_str(args, &["path"]).map(str::to_string);
            walk.push_action(id, Event::Edit { path, diff: edit_description(args) });
        }
        "read" => {
            walk.message("assistant", thought);
            let path = lenient_str(args, &["path"]).unwrap_or("");
            walk.push_action(
                id,
                Event::Command { command: format!("read {path}"), exit_code: None, output: String::new() },
            );
        }
        "message" => {
            let role = match lenient_str(item, &["source"]) {
                Some("agent") | None => "assistant",
                Some(source) => source,
            };
            let text = lenient_str(args, &["content"]).or_else(|| lenient_str(item, &["message"]));
            walk.message(role, text);
        }
        "think" => walk.message("assistant", thought),
        "finish" => {
            let text = lenient_str(args, &["final_thought"]).or(thought).or_else(|| lenient_str(item, &["message"]));
            walk.message("assistant", text);
            let note = lenient_str(args, &["task_completed"]).map(|c| format!("task_completed: {c}"));
            walk.events.push(Event::Submit { note });
        }
        "system" | "recall" | "change_agent_state" => {}
        _ => walk.message("assistant", thought),
    }
}

/// What an edit action asked for, when its observation gives no diff.
fn edit_description(args: &Value) -> String {
    let s = |key: &str| lenient_str(args, &[key]).unwrap_or("");
    let text = match lenient_str(args, &["command"]) {
        Some("str_replace") => format!("str_replace:\n{}\n->\n{}", s("old_str"), s("new_str")),
        Some("create") => format!("create:\n{}", s("file_text")),
        Some("insert") => {
            let line = at(args, &["insert_line"]).map(Value::to_string).unwrap_or_default();
            format!("insert after line {line}:\n{}", s("new_str"))
        }
        Some(other) => other.to_string(),
        None if !s("content").is_empty() => format!("edit:\n{}", s("content")),
        None => s("translated_ipython_code").to_string(),
    };
    infer::excerpt(&text)
}

/// One observation: completes its action's event, or adds an error message.
fn observation_event(walk: &mut Walk, item: &Value, observation: &str, extras: &Value, content: &str) {
    match observation {
        "run" | "run_ipython" => {
            let exit_code = at(extras, &["metadata", "exit_code"])
                .or_else(|| get(extras, "exit_code"))
                .and_then(as_exit_code)
                .filter(|c| *c >= 0);
            let command = match walk.caused_by(item) {
                Some(Event::Command { command, .. } | Event::TestRun { command, .. }) => Some(command.clone()),
                _ => None,
            };
            let event = infer::command_event(
                command.as_deref().or_else(|| lenient_str(extras, &["command"])).unwrap_or(""),
                exit_code,
                content,
            );
            match walk.caused_by(item) {
                Some(slot) if command.is_some() => *slot = event,
                _ => walk.events.push(event),
            }
        }
        "edit" => {
            let diff = lenient_str(extras, &["diff"]).or_else(|| Some(content).filter(|c| c.starts_with("--- ")));
            let failed = content.starts_with("ERROR");
            if let Some(Event::Edit { diff: slot, .. }) = walk.caused_by(item) {
                if let Some(diff) = diff {
                    *slot = infer::excerpt(diff);
                } else if failed {
                    *slot = infer::excerpt(&format!("{slot}\n[failed] {content}"));
                }
            }
        }
        "read" => {
            if let Some(Event::Command { output, .. }) = walk.caused_by(item) {
                *output = infer::excerpt(content);
            }
        }
        "error" => walk.message("system", Some(content)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::FailureReason;
    use crate::traces::value_fields::test_support::{
        exit_codes, import, import_fixture, kinds, other_fixtures, parse_err, SHARED,
    };
    use serde_json::json;
    use std::path::Path;

    #[test]
    fn eval_output_keeps_the_conversation() {
        let traces = import_fixture("openhands/output_toy.jsonl", "openhands");
        let t = &traces[0];
        let roles: Vec<&str> = t.messages.iter().map(|m| m.role.as_str()).collect();
        assert_eq!(roles[..4], ["system", "user", "assistant", "tool"], "{roles:?}");
        assert!(t.messages[2].content.contains("```bash"), "{:?}", t.messages[2]);
    }

    #[test]
    fn eval_output_lines() {
        let traces = import_fixture("openhands/output_toy.jsonl", "openhands");
        let [limit, empty] = traces.as_slice() else { panic!("{traces:?}") };

        assert_eq!(limit.source, SourceFormat::OpenHandsEval);
        assert_eq!(limit.task.instance_id.as_deref(), Some("toy__calc-9"));
        assert_eq!(limit.task.repo.as_deref(), Some("toy/calc"));
        assert_eq!(limit.task.base_commit.as_deref(), Some("89abcdef0123456789abcdef0123456789abcdef"));
        assert_eq!(limit.task.problem_statement.as_deref(), Some("power(2, 3) returns 6"));
        assert_eq!(limit.model.as_deref(), Some("anthropic/claude-sonnet-4-20250514"));
        assert_eq!(limit.cost_usd, Some(0.37));
        assert_eq!(
            kinds(limit),
            ["message", "message", "command", "message", "edit", "test_run", "message", "message"]
        );
        assert_eq!(exit_codes(limit), [Some(0), Some(1)]);
        assert!(
            matches!(&limit.events[4], Event::Edit { path: Some(p), diff } if p == "/workspace/calc/ops.py" && diff.starts_with("--- "))
        );
        assert!(limit.has_patch());
        assert_eq!(
            (limit.label.outcome, limit.label.failure),
            (Outcome::Unresolved, Some(FailureReason::MaxIterations))
        );
        assert_eq!(limit.started_at.as_deref(), Some("2025-05-01T10:00:01.000000"));
        assert_eq!(limit.ended_at.as_deref(), Some("2025-05-01T10:00:12.000000"));
        assert!(limit.origin.ends_with("output_toy.jsonl:1"), "{}", limit.origin);

        assert_eq!(empty.task.instance_id.as_deref(), Some("toy__calc-10"));
        assert_eq!(kinds(empty), ["message", "message", "command", "message", "submit"]);
        assert_eq!(exit_codes(empty), [None], "-1 means no exit code");
        assert!(matches!(empty.events.last(), Some(Event::Submit { note: Some(n) }) if n == "task_completed: false"));
        assert!(!empty.has_patch());
        assert_eq!((empty.label.outcome, empty.label.failure), (Outcome::NoPatch, Some(FailureReason::EmptyPatch)));
        assert_ne!(limit.id, empty.id);
    }

    #[test]
    fn event_list() {
        let traces = import_fixture("openhands/events_toy.json", "openhands");
        let [t] = traces.as_slice() else { panic!("{traces:?}") };
        assert_eq!(t.source, SourceFormat::OpenHandsEvents);
        assert_eq!(kinds(t), ["message", "message", "edit", "command", "message", "submit"]);
        assert!(matches!(&t.events[2], Event::Edit { diff, .. } if diff.contains("+print('hello')")));
        assert!(matches!(&t.events[3], Event::Command { exit_code: Some(0), output, .. } if output == "hello"));
        assert_eq!(t.model.as_deref(), Some("claude-3-5-sonnet-20241022"));
        assert_eq!(t.cost_usd, Some(0.017));
        assert_eq!(t.final_patch, None);
        assert_eq!(t.label.outcome, Outcome::Unknown);
    }

    #[test]
    fn single_record_jsonl_decodes_as_one_object() {
        let line = br#"{"instance_id": "a__b-1", "test_result": {"git_patch": ""}, "history": []}"#;
        let (name, records) =
            crate::traces::parse_file(Path::new("output.jsonl"), line).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((name, records.len()), ("openhands", 1));
    }

    #[test]
    fn bad_input_names_the_field() {
        let cases = [
            (Doc::Json(json!({"instance_id": "a", "history": "h"})), "history: expected an array, got string"),
            (Doc::Json(json!({"instance_id": 3, "history": []})), "instance_id: expected a string, got number"),
            (Doc::Json(json!({"instance_id": null, "history": []})), "instance_id: missing"),
            (Doc::Json(json!({"instance_id": "a", "test_result": "p"})), "test_result: expected an object"),
            (
                Doc::Json(json!({"instance_id": "a", "test_result": {"git_patch": 1}})),
                "test_result.git_patch: expected a string",
            ),
            (Doc::Json(json!({"instance_id": "a", "history": [], "error": {}})), "error: expected a string"),
            (
                Doc::Json(json!({"instance_id": "a", "history": [{"action": "run", "args": "ls"}]})),
                "history[0].args: expected an object",
            ),
            (Doc::Json(json!({"instance_id": "a", "history": [3]})), "history[0]: expected an object, got number"),
            (Doc::Json(json!([{"action": 5}])), "events[0].action: expected a string"),
            (Doc::Json(json!([{"observation": "run", "content": []}])), "events[0].content: expected a string"),
            (
                Doc::Lines(vec![
                    json!({"instance_id": "a", "history": []}),
                    json!({"instance_id": "b", "history": {}}),
                ]),
                "line 2: history: expected an array, got object",
            ),
        ];
        for (doc, want) in cases {
            assert!(sniff(&doc), "{doc:?}");
            let e = parse_err(parse, doc);
            assert!(e.contains(want), "{e} / {want}");
        }
        let truncated =
            b"{\"instance_id\": \"a\", \"history\": [{\"action\": \"run\"}]}\n{\"instance_id\": \"b\", \"hist";
        assert!(crate::traces::parse_file(Path::new("output.jsonl"), truncated).is_err());
    }

    #[test]
    fn sniff_claims_no_other_format() {
        for (path, doc) in other_fixtures(|folder, _| folder == "openhands") {
            assert!(!sniff(&doc), "{} claimed", path.display());
        }
    }

    #[test]
    fn real_samples() {
        let dir = Path::new(SHARED).join("openhands");
        if !dir.exists() {
            return;
        }
        let traces = import(&dir.join("eval_output_multi_swe_bench_3instances.jsonl"), "openhands");
        let ids: Vec<_> = traces.iter().filter_map(|t| t.task.instance_id.as_deref()).collect();
        assert_eq!(ids, ["ponylang__ponyc-4595", "ponylang__ponyc-4593", "ponylang__ponyc-4588"]);
        for t in &traces {
            assert!(t.has_patch(), "{:?}", t.task.instance_id);
            assert!(t.events.len() > 20);
            assert_eq!(t.model.as_deref(), Some("openai/openrouter-llama-4-maverick"));
            assert_eq!(t.task.repo.as_deref(), Some("ponylang/ponyc"));
            assert!(exit_codes(t).iter().filter(|c| c.is_some()).count() >= 5);
            assert!(t.events.iter().any(|e| matches!(e, Event::Edit { .. })));
        }
        let third = traces.get(2).map(|t| (t.label.outcome, t.label.failure));
        assert_eq!(third, Some((Outcome::Unresolved, Some(FailureReason::MaxIterations))));
        assert_eq!(traces.first().and_then(|t| t.events.last()).map(Event::kind), Some("submit"));

        let traces = import(&dir.join("event_stream_trajectory_basic.json"), "openhands");
        let [t] = traces.as_slice() else { panic!("{traces:?}") };
        assert_eq!(kinds(t), ["message", "message", "edit", "message", "submit"]);
        assert!(
            matches!(&t.events[2], Event::Edit { path: Some(p), diff } if p == "/workspace/game_2048.py" && diff.starts_with("--- "))
        );
    }
}
