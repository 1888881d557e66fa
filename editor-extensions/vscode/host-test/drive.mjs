// The extension in a real VS Code: code-server serves the workbench with the installed .vsix,
// headless Chromium (puppeteer-core) opens it on the prepared repository and acts as a user.
//
// In (environment, set by run.sh): CODE_SERVER_URL (the workbench, folder included), REPO,
// SOCRATIC_BIN, SOCRATIC_HOME, CHROMIUM_BIN, LOG_DIR, FILE (the file with the tasks), CANDIDATE
// (a valid task id in FILE, not yet accepted, at LINE, `line:column`, 1-based). Out: one line per check on stdout; exit
// 1 with a screenshot in LOG_DIR (its path printed) at the first check that fails.
//
// Checks: the status bar shows the language server running; the Problems panel lists the
// curriculum's diagnostics (the default: accepted and kept tasks of FILE, nothing else), and after
// "Choose Diagnostics" → all, the valid tasks too (candidates are hints, which the panel leaves out);
// the code action "socratic: accept …" on CANDIDATE's line
// (a valid task) accepts it (the store says so, read with the socratic CLI); an attempt at it
// runs to the end (Start Attempt, the fix written into its checkout, Finish Attempt: a trace
// graded resolved in the store).
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import puppeteer from "puppeteer-core";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const [url, repo, bin, home, logDir, file] = ["CODE_SERVER_URL", "REPO", "SOCRATIC_BIN", "SOCRATIC_HOME", "LOG_DIR", "FILE"].map(env);
const candidate = env("CANDIDATE");
const line = env("LINE"); // `line:column`, 1-based

const socratic = (...args) => JSON.parse(execFileSync(bin, ["--home", home, ...args], { encoding: "utf8" }));
const tasks = () => socratic("tasks", "list", "--json");

const browser = await puppeteer.launch({
  executablePath: env("CHROMIUM_BIN"),
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,900"],
  defaultViewport: { width: 1400, height: 900 },
});
const page = await browser.newPage();
const started = Date.now();
let step = "open the workbench";

async function fail(err) {
  fs.mkdirSync(logDir, { recursive: true });
  const shot = path.join(logDir, "vscode-host-test.png");
  try {
    await page.screenshot({ path: shot });
    console.error(`screenshot of the failure: ${shot}`);
  } catch (e) {
    console.error(`no screenshot: ${e}`);
  }
  console.error(`FAILED at "${step}": ${err?.stack ?? err}`);
  await browser.close();
  process.exit(1);
}

/** Poll `f` in the page until it returns something truthy. */
async function until(what, f, arg, ms = 60000) {
  step = what;
  const handle = await page.waitForFunction(f, { timeout: ms, polling: 250 }, arg);
  return handle.jsonValue();
}

function ok(what) {
  console.log(`ok ${((Date.now() - started) / 1000).toFixed(1)}s  ${what}`);
}

async function keys(...combo) {
  for (const k of combo.slice(0, -1)) await page.keyboard.down(k);
  await page.keyboard.press(combo[combo.length - 1]);
  for (const k of combo.slice(0, -1).reverse()) await page.keyboard.up(k);
}

/** Run a workbench command through the command palette. */
async function palette(command) {
  await keys("Control", "Shift", "KeyP");
  await page.waitForSelector(".quick-input-widget .input", { visible: true });
  await page.keyboard.type(command);
  await new Promise((r) => setTimeout(r, 400));
  await page.keyboard.press("Enter");
}

try {
  page.on("pageerror", (e) => console.error(`page error: ${e}`));
  await page.goto(url, { waitUntil: "domcontentloaded", timeout: 60000 });
  await until("the workbench loads", () => document.querySelector(".monaco-workbench .part.statusbar"));
  ok("workbench loaded");

  // Opening a Python file activates the extension (onLanguage:python).
  step = `open ${file}`;
  await page.click(".monaco-workbench .part.editor");
  await keys("Control", "KeyP");
  await page.waitForSelector(".quick-input-widget .input", { visible: true });
  await page.keyboard.type(file);
  await until("quick open finds the file", (f) => [...document.querySelectorAll(".quick-input-list .monaco-list-row")].some((r) => r.textContent.includes(f.split("/").pop())), file);
  await page.keyboard.press("Enter");
  await until("the file opens", (f) => document.querySelector(".tabs-container .tab.active")?.textContent.includes(f.split("/").pop()), file);
  ok(`${file} open`);

  const bar = await until("the status bar shows the server running", () => {
    const item = [...document.querySelectorAll(".statusbar-item")].find((e) => e.textContent.includes("socratic"));
    return item && item.querySelector(".codicon-mortar-board") ? item.textContent.trim() : false;
  }, undefined, 90000);
  ok(`status bar: "${bar}" with the running icon`);

  // The Problems panel: by default only the curriculum (tasks a round kept and accepted ones).
  const inFile = tasks().filter((t) => t.file === file);
  const curriculum = inFile.filter((t) => t.decision === "accepted" || t.decision === "kept");
  if (!curriculum.some((t) => t.decision === "accepted")) throw new Error(`no accepted task in ${file}`);
  await palette("View: Focus Problems");
  const rows = await until("the Problems panel lists the curriculum's diagnostics", (n) => {
    const rows = [...document.querySelectorAll(".markers-panel .monaco-list-row")].map((r) => r.textContent).filter((r) => r.includes("socratic"));
    return rows.length >= n ? rows : false;
  }, curriculum.length);
  const shown = (rows, t) => rows.some((r) => r.includes(t.skill ?? t.operator) && r.includes(t.enclosing));
  for (const t of curriculum) {
    if (!shown(rows, t)) throw new Error(`no Problems row for curriculum task ${t.id} (${t.skill ?? t.operator} in ${t.enclosing}): ${JSON.stringify(rows)}`);
  }
  const outside = rows.filter((r) => !r.includes("[accepted]") && !r.includes("[kept]"));
  if (outside.length) throw new Error(`the default shows only the curriculum, but the Problems panel has ${JSON.stringify(outside)}`);
  ok(`Problems panel: the ${curriculum.length} curriculum task(s) of ${file} and nothing else`);

  // "Choose Diagnostics" → all: the valid candidates appear too.
  step = "choose diagnostics: all";
  await palette("socratic: Choose Diagnostics");
  await until("the diagnostics quick pick opens", () => [...document.querySelectorAll(".quick-input-list .monaco-list-row")].some((r) => r.textContent.includes("every scored task too")));
  await page.keyboard.type("all");
  await new Promise((r) => setTimeout(r, 300));
  await page.keyboard.press("Enter");
  const valid = inFile.filter((t) => t.stage === "valid" && t.decision !== "accepted");
  const all = await until("the Problems panel lists the valid tasks too", (n) => {
    const rows = [...document.querySelectorAll(".markers-panel .monaco-list-row")].map((r) => r.textContent).filter((r) => r.includes("socratic"));
    return rows.length >= n && rows.some((r) => r.includes("[valid]")) ? rows : false;
  }, Math.min(curriculum.length + valid.length, 8));
  ok(`Problems panel after choosing "all": ${all.length} task rows, ${all.filter((r) => r.includes("[valid]")).length} of them valid candidates`);

  // A code action on the candidate's line accepts it.
  step = `go to line ${line}`;
  await page.click(".monaco-editor .view-lines");
  await keys("Control", "KeyG");
  await page.waitForSelector(".quick-input-widget .input", { visible: true });
  await page.keyboard.type(line);
  await page.keyboard.press("Enter");
  await new Promise((r) => setTimeout(r, 500));
  await keys("Control", "Period");
  const title = await until("the code action menu offers to accept the candidate", () => {
    const items = [...document.querySelectorAll(".action-widget .monaco-list-row")];
    const accept = items.find((i) => /socratic: accept .* into the curriculum/.test(i.textContent));
    return accept ? accept.textContent : false;
  }, undefined, 30000);
  step = "choose the accept action";
  const items = await page.$$(".action-widget .monaco-list-row");
  let clicked = false;
  for (const item of items) {
    const text = await item.evaluate((e) => e.textContent);
    if (/socratic: accept .* into the curriculum/.test(text)) {
      await item.click();
      clicked = true;
      break;
    }
  }
  if (!clicked) throw new Error("the accept action vanished");
  step = "the store records the acceptance";
  const deadline = Date.now() + 30000;
  for (;;) {
    const t = tasks().find((x) => x.id === candidate);
    if (t?.decision === "accepted") break;
    if (Date.now() > deadline) throw new Error(`${candidate} is ${t?.decision} in the store, not accepted`);
    await new Promise((r) => setTimeout(r, 300));
  }
  ok(`code action "${title.trim()}" accepted ${candidate} (socratic tasks list --json)`);

  // An attempt at it, to the end: Start Attempt (the task under the cursor) opens the bugged
  // file of a scratch checkout; the fix (the clean file's text) is written there; Finish Attempt
  // grades it and stores the trace.
  step = "start the attempt";
  await keys("Control", "KeyG");
  await page.waitForSelector(".quick-input-widget .input", { visible: true });
  await page.keyboard.type(line);
  await page.keyboard.press("Enter");
  await new Promise((r) => setTimeout(r, 500));
  await palette("socratic: Start Attempt");
  await new Promise((r) => setTimeout(r, 1500));
  const asks = await page.evaluate(() => document.querySelector(".quick-input-widget:not([style*='display: none']) .quick-input-title")?.textContent ?? "");
  if (asks.includes("Attempt which task")) {
    // the cursor was not on the task: pick it by its operator and enclosing function
    const t = tasks().find((x) => x.id === candidate);
    await page.keyboard.type(`${t.operator}: \`${t.enclosing}\``);
    await new Promise((r) => setTimeout(r, 400));
    await page.keyboard.press("Enter");
  }
  const attemptBar = await until("the status bar shows the attempt", () => {
    const item = [...document.querySelectorAll(".statusbar-item")].find((e) => e.textContent.includes("socratic: attempt"));
    return item ? item.textContent.trim() : false;
  }, undefined, 120000);
  ok(`attempt started: status bar "${attemptBar}"`);
  step = "fix the bug in the checkout";
  const attempts = path.join(home, "attempts");
  const dir = fs.readdirSync(attempts).find((d) => d.startsWith(candidate));
  if (!dir) throw new Error(`no checkout of ${candidate} under ${attempts}`);
  fs.copyFileSync(path.join(repo, file), path.join(attempts, dir, "repo", file));
  await new Promise((r) => setTimeout(r, 1500));
  await palette("socratic: Finish Attempt");
  const verdict = await until("the attempt is graded", () => {
    const n = [...document.querySelectorAll(".notification-toast, .notifications-toasts .monaco-list-row")].map((e) => e.textContent);
    return n.find((t) => /graded \S+/.test(t)) ?? false;
  }, undefined, 180000);
  step = "the store holds the graded trace";
  const trace = /trace (tr-[0-9a-f]+)/.exec(verdict)?.[1];
  if (!trace) throw new Error(`no trace id in "${verdict}"`);
  const stored = JSON.parse(execFileSync(bin, ["--home", home, "traces", "show", trace, "--json"], { encoding: "utf8" }));
  const text = JSON.stringify(stored);
  if (!/graded resolved/.test(verdict) || !text.includes("resolved") || !text.includes(candidate)) {
    throw new Error(`the attempt is not a resolved trace of ${candidate}: ${verdict}\n${text.slice(0, 2000)}`);
  }
  ok(`attempt finished: "${verdict.trim().slice(0, 140)}"; trace ${trace} stored (socratic traces show)`);
  if (process.env.SCREENSHOT) {
    await page.screenshot({ path: process.env.SCREENSHOT });
    console.log(`screenshot: ${process.env.SCREENSHOT}`);
  }
  await browser.close();
} catch (err) {
  await fail(err);
}
