/**
 * A small fake of the `vscode` module, for the unit tests of the glue modules only (config.ts,
 * terminal.ts, cursor.ts, tree.ts, attempt.ts). Importing this file makes `require("vscode")` return the
 * fake; tests set `fake.settings`, `fake.activeTextEditor`, `fake.diagnostics` and fire the
 * terminal events. It models only what those modules use.
 */
import Module = require("module");

type Listener<T> = (e: T) => unknown;

export class EventEmitter<T> {
  private listeners: Listener<T>[] = [];
  event = (l: Listener<T>): { dispose(): void } => {
    this.listeners.push(l);
    return { dispose: () => (this.listeners = this.listeners.filter((x) => x !== l)) };
  };
  fire(e: T): void {
    for (const l of [...this.listeners]) l(e);
  }
  get count(): number {
    return this.listeners.length;
  }
}

class Disposable {
  constructor(private readonly f: () => void) {}
  static from(...items: { dispose(): unknown }[]): Disposable {
    return new Disposable(() => items.forEach((i) => i.dispose()));
  }
  dispose(): void {
    this.f();
  }
}

class Uri {
  constructor(
    readonly scheme: string,
    readonly path: string,
  ) {}
  static file(p: string): Uri {
    return new Uri("file", p);
  }
  static parse(s: string): Uri {
    const m = /^([a-z]+):\/\/(.*)$/.exec(s);
    return m ? new Uri(m[1], decodeURIComponent(m[2])) : new Uri("file", s);
  }
  get fsPath(): string {
    return this.path;
  }
  toString(): string {
    return `${this.scheme}://${this.path}`;
  }
}

class TreeItem {
  id?: string;
  description?: string;
  tooltip?: string;
  contextValue?: string;
  iconPath?: unknown;
  command?: unknown;
  constructor(
    readonly label: string,
    readonly collapsibleState: number,
  ) {}
}

class Position {
  constructor(
    readonly line: number,
    readonly character: number,
  ) {}
}

class Range {
  readonly start: Position;
  readonly end: Position;
  constructor(sl: number, sc: number, el: number, ec: number) {
    this.start = new Position(sl, sc);
    this.end = new Position(el, ec);
  }
}

class ThemeIcon {
  constructor(readonly id: string) {}
}

export const fake = {
  /** `socratic.*` settings by key. */
  settings: {} as Record<string, unknown>,
  activeTextEditor: undefined as unknown,
  /** Diagnostics by URI string. */
  diagnostics: new Map<string, unknown[]>(),
  startExecution: new EventEmitter<unknown>(),
  endExecution: new EventEmitter<unknown>(),
  configurationChanged: new EventEmitter<{ affectsConfiguration(s: string): boolean }>(),
  /** `window.showTextDocument` calls: what was shown (a Uri or a document) and the options. */
  shown: [] as { target: unknown; options: unknown }[],
  /** `workspace.openTextDocument` calls with content. */
  opened: [] as { content?: string; language?: string }[],
};

const vscode = {
  EventEmitter,
  Disposable,
  Uri,
  TreeItem,
  ThemeIcon,
  Position,
  Range,
  ViewColumn: { Active: -1, Beside: -2, One: 1, Two: 2 },
  TreeItemCollapsibleState: { None: 0, Collapsed: 1, Expanded: 2 },
  workspace: {
    openTextDocument: async (o: { content?: string; language?: string }) => {
      fake.opened.push(o);
      return { uri: new Uri("untitled", `Untitled-${fake.opened.length}`), ...o };
    },
    getConfiguration: (section: string) => ({
      get: (key: string) => (section === "socratic" ? fake.settings[key] : undefined),
    }),
    onDidChangeConfiguration: fake.configurationChanged.event,
  },
  window: {
    get activeTextEditor() {
      return fake.activeTextEditor;
    },
    showTextDocument: async (target: unknown, options: unknown) => {
      fake.shown.push({ target, options });
      return {};
    },
    onDidStartTerminalShellExecution: fake.startExecution.event,
    onDidEndTerminalShellExecution: fake.endExecution.event,
  },
  languages: {
    getDiagnostics: (uri: Uri) => fake.diagnostics.get(uri.toString()) ?? [],
  },
};

const loader = Module as unknown as { _load(request: string, parent: unknown, isMain: boolean): unknown };
const original = loader._load;
loader._load = function (request: string, parent: unknown, isMain: boolean): unknown {
  if (request === "vscode") return vscode;
  return original.call(this, request, parent, isMain);
};
