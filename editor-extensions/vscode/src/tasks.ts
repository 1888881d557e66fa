/**
 * The curriculum as a tree: tasks grouped by state, and the task under the cursor.
 *
 * In: the rows of `socratic.tasks`; diagnostics (source, range, `data`) and a cursor position.
 * Out: groups in a fixed order with their labels, each task's label / description / tooltip /
 * icon name, and the id of the task under the cursor. No `vscode` import.
 */
import type { TaskRow } from "./api";

/** States in the order the tree shows them, with their headings and icons. */
export const STATES: { status: string; heading: string; icon: string }[] = [
  { status: "accepted", heading: "Accepted", icon: "pass-filled" },
  { status: "scored", heading: "Scored", icon: "star-full" },
  { status: "valid", heading: "Valid", icon: "verified" },
  { status: "candidate", heading: "Candidates", icon: "circle-large-outline" },
  { status: "stale", heading: "Stale", icon: "history" },
  { status: "invalid", heading: "Invalid", icon: "error" },
  { status: "rejected", heading: "Rejected", icon: "circle-slash" },
];

export interface Group {
  status: string;
  label: string;
  icon: string;
  tasks: TaskRow[];
}

/** Non-empty groups, in `STATES` order (unknown states last, by name). */
export function groupTasks(rows: TaskRow[]): Group[] {
  const by = new Map<string, TaskRow[]>();
  for (const r of rows) {
    const list = by.get(r.status) ?? [];
    list.push(r);
    by.set(r.status, list);
  }
  const groups: Group[] = [];
  for (const s of STATES) {
    const tasks = by.get(s.status);
    if (tasks) groups.push({ status: s.status, label: `${s.heading} (${tasks.length})`, icon: s.icon, tasks });
    by.delete(s.status);
  }
  for (const status of [...by.keys()].sort()) {
    const tasks = by.get(status) ?? [];
    groups.push({ status, label: `${status} (${tasks.length})`, icon: "question", tasks });
  }
  return groups;
}

/** The skill when the task came from one, else the operator. */
export function code(row: TaskRow): string {
  return row.skill ?? row.operator;
}

export function taskLabel(row: TaskRow): string {
  return `${code(row)}: ${row.statement}`;
}

export function taskDescription(row: TaskRow): string {
  return `${row.file}:${row.line}`;
}

export function taskTooltip(row: TaskRow, attempt: string | null): string {
  const lines = [
    `${row.id} — ${row.status}${attempt === row.id ? " (attempt running)" : ""}`,
    `operator: ${row.operator}`,
    ...(row.skill ? [`skill: ${row.skill}`] : []),
    `at: ${row.file}:${row.line}${row.enclosing ? ` in ${row.enclosing}` : ""}`,
    "",
    row.statement,
  ];
  return lines.join("\n");
}

/** The context value menus match on: `task:<status>`. */
export function contextValue(row: TaskRow): string {
  return `task:${row.status}`;
}

export interface Position {
  line: number;
  character: number;
}
export interface DiagnosticLike {
  source?: string;
  range: { start: Position; end: Position };
  data?: unknown;
}

function before(a: Position, b: Position): boolean {
  return a.line < b.line || (a.line === b.line && a.character <= b.character);
}

/**
 * The task id of the socratic diagnostic under `pos`: the innermost one whose range holds it,
 * else the first one starting later on the same line, else the first one on that line.
 */
export function taskAt(diagnostics: DiagnosticLike[], pos: Position): string | undefined {
  const ours = diagnostics.filter((d) => d.source === "socratic" && typeof d.data === "string" && d.data !== "");
  const holding = ours.filter((d) => before(d.range.start, pos) && before(pos, d.range.end));
  holding.sort((a, b) => (before(a.range.start, b.range.start) ? 1 : -1));
  if (holding.length > 0) return holding[0].data as string;
  const onLine = ours.filter((d) => d.range.start.line <= pos.line && pos.line <= d.range.end.line);
  const later = onLine.filter((d) => d.range.start.line === pos.line && d.range.start.character > pos.character);
  later.sort((a, b) => a.range.start.character - b.range.start.character);
  const pick = later[0] ?? onLine[0];
  return pick ? (pick.data as string) : undefined;
}
