//! The editor protocol: every `workspace/executeCommand` command the server handles, with its
//! arguments and its result, and the custom notifications the editors send, as serde types.
//!
//! In: the JSON arguments of a command (parsed by [`required`], [`optional`] and [`no_arguments`]
//! into the argument types; a bad argument is an error message naming the command and the
//! argument). Out: the result types the handlers serialize, the command and notification names
//! ([`COMMANDS`], [`RECORD_EVENT`]), and [`schema`]: one JSON Schema (draft 7) of all of them,
//! with an example object per type. The schema is checked into the repository as
//! `editor-extensions/protocol/socratic-protocol.schema.json`; a unit test fails when it differs
//! from what these types generate (`SOCRATIC_UPDATE_SCHEMA=1 cargo test --lib lsp::protocol`
//! rewrites it). The VS Code extension's types are generated from that file and its protocol
//! test validates real results against it; the Neovim plugin's decoders are tested against its
//! examples. So a change here fails a test on the editors' side until they follow.
//!
//! No LSP types, no IO (but the schema test).

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, SchemaGenerator};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// Accept a task into the curriculum: `[TaskId]` → [`StatusChanged`].
pub const ACCEPT: &str = "socratic.accept";
/// Reject a task for good: `[TaskId]` → [`StatusChanged`].
pub const REJECT: &str = "socratic.reject";
/// A task's bug patch: `[TaskId]` → [`TaskPatch`].
pub const SHOW_PATCH: &str = "socratic.showPatch";
/// Generate tasks in one file or the workspace: `[] | [DocumentUri]` → [`Generated`].
pub const GENERATE: &str = "socratic.generate";
/// Run (or resume) a round on the workspace: `[] | [RoundArguments]` → [`RoundSummary`].
pub const ROUND: &str = "socratic.round";
/// Start an attempt at a task on a scratch checkout of its bugged tree: `[TaskId]` →
/// [`AttemptStarted`].
pub const START_ATTEMPT: &str = "socratic.startAttempt";
/// Run the attempt's FAIL_TO_PASS tests in the task's container: `[] | [AttemptId]` →
/// [`AttemptTests`] (no argument: this editor's attempt).
pub const RUN_ATTEMPT_TESTS: &str = "socratic.attemptRunTests";
/// Grade the attempt like `socratic solve` and store it as a trace: `[] | [AttemptId]` →
/// [`AttemptFinished`].
pub const FINISH_ATTEMPT: &str = "socratic.finishAttempt";
/// Drop the attempt and its checkout, storing nothing: `[] | [AttemptId]` → [`AttemptAbandoned`].
pub const ABANDON_ATTEMPT: &str = "socratic.abandonAttempt";
/// The task list: `[] | [TaskListArguments]` → [`TaskList`].
pub const TASKS: &str = "socratic.tasks";
/// Run (or resume) an evolve run on the workspace: `[] | [EvolveArguments]` → [`EvolveSummary`].
pub const EVOLVE: &str = "socratic.evolve";

/// The commands the server executes (announced in `initialize`).
pub const COMMANDS: &[&str] = &[
    ACCEPT,
    REJECT,
    SHOW_PATCH,
    GENERATE,
    ROUND,
    START_ATTEMPT,
    RUN_ATTEMPT_TESTS,
    FINISH_ATTEMPT,
    ABANDON_ATTEMPT,
    TASKS,
    EVOLVE,
];

/// The notification an editor sends for something that happened during an attempt:
/// params [`EditorEvent`].
pub const RECORD_EVENT: &str = "socratic/recordEvent";

// ---------------------------------------------------------------------------------------------
// Arguments

/// An argument type: what error messages call it.
pub trait Argument: DeserializeOwned + JsonSchema {
    /// What the argument is, as an error message names it.
    const WHAT: &'static str;

    /// Checks serde cannot express; an error message.
    fn check(&self) -> Result<(), String> {
        Ok(())
    }
}

/// A task named by its id: `"ID"`, or `{"id": "ID"}` (`taskId` is read as well).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum TaskId {
    Id(String),
    Object {
        #[serde(alias = "taskId")]
        id: String,
    },
}

impl TaskId {
    pub fn id(&self) -> &str {
        match self {
            TaskId::Id(id) | TaskId::Object { id } => id,
        }
    }
}

impl Argument for TaskId {
    const WHAT: &'static str = "a task id (\"ID\" or {\"id\": \"ID\"})";

    fn check(&self) -> Result<(), String> {
        if self.id().is_empty() {
            return Err("the task id is empty".into());
        }
        Ok(())
    }
}

/// An attempt named by its id: `"ID"`, or `{"attemptId": "ID"}` (`id` is read as well).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum AttemptId {
    Id(String),
    Object {
        #[serde(rename = "attemptId", alias = "id")]
        attempt_id: String,
    },
}

impl AttemptId {
    pub fn id(&self) -> &str {
        match self {
            AttemptId::Id(id) | AttemptId::Object { attempt_id: id } => id,
        }
    }
}

impl Argument for AttemptId {
    const WHAT: &'static str = "an attempt id (\"ID\" or {\"attemptId\": \"ID\"})";

    fn check(&self) -> Result<(), String> {
        if self.id().is_empty() {
            return Err("the attempt id is empty".into());
        }
        Ok(())
    }
}

/// A Python file of the workspace by its URI: `"file:///…"` or `{"uri": "file:///…"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum DocumentUri {
    Uri(String),
    Object { uri: String },
}

impl DocumentUri {
    pub fn uri(&self) -> &str {
        match self {
            DocumentUri::Uri(uri) | DocumentUri::Object { uri } => uri,
        }
    }
}

impl Argument for DocumentUri {
    const WHAT: &'static str = "a document URI (\"file:///…\" or {\"uri\": \"file:///…\"})";
}

/// Options of `socratic.round` (also read from `initializationOptions.round`); each one left
/// out falls back to the initialization options, then to the CLI's defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoundArguments {
    /// Candidates generated per round.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<usize>,
    /// Tasks kept per round.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep: Option<usize>,
    /// Base seed; round N generates with `seed + N`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// No skill takes more than this share of the kept tasks (0 < share ≤ 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_skill_share: Option<f64>,
    /// Scoring model folder (relative to the workspace root).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<std::path::PathBuf>,
    /// `failures` or a SWE-bench-format JSONL of trusted fixes (relative to the workspace root).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// Validation workers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workers: Option<usize>,
}

/// Options of `socratic.evolve`; each one left out takes the CLI's default (`socratic evolve`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EvolveArguments {
    /// Rounds of round → solve → held-out → train.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rounds: Option<u32>,
    /// `lm`, `baseline` or `oracle`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub solver: Option<String>,
    /// The Solver's model folder (relative to the workspace root).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<std::path::PathBuf>,
    /// `line` or `diff`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    /// Tasks in the held-out set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_out: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Epochs of each round's training.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epochs: Option<usize>,
    /// Validation workers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workers: Option<usize>,
}

impl Argument for EvolveArguments {
    const WHAT: &'static str =
        "evolve options ({rounds, solver, model, answer, heldOut, budget, keep, seed, epochs, workers})";
}

/// One round of an evolve run as the editors show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EvolveRound {
    /// The run's round (1-based).
    pub round: u32,
    /// The loop round it ran as.
    pub loop_round: Option<u32>,
    /// The adapter the Solver used (null: the base model).
    pub adapter_hash: Option<String>,
    /// Resolved ÷ attempted on the round's curriculum (null: nothing attempted).
    pub curriculum_rate: Option<f64>,
    /// Resolved ÷ attempted on the held-out set.
    pub held_out_rate: Option<f64>,
    /// The last training loss of the adapter trained on the curriculum.
    pub loss: Option<f64>,
}

/// An evolve run as the editors show it (`socratic.evolve`); `heldOutRate` is the latest round's,
/// what the status lines show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EvolveSummary {
    pub run: i64,
    /// `running`, `done` or `abandoned`.
    pub state: String,
    pub repo: String,
    pub rounds: Vec<EvolveRound>,
    /// The latest round's held-out resolve rate (null before one).
    pub held_out_rate: Option<f64>,
    /// The model has random weights: the rates are no signal.
    pub random_weights: bool,
}

impl EvolveSummary {
    pub fn of(s: &crate::engine::evolve::EvolveSummary) -> EvolveSummary {
        let rounds: Vec<EvolveRound> = s
            .lines
            .iter()
            .map(|l| EvolveRound {
                round: l.index,
                loop_round: l.round,
                adapter_hash: l.adapter_hash.clone(),
                curriculum_rate: l.curriculum.and_then(|r| r.fraction()),
                held_out_rate: l.held_out.and_then(|r| r.fraction()),
                loss: l.loss,
            })
            .collect();
        EvolveSummary {
            run: s.run.id,
            state: s.run.state.as_str().to_string(),
            repo: s.run.repo.clone(),
            held_out_rate: rounds.iter().rev().find_map(|r| r.held_out_rate),
            rounds,
            random_weights: s.random_weights,
        }
    }
}

impl Argument for RoundArguments {
    const WHAT: &'static str = "round options ({budget, keep, seed, maxSkillShare, model, reference, workers})";
}

/// Options of `socratic.tasks`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskListArguments {
    /// Every repository in the store, not only the workspace's.
    #[serde(default)]
    pub all: bool,
}

impl Argument for TaskListArguments {
    const WHAT: &'static str = "task list options ({\"all\": BOOLEAN})";
}

/// What happened in the editor during an attempt (`socratic/recordEvent`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EditorEvent {
    pub kind: EditorEventKind,
    /// The command line (`command`, `test_run`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// What the command printed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// The text of a `message`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// What an editor event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EditorEventKind {
    /// A shell command with its exit code and output.
    Command,
    /// A test run: a command whose output is parsed for test statuses.
    TestRun,
    /// A message the user wrote.
    Message,
}

/// A short rendering of an argument that did not parse.
fn shown(v: &Value) -> String {
    let s = v.to_string();
    match s.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}

fn parse<T: Argument>(command: &str, v: &Value) -> Result<T, String> {
    let parsed: T = serde_json::from_value(v.clone()).map_err(|e| {
        let detail = e.to_string();
        if detail.starts_with("data did not match any variant") {
            format!("{command}: argument 1 is not {}: got {}", T::WHAT, shown(v))
        } else {
            format!("{command}: argument 1 is not {}: {detail}", T::WHAT)
        }
    })?;
    parsed.check().map_err(|e| format!("{command}: argument 1 ({}): {e}", T::WHAT))?;
    Ok(parsed)
}

/// The one argument `command` needs.
pub fn required<T: Argument>(command: &str, args: &[Value]) -> Result<T, String> {
    match args {
        [] | [Value::Null] => Err(format!("{command} expects {} as its first argument", T::WHAT)),
        [v] => parse(command, v),
        more => Err(format!("{command} takes one argument, {}; got {}", T::WHAT, more.len())),
    }
}

/// The argument `command` may take (`None` when absent or null).
pub fn optional<T: Argument>(command: &str, args: &[Value]) -> Result<Option<T>, String> {
    match args {
        [] | [Value::Null] => Ok(None),
        [v] => parse(command, v).map(Some),
        more => Err(format!("{command} takes at most one argument, {}; got {}", T::WHAT, more.len())),
    }
}

/// `command` takes no arguments.
pub fn no_arguments(command: &str, args: &[Value]) -> Result<(), String> {
    match args {
        [] => Ok(()),
        more => Err(format!("{command} takes no arguments; got {}", more.len())),
    }
}

// ---------------------------------------------------------------------------------------------
// Results

/// A task's new status (`socratic.accept`, `socratic.reject`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StatusChanged {
    pub id: String,
    /// The state word: `accepted`, `rejected`, ….
    pub status: String,
    /// The pipeline stage, unchanged by a decision.
    pub stage: String,
    pub decision: crate::model::Decision,
}

/// A task's bug patch (`socratic.showPatch`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TaskPatch {
    pub id: String,
    /// The unified diff that introduces the bug.
    pub patch: String,
}

/// What `socratic.generate` made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Generated {
    /// Candidates generated.
    pub generated: usize,
    /// Of those, new to the store.
    pub added: usize,
    /// The file generated in (relative to the workspace root), or null for the workspace.
    pub file: Option<String>,
}

/// A round as the editors show it (`socratic.round`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoundSummary {
    /// 1-based round number.
    pub number: u32,
    /// The next step to run: `distill`, `generate`, `validate`, `score`, `select`, or `done`.
    pub step: String,
    /// The repository (absolute path) the round generated tasks in.
    pub repo: String,
    /// The seed the round generated with.
    pub seed: u64,
    /// Candidates generated in this round.
    pub candidates: usize,
    /// Of those, validated as working tasks.
    pub valid: usize,
    /// The task ids the round kept, best first.
    pub kept: Vec<String>,
    /// The reference set the rewards were computed against (null before scoring).
    pub reference_set: Option<String>,
}

impl RoundSummary {
    pub fn of(round: &crate::model::Round) -> RoundSummary {
        RoundSummary {
            number: round.number,
            step: round.step.as_str().to_string(),
            repo: round.inputs.repo.clone(),
            seed: round.inputs.seed,
            candidates: round.candidates,
            valid: round.valid,
            kept: round.kept.clone(),
            reference_set: round.inputs.reference_set.clone(),
        }
    }
}

/// A place in a file: 0-based line and UTF-16 character, as LSP counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TextPosition {
    pub line: u32,
    pub character: u32,
}

/// A span of a file, as LSP's `Range`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TextRange {
    pub start: TextPosition,
    pub end: TextPosition,
}

/// `socratic.startAttempt`: a scratch checkout of the task's bugged tree (no history the fix
/// could be read from) to edit, and where to look.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AttemptStarted {
    /// The attempt, for the other attempt commands.
    pub attempt_id: String,
    /// The task attempted.
    pub id: String,
    /// The checkout's folder (absolute path).
    pub root: String,
    /// The `file://` URI of the task's file in the checkout.
    pub file: String,
    /// The task's file relative to the checkout.
    pub path: String,
    /// The lines the bug changed, in that file.
    pub range: TextRange,
    pub problem_statement: String,
    /// The tests that fail with the bug (what `socratic.attemptRunTests` runs).
    pub fail_to_pass: Vec<String>,
}

/// One test of an attempt's run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AttemptTest {
    /// The pytest node id.
    pub id: String,
    /// `passed`, `failed`, `error`, `skipped`, or `missing` (the run did not report it).
    pub status: String,
    /// What pytest said about a failure (empty when it passed).
    pub message: String,
    /// The test file's `file://` URI in the checkout.
    pub uri: Option<String>,
    /// The 0-based line of the test's `def` (null when it was not found).
    pub line: Option<u32>,
}

/// `socratic.attemptRunTests`: the FAIL_TO_PASS tests on the attempt's current tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AttemptTests {
    pub attempt_id: String,
    /// The task attempted.
    pub id: String,
    /// `passed` (every test passed), `failed`, `broken` (the tree did not apply or the runner
    /// failed: see `detail`), `timed-out`.
    pub outcome: String,
    /// Why a run is `broken`.
    pub detail: Option<String>,
    pub passed: usize,
    pub failed: usize,
    pub tests: Vec<AttemptTest>,
}

/// `socratic.finishAttempt`: the attempt graded like `socratic solve` and stored as a trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AttemptFinished {
    /// The task attempted.
    pub id: String,
    pub attempt_id: String,
    /// The stored trace's id.
    pub trace: String,
    /// The verdict: `resolved`, `partial`, `unresolved` or `no-patch`.
    pub label: String,
    pub resolved: bool,
    /// The grading's one-line reason (test counts).
    pub reason: String,
    /// FAIL_TO_PASS tests still failing.
    pub fail_to_pass_failing: Vec<String>,
    /// PASS_TO_PASS tests the attempt broke.
    pub pass_to_pass_failing: Vec<String>,
}

/// `socratic.abandonAttempt`: the attempt and its checkout are gone; nothing was stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AttemptAbandoned {
    /// The task attempted.
    pub id: String,
    pub attempt_id: String,
}

/// One task as editors and `socratic tasks list --json` / `socratic curriculum list --json`
/// list it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TaskRow {
    pub id: String,
    /// The repository (absolute path) the task was generated in.
    pub repo: String,
    pub base_commit: String,
    /// Relative to the repository root.
    pub file: String,
    /// The file's `file://` URI, when the path makes one.
    pub uri: Option<String>,
    /// 1-based; where the site is now in a document open in the editor.
    pub line: usize,
    /// 1-based, in UTF-8 bytes.
    pub column: usize,
    /// The state word: the decision when there is one (`accepted`, `rejected`), else `stale`
    /// (also when an edit in this editor cut the site), else the stage.
    pub status: String,
    /// The pipeline stage: `candidate`, `valid`, `invalid`, `scored`.
    pub stage: String,
    /// The user's decision.
    pub decision: crate::model::Decision,
    /// Whether the task's code is still at its site in the working tree.
    pub anchor: crate::model::AnchorState,
    pub operator: String,
    pub skill: Option<String>,
    /// Dotted name of the enclosing function or class.
    pub enclosing: String,
    /// The first line of the problem statement.
    pub statement: String,
}

/// `socratic.tasks`: the rows, sorted by repository, file and line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TaskList {
    /// The workspace's repository root, as the server resolved it.
    pub root: Option<String>,
    /// The task of the attempt running in this session.
    pub attempt: Option<String>,
    pub tasks: Vec<TaskRow>,
}

// ---------------------------------------------------------------------------------------------
// The schema

/// How many arguments a command takes.
enum Arity {
    One(schemars::Schema),
    Optional(schemars::Schema),
}

impl Arity {
    fn schema(self) -> Value {
        match self {
            Arity::One(s) => json!({"type": "array", "items": [s], "minItems": 1, "maxItems": 1}),
            Arity::Optional(s) => json!({"type": "array", "items": [s], "maxItems": 1}),
        }
    }
}

/// Example objects of the protocol's types, keyed by schema name; serialized from the Rust
/// values, so they are what the server sends.
pub fn examples() -> Vec<(&'static str, Value)> {
    let row = TaskRow {
        id: "t-3f9c2a1b7d4e".into(),
        repo: "/home/user/tallyho".into(),
        base_commit: "9b1d6c0e2f4a".into(),
        file: "tallyho/ledger.py".into(),
        uri: Some("file:///home/user/tallyho/tallyho/ledger.py".into()),
        line: 42,
        column: 12,
        status: "valid".into(),
        stage: "valid".into(),
        decision: crate::model::Decision::None,
        anchor: crate::model::AnchorState::Fresh,
        operator: "flip_comparison".into(),
        skill: Some("off-by-one-boundaries".into()),
        enclosing: "Ledger.balance".into(),
        statement: "Ledger.balance counts the closing entry twice.".into(),
    };
    let attempt_id = format!("{}-1", row.id);
    let attempt_root = "/home/user/.socratic/attempts/t-3f9c2a1b7d4e-1/repo";
    let failing = "tests/test_ledger.py::TestLedger::test_balance".to_string();
    fn value<T: Serialize>(v: &T) -> Value {
        serde_json::to_value(v).unwrap_or(Value::Null)
    }
    vec![
        ("TaskId", value(&TaskId::Id(row.id.clone()))),
        ("DocumentUri", value(&DocumentUri::Uri(row.uri.clone().unwrap_or_default()))),
        ("RoundArguments", value(&RoundArguments { budget: Some(20), keep: Some(5), ..Default::default() })),
        ("TaskListArguments", value(&TaskListArguments { all: true })),
        (
            "EditorEvent",
            value(&EditorEvent {
                kind: EditorEventKind::TestRun,
                command: Some("python -m pytest -q tests/test_ledger.py".into()),
                exit_code: Some(1),
                output: Some("1 failed, 11 passed in 0.31s".into()),
                text: None,
            }),
        ),
        (
            "StatusChanged",
            value(&StatusChanged {
                id: row.id.clone(),
                status: "accepted".into(),
                stage: "valid".into(),
                decision: crate::model::Decision::Accepted,
            }),
        ),
        (
            "TaskPatch",
            value(&TaskPatch {
                id: row.id.clone(),
                patch: "--- a/tallyho/ledger.py\n+++ b/tallyho/ledger.py\n@@ -42 +42 @@\n-        if i < n:\n+        if i <= n:\n"
                    .into(),
            }),
        ),
        ("Generated", value(&Generated { generated: 12, added: 9, file: Some(row.file.clone()) })),
        (
            "RoundSummary",
            value(&RoundSummary {
                number: 3,
                step: "done".into(),
                repo: row.repo.clone(),
                seed: 3,
                candidates: 40,
                valid: 17,
                kept: vec![row.id.clone(), "t-8a0e5c3d1f27".into()],
                reference_set: Some("failures".into()),
            }),
        ),
        ("AttemptId", value(&AttemptId::Id(attempt_id.clone()))),
        (
            "AttemptStarted",
            value(&AttemptStarted {
                attempt_id: attempt_id.clone(),
                id: row.id.clone(),
                root: attempt_root.into(),
                file: format!("file://{attempt_root}/{}", row.file),
                path: row.file.clone(),
                range: TextRange {
                    start: TextPosition { line: 41, character: 0 },
                    end: TextPosition { line: 41, character: 18 },
                },
                problem_statement: row.statement.clone(),
                fail_to_pass: vec![failing.clone()],
            }),
        ),
        (
            "AttemptTests",
            value(&AttemptTests {
                attempt_id: attempt_id.clone(),
                id: row.id.clone(),
                outcome: "failed".into(),
                detail: None,
                passed: 0,
                failed: 1,
                tests: vec![AttemptTest {
                    id: failing.clone(),
                    status: "failed".into(),
                    message: "assert 3 == 2".into(),
                    uri: Some(format!("file://{attempt_root}/tests/test_ledger.py")),
                    line: Some(17),
                }],
            }),
        ),
        (
            "AttemptFinished",
            value(&AttemptFinished {
                id: row.id.clone(),
                attempt_id: attempt_id.clone(),
                trace: "tr-51c0a9e3b2d8".into(),
                label: "resolved".into(),
                resolved: true,
                reason: "graded: F2P 1/1 pass, P2P 83/83 pass".into(),
                fail_to_pass_failing: vec![],
                pass_to_pass_failing: vec![],
            }),
        ),
        ("AttemptAbandoned", value(&AttemptAbandoned { id: row.id.clone(), attempt_id: attempt_id.clone() })),
        ("EvolveArguments", value(&EvolveArguments { rounds: Some(3), held_out: Some(5), ..Default::default() })),
        (
            "EvolveSummary",
            value(&EvolveSummary {
                run: 1,
                state: "done".into(),
                repo: row.repo.clone(),
                rounds: vec![EvolveRound {
                    round: 1,
                    loop_round: Some(3),
                    adapter_hash: None,
                    curriculum_rate: Some(0.25),
                    held_out_rate: Some(0.2),
                    loss: Some(1.84),
                }],
                held_out_rate: Some(0.2),
                random_weights: false,
            }),
        ),
        ("TaskRow", value(&row)),
        ("TaskList", value(&TaskList { root: Some(row.repo.clone()), attempt: None, tasks: vec![row.clone()] })),
    ]
}

/// The protocol as one JSON Schema (draft 7): `properties.commands.properties[NAME]` holds each
/// command's `arguments` (the `arguments` array of `workspace/executeCommand`) and `result`,
/// `properties.notifications.properties[METHOD]` each notification's `params`; the types are
/// under `definitions`, each with `examples`.
pub fn schema() -> Value {
    // arguments are read (absent optional fields allowed), results written (every field present)
    let mut reads = SchemaGenerator::new(SchemaSettings::draft07().for_deserialize());
    let mut writes = SchemaGenerator::new(SchemaSettings::draft07().for_serialize());
    let task = |g: &mut SchemaGenerator| Arity::One(g.subschema_for::<TaskId>());
    let commands: Vec<(&str, &str, Arity, schemars::Schema)> = vec![
        (ACCEPT, "Accept a task into the curriculum.", task(&mut reads), writes.subschema_for::<StatusChanged>()),
        (REJECT, "Reject a task for good.", task(&mut reads), writes.subschema_for::<StatusChanged>()),
        (SHOW_PATCH, "A task's bug patch.", task(&mut reads), writes.subschema_for::<TaskPatch>()),
        (
            GENERATE,
            "Generate tasks in one Python file of the workspace, or in the whole workspace.",
            Arity::Optional(reads.subschema_for::<DocumentUri>()),
            writes.subschema_for::<Generated>(),
        ),
        (
            ROUND,
            "Run a round of the loop on the workspace (or resume the unfinished one).",
            Arity::Optional(reads.subschema_for::<RoundArguments>()),
            writes.subschema_for::<RoundSummary>(),
        ),
        (
            EVOLVE,
            "Run an evolve run on the workspace (round, solve, held-out, train per round), or resume it.",
            Arity::Optional(reads.subschema_for::<EvolveArguments>()),
            writes.subschema_for::<EvolveSummary>(),
        ),
        (
            START_ATTEMPT,
            "Start an attempt at a task on a scratch checkout of its bugged tree.",
            task(&mut reads),
            writes.subschema_for::<AttemptStarted>(),
        ),
        (
            RUN_ATTEMPT_TESTS,
            "Run the attempt's FAIL_TO_PASS tests in the task's container (no argument: this editor's attempt).",
            Arity::Optional(reads.subschema_for::<AttemptId>()),
            writes.subschema_for::<AttemptTests>(),
        ),
        (
            FINISH_ATTEMPT,
            "Grade the attempt like `socratic solve` and store it as a trace (no argument: this editor's attempt).",
            Arity::Optional(reads.subschema_for::<AttemptId>()),
            writes.subschema_for::<AttemptFinished>(),
        ),
        (
            ABANDON_ATTEMPT,
            "Drop the attempt and its checkout; nothing is stored (no argument: this editor's attempt).",
            Arity::Optional(reads.subschema_for::<AttemptId>()),
            writes.subschema_for::<AttemptAbandoned>(),
        ),
        (
            TASKS,
            "The tasks of the workspace (or of every repository), as editors list them.",
            Arity::Optional(reads.subschema_for::<TaskListArguments>()),
            writes.subschema_for::<TaskList>(),
        ),
    ];
    let notifications = [(
        RECORD_EVENT,
        "Something that happened in the editor during an attempt (ignored when none runs).",
        reads.subschema_for::<EditorEvent>(),
    )];

    let mut command_props = Map::new();
    for (name, about, args, result) in commands {
        command_props.insert(
            name.to_string(),
            json!({
                "description": about,
                "type": "object",
                "properties": {"arguments": args.schema(), "result": result},
                "required": ["arguments", "result"],
                "additionalProperties": false,
            }),
        );
    }
    let mut notification_props = Map::new();
    for (method, about, params) in notifications {
        notification_props.insert(
            method.to_string(),
            json!({
                "description": about,
                "type": "object",
                "properties": {"params": params},
                "required": ["params"],
                "additionalProperties": false,
            }),
        );
    }
    let mut definitions = reads.take_definitions(true);
    for (name, def) in writes.take_definitions(true) {
        let clash = definitions.insert(name.clone(), def);
        debug_assert!(clash.is_none(), "{name} is both an argument and a result type");
    }
    for (name, example) in examples() {
        if let Some(Value::Object(def)) = definitions.get_mut(name) {
            def.insert("examples".into(), json!([example]));
        }
    }
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "SocraticProtocol",
        "description": "The socratic editor protocol: the workspace/executeCommand commands of `socratic lsp` (arguments and result) and the notifications editors send. Generated from daemon/src/lsp/protocol.rs; do not edit.",
        "type": "object",
        "properties": {
            "commands": {
                "type": "object",
                "properties": command_props,
                "required": COMMANDS,
                "additionalProperties": false,
            },
            "notifications": {
                "type": "object",
                "properties": notification_props,
                "required": [RECORD_EVENT],
                "additionalProperties": false,
            },
        },
        "required": ["commands", "notifications"],
        "additionalProperties": false,
        "definitions": definitions,
    })
}

/// The schema as the checked-in file holds it: pretty JSON and a final newline.
pub fn schema_text() -> String {
    let mut text = serde_json::to_string_pretty(&schema()).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn schema_path() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../editor-extensions/protocol/socratic-protocol.schema.json")
    }

    #[test]
    fn the_checked_in_schema_is_current() {
        let path = schema_path();
        let want = schema_text();
        if std::env::var_os("SOCRATIC_UPDATE_SCHEMA").is_some_and(|v| v == "1") {
            std::fs::create_dir_all(path.parent().expect("parent")).expect("create the protocol folder");
            std::fs::write(&path, &want).expect("write the schema");
            return;
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "{} is not what daemon/src/lsp/protocol.rs generates; regenerate it with\n  \
             SOCRATIC_UPDATE_SCHEMA=1 cargo test -p socratic --lib lsp::protocol\n\
             then regenerate the editors' types (editor-extensions/vscode: npm run protocol) and run their tests",
            path.display()
        );
    }

    #[test]
    fn every_command_and_type_is_in_the_schema_with_an_example() {
        let s = schema();
        let commands = s["properties"]["commands"]["properties"].as_object().expect("commands");
        assert_eq!(commands.keys().map(String::as_str).collect::<Vec<_>>().len(), COMMANDS.len());
        for c in COMMANDS {
            assert!(commands.contains_key(*c), "{c}");
        }
        let defs = s["definitions"].as_object().expect("definitions");
        for (name, example) in examples() {
            assert_eq!(defs[name]["examples"][0], example, "{name}");
        }
        for name in ["TaskId", "RoundSummary", "TaskRow", "TaskList", "EditorEvent"] {
            assert!(defs.contains_key(name), "{name}");
        }
        // a result field that may be null is still always sent
        let required = defs["RoundSummary"]["required"].as_array().expect("required");
        assert!(required.contains(&json!("referenceSet")), "{required:?}");
        // an event field the editor may leave out is optional
        let required = defs["EditorEvent"]["required"].as_array().expect("required");
        assert_eq!(required, &vec![json!("kind")]);
    }

    #[test]
    fn arguments_parse_or_name_what_is_wrong() {
        let id = |v: Value| required::<TaskId>(ACCEPT, &[v]).map(|t| t.id().to_string());
        assert_eq!(id(json!("t-1")).as_deref(), Ok("t-1"));
        assert_eq!(id(json!({"id": "t-2"})).as_deref(), Ok("t-2"));
        assert_eq!(id(json!({"taskId": "t-3"})).as_deref(), Ok("t-3"));
        let e = id(json!(42)).unwrap_err();
        assert!(e.starts_with("socratic.accept: argument 1 is not a task id") && e.ends_with("got 42"), "{e}");
        assert!(id(json!("")).unwrap_err().contains("empty"));
        let e = required::<TaskId>(ACCEPT, &[]).unwrap_err();
        assert!(e.contains("expects a task id"), "{e}");
        assert!(required::<TaskId>(ACCEPT, &[json!("a"), json!("b")]).unwrap_err().contains("got 2"));

        assert_eq!(optional::<TaskListArguments>(TASKS, &[]), Ok(None));
        assert_eq!(
            optional::<TaskListArguments>(TASKS, &[json!({"all": true})]),
            Ok(Some(TaskListArguments { all: true }))
        );
        let e = optional::<TaskListArguments>(TASKS, &[json!({"all": "yes"})]).unwrap_err();
        assert!(e.starts_with("socratic.tasks: argument 1 is not task list options") && e.contains("boolean"), "{e}");
        let e = optional::<RoundArguments>(ROUND, &[json!({"budgte": 3})]).unwrap_err();
        assert!(e.contains("unknown field `budgte`"), "{e}");
        assert_eq!(
            optional::<DocumentUri>(GENERATE, &[json!({"uri": "file:///r/a.py"})])
                .map(|d| d.map(|d| d.uri().to_string())),
            Ok(Some("file:///r/a.py".to_string()))
        );
        assert!(no_arguments(TASKS, &[]).is_ok());
        assert!(no_arguments(TASKS, &[json!(1)]).unwrap_err().contains("takes no arguments"));
        let attempt = |v: Value| optional::<AttemptId>(FINISH_ATTEMPT, &[v]).map(|a| a.map(|a| a.id().to_string()));
        assert_eq!(attempt(json!("a-1")), Ok(Some("a-1".to_string())));
        assert_eq!(attempt(json!({"attemptId": "a-2"})), Ok(Some("a-2".to_string())));
        assert_eq!(attempt(json!({"id": "a-3"})), Ok(Some("a-3".to_string())));
        assert!(attempt(json!("")).unwrap_err().contains("empty"));
        assert!(attempt(json!(7)).unwrap_err().starts_with("socratic.finishAttempt: argument 1 is not an attempt id"));

        let event: EditorEvent =
            serde_json::from_value(json!({"kind": "test_run", "command": "pytest", "exitCode": 1})).expect("an event");
        assert_eq!((event.kind, event.exit_code), (EditorEventKind::TestRun, Some(1)));
        assert!(serde_json::from_value::<EditorEvent>(json!({"kind": "dance"})).is_err());
    }

    #[test]
    fn a_round_summary_carries_the_rounds_figures() {
        let mut round = crate::model::test_support::round(4, &["t-a", "t-b"]);
        round.candidates = 30;
        round.valid = 11;
        let s = RoundSummary::of(&round);
        assert_eq!((s.number, s.candidates, s.valid, s.kept.len()), (4, 30, 11, 2));
        assert_eq!(s.step, round.step.as_str());
        assert_eq!(s.repo, round.inputs.repo);
    }
}
