//! Property tests for trace import: whatever the bytes, `parse_file` never panics, and every
//! error it returns starts with the file name it was given.
//!
//! Inputs: random bytes; random JSON documents built from the field names and values the
//! importers look for; and every fixture under `tests/fixtures/traces/` mutated (truncated,
//! bytes flipped / inserted / deleted, one JSON value replaced by a value of another type).

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{json, Map, Value};
use socratic::traces::parse_file;
use std::path::{Path, PathBuf};

/// Cases per fixture file and mutation kind.
const CASES_PER_FILE: u32 = 256;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/traces")
}

/// Every file under the fixtures folder, sorted.
fn fixture_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(fixtures_dir())
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    files.sort();
    files
}

/// The property: no panic (the runner catches one and reports it), errors name the file.
fn check(path: &Path, bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Err(e) = parse_file(path, bytes) {
        let message = e.to_string();
        let name = path.display().to_string();
        prop_assert!(message.starts_with(&name), "error does not start with {name}: {message}");
    }
    Ok(())
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() })
}

/// Run `strategy` against every fixture, `CASES_PER_FILE` cases each.
fn for_each_fixture<S, F>(what: &str, strategy: F)
where
    S: Strategy<Value = Vec<u8>>,
    F: Fn(&[u8]) -> S,
{
    let files = fixture_files();
    assert!(!files.is_empty(), "no fixtures under {}", fixtures_dir().display());
    for path in files {
        let original = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut runner = runner(CASES_PER_FILE);
        let result = runner.run(&strategy(&original), |mutated| check(&path, &mutated));
        if let Err(e) = result {
            panic!("{what} of {}: {e}", path.display());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Mutations of real files

fn truncated(original: &[u8]) -> impl Strategy<Value = Vec<u8>> {
    let original = original.to_vec();
    any::<Index>().prop_map(move |at| original[..at.index(original.len() + 1)].to_vec())
}

#[derive(Debug, Clone)]
enum ByteEdit {
    Flip(Index, u8),
    Insert(Index, u8),
    Delete(Index),
}

fn byte_edit() -> impl Strategy<Value = ByteEdit> {
    prop_oneof![
        (any::<Index>(), 1..=255u8).prop_map(|(i, b)| ByteEdit::Flip(i, b)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| ByteEdit::Insert(i, b)),
        any::<Index>().prop_map(ByteEdit::Delete),
    ]
}

fn apply_edits(mut bytes: Vec<u8>, edits: &[ByteEdit]) -> Vec<u8> {
    for edit in edits {
        match edit {
            ByteEdit::Flip(i, b) if !bytes.is_empty() => {
                let at = i.index(bytes.len());
                bytes[at] ^= b;
            }
            ByteEdit::Insert(i, b) => {
                let at = i.index(bytes.len() + 1);
                bytes.insert(at, *b);
            }
            ByteEdit::Delete(i) if !bytes.is_empty() => {
                let at = i.index(bytes.len());
                bytes.remove(at);
            }
            _ => {}
        }
    }
    bytes
}

fn byte_edited(original: &[u8]) -> impl Strategy<Value = Vec<u8>> {
    let original = original.to_vec();
    prop::collection::vec(byte_edit(), 1..8).prop_map(move |edits| apply_edits(original.clone(), &edits))
}

/// A fixture decoded the way the importer sees it: one JSON document, or JSON Lines.
enum Decoded {
    Json(Value),
    Lines(Vec<Value>),
}

fn decode(bytes: &[u8]) -> Option<Decoded> {
    let text = std::str::from_utf8(bytes).ok()?;
    if let Ok(v) = serde_json::from_str(text) {
        return Some(Decoded::Json(v));
    }
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).ok())
        .collect::<Option<_>>()
        .map(Decoded::Lines)
}

fn encode(doc: &Decoded) -> Vec<u8> {
    match doc {
        Decoded::Json(v) => v.to_string().into_bytes(),
        Decoded::Lines(lines) => lines.iter().map(Value::to_string).collect::<Vec<_>>().join("\n").into_bytes(),
    }
}

fn count_nodes(v: &Value) -> usize {
    1 + match v {
        Value::Array(items) => items.iter().map(count_nodes).sum(),
        Value::Object(map) => map.values().map(count_nodes).sum(),
        _ => 0,
    }
}

/// The `k`-th node in pre-order.
fn nth_node<'a>(v: &'a mut Value, k: &mut usize) -> Option<&'a mut Value> {
    if *k == 0 {
        return Some(v);
    }
    *k -= 1;
    let children: Vec<&mut Value> = match v {
        Value::Array(items) => items.iter_mut().collect(),
        Value::Object(map) => map.values_mut().collect(),
        _ => return None,
    };
    for child in children {
        let size = count_nodes(child);
        if *k < size {
            return nth_node(child, k);
        }
        *k -= size;
    }
    None
}

/// A value of a different JSON type than `old`.
fn other_type(old: &Value, pick: usize, text: &str) -> Value {
    let candidates =
        [Value::Null, json!(true), json!(-7), json!(text), json!([text]), json!({ "x": text }), json!([]), json!({})];
    let same = |v: &Value| std::mem::discriminant(v) == std::mem::discriminant(old);
    let others: Vec<&Value> = candidates.iter().filter(|v| !same(v)).collect();
    others.get(pick % others.len().max(1)).map_or(Value::Null, |v| (*v).clone())
}

fn value_replaced(original: &[u8]) -> impl Strategy<Value = Vec<u8>> {
    let original = original.to_vec();
    (any::<Index>(), any::<usize>(), "[a-z_]{0,6}").prop_map(move |(at, pick, text)| {
        let Some(mut doc) = decode(&original) else { return original.clone() };
        let roots: Vec<&mut Value> = match &mut doc {
            Decoded::Json(v) => vec![v],
            Decoded::Lines(lines) => lines.iter_mut().collect(),
        };
        let total: usize = roots.iter().map(|v| count_nodes(v)).sum();
        let mut k = at.index(total.max(1));
        for root in roots {
            let size = count_nodes(root);
            if k < size {
                if let Some(node) = nth_node(root, &mut k) {
                    *node = other_type(node, pick, &text);
                }
                break;
            }
            k -= size;
        }
        encode(&doc)
    })
}

#[test]
fn truncated_fixtures() {
    for_each_fixture("truncation", truncated);
}

#[test]
fn byte_edited_fixtures() {
    for_each_fixture("byte edits", byte_edited);
}

#[test]
fn fixtures_with_a_value_of_another_type() {
    for_each_fixture("value replacement", value_replaced);
}

#[test]
fn fixtures_import_unchanged() {
    for path in fixture_files() {
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if let Err(e) = check(&path, &bytes) {
            panic!("{e}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Random input

/// Field names the importers look for, so random documents reach past the format checks.
const KEYS: &[&str] = &[
    "instance_id",
    "repo",
    "base_commit",
    "patch",
    "test_patch",
    "problem_statement",
    "FAIL_TO_PASS",
    "PASS_TO_PASS",
    "FAIL_TO_FAIL",
    "PASS_TO_FAIL",
    "image_name",
    "resolved",
    "tests_status",
    "success",
    "failure",
    "patch_is_None",
    "patch_exists",
    "patch_successfully_applied",
    "schema_version",
    "resolved_ids",
    "unresolved_ids",
    "empty_patch_ids",
    "error_ids",
    "submitted_ids",
    "model_name_or_path",
    "model_patch",
    "type",
    "sessionId",
    "message",
    "role",
    "content",
    "text",
    "thinking",
    "tool_use_id",
    "is_error",
    "name",
    "input",
    "id",
    "command",
    "cmd",
    "timestamp",
    "payload",
    "arguments",
    "call_id",
    "output",
    "metadata",
    "exit_code",
    "ts",
    "say",
    "ask",
    "partial",
    "modelInfo",
    "modelId",
    "history",
    "trajectory",
    "info",
    "messages",
    "action",
    "observation",
    "test_result",
    "git",
    "summary",
    "issue",
    "owner",
    "number",
    "git_patch",
    "result_explanation",
    "error",
    "ids_resolved",
    "ids_unresolved",
    "total",
    "created_at",
    "dataset",
    "split",
    "task_repo",
];

/// String values the importers branch on.
const WORDS: &[&str] = &[
    "user",
    "assistant",
    "say",
    "ask",
    "text",
    "tool_use",
    "tool_result",
    "thinking",
    "Bash",
    "Edit",
    "MultiEdit",
    "Write",
    "response_item",
    "session_meta",
    "turn_context",
    "event_msg",
    "function_call",
    "function_call_output",
    "custom_tool_call",
    "exec_command_end",
    "reasoning",
    "shell",
    "exec_command",
    "apply_patch",
    "command",
    "command_output",
    "tool",
    "completion_result",
    "api_req_started",
    "execute_command",
    "write_to_file",
    "replace_in_file",
    "attempt_completion",
    "editedExistingFile",
    "newFileCreated",
    "{\"cost\": 0.5}",
    "{\"tool\": \"newFileCreated\", \"path\": \"a\"}",
    "{\"output\": \"x\", \"metadata\": {\"exit_code\": 3}}",
    "*** Begin Patch\n*** Add File: x\n+a\n*** End Patch",
    "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n",
    "[\"t1\"]",
    "Exit code 2",
    "[execute_command for 'ls'] Result:\nok",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (-1e15f64..1e15).prop_map(|f| json!(f)),
        prop::sample::select(WORDS).prop_map(|s| json!(s)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..8)
                .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect::<Map<_, _>>())),
        ]
    })
}

/// Paths that give importers an instance id hint, a Cline folder, or nothing.
const PATHS: &[&str] = &[
    "random.json",
    "logs/owner__repo-123/report.json",
    "runs/owner__repo.abc12345.pr_9.jsonl",
    "cline-task/api_conversation_history.json",
];

#[test]
fn random_bytes() {
    let strategy = (prop::sample::select(PATHS), prop::collection::vec(any::<u8>(), 0..512));
    let result = runner(512).run(&strategy, |(path, bytes)| check(Path::new(path), &bytes));
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn random_json_documents() {
    let jsonl = prop::collection::vec(json_value(), 1..5)
        .prop_map(|lines| lines.iter().map(Value::to_string).collect::<Vec<_>>().join("\n"));
    let text = prop_oneof![json_value().prop_map(|v| v.to_string()), jsonl];
    let result =
        runner(1024).run(&(prop::sample::select(PATHS), text), |(path, text)| check(Path::new(path), text.as_bytes()));
    if let Err(e) = result {
        panic!("{e}");
    }
}
