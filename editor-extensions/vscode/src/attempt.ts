/**
 * An attempt in the editor: the checkout's file opened at the lines the bug changed, the problem
 * statement as a Markdown document beside it.
 *
 * In: a `socratic.startAttempt` result. Out: two editors (the code, focused, with the mutated
 * lines selected; the statement beside it, not focused). The failing tests reach the Problems
 * panel as the server's diagnostics, not through here.
 */
import * as vscode from "vscode";
import { problemMarkdown, type AttemptStarted } from "./api";

/** The range of the lines the bug changed. */
export function bugRange(a: AttemptStarted): vscode.Range {
  return new vscode.Range(a.range.start.line, a.range.start.character, a.range.end.line, a.range.end.character);
}

/** Open the attempt: the code at the bug, the problem statement beside it. */
export async function openAttempt(a: AttemptStarted): Promise<void> {
  const range = bugRange(a);
  await vscode.window.showTextDocument(vscode.Uri.parse(a.file), { selection: range, preview: false, viewColumn: vscode.ViewColumn.One });
  const statement = await vscode.workspace.openTextDocument({ content: problemMarkdown(a), language: "markdown" });
  await vscode.window.showTextDocument(statement, { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true, preview: true });
}
