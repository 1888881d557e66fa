//! What a user reads about a task: the diagnostic message and the hover text.
//!
//! In: a task, its verdict if decided, whether its anchor is stale. Out: plain strings
//! (Markdown for the hover). No LSP types.

use crate::model::{Decision, Task, Verdict};

/// The name shown as the diagnostic code: the skill when the task came from one, else the
/// operator.
pub fn code(task: &Task) -> String {
    task.skill.clone().unwrap_or_else(|| task.operator.clone())
}

/// How a code action names a task: `t-3f9c… (flip_comparison, skill off-by-one)`.
pub fn action_label(task: &Task) -> String {
    match &task.skill {
        Some(skill) => format!("{} ({}, skill {skill})", task.id, task.operator),
        None => format!("{} ({})", task.id, task.operator),
    }
}

/// The state word shown to the user: `stale` when an edit in this document cut the site, else
/// the task's own word (its decision, a stale anchor, or its stage).
pub fn state(task: &Task, stale: bool) -> &'static str {
    if stale {
        "stale"
    } else {
        task.state_word()
    }
}

/// Tasks that deserve attention (validated and not rejected, or accepted) rather than a hint.
pub fn is_strong(task: &Task) -> bool {
    task.is_usable() || task.decision == Decision::Accepted
}

/// One line: `[state] operator in enclosing: first line of the statement`.
pub fn message(task: &Task, stale: bool) -> String {
    let first = task.problem_statement.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
    let place = if task.enclosing.is_empty() { String::new() } else { format!(" in {}", task.enclosing) };
    format!("[{}] {}{}: {}", state(task, stale), code(task), place, first)
}

/// Markdown for a hover on the site.
pub fn hover(task: &Task, verdict: Option<&Verdict>, stale: bool, score: Option<f64>) -> String {
    let mut out = format!("**socratic task** `{}` — {}\n\n", task.id, state(task, stale));
    out.push_str(&format!("- operator: `{}`\n", task.operator));
    if let Some(skill) = &task.skill {
        out.push_str(&format!("- skill: `{skill}`\n"));
    }
    if !task.enclosing.is_empty() {
        out.push_str(&format!("- in: `{}`\n", task.enclosing));
    }
    let failing: &[String] =
        verdict.map(|v| v.fail_to_pass.as_slice()).filter(|f| !f.is_empty()).unwrap_or(&task.fail_to_pass);
    if failing.is_empty() {
        out.push_str("- failing tests: not known yet (not validated)\n");
    } else {
        out.push_str(&format!("- failing tests ({}):\n", failing.len()));
        for t in failing.iter().take(10) {
            out.push_str(&format!("  - `{t}`\n"));
        }
        if failing.len() > 10 {
            out.push_str(&format!("  - … {} more\n", failing.len() - 10));
        }
    }
    match verdict {
        Some(v) => match v.rejected_at() {
            None if v.is_valid() => out.push_str("- verdict: valid\n"),
            None => out.push_str(&format!("- verdict: to run again — {}\n", v.reason)),
            Some(stage) => out.push_str(&format!("- verdict: rejected at {} — {}\n", stage.name(), v.reason)),
        },
        None => out.push_str("- verdict: none yet\n"),
    }
    if let Some(s) = score {
        out.push_str(&format!("- score: {s:.3}\n"));
    }
    out.push_str("\n---\n\n");
    out.push_str(task.problem_statement.trim());
    out.push('\n');
    out
}
