#!/usr/bin/env bash
# The VS Code extension in a real VS Code host: code-server (npm, on Node 24 from npm's `node`
# package) with the packaged .vsix installed, opened on a committed copy of the example
# repository whose home the socratic binary prepared (environment built, tasks generated and
# validated in Docker, one accepted into the curriculum), driven by headless Chromium through
# puppeteer-core (drive.mjs). The copy is committed with a fixed date, so its commit and its
# environment image are the same from run to run (built once).
#
# In: target/debug/socratic (or SOCRATIC_BIN), dist/socratic.vsix (npm run package), Debian's
# chromium (or CHROMIUM_BIN). Tools (Node 24, code-server) are installed once into
# ${XDG_CACHE_HOME:-$HOME/.cache}/socratic-ci/code-server; building code-server's native modules
# needs a C++ toolchain and libkrb5-dev. Out: the checks on stdout; on failure a screenshot and
# code-server's log in target/ci-logs/ (their paths printed) and exit 1.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
ext="$(dirname "$here")"
root="$(cd "$ext/../.." && pwd)"
CODE_SERVER_VERSION=4.139.1
TOOLS="${SOCRATIC_CODE_SERVER_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/socratic-ci/code-server}"
BIN="$(realpath "${SOCRATIC_BIN:-$root/target/debug/socratic}")"
VSIX="$ext/dist/socratic.vsix"
LOG_DIR="${LOG_DIR:-$root/target/ci-logs}"
CHROMIUM_BIN="${CHROMIUM_BIN:-$(command -v chromium || command -v chromium-browser || true)}"
for need in "$BIN" "$VSIX" "$CHROMIUM_BIN"; do
  [ -n "$need" ] && [ -e "$need" ] || { echo "host test: missing ${need:-chromium}" >&2; exit 1; }
done
mkdir -p "$LOG_DIR"

# Node 24 and code-server, cached.
code_server="$TOOLS/code-server/node_modules/.bin/code-server"
if ! [ -x "$code_server" ] || ! grep -q "\"version\": \"$CODE_SERVER_VERSION\"" "$TOOLS/code-server/node_modules/code-server/package.json" 2>/dev/null; then
  echo "installing Node 24 and code-server $CODE_SERVER_VERSION into $TOOLS (once)"
  mkdir -p "$TOOLS/code-server"
  (cd "$TOOLS" && { [ -f package.json ] || echo '{"private": true}' >package.json; } && npm install --no-audit --no-fund --silent node@24)
  nodedir="$(ls -d "$TOOLS"/node_modules/node/node_modules/node-linux-* | head -1)"
  (
    cd "$TOOLS/code-server"
    [ -f package.json ] || echo '{"private": true}' >package.json
    # the native modules build against the headers shipped in the node package (no download)
    PATH="$TOOLS/node_modules/node/bin:$PATH" npm_config_nodedir="$nodedir" \
      npm install --no-audit --no-fund --silent "code-server@$CODE_SERVER_VERSION"
  )
fi
export PATH="$TOOLS/node_modules/node/bin:$PATH"
echo "host test: node $(node --version), code-server $("$code_server" --version 2>/dev/null | tail -1 | cut -d' ' -f1)"
(cd "$here" && npm ci --no-audit --no-fund --silent)

tmp="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# The repository and the home: 12 tasks generated on executed lines and validated; in the file
# with the most valid ones, the first is accepted (the curriculum; valid and accepted tasks are
# Information in the Problems panel), the second is left for the code action to accept.
repo="$tmp/repo"
home="$tmp/socratic-home"
mkdir -p "$repo" "$tmp/run" "$tmp/user-home"
(cd "$root/tests/example_repo" && tar --exclude=__pycache__ --exclude=.pytest_cache -cf - .) | tar -xf - -C "$repo"
git -C "$repo" init -q
git -C "$repo" add -A
GIT_AUTHOR_DATE=2026-01-01T00:00:00Z GIT_COMMITTER_DATE=2026-01-01T00:00:00Z \
  git -C "$repo" -c user.name=Test -c user.email=test@example.com commit -qm initial
"$BIN" --home "$home" env build --repo "$repo" >"$LOG_DIR/host-test-env.log" 2>&1 || { tail -20 "$LOG_DIR/host-test-env.log"; exit 1; }
"$BIN" --home "$home" tasks generate --repo "$repo" --budget 12 >/dev/null
"$BIN" --home "$home" tasks validate --workers 2 >"$LOG_DIR/host-test-validate.log" 2>&1 || { tail -20 "$LOG_DIR/host-test-validate.log"; exit 1; }
read -r FILE ACCEPTED CANDIDATE LINE < <("$BIN" --home "$home" tasks list --json | node -e '
  const tasks = JSON.parse(require("fs").readFileSync(0, "utf8")).filter((t) => t.stage === "valid");
  const by = {};
  for (const t of tasks) (by[t.file] ??= []).push(t);
  const lines = new Set();
  const distinct = (ts) => ts.sort((a, b) => a.line - b.line).filter((t) => !lines.has(t.file + t.line) && lines.add(t.file + t.line));
  const files = Object.entries(by).map(([f, ts]) => [f, distinct(ts)]).sort((a, b) => b[1].length - a[1].length || a[0].localeCompare(b[0]));
  const [file, ts] = files[0] ?? ["", []];
  if (ts.length < 2) throw new Error(`the fixture needs two valid tasks on distinct lines in one file: ${JSON.stringify(files.map(([f, t]) => [f, t.length]))}`);
  console.log(file, ts[0].id, ts[1].id, `${ts[1].line}:${ts[1].column}`);')
"$BIN" --home "$home" curriculum accept "$ACCEPTED" >/dev/null
echo "host test: $FILE, accepted $ACCEPTED, $CANDIDATE (valid) at line $LINE for the code action"

# User settings only (as a person sets them): socratic.path must be read from there in a
# remote-style host. The binary is not on the PATH nor in ~/.cargo/bin of this HOME. Any number
# of diagnostics per function, so the candidate's code action is there once "all" is chosen.
mkdir -p "$tmp/data/User"
cat >"$tmp/data/User/settings.json" <<EOF
{
  "socratic.path": "$BIN",
  "socratic.standalone": true,
  "socratic.diagnostics.perFunction": 0,
  "security.workspace.trust.enabled": false,
  "workbench.startupEditor": "none",
  "telemetry.telemetryLevel": "off",
  "extensions.autoCheckUpdates": false,
  "update.mode": "none"
}
EOF
export HOME="$tmp/user-home" XDG_CONFIG_HOME="$tmp/config" XDG_DATA_HOME="$tmp/data-home" XDG_RUNTIME_DIR="$tmp/run"
export SOCRATIC_HOME="$home"
unset CARGO_HOME
"$code_server" --user-data-dir "$tmp/data" --extensions-dir "$tmp/ext" --install-extension "$VSIX" >"$LOG_DIR/code-server-install.log" 2>&1 \
  || { cat "$LOG_DIR/code-server-install.log"; exit 1; }
port="$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')"
"$code_server" --auth none --bind-addr "127.0.0.1:$port" --user-data-dir "$tmp/data" --extensions-dir "$tmp/ext" \
  --disable-telemetry --disable-update-check --disable-workspace-trust "$repo" >"$LOG_DIR/code-server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 60); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 1
done
curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null || { echo "code-server did not start:"; tail -30 "$LOG_DIR/code-server.log"; exit 1; }

status=0
CODE_SERVER_URL="http://127.0.0.1:$port/?folder=$repo" REPO="$repo" SOCRATIC_BIN="$BIN" CHROMIUM_BIN="$CHROMIUM_BIN" \
  LOG_DIR="$LOG_DIR" FILE="$FILE" CANDIDATE="$CANDIDATE" LINE="$LINE" \
  timeout 240 node "$here/drive.mjs" || status=$?
if [ "$status" != 0 ]; then
  echo "host test failed (exit $status); code-server's log: $LOG_DIR/code-server.log" >&2
  exit 1
fi
echo "host test: passed"
