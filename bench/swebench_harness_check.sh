#!/usr/bin/env bash
# The SWE-bench harness (the `swebench` package from PyPI) on an export of the example
# repository's curriculum: `socratic demo` builds the curriculum in a fresh home, `socratic export
# --format swebench` writes the rows and builds their images, then
# `python -m swebench.harness.run_evaluation` grades three prediction sets:
#   gold   the rows' own patches                        -> every instance resolved
#   empty  an empty patch per instance                  -> none resolved
#   noop   a patch that applies but fixes nothing       -> none resolved (the images hold the bug)
# Prints the resolved counts and exits non-zero unless gold is 100% and the others 0%.
#
# Needs a Docker engine, debootstrap (for the base image) and network access to PyPI.
# Environment: SOCRATIC_BIN (default: `cargo build --locked`, then the debug binary),
# SWEBENCH_PYTHON (a Python with `swebench` installed; default: a venv made here),
# KEEP_WORK=1 keeps the work folder (home, export, harness logs).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/socratic-swebench.XXXXXX")
IMAGES=()
cleanup() {
  for image in "${IMAGES[@]}"; do docker rmi -f "$image" >/dev/null 2>&1 || true; done
  if [ "${KEEP_WORK:-0}" = 1 ]; then echo "work folder kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

BIN=${SOCRATIC_BIN:-}
if [ -z "$BIN" ]; then
  (cd "$ROOT" && cargo build --locked --quiet)
  BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug/socratic
fi

PY=${SWEBENCH_PYTHON:-}
if [ -z "$PY" ]; then
  python3 -m venv "$WORK/venv"
  "$WORK/venv/bin/pip" install --quiet --disable-pip-version-check swebench
  PY=$WORK/venv/bin/python
fi
"$PY" -c 'import swebench.harness.run_evaluation' || { echo "no swebench in $PY" >&2; exit 1; }
echo "swebench $("$PY" -c 'import importlib.metadata as m; print(m.version("swebench"))')"

HOME_DIR=$WORK/home
echo "== socratic demo (the example repository's curriculum)"
"$BIN" --home "$HOME_DIR" demo --json >"$WORK/demo.json"
echo "== socratic export --format swebench"
"$BIN" --home "$HOME_DIR" export --format swebench "$WORK/tasks.jsonl"
mapfile -t IMAGES < <("$PY" -c 'import json, sys; [print(json.loads(l)["image"]) for l in open(sys.argv[1])]' "$WORK/tasks.jsonl")
TOTAL=${#IMAGES[@]}
[ "$TOTAL" -gt 0 ] || { echo "the export holds no task" >&2; exit 1; }

# Prediction files: empty patches, and a patch that adds a note and fixes nothing.
"$PY" - "$WORK" <<'EOF'
import json, sys
work = sys.argv[1]
rows = [json.loads(line) for line in open(f"{work}/tasks.jsonl")]
noop = "diff --git a/SOCRATIC_NOTE.md b/SOCRATIC_NOTE.md\nnew file mode 100644\n--- /dev/null\n+++ b/SOCRATIC_NOTE.md\n@@ -0,0 +1 @@\n+not a fix\n"
for name, patch in (("empty", ""), ("noop", noop)):
    with open(f"{work}/{name}.jsonl", "w") as f:
        for row in rows:
            f.write(json.dumps({"instance_id": row["instance_id"], "model_name_or_path": name, "model_patch": patch}) + "\n")
EOF

# resolved_instances of a run's report (`<model>.<run id>.json` in the report folder).
resolved() { "$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["resolved_instances"])' "$1"; }

run() { # name predictions
  echo "== harness: $1"
  (cd "$WORK" && "$PY" -m swebench.harness.run_evaluation -d "$WORK/tasks.jsonl" -p "$2" \
    -id "socratic-$1" --max_workers 2 --timeout 600 --report_dir "$WORK/reports" >"$WORK/$1.log" 2>&1) || {
    tail -30 "$WORK/$1.log" >&2
    exit 1
  }
  grep -E '^Instances (resolved|unresolved|with empty patches|with errors):' "$WORK/$1.log"
}
run gold gold
run empty "$WORK/empty.jsonl"
run noop "$WORK/noop.jsonl"

GOLD=$(resolved "$WORK/reports/gold.socratic-gold.json")
EMPTY=$(resolved "$WORK/reports/empty.socratic-empty.json")
NOOP=$(resolved "$WORK/reports/noop.socratic-noop.json")
echo "tasks $TOTAL: gold resolved $GOLD, empty resolved $EMPTY, no-op resolved $NOOP"
if [ "$GOLD" -ne "$TOTAL" ] || [ "$EMPTY" -ne 0 ] || [ "$NOOP" -ne 0 ]; then
  echo "FAIL: want gold $TOTAL/$TOTAL, empty 0, no-op 0" >&2
  exit 1
fi
echo "OK"
