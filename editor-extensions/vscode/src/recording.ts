/**
 * Terminal commands of an attempt, as `socratic/recordEvent` events.
 *
 * In: shell executions as VS Code's shell integration reports them (a start with the command
 * line and a stream of output, an end with the exit code), and whether an attempt runs. Out:
 * one `{kind: "command", command, exitCode, output}` event per execution that started while an
 * attempt ran, handed to `send`; output is stripped of terminal escapes and kept to its first
 * and last `limit` / 2 characters. No `vscode` import: the extension passes the executions in.
 */
import type { EditorEvent } from "./api";

/** Remove ANSI / VT escape sequences (CSI, OSC, charset selection) and carriage returns. */
export function stripAnsi(text: string): string {
  return text
    .replace(/\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)/g, "")
    .replace(/\x1b\[[0-?]*[ -/]*[@-~]/g, "")
    .replace(/\x1b[()][0-9A-Za-z]/g, "")
    .replace(/\x1b[=>78]/g, "")
    .replace(/\r(?!\n)/g, "\n")
    .replace(/\r\n/g, "\n");
}

/** The head and tail of a long text, joined by a marker. */
export function excerpt(text: string, limit: number): string {
  if (text.length <= limit) return text;
  const half = Math.floor(limit / 2);
  return `${text.slice(0, half)}\n[... ${text.length - 2 * half} characters left out ...]\n${text.slice(text.length - half)}`;
}

/** The event recorded for one execution. */
export function commandEvent(commandLine: string, exitCode: number | undefined, output: string, limit: number): EditorEvent {
  const event: EditorEvent = { kind: "command", command: commandLine.trim() };
  if (typeof exitCode === "number") event.exitCode = exitCode;
  const cleaned = excerpt(stripAnsi(output), limit).trim();
  if (cleaned !== "") event.output = cleaned;
  return event;
}

interface Running {
  chunks: string[];
  size: number;
  /** Resolves when the output stream ended (or reading gave up). */
  drained: Promise<void>;
}

/**
 * Follows executions from start to end. Keys are the execution objects VS Code hands out
 * (the same object at start and end).
 */
export class ShellRecorder {
  private readonly running = new Map<object, Running>();

  /**
   * @param send      where events go (e.g. `SocraticApi.record`)
   * @param recording whether an attempt runs now (and recording is switched on)
   * @param limit     the most output characters kept per command
   * @param drainMs   how long to wait at the end for output still in flight
   */
  constructor(
    private readonly send: (e: EditorEvent) => unknown,
    private readonly recording: () => boolean,
    private readonly limit = 8000,
    private readonly drainMs = 500,
  ) {}

  /** An execution started; its output is read from `output` when an attempt runs. */
  started(execution: object, output?: AsyncIterable<string>): void {
    if (!this.recording()) return;
    const run: Running = { chunks: [], size: 0, drained: Promise.resolve() };
    if (output) {
      run.drained = (async () => {
        try {
          for await (const chunk of output) {
            // keep the head and a rolling tail once over the limit
            run.chunks.push(chunk);
            run.size += chunk.length;
            while (run.size > this.limit * 2 && run.chunks.length > 2) {
              const dropped = run.chunks.splice(1, 1)[0];
              run.size -= dropped.length;
            }
          }
        } catch {
          // the terminal went away: keep what was read
        }
      })();
    }
    this.running.set(execution, run);
  }

  /**
   * An execution ended: send its event when it started during an attempt. Resolves to the
   * event sent, or undefined.
   */
  async ended(execution: object, commandLine: string, exitCode: number | undefined): Promise<EditorEvent | undefined> {
    const run = this.running.get(execution);
    this.running.delete(execution);
    if (!run || commandLine.trim() === "") return undefined;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([run.drained, new Promise<void>((r) => (timer = setTimeout(r, this.drainMs)))]);
    clearTimeout(timer);
    const event = commandEvent(commandLine, exitCode, run.chunks.join(""), this.limit);
    await this.send(event);
    return event;
  }

  /** How many executions are being followed. */
  get size(): number {
    return this.running.size;
  }
}
