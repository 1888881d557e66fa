/**
 * What the extension asks the socratic language server, and how.
 *
 * In: a `Transport` (the language client in VS Code; a JSON-RPC connection in the tests) and
 * task ids. Out: `workspace/executeCommand` requests (`socratic.accept`, `socratic.reject`,
 * `socratic.round`, `socratic.evolve`, `socratic.startAttempt`, `socratic.attemptRunTests`,
 * `socratic.finishAttempt`, `socratic.abandonAttempt`, `socratic.showPatch`, `socratic.tasks`) and `socratic/recordEvent` notifications, with the arguments and results
 * the protocol schema gives them (`protocol.ts`, generated from the schema, which the server's
 * types generate), and the messages that show results. No `vscode` import.
 */
import type {
  AttemptAbandoned,
  AttemptFinished,
  AttemptStarted,
  AttemptTests,
  EditorEvent,
  EvolveSummary,
  RoundSummary,
  SocraticProtocol,
  StatusChanged,
  TaskList,
  TaskPatch,
  TaskRow,
} from "./protocol";

export type { AttemptAbandoned, AttemptFinished, AttemptStarted, AttemptTests, EditorEvent, EvolveSummary, RoundSummary, StatusChanged, TaskList, TaskPatch, TaskRow };

/** How requests reach the server. */
export interface Transport {
  /** `workspace/executeCommand` with `command` and `args`; resolves to the result. */
  executeCommand(command: string, args: unknown[]): Promise<unknown>;
  /** A notification. */
  notify(method: string, params: unknown): void | Promise<void>;
}

/** The server's commands, their arguments and results (from the schema). */
export type ServerCommand = keyof SocraticProtocol["commands"];
export type ArgumentsOf<C extends ServerCommand> = SocraticProtocol["commands"][C]["arguments"];
export type ResultOf<C extends ServerCommand> = SocraticProtocol["commands"][C]["result"];

/** The notification of an event during an attempt. */
export const RECORD_EVENT = "socratic/recordEvent" satisfies keyof SocraticProtocol["notifications"];

/** The server's command for each of the extension's task commands. */
export const SERVER_COMMANDS = {
  "socratic.acceptTask": "socratic.accept",
  "socratic.rejectTask": "socratic.reject",
  "socratic.startTaskAttempt": "socratic.startAttempt",
  "socratic.runAttemptTests": "socratic.attemptRunTests",
  "socratic.finishTaskAttempt": "socratic.finishAttempt",
  "socratic.abandonTaskAttempt": "socratic.abandonAttempt",
  "socratic.runRound": "socratic.round",
  "socratic.runEvolve": "socratic.evolve",
  "socratic.showTaskPatch": "socratic.showPatch",
  "socratic.refreshTasks": "socratic.tasks",
} as const satisfies Record<string, ServerCommand>;

export type ExtensionCommand = keyof typeof SERVER_COMMANDS;

/** A server request: a command and arguments the schema allows for it. */
export type Request = { [C in ServerCommand]: { command: C; arguments: ArgumentsOf<C> } }[ServerCommand];

/** The `workspace/executeCommand` params of an extension command and its argument (a task id). */
export function requestFor(command: ExtensionCommand, arg?: string): Request {
  switch (command) {
    case "socratic.acceptTask":
    case "socratic.rejectTask":
    case "socratic.startTaskAttempt":
    case "socratic.showTaskPatch":
      if (!arg) throw new Error(`${command} needs a task id`);
      return { command: SERVER_COMMANDS[command], arguments: [arg] };
    case "socratic.runRound":
      return { command: SERVER_COMMANDS[command], arguments: [] };
    case "socratic.runEvolve":
      return { command: SERVER_COMMANDS[command], arguments: [] };
    case "socratic.runAttemptTests":
    case "socratic.finishTaskAttempt":
    case "socratic.abandonTaskAttempt":
      return { command: SERVER_COMMANDS[command], arguments: arg ? [arg] : [] };
    case "socratic.refreshTasks":
      return { command: SERVER_COMMANDS[command], arguments: [] };
  }
}

/** What a finished (or stopped) round shows: `round 3: 40 candidates, 17 valid, 2 kept`. */
export function roundMessage(r: RoundSummary): string {
  const stopped = r.step === "done" ? "" : ` (stopped before ${r.step})`;
  return `round ${r.number}: ${r.candidates} candidates, ${r.valid} valid, ${r.kept.length} kept${stopped}`;
}

/** The problem statement of a started attempt as Markdown (the document shown beside the code). */
export function problemMarkdown(a: AttemptStarted): string {
  const tests = a.failToPass.map((t) => `- \`${t}\``).join("\n");
  return `# socratic attempt ${a.attemptId}\n\nTask \`${a.id}\`, file \`${a.path}\` (lines ${a.range.start.line + 1}-${a.range.end.line + 1}).\n\n${a.problemStatement.trim()}\n\n## Failing tests\n\n${tests}\n\nRun them with **socratic: Run Failing Tests**; grade the attempt with **socratic: Finish Attempt**.\n`;
}

/** What a test run shows: `tests failed: 0/2 passed` (and why a run broke). */
export function testsMessage(r: AttemptTests): string {
  const detail = r.detail ? ` (${r.detail})` : "";
  return `tests ${r.outcome}: ${r.passed}/${r.passed + r.failed} passed${detail}`;
}

/** What a finished attempt shows: `attempt at t-… graded resolved (why); trace tr-…`. */
export function finishedMessage(r: AttemptFinished): string {
  return `attempt at ${r.id} graded ${r.label} (${r.reason}); trace ${r.trace}`;
}

/** A resolve rate in [0, 1] as `40%` (`-` when there is none). */
function percent(rate: number | null | undefined): string {
  return typeof rate === "number" ? `${Math.round(rate * 100)}%` : "-";
}

/** What a finished evolve run shows: `evolve run 1: 3 rounds, held-out resolve rate 40%`. */
export function evolveMessage(s: EvolveSummary): string {
  const random = s.randomWeights ? " (random-weights model: not a signal)" : "";
  return `evolve run ${s.run}: ${s.rounds.length} rounds, held-out resolve rate ${percent(s.heldOutRate)}${random}`;
}

/** The status bar's part for the latest held-out resolve rate: `held-out 40%` (`?` after it on a
 * random-weights model), or "" before any. */
export function heldOutStatus(s: EvolveSummary | null): string {
  if (!s || typeof s.heldOutRate !== "number") return "";
  return `held-out ${percent(s.heldOutRate)}${s.randomWeights ? "?" : ""}`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null;
}

/** Check the shape of a `socratic.tasks` answer. */
export function parseTaskList(v: unknown): TaskList {
  if (!isObject(v) || !Array.isArray(v.tasks)) throw new Error("socratic.tasks: unexpected answer");
  const tasks = v.tasks.filter((t): t is TaskRow => isObject(t) && typeof t.id === "string" && typeof t.file === "string" && typeof t.line === "number");
  return {
    root: typeof v.root === "string" ? v.root : null,
    attempt: typeof v.attempt === "string" ? v.attempt : null,
    tasks,
  };
}

/** The server's commands, typed, over a transport. Remembers the attempt this client started. */
export class SocraticApi {
  /** The task of the running attempt, as far as this client knows. */
  attempt: string | null = null;
  /** The running attempt this client started (null when it knows of none, or only its task). */
  started: AttemptStarted | null = null;

  constructor(private readonly transport: Transport) {}

  /** `command` with its arguments; the result as the schema types it. */
  private async run<C extends ServerCommand>(command: C, args: ArgumentsOf<C>): Promise<ResultOf<C>> {
    return (await this.transport.executeCommand(command, args)) as ResultOf<C>;
  }

  accept(id: string): Promise<StatusChanged> {
    return this.run("socratic.accept", [id]);
  }

  reject(id: string): Promise<StatusChanged> {
    return this.run("socratic.reject", [id]);
  }

  /** A round on the workspace. */
  round(): Promise<RoundSummary> {
    return this.run("socratic.round", []);
  }

  /** An evolve run on the workspace (resumed when one is unfinished). */
  evolve(): Promise<EvolveSummary> {
    return this.run("socratic.evolve", []);
  }

  showPatch(id: string): Promise<TaskPatch> {
    return this.run("socratic.showPatch", [id]);
  }

  /** Start an attempt: the server makes a scratch checkout of the task's bugged tree. */
  async startAttempt(id: string): Promise<AttemptStarted> {
    const r = await this.run("socratic.startAttempt", [id]);
    this.attempt = r.id;
    this.started = r;
    return r;
  }

  /** The running attempt's id argument (none: the server takes this editor's). */
  private attemptArg(): [] | [string] {
    return this.started ? [this.started.attemptId] : [];
  }

  /** Run the attempt's FAIL_TO_PASS tests in the task's container. */
  runAttemptTests(): Promise<AttemptTests> {
    return this.run("socratic.attemptRunTests", this.attemptArg());
  }

  /** Grade the attempt like `socratic solve`; the server stores it as a trace. A failure (no
   * environment image, ...) leaves the attempt running. */
  async finishAttempt(): Promise<AttemptFinished> {
    const r = await this.run("socratic.finishAttempt", this.attemptArg());
    this.attempt = null;
    this.started = null;
    return r;
  }

  /** Drop the attempt and its checkout. */
  async abandonAttempt(): Promise<AttemptAbandoned> {
    const r = await this.run("socratic.abandonAttempt", this.attemptArg());
    this.attempt = null;
    this.started = null;
    return r;
  }

  /** The workspace's tasks; also refreshes what this client knows of the attempt. */
  async tasks(): Promise<TaskList> {
    const list = parseTaskList(await this.run("socratic.tasks", []));
    this.attempt = list.attempt;
    if (this.started && this.started.id !== list.attempt) this.started = null;
    return list;
  }

  /** Follow a command run some other way (a code action): the attempt starts or ends. */
  observe(serverCommand: string, result: unknown): void {
    if (serverCommand === "socratic.startAttempt" && isObject(result) && typeof result.id === "string") {
      this.attempt = result.id;
      this.started = typeof result.attemptId === "string" ? (result as unknown as AttemptStarted) : null;
    } else if (serverCommand === "socratic.finishAttempt" || serverCommand === "socratic.abandonAttempt") {
      this.attempt = null;
      this.started = null;
    }
  }

  /** Send an event to the running attempt; false (nothing sent) when none runs. */
  async record(event: EditorEvent): Promise<boolean> {
    if (this.attempt === null) return false;
    await this.transport.notify(RECORD_EVENT, event);
    return true;
  }
}
