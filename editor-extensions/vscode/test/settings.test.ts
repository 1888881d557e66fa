// Binary discovery, settings and the command lines built from them (settings.ts).
import assert = require("node:assert/strict");
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { daemonStatusArgs, expandHome, findBinary, readDiagnostics, readSettings, reportArgs, serverArgs } from "../src/settings";

const only = (...files: string[]) => (f: string) => files.includes(f);

test("the configured path wins, a bare name is looked up on PATH", () => {
  const env = { PATH: "/usr/bin:/opt/s/bin", HOME: "/home/u" };
  assert.equal(findBinary("/x/socratic", env, only("/x/socratic", "/usr/bin/socratic")), "/x/socratic");
  assert.equal(findBinary("/x/socratic", env, only("/usr/bin/socratic")), undefined, "a configured path that is missing is not replaced");
  assert.equal(findBinary("soc2", env, only("/opt/s/bin/soc2")), "/opt/s/bin/soc2");
});

test("without a setting: PATH, then ~/.cargo/bin, then CARGO_HOME", () => {
  assert.equal(findBinary(undefined, { PATH: "/a:/b", HOME: "/h" }, only("/b/socratic", "/h/.cargo/bin/socratic")), "/b/socratic");
  assert.equal(findBinary(undefined, { PATH: "/a:/b", HOME: "/h" }, only("/h/.cargo/bin/socratic")), "/h/.cargo/bin/socratic");
  assert.equal(findBinary(undefined, { PATH: "", HOME: "/h", CARGO_HOME: "/c" }, only("/c/bin/socratic")), "/c/bin/socratic");
  assert.equal(findBinary(undefined, { PATH: "/a", HOME: "/h" }, only()), undefined);
});

test("the real file system: only executable files count", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "socratic-bin-"));
  try {
    fs.writeFileSync(path.join(dir, "socratic"), "#!/bin/sh\n", { mode: 0o755 });
    fs.writeFileSync(path.join(dir, "plain"), "data\n", { mode: 0o644 });
    fs.mkdirSync(path.join(dir, "folder"));
    assert.equal(findBinary(undefined, { PATH: `/nonexistent:${dir}` }), path.join(dir, "socratic"));
    assert.equal(findBinary(path.join(dir, "plain"), { PATH: "" }), undefined);
    assert.equal(findBinary(path.join(dir, "folder"), { PATH: "" }), undefined);
    assert.equal(findBinary("folder", { PATH: dir }), undefined);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test("settings: blanks are unset, wrong types fall back, ~ expands", () => {
  const values: Record<string, unknown> = { path: "  ", home: "~/sh", standalone: "yes", recordTerminal: false };
  const s = readSettings((k) => values[k], "/home/u");
  assert.deepEqual(s, { path: undefined, home: "/home/u/sh", standalone: false, recordTerminal: false });
  assert.deepEqual(readSettings(() => undefined), { path: undefined, home: undefined, standalone: false, recordTerminal: true });
  assert.equal(expandHome("~", "/h"), "/h");
  assert.equal(expandHome("/abs/~", "/h"), "/abs/~");
});

test("command lines", () => {
  const s = { home: "/data", standalone: true, recordTerminal: true };
  assert.deepEqual(serverArgs(s), ["--home", "/data", "lsp", "--standalone"]);
  assert.deepEqual(serverArgs({ standalone: false, recordTerminal: true }), ["lsp"]);
  assert.deepEqual(daemonStatusArgs(s), ["--home", "/data", "daemon", "status"]);
  assert.deepEqual(reportArgs({ standalone: false, recordTerminal: true }, "/tmp/r.html"), ["report", "--html", "/tmp/r.html"]);
});

test("diagnostic settings: the curriculum and two per function unless set", () => {
  assert.deepEqual(readDiagnostics(() => undefined), { show: "curriculum", perFunction: 2 });
  const values: Record<string, unknown> = { "diagnostics.show": "all", "diagnostics.perFunction": 0 };
  assert.deepEqual(readDiagnostics((k) => values[k]), { show: "all", perFunction: 0 });
  assert.deepEqual(readDiagnostics((k) => ({ "diagnostics.show": "some", "diagnostics.perFunction": -1 })[k]), { show: "curriculum", perFunction: 2 });
});

test("socratic.path is read from User settings in remote windows (Remote-SSH, Codespaces)", () => {
  // A remote window drops `machine` and `machine-overridable` settings from the User settings
  // (VS Code reads them there only from the remote host's own settings); these scopes it keeps.
  const readFromUserSettingsWhenRemote = ["application", "window", "resource", "language-overridable"];
  const manifest = JSON.parse(fs.readFileSync(path.join(__dirname, "..", "..", "package.json"), "utf8"));
  const setting = manifest.contributes.configuration.properties["socratic.path"];
  assert.ok(setting, "socratic.path is contributed");
  assert.ok(
    readFromUserSettingsWhenRemote.includes(setting.scope ?? "window"),
    `socratic.path has scope ${setting.scope}, which remote hosts ignore in User settings`,
  );
});
