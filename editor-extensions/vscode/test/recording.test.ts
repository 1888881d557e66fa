// Terminal executions -> recordEvent events (recording.ts).
import assert = require("node:assert/strict");
import { test } from "node:test";
import type { EditorEvent } from "../src/api";
import { commandEvent, excerpt, ShellRecorder, stripAnsi } from "../src/recording";

async function* stream(...chunks: string[]): AsyncIterable<string> {
  for (const c of chunks) yield c;
}

test("escapes and carriage returns are removed", () => {
  assert.equal(stripAnsi("\x1b[32m3 passed\x1b[0m in 0.1s\r\n"), "3 passed in 0.1s\n");
  assert.equal(stripAnsi("\x1b]633;C\x07out\x1b]133;D;1\x1b\\"), "out");
  assert.equal(stripAnsi("50%\r100%"), "50%\n100%");
});

test("long output keeps its head and tail", () => {
  const text = "a".repeat(50) + "b".repeat(50);
  const short = excerpt(text, 20);
  assert.ok(short.startsWith("a".repeat(10)) && short.endsWith("b".repeat(10)), short);
  assert.match(short, /80 characters left out/);
  assert.equal(excerpt("abc", 20), "abc");
});

test("an event has the command, its exit code and its output when there is some", () => {
  assert.deepEqual(commandEvent(" pytest -q ", 1, "\x1b[31m1 failed\x1b[0m\n", 100), { kind: "command", command: "pytest -q", exitCode: 1, output: "1 failed" });
  assert.deepEqual(commandEvent("true", undefined, "", 100), { kind: "command", command: "true" });
});

test("only executions that start during an attempt are sent, with their output", async () => {
  const sent: EditorEvent[] = [];
  let attempt = false;
  const rec = new ShellRecorder((e) => sent.push(e), () => attempt, 100, 200);
  const before = {};
  rec.started(before, stream("x"));
  assert.equal(await rec.ended(before, "ls", 0), undefined);
  attempt = true;
  const run = {};
  rec.started(run, stream("\x1b[1m===\x1b[0m 2 passed", " in 0.2s\r\n"));
  assert.equal(rec.size, 1);
  const event = await rec.ended(run, "python -m pytest -q", 0);
  assert.deepEqual(event, { kind: "command", command: "python -m pytest -q", exitCode: 0, output: "=== 2 passed in 0.2s" });
  assert.deepEqual(sent, [event]);
  assert.equal(rec.size, 0);
  // an end without a start (the attempt began mid-command) sends nothing
  assert.equal(await rec.ended({}, "make", 2), undefined);
  assert.equal(sent.length, 1);
});

test("output that never ends is cut off after the drain time, and is bounded", async () => {
  const sent: EditorEvent[] = [];
  const rec = new ShellRecorder((e) => sent.push(e), () => true, 40, 50);
  const exec = {};
  async function* endless(): AsyncIterable<string> {
    yield "head-";
    for (let i = 0; i < 200; i++) yield "x".repeat(10);
    await new Promise(() => undefined);
  }
  rec.started(exec, endless());
  await new Promise((r) => setTimeout(r, 20));
  const event = await rec.ended(exec, "tail -f log", undefined);
  assert.ok(event && event.output && event.output.startsWith("head-"), JSON.stringify(event));
  assert.ok((event?.output ?? "").length < 200, "bounded");
  assert.equal(event?.exitCode, undefined);
});
