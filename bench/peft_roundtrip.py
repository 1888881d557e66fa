#!/usr/bin/env python3
# Cross-check of socratic's LoRA adapters with the Hugging Face ecosystem, on the CPU.
#   1. socratic's adapter loaded by transformers + peft gives socratic's logits.
#   2. an adapter made by peft (random, non-zero B) loaded by socratic gives peft's logits.
#   3. the merged model `train --merge DIR` writes, loaded by transformers as a plain model, gives
#      the logits of the base model with our adapter in peft (only when this script trains it).
# Needs: pip install torch transformers peft safetensors; a socratic binary.
# Usage: bench/peft_roundtrip.py --socratic target/release/socratic [--model DIR --adapter DIR]
#   Without --model / --adapter it writes a tiny model and trains an adapter for 20 steps first.
# Pass: max |logit difference| <= 1e-4 both ways (printed, exit 1 otherwise).
import argparse, json, os, subprocess, sys, tempfile

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import AutoModelForCausalLM

ap = argparse.ArgumentParser()
ap.add_argument("--socratic", required=True)
ap.add_argument("--model")
ap.add_argument("--adapter")
ap.add_argument("--tol", type=float, default=1e-4)
args = ap.parse_args()
tmp = tempfile.mkdtemp(prefix="peft-roundtrip-")


def sh(*cmd):
    return subprocess.run([args.socratic, "--home", os.path.join(tmp, "home"), *cmd], check=True,
                          capture_output=True, text=True).stdout


model = args.model or os.path.join(tmp, "model")
if not args.model:
    sh("model", "tiny", model)
adapter = args.adapter
if not adapter:
    data = os.path.join(tmp, "data.jsonl")
    with open(data, "w") as f:
        for i in range(8):
            f.write(json.dumps({"messages": [{"role": "user", "content": f"f{i} is wrong"},
                                             {"role": "assistant", "content": f"-  x + {i}\n+  x - {i}\n"}]}) + "\n")
    adapter = os.path.join(tmp, "adapter")
    merged = os.path.join(tmp, "merged")
    sh("train", "--model", model, "--data", data, "--adapter-out", adapter, "--steps", "20", "--lr", "1e-2",
       "--merge", merged)

ids = [ord(c) for c in "def f(x):\n    return x + 1\n"]


def socratic_logits(adapter_dir):
    out = json.loads(sh("model", "logits", "--model", model, "--adapter", adapter_dir, "--ids",
                        ",".join(map(str, ids)), "--json"))
    return torch.tensor(out["logits"]).reshape(len(ids), -1)


def peft_logits(m):
    with torch.no_grad():
        return m(input_ids=torch.tensor([ids])).logits[0].float()


base = AutoModelForCausalLM.from_pretrained(model, torch_dtype=torch.float32)
ours = PeftModel.from_pretrained(base, adapter)
d1 = (peft_logits(ours) - socratic_logits(adapter)).abs().max().item()
print(f"socratic adapter in peft: max |Δlogit| = {d1:.3g}")
d3 = 0.0
if not args.adapter:
    plain = AutoModelForCausalLM.from_pretrained(merged, torch_dtype=torch.float32)
    d3 = (peft_logits(plain) - peft_logits(ours)).abs().max().item()
    print(f"socratic merged model in transformers vs base + adapter in peft: max |Δlogit| = {d3:.3g}")

base = AutoModelForCausalLM.from_pretrained(model, torch_dtype=torch.float32)
cfg = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj", "down_proj"], lora_dropout=0.0,
                 bias="none", task_type="CAUSAL_LM", init_lora_weights=False)
theirs = get_peft_model(base, cfg)
theirs_dir = os.path.join(tmp, "peft-adapter")
theirs.save_pretrained(theirs_dir)
d2 = (peft_logits(theirs) - socratic_logits(theirs_dir)).abs().max().item()
print(f"peft adapter in socratic: max |Δlogit| = {d2:.3g}")
ok = d1 <= args.tol and d2 <= args.tol and d3 <= args.tol
print("PASS" if ok else f"FAIL (tolerance {args.tol})")
sys.exit(0 if ok else 1)
