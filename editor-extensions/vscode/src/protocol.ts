/**
 * The socratic editor protocol's types, generated from
 * editor-extensions/protocol/socratic-protocol.schema.json by `npm run protocol`; do not edit.
 * (The schema itself is generated from daemon/src/lsp/protocol.rs.)
 */

/**
 * An attempt named by its id: `"ID"`, or `{"attemptId": "ID"}` (`id` is read as well).
 *
 * This interface was referenced by `SocraticProtocol`'s JSON-Schema
 * via the `definition` "AttemptId".
 */
export type AttemptId =
  | string
  | {
      attemptId: string;
    };
/**
 * A task named by its id: `"ID"`, or `{"id": "ID"}` (`taskId` is read as well).
 *
 * This interface was referenced by `SocraticProtocol`'s JSON-Schema
 * via the `definition` "TaskId".
 */
export type TaskId =
  | string
  | {
      id: string;
    };
/**
 * The user's decision about a task (CLI `curriculum accept|reject`, the editors' code actions).
 * Only the user changes it; the pipeline never does.
 *
 * This interface was referenced by `SocraticProtocol`'s JSON-Schema
 * via the `definition` "Decision".
 */
export type Decision = "none" | "accepted" | "rejected";
/**
 * A Python file of the workspace by its URI: `"file:///…"` or `{"uri": "file:///…"}`.
 *
 * This interface was referenced by `SocraticProtocol`'s JSON-Schema
 * via the `definition` "DocumentUri".
 */
export type DocumentUri =
  | string
  | {
      uri: string;
    };
/**
 * Whether the code a task was generated from is still at its site in the working tree. An
 * edit or a checkout that touches the site makes it stale; the task itself (its patch at its
 * base commit) stays as good as it was.
 *
 * This interface was referenced by `SocraticProtocol`'s JSON-Schema
 * via the `definition` "AnchorState".
 */
export type AnchorState = "fresh" | "stale";
/**
 * What an editor event is.
 *
 * This interface was referenced by `SocraticProtocol`'s JSON-Schema
 * via the `definition` "EditorEventKind".
 */
export type EditorEventKind = "command" | "test_run" | "message";

/**
 * The socratic editor protocol: the workspace/executeCommand commands of `socratic lsp` (arguments and result) and the notifications editors send. Generated from daemon/src/lsp/protocol.rs; do not edit.
 */
export interface SocraticProtocol {
  commands: {
    /**
     * Drop the attempt and its checkout; nothing is stored (no argument: this editor's attempt).
     */
    "socratic.abandonAttempt": {
      /**
       * @maxItems 1
       */
      arguments: [] | [AttemptId];
      result: AttemptAbandoned;
    };
    /**
     * Accept a task into the curriculum.
     */
    "socratic.accept": {
      /**
       * @minItems 1
       * @maxItems 1
       */
      arguments: [TaskId];
      result: StatusChanged;
    };
    /**
     * Run the attempt's FAIL_TO_PASS tests in the task's container (no argument: this editor's attempt).
     */
    "socratic.attemptRunTests": {
      /**
       * @maxItems 1
       */
      arguments: [] | [AttemptId];
      result: AttemptTests;
    };
    /**
     * Run an evolve run on the workspace (round, solve, held-out, train per round), or resume it.
     */
    "socratic.evolve": {
      /**
       * @maxItems 1
       */
      arguments: [] | [EvolveArguments];
      result: EvolveSummary;
    };
    /**
     * Grade the attempt like `socratic solve` and store it as a trace (no argument: this editor's attempt).
     */
    "socratic.finishAttempt": {
      /**
       * @maxItems 1
       */
      arguments: [] | [AttemptId];
      result: AttemptFinished;
    };
    /**
     * Generate tasks in one Python file of the workspace, or in the whole workspace.
     */
    "socratic.generate": {
      /**
       * @maxItems 1
       */
      arguments: [] | [DocumentUri];
      result: Generated;
    };
    /**
     * Reject a task for good.
     */
    "socratic.reject": {
      /**
       * @minItems 1
       * @maxItems 1
       */
      arguments: [TaskId];
      result: StatusChanged;
    };
    /**
     * Run a round of the loop on the workspace (or resume the unfinished one).
     */
    "socratic.round": {
      /**
       * @maxItems 1
       */
      arguments: [] | [RoundArguments];
      result: RoundSummary;
    };
    /**
     * A task's bug patch.
     */
    "socratic.showPatch": {
      /**
       * @minItems 1
       * @maxItems 1
       */
      arguments: [TaskId];
      result: TaskPatch;
    };
    /**
     * Start an attempt at a task on a scratch checkout of its bugged tree.
     */
    "socratic.startAttempt": {
      /**
       * @minItems 1
       * @maxItems 1
       */
      arguments: [TaskId];
      result: AttemptStarted;
    };
    /**
     * The tasks of the workspace (or of every repository), as editors list them.
     */
    "socratic.tasks": {
      /**
       * @maxItems 1
       */
      arguments: [] | [TaskListArguments];
      result: TaskList;
    };
  };
  notifications: {
    /**
     * Something that happened in the editor during an attempt (ignored when none runs).
     */
    "socratic/recordEvent": {
      params: EditorEvent;
    };
  };
}
/**
 * `socratic.abandonAttempt`: the attempt and its checkout are gone; nothing was stored.
 *
 * This interface was referenced by `SocraticProtocol`'s JSON-Schema
 * via the `definition` "AttemptAbandoned".
 */
export interface AttemptAbandoned {
  attemptId: string;
  /**
   * The task attempted.
   */
  id: string;
}
/**
 * A task's new status (`socratic.accept`, `socratic.reject`).
 *
 * This interface was referenced by `SocraticProtocol`'s JSON-Schema
 * via the `definition` "StatusChanged".
 */
export interface StatusChanged {
  decision: Decision;
  id: string;
  /**
   * The pipeline stage, unchanged by a decision.
   */
  stage: string;
  /**
   * The state word: `accepted`, `rejected`, ….
   */
  status: string;
}
/**
 * `socratic.attemptRunTests`: the FAIL_TO_PASS tests on the attempt's current tree.
 *
 * This interface was referenced by `SocraticProtocol`'s JSON-Schema
 * via the `definition` "AttemptTests".
 */
export interface AttemptTests {
  attemptId: string;
  /**
   * Why a run is `broken`.
   */
  detail: string | null;
  failed: number;
  /**
   * The task attempted.
   */
  id: string;
  /**
   * `passed` (every test passed), `failed`, `broken` (the tree did not apply or the runner
   * failed: see `detail`), `timed-out`.
   */
  outcome: string;
  passed: number;
  tests: AttemptTest[];
}
/**
 * One test of an attempt's run.
 *
 * This interface was referenced by `SocraticProtocol`'s JSON-Schema
 * via the `definition` "AttemptTest".
 */
export interface AttemptTest {
  /**
   * The pytest node id.
   */
  id: string;
  /**
   * The 0-based line of the test's `def` (null when it was not found).
   */
  line: number | null;
  /**
   * What pytest said about a failure (empty when it passed).
   */
  message: string;
  /**
   * `passed`, `failed`, `error`, `skipped`, or `missing` (the run did not report it).
   */
  status: string;
  /**
   * The test file's `file://` URI in the checkout.
   */
  uri: string | null;
}
/**
 * Options of `socratic.evolve`; each one left out takes the CLI's default (`socratic evolve`).
 *
 * This interface was referenced by `SocraticProtocol`'s JSON-Schema
 * via the `definition` "EvolveArguments".
 */
export interface EvolveArguments {
  /**
   * `line` or `diff`.
   */
  answer?: string | null;
  budget?: number | null;
  /**
   * Epochs of each round's training.
   */
  epochs?: number | null;
  /**
   * Tasks in the held-out set.
   */
  heldOut?: number | null;
  keep?: number | null;
  /**
   * The Solver's model folder (relative to the workspace root).
   */
  model?: string | null;
  /**
   * Rounds of round → solve → held-out → train.
   */
  rounds?: number | null;
  seed?: number | null;
  /**
   * `lm`, `baseline` or `oracle`.
   */
  solver?: string | null;
  /**
   * Validation workers.
   */
  workers?: number | null;
}
/**
 * An evolve run as the editors show it (`socratic.evolve`); `heldOutRate` is the latest round's,
 * what the status lines show.
 *
 * This interface was referenced by `SocraticProtocol`'s JSON-Schema
 * via the `definition` "EvolveSummary".
 */
export interface EvolveSummary {
  /**
   * The latest round's held-out resolve rate (null before one).
   */
  heldOutRate: number | null;
  /**
   * The model has random weights: the rates are no signal.
   */
  randomWeights: boolean;
  repo: string;
  rounds: EvolveRound[];
  run: number;
  /**
   * `running`, `done` or `abandoned`.
   */
  state: string;
}
/**
 * One round of an evolve run as the editors show it.
 *
 * This interface was referenced by `SocraticProtocol`'s JSON-Schema
 * via the `definition` "EvolveRound".
 */
export interface EvolveRound {
  /**
   * The adapter the Solver used (null: the base model).
   */
  adapterHash: string | null;
  /**
   * Resolved ÷ attempted on the round's curriculum (null: nothing attempted).
   */
  curriculumRate: number | null;
  /**
   * Resolved ÷ attempted on the held-out set.
   */
  heldOutRate: number | null;
  /**
   * The loop round it ran as.
   */
  loopRound: number | null;
  /**
   * The last training loss of the adapter trained on the curriculum.
   */
  loss: number | null;
  /**
   * The run's round (1-based).
   */
  round: number;
}
/**
 * `socratic.finishAttempt`: the attempt graded like `socratic solve` and stored as a trace.
 *
 * This interface was referenced by `SocraticProtocol`'s JSON-Schema
 * via the `definition` "AttemptFinished".
 */
export interface AttemptFinished {
  attemptId: string;
  /**
   * FAIL_TO_PASS tests still failing.
   */
  failToPassFailing: string[];
  /**
   * The task attempted.
   */
  id: string;
  /**
   * The verdict: `resolved`, `partial`, `unresolved` or `no-patch`.
   */
  label: string;
  /**
   * PASS_TO_PASS tests the attempt broke.
   */
  passToPassFailing: string[];
  /**
   * The grading's one-line reason (test counts).
   */
  reason: string;
  resolved: boolean;
  /**
   * The stored trace's id.
   */
  trace: string;
}
/**
 * What `socratic.generate` made.
 *
 * This interface was referenced by `SocraticProtocol`'s JSON-Schema
 * via the `definition` "Generated".
 */
export interface Generated {
  /**
   * Of those, new to the store.
   */
  added: number;
  /**
   * The file generated in (relative to the workspace root), or null for the workspace.
   */
  file: string | null;
  /**
   * Candidates generated.
   */
  generated: number;
}
/**
 * Options of `socratic.round` (also read from `initializationOptions.round`); each one left
 * out falls back to the initialization options, then to the CLI's defaults.
 *
 * This interface was referenced by `SocraticProtocol`'s JSON-Schema
 * via the `definition` "RoundArguments".
 */
export interface RoundArguments {
  /**
   * Candidates generated per round.
   */
  budget?: number | null;
  /**
   * Tasks kept per round.
   */
  keep?: number | null;
  /**
   * No skill takes more than this share of the kept tasks (0 < share ≤ 1).
   */
  maxSkillShare?: number | null;
  /**
   * Scoring model folder (relative to the workspace root).
   */
  model?: string | null;
  /**
   * `failures` or a SWE-bench-format JSONL of trusted fixes (relative to the workspace root).
   */
  reference?: string | null;
  /**
   * Base seed; round N generates with `seed + N`.
   */
  seed?: number | null;
  /**
   * Validation workers.
   */
  workers?: number | null;
}
/**
 * A round as the editors show it (`socratic.round`).
 *
 * This interface was referenced by `SocraticProtocol`'s JSON-Schema
 * via the `definition` "RoundSummary".
 */
export interface RoundSummary {
  /**
   * Candidates generated in this round.
   */
  candidates: number;
  /**
   * The task ids the round kept, best first.
   */
  kept: string[];
  /**
   * 1-based round number.
   */
  number: number;
  /**
   * The reference set the rewards were computed against (null before scoring).
   */
  referenceSet: string | null;
  /**
   * The repository (absolute path) the round generated tasks in.
   */
  repo: string;
  /**
   * The seed the round generated with.
   */
  seed: number;
  /**
   * The next step to run: `distill`, `generate`, `validate`, `score`, `select`, or `done`.
   */
  step: string;
  /**
   * Of those, validated as working tasks.
   */
  valid: number;
}
/**
 * A task's bug patch (`socratic.showPatch`).
 *
 * This interface was referenced by `SocraticProtocol`'s JSON-Schema
 * via the `definition` "TaskPatch".
 */
export interface TaskPatch {
  id: string;
  /**
   * The unified diff that introduces the bug.
   */
  patch: string;
}
/**
 * `socratic.startAttempt`: a scratch checkout of the task's bugged tree (no history the fix
 * could be read from) to edit, and where to look.
 *
 * This interface was referenced by `SocraticProtocol`'s JSON-Schema
 * via the `definition` "AttemptStarted".
 */
export interface AttemptStarted {
  /**
   * The attempt, for the other attempt commands.
   */
  attemptId: string;
  /**
   * The tests that fail with the bug (what `socratic.attemptRunTests` runs).
   */
  failToPass: string[];
  /**
   * The `file://` URI of the task's file in the checkout.
   */
  file: string;
  /**
   * The task attempted.
   */
  id: string;
  /**
   * The task's file relative to the checkout.
   */
  path: string;
  problemStatement: string;
  /**
   * The lines the bug changed, in that file.
   */
  range: TextRange;
  /**
   * The checkout's folder (absolute path).
   */
  root: string;
}
/**
 * A span of a file, as LSP's `Range`.
 *
 * This interface was referenced by `SocraticProtocol`'s JSON-Schema
 * via the `definition` "TextRange".
 */
export interface TextRange {
  end: TextPosition;
  start: TextPosition;
}
/**
 * A place in a file: 0-based line and UTF-16 character, as LSP counts.
 *
 * This interface was referenced by `SocraticProtocol`'s JSON-Schema
 * via the `definition` "TextPosition".
 */
export interface TextPosition {
  character: number;
  line: number;
}
/**
 * Options of `socratic.tasks`.
 *
 * This interface was referenced by `SocraticProtocol`'s JSON-Schema
 * via the `definition` "TaskListArguments".
 */
export interface TaskListArguments {
  /**
   * Every repository in the store, not only the workspace's.
   */
  all?: boolean;
}
/**
 * `socratic.tasks`: the rows, sorted by repository, file and line.
 *
 * This interface was referenced by `SocraticProtocol`'s JSON-Schema
 * via the `definition` "TaskList".
 */
export interface TaskList {
  /**
   * The task of the attempt running in this session.
   */
  attempt: string | null;
  /**
   * The workspace's repository root, as the server resolved it.
   */
  root: string | null;
  tasks: TaskRow[];
}
/**
 * One task as editors and `socratic tasks list --json` / `socratic curriculum list --json`
 * list it.
 *
 * This interface was referenced by `SocraticProtocol`'s JSON-Schema
 * via the `definition` "TaskRow".
 */
export interface TaskRow {
  /**
   * Whether the task's code is still at its site in the working tree.
   */
  anchor: AnchorState;
  baseCommit: string;
  /**
   * 1-based, in UTF-8 bytes.
   */
  column: number;
  /**
   * The user's decision.
   */
  decision: Decision;
  /**
   * Dotted name of the enclosing function or class.
   */
  enclosing: string;
  /**
   * Relative to the repository root.
   */
  file: string;
  id: string;
  /**
   * 1-based; where the site is now in a document open in the editor.
   */
  line: number;
  operator: string;
  /**
   * The repository (absolute path) the task was generated in.
   */
  repo: string;
  skill: string | null;
  /**
   * The pipeline stage: `candidate`, `valid`, `invalid`, `scored`.
   */
  stage: string;
  /**
   * The first line of the problem statement.
   */
  statement: string;
  /**
   * The state word: the decision when there is one (`accepted`, `rejected`), else `stale`
   * (also when an edit in this editor cut the site), else the stage.
   */
  status: string;
  /**
   * The file's `file://` URI, when the path makes one.
   */
  uri: string | null;
}
/**
 * What happened in the editor during an attempt (`socratic/recordEvent`).
 *
 * This interface was referenced by `SocraticProtocol`'s JSON-Schema
 * via the `definition` "EditorEvent".
 */
export interface EditorEvent {
  /**
   * The command line (`command`, `test_run`).
   */
  command?: string | null;
  exitCode?: number | null;
  kind: EditorEventKind;
  /**
   * What the command printed.
   */
  output?: string | null;
  /**
   * The text of a `message`.
   */
  text?: string | null;
}
