/**
 * What the extension asks the socratic language server, and how.
 *
 * In: a `Transport` (the language client in VS Code; a JSON-RPC connection in the tests) and
 * task ids / file URIs. Out: `workspace/executeCommand` requests (`socratic.accept`,
 * `socratic.reject`, `socratic.round`, `socratic.startAttempt`, `socratic.finishAttempt`,
 * `socratic.showPatch`, `socratic.tasks`) and `socratic/recordEvent` notifications, with typed
 * results. No `vscode` import.
 */

/** How requests reach the server. */
export interface Transport {
  /** `workspace/executeCommand` with `command` and `args`; resolves to the result. */
  executeCommand(command: string, args: unknown[]): Promise<unknown>;
  /** A notification. */
  notify(method: string, params: unknown): void | Promise<void>;
}

/** One row of `socratic.tasks`. */
export interface TaskRow {
  id: string;
  repo: string;
  /** Relative to the repository root. */
  file: string;
  uri: string | null;
  /** 1-based. */
  line: number;
  /** 1-based, UTF-8 bytes. */
  column: number;
  status: string;
  operator: string;
  skill: string | null;
  enclosing: string;
  statement: string;
}

export interface TaskList {
  root: string | null;
  attempt: string | null;
  tasks: TaskRow[];
}

export interface StatusResult {
  id: string;
  status: string;
}
export interface RoundResult {
  generated: number;
  added: number;
  file: string | null;
  validation?: string;
}
export interface AttemptStarted {
  id: string;
  attempt: string;
}
export interface AttemptFinished {
  id: string;
  trace: string;
  label: string;
}
export interface PatchResult {
  id: string;
  patch: string;
}

/** What `socratic/recordEvent` carries. */
export interface RecordedEvent {
  kind: "command" | "test_run" | "message";
  command?: string;
  exitCode?: number;
  output?: string;
  text?: string;
}

/** The server's command for each of the extension's task commands. */
export const SERVER_COMMANDS = {
  "socratic.acceptTask": "socratic.accept",
  "socratic.rejectTask": "socratic.reject",
  "socratic.startTaskAttempt": "socratic.startAttempt",
  "socratic.finishTaskAttempt": "socratic.finishAttempt",
  "socratic.runRound": "socratic.round",
  "socratic.showTaskPatch": "socratic.showPatch",
  "socratic.refreshTasks": "socratic.tasks",
} as const;

export type ExtensionCommand = keyof typeof SERVER_COMMANDS;

/** The `workspace/executeCommand` params of an extension command and its argument. */
export function requestFor(command: ExtensionCommand, arg?: string): { command: string; arguments: unknown[] } {
  const server = SERVER_COMMANDS[command];
  switch (command) {
    case "socratic.acceptTask":
    case "socratic.rejectTask":
    case "socratic.startTaskAttempt":
    case "socratic.showTaskPatch":
      if (!arg) throw new Error(`${command} needs a task id`);
      return { command: server, arguments: [arg] };
    case "socratic.runRound":
      return { command: server, arguments: arg ? [arg] : [] };
    case "socratic.finishTaskAttempt":
    case "socratic.refreshTasks":
      return { command: server, arguments: [] };
  }
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

  constructor(private readonly transport: Transport) {}

  private async run<T>(command: ExtensionCommand, arg?: string): Promise<T> {
    const req = requestFor(command, arg);
    return (await this.transport.executeCommand(req.command, req.arguments)) as T;
  }

  accept(id: string): Promise<StatusResult> {
    return this.run("socratic.acceptTask", id);
  }

  reject(id: string): Promise<StatusResult> {
    return this.run("socratic.rejectTask", id);
  }

  /** A round on the workspace (or one file's URI). */
  round(uri?: string): Promise<RoundResult> {
    return this.run("socratic.runRound", uri);
  }

  showPatch(id: string): Promise<PatchResult> {
    return this.run("socratic.showTaskPatch", id);
  }

  async startAttempt(id: string): Promise<AttemptStarted> {
    const r = await this.run<AttemptStarted>("socratic.startTaskAttempt", id);
    this.attempt = r.id;
    return r;
  }

  async finishAttempt(): Promise<AttemptFinished> {
    try {
      return await this.run<AttemptFinished>("socratic.finishTaskAttempt");
    } finally {
      this.attempt = null;
    }
  }

  /** The workspace's tasks; also refreshes what this client knows of the attempt. */
  async tasks(): Promise<TaskList> {
    const list = parseTaskList(await this.run("socratic.refreshTasks"));
    this.attempt = list.attempt;
    return list;
  }

  /** Follow a command run some other way (a code action): the attempt starts or ends. */
  observe(serverCommand: string, result: unknown): void {
    if (serverCommand === "socratic.startAttempt" && isObject(result) && typeof result.id === "string") {
      this.attempt = result.id;
    } else if (serverCommand === "socratic.finishAttempt") {
      this.attempt = null;
    }
  }

  /** Send an event to the running attempt; false (nothing sent) when none runs. */
  async record(event: RecordedEvent): Promise<boolean> {
    if (this.attempt === null) return false;
    await this.transport.notify("socratic/recordEvent", event);
    return true;
  }
}
