#!/usr/bin/env bash
# Fuzz every target under fuzz/ with libFuzzer (cargo-fuzz, stable Rust: no sanitizer) for a
# number of inputs each, and print executions, time and crashes per target.
#
#   bench/fuzz.sh [RUNS]        # default 1000000 inputs per target
#   FUZZ_TARGETS="lsp_frames import_any" bench/fuzz.sh 100000
#
# Needs `cargo install cargo-fuzz`. Seeds: tests/fixtures/traces (importers) and a few frames.
# Crashes are written to fuzz/artifacts/<target>/; the script exits 1 when any target crashed.
set -uo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-1000000}"
TARGETS="${FUZZ_TARGETS:-$(cd fuzz && cargo fuzz list)}"
cargo fuzz build -s none --release >/dev/null || exit 2
failed=0
printf '%-28s %10s %8s %8s\n' target runs seconds crashes
for t in $TARGETS; do
  corpus="fuzz/corpus/$t"
  mkdir -p "$corpus"
  case "$t" in
    import_*) find tests/fixtures/traces -type f -size -256k -exec cp -n {} "$corpus/" \; 2>/dev/null ;;
    lsp_*) printf 'Content-Length: 2\r\n\r\n{}' >"$corpus/empty-object" ;;
  esac
  start=$(date +%s)
  log="$(mktemp)"
  cargo fuzz run -s none --release "$t" "$corpus" -- -runs="$RUNS" -max_len=65536 -timeout=20 >"$log" 2>&1
  rc=$?
  secs=$(( $(date +%s) - start ))
  execs=$(grep -oE 'Done [0-9]+ runs' "$log" | grep -oE '[0-9]+' | tail -1)
  crashes=$(ls "fuzz/artifacts/$t" 2>/dev/null | wc -l)
  printf '%-28s %10s %8s %8s\n' "$t" "${execs:-?}" "$secs" "$crashes"
  if [ "$rc" -ne 0 ]; then failed=1; tail -30 "$log"; fi
  rm -f "$log"
done
exit "$failed"
