#!/usr/bin/env bash
# The efficacy experiment on CPU: does targeting help? Three repositories (the example
# repository and two PyPI source distributions made into one-commit git repositories), a small
# Llama-shaped model written with random weights that the experiment trains from scratch (every
# weight: --full; its warm-up adds generated, unvalidated one-line-fix examples from the
# training side's functions), 3 seeds × 4 arms at an equal budget, held-out pass@1 / pass@2 by
# execution. Answer format `edit` (EFFICACY_ANSWER): the prompt marks a fault-localised line and
# the answer is its minimal edit, `OLD => NEW`; decoding `candidates` (EFFICACY_DECODE; `free` lets
# the model write the answer for the line ranked first): the model ranks the mutation catalogue's
# one-line repairs of the ranked lines by how likely it is to write each, weighted by the line's
# Ochiai score. Builds nothing: pass the binary.
#
#   bench/efficacy_cpu.sh WORKDIR [SOCRATIC_BINARY]
#
# WORKDIR receives the downloads (dl/), the repositories (repos/), the model (model/), a socratic
# home (home/), and the result (efficacy.txt, efficacy.json, report.html, time.txt). Re-running
# the same command resumes an interrupted experiment. Needs a Docker engine with the base image
# and PyPI reachable (sdists, and the environments' installs). Sizes can be changed with
# EFFICACY_* variables (see below); the defaults finish in under an hour on 2 cores.
set -euo pipefail
work=${1:?usage: bench/efficacy_cpu.sh WORKDIR [SOCRATIC_BINARY]}
src=$(cd "$(dirname "$0")/.." && pwd)
socratic=$(realpath "${2:-$src/target/release/socratic}")
mkdir -p "$work"/{dl,repos}
work=$(cd "$work" && pwd)

layers=${EFFICACY_LAYERS:-2}
width=${EFFICACY_WIDTH:-128}
seeds=${EFFICACY_SEEDS:-3}
budget=${EFFICACY_BUDGET:-32}
steps=${EFFICACY_STEPS:-16}
pool=${EFFICACY_POOL:-120}
heldout=${EFFICACY_HELDOUT:-30}
warmup=${EFFICACY_WARMUP:-64}
warmup_steps=${EFFICACY_WARMUP_STEPS:-1500}
probe=${EFFICACY_PROBE:-8}
k=${EFFICACY_K:-2}
generated=${EFFICACY_GENERATED:-3000}
answer=${EFFICACY_ANSWER:-edit}
decode=${EFFICACY_DECODE:-candidates}
lr=${EFFICACY_LR:-3e-3}
batch=${EFFICACY_BATCH:-4}
max_len=${EFFICACY_MAX_LEN:-192}
full=${EFFICACY_FULL:-1}
sdists=(${EFFICACY_SDISTS:-toolz==0.12.1 cachetools==5.5.2})

# A folder as a one-commit git repository.
commit() { (cd "$1" && git init -q && git add -A && git -c user.name=bench -c user.email=bench@localhost commit -qm "$2"); }

repos=()
example=$work/repos/tallyho
if [ ! -d "$example/.git" ]; then
    rm -rf "$example" && cp -r "$src/tests/example_repo" "$example" && commit "$example" tallyho
fi
repos+=(--repo "$example")
for spec in "${sdists[@]}"; do
    name=${spec%%==*}
    dir=$work/repos/$name
    if [ ! -d "$dir/.git" ]; then
        [ -n "$(ls "$work/dl/$spec" 2>/dev/null)" ] ||
            python3 -m pip download -q --no-binary "$name" --no-deps -d "$work/dl/$spec" "$spec"
        archive=$(ls "$work/dl/$spec"/* | head -n1)
        rm -rf "$dir.tmp" && mkdir -p "$dir.tmp" && tar --no-same-owner -xf "$archive" -C "$dir.tmp"
        mv "$dir.tmp"/* "$dir" && rm -rf "$dir.tmp" && commit "$dir" "$spec"
    fi
    repos+=(--repo "$dir")
done

model=$work/model
[ -f "$model/config.json" ] || "$socratic" model tiny "$model" --layers "$layers" --width "$width" >/dev/null

cmd=("$socratic" --home "$work/home" experiment efficacy "${repos[@]}" --model "$model" --device "${EFFICACY_DEVICE:-cpu}"
    --seeds "$seeds" --budget "$budget" --steps "$steps" --pool "$pool" --heldout "$heldout"
    --warmup "$warmup" --warmup-steps "$warmup_steps" --probe "$probe" --k "$k" --generated "$generated"
    --lr "$lr" --batch "$batch" --max-len "$max_len" --answer "$answer" --decode "$decode")
[ "$full" = 1 ] && cmd+=(--full)
[ "${EFFICACY_ALL_TOKENS:-0}" = 1 ] && cmd+=(--all-tokens)
echo "${cmd[*]}" | tee "$work/command.txt"
start=$(date +%s)
"${cmd[@]}" | tee "$work/efficacy.txt"
echo "$(( $(date +%s) - start )) s" | tee "$work/time.txt"
"$socratic" --home "$work/home" experiment show --json >"$work/efficacy.json"
"$socratic" --home "$work/home" report --html "$work/report.html"
