//! Trace import: bytes of one file in, `model::Record`s out (traces, evaluation reports,
//! benchmark instances), with the format detected from the content, never from the file name.
//!
//! In: a path and its bytes. Out: `Ok(Vec<Record>)`, secrets redacted and trace ids set, or an
//! `ImportError` naming the file and what was wrong. Importers never panic on any input
//! (property tests feed random and mutated bytes to every one).
//!
//! Each format lives in its own submodule with two plain functions over an already-decoded
//! [`Doc`]: `sniff(&Doc) -> bool` (cheap structural check) and
//! `parse(&Doc, &Ctx) -> Result<Vec<Record>, String>`. [`IMPORTERS`] lists them in the order they
//! are tried. File walking (folders, symlink loops, links out of the folder, size limits) lives here too, but reading the
//! bytes is the caller's job (`read_input`), so the parsing core stays IO-free.

pub mod claude_code;
pub mod cline;
pub mod codex;
pub mod conversation;
mod fields;
pub mod infer;
pub mod mini_swe_agent;
pub mod openhands;
pub mod openhands_resolver;
pub mod predictions;
pub mod swe_agent;
pub mod swebench;
pub mod swebench_run_meta;
pub mod value_fields;

use crate::model::Record;
use crate::redact;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Files larger than this are refused without being read.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// A decoded input file: one JSON document, or JSON Lines.
#[derive(Debug, Clone)]
pub enum Doc {
    Json(Value),
    Lines(Vec<Value>),
}

impl Doc {
    /// The single JSON document, if this is one.
    pub fn json(&self) -> Option<&Value> {
        match self {
            Doc::Json(v) => Some(v),
            Doc::Lines(_) => None,
        }
    }

    /// The JSON Lines records, if this is JSONL.
    pub fn lines(&self) -> Option<&[Value]> {
        match self {
            Doc::Lines(v) => Some(v),
            Doc::Json(_) => None,
        }
    }
}

/// What an importer may know about where its input came from.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Display form of the path, used as `origin` in records and in errors.
    pub origin: String,
    pub path: PathBuf,
    /// An instance id found in the folder or file name (SWE-bench's `logs/<id>/report.json`
    /// layout keeps the id only there).
    pub instance_id_hint: Option<String>,
    /// What the importer skipped and still imported the rest (malformed lines of a log, ...),
    /// one message per problem; the caller reports them beside the file's records.
    pub warnings: std::cell::RefCell<Vec<String>>,
}

impl Ctx {
    /// Note something skipped while the rest of the file is imported.
    pub fn warn(&self, message: impl Into<String>) {
        self.warnings.borrow_mut().push(message.into());
    }
}

/// One file parsed: its format, its records and what was skipped on the way.
#[derive(Debug)]
pub struct ParsedFile {
    pub format: &'static str,
    pub records: Vec<Record>,
    /// Each starts with the file name, like an `ImportError`.
    pub warnings: Vec<String>,
}

/// One format: a name, a structural check and a parser.
pub struct Importer {
    pub name: &'static str,
    pub sniff: fn(&Doc) -> bool,
    pub parse: fn(&Doc, &Ctx) -> Result<Vec<Record>, String>,
}

/// Every importer, in the order they are tried (the most specific first).
pub const IMPORTERS: &[Importer] = &[
    Importer { name: "swe-agent", sniff: swe_agent::sniff, parse: swe_agent::parse },
    Importer { name: "mini-swe-agent", sniff: mini_swe_agent::sniff, parse: mini_swe_agent::parse },
    Importer { name: "openhands", sniff: openhands::sniff, parse: openhands::parse },
    Importer { name: "openhands-resolver", sniff: openhands_resolver::sniff, parse: openhands_resolver::parse },
    Importer { name: "swe-bench", sniff: swebench::sniff, parse: swebench::parse },
    Importer { name: "swe-bench-run-meta", sniff: swebench_run_meta::sniff, parse: swebench_run_meta::parse },
    Importer { name: "predictions", sniff: predictions::sniff, parse: predictions::parse },
    Importer { name: "claude-code", sniff: claude_code::sniff, parse: claude_code::parse },
    Importer { name: "codex-cli", sniff: codex::sniff, parse: codex::parse },
    Importer { name: "cline", sniff: cline::sniff, parse: cline::parse },
];

/// Why a file could not be imported. The message always names the file.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{origin}: cannot read: {message}")]
    Read { origin: String, message: String },
    #[error("{origin}: skipped: a symlink to {target}, outside the folder imported")]
    LinkOutside { origin: String, target: String },
    #[error("{origin}: too large ({size} bytes; limit {limit})")]
    TooLarge { origin: String, size: u64, limit: u64 },
    #[error("{origin}: not UTF-8 text (invalid byte at offset {offset})")]
    NotUtf8 { origin: String, offset: usize },
    #[error("{origin}: empty file")]
    Empty { origin: String },
    #[error("{origin}: not JSON or JSON Lines: {message}")]
    NotJson { origin: String, message: String },
    #[error("{origin}: unrecognised format ({shape})")]
    Unrecognised { origin: String, shape: String },
    #[error("{origin}: {format}: {message}")]
    Invalid { origin: String, format: &'static str, message: String },
}

/// Decode bytes into a [`Doc`]: a JSON document, else JSON Lines (blank lines ignored).
pub fn decode(origin: &str, bytes: &[u8]) -> Result<Doc, ImportError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| ImportError::NotUtf8 { origin: origin.to_string(), offset: e.valid_up_to() })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(ImportError::Empty { origin: origin.to_string() });
    }
    let whole_err = match serde_json::from_str::<Value>(text) {
        Ok(v) => return Ok(Doc::Json(v)),
        Err(e) => e,
    };
    let mut lines = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(v) => lines.push(v),
            Err(e) => {
                let message = if n == 0 { whole_err.to_string() } else { format!("line {}: {e}", n + 1) };
                return Err(ImportError::NotJson { origin: origin.to_string(), message });
            }
        }
    }
    Ok(Doc::Lines(lines))
}

/// A short description of a document's shape for "unrecognised format" errors.
fn shape(doc: &Doc) -> String {
    fn keys(v: &Value) -> String {
        match v {
            Value::Object(m) => {
                let mut k: Vec<&str> = m.keys().map(String::as_str).take(6).collect();
                if m.len() > 6 {
                    k.push("...");
                }
                format!("object with keys {}", k.join(", "))
            }
            Value::Array(a) => format!("array of {}", a.len()),
            other => format!("a JSON {}", json_type(other)),
        }
    }
    match doc {
        Doc::Json(v) => keys(v),
        Doc::Lines(l) => format!("{} JSON lines, first: {}", l.len(), l.first().map(keys).unwrap_or_default()),
    }
}

/// The JSON type name of a value, for error messages.
pub fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// An instance id in a path: the folder name first (`logs/<id>/report.json`), then the file
/// name. Ids look like `owner__repo-123` or `owner__repo.abc1234.pr_42`.
pub fn instance_id_hint(path: &Path) -> Option<String> {
    static ID: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"[A-Za-z0-9][A-Za-z0-9-]*__[A-Za-z0-9_.-]*?(?:-i?\d+|\.pr_\d+|\.[0-9a-f]{8}\.[A-Za-z0-9_]+)")
            .unwrap()
    });
    let parent = path.parent().and_then(|p| p.file_name()).and_then(|s| s.to_str());
    let stem = path.file_name().and_then(|s| s.to_str()).map(|s| s.split(".json").next().unwrap_or(s));
    [parent, stem]
        .into_iter()
        .flatten()
        .find_map(|s| ID.find(s).map(|m| m.as_str().trim_end_matches(".traj").to_string()))
}

/// Parse one file's bytes: decode, detect the format, parse, redact secrets, set trace ids.
/// Warnings (what was skipped) are dropped; [`parse_file_with_warnings`] keeps them.
pub fn parse_file(path: &Path, bytes: &[u8]) -> Result<(&'static str, Vec<Record>), ImportError> {
    parse_file_with_warnings(path, bytes).map(|p| (p.format, p.records))
}

/// [`parse_file`], keeping the importer's warnings, each prefixed with the file and format.
pub fn parse_file_with_warnings(path: &Path, bytes: &[u8]) -> Result<ParsedFile, ImportError> {
    let origin = path.display().to_string();
    let doc = decode(&origin, bytes)?;
    let ctx = Ctx {
        origin: origin.clone(),
        path: path.to_path_buf(),
        instance_id_hint: instance_id_hint(path),
        warnings: Default::default(),
    };
    let importer = IMPORTERS
        .iter()
        .find(|i| (i.sniff)(&doc))
        .ok_or_else(|| ImportError::Unrecognised { origin: origin.clone(), shape: shape(&doc) })?;
    let records = (importer.parse)(&doc, &ctx).map_err(|message| ImportError::Invalid {
        origin: origin.clone(),
        format: importer.name,
        message,
    })?;
    let warnings = ctx
        .warnings
        .into_inner()
        .into_iter()
        .map(|w| redact::redact(&format!("{origin}: {}: {w}", importer.name)).into_owned())
        .collect();
    Ok(ParsedFile { format: importer.name, records: records.into_iter().map(finish).collect(), warnings })
}

/// Redact secrets everywhere in a record and give traces their content id.
fn finish(record: Record) -> Record {
    let mut record = redact::redact_record(record);
    if let Record::Trace(t) = &mut record {
        t.id = t.compute_id();
    }
    record
}

/// Read a file for import, refusing ones over `MAX_FILE_BYTES` before reading them.
pub fn read_input(path: &Path) -> Result<Vec<u8>, ImportError> {
    let origin = path.display().to_string();
    let meta =
        std::fs::metadata(path).map_err(|e| ImportError::Read { origin: origin.clone(), message: e.to_string() })?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(ImportError::TooLarge { origin, size: meta.len(), limit: MAX_FILE_BYTES });
    }
    std::fs::read(path).map_err(|e| ImportError::Read { origin, message: e.to_string() })
}

/// Expand files and folders (recursively, symlinks not followed into loops) into the files to
/// import, sorted. Errors (unreadable folder, a loop) come back beside the files.
pub fn collect_files(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<ImportError>) {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for root in paths {
        if root.is_file() {
            files.push(root.clone());
            continue;
        }
        if !root.exists() {
            errors.push(ImportError::Read {
                origin: root.display().to_string(),
                message: "no such file or folder".into(),
            });
            continue;
        }
        let mut found_any = false;
        // Links are followed only while they stay inside the folder given: a link to `/etc` or to
        // a trace elsewhere is skipped and named (a link named on the command line is followed).
        let inside = root.canonicalize().unwrap_or_else(|_| root.clone());
        let mut walk = walkdir::WalkDir::new(root).follow_links(true).sort_by_file_name().into_iter();
        while let Some(entry) = walk.next() {
            if let Ok(e) = &entry {
                if e.path_is_symlink() && e.depth() > 0 {
                    let target = e.path().canonicalize();
                    if !target.as_ref().is_ok_and(|t| t.starts_with(&inside)) {
                        let target = target.or_else(|_| std::fs::read_link(e.path())).unwrap_or_default();
                        if e.file_type().is_dir() {
                            walk.skip_current_dir();
                        }
                        errors.push(ImportError::LinkOutside {
                            origin: e.path().display().to_string(),
                            target: target.display().to_string(),
                        });
                        continue;
                    }
                }
            }
            match entry {
                Ok(e) if e.file_type().is_file() => {
                    if is_importable_name(e.path()) {
                        found_any = true;
                        files.push(e.into_path());
                    }
                }
                Ok(_) => {}
                Err(e) => errors.push(ImportError::Read {
                    origin: e.path().unwrap_or(root).display().to_string(),
                    message: if e.loop_ancestor().is_some() { "symlink loop".to_string() } else { e.to_string() },
                }),
            }
        }
        if !found_any {
            errors.push(ImportError::Read {
                origin: root.display().to_string(),
                message: "folder holds no .json, .jsonl or .traj files".into(),
            });
        }
    }
    (files, errors)
}

/// Folders are filtered to the extensions traces come in; files named explicitly are always tried.
fn is_importable_name(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    !name.starts_with('.') && [".json", ".jsonl", ".traj"].iter().any(|ext| name.ends_with(ext))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_json_and_jsonl() {
        assert!(matches!(decode("f", br#"{"a":1}"#), Ok(Doc::Json(_))));
        match decode("f", b"{\"a\":1}\n\n{\"b\":2}\n") {
            Ok(Doc::Lines(l)) => assert_eq!(l.len(), 2),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn decode_errors_name_the_file() {
        let e = decode("x.json", b"{\"a\":").unwrap_err().to_string();
        assert!(e.starts_with("x.json: not JSON"), "{e}");
        let e = decode("y.json", &[0xff, 0xfe, 0x00]).unwrap_err().to_string();
        assert!(e.contains("y.json") && e.contains("UTF-8"), "{e}");
        let e = decode("z.json", b"  \n").unwrap_err().to_string();
        assert_eq!(e, "z.json: empty file");
        let e = decode("w.jsonl", b"{\"a\":1}\n{oops\n").unwrap_err().to_string();
        assert!(e.contains("line 2"), "{e}");
    }

    #[test]
    fn instance_id_hints() {
        let cases = [
            ("logs/django__django-16255/report.json", Some("django__django-16255")),
            ("x/experiments_report_unresolved_django__django-10999.json", Some("django__django-10999")),
            ("a/pydantic__pydantic.acb0f10f.pr_8316.traj", Some("pydantic__pydantic.acb0f10f.pr_8316")),
            ("a/scikit-learn__scikit-learn-15100.traj.json", Some("scikit-learn__scikit-learn-15100")),
            ("a/swe-agent__test-repo-i1.traj", Some("swe-agent__test-repo-i1")),
            ("a/plain.json", None),
        ];
        for (path, want) in cases {
            assert_eq!(instance_id_hint(Path::new(path)).as_deref(), want, "{path}");
        }
    }

    #[test]
    fn unrecognised_shape_is_described() {
        let e = parse_file(Path::new("q.json"), br#"{"hello": 1, "world": 2}"#).unwrap_err().to_string();
        assert!(e.contains("q.json: unrecognised format (object with keys hello, world)"), "{e}");
    }
}
