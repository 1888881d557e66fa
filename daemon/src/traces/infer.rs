//! Shared inference for importers: an outcome label from what a trace itself shows (patch,
//! exit status, last test run), and recognising test commands and their results.
//!
//! In: a patch, an exit-status string, the events. Out: an inferred `Label`, or `Event`s.

use crate::model::{Event, FailureReason, Label, Outcome, TestStatus};
use std::collections::BTreeMap;

/// Failure reason named by an exit status or error text, if any
/// (`exit_cost`, `Agent reached maximum iteration`, `context window`, ...).
pub fn limit_reason(status: &str) -> Option<FailureReason> {
    let s = status.to_ascii_lowercase();
    if s.contains("cost") || s.contains("budget") {
        Some(FailureReason::CostLimit)
    } else if s.contains("context") || s.contains("token limit") || s.contains("too long") {
        Some(FailureReason::ContextLimit)
    } else if s.contains("iteration") || s.contains("step") || s.contains("max_turns") || s.contains("limitsexceeded") {
        Some(FailureReason::MaxIterations)
    } else if s.contains("timeout") || s.contains("time limit") || s.contains("timed out") {
        Some(FailureReason::TimeLimit)
    } else if s.contains("format") {
        Some(FailureReason::FormatError)
    } else if s.contains("error") || s.contains("exception") || s.contains("crash") {
        Some(FailureReason::AgentError)
    } else {
        None
    }
}

/// The inferred label of a trace with no evaluation report.
///
/// Order of evidence: no patch → `no-patch`; a limit or error in the exit status → unresolved
/// (or error) with that reason; the last test run failing → unresolved; passing → resolved;
/// otherwise unknown.
pub fn label(patch: Option<&str>, exit_status: Option<&str>, events: &[Event]) -> Label {
    let status = exit_status.unwrap_or("");
    let has_patch = patch.is_some_and(|p| !p.trim().is_empty());
    let limit = limit_reason(status);
    if !has_patch {
        let why = if status.is_empty() {
            "no patch submitted".to_string()
        } else {
            format!("no patch submitted (exit status: {status})")
        };
        return Label::inferred(Outcome::NoPatch, Some(FailureReason::EmptyPatch), why);
    }
    if let Some(reason) = limit {
        let outcome = if reason == FailureReason::AgentError { Outcome::Error } else { Outcome::Unresolved };
        return Label::inferred(outcome, Some(reason), format!("exit status: {status}"));
    }
    match last_test_run(events) {
        Some(false) => Label::inferred(
            Outcome::Unresolved,
            Some(FailureReason::FailToPassStillFailing),
            "the last test run in the trace failed",
        ),
        Some(true) => Label::inferred(Outcome::Resolved, None, "the last test run in the trace passed"),
        None => Label::inferred(
            Outcome::Unknown,
            None,
            if status.is_empty() {
                "patch submitted; no report".to_string()
            } else {
                format!("patch submitted (exit status: {status}); no report")
            },
        ),
    }
}

/// Whether the last test run passed, if the trace has one with a known result.
fn last_test_run(events: &[Event]) -> Option<bool> {
    events.iter().rev().find_map(|e| match e {
        Event::TestRun { exit_code, statuses, .. } => {
            if !statuses.is_empty() {
                Some(
                    statuses
                        .values()
                        .all(|s| matches!(s, TestStatus::Passed | TestStatus::Skipped | TestStatus::XFail)),
                )
            } else {
                exit_code.map(|c| c == 0)
            }
        }
        _ => None,
    })
}

/// True when a shell command runs tests (pytest, unittest, tox, nox, Django's runtests, ...).
pub fn is_test_command(command: &str) -> bool {
    static TEST: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(?:^|[;&|(]|&&)\s*(?:\w+=\S*\s+)*(?:(?:timeout\s+\d+\s+)?\S*python[\d.]*\s+(?:-\S+\s+(?:[^-\s]\S*\s+)?)*)?(?:\S*/)?(?:pytest|py\.test|tox|nox|runtests\.py|manage\.py\s+test|-m\s+(?:pytest|unittest)|npm\s+test|cargo\s+test|go\s+test)\b").unwrap()
    });
    TEST.is_match(command)
}

/// Per-test statuses from pytest output: `-rA`/`-v` lines (`PASSED path::test`,
/// `path::test FAILED`) and unittest `test (mod.Class) ... ok` lines.
pub fn parse_test_output(output: &str) -> BTreeMap<String, TestStatus> {
    static LINE: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"(?m)^(?:(PASSED|FAILED|ERROR|SKIPPED|XFAIL) (\S+::\S+)|(\S+::\S+) (PASSED|FAILED|ERROR|SKIPPED|XFAIL)\b|(\w+ \([\w.]+\)) \.\.\. (ok|FAIL|ERROR|skipped))").unwrap()
    });
    let mut out = BTreeMap::new();
    for c in LINE.captures_iter(output) {
        let (name, status) = match (c.get(1), c.get(2), c.get(3), c.get(4), c.get(5), c.get(6)) {
            (Some(s), Some(n), ..) | (_, _, Some(n), Some(s), ..) => (n.as_str(), s.as_str()),
            (.., Some(n), Some(s)) => (n.as_str(), s.as_str()),
            _ => continue,
        };
        let status = match status {
            "PASSED" | "ok" => TestStatus::Passed,
            "FAILED" | "FAIL" => TestStatus::Failed,
            "ERROR" => TestStatus::Error,
            "SKIPPED" | "skipped" => TestStatus::Skipped,
            _ => TestStatus::XFail,
        };
        out.insert(name.to_string(), status);
    }
    out
}

/// A command event, or a test-run event when the command runs tests.
pub fn command_event(command: &str, exit_code: Option<i32>, output: &str) -> Event {
    if is_test_command(command) {
        Event::TestRun {
            command: command.to_string(),
            exit_code,
            statuses: parse_test_output(output),
            output: excerpt(output),
        }
    } else {
        Event::Command { command: command.to_string(), exit_code, output: excerpt(output) }
    }
}

/// The first user message of a trace: the task as the Solver was given it.
pub fn first_user_message(events: &[Event]) -> Option<String> {
    events.iter().find_map(|e| match e {
        Event::Message { role, text } if role == "user" => Some(text.clone()),
        _ => None,
    })
}

/// Outputs are stored as excerpts: the head and tail of long outputs.
pub const OUTPUT_EXCERPT_CHARS: usize = 4000;

/// The first and last parts of a long text, joined by a marker.
pub fn excerpt(text: &str) -> String {
    let n = text.chars().count();
    if n <= OUTPUT_EXCERPT_CHARS {
        return text.to_string();
    }
    let half = OUTPUT_EXCERPT_CHARS / 2;
    let head: String = text.chars().take(half).collect();
    let tail: String = text.chars().skip(n - half).collect();
    format!("{head}\n[... {} characters omitted ...]\n{tail}", n - 2 * half)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_in_order_of_evidence() {
        assert_eq!(label(None, Some("submitted"), &[]).outcome, Outcome::NoPatch);
        assert_eq!(label(Some(" "), None, &[]).failure, Some(FailureReason::EmptyPatch));
        let l = label(Some("diff"), Some("submitted (exit_cost)"), &[]);
        assert_eq!((l.outcome, l.failure), (Outcome::Unresolved, Some(FailureReason::CostLimit)));
        let l = label(Some("diff"), Some("Agent reached maximum iteration"), &[]);
        assert_eq!(l.failure, Some(FailureReason::MaxIterations));
        let failing = command_event("python -m pytest tests", Some(1), "FAILED tests/a.py::t - boom");
        assert_eq!(label(Some("diff"), Some("submitted"), &[failing]).outcome, Outcome::Unresolved);
        let passing = command_event("pytest", Some(0), "PASSED tests/a.py::t");
        let l = label(Some("diff"), Some("submitted"), &[passing]);
        assert!(l.inferred && l.outcome == Outcome::Resolved);
        assert_eq!(label(Some("diff"), Some("submitted"), &[]).outcome, Outcome::Unknown);
    }

    #[test]
    fn test_commands_are_recognised_by_what_runs() {
        for yes in [
            "pytest -x tests",
            "python -m pytest tests/a.py",
            "cd /repo && python tests/runtests.py utils",
            "PYTHONPATH=. pytest",
            "python3 -W ignore -m unittest",
            "timeout 60 python -m pytest",
            "tox -e py311",
        ] {
            assert!(is_test_command(yes), "{yes}");
        }
        for no in ["ls tests/runtests.py", "cat pytest.ini", "grep -r pytest .", "pip install pytest"] {
            assert!(!is_test_command(no), "{no}");
        }
    }

    #[test]
    fn test_output_statuses() {
        let s = parse_test_output("PASSED a.py::x\na.py::y FAILED\ntest_z (m.C) ... ok\nnoise");
        assert_eq!(s.len(), 3);
        assert_eq!(s["a.py::y"], TestStatus::Failed);
        assert_eq!(s["test_z (m.C)"], TestStatus::Passed);
    }

    #[test]
    fn excerpt_keeps_head_and_tail() {
        let long = "a".repeat(5000) + "END";
        let e = excerpt(&long);
        assert!(e.ends_with("END") && e.contains("omitted"));
        assert_eq!(excerpt("short"), "short");
    }
}
