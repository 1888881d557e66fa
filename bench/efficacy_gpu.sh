#!/usr/bin/env bash
# The efficacy experiment on an NVIDIA GPU: the same experiment as bench/efficacy_cpu.sh (same
# repositories, same answer format, `edit`, and decoding, `candidates`: the prompt marks a fault-localised line, the
# answer is its minimal edit, `OLD => NEW`, and the model ranks candidate repairs) on a larger model and pool, `--device cuda`. Builds nothing: pass a
# binary built with `--features cuda`. The graded attempts need a Docker engine on the machine.
#
#   bench/efficacy_gpu.sh WORKDIR SOCRATIC_BINARY [MODEL_DIR]
#
# MODEL_DIR: a causal LM folder (config.json, model.safetensors, tokenizer.json), e.g. a small
# pretrained Llama-architecture model, trained with LoRA; without it a random 8-layer, width-512
# model is written and trained from scratch (every weight, as on CPU). Sizes: EFFICACY_*
# variables as in bench/efficacy_cpu.sh, with larger defaults here.
set -euo pipefail
work=${1:?usage: bench/efficacy_gpu.sh WORKDIR SOCRATIC_BINARY [MODEL_DIR]}
socratic=$(realpath "${2:?usage: bench/efficacy_gpu.sh WORKDIR SOCRATIC_BINARY [MODEL_DIR]}")
src=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$work"
work=$(cd "$work" && pwd)
if [ -n "${3:-}" ]; then
    ln -sfn "$(realpath "$3")" "$work/model"
    export EFFICACY_FULL=${EFFICACY_FULL:-0} EFFICACY_ALL_TOKENS=${EFFICACY_ALL_TOKENS:-0} EFFICACY_LR=${EFFICACY_LR:-2e-4} EFFICACY_MAX_LEN=${EFFICACY_MAX_LEN:-1024}
else
    [ -f "$work/model/config.json" ] ||
        "$socratic" model tiny "$work/model" --layers "${EFFICACY_LAYERS:-8}" --width "${EFFICACY_WIDTH:-512}" >/dev/null
fi
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
export EFFICACY_SEEDS=${EFFICACY_SEEDS:-3}
export EFFICACY_BUDGET=${EFFICACY_BUDGET:-128}
export EFFICACY_STEPS=${EFFICACY_STEPS:-64}
export EFFICACY_POOL=${EFFICACY_POOL:-300}
export EFFICACY_HELDOUT=${EFFICACY_HELDOUT:-60}
export EFFICACY_WARMUP=${EFFICACY_WARMUP:-256}
export EFFICACY_WARMUP_STEPS=${EFFICACY_WARMUP_STEPS:-256}
export EFFICACY_PROBE=${EFFICACY_PROBE:-60}
export EFFICACY_K=${EFFICACY_K:-4}
export EFFICACY_GENERATED=${EFFICACY_GENERATED:-8000}
EFFICACY_DEVICE=cuda exec "$src/bench/efficacy_cpu.sh" "$work" "$socratic"
