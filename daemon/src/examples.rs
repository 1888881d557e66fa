//! The embedded default: example traces compiled into the binary, so `socratic demo` runs with
//! nothing configured and nothing downloaded.
//!
//! In: nothing. Out: `(path, bytes)` pairs of the small hand-written traces in
//! `tests/fixtures/traces/`, one or more per supported format (a Cline export's API history is
//! left out where its `ui_messages.json` is included: they are one task), and the files of the
//! example Python repository `tests/example_repo/` (tallyho), written out by `write_example_repo`.

macro_rules! example {
    ($path:literal) => {
        (
            concat!("examples/", $path),
            include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/traces/", $path)) as &[u8],
        )
    };
}

/// Example trace files shipped in the binary.
pub const TRACE_FILES: &[(&str, &[u8])] = &[
    example!("claude-code/session.jsonl"),
    example!("cline/task-1/ui_messages.json"),
    example!("cline/task-2/api_conversation_history.json"),
    example!("codex-cli/rollout.jsonl"),
    example!("mini-swe-agent/toolcall_toy.traj.json"),
    example!("mini-swe-agent/v1text_toy.traj.json"),
    example!("openhands/events_toy.json"),
    example!("openhands/output_toy.jsonl"),
    example!("predictions/all_preds_toy.jsonl"),
    example!("predictions/preds_toy.json"),
    example!("swe-agent/v0_toy.traj"),
    example!("swe-agent/v1_toy.traj"),
    example!("swe-smith/instance.json"),
    example!("swe-smith/validation_report.json"),
    example!("swebench-eval/acme.run1.json"),
    example!("swebench-eval/logs/acme__widgets-7/report.json"),
    example!("swebench-eval/wrapped_report.json"),
    example!("swebench-eval/logs/toy__calc-9/report.json"),
    example!("swebench-eval/toy_slug_report.json"),
    example!("swebench-instances/instances.json"),
];

macro_rules! repo_file {
    ($path:literal) => {
        ($path, include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/example_repo/", $path)))
    };
}

/// The example repository's files: `(relative path, contents)`.
pub const EXAMPLE_REPO: &[(&str, &str)] = &[
    repo_file!(".gitignore"),
    repo_file!("README.md"),
    repo_file!("pyproject.toml"),
    repo_file!("tallyho/__init__.py"),
    repo_file!("tallyho/config.py"),
    repo_file!("tallyho/errors.py"),
    repo_file!("tallyho/ledger.py"),
    repo_file!("tallyho/money.py"),
    repo_file!("tallyho/parser.py"),
    repo_file!("tallyho/periods.py"),
    repo_file!("tallyho/report.py"),
    repo_file!("tallyho/retry.py"),
    repo_file!("tests/test_config.py"),
    repo_file!("tests/test_ledger.py"),
    repo_file!("tests/test_money.py"),
    repo_file!("tests/test_parser.py"),
    repo_file!("tests/test_periods.py"),
    repo_file!("tests/test_report.py"),
    repo_file!("tests/test_retry.py"),
];

/// Write the example repository into `dir` (created) and commit it (`diff::git`); returns HEAD.
pub fn write_example_repo(dir: &std::path::Path) -> Result<String, String> {
    for (rel, contents) in EXAMPLE_REPO {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(&path, contents).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let repo = crate::diff::git::Repo::init(dir).map_err(|e| e.to_string())?;
    repo.commit_all("tallyho example", 1_700_000_000).map_err(|e| e.to_string())
}
