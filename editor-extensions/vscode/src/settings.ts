/**
 * Settings and the command lines built from them.
 *
 * In: raw setting values (`socratic.path`, `socratic.home`, `socratic.standalone`,
 * `socratic.recordTerminal`), the process environment, a way to ask whether a file is
 * executable. Out: validated `Settings`, the `socratic` binary (the setting, then `PATH`, then
 * `~/.cargo/bin`), and the argument lists of `socratic lsp`, `socratic daemon status` and
 * `socratic report --html`. No `vscode` import: plain functions.
 */
import * as fs from "fs";
import * as path from "path";
import type { DiagnosticSettings } from "./protocol";

export interface Settings {
  /** The executable named in the settings, or undefined. */
  path?: string;
  /** The socratic home (`--home`), or undefined for the binary's default. */
  home?: string;
  standalone: boolean;
  recordTerminal: boolean;
}

/** Read settings through `get` (e.g. a VS Code configuration's `get`); wrong types fall back. */
export function readSettings(get: (key: string) => unknown, homeDir?: string): Settings {
  const text = (key: string): string | undefined => {
    const v = get(key);
    return typeof v === "string" && v.trim() !== "" ? expandHome(v.trim(), homeDir) : undefined;
  };
  const flag = (key: string, fallback: boolean): boolean => {
    const v = get(key);
    return typeof v === "boolean" ? v : fallback;
  };
  return {
    path: text("path"),
    home: text("home"),
    standalone: flag("standalone", false),
    recordTerminal: flag("recordTerminal", true),
  };
}

/** Which tasks show as diagnostics: `socratic.diagnostics.show` (`curriculum`, `scored`, `all`)
 * and `socratic.diagnostics.perFunction` (0: no limit), sent as `initializationOptions.diagnostics`;
 * wrong values fall back to `curriculum` and 2. */
export function readDiagnostics(get: (key: string) => unknown): DiagnosticSettings {
  const show = get("diagnostics.show");
  const perFunction = get("diagnostics.perFunction");
  return {
    show: show === "scored" || show === "all" ? show : "curriculum",
    perFunction: typeof perFunction === "number" && Number.isInteger(perFunction) && perFunction >= 0 ? perFunction : 2,
  };
}

/** `~` and `~/x` become the home folder. */
export function expandHome(p: string, homeDir?: string): string {
  if (!homeDir) return p;
  if (p === "~") return homeDir;
  if (p.startsWith("~/")) return path.join(homeDir, p.slice(2));
  return p;
}

/** Whether `file` is a regular file this process may execute. */
export function isExecutable(file: string): boolean {
  try {
    const st = fs.statSync(file);
    // root passes `access(X_OK)` for any file with one x bit; none at all is not executable
    if (!st.isFile() || (st.mode & 0o111) === 0) return false;
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export interface Env {
  PATH?: string;
  HOME?: string;
  CARGO_HOME?: string;
}

/**
 * The `socratic` executable: the configured path (a bare name is looked up on `PATH`), else
 * `socratic` on `PATH`, else `$CARGO_HOME/bin/socratic` (default `~/.cargo/bin`). Undefined when
 * none is executable.
 */
export function findBinary(configured: string | undefined, env: Env, executable: (f: string) => boolean = isExecutable): string | undefined {
  const onPath = (name: string): string | undefined => {
    for (const dir of (env.PATH ?? "").split(path.delimiter)) {
      if (dir === "") continue;
      const candidate = path.join(dir, name);
      if (executable(candidate)) return candidate;
    }
    return undefined;
  };
  if (configured) {
    if (configured.includes("/") || configured.includes(path.sep)) return executable(configured) ? configured : undefined;
    return onPath(configured);
  }
  const found = onPath("socratic");
  if (found) return found;
  const cargoHome = env.CARGO_HOME ?? (env.HOME ? path.join(env.HOME, ".cargo") : undefined);
  if (cargoHome) {
    const cargo = path.join(cargoHome, "bin", "socratic");
    if (executable(cargo)) return cargo;
  }
  return undefined;
}

/** The arguments before a subcommand: `--home HOME` when a home is set. */
export function globalArgs(s: Settings): string[] {
  return s.home ? ["--home", s.home] : [];
}

/** `socratic [--home H] lsp [--standalone]`. */
export function serverArgs(s: Settings): string[] {
  return [...globalArgs(s), "lsp", ...(s.standalone ? ["--standalone"] : [])];
}

/** `socratic [--home H] daemon status`. */
export function daemonStatusArgs(s: Settings): string[] {
  return [...globalArgs(s), "daemon", "status"];
}

/** `socratic [--home H] report --html OUT`. */
export function reportArgs(s: Settings, out: string): string[] {
  return [...globalArgs(s), "report", "--html", out];
}
