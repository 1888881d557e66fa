//! `socratic traces ...` end to end through the binary: import the project's own fixtures and the
//! real shared samples, check labels, idempotency, exit codes and error messages.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
use common::{socratic, stdout_json as json};

fn repo_fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/traces")
}

fn shared_fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/traces")
}

#[test]
fn imports_every_project_fixture_and_is_idempotent() {
    let home = tempfile::tempdir().unwrap();
    let dir = repo_fixtures();
    let first = socratic(home.path(), &["traces", "import", dir.to_str().unwrap(), "--json"]);
    let report = json(&first);
    assert!(report["rejected"].as_array().unwrap().is_empty(), "{report:#}");
    assert_eq!(first.status.code(), Some(0));
    assert!(report["imported"]["traces"].as_u64().unwrap() >= 10, "{report:#}");
    let again = json(&socratic(home.path(), &["traces", "import", dir.to_str().unwrap(), "--json"]));
    assert_eq!(again["imported"]["traces"], 0);
    assert_eq!(
        again["imported"]["duplicates"].as_u64(),
        Some(
            report["imported"]["traces"].as_u64().unwrap()
                + report["imported"]["reports"].as_u64().unwrap()
                + report["imported"]["instances"].as_u64().unwrap()
        )
    );

    let list = json(&socratic(home.path(), &["traces", "list", "--json"]));
    let first_id = list[0]["id"].as_str().unwrap();
    let shown = socratic(home.path(), &["traces", "show", &first_id[..10], "--json"]);
    assert_eq!(json(&shown)["id"], first_id);
    let stats = json(&socratic(home.path(), &["traces", "stats", "--json"]));
    assert_eq!(stats["traces"], list.as_array().unwrap().len());
    // Nothing stored carries a secret from the fixtures.
    let db = std::fs::read(home.path().join("socratic.db")).unwrap();
    for secret in ["hunter2pass", "ghp_abcdefghij", "sk-ant-api03-"] {
        assert!(!db.windows(secret.len()).any(|w| w == secret.as_bytes()), "{secret} stored");
    }
}

#[test]
fn bad_inputs_are_named_and_the_rest_imports() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let good = repo_fixtures().join("swebench-eval/wrapped_report.json");
    std::fs::copy(&good, dir.path().join("good.json")).unwrap();
    std::fs::write(dir.path().join("truncated.json"), "{\"instance_id\": \"a__b-1\", \"model_pa").unwrap();
    std::fs::write(dir.path().join("binary.json"), [0u8, 159, 146, 150, 255]).unwrap();
    std::fs::write(dir.path().join("unknown.json"), "{\"hello\": 1}").unwrap();
    std::os::unix::fs::symlink(dir.path(), dir.path().join("loop")).unwrap();
    let empty = tempfile::tempdir().unwrap();
    let out =
        socratic(home.path(), &["traces", "import", dir.path().to_str().unwrap(), empty.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "truncated.json: not JSON",
        "binary.json: not UTF-8",
        "unknown.json: unrecognised format",
        "symlink loop",
        "holds no .json",
    ] {
        assert!(stderr.contains(needle), "missing {needle:?} in:\n{stderr}");
    }
    assert!(!stderr.contains("panicked"));
    let stats = json(&socratic(home.path(), &["traces", "stats", "--json"]));
    assert_eq!(stats["reports"], 1, "the good file still imported");
}

#[test]
fn usage_errors_exit_2() {
    let home = tempfile::tempdir().unwrap();
    assert_eq!(socratic(home.path(), &["traces", "frobnicate"]).status.code(), Some(2));
    assert_eq!(socratic(home.path(), &["traces", "import"]).status.code(), Some(2));
    // --home accepted after the subcommand too.
    let out = Command::new(env!("CARGO_BIN_EXE_socratic"))
        .args(["traces", "stats", "--json", "--home"])
        .arg(home.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
}

/// The real public samples beside the project (present in CI; absent on a bare clone).
#[test]
fn real_shared_samples_are_labelled_as_their_reports_say() {
    let dir = shared_fixtures();
    if !dir.exists() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let out = socratic(home.path(), &["traces", "import", dir.to_str().unwrap(), "--json"]);
    let report = json(&out);
    assert!(report["rejected"].as_array().unwrap().is_empty(), "{report:#}");
    let list = json(&socratic(home.path(), &["traces", "list", "--json"]));
    let find = |source: &str, instance: &str| -> Value {
        list.as_array()
            .unwrap()
            .iter()
            .find(|t| t["source"] == source && t["instance_id"] == instance)
            .unwrap_or_else(|| panic!("no {source} trace of {instance}"))
            .clone()
    };
    let pydantic = find("swe-agent", "pydantic__pydantic.acb0f10f.pr_8316");
    assert_eq!((pydantic["outcome"].as_str(), pydantic["inferred"].as_bool()), (Some("resolved"), Some(false)));
    let django = find("mini-swe-agent", "django__django-10999");
    assert_eq!((django["outcome"].as_str(), django["inferred"].as_bool()), (Some("unresolved"), Some(false)));
    let django_ok = find("mini-swe-agent", "django__django-16255");
    assert_eq!(django_ok["outcome"], "resolved");
    let sklearn = find("mini-swe-agent", "scikit-learn__scikit-learn-15100");
    assert_eq!(sklearn["outcome"], "resolved");
    let stats = json(&socratic(home.path(), &["traces", "stats", "--json"]));
    assert!(stats["by_failure"]["max-iterations"].as_u64().unwrap_or(0) >= 1, "{stats:#}");
    assert!(stats["by_failure"]["empty-patch"].as_u64().unwrap_or(0) >= 1, "{stats:#}");
}

#[test]
fn demo_imports_the_embedded_examples() {
    let home = tempfile::tempdir().unwrap();
    let out = socratic(home.path(), &["demo", "--json", "--no-validate", "--budget", "12"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let v = json(&out);
    assert!(v["import"]["rejected"].as_array().unwrap().is_empty(), "{v:#}");
    assert_eq!(v["import"]["files"].as_u64(), Some(socratic::examples::TRACE_FILES.len() as u64));
    assert!(v["stats"]["traces"].as_u64().unwrap() >= 10);
    assert!(v["stats"]["labelled_by_report"].as_u64().unwrap() >= 1, "the example reports label their traces");
    assert!(!v["skills"].as_array().unwrap().is_empty(), "{v:#}");
    assert_eq!(v["tasks_generated"], 12);
    assert!(v["validation"].is_null());
    // A second run reuses the example repository and finds the same candidates.
    let again = json(&socratic(home.path(), &["demo", "--json", "--no-validate", "--budget", "12"]));
    assert_eq!(again["tasks_new"], 0, "{again:#}");
}

#[test]
fn a_reader_that_goes_away_ends_the_listing_quietly() {
    let home = tempfile::tempdir().unwrap();
    let dir = repo_fixtures();
    assert_eq!(socratic(home.path(), &["traces", "import", dir.to_str().unwrap()]).status.code(), Some(0));
    for args in [&["traces", "list"][..], &["traces", "list", "--json"][..]] {
        // `socratic traces list | head -0`: the pipe's reader is gone before the first line
        let mut child = common::socratic_cmd(home.path(), args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
    }
}

/// A report names an instance, not an attempt: an aggregate report of another run (another
/// model, another day) must not relabel this run's traces, and an empty patch is never resolved.
#[test]
fn a_report_of_another_run_does_not_relabel_a_trace() {
    let home = tempfile::tempdir().unwrap();
    let fixtures = repo_fixtures();
    let import = |rel: &str| {
        let path = fixtures.join(rel);
        let out = socratic(home.path(), &["traces", "import", path.to_str().unwrap(), "--json"]);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    };
    import("mini-swe-agent/empty_submission_acme__widgets-12.traj.json");
    import("mini-swe-agent/patched_acme__widgets-13.traj.json");
    // Another model's run lists both instances as resolved.
    import("swebench-eval/other-run/openai__gpt-4o-2024-11-20.sbcli_20250110.json");
    let list = json(&socratic(home.path(), &["traces", "list", "--json"]));
    let row = |instance: &str| -> Value {
        list.as_array().unwrap().iter().find(|t| t["instance_id"] == instance).unwrap().clone()
    };
    let empty = row("acme__widgets-12");
    assert_eq!((empty["outcome"].as_str(), empty["inferred"].as_bool()), (Some("no-patch"), Some(true)), "{empty:#}");
    let patched = row("acme__widgets-13");
    assert_eq!((patched["outcome"].as_str(), patched["inferred"].as_bool()), (Some("unknown"), Some(true)));

    // `show` says which reports were passed over and why.
    let id = empty["id"].as_str().unwrap();
    let shown = json(&socratic(home.path(), &["traces", "show", id, "--json"]));
    assert!(shown["label_evidence"]["applied"].is_null(), "{shown:#}");
    let why = shown["label_evidence"]["ignored"][0]["why"].as_str().unwrap();
    assert!(why.contains("empty patch"), "{why}");
    let text = socratic(home.path(), &["traces", "show", patched["id"].as_str().unwrap()]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("label by:  the importer"), "{text}");
    assert!(text.contains("is not of the trace's model `anthropic/claude-sonnet-4-20250514`"), "{text}");

    // The trace's own run report labels it, and `show` names that report and why.
    import("swebench-eval/other-run/anthropic__claude-sonnet-4-20250514.acme_0214.json");
    let shown = json(&socratic(home.path(), &["traces", "show", patched["id"].as_str().unwrap(), "--json"]));
    assert_eq!(shown["effective_label"]["outcome"], "unresolved", "{shown:#}");
    let applied = &shown["label_evidence"]["applied"];
    assert!(applied["origin"].as_str().unwrap().ends_with("anthropic__claude-sonnet-4-20250514.acme_0214.json"));
    assert!(applied["why"].as_str().unwrap().contains("trace's model"), "{applied:#}");
    let text = socratic(home.path(), &["traces", "show", patched["id"].as_str().unwrap()]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("label by:  swe-bench-run-report report"), "{text}");
}

/// A Claude Code session with a few malformed lines (a string where an object is expected)
/// imports the rest, with one counted warning on stderr naming the file and the lines.
#[test]
fn malformed_claude_code_lines_are_skipped_with_a_warning() {
    let home = tempfile::tempdir().unwrap();
    let path = repo_fixtures().join("claude-code/session_with_malformed_lines.jsonl");
    let out = socratic(home.path(), &["traces", "import", path.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let warning = stderr.lines().find(|l| l.starts_with("warning: ")).unwrap_or_else(|| panic!("{stderr}"));
    assert!(
        warning.contains("session_with_malformed_lines.jsonl: claude-code: skipped 2 malformed line(s)"),
        "{warning}"
    );
    assert!(warning.contains("line 4: record: expected an object, found string"), "{warning}");
    assert!(warning.contains("line 7:") && warning.contains("`message`"), "{warning}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 with warnings"));
    let list = json(&socratic(home.path(), &["traces", "list", "--json"]));
    let [trace] = list.as_array().unwrap().as_slice() else { panic!("{list:#}") };
    assert!(trace["events"].as_u64().unwrap() >= 5, "{trace:#}");

    // A file with no valid record is still rejected as a whole.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("only_bad.jsonl");
    let session = r#"{"type": "user", "sessionId": "s-1", "message": {"role": "user", "content": 5}}"#;
    std::fs::write(&bad, format!("{session}\n{session}\n")).unwrap();
    let out = socratic(home.path(), &["traces", "import", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("only_bad.jsonl: claude-code: line 1:"), "{stderr}");
}

/// Formats seen in the wild: OpenHands resolver output, SWE-smith's aggregate run report, and a
/// current harness logs folder with its `run.json` (skipped with a note, exit 0).
#[test]
fn resolver_output_swe_smith_run_report_and_a_harness_logs_folder_import() {
    let home = tempfile::tempdir().unwrap();
    let import = |rel: &str| {
        let path = repo_fixtures().join(rel);
        socratic(home.path(), &["traces", "import", path.to_str().unwrap(), "--json"])
    };
    let out = import("openhands-resolver/output.jsonl");
    let report = json(&out);
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    assert_eq!(
        (report["imported"]["traces"].as_u64(), report["formats"]["openhands-resolver"].as_u64()),
        (Some(3), Some(1))
    );

    let out = import("swe-smith/run_evaluation/acme_sweep_0301/report.json");
    let report = json(&out);
    assert_eq!(out.status.code(), Some(0), "{report:#}");
    assert_eq!(report["imported"]["reports"], 5, "{report:#}");

    let logs = repo_fixtures().join("swebench-eval/harness-logs");
    let out = socratic(home.path(), &["traces", "import", logs.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("run.json: swe-bench-run-meta: run metadata (dataset `SWE-bench/SWE-bench_Verified`"),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 files: imported 0 traces, 1 reports"));
}

#[test]
fn symlinks_out_of_an_imported_folder_are_skipped_and_named() {
    let home = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let good = repo_fixtures().join("swebench-eval/wrapped_report.json");
    std::fs::copy(&good, outside.path().join("elsewhere.json")).unwrap();
    std::fs::create_dir(outside.path().join("more")).unwrap();
    std::fs::copy(&good, outside.path().join("more/deep.json")).unwrap();

    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(&good, dir.path().join("inside.json")).unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("inside.json"), dir.path().join("sub/link-in.json")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("elsewhere.json"), dir.path().join("link-out.json")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("more"), dir.path().join("folder-out")).unwrap();

    let out = socratic(home.path(), &["traces", "import", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let skipped: Vec<&str> = stderr.lines().filter(|l| l.contains("outside")).collect();
    assert_eq!(skipped.len(), 2, "one line per link out of the folder:\n{stderr}");
    assert!(skipped.iter().any(|l| l.contains("link-out.json")), "{stderr}");
    assert!(skipped.iter().any(|l| l.contains("folder-out")), "{stderr}");
    assert!(!stderr.contains("deep.json") && !stderr.contains("elsewhere.json\":"), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("2 files:"), "inside.json and the link to it inside the folder: {stdout}");

    // A link named on the command line is the user's choice, and is followed.
    let home2 = tempfile::tempdir().unwrap();
    let link = dir.path().join("link-out.json");
    let out = socratic(home2.path(), &["traces", "import", link.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let stats = json(&socratic(home2.path(), &["traces", "stats", "--json"]));
    assert_eq!(stats["reports"], 1);
}

#[test]
fn a_newline_in_a_file_name_gives_one_rejected_line() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let name = "bad\nrejected: forged.json";
    std::fs::write(dir.path().join(name), "{\"truncated\": ").unwrap();
    for target in [dir.path().to_path_buf(), dir.path().join(name)] {
        let out = socratic(home.path(), &["traces", "import", target.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        let rejected: Vec<&str> = stderr.lines().filter(|l| l.starts_with("rejected:")).collect();
        assert_eq!(rejected.len(), 1, "one line for the one file:\n{stderr}");
        assert!(rejected[0].contains("bad\\nrejected: forged.json: not JSON"), "the name, escaped: {stderr}");
        assert!(!stderr.lines().any(|l| l.starts_with("rejected: forged")), "{stderr}");
    }
}
