/**
 * The daemon state the status bar shows.
 *
 * In: the exit code and output of `socratic daemon status`, the settings, the language
 * client's state and the running attempt. Out: a parsed `DaemonState` and the status bar's
 * text and tooltip. No `vscode` import.
 */

export type DaemonState =
  | { kind: "running"; pid?: number; detail: string }
  | { kind: "stopped"; detail: string }
  | { kind: "standalone"; detail: string }
  | { kind: "unknown"; detail: string };

/** `socratic daemon status`: exit 0 and `running pid=N ...`, or exit 1 and `not running`. */
export function parseDaemonStatus(exitCode: number | null, stdout: string, stderr = ""): DaemonState {
  const out = stdout.trim();
  if (exitCode === 0 && out.startsWith("running")) {
    const pid = /pid=(\d+)/.exec(out);
    return { kind: "running", pid: pid ? Number(pid[1]) : undefined, detail: out };
  }
  if (exitCode === 1 && out.startsWith("not running")) return { kind: "stopped", detail: out };
  return { kind: "unknown", detail: (out + (stderr.trim() ? `\n${stderr.trim()}` : "")).trim() || `exit code ${exitCode}` };
}

export type ClientState = "starting" | "running" | "stopped";

/** The status bar item: `$(icon) socratic[: attempt t-…][ · held-out 40%]` and a tooltip with
 * the details (`heldOut`: the latest evolve run's held-out part, see `heldOutStatus`). */
export function statusBar(
  daemon: DaemonState,
  client: ClientState,
  attempt: string | null,
  binary?: string,
  heldOut = "",
): { text: string; tooltip: string } {
  const icon = client === "running" ? "$(mortar-board)" : client === "starting" ? "$(loading~spin)" : "$(circle-slash)";
  const base = attempt ? `${icon} socratic: attempt ${attempt}` : `${icon} socratic`;
  const text = heldOut ? `${base} · ${heldOut}` : base;
  const daemonLine =
    daemon.kind === "running"
      ? `daemon: running${daemon.pid ? ` (pid ${daemon.pid})` : ""}`
      : daemon.kind === "stopped"
        ? "daemon: not running (started with the language server)"
        : daemon.kind === "standalone"
          ? "daemon: not used (standalone)"
          : `daemon: unknown — ${daemon.detail}`;
  const tooltip = [
    `language server: ${client}`,
    daemonLine,
    ...(attempt ? [`attempt: ${attempt}`] : []),
    ...(heldOut ? [`evolve: ${heldOut} (the latest round's held-out resolve rate${heldOut.endsWith("?") ? "; random-weights model, not a signal" : ""})`] : []),
    binary ? `binary: ${binary}` : "binary: not found (set socratic.path)",
  ].join("\n");
  return { text, tooltip };
}
