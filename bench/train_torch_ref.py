#!/usr/bin/env python3
# PyTorch + PEFT reference for `socratic bench train`: the same LoRA training step (r 16 on
# q,k,v,o,gate,up,down; AdamW; clipping) on the same random Llama shapes, tokens/s.
# Needs: pip install torch transformers peft. CPU by default; --device cuda --dtype bf16 on a GPU.
# Usage: bench/train_torch_ref.py [--shape tiny|25m|134m|1b] [--seq 512] [--batch 4] [--steps 3]
#        [--socratic BIN]   (also runs `socratic bench train` with the same settings, prints the ratio)
import argparse, json, subprocess, time

import torch
from peft import LoraConfig, get_peft_model
from transformers import LlamaConfig, LlamaForCausalLM

SHAPES = {  # layers, width, heads, kv heads, intermediate, vocab (as socratic's `bench train --shape`)
    "tiny": (2, 64, 4, 4, 192, 259),
    "25m": (8, 512, 8, 8, 1376, 259),
    "134m": (12, 768, 12, 12, 2048, 32000),
    "1b": (16, 2048, 32, 8, 8192, 128256),
}
ap = argparse.ArgumentParser()
ap.add_argument("--shape", default="25m")
ap.add_argument("--seq", type=int, default=512)
ap.add_argument("--batch", type=int, default=4)
ap.add_argument("--rank", type=int, default=16)
ap.add_argument("--steps", type=int, default=3)
ap.add_argument("--device", default="cpu")
ap.add_argument("--dtype", default="float32")
ap.add_argument("--socratic")
a = ap.parse_args()
torch.manual_seed(0)
layers, width, heads, kv, inter, vocab = SHAPES[a.shape]
cfg = LlamaConfig(hidden_size=width, intermediate_size=inter, num_hidden_layers=layers, num_attention_heads=heads,
                  num_key_value_heads=kv, vocab_size=vocab, max_position_embeddings=max(a.seq, 4096),
                  tie_word_embeddings=False)
dtype = getattr(torch, a.dtype)
model = LlamaForCausalLM(cfg).to(a.device, dtype)
model = get_peft_model(model, LoraConfig(r=a.rank, lora_alpha=2 * a.rank, lora_dropout=0.0, bias="none",
                                         task_type="CAUSAL_LM", target_modules=["q_proj", "k_proj", "v_proj", "o_proj",
                                                                                "gate_proj", "up_proj", "down_proj"]))
opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-4, weight_decay=0.0)
ids = torch.randint(0, min(vocab, 256), (a.batch, a.seq), device=a.device)
labels = ids.clone()
labels[:, : a.seq * 3 // 4] = -100


def step():
    opt.zero_grad(set_to_none=True)
    model(input_ids=ids, labels=labels).loss.backward()
    torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
    opt.step()


step()
if a.device == "cuda":
    torch.cuda.synchronize()
t = time.perf_counter()
for _ in range(a.steps):
    step()
if a.device == "cuda":
    torch.cuda.synchronize()
sec = time.perf_counter() - t
torch_tps = a.steps * a.batch * a.seq / sec
print(json.dumps({"impl": "pytorch+peft", "shape": a.shape, "device": a.device, "dtype": a.dtype,
                  "tokens_per_second": round(torch_tps, 1), "ms_per_step": round(sec * 1000 / a.steps, 1)}))
if a.socratic:
    out = subprocess.run([a.socratic, "bench", "train", "--shape", a.shape, "--seq-len", str(a.seq), "--batch",
                          str(a.batch), "--rank", str(a.rank), "--steps", str(a.steps), "--device", a.device, "--json"],
                         check=True, capture_output=True, text=True).stdout
    ours = json.loads(out)
    print(json.dumps({"impl": "socratic", **{k: ours[k] for k in ("shape", "device", "tokens_per_second", "ms_per_step")}}))
    print(f"socratic / pytorch = {ours['tokens_per_second'] / torch_tps:.2f}x")
