//! Supervised fine-tuning examples: what a Solver sees, and the fix it should write.
//!
//! In: a curriculum task (its problem statement, file, the anchored function as it reads in
//! the bugged tree, the failing tests' names, and its fix: the bug patch reversed by
//! `crate::diff::reverse`); or chat JSON Lines rows (`{"messages": [{role, content}, ...]}`,
//! what `socratic export --format sft` writes). Out: `ChatExample`s (system, user, assistant
//! turns), and through a chat template and a tokenizer, token ids with the prompt length (the
//! loss counts the target tokens only). Reading the bugged function is the only IO (git blobs
//! through `crate::diff::git`).

use super::template::ChatTemplate;
use super::{Result, TrainError};
use crate::diff::git::Repo;
use crate::diff::Patch;
use crate::model::Task;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The system turn of every example.
pub const SYSTEM: &str = "You are a software engineer fixing a bug in a Python repository. \
Read the problem, the code and the failing tests, then answer with the fix as a unified diff.";
/// At most this many lines of the anchored function go into the prompt.
pub const FUNCTION_LINES: usize = 120;

/// One chat turn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub role: String,
    pub content: String,
}

impl Message {
    pub fn new(role: &str, content: &str) -> Message {
        Message { role: role.into(), content: content.into() }
    }
}

/// One example: an id (the task id, or `line N` of a data file) and its turns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatExample {
    pub id: String,
    pub messages: Vec<Message>,
}

/// Token ids of prompt then target and the prompt's length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokenized {
    pub id: String,
    pub ids: Vec<u32>,
    pub prompt_len: usize,
    /// The target token ranges of a multi-turn example (`rft::tokenize`); empty: one target,
    /// `prompt_len..` to the end.
    pub spans: Vec<std::ops::Range<usize>>,
}

impl Tokenized {
    pub fn target_len(&self) -> usize {
        if self.spans.is_empty() {
            return self.ids.len() - self.prompt_len;
        }
        self.spans.iter().map(|s| s.len()).sum()
    }
}

/// The example of a task, given its fix and the anchored function's code in the bugged tree
/// (`None`: the code the fix touches, from its hunks, stands in).
pub fn task_example(task: &Task, fix: &str, function: Option<&str>) -> ChatExample {
    let statement = task.problem_statement.trim();
    let mut user = format!("Problem:\n{statement}\n\nFile: {}\n", task.site.file);
    match function {
        Some(code) => {
            let code: Vec<&str> = code.lines().take(FUNCTION_LINES).collect();
            user.push_str(&format!("\nCode of `{}`:\n```python\n{}\n```\n", task.enclosing, code.join("\n")));
        }
        None => {
            for (file, code) in crate::score::text::before_side(fix) {
                user.push_str(&format!("\nCode ({file}):\n```python\n{code}```\n"));
            }
        }
    }
    if !task.fail_to_pass.is_empty() {
        user.push_str("\nFailing tests:\n");
        for t in &task.fail_to_pass {
            user.push_str(&format!("- {t}\n"));
        }
    }
    user.push_str("\nWrite the fix as a unified diff.");
    ChatExample {
        id: task.id.clone(),
        messages: vec![Message::new("system", SYSTEM), Message::new("user", &user), Message::new("assistant", fix)],
    }
}

/// The anchored function (the task's `enclosing` definition, else the innermost one holding the
/// site) as it reads once the bug patch is applied to the file at the task's base commit.
pub fn bugged_function(repo: &Repo, task: &Task) -> Option<String> {
    let clean = repo.blob_at(&task.base_commit, &task.site.file).ok()??;
    let clean = String::from_utf8(clean).ok()?;
    let patch = Patch::parse(&task.bug_patch).ok()?;
    let file = patch.files.iter().find(|f| f.old_path().as_deref() == Some(task.site.file.as_str()))?;
    let bugged = file.apply(&clean).ok()?;
    let tree = crate::anchor::parse_python(&bugged).ok()?;
    let defs = crate::anchor::syntax::definitions(&tree, &bugged);
    let line = task.site.start_line;
    let def = defs
        .iter()
        .find(|d| d.name == task.enclosing)
        .or_else(|| defs.iter().rfind(|d| d.start_line <= line && line <= d.end_line))?;
    bugged.get(def.start_byte..def.end_byte).map(str::to_string)
}

/// Read chat JSON Lines: every non-blank line one object with `messages`; roles system / user /
/// assistant, the last one the assistant's. Errors name the file and line.
pub fn read_jsonl(path: &Path) -> Result<Vec<ChatExample>> {
    let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
    #[derive(Deserialize)]
    struct Row {
        id: Option<String>,
        messages: Vec<Message>,
    }
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = |m: String| TrainError::Input(format!("{}:{}: {m}", path.display(), i + 1));
        let row: Row =
            serde_json::from_str(line).map_err(|e| at(format!("not a chat row ({{\"messages\": [...]}}): {e}")))?;
        if let Some(bad) = row.messages.iter().find(|m| !["system", "user", "assistant"].contains(&m.role.as_str())) {
            return Err(at(format!("unknown role '{}' (system, user, assistant)", bad.role)));
        }
        if row.messages.last().is_none_or(|m| m.role != "assistant") {
            return Err(at("the last message must be the assistant's (the target)".into()));
        }
        out.push(ChatExample { id: row.id.unwrap_or_else(|| format!("line {}", i + 1)), messages: row.messages });
    }
    if out.is_empty() {
        return Err(TrainError::Input(format!("{}: no examples", path.display())));
    }
    Ok(out)
}

/// Tokenize an example: template split, prompt and target encoded apart (no added special
/// tokens: the template holds them), truncated to `max_len` (the prompt keeps its end, the
/// target its start).
pub fn tokenize(
    example: &ChatExample,
    template: &ChatTemplate,
    tokenizer: &tokenizers::Tokenizer,
    max_len: usize,
) -> Result<Tokenized> {
    let (prompt, target) = template.split(&example.messages)?;
    let enc = |s: &str| -> Result<Vec<u32>> {
        Ok(tokenizer.encode(s, false).map_err(|e| TrainError::Input(format!("tokenizer: {e}")))?.get_ids().to_vec())
    };
    let (p, t) = (enc(&prompt)?, enc(&target)?);
    let (ids, prompt_len) = crate::score::truncate(p, t, max_len)
        .map_err(|_| TrainError::Input(format!("example {}: empty prompt or target", example.id)))?;
    Ok(Tokenized { id: example.id.clone(), ids, prompt_len, spans: Vec::new() })
}
