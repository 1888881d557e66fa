//! Failure classification: why one Solver attempt failed, with the events that show it.
//!
//! In: a [`Trace`], its effective [`Label`] and, when the store has the instance, the gold patch.
//! Out: `None` for a resolved (or not yet judged) attempt, else a [`Classified`] list of
//! [`Finding`]s (a [`FailureMode`] and the indexes of the events that show it), the primary mode
//! first. Modes: no / empty patch, patch does not apply, wrong location (files or functions
//! disjoint from the gold patch's), F2P still failing, regression, limits (cost, steps, time,
//! context), loops (≥ 3 identical commands), format errors, agent errors. Pure.

use super::touched;
use crate::model::{Event, FailureReason, Label, Outcome, Trace};
use serde::Serialize;
use std::collections::BTreeMap;

/// Why an attempt failed (the skills stage's refinement of [`FailureReason`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureMode {
    CostLimit,
    StepLimit,
    TimeLimit,
    ContextLimit,
    FormatError,
    Loop,
    NoPatch,
    PatchDoesNotApply,
    WrongLocation,
    Regression,
    FailToPassStillFailing,
    AgentError,
    Unspecified,
}

impl FailureMode {
    pub fn name(self) -> &'static str {
        match self {
            FailureMode::CostLimit => "cost-limit",
            FailureMode::StepLimit => "step-limit",
            FailureMode::TimeLimit => "time-limit",
            FailureMode::ContextLimit => "context-limit",
            FailureMode::FormatError => "format-error",
            FailureMode::Loop => "loop",
            FailureMode::NoPatch => "no-patch",
            FailureMode::PatchDoesNotApply => "patch-does-not-apply",
            FailureMode::WrongLocation => "wrong-location",
            FailureMode::Regression => "regression",
            FailureMode::FailToPassStillFailing => "fail-to-pass-still-failing",
            FailureMode::AgentError => "agent-error",
            FailureMode::Unspecified => "unspecified",
        }
    }

    /// What the Solver should do instead.
    pub fn advice(self) -> &'static str {
        match self {
            FailureMode::CostLimit | FailureMode::StepLimit | FailureMode::TimeLimit => {
                "locate the faulty code early (search for the failing test's target), edit, run the failing test, and submit before the budget runs out"
            }
            FailureMode::ContextLimit => "read files in ranges and keep command output short instead of printing whole files",
            FailureMode::FormatError => "answer in exactly the format the harness expects (one action per turn)",
            FailureMode::Loop => "when a command gives the same result twice, change approach instead of repeating it",
            FailureMode::NoPatch => "always leave an edit in the repository before submitting; an empty patch never passes",
            FailureMode::PatchDoesNotApply => "edit files in place with the editing tool and check `git diff` before submitting",
            FailureMode::WrongLocation => "trace the failing behaviour to the function that computes it before editing; do not patch callers or tests",
            FailureMode::Regression => "run the existing tests of the module you changed; keep behaviour the other tests rely on",
            FailureMode::FailToPassStillFailing => "reproduce the bug with a test first and rerun it after the edit until it passes",
            FailureMode::AgentError => "recover from tool errors instead of stopping",
            FailureMode::Unspecified => "verify the fix against a reproduction before submitting",
        }
    }
}

/// One reason with its evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub mode: FailureMode,
    /// Indexes into `trace.events` that show it (empty when only the label says so).
    pub events: Vec<usize>,
    pub detail: String,
}

/// Every reason found, the primary first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Classified {
    pub findings: Vec<Finding>,
}

impl Classified {
    pub fn primary(&self) -> FailureMode {
        self.findings.first().map_or(FailureMode::Unspecified, |f| f.mode)
    }
}

/// Is the attempt judged and not resolved?
pub fn is_failure(label: &Label) -> Option<bool> {
    match label.outcome {
        Outcome::Resolved => Some(false),
        Outcome::Unknown => None,
        _ => Some(true),
    }
}

fn event_text(e: &Event) -> String {
    match e {
        Event::Command { command, output, .. } => format!("{command}\n{output}"),
        Event::TestRun { command, output, .. } => format!("{command}\n{output}"),
        Event::Message { text, .. } => text.clone(),
        Event::Submit { note } => note.clone().unwrap_or_default(),
        Event::Edit { .. } => String::new(),
    }
}

/// Phrases that mark a limit or a format error in messages, submit notes and exit statuses.
const MARKERS: &[(FailureMode, &[&str])] = &[
    (FailureMode::CostLimit, &["exit_cost", "cost limit", "costlimit", "budget exceeded"]),
    (
        FailureMode::ContextLimit,
        &["exit_context", "context window", "context length", "contextwindowexceeded", "maximum context"],
    ),
    (
        FailureMode::StepLimit,
        &[
            "exit_step",
            "step limit",
            "max_iterations",
            "maximum number of iterations",
            "steps limit",
            "limitsexceeded",
            "max steps",
        ],
    ),
    (FailureMode::TimeLimit, &["exit_time", "timed out", "timeout exceeded", "time limit"]),
    (
        FailureMode::FormatError,
        &[
            "exit_format",
            "format error",
            "formaterror",
            "did not include a",
            "malformed",
            "your output was not formatted",
        ],
    ),
];

fn from_reason(r: FailureReason) -> FailureMode {
    match r {
        FailureReason::EmptyPatch => FailureMode::NoPatch,
        FailureReason::MaxIterations => FailureMode::StepLimit,
        FailureReason::CostLimit => FailureMode::CostLimit,
        FailureReason::ContextLimit => FailureMode::ContextLimit,
        FailureReason::TimeLimit => FailureMode::TimeLimit,
        FailureReason::PatchDoesNotApply => FailureMode::PatchDoesNotApply,
        FailureReason::FailToPassStillFailing => FailureMode::FailToPassStillFailing,
        FailureReason::Regression => FailureMode::Regression,
        FailureReason::AgentError => FailureMode::AgentError,
        FailureReason::FormatError => FailureMode::FormatError,
        FailureReason::Unspecified => FailureMode::Unspecified,
    }
}

/// Indexes of commands repeated identically at least three times (whitespace-normalised).
pub fn loops(events: &[Event]) -> Vec<usize> {
    let mut seen: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, e) in events.iter().enumerate() {
        let cmd = match e {
            Event::Command { command, .. } | Event::TestRun { command, .. } => command,
            _ => continue,
        };
        let key: String = cmd.split_whitespace().collect::<Vec<_>>().join(" ");
        if !key.is_empty() {
            seen.entry(key).or_default().push(i);
        }
    }
    let mut out: Vec<usize> = seen.into_values().filter(|v| v.len() >= 3).flatten().collect();
    out.sort_unstable();
    out
}

/// Is the trace's patch disjoint from the gold patch, by file, else by function?
pub fn wrong_location(patch: &str, gold: &str) -> Option<String> {
    let (pf, gf) = (touched::files(patch), touched::files(gold));
    if pf.is_empty() || gf.is_empty() {
        return None;
    }
    if pf.is_disjoint(&gf) {
        let show = |s: &std::collections::BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join(", ");
        return Some(format!("edited {} but the fix is in {}", show(&pf), show(&gf)));
    }
    let (pfn, gfn) = (touched::functions(patch), touched::functions(gold));
    if !pfn.is_empty() && !gfn.is_empty() && pfn.is_disjoint(&gfn) {
        let show = |s: &std::collections::BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join(", ");
        return Some(format!("edited {} but the fix is in {}", show(&pfn), show(&gfn)));
    }
    None
}

/// Classify one attempt. `None` when it was resolved or no outcome is known.
pub fn classify(trace: &Trace, gold: Option<&str>, label: &Label) -> Option<Classified> {
    if is_failure(label) != Some(true) {
        return None;
    }
    let mut findings: Vec<Finding> = Vec::new();
    let add = |findings: &mut Vec<Finding>, mode: FailureMode, events: Vec<usize>, detail: String| {
        if let Some(f) = findings.iter_mut().find(|f| f.mode == mode) {
            f.events.extend(events);
            f.events.sort_unstable();
            f.events.dedup();
        } else {
            findings.push(Finding { mode, events, detail });
        }
    };
    // Limits and format errors, from the events' own words.
    for (mode, words) in MARKERS {
        let hits: Vec<usize> = trace
            .events
            .iter()
            .enumerate()
            .filter(|(_, e)| !matches!(e, Event::Edit { .. }))
            .filter(|(_, e)| {
                let t = event_text(e).to_lowercase();
                // Only the tail of long outputs: a limit notice comes last.
                let tail = t.get(t.len().saturating_sub(2000)..).unwrap_or(&t);
                words.iter().any(|w| tail.contains(w))
            })
            .map(|(i, _)| i)
            .collect();
        if !hits.is_empty() {
            add(&mut findings, *mode, hits, format!("{} mentioned by the trace", mode.name()));
        }
    }
    if let Some(r) = label.failure.map(from_reason).filter(|m| *m != FailureMode::Unspecified) {
        add(&mut findings, r, Vec::new(), label.reason.clone());
    }
    let lower_reason = label.reason.to_lowercase();
    for (mode, words) in MARKERS {
        if words.iter().any(|w| lower_reason.contains(w)) {
            add(&mut findings, *mode, Vec::new(), label.reason.clone());
        }
    }
    let repeated = loops(&trace.events);
    if !repeated.is_empty() {
        add(&mut findings, FailureMode::Loop, repeated, "the same command ran at least 3 times".into());
    }
    // The submission, else the last event: where the attempt ended without a patch.
    let last_submit = trace
        .events
        .iter()
        .rposition(|e| matches!(e, Event::Submit { .. }))
        .or_else(|| trace.events.len().checked_sub(1));
    if !trace.has_patch() {
        add(
            &mut findings,
            FailureMode::NoPatch,
            last_submit.into_iter().collect(),
            "no patch or an empty patch".into(),
        );
    } else if let (Some(patch), Some(gold)) = (trace.final_patch.as_deref(), gold) {
        if let Some(detail) = wrong_location(patch, gold) {
            let edits: Vec<usize> = trace
                .events
                .iter()
                .enumerate()
                .filter(|(_, e)| matches!(e, Event::Edit { .. }))
                .map(|(i, _)| i)
                .collect();
            add(&mut findings, FailureMode::WrongLocation, edits, detail);
        }
    }
    // Failing tests in the last test run, when the trace recorded statuses.
    if let Some((i, failing)) = trace.events.iter().enumerate().rev().find_map(|(i, e)| match e {
        Event::TestRun { statuses, .. } if !statuses.is_empty() => Some((
            i,
            statuses
                .values()
                .filter(|s| matches!(s, crate::model::TestStatus::Failed | crate::model::TestStatus::Error))
                .count(),
        )),
        _ => None,
    }) {
        if failing > 0 && label.failure.is_none() {
            add(
                &mut findings,
                FailureMode::FailToPassStillFailing,
                vec![i],
                format!("{failing} tests failing in the last test run"),
            );
        }
    }
    if label.outcome == Outcome::Error {
        add(&mut findings, FailureMode::AgentError, Vec::new(), label.reason.clone());
    }
    if findings.is_empty() {
        add(&mut findings, FailureMode::Unspecified, Vec::new(), label.reason.clone());
    }
    findings.sort_by_key(|f| f.mode);
    Some(Classified { findings })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{SourceFormat, TaskRef};

    fn trace(events: Vec<Event>, patch: Option<&str>) -> Trace {
        Trace {
            id: "tr-x".into(),
            source: SourceFormat::SweAgent,
            format_version: None,
            task: TaskRef::default(),
            model: None,
            events,
            final_patch: patch.map(str::to_string),
            label: Label::inferred(Outcome::Unresolved, None, "x"),
            cost_usd: None,
            started_at: None,
            ended_at: None,
            origin: "t".into(),
            messages: Vec::new(),
        }
    }

    fn cmd(c: &str) -> Event {
        Event::Command { command: c.into(), exit_code: Some(0), output: String::new() }
    }

    /// The primary mode and its evidence.
    fn check(t: &Trace, gold: Option<&str>, label: Label, expect: Option<(FailureMode, &[usize])>) {
        let got = classify(t, gold, &label);
        let got = got.as_ref().map(|c| (c.primary(), c.findings[0].events.as_slice()));
        assert_eq!(got, expect, "{:?}", classify(t, gold, &label));
    }

    const PATCH: &str = "diff --git a/pkg/a.py b/pkg/a.py\n--- a/pkg/a.py\n+++ b/pkg/a.py\n@@ -1,2 +1,2 @@\n def f(x):\n-    return x\n+    return x + 1\n";
    const GOLD_OTHER_FILE: &str = "diff --git a/pkg/b.py b/pkg/b.py\n--- a/pkg/b.py\n+++ b/pkg/b.py\n@@ -1,2 +1,2 @@\n def g(x):\n-    return x\n+    return -x\n";
    const GOLD_OTHER_FN: &str = "diff --git a/pkg/a.py b/pkg/a.py\n--- a/pkg/a.py\n+++ b/pkg/a.py\n@@ -8,2 +8,2 @@\n def h(x):\n-    return x\n+    return -x\n";

    #[test]
    fn resolved_and_unknown_are_not_failures() {
        check(&trace(vec![], Some(PATCH)), None, Label::inferred(Outcome::Resolved, None, "ok"), None);
        check(&trace(vec![], Some(PATCH)), None, Label::inferred(Outcome::Unknown, None, "?"), None);
    }

    #[test]
    fn no_patch_points_at_submit() {
        let t = trace(vec![cmd("ls"), Event::Submit { note: None }], Some("  "));
        check(
            &t,
            None,
            Label::inferred(Outcome::NoPatch, Some(FailureReason::EmptyPatch), "empty"),
            Some((FailureMode::NoPatch, &[1])),
        );
        let t = trace(vec![cmd("ls"), cmd("cat a.py")], None);
        check(&t, None, Label::inferred(Outcome::NoPatch, None, "none"), Some((FailureMode::NoPatch, &[1])));
        check(
            &trace(vec![], None),
            None,
            Label::inferred(Outcome::NoPatch, None, "none"),
            Some((FailureMode::NoPatch, &[])),
        );
    }

    #[test]
    fn limits_from_events_and_labels() {
        let t = trace(vec![cmd("ls"), Event::Submit { note: Some("exit_cost".into()) }], None);
        check(&t, None, Label::inferred(Outcome::Unresolved, None, "x"), Some((FailureMode::CostLimit, &[1])));
        let t = trace(vec![cmd("ls")], Some(PATCH));
        check(
            &t,
            None,
            Label::inferred(Outcome::Unresolved, Some(FailureReason::ContextLimit), "context"),
            Some((FailureMode::ContextLimit, &[])),
        );
        check(
            &t,
            None,
            Label::inferred(Outcome::Unresolved, Some(FailureReason::MaxIterations), "steps"),
            Some((FailureMode::StepLimit, &[])),
        );
        check(
            &t,
            None,
            Label::inferred(Outcome::Unresolved, Some(FailureReason::TimeLimit), "t"),
            Some((FailureMode::TimeLimit, &[])),
        );
    }

    #[test]
    fn loops_and_format_errors() {
        let t = trace(vec![cmd("pytest -x"), cmd("cat a.py"), cmd("pytest  -x"), cmd("pytest -x")], Some(PATCH));
        check(&t, None, Label::inferred(Outcome::Unresolved, None, "x"), Some((FailureMode::Loop, &[0, 2, 3])));
        let t = trace(
            vec![Event::Message {
                role: "user".into(),
                text: "Format error: your output did not include a command".into(),
            }],
            Some(PATCH),
        );
        check(&t, None, Label::inferred(Outcome::Unresolved, None, "x"), Some((FailureMode::FormatError, &[0])));
    }

    #[test]
    fn wrong_location_by_file_and_function() {
        let t = trace(vec![Event::Edit { path: Some("pkg/a.py".into()), diff: "x".into() }], Some(PATCH));
        check(
            &t,
            Some(GOLD_OTHER_FILE),
            Label::inferred(Outcome::Unresolved, None, "x"),
            Some((FailureMode::WrongLocation, &[0])),
        );
        check(
            &t,
            Some(GOLD_OTHER_FN),
            Label::inferred(Outcome::Unresolved, None, "x"),
            Some((FailureMode::WrongLocation, &[0])),
        );
        check(&t, Some(PATCH), Label::inferred(Outcome::Unresolved, None, "x"), Some((FailureMode::Unspecified, &[])));
    }

    #[test]
    fn report_reasons() {
        let t = trace(vec![], Some(PATCH));
        check(
            &t,
            None,
            Label::inferred(Outcome::Unresolved, Some(FailureReason::Regression), "r"),
            Some((FailureMode::Regression, &[])),
        );
        check(
            &t,
            None,
            Label::inferred(Outcome::Unresolved, Some(FailureReason::FailToPassStillFailing), "r"),
            Some((FailureMode::FailToPassStillFailing, &[])),
        );
        check(
            &t,
            None,
            Label::inferred(Outcome::Unresolved, Some(FailureReason::PatchDoesNotApply), "r"),
            Some((FailureMode::PatchDoesNotApply, &[])),
        );
        let mut statuses = std::collections::BTreeMap::new();
        statuses.insert("t::a".to_string(), crate::model::TestStatus::Failed);
        let t = trace(
            vec![Event::TestRun { command: "pytest".into(), exit_code: Some(1), statuses, output: String::new() }],
            Some(PATCH),
        );
        check(
            &t,
            None,
            Label::inferred(Outcome::Unresolved, None, "x"),
            Some((FailureMode::FailToPassStillFailing, &[0])),
        );
    }
}
