//! Supervised fine-tuning examples: what a Solver sees, and the fix it should write. The one
//! prompt builder for training and for the LM Solver (`crate::engine::lm_solver`), so the two
//! cannot drift.
//!
//! In: a curriculum task (its problem statement, file, the anchored function as it reads in
//! the bugged tree, the failing tests' names, and its fix: the bug patch reversed by
//! `crate::diff::reverse`), an `AnswerFormat`; or chat JSON Lines rows (`{"messages": [{role,
//! content}, ...]}`, what `socratic export --format sft` writes). Out: `ChatExample`s (system,
//! user, assistant turns), and through a chat template and a tokenizer, token ids with the
//! prompt length (the loss counts the target tokens only). Reading the bugged function is the
//! only IO (git blobs through `crate::diff::git`).
//!
//! Answer formats: `diff`, the fix as a unified diff; `line`, the function with one line marked
//! `>>>` and the answer the whole corrected line (a small model can learn that; the caller turns
//! it into a diff); `edit`, the same prompt and the answer the minimal edit of the marked line,
//! `OLD => NEW` (`LineEdit`: the smallest differing span, widened to whole Python-like tokens
//! and until it occurs once in the line, and its replacement: `< => <=`, `AttributeError =>
//! KeyError`, `None => 1`), which `apply_edit` turns back into the line. In a `line` or `edit` training
//! example the marked line is the one the fix replaces; a task whose fix is not a one-line
//! replacement has no such example (it is left out, with the reason). When solving, the marked
//! line comes from fault localisation.

use super::template::ChatTemplate;
use super::{Result, TrainError};
use crate::diff::git::Repo;
use crate::diff::{LineKind, Patch};
use crate::model::Task;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The system turn of every example.
pub const SYSTEM: &str = "You are a software engineer fixing a bug in a Python repository. \
Read the problem, the code and the failing tests, then answer with the fix as a unified diff.";
/// The system turn of every `line` example.
pub const SYSTEM_LINE: &str = "You are a software engineer fixing a bug in a Python repository. \
Read the problem, the code and the failing tests, then answer with the marked line as it should read.";
/// The system turn of every `edit` example.
pub const SYSTEM_EDIT: &str = "You are a software engineer fixing a bug in a Python repository. \
Read the problem, the code and the failing tests, then answer with the smallest edit of the marked line: OLD => NEW.";
/// Between the two sides of an `edit` answer.
pub const EDIT_SEPARATOR: &str = " => ";
/// At most this many lines of the anchored function go into the prompt.
pub const FUNCTION_LINES: usize = 120;
/// A `line` prompt shows this many lines of the function around the marked one (a small
/// model's context is short; the marked line is what it rewrites).
pub const LINE_WINDOW: usize = 12;

/// How the Solver writes its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AnswerFormat {
    /// A unified diff of the fix (or the whole rewritten function).
    Diff,
    /// The replacement text of the one marked line.
    #[default]
    Line,
    /// The minimal edit of the one marked line: `OLD => NEW`.
    Edit,
}

impl AnswerFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            AnswerFormat::Diff => "diff",
            AnswerFormat::Line => "line",
            AnswerFormat::Edit => "edit",
        }
    }

    /// Whether the prompt marks one line (fault localisation picks it when solving).
    pub fn marks_line(self) -> bool {
        matches!(self, AnswerFormat::Line | AnswerFormat::Edit)
    }

    /// A stand-in for the answer to a prompt whose marked line reads `marked`, as long as an
    /// answer usually is: the prompt is cut to make room for it as training cut it.
    pub fn stand_in(self, marked: &str) -> String {
        match self {
            AnswerFormat::Edit => {
                format!("{}{EDIT_SEPARATOR}\n", marked.split_whitespace().next().unwrap_or(""))
            }
            _ => format!("{marked}\n"),
        }
    }
}

impl std::str::FromStr for AnswerFormat {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "diff" => Ok(AnswerFormat::Diff),
            "line" => Ok(AnswerFormat::Line),
            "edit" => Ok(AnswerFormat::Edit),
            other => Err(format!("unknown answer format '{other}' (line, edit or diff)")),
        }
    }
}

/// The anchored function as the prompt shows it: its text from the `def` on, and the 1-based
/// file line of its first line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionView {
    pub code: String,
    pub start_line: u32,
}

impl FunctionView {
    /// 1-based file lines the function spans.
    pub fn lines(&self) -> std::ops::RangeInclusive<u32> {
        self.start_line..=self.start_line + self.code.lines().count().max(1) as u32 - 1
    }

    /// The text of a 1-based file line inside the function.
    pub fn line(&self, line: u32) -> Option<&str> {
        line.checked_sub(self.start_line).and_then(|i| self.code.lines().nth(i as usize))
    }
}

/// A fix that replaces exactly one line of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineFix {
    pub file: String,
    /// 1-based, in the bugged file.
    pub line: u32,
    pub old: String,
    pub new: String,
}

/// The fix as one replaced line, or why it is not one.
pub fn single_line_fix(fix: &str) -> std::result::Result<LineFix, String> {
    let patch = Patch::parse(fix).map_err(|e| format!("the fix does not parse: {e}"))?;
    let [file] = patch.files.as_slice() else {
        return Err(format!("the fix changes {} files, not one line", patch.files.len()));
    };
    let path = file.old_path().ok_or("the fix creates a file")?;
    // (old line, removed text, the added text right after it) per change run.
    let mut changes: Vec<(u32, Vec<String>, Vec<String>)> = Vec::new();
    for hunk in &file.hunks {
        let mut old_line = hunk.old.start;
        let mut in_run = false;
        for l in &hunk.lines {
            match l.kind {
                LineKind::Removed | LineKind::Added => {
                    if !in_run {
                        changes.push((old_line, Vec::new(), Vec::new()));
                        in_run = true;
                    }
                    let run = changes.last_mut().expect("a run was just started");
                    if l.kind == LineKind::Removed {
                        run.1.push(l.text.clone());
                        old_line += 1;
                    } else {
                        run.2.push(l.text.clone());
                    }
                }
                LineKind::Context | LineKind::BlankContext => {
                    old_line += 1;
                    in_run = false;
                }
            }
        }
    }
    match changes.as_slice() {
        [(line, old, new)] if old.len() == 1 && new.len() == 1 => {
            Ok(LineFix { file: path, line: *line, old: old[0].clone(), new: new[0].clone() })
        }
        [(_, old, new)] => {
            Err(format!("the fix removes {} and adds {} lines, not a one-line replacement", old.len(), new.len()))
        }
        runs => Err(format!("the fix changes {} places, not one line", runs.len())),
    }
}

/// The minimal edit of a line: the span `old` (it occurs exactly once in the line) becomes `new`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineEdit {
    pub old: String,
    pub new: String,
}

impl LineEdit {
    /// The smallest differing span of `old_line` and `new_line` (common prefix and suffix
    /// dropped), widened to whole tokens (`token_class`: a name or number, an operator such as
    /// `<=`, one bracket or punctuation character) in both lines, and to one more token when it
    /// is blank (an insertion); then a token at a time, left and right in turn, until it occurs
    /// once in `old_line` (the whole line at most). `None` when the lines are equal.
    pub fn between(old_line: &str, new_line: &str) -> Option<LineEdit> {
        if old_line == new_line {
            return None;
        }
        let (o, n): (Vec<char>, Vec<char>) = (old_line.chars().collect(), new_line.chars().collect());
        let mut p = o.iter().zip(&n).take_while(|(a, b)| a == b).count();
        let most = o.len().min(n.len()) - p;
        let mut s = o.iter().rev().zip(n.iter().rev()).take(most).take_while(|(a, b)| a == b).count();
        // Whole tokens in both lines (`p` counts from the start, `s` from the end).
        while p > 0 && !(boundary(&o, p) && boundary(&n, p)) {
            p -= 1;
        }
        while s > 0 && !(boundary(&o, o.len() - s) && boundary(&n, n.len() - s)) {
            s -= 1;
        }
        let span = |p: usize, s: usize| LineEdit {
            old: o[p..o.len() - s].iter().collect(),
            new: n[p..n.len() - s].iter().collect(),
        };
        // Then a token more: on the side where a span starts or ends with whitespace (or the
        // right side of an insertion), else left and right in turn while OLD is not unique.
        let mut left = false;
        loop {
            let edit = span(p, s);
            let (ends, starts) =
                (|t: &str| t.ends_with(char::is_whitespace), |t: &str| t.starts_with(char::is_whitespace));
            let blank = edit.old.trim().is_empty();
            let trail = s > 0 && (blank || ends(&edit.old) || ends(&edit.new));
            let lead = p > 0 && (starts(&edit.old) || starts(&edit.new));
            let ambiguous = blank || old_line.find(&edit.old) != old_line.rfind(&edit.old);
            if trail || (!lead && ambiguous && s > 0 && (!left || p == 0)) {
                s = o.len() - token_end(&o, o.len() - s);
            } else if lead || (ambiguous && p > 0) {
                p = token_start(&o, p);
            } else {
                return Some(edit);
            }
            left = !left;
        }
    }

    /// The answer text: `OLD => NEW` and a newline.
    pub fn answer(&self) -> String {
        format!("{}{EDIT_SEPARATOR}{}\n", self.old, self.new)
    }

    /// An answer's edit of `line`: its first line split at a ` => ` whose left side occurs
    /// exactly once in `line`. `None` (no change) when there is no such split.
    pub fn parse(answer: &str, line: &str) -> Option<LineEdit> {
        let first = answer.lines().next()?.trim_end_matches('\r');
        first.match_indices(EDIT_SEPARATOR).find_map(|(at, _)| {
            let (old, new) = (&first[..at], &first[at + EDIT_SEPARATOR.len()..]);
            let unique = !old.is_empty() && line.find(old).is_some() && line.find(old) == line.rfind(old);
            unique.then(|| LineEdit { old: old.into(), new: new.into() })
        })
    }

    /// `line` with the edit made (`old` must occur once in it).
    pub fn apply(&self, line: &str) -> Option<String> {
        let at = line.find(&self.old).filter(|&at| line.rfind(&self.old) == Some(at))?;
        Some(format!("{}{}{}", &line[..at], self.new, &line[at + self.old.len()..]))
    }
}

/// The class of a character for `LineEdit` tokens: 0 whitespace, 1 name or number, 2 operator;
/// every other character (brackets, punctuation, quotes) is a token alone (`None`).
fn token_class(c: char) -> Option<u8> {
    match c {
        c if c.is_whitespace() => Some(0),
        c if c.is_alphanumeric() || c == '_' => Some(1),
        '<' | '>' | '=' | '!' | '+' | '-' | '*' | '/' | '%' | '&' | '|' | '^' | '~' | '@' => Some(2),
        _ => None,
    }
}

/// Whether a token boundary lies before `chars[i]`.
fn boundary(chars: &[char], i: usize) -> bool {
    if i == 0 || i >= chars.len() {
        return true;
    }
    let (a, b) = (token_class(chars[i - 1]), token_class(chars[i]));
    a.is_none() || b.is_none() || a != b
}

/// The start of the token before `i` (whitespace before `i` skipped first).
fn token_start(chars: &[char], mut i: usize) -> usize {
    while i > 0 && chars[i - 1].is_whitespace() {
        i -= 1;
    }
    if i > 0 {
        i -= 1;
        while i > 0 && !boundary(chars, i) {
            i -= 1;
        }
    }
    i
}

/// The end of the token from `i` (whitespace from `i` skipped first).
fn token_end(chars: &[char], mut i: usize) -> usize {
    while i < chars.len() && chars[i].is_whitespace() {
        i += 1;
    }
    if i < chars.len() {
        i += 1;
        while i < chars.len() && !boundary(chars, i) {
            i += 1;
        }
    }
    i
}

/// The line an `edit` answer makes of `line`; `None` when the answer is malformed.
pub fn apply_edit(answer: &str, line: &str) -> Option<String> {
    LineEdit::parse(answer, line)?.apply(line)
}

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

/// The example of a task in an answer format, given its fix and the anchored function in the
/// bugged tree; `Err`: why the task has no example in that format.
pub fn example(
    task: &Task,
    fix: &str,
    function: Option<&FunctionView>,
    answer: AnswerFormat,
) -> std::result::Result<ChatExample, String> {
    match answer {
        AnswerFormat::Diff => Ok(task_example(task, fix, function.map(|f| f.code.as_str()))),
        AnswerFormat::Line | AnswerFormat::Edit => {
            let line_fix = single_line_fix(fix)?;
            let function = function.ok_or("the anchored function cannot be read from the bugged tree")?;
            marked_example(task, function, &line_fix, answer)
        }
    }
}

/// The `line` or `edit` example of a task whose fix replaces one line of its anchored function.
pub fn marked_example(
    task: &Task,
    function: &FunctionView,
    fix: &LineFix,
    answer: AnswerFormat,
) -> std::result::Result<ChatExample, String> {
    if answer != AnswerFormat::Edit {
        return line_example(task, function, fix);
    }
    if fix.file != task.site.file {
        return Err(format!("the fix changes {}, not the task's file {}", fix.file, task.site.file));
    }
    let edit = LineEdit::between(&fix.old, &fix.new).ok_or("the fix leaves its line as it was")?;
    let mut messages = edit_messages(task, function, fix.line)
        .ok_or_else(|| format!("the fixed line {} is outside the anchored function `{}`", fix.line, task.enclosing))?;
    messages.push(Message::new("assistant", &edit.answer()));
    Ok(ChatExample { id: task.id.clone(), messages })
}

/// The `line` example of a task whose fix replaces one line of its anchored function.
pub fn line_example(task: &Task, function: &FunctionView, fix: &LineFix) -> std::result::Result<ChatExample, String> {
    if fix.file != task.site.file {
        return Err(format!("the fix changes {}, not the task's file {}", fix.file, task.site.file));
    }
    let mut messages = line_messages(task, function, fix.line)
        .ok_or_else(|| format!("the fixed line {} is outside the anchored function `{}`", fix.line, task.enclosing))?;
    messages.push(Message::new("assistant", &format!("{}\n", fix.new)));
    Ok(ChatExample { id: task.id.clone(), messages })
}

/// The system and user turns of a `line` prompt: the failing tests, then the function with the
/// 1-based file line `marked` marked `>>>` (a window of `LINE_WINDOW` lines around it), and the
/// marked line's text last (what a prompt cut to its end keeps). `None` when the line is not in
/// the function.
pub fn line_messages(task: &Task, function: &FunctionView, marked: u32) -> Option<Vec<Message>> {
    let text = function.line(marked)?;
    let ask =
        format!("Write line {marked} as it should read (the whole line, with its indentation). It now reads:\n{text}");
    Some(vec![Message::new("system", SYSTEM_LINE), Message::new("user", &marked_user(task, function, marked, &ask)?)])
}

/// The system and user turns of an `edit` prompt: the `line` prompt asking for `OLD => NEW`.
pub fn edit_messages(task: &Task, function: &FunctionView, marked: u32) -> Option<Vec<Message>> {
    let text = function.line(marked)?;
    let ask = format!(
        "Write the smallest edit of line {marked} as OLD => NEW (OLD occurs once in the line). It now reads:\n{text}"
    );
    Some(vec![Message::new("system", SYSTEM_EDIT), Message::new("user", &marked_user(task, function, marked, &ask)?)])
}

/// The turns of a prompt that marks line `marked` in the answer format (`diff`: as `line`).
pub fn marked_messages(
    task: &Task,
    function: &FunctionView,
    marked: u32,
    answer: AnswerFormat,
) -> Option<Vec<Message>> {
    match answer {
        AnswerFormat::Edit => edit_messages(task, function, marked),
        _ => line_messages(task, function, marked),
    }
}

/// The user turn of a marked-line prompt, `ask` last.
fn marked_user(task: &Task, function: &FunctionView, marked: u32, ask: &str) -> Option<String> {
    function.line(marked)?;
    let lines: Vec<&str> = function.code.lines().collect();
    let at = (marked - function.start_line) as usize;
    let first = at.saturating_sub(LINE_WINDOW / 2).min(lines.len().saturating_sub(LINE_WINDOW));
    let shown: Vec<String> = lines
        .iter()
        .enumerate()
        .skip(first)
        .take(LINE_WINDOW)
        .map(|(i, l)| format!("{}{l}", if i == at { ">>> " } else { "    " }))
        .collect();
    let mut user = format!("Problem:\n{}\n\nFile: {}\n", task.problem_statement.trim(), task.site.file);
    push_failing(&mut user, task);
    user.push_str(&format!(
        "\nCode of `{}` (the line marked >>> is line {marked} of the file):\n```python\n{}\n```\n",
        task.enclosing,
        shown.join("\n")
    ));
    user.push('\n');
    user.push_str(ask);
    Some(user)
}

fn push_failing(user: &mut String, task: &Task) {
    if !task.fail_to_pass.is_empty() {
        user.push_str("\nFailing tests:\n");
        for t in &task.fail_to_pass {
            user.push_str(&format!("- {t}\n"));
        }
    }
}

/// The example of a task, given its fix and the anchored function's code in the bugged tree
/// (`None`: the code the fix touches, from its hunks, stands in).
pub fn task_example(task: &Task, fix: &str, function: Option<&str>) -> ChatExample {
    let mut messages = diff_messages(task, fix, function);
    messages.push(Message::new("assistant", fix));
    ChatExample { id: task.id.clone(), messages }
}

/// The system and user turns of a `diff` prompt. `fix` is read only for the bugged code of its
/// hunks, when `function` is `None`.
pub fn diff_messages(task: &Task, fix: &str, function: Option<&str>) -> Vec<Message> {
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
    push_failing(&mut user, task);
    user.push_str("\nWrite the fix as a unified diff.");
    vec![Message::new("system", SYSTEM), Message::new("user", &user)]
}

/// The anchored function (the task's `enclosing` definition, else the innermost one holding the
/// site) as it reads once the bug patch is applied to the file at the task's base commit.
pub fn bugged_function(repo: &Repo, task: &Task) -> Option<String> {
    bugged_function_view(repo, task).map(|f| f.code)
}

/// The task's file as it reads once the bug patch is applied to it at the task's base commit.
pub fn bugged_file(repo: &Repo, task: &Task) -> Option<String> {
    let clean = repo.blob_at(&task.base_commit, &task.site.file).ok()??;
    let clean = String::from_utf8(clean).ok()?;
    let patch = Patch::parse(&task.bug_patch).ok()?;
    let file = patch.files.iter().find(|f| f.old_path().as_deref() == Some(task.site.file.as_str()))?;
    file.apply(&clean).ok()
}

/// `bugged_function` with the file line it starts at.
pub fn bugged_function_view(repo: &Repo, task: &Task) -> Option<FunctionView> {
    let bugged = bugged_file(repo, task)?;
    let tree = crate::anchor::parse_python(&bugged).ok()?;
    let defs = crate::anchor::syntax::definitions(&tree, &bugged);
    let line = task.site.start_line;
    let def = defs
        .iter()
        .find(|d| d.name == task.enclosing)
        .or_else(|| defs.iter().rfind(|d| d.start_line <= line && line <= d.end_line))?;
    let code = bugged.get(def.start_byte..def.end_byte)?.to_string();
    Some(FunctionView { code, start_line: def.start_line as u32 + 1 })
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
/// tokens: the template holds them), truncated to `max_len`: the prompt keeps its end, leaving
/// room for the target or a quarter of `max_len`, whichever is more; the target keeps its start.
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
    let (mut p, t) = (enc(&prompt)?, enc(&target)?);
    // The prompt leaves room for a quarter of `max_len` (or the whole target when longer): an
    // answer of a few tokens more or less does not move where the prompt is cut, so a Solver
    // that cannot know its answer's length sees the prompt training saw.
    let reserve = t.len().max(max_len / 4);
    if p.len() + reserve > max_len {
        let keep = max_len.saturating_sub(reserve).max(1);
        p.drain(..p.len().saturating_sub(keep));
    }
    let (ids, prompt_len) = crate::score::truncate(p, t, max_len)
        .map_err(|_| TrainError::Input(format!("example {}: empty prompt or target", example.id)))?;
    Ok(Tokenized { id: example.id.clone(), ids, prompt_len, spans: Vec::new() })
}
