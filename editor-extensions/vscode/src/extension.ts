/**
 * The socratic extension: starts `socratic lsp` through vscode-languageclient and adds what
 * the language server alone cannot: commands in the palette, the curriculum view, a status bar
 * item with the daemon state, the report, and terminal recording during an attempt.
 *
 * In: the `socratic.*` settings, Python files of the workspace, user commands, terminal shell
 * executions. Out: LSP requests (`api.ts`), `socratic/recordEvent` notifications
 * (`recording.ts`), views and messages. The logic lives in plain modules (`settings.ts`,
 * `api.ts`, `recording.ts`, `tasks.ts`, `daemon.ts`); this file is glue.
 */
import { execFile } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as vscode from "vscode";
import { LanguageClient, State, type LanguageClientOptions, type ServerOptions } from "vscode-languageclient/node";
import { evolveMessage, finishedMessage, heldOutStatus, roundMessage, SocraticApi, testsMessage, type AttemptStarted, type EvolveSummary, type TaskRow } from "./api";
import { openAttempt } from "./attempt";
import { currentSettings, onSettingsChanged } from "./config";
import { taskUnderCursor } from "./cursor";
import { parseDaemonStatus, statusBar, type ClientState, type DaemonState } from "./daemon";
import { ShellRecorder } from "./recording";
import { daemonStatusArgs, findBinary, reportArgs, serverArgs, type Settings } from "./settings";
import { watchTerminals } from "./terminal";
import { CurriculumProvider, rowUri } from "./tree";

let client: LanguageClient | undefined;
let output: vscode.OutputChannel;

function run(binary: string, args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(binary, args, { timeout: timeoutMs, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      // a non-zero exit carries its code; a program that did not start carries a string code
      const raw: unknown = err ? (err as { code?: unknown }).code : 0;
      const code = typeof raw === "number" ? raw : null;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  output = vscode.window.createOutputChannel("socratic");
  context.subscriptions.push(output);
  let settings: Settings = currentSettings();
  let binary = findBinary(settings.path, process.env);

  const api = new SocraticApi({
    executeCommand: (command, args) => {
      if (!client || !client.isRunning()) return Promise.reject(new Error("the socratic language server is not running"));
      return client.sendRequest("workspace/executeCommand", { command, arguments: args });
    },
    notify: (method, params) => client?.sendNotification(method, params),
  });

  // status bar
  const item = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 50);
  item.command = "socratic.menu";
  context.subscriptions.push(item);
  let daemon: DaemonState = { kind: "unknown", detail: "not asked yet" };
  let clientState: ClientState = "stopped";
  let lastEvolve: EvolveSummary | null = null;
  const redraw = (): void => {
    const bar = statusBar(daemon, clientState, api.attempt, binary, heldOutStatus(lastEvolve));
    item.text = bar.text;
    item.tooltip = bar.tooltip;
    item.show();
    void vscode.commands.executeCommand("setContext", "socratic.attemptRunning", api.attempt !== null);
  };
  const refreshDaemon = async (): Promise<void> => {
    if (settings.standalone) daemon = { kind: "standalone", detail: "" };
    else if (!binary) daemon = { kind: "unknown", detail: "no socratic binary" };
    else {
      const r = await run(binary, daemonStatusArgs(settings), 5000);
      daemon = parseDaemonStatus(r.code, r.stdout, r.stderr);
    }
    redraw();
  };
  const timer = setInterval(() => void refreshDaemon(), 30000);
  context.subscriptions.push({ dispose: () => clearInterval(timer) });

  // curriculum view
  const tree = new CurriculumProvider(() => api.tasks());
  const view = vscode.window.createTreeView("socratic.curriculum", { treeDataProvider: tree, showCollapseAll: true });
  context.subscriptions.push(view);
  const refreshTree = async (): Promise<void> => {
    if (!client || !client.isRunning()) {
      view.message = "The socratic language server is not running (open a Python file of a git repository).";
      return;
    }
    await tree.refresh();
    view.message = tree.error ? `socratic: ${tree.error}` : tree.list.tasks.length === 0 ? "No tasks yet: run a round." : undefined;
    redraw();
  };

  // diagnostics change when any editor on the daemon accepts, rejects or generates
  let pending: NodeJS.Timeout | undefined;
  context.subscriptions.push(
    vscode.languages.onDidChangeDiagnostics(() => {
      clearTimeout(pending);
      pending = setTimeout(() => void refreshTree(), 500);
    }),
    { dispose: () => clearTimeout(pending) },
  );

  // terminal recording
  const recorder = new ShellRecorder(
    (e) => api.record(e),
    () => settings.recordTerminal && api.attempt !== null,
  );
  context.subscriptions.push(watchTerminals(recorder));

  // the language client
  const startClient = async (): Promise<void> => {
    if (!binary) {
      clientState = "stopped";
      redraw();
      void vscode.window.showErrorMessage("socratic: the `socratic` binary was not found. Set `socratic.path` or put it on PATH.");
      return;
    }
    const serverOptions: ServerOptions = { command: binary, args: serverArgs(settings) };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [{ scheme: "file", language: "python" }],
      outputChannel: output,
      middleware: {
        // code actions run the server's commands directly: follow attempts and refresh the view
        executeCommand: async (command, args, next) => {
          const result = await next(command, args);
          api.observe(command, result);
          if (command === "socratic.startAttempt" && api.started) void openAttempt(result as AttemptStarted);
          void refreshTree();
          return result;
        },
      },
    };
    client = new LanguageClient("socratic", "socratic", serverOptions, clientOptions);
    client.onDidChangeState((e) => {
      clientState = e.newState === State.Running ? "running" : e.newState === State.Starting ? "starting" : "stopped";
      redraw();
    });
    try {
      await client.start();
    } catch (e) {
      output.appendLine(`start failed: ${message(e)}`);
    }
    await refreshDaemon();
    await refreshTree();
  };
  const stopClient = async (): Promise<void> => {
    const c = client;
    client = undefined;
    if (c) await c.stop().catch(() => undefined);
  };

  // commands
  const pickTask = async (arg: unknown, title: string): Promise<string | undefined> => {
    if (typeof arg === "string" && arg !== "") return arg;
    if (arg && typeof arg === "object") {
      const o = arg as { id?: unknown; task?: { id?: unknown } };
      if (typeof o.id === "string") return o.id;
      if (o.task && typeof o.task.id === "string") return o.task.id;
    }
    const under = taskUnderCursor();
    if (under) return under;
    const list = tree.list.tasks.length > 0 ? tree.list : await api.tasks().catch(() => tree.list);
    const picked = await vscode.window.showQuickPick(
      list.tasks.map((t) => ({ label: `${t.skill ?? t.operator}: ${t.statement}`, description: `${t.status} — ${t.file}:${t.line}`, id: t.id })),
      { title, matchOnDescription: true },
    );
    return picked?.id;
  };
  const guard = (f: (...args: unknown[]) => Promise<unknown>) => async (...args: unknown[]) => {
    try {
      await f(...args);
    } catch (e) {
      void vscode.window.showErrorMessage(`socratic: ${message(e)}`);
    } finally {
      redraw();
    }
  };
  const register = (id: string, f: (...args: unknown[]) => Promise<unknown>): void => {
    context.subscriptions.push(vscode.commands.registerCommand(id, guard(f)));
  };

  register("socratic.acceptTask", async (arg) => {
    const id = await pickTask(arg, "Accept which task?");
    if (!id) return;
    const r = await api.accept(id);
    void vscode.window.showInformationMessage(`socratic: ${r.id} ${r.status}`);
    await refreshTree();
  });
  register("socratic.rejectTask", async (arg) => {
    const id = await pickTask(arg, "Reject which task?");
    if (!id) return;
    const r = await api.reject(id);
    void vscode.window.showInformationMessage(`socratic: ${r.id} ${r.status}`);
    await refreshTree();
  });
  register("socratic.startTaskAttempt", async (arg) => {
    const id = await pickTask(arg, "Attempt which task?");
    if (!id) return;
    const r = await api.startAttempt(id);
    await openAttempt(r);
    void vscode.window.showInformationMessage(
      `socratic: attempt ${r.attemptId} at ${r.id} started on a checkout of the bug. Fix it, run the failing tests, then finish the attempt.`,
    );
    await refreshTree();
  });
  register("socratic.runAttemptTests", async () => {
    const r = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: "socratic: running the failing tests in the task's container" },
      () => api.runAttemptTests(),
    );
    const text = `socratic: ${testsMessage(r)}`;
    if (r.outcome === "passed") void vscode.window.showInformationMessage(text);
    else {
      const show = await vscode.window.showWarningMessage(text, "Show Problems");
      if (show) await vscode.commands.executeCommand("workbench.actions.view.problems");
    }
  });
  register("socratic.finishTaskAttempt", async () => {
    const r = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: "socratic: grading the attempt" },
      () => api.finishAttempt(),
    );
    const text = `socratic: ${finishedMessage(r)}`;
    if (r.resolved) void vscode.window.showInformationMessage(text);
    else void vscode.window.showWarningMessage(text);
    await refreshTree();
  });
  register("socratic.abandonTaskAttempt", async () => {
    const r = await api.abandonAttempt();
    void vscode.window.showInformationMessage(`socratic: attempt at ${r.id} abandoned`);
    await refreshTree();
  });
  register("socratic.runRound", async () => {
    const r = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: "socratic: round" },
      () => api.round(),
    );
    void vscode.window.showInformationMessage(`socratic ${roundMessage(r)}`);
    await refreshTree();
  });
  register("socratic.runEvolve", async () => {
    const r = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: "socratic: evolve" },
      () => api.evolve(),
    );
    lastEvolve = r;
    redraw();
    void vscode.window.showInformationMessage(`socratic ${evolveMessage(r)}`);
    await refreshTree();
  });
  register("socratic.showTaskPatch", async (arg) => {
    const id = await pickTask(arg, "Show the bug patch of which task?");
    if (!id) return;
    const r = await api.showPatch(id);
    const doc = await vscode.workspace.openTextDocument({ content: r.patch, language: "diff" });
    await vscode.window.showTextDocument(doc, { preview: true });
  });
  register("socratic.refreshTasks", () => refreshTree());
  register("socratic.openTask", async (arg) => {
    const row = arg as TaskRow;
    const uri = rowUri(row, tree.list.root);
    if (!uri) return;
    const pos = new vscode.Position(Math.max(0, row.line - 1), Math.max(0, row.column - 1));
    await vscode.window.showTextDocument(uri, { selection: new vscode.Range(pos, pos) });
  });
  register("socratic.showReport", async () => {
    if (!binary) throw new Error("the socratic binary was not found (socratic.path)");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "socratic-report-"));
    const out = path.join(dir, "report.html");
    const r = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: "socratic: writing the report" },
      () => run(binary as string, reportArgs(settings, out), 120000),
    );
    if (r.code !== 0 || !fs.existsSync(out)) throw new Error(`socratic report failed: ${(r.stderr || r.stdout).trim() || `exit code ${r.code}`}`);
    await vscode.env.openExternal(vscode.Uri.file(out));
  });
  register("socratic.restartServer", async () => {
    await stopClient();
    await startClient();
  });
  register("socratic.menu", async () => {
    const items: { label: string; command: string }[] = [
      { label: "$(sync) Run a round", command: "socratic.runRound" },
      { label: "$(beaker) Evolve (round, solve, held-out, train)", command: "socratic.runEvolve" },
      { label: "$(check) Accept task…", command: "socratic.acceptTask" },
      { label: "$(close) Reject task…", command: "socratic.rejectTask" },
      ...(api.attempt
        ? [
            { label: `$(beaker) Run the failing tests of ${api.attempt}`, command: "socratic.runAttemptTests" },
            { label: `$(debug-stop) Finish the attempt at ${api.attempt}`, command: "socratic.finishTaskAttempt" },
            { label: `$(trash) Abandon the attempt at ${api.attempt}`, command: "socratic.abandonTaskAttempt" },
          ]
        : [{ label: "$(debug-start) Start an attempt…", command: "socratic.startTaskAttempt" }]),
      { label: "$(graph) Show report", command: "socratic.showReport" },
      { label: "$(refresh) Restart the language server", command: "socratic.restartServer" },
    ];
    await refreshDaemon();
    const picked = await vscode.window.showQuickPick(items, { title: String(item.tooltip ?? "socratic") });
    if (picked) await vscode.commands.executeCommand(picked.command);
  });

  context.subscriptions.push(
    onSettingsChanged(() => {
      settings = currentSettings();
      binary = findBinary(settings.path, process.env);
      void (async () => {
        await stopClient();
        await startClient();
      })();
    }),
  );
  context.subscriptions.push({ dispose: () => void stopClient() });

  redraw();
  await startClient();
}

export async function deactivate(): Promise<void> {
  const c = client;
  client = undefined;
  if (c) await c.stop();
}
