#!/usr/bin/env bash
# The first command of README.md: set up what the demo needs, then run it.
#
# In: a Debian-like machine with a Rust toolchain (cargo). Out: the demo's table on stdout and
# report.html in the home (.socratic-home unless SOCRATIC_HOME says otherwise).
#
# What it does, each step only when needed, saying so first:
#   1. installs the Docker engine, debootstrap and git through apt-get (with sudo when not root);
#   2. starts the Docker engine (dockerd, in the background, log in /tmp) when none answers;
#   3. builds socratic (cargo, release) and runs `socratic demo`, passing on its arguments.
# DEMO_DRY_RUN=1 prints the commands it would run and runs none of them.
set -euo pipefail
cd "$(dirname "$0")"

dry_run="${DEMO_DRY_RUN:-}"
home="${SOCRATIC_HOME:-.socratic-home}"

say() { echo "demo.sh: $*" >&2; }
run() {
  say "+ $*"
  [ -n "$dry_run" ] || "$@"
}
as_root() {
  if [ "$(id -u)" = 0 ]; then run "$@"
  elif command -v sudo >/dev/null; then run sudo "$@"
  else say "need root for: $* (no sudo here); run it as root, then this script again"; exit 1
  fi
}

command -v cargo >/dev/null || { say "no cargo: install a Rust toolchain first (https://rustup.rs)"; exit 1; }

missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v git >/dev/null || missing+=(git)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing what the demo needs: ${missing[*]}"
  command -v apt-get >/dev/null || { say "no apt-get: install ${missing[*]} with your package manager"; exit 1; }
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi

if ! docker info >/dev/null 2>&1; then
  say "no Docker engine answers: starting dockerd (log: /tmp/socratic-dockerd.log)"
  as_root sh -c 'nohup setsid dockerd >/tmp/socratic-dockerd.log 2>&1 </dev/null &'
  if [ -z "$dry_run" ]; then
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
    docker info >/dev/null 2>&1 || { say "dockerd did not start:"; tail -20 /tmp/socratic-dockerd.log >&2; exit 1; }
  fi
fi

run cargo run --release --locked -- --home "$home" demo "$@"
