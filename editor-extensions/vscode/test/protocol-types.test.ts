// The extension's side of the protocol schema (editor-extensions/protocol, generated from the
// server's Rust types): src/protocol.ts is what the schema generates, every example object of
// the schema is valid against it, and the messages the extension shows read the examples
// without a gap. A type renamed or a field changed on the server fails here (and the
// type-check of api.ts / extension.ts fails once `npm run protocol` regenerated the types).
import assert = require("node:assert/strict");
import * as fs from "node:fs";
import { test } from "node:test";
import { parseTaskList, requestFor, roundMessage, SERVER_COMMANDS, type RoundSummary, type ServerCommand } from "../src/api";
import type { SocraticProtocol } from "../src/protocol";
import { generator, loadSchema, ProtocolValidator } from "./protocol-schema";

const schema = loadSchema();
const validate = new ProtocolValidator(schema);
const example = (name: string): unknown => {
  const ex = schema.definitions[name]?.examples?.[0];
  assert.ok(ex !== undefined, `${name} has an example in the schema`);
  return ex;
};

test("src/protocol.ts is what the schema generates", async () => {
  const want = await generator.generateTypes();
  const have = fs.readFileSync(generator.typesPath, "utf8");
  assert.ok(have === want, "src/protocol.ts is not the schema's types: run `npm run protocol` in editor-extensions/vscode");
});

test("every example of the schema is valid, and the schema names every command the extension sends", () => {
  for (const [name, def] of Object.entries(schema.definitions)) {
    for (const ex of def.examples ?? []) validate.definition(name, ex);
  }
  assert.throws(() => validate.definition("RoundSummary", { generated: 3, added: 1, file: null }), /does not match/);
  const commands: ServerCommand[] = Object.values(SERVER_COMMANDS);
  const inSchema = Object.keys(schema.properties.commands.properties);
  for (const c of commands) assert.ok(inSchema.includes(c), `${c} is in the schema`);
  // and what the extension sends is allowed
  for (const c of Object.keys(SERVER_COMMANDS) as (keyof typeof SERVER_COMMANDS)[]) {
    const req = requestFor(c, "t-1");
    validate.arguments(req.command, req.arguments);
  }
  validate.params("socratic/recordEvent", { kind: "command", command: "ls", exitCode: 2 });
  assert.throws(() => validate.params("socratic/recordEvent", { kind: "dance" }), /does not match/);
});

test("the round message reads the schema's round summary", () => {
  const round = example("RoundSummary") as RoundSummary;
  assert.equal(roundMessage(round), `round ${round.number}: ${round.candidates} candidates, ${round.valid} valid, ${round.kept.length} kept`);
  assert.match(roundMessage({ ...round, step: "validate" }), /\(stopped before validate\)$/);
  assert.doesNotMatch(roundMessage(round), /undefined/);
  const list = parseTaskList(example("TaskList"));
  assert.equal(list.tasks.length, 1);
  // the generated type of a command's result is the definition the schema names
  const summary: SocraticProtocol["commands"]["socratic.round"]["result"] = round;
  assert.equal(schema.properties.commands.properties["socratic.round"].properties.result.$ref, "#/definitions/RoundSummary");
  assert.equal(summary.number, round.number);
});
