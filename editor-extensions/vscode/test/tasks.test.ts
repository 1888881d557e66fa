// The curriculum tree model, the task under the cursor, the daemon state (tasks.ts, daemon.ts).
import assert = require("node:assert/strict");
import { test } from "node:test";
import type { TaskRow } from "../src/api";
import { parseDaemonStatus, statusBar } from "../src/daemon";
import { contextValue, groupTasks, taskAt, taskLabel, type DiagnosticLike } from "../src/tasks";

const row = (id: string, status: string, skill: string | null = null): TaskRow => ({
  id, repo: "/r", baseCommit: "c0", file: "a.py", uri: null, line: 3, column: 1, status, stage: "valid", decision: "none", anchor: "fresh", operator: "flip", skill, enclosing: "f", statement: "S",
});

test("groups come in a fixed order with counts; unknown states last", () => {
  const groups = groupTasks([row("1", "candidate"), row("2", "accepted"), row("3", "candidate"), row("4", "weird"), row("5", "valid")]);
  assert.deepEqual(groups.map((g) => g.label), ["Accepted (1)", "Valid (1)", "Candidates (2)", "weird (1)"]);
  assert.deepEqual(groups[2].tasks.map((t) => t.id), ["1", "3"]);
  assert.deepEqual(groupTasks([]), []);
  assert.equal(taskLabel(row("1", "valid", "guard-none")), "guard-none: S");
  assert.equal(taskLabel(row("1", "valid")), "flip: S");
  assert.equal(contextValue(row("1", "stale")), "task:stale");
});

const diag = (sl: number, sc: number, el: number, ec: number, data: unknown, source = "socratic"): DiagnosticLike => ({
  source, data, range: { start: { line: sl, character: sc }, end: { line: el, character: ec } },
});

test("the task under the cursor", () => {
  const ds = [diag(4, 2, 4, 30, "outer"), diag(4, 10, 4, 12, "inner"), diag(4, 40, 4, 45, "later"), diag(4, 0, 4, 99, "x", "pylint"), diag(6, 0, 6, 3, 42)];
  assert.equal(taskAt(ds, { line: 4, character: 11 }), "inner");
  assert.equal(taskAt(ds, { line: 4, character: 5 }), "outer");
  assert.equal(taskAt(ds, { line: 4, character: 35 }), "later");
  assert.equal(taskAt(ds, { line: 4, character: 60 }), "outer");
  assert.equal(taskAt(ds, { line: 6, character: 1 }), undefined, "no string data");
  assert.equal(taskAt(ds, { line: 9, character: 0 }), undefined);
});

test("daemon status and the status bar", () => {
  const running = parseDaemonStatus(0, "running pid=4242 sessions=1 socket=/run/s.sock\n");
  assert.deepEqual(running, { kind: "running", pid: 4242, detail: "running pid=4242 sessions=1 socket=/run/s.sock" });
  assert.equal(parseDaemonStatus(1, "not running\n").kind, "stopped");
  assert.equal(parseDaemonStatus(null, "", "spawn ENOENT").kind, "unknown");
  const bar = statusBar(running, "running", "t-7", "/bin/socratic");
  assert.equal(bar.text, "$(mortar-board) socratic: attempt t-7");
  assert.match(bar.tooltip, /daemon: running \(pid 4242\)/);
  assert.match(statusBar({ kind: "standalone", detail: "" }, "stopped", null).tooltip, /not used \(standalone\)[\s\S]*binary: not found/);
});
