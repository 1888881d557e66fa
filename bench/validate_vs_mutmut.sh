#!/usr/bin/env bash
# Validation speed side by side: `socratic bench validate` (warm workers, and strict mode on a
# subset) and mutmut 3 on the same PyPI source distributions, in the same session.
#
#   bench/validate_vs_mutmut.sh WORKDIR [SOCRATIC_BINARY]
#
# WORKDIR receives the unpacked source distributions (each a one-commit git repository), a
# mutmut copy of each, a virtual environment with mutmut, a socratic home, and the logs. Needs
# a Docker engine, network access to PyPI, and GNU time (/usr/bin/time). Prints `uptime` before
# each measurement: other work on the machine changes the figures.
set -euo pipefail
work=${1:?usage: bench/validate_vs_mutmut.sh WORKDIR [SOCRATIC_BINARY]}
socratic=${2:-$(dirname "$0")/../target/release/socratic}
socratic=$(realpath "$socratic")
mkdir -p "$work"
cd "$work"
work=$(pwd)

pkgs=("markupsafe 3.0.2 src/markupsafe/" "itsdangerous 2.2.0 src/itsdangerous/")

[ -d dl ] || pip download --no-deps --no-binary :all: -d dl markupsafe==3.0.2 itsdangerous==2.2.0
[ -x mutvenv/bin/mutmut ] || { python3 -m venv mutvenv && mutvenv/bin/pip install -q mutmut pytest freezegun; }

for entry in "${pkgs[@]}"; do
    read -r name version source <<<"$entry"
    dir="$name-$version"
    if [ ! -d "$dir/.git" ]; then
        tar --no-same-owner -xzf "dl/$dir.tar.gz"
        (cd "$dir" && git init -q && git add -A && git -c user.name=bench -c user.email=bench@localhost commit -qm "$dir")
    fi
    if [ ! -d "mut/$dir" ]; then
        mkdir -p mut && tar -C mut --no-same-owner -xzf "dl/$dir.tar.gz"
        printf '\n[mutmut]\nsource_paths=%s\npytest_add_cli_args_test_selection=tests/\n' "$source" >>"mut/$dir/setup.cfg"
    fi
done

run() { # label, command...
    local label=$1; shift
    echo "== $label  ($(uptime | sed 's/.*load/load/'))"
    /usr/bin/time -v "$@" >"$work/$label.out" 2>"$work/$label.err" || { tail -5 "$work/$label.err"; return 1; }
    grep -E "Elapsed|Maximum resident" "$work/$label.err" | sed 's/^\s*/   /'
}

for entry in "${pkgs[@]}"; do
    read -r name version _ <<<"$entry"
    dir="$name-$version"
    # Build (or reuse) the environment image first, so no measurement includes it.
    "$socratic" --home "$work/home" bench validate --repo "$work/$dir" --candidates 1 >/dev/null 2>&1
    run "$name-ours" "$socratic" --home "$work/home" bench validate --repo "$work/$dir" --candidates 200 --vs-strict
    sed -n '2,$p' "$work/$name-ours.out"
    run "$name-ours-executed" "$socratic" --home "$work/home" bench validate --repo "$work/$dir" --candidates 200 --executed-only
    sed -n '2,$p' "$work/$name-ours-executed.out"
    (cd "mut/$dir" && rm -rf mutants && run "$name-mutmut" "$work/mutvenv/bin/mutmut" run --max-children 2)
    grep -oE "[0-9]+/[0-9]+ +🎉 [0-9]+ 🫥 [0-9]+ +⏰ [0-9]+ +🤔 [0-9]+ +🙁 [0-9]+ +🔇 [0-9]+" "$work/$name-mutmut.out" | tail -1
done
