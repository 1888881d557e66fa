//! SWE-agent / SWE-bench predictions importer (`all_preds.jsonl`, `preds.json`).
//!
//! In: JSON Lines of predictions, a JSON object keyed by instance id whose values are
//! predictions (`preds.json`), a JSON array of predictions, or a single prediction (a one-line
//! `all_preds.jsonl` decodes as one object). A prediction has `instance_id` (in `preds.json` the
//! key stands in when it is absent), `model_patch` (a string or null) and `model_name_or_path`.
//! Out: one `Trace` per prediction (source `Predictions`) whose only event is a Submit, with the
//! patch as the final patch, the model, and a label inferred from the patch alone (empty or null
//! patch → no-patch; otherwise unknown until a report pairs with it).

use super::value_fields::{as_object, missing, opt_str};
use super::{infer, Ctx, Doc};
use crate::model::{Event, Record, SourceFormat, TaskRef, Trace};
use serde_json::Value;

/// Predictions: records with `instance_id` and `model_patch`, as lines, a list, one object, or
/// an object of them keyed by instance id.
pub fn sniff(doc: &Doc) -> bool {
    match doc {
        Doc::Lines(lines) => lines.first().is_some_and(is_prediction),
        Doc::Json(Value::Array(items)) => items.first().is_some_and(is_prediction),
        Doc::Json(v @ Value::Object(map)) => {
            is_prediction(v) || (!map.is_empty() && map.values().all(|p| p.get("model_patch").is_some()))
        }
        Doc::Json(_) => false,
    }
}

fn is_prediction(v: &Value) -> bool {
    v.get("instance_id").is_some() && v.get("model_patch").is_some()
}

/// One trace per prediction.
pub fn parse(doc: &Doc, ctx: &Ctx) -> Result<Vec<Record>, String> {
    match doc {
        Doc::Lines(items) => numbered(items, ctx, "line"),
        Doc::Json(Value::Array(items)) => numbered(items, ctx, "item"),
        Doc::Json(v) if is_prediction(v) => Ok(vec![prediction(v, None, "", ctx.origin.clone())?]),
        Doc::Json(Value::Object(map)) => {
            map.iter().map(|(key, v)| prediction(v, Some(key), &format!("{key}."), ctx.origin.clone())).collect()
        }
        Doc::Json(other) => Err(super::value_fields::wrong_type("document", "predictions", other)),
    }
}

/// Predictions in a sequence, named and located by their position (`line 2`, `item 2`).
fn numbered(items: &[Value], ctx: &Ctx, unit: &str) -> Result<Vec<Record>, String> {
    items
        .iter()
        .enumerate()
        .map(|(n, v)| {
            prediction(v, None, "", format!("{}:{}", ctx.origin, n + 1)).map_err(|e| format!("{unit} {}: {e}", n + 1))
        })
        .collect()
}

/// One prediction as a trace. `key` is its key in a `preds.json` object; `prefix` names it in
/// errors.
fn prediction(v: &Value, key: Option<&str>, prefix: &str, origin: String) -> Result<Record, String> {
    let name = prefix.strip_suffix('.').unwrap_or("prediction");
    as_object(v, name)?;
    let instance_id = opt_str(v, "instance_id", &format!("{prefix}instance_id"))?
        .or(key)
        .ok_or_else(|| missing(&format!("{prefix}instance_id")))?;
    if v.get("model_patch").is_none() {
        return Err(missing(&format!("{prefix}model_patch")));
    }
    let patch = opt_str(v, "model_patch", &format!("{prefix}model_patch"))?;
    let model = opt_str(v, "model_name_or_path", &format!("{prefix}model_name_or_path"))?;
    let events = vec![Event::Submit { note: None }];
    let trace = Trace {
        id: String::new(),
        source: SourceFormat::Predictions,
        format_version: None,
        task: TaskRef { instance_id: Some(instance_id.to_string()), ..TaskRef::default() },
        model: model.map(str::to_string),
        label: infer::label(patch, None, &events),
        events,
        final_patch: patch.map(str::to_string),
        cost_usd: None,
        started_at: None,
        ended_at: None,
        origin,
        messages: Vec::new(),
    };
    Ok(Record::Trace(trace))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FailureReason, Outcome};
    use crate::traces::value_fields::test_support::{import, import_fixture, other_fixtures, parse_err, SHARED};
    use serde_json::json;
    use std::path::Path;

    fn summary(t: &Trace) -> (Option<&str>, bool, Outcome, Option<FailureReason>) {
        (t.task.instance_id.as_deref(), t.has_patch(), t.label.outcome, t.label.failure)
    }

    #[test]
    fn all_preds_lines() {
        let traces = import_fixture("predictions/all_preds_toy.jsonl", "predictions");
        let got: Vec<_> = traces.iter().map(summary).collect();
        let no_patch = (Outcome::NoPatch, Some(FailureReason::EmptyPatch));
        assert_eq!(
            got,
            [
                (Some("toy__calc-9"), true, Outcome::Unknown, None),
                (Some("toy__calc-10"), false, no_patch.0, no_patch.1),
                (Some("toy__calc-11"), false, no_patch.0, no_patch.1),
            ]
        );
        for t in &traces {
            assert_eq!(t.source, SourceFormat::Predictions);
            assert_eq!(t.events, [Event::Submit { note: None }]);
            assert_eq!(t.model.as_deref(), Some("gpt4__toy-bench__default__t-0.00__p-0.95__c-3.00__install-1"));
        }
        assert_eq!(traces.get(2).map(|t| t.final_patch.clone()), Some(None));
        assert!(traces.first().is_some_and(|t| t.origin.ends_with("all_preds_toy.jsonl:1")));
    }

    #[test]
    fn preds_json_keyed_by_instance_id() {
        let traces = import_fixture("predictions/preds_toy.json", "predictions");
        let got: Vec<_> = traces.iter().map(summary).collect();
        assert_eq!(
            got,
            [
                (Some("toy__slug-3"), true, Outcome::Unknown, None),
                (Some("toy__slug-4"), false, Outcome::NoPatch, Some(FailureReason::EmptyPatch)),
            ]
        );
        assert!(traces.iter().all(|t| t.model.as_deref() == Some("openai/gpt-5-mini")));
    }

    #[test]
    fn a_list_and_a_single_prediction() {
        let one = json!({"instance_id": "a__b-1", "model_patch": "diff", "model_name_or_path": "m"});
        let ctx = Ctx {
            origin: "p.json".into(),
            path: "p.json".into(),
            instance_id_hint: None,
            warnings: Default::default(),
        };
        for doc in [Doc::Json(one.clone()), Doc::Json(json!([one]))] {
            assert!(sniff(&doc));
            let records = parse(&doc, &ctx).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(records.len(), 1);
        }
    }

    #[test]
    fn bad_input_names_the_field() {
        let cases = [
            (Doc::Json(json!({"instance_id": "a", "model_patch": 5})), "model_patch: expected a string, got number"),
            (Doc::Json(json!({"instance_id": ["a"], "model_patch": ""})), "instance_id: expected a string, got array"),
            (Doc::Json(json!({"x__y-1": {"model_patch": []}})), "x__y-1.model_patch: expected a string, got array"),
            (
                Doc::Json(json!({"x__y-1": {"model_patch": "", "model_name_or_path": 1}})),
                "x__y-1.model_name_or_path: expected a string",
            ),
            (
                Doc::Lines(vec![json!({"instance_id": "a", "model_patch": ""}), json!({"instance_id": "b"})]),
                "line 2: model_patch: missing",
            ),
            (
                Doc::Lines(vec![json!({"instance_id": "a", "model_patch": ""}), json!({"model_patch": ""})]),
                "line 2: instance_id: missing",
            ),
            (
                Doc::Json(json!([{"instance_id": "a", "model_patch": ""}, 7])),
                "item 2: prediction: expected an object, got number",
            ),
        ];
        for (doc, want) in cases {
            assert!(sniff(&doc), "{doc:?}");
            let e = parse_err(parse, doc);
            assert!(e.contains(want), "{e} / {want}");
        }
        let truncated = b"{\"instance_id\": \"a\", \"model_patch\": \"\"}\n{\"instance_id\": \"b\", \"model_pa";
        assert!(crate::traces::parse_file(Path::new("all_preds.jsonl"), truncated).is_err());
        assert!(!sniff(&Doc::Json(json!({}))));
    }

    #[test]
    fn sniff_claims_no_other_format() {
        for (path, doc) in other_fixtures(|folder, name| folder == "predictions" || name.contains("preds")) {
            assert!(!sniff(&doc), "{} claimed", path.display());
        }
    }

    #[test]
    fn real_samples() {
        let dir = Path::new(SHARED);
        if !dir.exists() {
            return;
        }
        let traces = import(&dir.join("swe-agent/v0_all_preds.jsonl"), "predictions");
        let got: Vec<_> = traces.iter().map(summary).collect();
        assert_eq!(got, [(Some("pydicom__pydicom-1458"), true, Outcome::Unknown, None)]);
        let traces = import(&dir.join("mini-swe-agent/preds_results.json"), "predictions");
        let got: Vec<_> = traces.iter().map(summary).collect();
        assert_eq!(got, [(Some("swe-agent__test-repo-1"), true, Outcome::Unknown, None)]);
        assert_eq!(traces.first().and_then(|t| t.model.as_deref()), Some("anthropic/claude-sonnet-4-20250514"));
    }
}
