//! Typed field access on decoded JSON for importers, with errors that name the field.
//!
//! In: a `serde_json::Value` and a field name (or path). Out: the field as a Rust type, `None`
//! when it is absent or null, or an `Err` string such as `history: expected an array, got string`.
//! The `lenient_*` helpers are for optional metadata (model names, costs): a wrong type there is
//! ignored instead of failing the whole import.

use super::json_type;
use serde_json::{Map, Value};

/// The object a document must be, or an error naming what it is instead.
pub fn as_object<'a>(v: &'a Value, name: &str) -> Result<&'a Map<String, Value>, String> {
    v.as_object().ok_or_else(|| wrong_type(name, "an object", v))
}

/// `name: expected <want>, got <type>`.
pub fn wrong_type(name: &str, want: &str, got: &Value) -> String {
    format!("{name}: expected {want}, got {}", json_type(got))
}

/// `name: missing`.
pub fn missing(name: &str) -> String {
    format!("{name}: missing")
}

/// The value at `key`, treating null as absent.
pub fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.get(key).filter(|x| !x.is_null())
}

/// An optional string field: absent/null → `None`, a string → `Some`, anything else → `Err`.
pub fn opt_str<'a>(v: &'a Value, key: &str, name: &str) -> Result<Option<&'a str>, String> {
    match get(v, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(wrong_type(name, "a string", other)),
    }
}

/// A required string field.
pub fn req_str<'a>(v: &'a Value, key: &str, name: &str) -> Result<&'a str, String> {
    opt_str(v, key, name)?.ok_or_else(|| missing(name))
}

/// An optional array field.
pub fn opt_array<'a>(v: &'a Value, key: &str, name: &str) -> Result<Option<&'a [Value]>, String> {
    match get(v, key) {
        None => Ok(None),
        Some(Value::Array(a)) => Ok(Some(a)),
        Some(other) => Err(wrong_type(name, "an array", other)),
    }
}

/// A required array field.
pub fn req_array<'a>(v: &'a Value, key: &str, name: &str) -> Result<&'a [Value], String> {
    opt_array(v, key, name)?.ok_or_else(|| missing(name))
}

/// An optional object field (returned as the `Value`, so `get` etc. apply to it).
pub fn opt_object<'a>(v: &'a Value, key: &str, name: &str) -> Result<Option<&'a Value>, String> {
    match get(v, key) {
        None => Ok(None),
        Some(o @ Value::Object(_)) => Ok(Some(o)),
        Some(other) => Err(wrong_type(name, "an object", other)),
    }
}

/// The value at a path of keys, if every step exists.
pub fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |cur, key| get(cur, key))
}

/// A non-empty string at a path, ignoring wrong types.
pub fn lenient_str<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    at(v, path).and_then(Value::as_str).filter(|s| !s.trim().is_empty())
}

/// A number at a path (a JSON number or a numeric string), ignoring wrong types.
pub fn lenient_f64(v: &Value, path: &[&str]) -> Option<f64> {
    match at(v, path)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// An integer (a JSON integer or an integer string) that fits an exit code.
pub fn as_exit_code(v: &Value) -> Option<i32> {
    match v {
        Value::Number(n) => n.as_i64().and_then(|i| i32::try_from(i).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// An object that may also come serialized as a JSON string (SWE-agent's `replay_config`).
/// Anything else, or a string that is not a JSON object, gives `None`.
pub fn object_or_json_string(v: &Value) -> Option<Value> {
    match v {
        Value::Object(_) => Some(v.clone()),
        Value::String(s) => serde_json::from_str::<Value>(s).ok().filter(Value::is_object),
        _ => None,
    }
}

/// `Some(text)` when it has content after trimming.
pub fn non_empty(text: &str) -> Option<&str> {
    Some(text).filter(|t| !t.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn typed_access_names_the_field() {
        let v = json!({"a": "x", "n": 3, "arr": [1], "o": {"k": "v"}, "z": null});
        assert_eq!(opt_str(&v, "a", "a"), Ok(Some("x")));
        assert_eq!(opt_str(&v, "z", "z"), Ok(None));
        assert_eq!(opt_str(&v, "n", "top.n"), Err("top.n: expected a string, got number".into()));
        assert_eq!(req_str(&v, "q", "q"), Err("q: missing".into()));
        assert!(req_array(&v, "a", "a").unwrap_err().contains("expected an array, got string"));
        assert_eq!(lenient_str(&v, &["o", "k"]), Some("v"));
        assert_eq!(lenient_f64(&json!({"c": "0.5"}), &["c"]), Some(0.5));
        assert_eq!(as_exit_code(&json!("-2")), Some(-2));
        assert_eq!(as_exit_code(&json!(1e20)), None);
        assert!(object_or_json_string(&json!("{\"x\": 1}")).is_some());
        assert!(object_or_json_string(&json!("[1]")).is_none());
    }

    /// Every node of a JSON value, as JSON pointers.
    fn pointers(v: &Value, here: String, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => m
                .iter()
                .for_each(|(k, c)| pointers(c, format!("{here}/{}", k.replace('~', "~0").replace('/', "~1")), out)),
            Value::Array(a) => a.iter().enumerate().for_each(|(i, c)| pointers(c, format!("{here}/{i}"), out)),
            _ => {}
        }
        out.push(here);
    }

    /// The agent-trace importers never panic on their fixtures with any one node swapped for
    /// another JSON type, nor on any truncation of them.
    #[test]
    fn importers_survive_mutated_fixtures() {
        let files = [
            "swe-agent/v0_toy.traj",
            "swe-agent/v1_toy.traj",
            "mini-swe-agent/v1text_toy.traj.json",
            "mini-swe-agent/toolcall_toy.traj.json",
            "openhands/events_toy.json",
            "openhands/output_toy.jsonl",
            "predictions/all_preds_toy.jsonl",
            "predictions/preds_toy.json",
        ];
        let swaps = [json!(null), json!(-1), json!("s"), json!([]), json!({}), json!([{"a": 1}])];
        for rel in files {
            let path = std::path::Path::new(test_support::FIXTURES).join(rel);
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{rel}: {e}"));
            for cut in (0..bytes.len()).step_by(37) {
                let _ = crate::traces::parse_file(&path, bytes.get(..cut).unwrap_or_default());
            }
            let docs: Vec<Value> = match crate::traces::decode(rel, &bytes) {
                Ok(crate::traces::Doc::Json(v)) => vec![v],
                Ok(crate::traces::Doc::Lines(l)) => l,
                Err(e) => panic!("{e}"),
            };
            for (n, doc) in docs.iter().enumerate() {
                let mut all = Vec::new();
                pointers(doc, String::new(), &mut all);
                for pointer in &all {
                    for swap in &swaps {
                        let mut mutated = docs.clone();
                        if let Some(node) = mutated.get_mut(n).and_then(|d| d.pointer_mut(pointer)) {
                            *node = swap.clone();
                        }
                        let text: Vec<String> = mutated.iter().map(Value::to_string).collect();
                        let _ = crate::traces::parse_file(&path, text.join("\n").as_bytes());
                    }
                }
            }
        }
    }
}

/// Fixture loading shared by the importers' tests.
#[cfg(test)]
pub mod test_support {
    use crate::model::{Event, Record, Trace};
    use crate::traces::{decode, parse_file, Doc};
    use std::path::{Path, PathBuf};

    /// The project's own small fixtures.
    pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/traces");
    /// Real public samples, present only beside a full checkout.
    pub const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures/traces");

    /// The kinds of a trace's events, in order.
    pub fn kinds(t: &Trace) -> Vec<&'static str> {
        t.events.iter().map(Event::kind).collect()
    }

    /// The exit codes of a trace's command and test-run events, in order.
    pub fn exit_codes(t: &Trace) -> Vec<Option<i32>> {
        t.events
            .iter()
            .filter_map(|e| match e {
                Event::Command { exit_code, .. } | Event::TestRun { exit_code, .. } => Some(*exit_code),
                _ => None,
            })
            .collect()
    }

    /// Import one file by path, asserting which importer took it; returns its traces.
    pub fn import(path: &Path, importer: &str) -> Vec<Trace> {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let (name, records) = parse_file(path, &bytes).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(name, importer, "{}", path.display());
        records
            .into_iter()
            .map(|r| match r {
                Record::Trace(t) => t,
                other => panic!("{}: expected traces, got {other:?}", path.display()),
            })
            .collect()
    }

    /// Import a file of the project fixtures (`<format>/<name>`).
    pub fn import_fixture(rel: &str, importer: &str) -> Vec<Trace> {
        import(&Path::new(FIXTURES).join(rel), importer)
    }

    /// The folder and file name of a fixture path.
    pub fn folder_and_name(path: &Path) -> (&str, &str) {
        let folder = path.parent().and_then(|p| p.file_name()).and_then(|s| s.to_str()).unwrap_or("");
        let name = path.file_name().and_then(|s| s.to_str()).unwrap_or("");
        (folder, name)
    }

    /// Every fixture file (ours, and the shared samples when present) that `is_own` rejects,
    /// decoded: the files an importer's `sniff` must not claim.
    pub fn other_fixtures(is_own: impl Fn(&str, &str) -> bool) -> Vec<(PathBuf, Doc)> {
        let mut out = Vec::new();
        for root in [FIXTURES, SHARED] {
            for entry in walkdir::WalkDir::new(root).into_iter().flatten() {
                let path = entry.path();
                let (folder, name) = folder_and_name(path);
                if !entry.file_type().is_file() || is_own(folder, name) {
                    continue;
                }
                let Ok(bytes) = std::fs::read(path) else { continue };
                if let Ok(doc) = decode(&path.display().to_string(), &bytes) {
                    out.push((path.to_path_buf(), doc));
                }
            }
        }
        out
    }

    /// Parse a JSON literal as a whole document and run an importer on it, expecting an error.
    pub fn parse_err(parse: fn(&Doc, &crate::traces::Ctx) -> Result<Vec<Record>, String>, doc: Doc) -> String {
        let ctx = crate::traces::Ctx {
            origin: "t.json".into(),
            path: PathBuf::from("t.json"),
            instance_id_hint: None,
            warnings: Default::default(),
        };
        match parse(&doc, &ctx) {
            Ok(r) => panic!("expected an error, got {r:?}"),
            Err(e) => e,
        }
    }
}
