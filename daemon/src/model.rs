//! The data model: plain serde types shared by every stage, and no IO.
//!
//! In: nothing (other modules construct these). Out: `Trace` (+ `Event`), `EvalReport`,
//! `Instance`, `Skill`, `Site`, `Task`, `Verdict`, `Score`, `Round`, `Environment`, `TestResult`.
//!
//! Architecture invariant: this module never touches the file system, the network, SQLite or
//! Docker. It may compute derived values (hashes, ids) from its own fields.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Hex SHA-256 of some bytes; the one hash used for ids across the project.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Which producer a trace, report or instance came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceFormat {
    /// SWE-agent `.traj`, v0 (history + info) or v1 (trajectory + info, tool calls).
    SweAgent,
    /// SWE-agent / SWE-bench predictions (`all_preds.jsonl`, `preds.json`): a patch, no steps.
    Predictions,
    /// mini-swe-agent `.traj.json` (v1 bash-block text, v2 tool calls).
    MiniSweAgent,
    /// OpenHands evaluation `output.jsonl` lines.
    OpenHandsEval,
    /// OpenHands serialized event list.
    OpenHandsEvents,
    /// OpenHands issue-resolver `output.jsonl` lines (issue, git_patch, history, success).
    OpenHandsResolver,
    /// SWE-bench dataset instance (gold patch, FAIL_TO_PASS/PASS_TO_PASS).
    SweBenchInstance,
    /// SWE-smith task instance (bug patch, image_name).
    SweSmithInstance,
    /// SWE-bench harness per-instance `report.json` (wrapped by instance id or not).
    SweBenchReport,
    /// SWE-bench harness aggregate run report `<model>.<run_id>.json`.
    SweBenchRunReport,
    /// SWE-smith validation report (which tests flip with the patch).
    SweSmithValidation,
    /// Claude Code session JSONL.
    ClaudeCode,
    /// Codex CLI rollout JSONL.
    CodexCli,
    /// Cline task export (`api_conversation_history.json`, `ui_messages.json`).
    Cline,
    /// Recorded by our language server during an editor attempt.
    Editor,
    /// Produced by `socratic solve` (built-in or external solver).
    Solver,
}

impl SourceFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceFormat::SweAgent => "swe-agent",
            SourceFormat::Predictions => "predictions",
            SourceFormat::MiniSweAgent => "mini-swe-agent",
            SourceFormat::OpenHandsEval => "openhands-eval",
            SourceFormat::OpenHandsEvents => "openhands-events",
            SourceFormat::OpenHandsResolver => "openhands-resolver",
            SourceFormat::SweBenchInstance => "swe-bench-instance",
            SourceFormat::SweSmithInstance => "swe-smith-instance",
            SourceFormat::SweBenchReport => "swe-bench-report",
            SourceFormat::SweBenchRunReport => "swe-bench-run-report",
            SourceFormat::SweSmithValidation => "swe-smith-validation",
            SourceFormat::ClaudeCode => "claude-code",
            SourceFormat::CodexCli => "codex-cli",
            SourceFormat::Cline => "cline",
            SourceFormat::Editor => "editor",
            SourceFormat::Solver => "solver",
        }
    }
}

/// What task a trace attacked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskRef {
    pub instance_id: Option<String>,
    pub repo: Option<String>,
    pub base_commit: Option<String>,
    /// The problem statement the Solver was given, when the trace carries it.
    pub problem_statement: Option<String>,
}

/// Status of one test in one run, as the SWE-bench harness names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TestStatus {
    Passed,
    Failed,
    Skipped,
    Error,
    XFail,
}

/// One step of a trace, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A file edit. `diff` is a unified diff when the source gives one, else a description
    /// (e.g. `str_replace old -> new`).
    Edit { path: Option<String>, diff: String },
    /// A shell command. `exit_code` is `None` when the source does not record it.
    Command { command: String, exit_code: Option<i32>, output: String },
    /// A test run with per-test statuses (empty when only the command is known).
    TestRun { command: String, exit_code: Option<i32>, statuses: BTreeMap<String, TestStatus>, output: String },
    /// A message from the user, the assistant or the system (thoughts included).
    Message { role: String, text: String },
    /// The agent submitted its patch (or gave up).
    Submit { note: Option<String> },
}

impl Event {
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Edit { .. } => "edit",
            Event::Command { .. } => "command",
            Event::TestRun { .. } => "test_run",
            Event::Message { .. } => "message",
            Event::Submit { .. } => "submit",
        }
    }
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Resolved,
    Unresolved,
    Partial,
    NoPatch,
    Error,
    /// Nothing says yet (e.g. a patch with no report and no evidence either way).
    Unknown,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Resolved => "resolved",
            Outcome::Unresolved => "unresolved",
            Outcome::Partial => "partial",
            Outcome::NoPatch => "no-patch",
            Outcome::Error => "error",
            Outcome::Unknown => "unknown",
        }
    }
}

/// Why a trace failed, as far as the importer can tell (the skills stage refines it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureReason {
    /// No patch or an empty patch was submitted.
    EmptyPatch,
    /// The step / iteration limit was hit.
    MaxIterations,
    /// The cost limit was hit.
    CostLimit,
    /// The context window was exceeded.
    ContextLimit,
    /// The wall-clock limit was hit.
    TimeLimit,
    /// The patch did not apply.
    PatchDoesNotApply,
    /// FAIL_TO_PASS tests still fail.
    FailToPassStillFailing,
    /// PASS_TO_PASS tests broke.
    Regression,
    /// The agent or harness errored.
    AgentError,
    /// The agent's output was malformed (format errors).
    FormatError,
    /// Unresolved, reason not given by the source.
    Unspecified,
}

impl FailureReason {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::EmptyPatch => "empty-patch",
            FailureReason::MaxIterations => "max-iterations",
            FailureReason::CostLimit => "cost-limit",
            FailureReason::ContextLimit => "context-limit",
            FailureReason::TimeLimit => "time-limit",
            FailureReason::PatchDoesNotApply => "patch-does-not-apply",
            FailureReason::FailToPassStillFailing => "fail-to-pass-still-failing",
            FailureReason::Regression => "regression",
            FailureReason::AgentError => "agent-error",
            FailureReason::FormatError => "format-error",
            FailureReason::Unspecified => "unspecified",
        }
    }
}

/// The label of a trace: outcome, the reason, and whether it was inferred or reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Label {
    pub outcome: Outcome,
    pub failure: Option<FailureReason>,
    /// Human-readable why (e.g. "exit_status=submitted (exit_cost)", "report: 2/2 F2P failed").
    pub reason: String,
    /// True when no evaluation report said so and the importer inferred it.
    pub inferred: bool,
}

impl Label {
    pub fn inferred(outcome: Outcome, failure: Option<FailureReason>, reason: impl Into<String>) -> Self {
        Label { outcome, failure, reason: reason.into(), inferred: true }
    }
}

/// A recorded attempt of a Solver at a repair task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    /// Stable id: hash of the source format and the trace's content (see `Trace::compute_id`).
    pub id: String,
    pub source: SourceFormat,
    /// Format version as the source names it (e.g. "v0", "1.0.1", "mini-swe-agent-1.1").
    pub format_version: Option<String>,
    pub task: TaskRef,
    pub model: Option<String>,
    pub events: Vec<Event>,
    /// The final patch (unified diff); `None` when there was none.
    pub final_patch: Option<String>,
    pub label: Label,
    /// Spend in US dollars, when recorded.
    pub cost_usd: Option<f64>,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    /// Where it was imported from (file path, and line for JSONL).
    pub origin: String,
    /// The conversation as the agent saw it (role + whole content, secrets redacted), when the
    /// source carries one; `socratic train --method rft` trains on it. Not part of the id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<ChatTurn>,
}

/// One turn of a Solver's conversation: `system`, `user`, `assistant` or `tool`, and its text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatTurn {
    pub role: String,
    pub content: String,
}

impl Trace {
    /// Id from the source, task, patch and events: the same content gives the same id, so
    /// re-importing a file is idempotent.
    pub fn compute_id(&self) -> String {
        let key = serde_json::json!({
            "source": self.source,
            "task": self.task.instance_id,
            "patch": self.final_patch,
            "events": self.events,
            "model": self.model,
        });
        format!("tr-{}", &sha256_hex(key.to_string().as_bytes())[..16])
    }

    /// True when the final patch is missing or has no content.
    pub fn has_patch(&self) -> bool {
        self.final_patch.as_deref().is_some_and(|p| !p.trim().is_empty())
    }
}

/// An evaluation report for one instance: the authority that labels traces of that instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    pub instance_id: String,
    pub source: SourceFormat,
    pub resolved: bool,
    /// Outcome class the report gives (resolved, unresolved, no-patch, error, ...).
    pub outcome: Outcome,
    pub failure: Option<FailureReason>,
    pub fail_to_pass_success: Vec<String>,
    pub fail_to_pass_failure: Vec<String>,
    pub pass_to_pass_success: Vec<String>,
    pub pass_to_pass_failure: Vec<String>,
    /// Model or run name, when the report names one.
    pub run: Option<String>,
    /// The patch that was evaluated, when the report carries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
    pub origin: String,
}

impl EvalReport {
    /// The label this report gives a trace of its instance.
    pub fn label(&self) -> Label {
        let f2p = self.fail_to_pass_success.len() + self.fail_to_pass_failure.len();
        let p2p = self.pass_to_pass_success.len() + self.pass_to_pass_failure.len();
        let detail = if f2p + p2p > 0 {
            format!(
                ", F2P {}/{} pass, P2P {}/{} pass",
                self.fail_to_pass_success.len(),
                f2p,
                self.pass_to_pass_success.len(),
                p2p
            )
        } else {
            String::new()
        };
        Label {
            outcome: self.outcome,
            failure: self.failure,
            reason: format!("report {}: {}{}", self.source.as_str(), self.outcome.as_str(), detail),
            inferred: false,
        }
    }
}

/// A benchmark task instance (SWE-bench or SWE-smith): the gold patch and the tests that prove it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    pub instance_id: String,
    pub source: SourceFormat,
    pub repo: Option<String>,
    pub base_commit: Option<String>,
    pub problem_statement: Option<String>,
    /// The fix (SWE-bench `patch`). For SWE-smith instances, the reverse of the bug patch is the
    /// fix; `bug_patch` keeps the original.
    pub gold_patch: Option<String>,
    pub bug_patch: Option<String>,
    pub test_patch: Option<String>,
    pub fail_to_pass: Vec<String>,
    pub pass_to_pass: Vec<String>,
    pub image_name: Option<String>,
    pub origin: String,
}

/// What one input file held.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    Trace(Trace),
    Report(EvalReport),
    Instance(Instance),
}

/// Agent Skill kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SkillKind {
    FailureMode,
    RepairPattern,
}

/// A distilled skill: a recurring failure mode or an effective repair pattern.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skill {
    /// kebab-case, at most 64 characters; stable across re-distillation.
    pub name: String,
    pub kind: SkillKind,
    /// At most 1024 characters: what and when.
    pub description: String,
    pub applicability: Vec<String>,
    pub operations: Vec<String>,
    /// Anchor query file name in `queries/python/` (without extension).
    pub anchor: String,
    /// Mutation operators that produce tasks exercising the skill.
    pub operators: Vec<String>,
    /// Trace ids.
    pub evidence: Vec<String>,
    pub stats: SkillStats,
    pub version: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SkillStats {
    pub traces: usize,
    pub failures: usize,
    /// failures / traces.
    pub failure_rate: f64,
}

/// A place in a repository that a query matched.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Site {
    /// Path relative to the repository root, with `/` separators.
    pub file: String,
    pub start_byte: usize,
    pub end_byte: usize,
    /// 0-based line and column (UTF-8 bytes), as tree-sitter reports them.
    pub start_line: usize,
    pub start_col: usize,
    pub end_line: usize,
    pub end_col: usize,
    pub node_kind: String,
    /// Dotted enclosing scope, e.g. `Parser.parse` or `<module>`.
    pub scope: String,
    /// The query (operator) and capture that matched.
    pub query: String,
    pub capture: String,
}

/// Where a task is in the pipeline: validation and scoring move it forward, nothing moves it back
/// but a re-validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "stage", content = "reason", rename_all = "kebab-case")]
pub enum TaskStage {
    Candidate,
    Valid,
    /// Rejected by validation: `<stage>: <reason>`.
    Invalid(String),
    Scored,
}

impl TaskStage {
    pub const NAMES: [&'static str; 4] = ["candidate", "valid", "invalid", "scored"];

    pub fn name(&self) -> &'static str {
        match self {
            TaskStage::Candidate => "candidate",
            TaskStage::Valid => "valid",
            TaskStage::Invalid(_) => "invalid",
            TaskStage::Scored => "scored",
        }
    }

    /// Passed validation (valid or scored).
    pub fn is_valid(&self) -> bool {
        matches!(self, TaskStage::Valid | TaskStage::Scored)
    }
}

/// The user's decision about a task (CLI `curriculum accept|reject`, the editors' code actions).
/// Only the user changes it; the pipeline never does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    #[default]
    None,
    Accepted,
    Rejected,
}

impl Decision {
    pub fn name(self) -> &'static str {
        match self {
            Decision::None => "none",
            Decision::Accepted => "accepted",
            Decision::Rejected => "rejected",
        }
    }

    pub fn parse(word: &str) -> Option<Decision> {
        [Decision::None, Decision::Accepted, Decision::Rejected].into_iter().find(|d| d.name() == word)
    }
}

/// Whether the code a task was generated from is still at its site in the working tree. An
/// edit or a checkout that touches the site makes it stale; the task itself (its patch at its
/// base commit) stays as good as it was.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AnchorState {
    #[default]
    Fresh,
    Stale,
}

impl AnchorState {
    pub fn name(self) -> &'static str {
        match self {
            AnchorState::Fresh => "fresh",
            AnchorState::Stale => "stale",
        }
    }

    pub fn parse(word: &str) -> Option<AnchorState> {
        [AnchorState::Fresh, AnchorState::Stale].into_iter().find(|a| a.name() == word)
    }
}

/// A generated repair task: a bug-introducing patch whose reverse is the fix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// Stable hash of the repository commit and the patch.
    pub id: String,
    /// Repository root this task was generated in.
    pub repo: String,
    pub base_commit: String,
    pub operator: String,
    pub skill: Option<String>,
    pub site: Site,
    /// Unified diff that introduces the bug (applies with `git apply` at `base_commit`).
    pub bug_patch: String,
    /// Dotted name of the enclosing function or class.
    pub enclosing: String,
    /// Problem statement (a draft before validation).
    pub problem_statement: String,
    pub fail_to_pass: Vec<String>,
    pub pass_to_pass: Vec<String>,
    pub image: Option<String>,
    /// Pipeline stage, the user's decision and the anchor's freshness: three independent facts.
    pub stage: TaskStage,
    #[serde(default)]
    pub decision: Decision,
    #[serde(default)]
    pub anchor: AnchorState,
    pub seed: u64,
    pub round: Option<u32>,
}

impl Task {
    /// Id from the commit and the patch: same bug at the same commit, same id.
    pub fn compute_id(base_commit: &str, bug_patch: &str) -> String {
        let mut bytes = base_commit.as_bytes().to_vec();
        bytes.push(0);
        bytes.extend_from_slice(bug_patch.as_bytes());
        format!("t-{}", &sha256_hex(&bytes)[..16])
    }

    /// One word for lists and editors: the decision when there is one, else `stale` for a
    /// stale anchor, else the stage.
    pub fn state_word(&self) -> &'static str {
        match (self.decision, self.anchor) {
            (Decision::Accepted | Decision::Rejected, _) => self.decision.name(),
            (Decision::None, AnchorState::Stale) => "stale",
            (Decision::None, AnchorState::Fresh) => self.stage.name(),
        }
    }

    /// In the running for a curriculum: passed validation and not rejected by the user.
    pub fn is_usable(&self) -> bool {
        self.stage.is_valid() && self.decision != Decision::Rejected
    }
}

/// The validation stage that rejected a candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RejectStage {
    /// The patch does not apply or the code does not parse.
    Format,
    /// No test executes the changed code.
    Grounding,
    /// The tests timed out, crashed or could not be collected with the bug.
    Execution,
    /// No selected test fails with the bug.
    FailToPass,
    /// Tests that should keep passing fail.
    PassToPass,
    /// The failing tests do not pass again on the restored tree.
    Flaky,
    /// The reverse patch does not repair it.
    Reverse,
}

impl RejectStage {
    pub fn name(self) -> &'static str {
        match self {
            RejectStage::Format => "format",
            RejectStage::Grounding => "grounding",
            RejectStage::Execution => "execution",
            RejectStage::FailToPass => "fail-to-pass",
            RejectStage::PassToPass => "pass-to-pass",
            RejectStage::Flaky => "flaky",
            RejectStage::Reverse => "reverse",
        }
    }
}

/// What validation decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VerdictOutcome {
    Valid,
    Rejected(RejectStage),
    /// Nothing was learned about the candidate (its worker container died): it stays a
    /// candidate and the next validation runs it again.
    Retry,
}

/// The staged verdict of validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub task_id: String,
    pub outcome: VerdictOutcome,
    pub reason: String,
    pub fail_to_pass: Vec<String>,
    pub pass_to_pass: Vec<String>,
    pub duration_ms: u64,
}

impl Verdict {
    pub fn is_valid(&self) -> bool {
        self.outcome == VerdictOutcome::Valid
    }

    /// The stage that rejected it, when it was rejected.
    pub fn rejected_at(&self) -> Option<RejectStage> {
        match self.outcome {
            VerdictOutcome::Rejected(stage) => Some(stage),
            _ => None,
        }
    }

    /// One word: `valid`, the rejecting stage, or `retry`.
    pub fn outcome_word(&self) -> &'static str {
        match self.outcome {
            VerdictOutcome::Valid => "valid",
            VerdictOutcome::Rejected(stage) => stage.name(),
            VerdictOutcome::Retry => "retry",
        }
    }

    /// The task stage this verdict puts its task in.
    pub fn task_stage(&self) -> TaskStage {
        match self.outcome {
            VerdictOutcome::Valid => TaskStage::Valid,
            VerdictOutcome::Rejected(stage) => TaskStage::Invalid(format!("{}: {}", stage.name(), self.reason)),
            VerdictOutcome::Retry => TaskStage::Candidate,
        }
    }
}

/// Why a score carries no reward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoReward {
    /// The reference set was empty (no trusted fix) or its gradients cancelled out.
    NoReference,
    /// The scoring model's weights are random (the built-in tiny model), not trained.
    RandomModel,
}

impl NoReward {
    pub fn as_str(self) -> &'static str {
        match self {
            NoReward::NoReference => "no reference set",
            NoReward::RandomModel => "random model",
        }
    }
}

/// A task's reward with its parts. `reward` is `None` (and `no_reward` says why) when the
/// number would not be a signal: no reference set to align with, or a model with random weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    pub task_id: String,
    pub validity: f64,
    pub cosine: f64,
    pub reward: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_reward: Option<NoReward>,
    pub reference_set: String,
    pub model_hash: String,
}

/// The steps of a round, in order; a round's `step` is the next one to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RoundStep {
    Distill,
    Generate,
    Validate,
    Score,
    Select,
    Done,
    /// Left unfinished on purpose (`round --new`): never resumed, never a curriculum.
    Abandoned,
}

impl RoundStep {
    pub const ALL: [RoundStep; 6] = [
        RoundStep::Distill,
        RoundStep::Generate,
        RoundStep::Validate,
        RoundStep::Score,
        RoundStep::Select,
        RoundStep::Done,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RoundStep::Distill => "distill",
            RoundStep::Generate => "generate",
            RoundStep::Validate => "validate",
            RoundStep::Score => "score",
            RoundStep::Select => "select",
            RoundStep::Done => "done",
            RoundStep::Abandoned => "abandoned",
        }
    }

    /// The step after this one (`Done` stays `Done`, `Abandoned` stays `Abandoned`).
    pub fn next(self) -> RoundStep {
        if self == RoundStep::Abandoned {
            return self;
        }
        let i = RoundStep::ALL.iter().position(|s| *s == self).unwrap_or(5);
        RoundStep::ALL[(i + 1).min(5)]
    }
}

/// What a round was run with, recorded when it starts so it can be reproduced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundInputs {
    /// The repository the round generates tasks in (absolute path) and its HEAD.
    pub repo: String,
    pub head: String,
    pub seed: u64,
    /// Candidates generated per round.
    pub budget: usize,
    /// Tasks kept per round.
    pub keep: usize,
    /// No skill takes more than this share of the kept tasks (0 < share ≤ 1).
    pub max_skill_share: f64,
    /// Trace ids the skills were distilled from (filled by the distill step).
    pub trace_ids: Vec<String>,
    /// Skill name → version after distilling (filled by the distill step).
    pub skill_versions: BTreeMap<String, u32>,
    /// Hash of the scoring model, and the reference set's name (filled by the score step).
    pub model_hash: Option<String>,
    pub reference_set: Option<String>,
    /// Hash of the LoRA adapter applied to the scoring model (`round --adapter`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapter_hash: Option<String>,
}

/// One turn of the loop: its inputs, the step it is at, its figures and the tasks it kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Round {
    pub number: u32,
    pub inputs: RoundInputs,
    /// The next step to run (`Done` when finished).
    pub step: RoundStep,
    pub candidates: usize,
    pub valid: usize,
    /// Kept task ids, best first.
    pub kept: Vec<String>,
    /// Step name → milliseconds spent in it (summed over resumptions).
    pub timings_ms: BTreeMap<String, u64>,
}

/// A Solver's attempt at a task, graded in the task's container.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SolveResult {
    pub task_id: String,
    /// The round whose curriculum the task was attempted from.
    pub round: u32,
    /// `oracle`, `baseline`, or `agent` (an external command).
    pub solver: String,
    /// Grading: outcome and per-test detail (instance id = task id).
    pub report: EvalReport,
    /// The Solver's diff against the bugged tree.
    pub diff: String,
    /// The stored trace of the attempt.
    pub trace_id: String,
    pub duration_ms: u64,
}

/// A finished LoRA training run (`socratic train`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingRun {
    /// SHA-256 of the base model's config, tokenizer and weights.
    pub model_hash: String,
    /// SHA-256 of the adapter folder's two files.
    pub adapter_hash: String,
    pub adapter_dir: String,
    /// `sft`.
    pub method: String,
    /// Where the examples came from (`round 2 curriculum`, a file).
    pub source: String,
    pub round: Option<u32>,
    /// Example ids (task ids, or `line N` of a data file).
    pub data_ids: Vec<String>,
    /// The hyper-parameters as given to the trainer.
    pub settings: serde_json::Value,
    pub device: String,
    /// Loss of every optimizer step.
    pub losses: Vec<f64>,
    pub tokens: u64,
    pub seconds: f64,
    pub tokens_per_second: f64,
}

/// Small values for unit tests elsewhere in the crate.
#[cfg(test)]
pub mod test_support {
    use super::*;

    /// A task of `operator` at `m.py` line 0 of repository `/r`, round 1.
    pub fn task(id: &str, operator: &str, stage: TaskStage) -> Task {
        Task {
            id: id.into(),
            repo: "/r".into(),
            base_commit: "c".into(),
            operator: operator.into(),
            skill: None,
            site: Site {
                file: "m.py".into(),
                start_byte: 0,
                end_byte: 1,
                start_line: 0,
                start_col: 0,
                end_line: 0,
                end_col: 1,
                node_kind: "comparison_operator".into(),
                scope: "f".into(),
                query: operator.into(),
                capture: "site".into(),
            },
            bug_patch: String::new(),
            enclosing: "f".into(),
            problem_statement: String::new(),
            fail_to_pass: vec![],
            pass_to_pass: vec![],
            image: None,
            stage,
            decision: Decision::None,
            anchor: AnchorState::Fresh,
            seed: 0,
            round: Some(1),
        }
    }

    /// A finished round of repository `/r` that kept `kept`.
    pub fn round(number: u32, kept: &[&str]) -> Round {
        Round {
            number,
            inputs: RoundInputs {
                repo: "/r".into(),
                head: "c".into(),
                seed: 0,
                budget: 1,
                keep: 1,
                max_skill_share: 1.0,
                trace_ids: vec![],
                skill_versions: BTreeMap::new(),
                model_hash: None,
                reference_set: None,
                adapter_hash: None,
            },
            step: RoundStep::Done,
            candidates: 0,
            valid: 0,
            kept: kept.iter().map(|s| s.to_string()).collect(),
            timings_ms: BTreeMap::new(),
        }
    }

    /// A report of `instance` with no per-test detail, from `origin`.
    pub fn report(instance: &str, source: SourceFormat, outcome: Outcome, origin: &str) -> EvalReport {
        EvalReport {
            instance_id: instance.into(),
            source,
            resolved: outcome == Outcome::Resolved,
            outcome,
            failure: None,
            fail_to_pass_success: vec![],
            fail_to_pass_failure: vec![],
            pass_to_pass_success: vec![],
            pass_to_pass_failure: vec![],
            run: None,
            patch: None,
            origin: origin.into(),
        }
    }

    /// A `baseline` result for a task with no per-test detail.
    pub fn solve_result(task_id: &str, round: u32, outcome: Outcome) -> SolveResult {
        SolveResult {
            task_id: task_id.into(),
            round,
            solver: "baseline".into(),
            report: report(task_id, SourceFormat::Solver, outcome, "solve"),
            diff: String::new(),
            trace_id: "tr-x".into(),
            duration_ms: 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names_come_from_the_package() {
        let packages: BTreeMap<String, String> =
            [("src/cachetools".to_string(), "cachetools".to_string()), ("six.py".to_string(), "six".to_string())]
                .into();
        assert_eq!(module_name("src/cachetools/__init__.py", &packages), "cachetools");
        assert_eq!(module_name("src/cachetools/func.py", &packages), "cachetools.func");
        assert_eq!(module_name("six.py", &packages), "six");
        assert_eq!(module_name("pkg/sub/m.py", &packages), "pkg.sub.m");
        // No package record (older environments): a leading `src/` is still not a module.
        assert_eq!(module_name("src/other/__init__.py", &BTreeMap::new()), "other");
    }

    fn trace(patch: Option<&str>) -> Trace {
        Trace {
            id: String::new(),
            source: SourceFormat::SweAgent,
            format_version: None,
            task: TaskRef { instance_id: Some("a__b-1".into()), ..Default::default() },
            model: None,
            events: vec![Event::Submit { note: None }],
            final_patch: patch.map(str::to_string),
            label: Label::inferred(Outcome::Unknown, None, "test"),
            cost_usd: None,
            started_at: None,
            ended_at: None,
            origin: "x".into(),
            messages: Vec::new(),
        }
    }

    #[test]
    fn trace_id_depends_on_content_not_origin() {
        let a = trace(Some("diff"));
        let mut b = a.clone();
        b.origin = "elsewhere".into();
        assert_eq!(a.compute_id(), b.compute_id());
        assert_ne!(a.compute_id(), trace(Some("other diff")).compute_id());
        assert!(a.compute_id().starts_with("tr-"));
    }

    #[test]
    fn empty_patch_is_no_patch() {
        assert!(!trace(Some("  \n")).has_patch());
        assert!(!trace(None).has_patch());
        assert!(trace(Some("diff --git a/x b/x")).has_patch());
    }

    #[test]
    fn report_label_is_not_inferred_and_counts_tests() {
        let r = EvalReport {
            instance_id: "x".into(),
            source: SourceFormat::SweBenchReport,
            resolved: false,
            outcome: Outcome::Unresolved,
            failure: Some(FailureReason::FailToPassStillFailing),
            fail_to_pass_success: vec![],
            fail_to_pass_failure: vec!["t1".into(), "t2".into()],
            pass_to_pass_success: vec!["p".into()],
            pass_to_pass_failure: vec![],
            run: None,
            patch: None,
            origin: "r.json".into(),
        };
        let l = r.label();
        assert!(!l.inferred);
        assert_eq!(l.outcome, Outcome::Unresolved);
        assert!(l.reason.contains("F2P 0/2"), "{}", l.reason);
    }

    #[test]
    fn task_id_is_stable() {
        assert_eq!(Task::compute_id("abc", "p"), Task::compute_id("abc", "p"));
        assert_ne!(Task::compute_id("abc", "p"), Task::compute_id("abd", "p"));
    }
}

/// A repository's environment, as built in its environment image: the image, the install
/// commands that worked, which tests pass on the clean tree, and the coverage map (file → line →
/// tests). Kept in the store and recorded inside the image (`/opt/socratic/environment.json`),
/// both as this JSON shape.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Environment {
    pub repo: String,
    pub head: String,
    pub image: String,
    pub base_image: String,
    pub install_commands: Vec<String>,
    /// Every test of the clean run with its status.
    pub clean: BTreeMap<String, TestStatus>,
    /// Seconds each test took on the clean run (for per-candidate timeouts).
    #[serde(default)]
    pub durations: BTreeMap<String, f64>,
    /// `PYTHONPATH` the tests need when the project could not be installed (e.g. `src` layouts
    /// whose optional C extension needs a compiler the image lacks): runs use the source tree.
    #[serde(default)]
    pub python_path: Option<String>,
    /// Install steps that failed and were worked around.
    #[serde(default)]
    pub install_notes: Vec<String>,
    /// file (repo-relative) → line (1-based) → tests that executed it.
    pub coverage: BTreeMap<String, BTreeMap<u32, Vec<String>>>,
    pub build_ms: u64,
    /// Test files that failed to import on the clean tree → the first line of the error (their
    /// tests are not in `clean`; the rest of the suite ran).
    #[serde(default)]
    pub collection_errors: BTreeMap<String, String>,
    /// Distributions the repair loop added for modules the tests could not import, with the
    /// module that named them and whether pip installed them.
    #[serde(default)]
    pub repairs: Vec<String>,
    /// The project's packages: repository path (`src/pkg`, `six.py`) → import name (`pkg`,
    /// `six`). Coverage is measured on these; module names in problem statements come from them.
    #[serde(default)]
    pub packages: BTreeMap<String, String>,
    /// Arguments every pytest run in this environment adds (e.g. `-n 0` where the project's
    /// `addopts` asks for xdist workers).
    #[serde(default)]
    pub pytest_args: Vec<String>,
    /// Known-flaky tests: their outcome differed between runs of the clean suite on the same
    /// tree → the outcomes seen (`passed, failed`). Not in `passing()`, so never PASS_TO_PASS
    /// and never selected to validate a candidate.
    #[serde(default)]
    pub flaky: BTreeMap<String, String>,
    /// Where the install steps came from: the rules, the repository's `.socratic/env.toml`, or
    /// the setup agent (its model, turns and the commands that worked).
    #[serde(default)]
    pub recipe_source: RecipeSource,
    /// Set when the clean run measured executed lines without per-test contexts (a suite too
    /// large or too slow for them): why. Every executed line then maps to no test, and
    /// validation selects tests by module instead of by line.
    #[serde(default)]
    pub coverage_note: Option<String>,
}

/// Where an environment's install steps came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum RecipeSource {
    /// What the project declares (`sandbox::recipe`).
    #[default]
    Rules,
    /// The repository's committed install recipe, `.socratic/env.toml`.
    File,
    /// The setup agent, asked because the build was refused: the model, the turns it took, the
    /// commands of its that succeeded (in order; written to `.socratic/env.toml` with the
    /// install commands before them).
    Agent { model: String, turns: u32, commands: Vec<String> },
}

impl RecipeSource {
    /// One line for `env show`.
    pub fn describe(&self) -> String {
        match self {
            RecipeSource::Rules => "rules (what the project declares)".into(),
            RecipeSource::File => ".socratic/env.toml".into(),
            RecipeSource::Agent { model, turns, commands } => format!(
                "setup agent ({model}, {turns} turn{}, {} command{} kept; saved to .socratic/env.toml)",
                if *turns == 1 { "" } else { "s" },
                commands.len(),
                if commands.len() == 1 { "" } else { "s" }
            ),
        }
    }
}

impl Environment {
    /// Tests that pass on the clean tree, known-flaky ones left out.
    pub fn passing(&self) -> Vec<String> {
        self.clean
            .iter()
            .filter(|(t, s)| **s == TestStatus::Passed && !self.flaky.contains_key(*t))
            .map(|(t, _)| t.clone())
            .collect()
    }

    /// Lines the clean suite executed, per file (for generating only where a test can notice).
    pub fn executed_lines(&self) -> BTreeMap<String, std::collections::BTreeSet<u32>> {
        self.coverage.iter().map(|(file, lines)| (file.clone(), lines.keys().copied().collect())).collect()
    }

    pub fn pass_rate(&self) -> f64 {
        if self.clean.is_empty() {
            0.0
        } else {
            self.passing().len() as f64 / self.clean.len() as f64
        }
    }

    /// The dotted module name of a repository file: from the package that holds it (`src/pkg/a.py`
    /// → `pkg.a`, `src/pkg/__init__.py` → `pkg`), else from the path.
    pub fn module_name(&self, file: &str) -> String {
        module_name(file, &self.packages)
    }

    /// Environment variables a test run in this environment needs.
    pub fn run_env(&self) -> Vec<String> {
        let mut vars: Vec<String> = self.python_path.iter().map(|p| format!("PYTHONPATH={p}")).collect();
        if !self.pytest_args.is_empty() {
            vars.push(format!("SOCRATIC_PYTEST_ARGS={}", self.pytest_args.join(" ")));
        }
        vars
    }
}

/// The dotted module name of `file` given packages (path → import name); see
/// [`Environment::module_name`].
pub fn module_name(file: &str, packages: &BTreeMap<String, String>) -> String {
    let stem = file.strip_suffix(".py").unwrap_or(file);
    let held = packages.iter().find_map(|(path, name)| {
        let path = path.strip_suffix(".py").unwrap_or(path);
        if stem == path {
            Some(name.clone())
        } else {
            stem.strip_prefix(path).and_then(|r| r.strip_prefix('/')).map(|rest| format!("{name}/{rest}"))
        }
    });
    let dotted = held.unwrap_or_else(|| stem.strip_prefix("src/").unwrap_or(stem).to_string()).replace('/', ".");
    dotted.strip_suffix(".__init__").map(String::from).unwrap_or(dotted)
}

/// One test's result.
#[derive(Debug, Clone, PartialEq)]
pub struct TestResult {
    pub status: TestStatus,
    /// `message` attribute of the failure / error element (exception and assertion text).
    pub message: String,
    /// The `time` attribute: seconds the test took.
    pub seconds: f64,
}

/// True when the run could not collect tests (an import or syntax error at module level).
pub fn has_collection_error(results: &BTreeMap<String, TestResult>) -> bool {
    results.values().any(|r| r.status == TestStatus::Error && r.message.contains("collection failure"))
}
