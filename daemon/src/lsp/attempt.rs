//! Editor attempts as traces.
//!
//! In: a task and the scratch checkout of its bugged tree (`engine::checkout`, made by
//! [`super::attempt_run`]), then what happens in the editor between `socratic.startAttempt` and
//! `socratic.finishAttempt` (documents opened and changed under the checkout, saves, test runs,
//! commands / messages the editor reports), and the grading. Out: a redacted [`Trace`] (source
//! `Editor`, final patch = the checkout's working tree against its bugged commit, label = the
//! grading's) ready for `Store::insert_records`; the lines a bug patch changed
//! ([`mutated_lines`], [`changed_old_lines`]). No LSP types, no IO but [`working_tree_diff`].

use super::protocol::{EditorEvent, EditorEventKind};
use crate::diff::git::{GitError, Repo};
use crate::diff::{LineKind, Patch};
use crate::model::{Event, Label, Record, SourceFormat, Task, TaskRef, Trace};
use crate::traces::infer;
use std::path::{Path, PathBuf};

/// Edits of one file in a row are kept in one event, up to this many characters.
const EDIT_EVENT_CHARS: usize = 4000;

/// A document open under an attempt's checkout: its text, so edits can be recorded (it is
/// never indexed and shows no task diagnostics: the bug is what the user looks for).
#[derive(Debug, Clone)]
pub struct AttemptDoc {
    pub attempt: String,
    /// Relative to the checkout.
    pub rel: String,
    pub text: String,
}

/// A running attempt.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// `<task id>-<n>`: unique in the home (the folder under `<home>/attempts/`).
    pub id: String,
    pub task: Task,
    /// The scratch checkout of the bugged tree (canonical).
    pub root: PathBuf,
    pub started_at: String,
    pub events: Vec<Event>,
    /// The test files whose diagnostics the last test run published (relative to `root`).
    pub test_files: Vec<String>,
}

impl Attempt {
    pub fn start(id: &str, task: Task, root: &Path) -> Attempt {
        Attempt {
            id: id.to_string(),
            task,
            root: root.to_path_buf(),
            started_at: chrono::Utc::now().to_rfc3339(),
            events: Vec::new(),
            test_files: Vec::new(),
        }
    }

    /// The path of `path` relative to the checkout, `/` separated, when it is inside it.
    pub fn relative(&self, path: &Path) -> Option<String> {
        let rel = path.strip_prefix(&self.root).ok()?;
        let parts: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
        (!parts.is_empty()).then(|| parts.join("/"))
    }

    pub fn opened(&mut self, rel: &str) {
        self.events.push(Event::Message { role: "editor".into(), text: format!("opened {rel}") });
    }

    /// One document change: `removed` bytes at `line` replaced by `text`.
    pub fn edited(&mut self, rel: &str, line: u32, removed: usize, text: &str) {
        let note = format!("@{}: -{} bytes +{:?}", line + 1, removed, text);
        if let Some(Event::Edit { path: Some(p), diff }) = self.events.last_mut() {
            if p == rel && diff.len() + note.len() < EDIT_EVENT_CHARS {
                diff.push('\n');
                diff.push_str(&note);
                return;
            }
        }
        self.events.push(Event::Edit { path: Some(rel.to_string()), diff: note });
    }

    pub fn saved(&mut self, rel: &str) {
        self.events.push(Event::Message { role: "editor".into(), text: format!("saved {rel}") });
    }

    /// Record an editor event; a missing field is an error.
    pub fn record(&mut self, e: EditorEvent) -> Result<(), String> {
        let event = match e.kind {
            EditorEventKind::Command | EditorEventKind::TestRun => {
                let command = e.command.ok_or("a command event needs `command`")?;
                let output = e.output.unwrap_or_default();
                match infer::command_event(&command, e.exit_code, &output) {
                    Event::Command { command, exit_code, output } if e.kind == EditorEventKind::TestRun => {
                        Event::TestRun { statuses: infer::parse_test_output(&output), command, exit_code, output }
                    }
                    ev => ev,
                }
            }
            EditorEventKind::Message => {
                Event::Message { role: "user".into(), text: e.text.ok_or("a message event needs `text`")? }
            }
        };
        self.events.push(event);
        Ok(())
    }

    /// The trace of this attempt with `final_patch` and the grading's `label`, redacted, with
    /// its id.
    pub fn finish(mut self, final_patch: Option<String>, label: Label) -> Record {
        self.events.push(Event::Submit { note: Some("finished in the editor".into()) });
        let trace = Trace {
            id: String::new(),
            source: SourceFormat::Editor,
            format_version: None,
            task: TaskRef {
                instance_id: Some(self.task.id.clone()),
                repo: Some(self.task.repo.clone()),
                base_commit: Some(self.task.base_commit.clone()),
                problem_statement: Some(self.task.problem_statement.clone()),
            },
            model: None,
            events: self.events,
            final_patch,
            label,
            cost_usd: None,
            started_at: Some(self.started_at),
            ended_at: Some(chrono::Utc::now().to_rfc3339()),
            origin: format!("editor:{}:{}", self.task.id, self.id),
            messages: Vec::new(),
        };
        match crate::redact::redact_record(Record::Trace(trace)) {
            Record::Trace(mut t) => {
                t.id = t.compute_id();
                Record::Trace(t)
            }
            other => other,
        }
    }
}

/// The working tree (index and untracked files included) against HEAD, as a unified diff;
/// `None` when nothing changed.
pub fn working_tree_diff(root: &Path) -> Result<Option<String>, GitError> {
    let text = Repo::open(root)?.working_tree_diff()?;
    Ok(if text.trim().is_empty() { None } else { Some(text) })
}

/// The 0-based first and last lines of `file` that `patch` wrote (its new side): the added
/// lines, or the line where lines were deleted; `None` when the patch does not touch `file`.
pub fn mutated_lines(patch: &str, file: &str) -> Option<(u32, u32)> {
    let parsed = Patch::parse(patch).ok()?;
    let mut lines = Vec::new();
    for f in parsed.files.iter().filter(|f| f.new_path().as_deref() == Some(file)) {
        for hunk in &f.hunks {
            let mut new_line = hunk.new.start.max(1);
            for line in &hunk.lines {
                match line.kind {
                    LineKind::Added => {
                        lines.push(new_line);
                        new_line += 1;
                    }
                    LineKind::Removed => lines.push(new_line),
                    LineKind::Context | LineKind::BlankContext => new_line += 1,
                }
            }
        }
    }
    Some((lines.iter().min()? - 1, lines.iter().max()? - 1))
}

/// The 0-based first and last lines of `file` that `patch` changes on its old side (the clean
/// tree): where a task's bug goes.
pub fn changed_old_lines(patch: &str, file: &str) -> Option<(u32, u32)> {
    let lines = Patch::parse(patch).ok()?.changed_old_lines().remove(file)?;
    Some((lines.first()?.saturating_sub(1), lines.last()?.saturating_sub(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATCH: &str = "--- a/pkg/m.py\n+++ b/pkg/m.py\n@@ -10,4 +10,4 @@ def f(x):\n     a = 1\n-    if x < 3:\n+    if x <= 3:\n         return a\n     return 0\n";

    #[test]
    fn the_mutated_lines_are_the_lines_the_bug_wrote() {
        assert_eq!(mutated_lines(PATCH, "pkg/m.py"), Some((10, 10)));
        assert_eq!(changed_old_lines(PATCH, "pkg/m.py"), Some((10, 10)));
        assert_eq!(mutated_lines(PATCH, "other.py"), None);
        assert_eq!(mutated_lines("not a patch", "pkg/m.py"), None);
        let deletion = "--- a/m.py\n+++ b/m.py\n@@ -1,3 +1,2 @@\n a\n-b\n c\n";
        assert_eq!(mutated_lines(deletion, "m.py"), Some((1, 1)));
        let two = "--- a/m.py\n+++ b/m.py\n@@ -1,4 +1,4 @@\n a\n-b\n-c\n+B\n+C\n d\n";
        assert_eq!(mutated_lines(two, "m.py"), Some((1, 2)));
        assert_eq!(changed_old_lines(two, "m.py"), Some((1, 2)));
    }

    #[test]
    fn a_finished_attempt_is_an_editor_trace_with_the_gradings_label() {
        let task = crate::model::test_support::task("t-1", "flip_comparison", crate::model::TaskStage::Valid);
        let mut a = Attempt::start("t-1-1", task, Path::new("/scratch/t-1-1/repo"));
        assert_eq!(a.relative(Path::new("/scratch/t-1-1/repo/pkg/m.py")).as_deref(), Some("pkg/m.py"));
        assert_eq!(a.relative(Path::new("/elsewhere/m.py")), None);
        a.opened("pkg/m.py");
        a.edited("pkg/m.py", 10, 1, "<");
        a.saved("pkg/m.py");
        let label = Label::inferred(crate::model::Outcome::Resolved, None, "graded");
        let Record::Trace(t) = a.finish(Some(PATCH.into()), label) else { panic!("a trace") };
        assert_eq!((t.source, t.label.outcome), (SourceFormat::Editor, crate::model::Outcome::Resolved));
        assert_eq!(t.origin, "editor:t-1:t-1-1");
        assert_eq!(t.events.len(), 4);
        assert!(!t.id.is_empty());
    }
}
