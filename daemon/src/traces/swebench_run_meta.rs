//! The SWE-bench harness's `run.json`: metadata about an evaluation run, written beside the
//! per-instance folders of a logs tree.
//!
//! In: one JSON object with at least three of `created_at`, `dataset`, `split`, `task_repo`
//! (other keys are ignored). Out: no records — it holds no per-instance results, so nothing in
//! it can label a trace — and one warning naming the run it describes, so that importing a whole
//! logs folder succeeds and says what it skipped.

use super::fields::{opt_str, Object};
use super::{Ctx, Doc};
use crate::model::Record;
use serde_json::Value;

/// The keys that mark run metadata.
const KEYS: &[&str] = &["created_at", "dataset", "split", "task_repo"];

/// Keys of formats that carry results; an object with one of them is not run metadata.
const RESULT_KEYS: &[&str] = &["instance_id", "resolved_ids", "ids_resolved", "tests_status", "history", "messages"];

pub fn sniff(doc: &Doc) -> bool {
    match doc {
        Doc::Json(Value::Object(o)) => is_run_meta(o),
        _ => false,
    }
}

fn is_run_meta(o: &Object) -> bool {
    KEYS.iter().filter(|k| o.contains_key(**k)).count() >= 3 && !RESULT_KEYS.iter().any(|k| o.contains_key(*k))
}

pub fn parse(doc: &Doc, ctx: &Ctx) -> Result<Vec<Record>, String> {
    let Doc::Json(Value::Object(o)) = doc else { return Err("expected one JSON object".into()) };
    let mut said = Vec::new();
    for key in ["dataset", "split", "task_repo", "created_at"] {
        if let Some(value) = opt_str(o, key)? {
            said.push(format!("{key} `{value}`"));
        }
    }
    ctx.warn(format!("run metadata ({}) holds no results; nothing imported", said.join(", ")));
    Ok(Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traces::value_fields::test_support::{other_fixtures, FIXTURES};
    use std::path::Path;

    #[test]
    fn run_json_is_skipped_with_a_note() {
        let path = Path::new(FIXTURES).join("swebench-eval/harness-logs/run.json");
        let parsed = crate::traces::parse_file_with_warnings(&path, &std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(parsed.format, "swe-bench-run-meta");
        assert!(parsed.records.is_empty());
        let [note] = parsed.warnings.as_slice() else { panic!("{:?}", parsed.warnings) };
        assert!(
            note.contains("run.json: swe-bench-run-meta: run metadata (dataset `SWE-bench/SWE-bench_Verified`"),
            "{note}"
        );
    }

    #[test]
    fn a_field_of_the_wrong_type_is_named() {
        let doc = Doc::Json(serde_json::json!({"created_at": "2025", "dataset": 3, "split": "test"}));
        assert!(sniff(&doc));
        let e = crate::traces::value_fields::test_support::parse_err(parse, doc);
        assert!(e.contains("`dataset`"), "{e}");
    }

    #[test]
    fn sniff_leaves_other_formats_alone() {
        for (path, doc) in other_fixtures(|_, name| name == "run.json") {
            assert!(!sniff(&doc), "{} sniffed as run metadata", path.display());
        }
    }
}
