/**
 * The protocol schema in the extension's tests.
 *
 * In: `editor-extensions/protocol/socratic-protocol.schema.json` (generated from the server's
 * Rust types). Out: validators (ajv) of command results and arguments, notification params and
 * definitions; the generator of `src/protocol.ts` (`scripts/protocol-types.js`), typed.
 */
import * as fs from "node:fs";
import Ajv, { type ValidateFunction } from "ajv";

/** `scripts/protocol-types.js`: the schema file, `src/protocol.ts`, and its expected text. */
export const generator = require("../../scripts/protocol-types.js") as {
  schemaPath: string;
  typesPath: string;
  generateTypes(): Promise<string>;
};

export interface ProtocolSchema {
  properties: {
    commands: { properties: Record<string, { properties: { arguments: object; result: { $ref: string } } }> };
    notifications: { properties: Record<string, { properties: { params: { $ref: string } } }> };
  };
  definitions: Record<string, { examples?: unknown[] }>;
}

export function loadSchema(): ProtocolSchema {
  return JSON.parse(fs.readFileSync(generator.schemaPath, "utf8")) as ProtocolSchema;
}

/** Validators against the schema: a command's result, a notification's params, a definition. */
export class ProtocolValidator {
  // strict, but for tuples: an optional argument is a tuple of at most one item; the integer
  // formats schemars writes (uint, int32, double, …) are known, their range is in minimum / maximum
  private readonly ajv = new Ajv({
    allErrors: true,
    strict: true,
    strictTuples: false,
    formats: { uint: true, uint32: true, uint64: true, int32: true, int64: true, double: true },
  });
  private readonly cache = new Map<string, ValidateFunction>();

  constructor(readonly schema: ProtocolSchema = loadSchema()) {
    this.ajv.addSchema(schema as object, "protocol");
  }

  private validator(pointer: string): ValidateFunction {
    let v = this.cache.get(pointer);
    if (!v) {
      v = this.ajv.compile({ $ref: `protocol#${pointer}` });
      this.cache.set(pointer, v);
    }
    return v;
  }

  private check(pointer: string, value: unknown, what: string): void {
    const v = this.validator(pointer);
    if (!v(value)) throw new Error(`${what} does not match the protocol schema: ${this.ajv.errorsText(v.errors)}\n${JSON.stringify(value)}`);
  }

  /** Throws unless `result` is what the schema says `command` returns. */
  result(command: string, result: unknown): void {
    if (!this.schema.properties.commands.properties[command]) throw new Error(`${command} is not a command of the protocol schema`);
    this.check(`/properties/commands/properties/${command}/properties/result`, result, `the result of ${command}`);
  }

  /** Throws unless `args` are arguments the schema allows for `command`. */
  arguments(command: string, args: unknown[]): void {
    this.check(`/properties/commands/properties/${command}/properties/arguments`, args, `the arguments of ${command}`);
  }

  /** Throws unless `params` are what the schema says `method` carries. */
  params(method: string, params: unknown): void {
    const pointer = `/properties/notifications/properties/${method.replace(/~/g, "~0").replace(/\//g, "~1")}/properties/params`;
    this.check(pointer, params, `the params of ${method}`);
  }

  /** Throws unless `value` matches the definition `name`. */
  definition(name: string, value: unknown): void {
    this.check(`/definitions/${name}`, value, name);
  }
}
