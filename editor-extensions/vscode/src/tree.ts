/**
 * The curriculum view: the workspace's tasks from `socratic.tasks`, grouped by state.
 *
 * In: a function that fetches the task list. Out: a `TreeDataProvider` whose task items open
 * the task's site and carry `task:<status>` context values for the accept / reject / attempt
 * buttons.
 */
import * as path from "path";
import * as vscode from "vscode";
import type { TaskList, TaskRow } from "./api";
import { contextValue, groupTasks, taskDescription, taskLabel, taskTooltip, type Group } from "./tasks";

export type Node = { group: Group } | { task: TaskRow };

/** The file URI of a row: its `uri`, else the root joined with its file. */
export function rowUri(row: TaskRow, root: string | null): vscode.Uri | undefined {
  if (row.uri) return vscode.Uri.parse(row.uri);
  if (root) return vscode.Uri.file(path.join(root, row.file));
  return undefined;
}

export class CurriculumProvider implements vscode.TreeDataProvider<Node> {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  list: TaskList = { root: null, attempt: null, tasks: [] };
  /** The last error from fetching, shown as the only item. */
  error: string | undefined;

  constructor(private readonly fetch: () => Promise<TaskList>) {}

  /** Fetch the list again and redraw. */
  async refresh(): Promise<TaskList> {
    try {
      this.list = await this.fetch();
      this.error = undefined;
    } catch (e) {
      this.error = e instanceof Error ? e.message : String(e);
    }
    this.changed.fire(undefined);
    return this.list;
  }

  getChildren(node?: Node): Node[] {
    if (!node) return groupTasks(this.list.tasks).map((group) => ({ group }));
    if ("group" in node) return node.group.tasks.map((task) => ({ task }));
    return [];
  }

  getTreeItem(node: Node): vscode.TreeItem {
    if ("group" in node) {
      const item = new vscode.TreeItem(node.group.label, vscode.TreeItemCollapsibleState.Expanded);
      item.iconPath = new vscode.ThemeIcon(node.group.icon);
      item.id = `group:${node.group.status}`;
      return item;
    }
    const row = node.task;
    const item = new vscode.TreeItem(taskLabel(row), vscode.TreeItemCollapsibleState.None);
    item.id = row.id;
    item.description = taskDescription(row);
    item.tooltip = taskTooltip(row, this.list.attempt);
    item.contextValue = contextValue(row);
    if (this.list.attempt === row.id) item.iconPath = new vscode.ThemeIcon("debug-start");
    const uri = rowUri(row, this.list.root);
    if (uri) item.command = { command: "socratic.openTask", title: "Open", arguments: [row] };
    return item;
  }
}
