/**
 * The task under the cursor of the active editor.
 *
 * In: the active text editor and its diagnostics (the language client keeps the LSP `data`,
 * the task id, on each diagnostic). Out: a task id, or undefined.
 */
import * as vscode from "vscode";
import { taskAt, type DiagnosticLike } from "./tasks";

export function taskUnderCursor(): string | undefined {
  const editor = vscode.window.activeTextEditor;
  if (!editor) return undefined;
  const diags = vscode.languages.getDiagnostics(editor.document.uri) as (vscode.Diagnostic & { data?: unknown })[];
  const like: DiagnosticLike[] = diags.map((d) => ({ source: d.source, range: d.range, data: d.data }));
  return taskAt(like, editor.selection.active);
}
