/**
 * Terminal shell executions, wired to a `ShellRecorder`.
 *
 * In: VS Code's shell-integration events (`window.onDidStartTerminalShellExecution`,
 * `window.onDidEndTerminalShellExecution`: the execution, its command line, its output stream,
 * its exit code). Out: the recorder told of each start (with the output stream) and end. Needs
 * a terminal with shell integration (bash, zsh, fish, pwsh); other terminals report nothing.
 */
import * as vscode from "vscode";
import type { ShellRecorder } from "./recording";

export function watchTerminals(recorder: ShellRecorder): vscode.Disposable {
  const start = vscode.window.onDidStartTerminalShellExecution((e) => {
    recorder.started(e.execution, e.execution.read());
  });
  const end = vscode.window.onDidEndTerminalShellExecution((e) => {
    void recorder.ended(e.execution, e.execution.commandLine.value, e.exitCode);
  });
  return vscode.Disposable.from(start, end);
}
