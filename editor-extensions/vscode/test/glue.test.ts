// The modules that talk to VS Code, against a small fake of the `vscode` module
// (test/fake-vscode.ts): settings, terminal recording, the task under the cursor, the tree.
import { fake } from "./fake-vscode";
import assert = require("node:assert/strict");
import { test } from "node:test";
import { SocraticApi, type AttemptStarted, type TaskList } from "../src/api";
import { openAttempt } from "../src/attempt";
import { currentSettings, onSettingsChanged } from "../src/config";
import { taskUnderCursor } from "../src/cursor";
import { ShellRecorder } from "../src/recording";
import { watchTerminals } from "../src/terminal";
import { CurriculumProvider, rowUri } from "../src/tree";

test("settings come from the socratic section", () => {
  fake.settings = { path: "/opt/socratic", home: "", standalone: true };
  const s = currentSettings();
  assert.deepEqual(s, { path: "/opt/socratic", home: undefined, standalone: true, recordTerminal: true });
  let changed = 0;
  const d = onSettingsChanged(() => changed++);
  fake.configurationChanged.fire({ affectsConfiguration: (x) => x === "python" });
  fake.configurationChanged.fire({ affectsConfiguration: (x) => x === "socratic" });
  d.dispose();
  fake.configurationChanged.fire({ affectsConfiguration: () => true });
  assert.equal(changed, 1);
});

test("shell executions in terminals reach the server as recordEvent during an attempt", async () => {
  const notes: unknown[] = [];
  const api = new SocraticApi({ executeCommand: async (_c, a) => ({ id: a[0], attemptId: `${a[0]}-1` }), notify: (m, p) => void notes.push([m, p]) });
  const recorder = new ShellRecorder((e) => api.record(e), () => api.attempt !== null, 1000, 100);
  const sub = watchTerminals(recorder);
  async function* out(): AsyncIterable<string> {
    yield "4 passed\r\n";
  }
  const execution = (cmd: string) => ({ commandLine: { value: cmd }, read: () => out() });
  const before = execution("ls");
  fake.startExecution.fire({ execution: before });
  fake.endExecution.fire({ execution: before, exitCode: 0 });
  await api.startAttempt("t-1");
  const during = execution("pytest -q");
  fake.startExecution.fire({ execution: during });
  fake.endExecution.fire({ execution: during, exitCode: 1 });
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(notes, [["socratic/recordEvent", { kind: "command", command: "pytest -q", exitCode: 1, output: "4 passed" }]]);
  sub.dispose();
  assert.equal(fake.startExecution.count + fake.endExecution.count, 0, "unsubscribed");
});

test("the task under the cursor comes from the active editor's diagnostics", () => {
  fake.activeTextEditor = undefined;
  assert.equal(taskUnderCursor(), undefined);
  const uri = { toString: () => "file:///r/a.py" };
  fake.activeTextEditor = { document: { uri }, selection: { active: { line: 2, character: 5 } } };
  fake.diagnostics.set("file:///r/a.py", [
    { source: "socratic", data: "t-9", range: { start: { line: 2, character: 4 }, end: { line: 2, character: 9 } } },
  ]);
  assert.equal(taskUnderCursor(), "t-9");
});

test("the curriculum tree groups the fetched tasks and opens their sites", async () => {
  const row = { id: "t-1", repo: "/r", baseCommit: "c0", file: "pkg/a.py", uri: null, line: 4, column: 2, status: "valid", stage: "valid", decision: "none" as const, anchor: "fresh" as const, operator: "flip", skill: null, enclosing: "f", statement: "S" };
  let list: TaskList = { root: "/r", attempt: "t-1", tasks: [row, { ...row, id: "t-2", status: "accepted" }] };
  const tree = new CurriculumProvider(async () => list);
  let redraws = 0;
  tree.onDidChangeTreeData(() => redraws++);
  await tree.refresh();
  const groups = tree.getChildren();
  assert.deepEqual(groups.map((g) => (tree.getTreeItem(g) as { label: string }).label), ["Accepted (1)", "Valid (1)"]);
  const [task] = tree.getChildren(groups[1]);
  const item = tree.getTreeItem(task) as unknown as { contextValue: string; description: string; command: { arguments: unknown[] }; iconPath: { id: string } };
  assert.equal(item.contextValue, "task:valid");
  assert.equal(item.description, "pkg/a.py:4");
  assert.equal(item.iconPath.id, "debug-start", "the attempted task is marked");
  assert.deepEqual(item.command.arguments, [row]);
  assert.equal(rowUri(row, "/r")?.fsPath, "/r/pkg/a.py");
  list = { root: "/r", attempt: null, tasks: [] };
  await tree.refresh();
  assert.deepEqual(tree.getChildren(), []);
  const failing = new CurriculumProvider(async () => {
    throw new Error("server gone");
  });
  await failing.refresh();
  assert.equal(failing.error, "server gone");
  assert.equal(redraws, 2);
});

test("an attempt opens the checkout's file at the bug and the problem statement beside it", async () => {
  const started: AttemptStarted = {
    attemptId: "t-1-1",
    id: "t-1",
    root: "/h/attempts/t-1-1/repo",
    file: "file:///h/attempts/t-1-1/repo/pkg/a.py",
    path: "pkg/a.py",
    range: { start: { line: 41, character: 0 }, end: { line: 42, character: 17 } },
    problemStatement: "Ledger.balance counts the closing entry twice.",
    failToPass: ["tests/test_a.py::test_balance"],
  };
  fake.shown = [];
  fake.opened = [];
  await openAttempt(started);
  const [code, statement] = fake.shown as { target: { fsPath?: string; language?: string; content?: string }; options: { selection?: { start: { line: number }; end: { line: number; character: number } }; preserveFocus?: boolean; viewColumn: number } }[];
  assert.equal(code.target.fsPath, "/h/attempts/t-1-1/repo/pkg/a.py");
  assert.deepEqual([code.options.selection?.start.line, code.options.selection?.end.line, code.options.selection?.end.character], [41, 42, 17]);
  assert.equal(statement.target.language, "markdown");
  assert.equal(statement.options.preserveFocus, true, "the code keeps the focus");
  assert.equal(statement.options.viewColumn, -2, "beside the code");
  assert.match(statement.target.content ?? "", /counts the closing entry twice/);
  assert.match(statement.target.content ?? "", /tests\/test_a\.py::test_balance/);
  assert.match(statement.target.content ?? "", /lines 42-43/);
});
