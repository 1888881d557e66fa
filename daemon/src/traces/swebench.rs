//! SWE-bench and SWE-smith files: dataset instances, harness reports and validation reports.
//!
//! In: a decoded document of one of these shapes:
//! - dataset instances (a JSON array, one object, or JSON Lines) with `instance_id`,
//!   `problem_statement`, `patch`, `FAIL_TO_PASS`/`PASS_TO_PASS` as lists or as JSON-encoded
//!   strings (the Hugging Face layout); SWE-smith instances also carry `image_name` and their
//!   `patch` is the bug, not the fix;
//! - a harness per-instance `report.json`, wrapped (`{"<instance_id>": {...}}`) or not (the id
//!   then comes from the path, `logs/<instance_id>/report.json`);
//! - a harness aggregate run report (`resolved_ids`, `unresolved_ids`, ...), or SWE-smith's
//!   (`ids_resolved`, `ids_unresolved`, `resolved`, `unresolved`, `total`);
//! - a SWE-smith validation report (only the four test-transition lists).
//!
//! Out: `Record::Instance`s (gold or bug patch, F2P/P2P tests) and `Record::Report`s (outcome,
//! failure reason, F2P/P2P success and failure lists), one per instance.

use super::fields::{self, as_object, missing, opt_array, opt_bool, opt_object, opt_str, req_str, string_list, Object};
use super::{Ctx, Doc};
use crate::model::{sha256_hex, EvalReport, FailureReason, Instance, Outcome, Record, SourceFormat};
use serde_json::Value;
use std::collections::HashSet;

/// The shapes this module reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Instances,
    Report,
    RunReport,
    Validation,
}

/// Keys that mark another producer's format; an object with one of them is never an instance.
const FOREIGN_KEYS: &[&str] = &["model_patch", "history", "trajectory", "messages", "test_result"];

/// Keys of a SWE-smith validation report.
const VALIDATION_KEYS: &[&str] = &["FAIL_TO_PASS", "PASS_TO_PASS", "FAIL_TO_FAIL", "PASS_TO_FAIL"];

pub fn sniff(doc: &Doc) -> bool {
    kind(doc).is_some()
}

pub fn parse(doc: &Doc, ctx: &Ctx) -> Result<Vec<Record>, String> {
    match (kind(doc), doc) {
        (Some(Kind::Instances), _) => parse_instances(doc, ctx),
        (Some(Kind::Report), Doc::Json(Value::Object(o))) => parse_report_file(o, ctx),
        (Some(Kind::RunReport), Doc::Json(Value::Object(o))) => parse_run_report(o, ctx),
        (Some(Kind::Validation), Doc::Json(Value::Object(o))) => parse_validation(o, ctx),
        _ => Err("not a SWE-bench or SWE-smith instance or report".to_string()),
    }
}

fn kind(doc: &Doc) -> Option<Kind> {
    match doc {
        Doc::Json(Value::Object(o)) => object_kind(o),
        Doc::Json(Value::Array(items)) => first_is_instance(items),
        Doc::Lines(lines) => first_is_instance(lines),
        Doc::Json(_) => None,
    }
}

fn first_is_instance(items: &[Value]) -> Option<Kind> {
    items.first().and_then(Value::as_object).filter(|o| is_instance(o)).map(|_| Kind::Instances)
}

fn object_kind(o: &Object) -> Option<Kind> {
    if is_instance(o) {
        Some(Kind::Instances)
    } else if is_run_report(o) {
        Some(Kind::RunReport)
    } else if is_report(o) || is_wrapped_report(o) {
        Some(Kind::Report)
    } else if is_validation(o) {
        Some(Kind::Validation)
    } else {
        None
    }
}

fn is_instance(o: &Object) -> bool {
    o.contains_key("instance_id")
        && !FOREIGN_KEYS.iter().any(|k| o.contains_key(*k))
        && ["problem_statement", "FAIL_TO_PASS", "PASS_TO_PASS", "test_patch", "image_name"]
            .iter()
            .any(|k| o.contains_key(*k))
}

fn is_report(o: &Object) -> bool {
    o.contains_key("tests_status")
        || (o.contains_key("resolved")
            && ["patch_is_None", "patch_exists", "patch_successfully_applied"].iter().any(|k| o.contains_key(*k)))
}

fn is_wrapped_report(o: &Object) -> bool {
    o.values().next().and_then(Value::as_object).is_some_and(is_report)
}

fn is_run_report(o: &Object) -> bool {
    o.contains_key("resolved_ids")
        || ((o.contains_key("ids_resolved") || o.contains_key("ids_unresolved")) && o.contains_key("total"))
        || (o.contains_key("schema_version") && (o.contains_key("submitted_ids") || o.contains_key("completed_ids")))
}

fn is_validation(o: &Object) -> bool {
    !o.is_empty()
        && o.keys().all(|k| VALIDATION_KEYS.contains(&k.as_str()))
        && (o.contains_key("FAIL_TO_PASS") || o.contains_key("PASS_TO_PASS"))
}

// ---------------------------------------------------------------------------------------------
// Dataset instances

fn parse_instances(doc: &Doc, ctx: &Ctx) -> Result<Vec<Record>, String> {
    let (items, jsonl): (&[Value], bool) = match doc {
        Doc::Json(Value::Array(items)) => (items, false),
        Doc::Json(one) => (std::slice::from_ref(one), false),
        Doc::Lines(lines) => (lines, true),
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let origin = if jsonl { format!("{}:{}", ctx.origin, i + 1) } else { ctx.origin.clone() };
            let what = if jsonl { format!("line {}", i + 1) } else { format!("instance {}", i + 1) };
            as_object(item, &what).and_then(|o| parse_instance(o, origin)).map(Record::Instance).map_err(|e| {
                if e.starts_with(&what) {
                    e
                } else {
                    format!("{what}: {e}")
                }
            })
        })
        .collect()
}

fn parse_instance(o: &Object, origin: String) -> Result<Instance, String> {
    let instance_id = req_str(o, "instance_id")?.to_string();
    let repo = opt_str(o, "repo")?.map(str::to_string);
    let image_name = opt_str(o, "image_name")?.map(str::to_string);
    let patch = opt_str(o, "patch")?.map(str::to_string);
    let swe_smith = image_name.is_some() || repo.as_deref().is_some_and(|r| r.starts_with("swesmith/"));
    let (source, gold_patch, bug_patch) = if swe_smith {
        (SourceFormat::SweSmithInstance, patch.as_deref().and_then(|p| crate::diff::reverse(p).ok()), patch)
    } else {
        (SourceFormat::SweBenchInstance, patch, None)
    };
    Ok(Instance {
        instance_id,
        source,
        repo,
        base_commit: opt_str(o, "base_commit")?.map(str::to_string),
        problem_statement: opt_str(o, "problem_statement")?.map(str::to_string),
        gold_patch,
        bug_patch,
        test_patch: opt_str(o, "test_patch")?.map(str::to_string),
        fail_to_pass: test_list(o, "FAIL_TO_PASS")?,
        pass_to_pass: test_list(o, "PASS_TO_PASS")?,
        image_name,
        origin,
    })
}

/// A test list given as a JSON array or as a string holding a JSON-encoded array.
fn test_list(o: &Object, key: &str) -> Result<Vec<String>, String> {
    match o.get(key) {
        Some(Value::String(s)) if s.trim().is_empty() => Ok(Vec::new()),
        Some(Value::String(s)) => serde_json::from_str::<Vec<String>>(s)
            .map_err(|e| format!("field `{key}`: a string that is not a JSON list of test names ({e})")),
        Some(Value::Array(_)) => string_list(o, key),
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(other) => Err(fields::wrong_type(key, "a list of test names", other)),
    }
}

// ---------------------------------------------------------------------------------------------
// Per-instance harness reports

fn parse_report_file(o: &Object, ctx: &Ctx) -> Result<Vec<Record>, String> {
    if is_report(o) {
        let id = ctx.instance_id_hint.as_deref().ok_or_else(|| {
            "report without an instance id: it is not wrapped by instance id and its path names none \
             (SWE-bench keeps it in logs/<instance_id>/report.json)"
                .to_string()
        })?;
        return Ok(vec![Record::Report(report(id, o, ctx).map_err(|e| format!("report for `{id}`: {e}"))?)]);
    }
    if let Some(folder_id) = folder_hint(ctx) {
        if !o.contains_key(folder_id) {
            let keys: Vec<&str> = o.keys().map(String::as_str).collect();
            return Err(format!(
                "report is for instance `{}` but its folder names instance `{folder_id}`",
                keys.join("`, `")
            ));
        }
    }
    o.iter()
        .map(|(id, value)| {
            as_object(value, &format!("report for `{id}`"))
                .and_then(|r| report(id, r, ctx).map_err(|e| format!("report for `{id}`: {e}")))
                .map(Record::Report)
        })
        .collect()
}

/// The instance id hint when it came from the folder name (`logs/<id>/report.json`).
fn folder_hint(ctx: &Ctx) -> Option<&str> {
    let hint = ctx.instance_id_hint.as_deref()?;
    let folder = ctx.path.parent()?.file_name()?.to_str()?;
    folder.contains(hint).then_some(hint)
}

fn report(instance_id: &str, o: &Object, ctx: &Ctx) -> Result<EvalReport, String> {
    let resolved = opt_bool(o, "resolved")?.ok_or_else(|| missing("resolved"))?;
    let patch_missing = opt_bool(o, "patch_is_None")? == Some(true) || opt_bool(o, "patch_exists")? == Some(false);
    let applied = opt_bool(o, "patch_successfully_applied")?;
    let tests = opt_object(o, "tests_status")?;
    let (f2p_ok, f2p_bad) = transition(tests, "FAIL_TO_PASS")?;
    let (p2p_ok, p2p_bad) = transition(tests, "PASS_TO_PASS")?;
    let (outcome, failure) = classify(resolved, patch_missing, applied, !f2p_bad.is_empty(), !p2p_bad.is_empty());
    Ok(EvalReport {
        instance_id: instance_id.to_string(),
        source: SourceFormat::SweBenchReport,
        resolved,
        outcome,
        failure,
        fail_to_pass_success: f2p_ok,
        fail_to_pass_failure: f2p_bad,
        pass_to_pass_success: p2p_ok,
        pass_to_pass_failure: p2p_bad,
        run: opt_str(o, "model_name_or_path")?.map(str::to_string),
        patch: None,
        origin: ctx.origin.clone(),
    })
}

/// `tests_status.<key>.success` and `.failure`.
fn transition(tests: Option<&Object>, key: &str) -> Result<(Vec<String>, Vec<String>), String> {
    let in_tests = |e: String| format!("tests_status.{key}: {e}");
    let Some(group) =
        tests.map(|t| opt_object(t, key)).transpose().map_err(|e| format!("tests_status: {e}"))?.flatten()
    else {
        return Ok((Vec::new(), Vec::new()));
    };
    Ok((string_list(group, "success").map_err(in_tests)?, string_list(group, "failure").map_err(in_tests)?))
}

/// Outcome and failure reason of one harness report, most decisive evidence first.
fn classify(
    resolved: bool,
    patch_missing: bool,
    applied: Option<bool>,
    f2p_failed: bool,
    p2p_failed: bool,
) -> (Outcome, Option<FailureReason>) {
    if resolved {
        (Outcome::Resolved, None)
    } else if patch_missing {
        (Outcome::NoPatch, Some(FailureReason::EmptyPatch))
    } else if applied == Some(false) {
        (Outcome::Unresolved, Some(FailureReason::PatchDoesNotApply))
    } else if f2p_failed {
        (Outcome::Unresolved, Some(FailureReason::FailToPassStillFailing))
    } else if p2p_failed {
        (Outcome::Unresolved, Some(FailureReason::Regression))
    } else {
        (Outcome::Unresolved, Some(FailureReason::Unspecified))
    }
}

// ---------------------------------------------------------------------------------------------
// Aggregate run reports

/// Which id lists of a run report become reports, with the outcome each gives.
const RUN_LISTS: &[(&str, bool, Outcome, Option<FailureReason>)] = &[
    ("resolved_ids", true, Outcome::Resolved, None),
    ("unresolved_ids", false, Outcome::Unresolved, Some(FailureReason::Unspecified)),
    ("empty_patch_ids", false, Outcome::NoPatch, Some(FailureReason::EmptyPatch)),
    ("error_ids", false, Outcome::Error, Some(FailureReason::AgentError)),
    // SWE-smith's run report.
    ("ids_resolved", true, Outcome::Resolved, None),
    ("ids_unresolved", false, Outcome::Unresolved, Some(FailureReason::Unspecified)),
];

fn parse_run_report(o: &Object, ctx: &Ctx) -> Result<Vec<Record>, String> {
    let run = run_name(o, ctx)?;
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for &(key, resolved, outcome, failure) in RUN_LISTS {
        for id in string_list(o, key)? {
            if !seen.insert(id.clone()) {
                continue;
            }
            out.push(Record::Report(EvalReport {
                instance_id: id,
                source: SourceFormat::SweBenchRunReport,
                resolved,
                outcome,
                failure,
                fail_to_pass_success: Vec::new(),
                fail_to_pass_failure: Vec::new(),
                pass_to_pass_success: Vec::new(),
                pass_to_pass_failure: Vec::new(),
                run: run.clone(),
                patch: None,
                origin: ctx.origin.clone(),
            }));
        }
    }
    Ok(out)
}

/// The run's name: `run_id` or `model_name_or_path` when present, else the file name (the
/// harness writes `<model>.<run_id>.json`), else, for a file named `report.json` (SWE-smith
/// writes `run_evaluation/<run_id>/report.json`), its folder's name.
fn run_name(o: &Object, ctx: &Ctx) -> Result<Option<String>, String> {
    for key in ["run_id", "model_name_or_path"] {
        if let Some(name) = opt_str(o, key)? {
            return Ok(Some(name.to_string()));
        }
    }
    let file = ctx.path.file_name().and_then(|n| n.to_str());
    let stem = file.map(|f| f.strip_suffix(".json").unwrap_or(f)).filter(|f| !f.is_empty());
    if stem == Some("report") {
        let folder = ctx.path.parent().and_then(|p| p.file_name()).and_then(|n| n.to_str());
        return Ok(folder.filter(|f| !f.is_empty()).map(str::to_string));
    }
    Ok(stem.map(str::to_string))
}

// ---------------------------------------------------------------------------------------------
// SWE-smith validation reports

fn parse_validation(o: &Object, ctx: &Ctx) -> Result<Vec<Record>, String> {
    for key in ["FAIL_TO_FAIL", "PASS_TO_FAIL"] {
        opt_array(o, key)?;
    }
    let instance_id = match &ctx.instance_id_hint {
        Some(hint) => hint.clone(),
        None => {
            let content = Value::Object(o.clone()).to_string();
            format!("unnamed-validation-{}", &sha256_hex(content.as_bytes())[..12])
        }
    };
    Ok(vec![Record::Instance(Instance {
        instance_id,
        source: SourceFormat::SweSmithValidation,
        repo: None,
        base_commit: None,
        problem_statement: None,
        gold_patch: None,
        bug_patch: None,
        test_patch: None,
        fail_to_pass: string_list(o, "FAIL_TO_PASS")?,
        pass_to_pass: string_list(o, "PASS_TO_PASS")?,
        image_name: None,
        origin: ctx.origin.clone(),
    })])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traces::parse_file;
    use std::path::{Path, PathBuf};

    fn ctx(path: &str) -> Ctx {
        Ctx {
            origin: path.to_string(),
            path: PathBuf::from(path),
            instance_id_hint: crate::traces::instance_id_hint(Path::new(path)),
            warnings: Default::default(),
        }
    }

    /// Parse JSON text as if it were the file at `path`, through this module only.
    fn check(path: &str, text: &str) -> Result<Vec<Record>, String> {
        let doc = crate::traces::decode(path, text.as_bytes()).map_err(|e| e.to_string())?;
        assert!(sniff(&doc), "not sniffed: {text}");
        parse(&doc, &ctx(path))
    }

    fn reports(records: Vec<Record>) -> Vec<EvalReport> {
        records.into_iter().filter_map(|r| if let Record::Report(r) = r { Some(r) } else { None }).collect()
    }

    fn instances(records: Vec<Record>) -> Vec<Instance> {
        records.into_iter().filter_map(|r| if let Record::Instance(i) = r { Some(i) } else { None }).collect()
    }

    fn fixture(rel: &str) -> String {
        format!("{}/../tests/fixtures/traces/{rel}", env!("CARGO_MANIFEST_DIR"))
    }

    fn import(path: &str) -> Vec<Record> {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let (name, records) = parse_file(Path::new(path), &bytes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(name, "swe-bench", "{path}");
        records
    }

    const UNWRAPPED: &str = r#"{"patch_is_None": false, "patch_exists": true, "patch_successfully_applied": true,
        "resolved": false, "tests_status": {"FAIL_TO_PASS": {"success": ["a"], "failure": ["b"]},
        "PASS_TO_PASS": {"success": ["c"], "failure": []}}}"#;

    #[test]
    fn swe_bench_instances_with_string_test_lists() {
        let text = r#"[{"instance_id": "o__r-1", "repo": "o/r", "base_commit": "abc", "patch": "diff",
            "test_patch": "tdiff", "problem_statement": "broken", "FAIL_TO_PASS": "[\"t1\", \"t2\"]",
            "PASS_TO_PASS": ""}, {"instance_id": "o__r-2", "problem_statement": "x", "FAIL_TO_PASS": ["t3"]}]"#;
        let got = instances(check("i.json", text).unwrap());
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].instance_id, "o__r-1");
        assert_eq!(got[0].source, SourceFormat::SweBenchInstance);
        assert_eq!(got[0].gold_patch.as_deref(), Some("diff"));
        assert_eq!(got[0].bug_patch, None);
        assert_eq!(got[0].fail_to_pass, vec!["t1", "t2"]);
        assert!(got[0].pass_to_pass.is_empty());
        assert_eq!(got[1].fail_to_pass, vec!["t3"]);
    }

    #[test]
    fn instances_as_jsonl_and_single_object() {
        let line = r#"{"instance_id": "o__r-3", "problem_statement": "p", "FAIL_TO_PASS": []}"#;
        let got = instances(check("i.jsonl", &format!("{line}\n{line}\n")).unwrap());
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].origin, "i.jsonl:2");
        assert_eq!(instances(check("i.json", line).unwrap()).len(), 1);
    }

    #[test]
    fn swe_smith_instance_keeps_bug_and_reverses_it() {
        let patch = "diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -1,2 +1,2 @@\n x = 1\n-y = 2\n+y = 3\n";
        let text = serde_json::json!({"instance_id": "o__r.abc12345.pr_7", "repo": "swesmith/o__r.abc12345",
            "patch": patch, "FAIL_TO_PASS": ["t"], "PASS_TO_PASS": "[\"u\"]", "image_name": "img"})
        .to_string();
        let got = instances(check("i.json", &text).unwrap());
        assert_eq!(got[0].source, SourceFormat::SweSmithInstance);
        assert_eq!(got[0].bug_patch.as_deref(), Some(patch));
        assert_eq!(
            got[0].gold_patch.as_deref(),
            Some("diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -1,2 +1,2 @@\n x = 1\n-y = 3\n+y = 2\n")
        );
        assert_eq!((got[0].fail_to_pass.clone(), got[0].pass_to_pass.clone()), (vec!["t".into()], vec!["u".into()]));
        assert_eq!(got[0].image_name.as_deref(), Some("img"));
    }

    #[test]
    fn bad_instances_name_the_field() {
        let e = check("i.json", r#"[{"instance_id": 7, "problem_statement": "p"}]"#).unwrap_err();
        assert!(e.contains("instance 1") && e.contains("`instance_id`") && e.contains("number"), "{e}");
        let e = check("i.json", r#"{"instance_id": "x", "FAIL_TO_PASS": "[not json"}"#).unwrap_err();
        assert!(e.contains("`FAIL_TO_PASS`"), "{e}");
        let e = check("i.json", r#"{"instance_id": "x", "FAIL_TO_PASS": [1]}"#).unwrap_err();
        assert!(e.contains("`FAIL_TO_PASS[0]`"), "{e}");
        let e = check("i.json", r#"[{"instance_id": "x", "problem_statement": "p"}, 3]"#).unwrap_err();
        assert!(e.contains("instance 2") && e.contains("number"), "{e}");
    }

    #[test]
    fn unwrapped_report_takes_id_from_folder() {
        let got = reports(check("logs/o__r-12/report.json", UNWRAPPED).unwrap());
        assert_eq!(got.len(), 1);
        let r = &got[0];
        assert_eq!(r.instance_id, "o__r-12");
        assert_eq!(r.source, SourceFormat::SweBenchReport);
        assert_eq!(
            (r.outcome, r.failure, r.resolved),
            (Outcome::Unresolved, Some(FailureReason::FailToPassStillFailing), false)
        );
        assert_eq!(
            (r.fail_to_pass_success.clone(), r.fail_to_pass_failure.clone()),
            (vec!["a".into()], vec!["b".into()])
        );
        assert_eq!(r.pass_to_pass_success, vec!["c"]);
    }

    #[test]
    fn unwrapped_report_without_hint_says_where_ids_live() {
        let e = check("logs/report.json", UNWRAPPED).unwrap_err();
        assert!(e.contains("instance id") && e.contains("logs/<instance_id>/report.json"), "{e}");
    }

    #[test]
    fn wrapped_report_id_must_match_folder() {
        let text = format!(r#"{{"o__r-5": {UNWRAPPED}}}"#);
        assert_eq!(reports(check("logs/o__r-5/report.json", &text).unwrap())[0].instance_id, "o__r-5");
        assert_eq!(reports(check("report.json", &text).unwrap())[0].instance_id, "o__r-5");
        let e = check("logs/o__r-6/report.json", &text).unwrap_err();
        assert!(e.contains("o__r-5") && e.contains("o__r-6"), "{e}");
    }

    #[test]
    fn report_outcomes() {
        let case = |fields: &str| {
            let text = format!(r#"{{"x__y-1": {{{fields}}}}}"#);
            let r = reports(check("r.json", &text).unwrap()).remove(0);
            (r.outcome, r.failure)
        };
        let status = |f2p_bad: &str, p2p_bad: &str| {
            format!(
                r#""tests_status": {{"FAIL_TO_PASS": {{"success": [], "failure": [{f2p_bad}]}}, "PASS_TO_PASS": {{"success": [], "failure": [{p2p_bad}]}}}}"#
            )
        };
        assert_eq!(
            case(&format!(r#""resolved": true, "patch_exists": true, {}"#, status("", ""))),
            (Outcome::Resolved, None)
        );
        assert_eq!(
            case(r#""resolved": false, "patch_is_None": true"#),
            (Outcome::NoPatch, Some(FailureReason::EmptyPatch))
        );
        assert_eq!(
            case(r#""resolved": false, "patch_exists": false"#),
            (Outcome::NoPatch, Some(FailureReason::EmptyPatch))
        );
        assert_eq!(
            case(r#""resolved": false, "patch_exists": true, "patch_successfully_applied": false"#),
            (Outcome::Unresolved, Some(FailureReason::PatchDoesNotApply))
        );
        assert_eq!(
            case(&format!(r#""resolved": false, "patch_exists": true, {}"#, status("", r#""p""#))),
            (Outcome::Unresolved, Some(FailureReason::Regression))
        );
        assert_eq!(
            case(&format!(r#""resolved": false, "patch_exists": true, {}"#, status(r#""f""#, r#""p""#))),
            (Outcome::Unresolved, Some(FailureReason::FailToPassStillFailing))
        );
        assert_eq!(
            case(r#""resolved": false, "patch_exists": true"#),
            (Outcome::Unresolved, Some(FailureReason::Unspecified))
        );
    }

    #[test]
    fn bad_reports_name_the_field() {
        let e = check("logs/o__r-1/report.json", r#"{"resolved": "yes", "patch_exists": true}"#).unwrap_err();
        assert!(e.contains("`resolved`") && e.contains("boolean"), "{e}");
        let e = check("logs/o__r-1/report.json", r#"{"patch_exists": true, "tests_status": {}}"#).unwrap_err();
        assert!(e.contains("missing field `resolved`"), "{e}");
        let e = check(
            "logs/o__r-1/report.json",
            r#"{"resolved": false, "tests_status": {"FAIL_TO_PASS": {"failure": 3}}}"#,
        )
        .unwrap_err();
        assert!(e.contains("tests_status.FAIL_TO_PASS") && e.contains("`failure`"), "{e}");
        let e = check("r.json", r#"{"a__b-1": {"resolved": true, "patch_exists": true}, "a__b-2": []}"#).unwrap_err();
        assert!(e.contains("a__b-2") && e.contains("array"), "{e}");
    }

    #[test]
    fn run_report_gives_one_report_per_listed_id() {
        let text = r#"{"schema_version": 2, "resolved_ids": ["a__b-1", "a__b-2"], "unresolved_ids": ["a__b-3"],
            "empty_patch_ids": ["a__b-4"], "error_ids": ["a__b-5"], "incomplete_ids": ["a__b-6"], "submitted_ids": []}"#;
        let got = reports(check("out/model.run7.json", text).unwrap());
        assert_eq!(got.len(), 5);
        let by = |id: &str| got.iter().find(|r| r.instance_id == id).map(|r| (r.outcome, r.failure));
        assert_eq!(by("a__b-1"), Some((Outcome::Resolved, None)));
        assert_eq!(by("a__b-3"), Some((Outcome::Unresolved, Some(FailureReason::Unspecified))));
        assert_eq!(by("a__b-4"), Some((Outcome::NoPatch, Some(FailureReason::EmptyPatch))));
        assert_eq!(by("a__b-5"), Some((Outcome::Error, Some(FailureReason::AgentError))));
        assert_eq!(by("a__b-6"), None);
        assert!(got
            .iter()
            .all(|r| r.source == SourceFormat::SweBenchRunReport && r.run.as_deref() == Some("model.run7")));
        let e = check("x.json", r#"{"resolved_ids": "a__b-1"}"#).unwrap_err();
        assert!(e.contains("`resolved_ids`"), "{e}");
    }

    #[test]
    fn swe_smith_run_report_gives_one_report_per_listed_id() {
        let got = reports(
            parse_file(
                Path::new(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/../tests/fixtures/traces/swe-smith/run_evaluation/acme_sweep_0301/report.json"
                )),
                &std::fs::read(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/../tests/fixtures/traces/swe-smith/run_evaluation/acme_sweep_0301/report.json"
                ))
                .unwrap(),
            )
            .unwrap()
            .1,
        );
        assert_eq!(got.len(), 5);
        let resolved: Vec<&str> =
            got.iter().filter(|r| r.outcome == Outcome::Resolved).map(|r| r.instance_id.as_str()).collect();
        assert_eq!(resolved, ["acme__widgets.5d1e0c9b.func_pm_op_swap__k2x8", "acme__widgets.5d1e0c9b.pr_41"]);
        assert!(got.iter().all(|r| r.source == SourceFormat::SweBenchRunReport));
        assert!(got.iter().all(|r| r.run.as_deref() == Some("acme_sweep_0301")), "{got:?}");
        let e = check("x.json", r#"{"total": 1, "ids_resolved": [3]}"#).unwrap_err();
        assert!(e.contains("`ids_resolved[0]`"), "{e}");
    }

    #[test]
    fn validation_report_is_an_instance() {
        let text = r#"{"FAIL_TO_PASS": ["t1"], "PASS_TO_PASS": ["t2", "t3"], "FAIL_TO_FAIL": [], "PASS_TO_FAIL": []}"#;
        let got = instances(check("logs/o__r.abcdef12.pr_3/report.json", text).unwrap());
        assert_eq!(got[0].instance_id, "o__r.abcdef12.pr_3");
        assert_eq!(got[0].source, SourceFormat::SweSmithValidation);
        assert_eq!((got[0].fail_to_pass.len(), got[0].pass_to_pass.len()), (1, 2));
        let unnamed = instances(check("report.json", text).unwrap());
        let id = &unnamed[0].instance_id;
        assert!(id.starts_with("unnamed-validation-") && id.len() == "unnamed-validation-".len() + 12, "{id}");
        assert_eq!(id, &instances(check("other.json", text).unwrap())[0].instance_id, "stable id");
        assert!(check("report.json", r#"{"FAIL_TO_PASS": ["t1"], "PASS_TO_FAIL": 1}"#)
            .unwrap_err()
            .contains("PASS_TO_FAIL"));
    }

    #[test]
    fn sniff_leaves_other_formats_alone() {
        for text in [
            r#"{"instance_id": "a__b-1", "model_patch": "diff", "model_name_or_path": "m"}"#,
            r#"[{"instance_id": "a__b-1", "model_patch": "diff"}]"#,
            r#"{"a__b-1": {"instance_id": "a__b-1", "model_patch": "diff"}}"#,
            r#"{"trajectory": [], "info": {}, "history": []}"#,
            r#"{"messages": [], "info": {}, "trajectory_format": "mini-swe-agent-1"}"#,
            r#"{"instance_id": "a__b-1", "history": [], "test_result": {}, "instance": {"problem_statement": "x"}}"#,
            r#"[{"id": 1, "action": "run", "args": {}}, {"id": 2, "observation": "run"}]"#,
            r#"[{"ts": 1, "type": "say", "say": "text", "text": "hi"}]"#,
            r#"{"FAIL_TO_PASS": [], "other": 1}"#,
            r#"{"type": "user", "sessionId": "s", "message": {"role": "user", "content": "x"}}"#,
        ] {
            let doc = crate::traces::decode("f", text.as_bytes()).unwrap();
            assert!(!sniff(&doc), "claimed: {text}");
        }
    }

    #[test]
    fn hand_written_fixtures() {
        let got = instances(import(&fixture("swebench-instances/instances.json")));
        assert_eq!(got.len(), 2);
        assert!(got.iter().all(|i| i.source == SourceFormat::SweBenchInstance && !i.fail_to_pass.is_empty()));
        let got = instances(import(&fixture("swe-smith/instance.json")));
        assert_eq!(got[0].source, SourceFormat::SweSmithInstance);
        assert!(got[0].gold_patch.is_some());
        let got = instances(import(&fixture("swe-smith/validation_report.json")));
        assert_eq!(got[0].source, SourceFormat::SweSmithValidation);
        let got = reports(import(&fixture("swebench-eval/logs/acme__widgets-7/report.json")));
        assert_eq!((got[0].instance_id.as_str(), got[0].failure), ("acme__widgets-7", Some(FailureReason::Regression)));
        let got = reports(import(&fixture("swebench-eval/wrapped_report.json")));
        assert_eq!((got[0].instance_id.as_str(), got[0].outcome), ("acme__widgets-3", Outcome::Resolved));
        let got = reports(import(&fixture("swebench-eval/acme.run1.json")));
        assert_eq!(got.len(), 4);
        assert!(got.iter().all(|r| r.run.as_deref() == Some("acme.run1")));
    }

    const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures/traces");

    /// The sniffs of this module and of the Claude Code, Codex and Cline modules claim none of
    /// the real files of the formats tried before them (or of each other's).
    #[test]
    fn sniffs_leave_other_real_formats_alone() {
        use crate::traces::{claude_code, cline, codex};
        type Sniff = fn(&Doc) -> bool;
        let sniffs: [(&str, Sniff); 4] = [
            ("swe-bench", sniff),
            ("claude-code", claude_code::sniff),
            ("codex-cli", codex::sniff),
            ("cline", cline::sniff),
        ];
        let own = |folder: &str| match folder {
            "swebench-eval" | "swebench-instances" | "swe-smith" => "swe-bench",
            "claude-code" => "claude-code",
            "codex-cli" => "codex-cli",
            "cline" => "cline",
            _ => "",
        };
        let Ok(folders) = std::fs::read_dir(SHARED) else { return };
        for folder in folders.filter_map(Result::ok).filter(|e| e.path().is_dir()) {
            let folder_name = folder.file_name().to_string_lossy().to_string();
            for file in std::fs::read_dir(folder.path()).into_iter().flatten().filter_map(Result::ok) {
                let Ok(bytes) = std::fs::read(file.path()) else { continue };
                let Ok(doc) = crate::traces::decode("f", &bytes) else { continue };
                for (name, sniff) in sniffs {
                    let want = name == own(&folder_name);
                    assert_eq!(sniff(&doc), want, "{name} sniff on {}", file.path().display());
                }
            }
        }
    }

    #[test]
    fn real_shared_files() {
        if !Path::new(SHARED).join("swebench-eval").exists() {
            return;
        }
        let eval = |f: &str| reports(import(&format!("{SHARED}/swebench-eval/{f}")));

        let r = eval("swesmith_report_pydantic__pydantic.acb0f10f.pr_8316.json").remove(0);
        assert_eq!(
            (r.instance_id.as_str(), r.outcome, r.resolved),
            ("pydantic__pydantic.acb0f10f.pr_8316", Outcome::Resolved, true)
        );
        assert_eq!((r.fail_to_pass_success.len(), r.pass_to_pass_success.len()), (5, 150));

        let r = eval("experiments_report_unresolved_django__django-10999.json").remove(0);
        assert_eq!(r.instance_id, "django__django-10999");
        assert_eq!((r.outcome, r.failure), (Outcome::Unresolved, Some(FailureReason::FailToPassStillFailing)));
        assert_eq!(r.fail_to_pass_failure.len(), 2);

        let r = eval("experiments_report_resolved_django__django-16255.json").remove(0);
        assert_eq!((r.instance_id.as_str(), r.outcome), ("django__django-16255", Outcome::Resolved));

        let r = eval("report_resolved_scikit-learn__scikit-learn-15100.json").remove(0);
        assert_eq!((r.instance_id.as_str(), r.outcome), ("scikit-learn__scikit-learn-15100", Outcome::Resolved));

        let run = eval("run_report_anthropic__claude-haiku-4-5.claude_4.5_haiku_subset.json");
        let count = |o: Outcome| run.iter().filter(|r| r.outcome == o).count();
        assert_eq!(
            (count(Outcome::Resolved), count(Outcome::Unresolved), count(Outcome::NoPatch), count(Outcome::Error)),
            (32, 16, 1, 1)
        );
        assert_eq!(run.len(), 50);

        let got = instances(import(&format!("{SHARED}/swebench-instances/swe-bench-lite-test_5instances.json")));
        assert_eq!(got.len(), 5);
        let d = got.iter().find(|i| i.instance_id == "django__django-16255").expect("django__django-16255");
        assert_eq!(d.fail_to_pass, vec!["test_callable_sitemod_no_items (sitemaps_tests.test_http.HTTPSitemapTests)"]);
        assert!(!d.pass_to_pass.is_empty() && d.gold_patch.is_some() && d.test_patch.is_some());
        assert_eq!(
            instances(import(&format!("{SHARED}/swebench-instances/swe-bench-dev-easy_first_only.json"))).len(),
            1
        );

        let smith =
            instances(import(&format!("{SHARED}/swe-smith/instance_pandas-dev__pandas.95280573.pr_53652.json")))
                .remove(0);
        assert_eq!(
            (smith.instance_id.as_str(), smith.source),
            ("pandas-dev__pandas.95280573.pr_53652", SourceFormat::SweSmithInstance)
        );
        assert_eq!((smith.fail_to_pass.len(), smith.pass_to_pass.len()), (2, 9));
        let gold = smith.gold_patch.as_deref().expect("bug patch reverses");
        assert_eq!(crate::diff::reverse(gold).ok().as_deref(), smith.bug_patch.as_deref());

        let v = instances(import(&format!("{SHARED}/swe-smith/run_validation_report.json"))).remove(0);
        assert!(v.instance_id.starts_with("unnamed-validation-"));
        assert_eq!((v.fail_to_pass.len(), v.pass_to_pass.len()), (2, 9));
    }
}
