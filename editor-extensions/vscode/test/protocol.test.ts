// The extension's requests against the real `socratic lsp` binary, over vscode-jsonrpc and
// vscode-languageserver-protocol (the libraries vscode-languageclient is built on): a committed
// copy of the example repository with generated tasks, a Python file opened, its task
// diagnostics received, a task accepted, the curriculum (`socratic.tasks`) changed, and an
// attempt at a task that is not validated refused with what to run (a whole attempt needs a
// validated task and its container: daemon/tests/nvim_plugin.rs drives one). Every result the server sends, and every notification the
// extension sends, is validated against the protocol schema (editor-extensions/protocol).
//
// The binary comes from SOCRATIC_BIN, else target/debug/socratic of the repository. Without it
// the test is skipped, except under CI, where it fails.
import assert = require("node:assert/strict");
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, test } from "node:test";
import { createMessageConnection, StreamMessageReader, StreamMessageWriter, type MessageConnection } from "vscode-jsonrpc/node";
import {
  ExecuteCommandRequest,
  InitializeRequest,
  PublishDiagnosticsNotification,
  type Diagnostic,
  type PublishDiagnosticsParams,
} from "vscode-languageserver-protocol";
import { SocraticApi, type TaskRow } from "../src/api";
import { groupTasks, taskAt } from "../src/tasks";
import { ProtocolValidator } from "./protocol-schema";

const repoRoot = path.resolve(__dirname, "../../../..");
const binary = process.env.SOCRATIC_BIN ? path.resolve(process.env.SOCRATIC_BIN) : path.join(repoRoot, "target/debug/socratic");
const available = fs.existsSync(binary);
if (!available && process.env.CI) throw new Error(`the socratic binary is missing under CI (${binary}): build it and set SOCRATIC_BIN`);

let tmp: string, home: string, repo: string;
let server: ChildProcess;
let conn: MessageConnection;
let api: SocraticApi;
let stderr = "";
const published = new Map<string, Diagnostic[]>();
let onPublish: () => void = () => undefined;
const protocol = new ProtocolValidator();
/** Results checked against the schema, per command. */
const validated = new Map<string, number>();

/** `workspace/executeCommand` on the real server; the result must match the schema. */
async function execute(command: string, args: unknown[]): Promise<unknown> {
  const result: unknown = await conn.sendRequest(ExecuteCommandRequest.type, { command, arguments: args });
  protocol.result(command, result);
  validated.set(command, (validated.get(command) ?? 0) + 1);
  return result;
}

function socratic(...args: string[]): string {
  return execFileSync(binary, ["--home", home, ...args], { encoding: "utf8", env: { ...process.env, XDG_RUNTIME_DIR: tmp } });
}

function git(...args: string[]): void {
  execFileSync("git", ["-c", "user.name=Test", "-c", "user.email=test@example.com", ...args], { cwd: repo, stdio: "ignore" });
}

/** Wait until `cond()` holds, checking after each publish and every 100 ms. */
async function until<T>(what: string, cond: () => T | undefined, ms = 30000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = cond();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\nserver stderr:\n${stderr}`);
    await new Promise<void>((r) => {
      const t = setTimeout(r, 100);
      onPublish = () => {
        clearTimeout(t);
        r();
      };
    });
  }
}

before(async () => {
  if (!available) return;
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "socratic-vscode-")));
  home = path.join(tmp, "home");
  repo = path.join(tmp, "repo");
  fs.cpSync(path.join(repoRoot, "tests/example_repo"), repo, {
    recursive: true,
    filter: (src) => !/(__pycache__|\.pytest_cache)/.test(src),
  });
  git("init", "-q");
  git("add", "-A");
  git("commit", "-q", "-m", "initial");
  socratic("tasks", "generate", "--repo", repo, "--budget", "40");
  server = spawn(binary, ["--home", home, "lsp", "--standalone"], { env: { ...process.env, XDG_RUNTIME_DIR: tmp }, stdio: ["pipe", "pipe", "pipe"] });
  server.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  conn = createMessageConnection(new StreamMessageReader(server.stdout!), new StreamMessageWriter(server.stdin!));
  conn.onNotification(PublishDiagnosticsNotification.type, (p: PublishDiagnosticsParams) => {
    published.set(p.uri, p.diagnostics);
    onPublish();
  });
  conn.onRequest(() => null);
  conn.onNotification(() => undefined);
  conn.listen();
  api = new SocraticApi({
    executeCommand: execute,
    notify: (method, params) => {
      protocol.params(method, params);
      return conn.sendNotification(method, params);
    },
  });
  const rootUri = `file://${repo}`;
  const init = await conn.sendRequest(InitializeRequest.type, {
    processId: process.pid,
    rootUri,
    workspaceFolders: [{ uri: rootUri, name: "repo" }],
    capabilities: {},
  });
  const commands = init.capabilities.executeCommandProvider?.commands ?? [];
  assert.ok(commands.includes("socratic.tasks"), `socratic.tasks is announced: ${commands}`);
  await conn.sendNotification("initialized", {});
});

after(async () => {
  if (!available) return;
  try {
    await conn.sendRequest("shutdown");
    await conn.sendNotification("exit");
  } catch {
    // already gone
  }
  conn.dispose();
  server.kill();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test("open a file, see its tasks, accept one, the curriculum changes, an attempt needs a validated task", { skip: !available && "no socratic binary (set SOCRATIC_BIN)", timeout: 120000 }, async () => {
  // the curriculum before: every stored task, as `socratic tasks list --json` has them
  const stored = JSON.parse(socratic("tasks", "list", "--json")) as TaskRow[];
  const before = await api.tasks();
  assert.equal(before.root, repo);
  assert.equal(before.attempt, null);
  assert.deepEqual(before.tasks.map((t) => t.id).sort(), stored.map((t) => t.id).sort());
  // the CLI prints the same rows as the server sends (no document open yet: the same places)
  for (const row of stored) protocol.definition("TaskRow", row);
  const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id);
  assert.deepEqual([...before.tasks].sort(byId), [...stored].sort(byId));

  // open the file with the most tasks: one diagnostic per task
  const counts = new Map<string, number>();
  for (const t of stored) counts.set(t.file, (counts.get(t.file) ?? 0) + 1);
  const file = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0][0];
  const uri = `file://${path.join(repo, file)}`;
  await conn.sendNotification("textDocument/didOpen", {
    textDocument: { uri, languageId: "python", version: 1, text: fs.readFileSync(path.join(repo, file), "utf8") },
  });
  const diags = await until("task diagnostics", () => {
    const d = (published.get(uri) ?? []).filter((x) => x.source === "socratic");
    return d.length === counts.get(file) ? d : undefined;
  });
  for (const d of diags) {
    const row = before.tasks.find((t) => t.id === d.data);
    assert.ok(row, `diagnostic ${JSON.stringify(d.data)} is a listed task`);
    assert.equal(d.range.start.line + 1, row.line);
    assert.ok(d.message.startsWith("[candidate]"), d.message);
  }

  // accept the task under the cursor at the first diagnostic
  const target = taskAt(diags, diags[0].range.start);
  assert.equal(target, diags[0].data);
  const accepted = await api.accept(target!);
  assert.deepEqual(accepted, { id: target, status: "accepted", stage: "candidate", decision: "accepted" });
  await until("the accepted diagnostic", () => (published.get(uri) ?? []).find((d) => d.data === target && d.message.startsWith("[accepted]")));
  const afterAccept = await api.tasks();
  assert.equal(afterAccept.tasks.find((t) => t.id === target)?.status, "accepted");
  assert.deepEqual(groupTasks(afterAccept.tasks)[0].tasks.map((t) => t.id), [target], "the Accepted group holds it");
  const shown = JSON.parse(socratic("tasks", "show", target!, "--json")) as { task: { decision: string; anchor: string } };
  assert.deepEqual([shown.task.decision, shown.task.anchor], ["accepted", "fresh"]);

  // a bad request is an error, and the server keeps answering
  await assert.rejects(conn.sendRequest(ExecuteCommandRequest.type, { command: "socratic.accept", arguments: [] }), /task id/);
  await assert.rejects(conn.sendRequest(ExecuteCommandRequest.type, { command: "socratic.accept", arguments: ["t-none"] }), /no task/);
  await assert.rejects(conn.sendRequest(ExecuteCommandRequest.type, { command: "socratic.tasks", arguments: [{ all: "x" }] }), /socratic\.tasks: argument 1 is not task list options/);
  await assert.rejects(conn.sendRequest(ExecuteCommandRequest.type, { command: "socratic.round", arguments: ["file:///x.py"] }), /socratic\.round: argument 1/);
  const every = (await execute("socratic.tasks", [{ all: true }])) as { tasks: unknown[] };
  assert.equal(every.tasks.length, stored.length, "every repository: the one of the store");
  await assert.rejects(conn.sendRequest(ExecuteCommandRequest.type, { command: "socratic.nothing" }), /unknown command/);
  assert.equal((await api.tasks()).tasks.length, stored.length);

  // an attempt at a task that is not validated is refused, naming what to run; none starts
  const other = diags.find((d) => d.data !== target)!.data as string;
  await assert.rejects(api.startAttempt(other), /socratic tasks validate/);
  assert.equal(api.attempt, null);
  assert.equal((await api.tasks()).attempt, null);
  await assert.rejects(api.finishAttempt(), /no attempt is running in this editor/);

  // the patch of a task, through the API
  const patch = await api.showPatch(target!);
  assert.match(patch.patch, /^(diff|---)/m);
  // every command the extension sent came back in the schema's shape
  for (const c of ["socratic.accept", "socratic.tasks", "socratic.showPatch"]) {
    assert.ok((validated.get(c) ?? 0) > 0, `a ${c} result was validated`);
  }
});
