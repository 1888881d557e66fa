//! SWE-agent `.traj` importer (v0, and v1 / 1.0.x with tool calls).
//!
//! In: one JSON document with a `trajectory` array of steps (`action`, `observation`,
//! `thought`, `state`, ...) and `info` (`exit_status`, `submission`, `model_stats`), plus in v1
//! a `replay_config` (an object or a JSON string) naming the instance, model and repository.
//! Out: one `Trace` (source `SweAgent`): shell actions become Command / TestRun events (SWE-agent
//! does not record exit codes), editor actions (`edit`, `create`, `insert`,
//! `str_replace_editor create|str_replace|insert|undo_edit`) become Edit events, thoughts become
//! assistant Messages, `submit` becomes Submit. The label is inferred from the submission and
//! `info.exit_status` (`submitted (exit_cost)` → cost limit, empty submission → no-patch).

use super::value_fields::{
    as_object, get, lenient_f64, lenient_str, non_empty, object_or_json_string, opt_array, opt_object, opt_str,
    req_array, wrong_type,
};
use super::{infer, Ctx, Doc};
use crate::model::{Event, Record, SourceFormat, TaskRef, Trace};
use serde_json::Value;

/// A SWE-agent trajectory: an object with `trajectory` and `info` or `history`.
pub fn sniff(doc: &Doc) -> bool {
    let Some(v) = doc.json() else { return false };
    v.get("trajectory").is_some()
        && (v.get("info").is_some() || v.get("history").is_some())
        && v.get("trajectory_format").is_none()
}

/// The trajectory as one trace.
pub fn parse(doc: &Doc, ctx: &Ctx) -> Result<Vec<Record>, String> {
    let root = doc.json().ok_or("expected one JSON document, got JSON Lines")?;
    as_object(root, "document")?;
    let steps = req_array(root, "trajectory", "trajectory")?;
    let history = opt_array(root, "history", "history")?.unwrap_or_default();
    let info = opt_object(root, "info", "info")?.unwrap_or(&Value::Null);
    let exit_status = opt_str(info, "exit_status", "info.exit_status")?;
    let submission = opt_str(info, "submission", "info.submission")?;
    let replay = get(root, "replay_config").and_then(object_or_json_string).unwrap_or(Value::Null);

    let mut events = Vec::new();
    for (n, step) in steps.iter().enumerate() {
        events.extend(step_events(step, &format!("trajectory[{n}]"))?);
    }
    let label = infer::label(submission, exit_status, &events);
    let trace = Trace {
        id: String::new(),
        source: SourceFormat::SweAgent,
        format_version: Some(format_version(root, info, steps)),
        task: task_ref(root, &replay, ctx)?,
        model: lenient_str(&replay, &["agent", "model", "name"]).map(str::to_string),
        events,
        final_patch: submission.map(str::to_string),
        label,
        cost_usd: lenient_f64(info, &["model_stats", "instance_cost"]),
        started_at: None,
        ended_at: None,
        origin: ctx.origin.clone(),
        messages: super::conversation::swe_agent(history, steps),
    };
    Ok(vec![Record::Trace(trace)])
}

/// `info.swe_agent_version` when given, else `v1` for trajectories with v1-only fields, else `v0`.
fn format_version(root: &Value, info: &Value, steps: &[Value]) -> String {
    if let Some(v) = lenient_str(info, &["swe_agent_version"]) {
        return v.to_string();
    }
    let v1 = root.get("replay_config").is_some() || steps.iter().any(|s| s.get("execution_time").is_some());
    if v1 { "v1" } else { "v0" }.to_string()
}

/// The instance id from the trajectory's own fields, else from the file name; the problem,
/// repository and base commit from `replay_config` when present.
fn task_ref(root: &Value, replay: &Value, ctx: &Ctx) -> Result<TaskRef, String> {
    let own_id = opt_str(root, "instance_id", "instance_id")?
        .or_else(|| lenient_str(replay, &["problem_statement", "id"]))
        .or_else(|| lenient_str(root, &["environment"]).filter(|e| e.contains("__")));
    let instance_id = own_id.map(str::to_string).or_else(|| ctx.instance_id_hint.clone());
    let base_commit = lenient_str(replay, &["env", "repo", "base_commit"]).filter(|c| is_commit_hash(c));
    let repo = lenient_str(replay, &["env", "repo", "github_url"]).and_then(github_repo);
    Ok(TaskRef {
        instance_id,
        repo,
        base_commit: base_commit.map(str::to_string),
        problem_statement: lenient_str(replay, &["problem_statement", "text"]).map(str::to_string),
    })
}

/// True for 7 to 40 hex digits (SWE-smith puts a branch name in `base_commit`).
fn is_commit_hash(s: &str) -> bool {
    (7..=40).contains(&s.len()) && s.chars().all(|c| c.is_ascii_hexdigit())
}

/// `owner/name` from a GitHub URL.
fn github_repo(url: &str) -> Option<String> {
    let rest = url.trim_end_matches('/').trim_end_matches(".git").split("github.com/").nth(1)?;
    let mut parts = rest.split('/');
    let (owner, name) = (parts.next()?, parts.next()?);
    (!owner.is_empty() && !name.is_empty()).then(|| format!("{owner}/{name}"))
}

/// The events of one step: the thought, then what the action did.
fn step_events(step: &Value, name: &str) -> Result<Vec<Event>, String> {
    as_object(step, name)?;
    let thought = opt_str(step, "thought", &format!("{name}.thought"))?;
    let action = opt_str(step, "action", &format!("{name}.action"))?.unwrap_or("");
    let observation = observation_text(step, name)?;
    let mut events = Vec::new();
    if let Some(text) = thought.and_then(non_empty) {
        events.push(Event::Message { role: "assistant".into(), text: infer::excerpt(text.trim()) });
    }
    if !action.trim().is_empty() {
        events.push(action_event(action.trim(), &observation, open_file(step).as_deref()));
    }
    Ok(events)
}

/// The observation: a string, or (in some 1.x tool-call runs) a list of text parts.
fn observation_text(step: &Value, name: &str) -> Result<String, String> {
    match get(step, "observation") {
        None => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(parts)) => {
            Ok(parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect::<Vec<_>>().join("\n"))
        }
        Some(other) => Err(wrong_type(&format!("{name}.observation"), "a string", other)),
    }
}

/// The editor's open file from the step's `state` (a JSON string, a Python-repr string, or an
/// object); `n/a` means none.
fn open_file(step: &Value) -> Option<String> {
    static OPEN: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r#"["']open_file["']\s*:\s*["']([^"']+)["']"#).expect("static pattern")
    });
    let file = match get(step, "state")? {
        Value::String(s) => OPEN.captures(s).and_then(|c| c.get(1)).map(|m| m.as_str().to_string()),
        state => lenient_str(state, &["open_file"]).map(str::to_string),
    };
    file.filter(|f| f != "n/a")
}

/// What one action was: a submit, an edit through SWE-agent's editor tools, or a shell command.
fn action_event(action: &str, observation: &str, open_file: Option<&str>) -> Event {
    let mut words = action.split_whitespace();
    let tool = words.next().unwrap_or("");
    let edit = |path: Option<&str>| Event::Edit {
        path: path.map(|p| p.trim_matches(|c| c == '"' || c == '\'').to_string()),
        diff: infer::excerpt(action),
    };
    match tool {
        "submit" => Event::Submit { note: None },
        "edit" | "insert" | "append" => edit(open_file),
        "create" => edit(words.next()),
        "str_replace_editor" | "edit_anthropic" => match words.next() {
            Some("create" | "str_replace" | "insert" | "undo_edit") => edit(words.next()),
            _ => infer::command_event(action, None, observation),
        },
        _ => infer::command_event(action, None, observation),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FailureReason, Outcome};
    use crate::traces::value_fields::test_support::{import, import_fixture, kinds, other_fixtures, parse_err, SHARED};
    use serde_json::json;
    use std::path::Path;

    fn count(t: &Trace, kind: &str) -> usize {
        t.events.iter().filter(|e| e.kind() == kind).count()
    }

    fn one(rel: &str) -> Trace {
        let mut traces = import_fixture(rel, "swe-agent");
        assert_eq!(traces.len(), 1, "{rel}");
        traces.remove(0)
    }

    #[test]
    fn the_conversation_is_kept_with_the_trace() {
        for rel in ["swe-agent/v0_toy.traj", "swe-agent/v1_toy.traj"] {
            let t = one(rel);
            let roles: Vec<&str> = t.messages.iter().map(|m| m.role.as_str()).collect();
            assert_eq!(roles[..2], ["system", "user"], "{rel}");
            assert!(roles.iter().filter(|r| **r == "assistant").count() >= 1, "{rel}: {roles:?}");
            assert!(t.messages.iter().all(|m| !m.content.trim().is_empty()), "{rel}");
        }
    }

    #[test]
    fn v0_toy() {
        let t = one("swe-agent/v0_toy.traj");
        assert_eq!(t.format_version.as_deref(), Some("v0"));
        assert_eq!(t.task.instance_id, None, "no id in the file or its name");
        assert_eq!(
            kinds(&t),
            ["message", "command", "message", "command", "message", "edit", "message", "test_run", "message", "submit"]
        );
        assert!(matches!(&t.events[5], Event::Edit { path: Some(p), .. } if p == "/toy__calc/calc/ops.py"));
        match &t.events[7] {
            Event::TestRun { exit_code, statuses, .. } => {
                assert_eq!(*exit_code, None);
                assert_eq!(statuses.len(), 2);
            }
            other => panic!("{other:?}"),
        }
        assert!(t.has_patch());
        assert_eq!(t.cost_usd, Some(0.12));
        assert_eq!((t.label.outcome, t.label.failure), (Outcome::Resolved, None), "the last test run passed");
        assert!(t.label.inferred);
        assert!(t.id.starts_with("tr-"));
    }

    #[test]
    fn v1_toy_with_json_string_replay_config_hits_the_cost_limit() {
        let t = one("swe-agent/v1_toy.traj");
        assert_eq!(t.format_version.as_deref(), Some("1.0.1"));
        assert_eq!(t.task.instance_id.as_deref(), Some("toy__calc-7"));
        assert_eq!(t.task.repo.as_deref(), Some("toy/calc"));
        assert_eq!(t.task.base_commit.as_deref(), Some("0123456789abcdef0123456789abcdef01234567"));
        assert_eq!(t.task.problem_statement.as_deref(), Some("parse(' 7') raises ValueError"));
        assert_eq!(t.model.as_deref(), Some("claude-3-7-sonnet-20250219"));
        assert_eq!(t.cost_usd, Some(0.51));
        assert_eq!(kinds(&t), ["message", "command", "message", "edit", "test_run", "message"]);
        assert!(matches!(&t.events[3], Event::Edit { path: Some(p), .. } if p == "/testbed/calc/parse.py"));
        assert!(t.has_patch());
        assert_eq!((t.label.outcome, t.label.failure), (Outcome::Unresolved, Some(FailureReason::CostLimit)));
    }

    #[test]
    fn empty_submission_is_no_patch() {
        let doc = Doc::Json(
            json!({"trajectory": [{"action": "submit", "observation": ""}], "info": {"exit_status": "submitted", "submission": ""}}),
        );
        let ctx = Ctx {
            origin: "x.traj".into(),
            path: "x.traj".into(),
            instance_id_hint: Some("a__b-1".into()),
            warnings: Default::default(),
        };
        let records = parse(&doc, &ctx).unwrap_or_else(|e| panic!("{e}"));
        let Some(Record::Trace(t)) = records.first() else { panic!("{records:?}") };
        assert_eq!(t.task.instance_id.as_deref(), Some("a__b-1"));
        assert_eq!((t.label.outcome, t.label.failure), (Outcome::NoPatch, Some(FailureReason::EmptyPatch)));
    }

    #[test]
    fn bad_input_names_the_field() {
        let cases = [
            (json!({"trajectory": "steps", "info": {}}), "trajectory: expected an array, got string"),
            (json!({"trajectory": [], "history": "h"}), "history: expected an array, got string"),
            (json!({"trajectory": [], "info": []}), "info: expected an object, got array"),
            (json!({"trajectory": [], "info": {"submission": 3}}), "info.submission: expected a string, got number"),
            (json!({"trajectory": [{"action": 1}], "info": {}}), "trajectory[0].action: expected a string"),
            (json!({"trajectory": [7], "info": {}}), "trajectory[0]: expected an object, got number"),
            (json!({"trajectory": null, "info": {}}), "trajectory: missing"),
        ];
        for (doc, want) in cases {
            let doc = Doc::Json(doc);
            assert!(sniff(&doc), "{doc:?}");
            let e = parse_err(parse, doc);
            assert!(e.contains(want), "{e} / {want}");
        }
        let e = parse_err(parse, Doc::Lines(vec![json!({"trajectory": []})]));
        assert!(e.contains("JSON Lines"), "{e}");
        let truncated = br#"{"trajectory": [{"action": "ls", "observ"#;
        assert!(crate::traces::parse_file(Path::new("t.traj"), truncated).is_err());
    }

    #[test]
    fn sniff_claims_no_other_format() {
        for (path, doc) in other_fixtures(|folder, name| folder == "swe-agent" && !name.contains("preds")) {
            assert!(!sniff(&doc), "{} claimed", path.display());
        }
    }

    #[test]
    fn real_samples() {
        let dir = Path::new(SHARED).join("swe-agent");
        if !dir.exists() {
            return;
        }
        let t = single(&dir.join("v0_swe-agent__test-repo-i1.traj"));
        assert_eq!(t.format_version.as_deref(), Some("v0"));
        assert!(t.has_patch());
        assert_eq!((count(&t, "edit"), count(&t, "submit"), count(&t, "command")), (1, 1, 3));
        assert_eq!(t.cost_usd, Some(0.53839));
        assert_eq!(t.label.outcome, Outcome::Unknown);

        let t = single(&dir.join("v1_function_calling_marshmallow-code__marshmallow-1867.traj"));
        assert_eq!(t.task.instance_id.as_deref(), Some("marshmallow-code__marshmallow-1867"));
        assert_eq!(t.task.base_commit.as_deref(), Some("bfd2593d4b416122e30cdefe0c72d322ef471611"));
        assert_eq!(t.model.as_deref(), Some("gpt-4o"));
        assert_eq!((count(&t, "edit"), count(&t, "submit")), (4, 1));
        assert!(t.has_patch() && t.label.outcome == Outcome::Unknown);

        let t = single(&dir.join("v1.0.1_swesmith_pydantic__pydantic.acb0f10f.pr_8316.traj"));
        assert_eq!(t.format_version.as_deref(), Some("1.0.1"));
        assert_eq!(t.task.instance_id.as_deref(), Some("pydantic__pydantic.acb0f10f.pr_8316"));
        assert_eq!(t.task.base_commit, None, "a branch name, not a commit");
        assert_eq!(t.model.as_deref(), Some("claude-3-7-sonnet-20250219"));
        assert_eq!((count(&t, "edit"), count(&t, "submit")), (8, 2));
        assert!(t.events.len() > 20 && t.has_patch());
        assert_eq!(t.cost_usd, Some(0.3017616));
    }

    fn single(path: &Path) -> Trace {
        let mut traces = import(path, "swe-agent");
        assert_eq!(traces.len(), 1);
        traces.remove(0)
    }
}
