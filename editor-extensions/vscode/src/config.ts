/**
 * The `socratic.*` settings of the VS Code configuration.
 *
 * In: the workspace configuration. Out: `Settings` (see `settings.ts`), and a callback when any
 * `socratic.*` setting changes.
 */
import * as os from "os";
import * as vscode from "vscode";
import type { DiagnosticSettings } from "./protocol";
import { readDiagnostics, readSettings, type Settings } from "./settings";

export function currentSettings(): Settings {
  const cfg = vscode.workspace.getConfiguration("socratic");
  return readSettings((key) => cfg.get(key), os.homedir());
}

/** The `socratic.diagnostics.*` settings. */
export function currentDiagnostics(): DiagnosticSettings {
  const cfg = vscode.workspace.getConfiguration("socratic");
  return readDiagnostics((key) => cfg.get(key));
}

/** Call `f` when a `socratic.*` setting changes. */
export function onSettingsChanged(f: () => void): vscode.Disposable {
  return vscode.workspace.onDidChangeConfiguration((e) => {
    if (e.affectsConfiguration("socratic")) f();
  });
}
