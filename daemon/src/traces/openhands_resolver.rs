//! OpenHands issue-resolver output (`output/output.jsonl` of `openhands.resolver.resolve_issue`).
//!
//! In: JSON Lines (or one object) of `ResolverOutput` records: `issue` (`owner`, `repo`,
//! `number`, `title`, `body`), `base_commit`, `git_patch`, `history` (OpenHands events),
//! `metrics.accumulated_cost`, `success`, `result_explanation`, `error`.
//! Out: one `Record::Trace` per line (source `OpenHandsResolver`), instance id
//! `<owner>__<repo>-<number>`, events read as the OpenHands importer reads a history. The label
//! is inferred: no patch → no-patch, an `error` → error; otherwise the resolver's own verdict
//! (`success`, judged by the resolver's model from the issue, not by running tests) gives
//! resolved or unresolved, with its `result_explanation` as the reason.

use super::openhands::{history_events, timestamp};
use super::value_fields::{as_object, lenient_f64, lenient_str, missing, opt_array, opt_str, req_str, wrong_type};
use super::{infer, Ctx, Doc};
use crate::model::{FailureReason, Label, Outcome, Record, SourceFormat, TaskRef, Trace};
use serde_json::Value;

/// Keys every resolver record has, beside an `issue` object.
const KEYS: &[&str] = &["git_patch", "history", "success"];

pub fn sniff(doc: &Doc) -> bool {
    match doc {
        Doc::Lines(lines) => lines.first().is_some_and(is_resolver_output),
        Doc::Json(v) => is_resolver_output(v),
    }
}

fn is_resolver_output(v: &Value) -> bool {
    v.get("issue").is_some_and(Value::is_object) && KEYS.iter().all(|k| v.get(*k).is_some())
}

pub fn parse(doc: &Doc, ctx: &Ctx) -> Result<Vec<Record>, String> {
    match doc {
        Doc::Lines(lines) => lines
            .iter()
            .enumerate()
            .map(|(n, line)| {
                resolver_output(line, format!("{}:{}", ctx.origin, n + 1)).map_err(|e| format!("line {}: {e}", n + 1))
            })
            .collect(),
        Doc::Json(v) => Ok(vec![resolver_output(v, ctx.origin.clone())?]),
    }
}

fn resolver_output(v: &Value, origin: String) -> Result<Record, String> {
    as_object(v, "record")?;
    let issue = v.get("issue").ok_or_else(|| missing("issue"))?;
    as_object(issue, "issue")?;
    let owner = req_str(issue, "owner", "issue.owner")?;
    let repo = req_str(issue, "repo", "issue.repo")?;
    let number = match issue.get("number") {
        Some(Value::Number(n)) if n.is_u64() => n.to_string(),
        Some(other) => return Err(wrong_type("issue.number", "an issue number", other)),
        None => return Err(missing("issue.number")),
    };
    let patch = opt_str(v, "git_patch", "git_patch")?;
    let error = opt_str(v, "error", "error")?.filter(|e| !e.trim().is_empty());
    let success = match v.get("success") {
        Some(Value::Bool(b)) => Some(*b),
        None | Some(Value::Null) => None,
        Some(other) => return Err(wrong_type("success", "a boolean", other)),
    };
    let explanation = opt_str(v, "result_explanation", "result_explanation")?;
    let history = opt_array(v, "history", "history")?.unwrap_or_default();
    let events = history_events(history, "history")?;
    let title = lenient_str(issue, &["title"]).unwrap_or("");
    let body = lenient_str(issue, &["body"]).unwrap_or("");
    let problem_statement = format!("{title}\n\n{body}").trim().to_string();
    let trace = Trace {
        id: String::new(),
        source: SourceFormat::OpenHandsResolver,
        format_version: None,
        task: TaskRef {
            instance_id: Some(format!("{owner}__{repo}-{number}")),
            repo: Some(format!("{owner}/{repo}")),
            base_commit: opt_str(v, "base_commit", "base_commit")?.map(str::to_string),
            problem_statement: (!problem_statement.is_empty()).then_some(problem_statement),
        },
        model: None,
        label: label(patch, error, success, explanation, &events),
        events,
        final_patch: patch.map(str::to_string),
        cost_usd: lenient_f64(v, &["metrics", "accumulated_cost"]),
        started_at: timestamp(history.first()),
        ended_at: timestamp(history.last()),
        origin,
        messages: Vec::new(),
    };
    Ok(Record::Trace(trace))
}

fn label(
    patch: Option<&str>,
    error: Option<&str>,
    success: Option<bool>,
    explanation: Option<&str>,
    events: &[crate::model::Event],
) -> Label {
    let has_patch = patch.is_some_and(|p| !p.trim().is_empty());
    if !has_patch {
        return infer::label(patch, None, events);
    }
    if let Some(error) = error {
        return Label::inferred(Outcome::Error, Some(FailureReason::AgentError), format!("resolver error: {error}"));
    }
    let why = explanation.map(|e| format!(": {}", infer::excerpt(e.trim()))).unwrap_or_default();
    match success {
        Some(true) => Label::inferred(Outcome::Resolved, None, format!("the resolver judged it a success{why}")),
        Some(false) => Label::inferred(
            Outcome::Unresolved,
            Some(FailureReason::Unspecified),
            format!("the resolver judged it a failure{why}"),
        ),
        None => infer::label(patch, None, events),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traces::value_fields::test_support::{import_fixture, other_fixtures, parse_err};

    #[test]
    fn fixture_lines_become_traces() {
        let traces = import_fixture("openhands-resolver/output.jsonl", "openhands-resolver");
        assert_eq!(traces.len(), 3);
        let [fixed, failed, empty] = traces.as_slice() else { unreachable!() };
        assert_eq!(fixed.task.instance_id.as_deref(), Some("acme__widgets-31"));
        assert_eq!(fixed.task.repo.as_deref(), Some("acme/widgets"));
        assert!(fixed.task.problem_statement.as_deref().unwrap().starts_with("resize() ignores"));
        assert_eq!(fixed.label.outcome, Outcome::Resolved);
        assert!(fixed.label.inferred && fixed.label.reason.contains("judged it a success"));
        assert!(fixed.final_patch.as_deref().unwrap().contains("min_height"));
        assert!(fixed.events.iter().any(|e| matches!(e, crate::model::Event::TestRun { .. })), "{:?}", fixed.events);
        assert_eq!(fixed.cost_usd, Some(0.4213));
        assert_eq!(failed.label.outcome, Outcome::Unresolved);
        assert_eq!((empty.label.outcome, empty.label.failure), (Outcome::NoPatch, Some(FailureReason::EmptyPatch)));
    }

    #[test]
    fn bad_records_name_the_line_and_field() {
        let good =
            r#"{"issue": {"owner": "a", "repo": "b", "number": 1}, "git_patch": "", "history": [], "success": false}"#;
        let bad = r#"{"issue": {"owner": "a", "repo": "b", "number": "one"}, "git_patch": "", "history": [], "success": false}"#;
        let doc = crate::traces::decode("o.jsonl", format!("{good}\n{bad}").as_bytes()).unwrap();
        assert!(sniff(&doc));
        let e = parse_err(parse, doc);
        assert!(e.starts_with("line 2: issue.number: expected an issue number, got string"), "{e}");
        let doc =
            Doc::Json(serde_json::json!({"issue": {"repo": "b"}, "git_patch": "", "history": [], "success": true}));
        assert!(parse_err(parse, doc).contains("issue.owner"));
    }

    #[test]
    fn sniff_leaves_other_formats_alone() {
        for (path, doc) in other_fixtures(|folder, _| folder == "openhands-resolver") {
            assert!(!sniff(&doc), "{} sniffed as resolver output", path.display());
        }
    }
}
