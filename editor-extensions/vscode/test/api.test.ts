// Extension command -> server request mapping and the typed API over a transport (api.ts).
import assert = require("node:assert/strict");
import { test } from "node:test";
import { evolveMessage, finishedMessage, heldOutStatus, parseTaskList, testsMessage, requestFor, SERVER_COMMANDS, SocraticApi, type EvolveSummary, type Transport } from "../src/api";
import { statusBar } from "../src/daemon";

class Recorded implements Transport {
  calls: { command: string; args: unknown[] }[] = [];
  notes: { method: string; params: unknown }[] = [];
  constructor(private readonly answer: (command: string, args: unknown[]) => unknown) {}
  async executeCommand(command: string, args: unknown[]): Promise<unknown> {
    this.calls.push({ command, args });
    return this.answer(command, args);
  }
  notify(method: string, params: unknown): void {
    this.notes.push({ method, params });
  }
}

test("each extension command maps to its server command", () => {
  assert.deepEqual(requestFor("socratic.acceptTask", "t-1"), { command: "socratic.accept", arguments: ["t-1"] });
  assert.deepEqual(requestFor("socratic.rejectTask", "t-1"), { command: "socratic.reject", arguments: ["t-1"] });
  assert.deepEqual(requestFor("socratic.startTaskAttempt", "t-1"), { command: "socratic.startAttempt", arguments: ["t-1"] });
  assert.deepEqual(requestFor("socratic.finishTaskAttempt"), { command: "socratic.finishAttempt", arguments: [] });
  assert.deepEqual(requestFor("socratic.finishTaskAttempt", "t-1-1"), { command: "socratic.finishAttempt", arguments: ["t-1-1"] });
  assert.deepEqual(requestFor("socratic.runAttemptTests"), { command: "socratic.attemptRunTests", arguments: [] });
  assert.deepEqual(requestFor("socratic.abandonTaskAttempt"), { command: "socratic.abandonAttempt", arguments: [] });
  assert.deepEqual(requestFor("socratic.runRound"), { command: "socratic.round", arguments: [] });
  assert.deepEqual(requestFor("socratic.runRound", "file:///r/a.py"), { command: "socratic.round", arguments: [] }, "a round takes no file");
  assert.deepEqual(requestFor("socratic.runEvolve"), { command: "socratic.evolve", arguments: [] });
  assert.deepEqual(requestFor("socratic.showTaskPatch", "t-2"), { command: "socratic.showPatch", arguments: ["t-2"] });
  assert.deepEqual(requestFor("socratic.refreshTasks"), { command: "socratic.tasks", arguments: [] });
  assert.throws(() => requestFor("socratic.acceptTask"), /needs a task id/);
  // every palette command of package.json that talks to the server is mapped
  const pkg = require("../../package.json") as { contributes: { commands: { command: string }[] } };
  const contributed = pkg.contributes.commands.map((c) => c.command);
  for (const c of Object.keys(SERVER_COMMANDS)) assert.ok(contributed.includes(c), `${c} is contributed`);
});

test("the API sends the requests and follows the attempt", async () => {
  const t = new Recorded((command, args) => {
    if (command === "socratic.startAttempt") return { id: args[0], attemptId: `${args[0]}-1` };
    if (command === "socratic.attemptRunTests") return { attemptId: args[0], id: "t-1", outcome: "failed", detail: null, passed: 0, failed: 1, tests: [] };
    if (command === "socratic.finishAttempt") return { id: "t-1", attemptId: args[0], trace: "tr-9", label: "resolved", reason: "F2P 1/1 pass" };
    if (command === "socratic.abandonAttempt") return { id: "t-2", attemptId: args[0] };
    if (command === "socratic.tasks") return { root: "/r", attempt: null, tasks: [{ id: "t-1", file: "a.py", line: 1 }, { bogus: true }] };
    return { id: args[0], status: "accepted" };
  });
  const api = new SocraticApi(t);
  assert.equal(await api.record({ kind: "command", command: "ls" }), false, "nothing is sent without an attempt");
  assert.deepEqual(await api.accept("t-1"), { id: "t-1", status: "accepted" });
  await api.startAttempt("t-1");
  assert.equal(api.attempt, "t-1");
  assert.equal(await api.record({ kind: "command", command: "ls", exitCode: 2 }), true);
  assert.deepEqual(t.notes, [{ method: "socratic/recordEvent", params: { kind: "command", command: "ls", exitCode: 2 } }]);
  assert.equal((await api.runAttemptTests()).outcome, "failed");
  assert.equal(testsMessage(await api.runAttemptTests()), "tests failed: 0/1 passed");
  const finished = await api.finishAttempt();
  assert.equal(finished.trace, "tr-9");
  assert.equal(finishedMessage(finished), "attempt at t-1 graded resolved (F2P 1/1 pass); trace tr-9");
  assert.equal(api.attempt, null);
  await api.startAttempt("t-2");
  assert.equal((await api.abandonAttempt()).attemptId, "t-2-1");
  assert.equal(api.started, null);
  const list = await api.tasks();
  assert.equal(list.tasks.length, 1, "malformed rows are dropped");
  assert.deepEqual(t.calls.filter((c) => c.command !== "socratic.accept" && c.command !== "socratic.startAttempt" && c.command !== "socratic.tasks").map((c) => c.args), [["t-1-1"], ["t-1-1"], ["t-1-1"], ["t-2-1"]], "the attempt named by its id");
  assert.deepEqual(
    t.calls.map((c) => c.command),
    ["socratic.accept", "socratic.startAttempt", "socratic.attemptRunTests", "socratic.attemptRunTests", "socratic.finishAttempt", "socratic.startAttempt", "socratic.abandonAttempt", "socratic.tasks"],
  );
});

test("commands run through code actions are followed too", () => {
  const api = new SocraticApi(new Recorded(() => null));
  api.observe("socratic.startAttempt", { id: "t-5", attempt: "started" });
  assert.equal(api.attempt, "t-5");
  api.observe("socratic.accept", { id: "t-6", status: "accepted" });
  assert.equal(api.attempt, "t-5");
  api.observe("socratic.finishAttempt", { id: "t-5", trace: "tr", label: "x" });
  assert.equal(api.attempt, null);
});

test("a task list must have tasks", () => {
  assert.throws(() => parseTaskList({ root: "/r" }), /unexpected answer/);
  assert.throws(() => parseTaskList(null), /unexpected answer/);
  assert.deepEqual(parseTaskList({ tasks: [], attempt: 7 }), { root: null, attempt: null, tasks: [] });
});

test("an evolve run's held-out resolve rate reaches the status bar", async () => {
  const summary: EvolveSummary = {
    run: 2,
    state: "done",
    repo: "/r",
    rounds: [
      { round: 1, loopRound: 3, adapterHash: null, curriculumRate: 0.5, heldOutRate: 0.25, loss: 2.1 },
      { round: 2, loopRound: 4, adapterHash: "ab12", curriculumRate: 0.5, heldOutRate: 0.4, loss: 1.9 },
    ],
    heldOutRate: 0.4,
    randomWeights: false,
  };
  const t = new Recorded(() => summary);
  const got = await new SocraticApi(t).evolve();
  assert.deepEqual(t.calls, [{ command: "socratic.evolve", args: [] }]);
  assert.equal(evolveMessage(got), "evolve run 2: 2 rounds, held-out resolve rate 40%");
  assert.equal(heldOutStatus(got), "held-out 40%");
  assert.equal(heldOutStatus({ ...got, randomWeights: true }), "held-out 40%?", "a random model is marked");
  assert.equal(heldOutStatus({ ...got, heldOutRate: null }), "");
  assert.equal(heldOutStatus(null), "");
  const bar = statusBar({ kind: "running", detail: "running" }, "running", null, "/bin/socratic", heldOutStatus(got));
  assert.equal(bar.text, "$(mortar-board) socratic · held-out 40%");
  assert.match(bar.tooltip, /evolve: held-out 40%/);
  assert.equal(statusBar({ kind: "running", detail: "" }, "running", null, "/b").text, "$(mortar-board) socratic", "nothing before a run");
});
