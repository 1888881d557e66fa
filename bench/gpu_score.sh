#!/usr/bin/env bash
# Side-by-side timing of the per-task gradient feature on a machine with an NVIDIA GPU:
#   socratic bench score --device cuda, the same on --device cpu (fewer tasks), and the eager
#   PyTorch reference bench/torch_grad_ref.py (needs torch + transformers).
# All three use the same shape: a random Llama-style model, 12 layers, width 768, vocab 32000,
# 1024 tokens per task of which the last 256 are the target, the gradient of the last two
# layers' o_proj + down_proj (4.33 M parameters), count-sketched to d = 8192.
# Usage: bench/gpu_score.sh [N]   (results under bench/out/, also printed)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-40}
CPU_N=${CPU_N:-4}
OUT=bench/out
mkdir -p "$OUT"

# nvcc: from the system, else from the PyPI wheel (candle compiles its kernels at build time).
if ! command -v nvcc >/dev/null; then
  python3 -m pip install --quiet 'nvidia-cuda-nvcc==13.0.*'
  NVCC=$(python3 - <<'PY'
import glob, os, site
roots = site.getsitepackages() + [site.getusersitepackages()]
hits = [p for r in roots for p in glob.glob(os.path.join(r, "nvidia", "**", "bin", "nvcc"), recursive=True)]
print(hits[0] if hits else "")
PY
)
  [ -n "$NVCC" ] || { echo "nvcc not found after installing nvidia-cuda-nvcc"; exit 1; }
  CUDA_HOME=$(dirname "$(dirname "$NVCC")")
  export PATH="$CUDA_HOME/bin:$PATH" CUDA_ROOT="$CUDA_HOME" CUDA_PATH="$CUDA_HOME"
fi
export CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-90}
# cuBLAS / cuRAND at run time: the system's, else those the PyTorch wheels ship.
TORCH_LIBS=$(python3 - <<'PY' 2>/dev/null || true
import glob, os, site
roots = site.getsitepackages() + [site.getusersitepackages()]
print(":".join(sorted({os.path.dirname(p) for r in roots for p in glob.glob(os.path.join(r, "nvidia", "**", "lib", "*.so*"), recursive=True)})))
PY
)
export LD_LIBRARY_PATH="${TORCH_LIBS}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

cargo build --release --locked --features cuda
BIN=target/release/socratic
MODEL="$OUT/model-12x768"
[ -f "$MODEL/config.json" ] || "$BIN" model tiny "$MODEL" --layers 12 --width 768 --vocab 32000 --seed 0

"$BIN" bench score --model "$MODEL" --tasks "$N" --seq-len 1024 --device cuda --json | tee "$OUT/candle-cuda.json"
"$BIN" bench score --model "$MODEL" --tasks "$CPU_N" --seq-len 1024 --device cpu --json | tee "$OUT/candle-cpu.json"
python3 bench/torch_grad_ref.py | tee "$OUT/torch.jsonl"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
