//! Editor sessions as traces.
//!
//! In: a task, then what happens in the editor between `socratic.startAttempt` and
//! `socratic.finishAttempt` (document changes, saves, commands / test runs / messages the
//! editor reports). Out: a redacted [`Trace`] (source `Editor`, final patch = the working tree
//! against HEAD, label inferred) ready for `Store::insert_records`. No LSP types.

use super::protocol::{EditorEvent, EditorEventKind};
use crate::diff::git::{GitError, Repo};
use crate::model::{Event, Record, SourceFormat, Task, TaskRef, Trace};
use crate::traces::infer;
use std::path::{Path, PathBuf};

/// Edits of one file in a row are kept in one event, up to this many characters.
const EDIT_EVENT_CHARS: usize = 4000;

/// A running attempt.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub task: Task,
    pub root: PathBuf,
    pub started_at: String,
    pub events: Vec<Event>,
}

impl Attempt {
    pub fn start(task: Task, root: &Path) -> Attempt {
        Attempt { task, root: root.to_path_buf(), started_at: chrono::Utc::now().to_rfc3339(), events: Vec::new() }
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

    /// The trace of this attempt with `final_patch`, redacted, with its id.
    pub fn finish(mut self, final_patch: Option<String>) -> Record {
        self.events.push(Event::Submit { note: Some("finished in the editor".into()) });
        let label = infer::label(final_patch.as_deref(), None, &self.events);
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
            origin: format!("editor:{}", self.task.id),
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
