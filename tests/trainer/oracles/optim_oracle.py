"""transformers + torch as the oracle for trainer::Optimizer (tests/trainer/test_optimizer.cpp).

  make OUT    a random tiny Llama (tied embeddings) saved with save_pretrained (fp32) under OUT/model.
  check OUT   OUT/crucible.json: {"optim": OptimConfig JSON, "steps": N, "lrs": [...], "grad_norms": [...]} and
              OUT/crucible_final.safetensors (every parameter after N steps, float64). Replays the same N steps in
              float64: torch.optim.AdamW with transformers' Trainer parameter groups (no decay on biases and norms),
              the transformers schedule (get_cosine_with_min_lr_schedule_with_warmup / linear / constant with
              warmup as TrainingArguments.get_warmup_steps reads it) and clip_grad_norm_, with the same synthetic
              gradients (grad(name, step) below). Checks every lr (1e-12 relative), every pre-clip norm (1e-9
              relative) and every final parameter (max |diff| 1e-9). Exit status 1 on any mismatch.
"""
import json
import math
import sys

import torch
import transformers
from safetensors.torch import load_file
from transformers.optimization import (get_constant_schedule_with_warmup, get_cosine_with_min_lr_schedule_with_warmup,
                                       get_linear_schedule_with_warmup)


def grad(name, shape, step):
    n = 1
    for s in shape:
        n *= s
    g = torch.cos(torch.arange(n, dtype=torch.float64) * 0.37 + 1.3 * step + 0.1 * len(name)) * 0.05
    return g.reshape(shape)


def make(out):
    torch.manual_seed(99)
    config = transformers.LlamaConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                                      num_key_value_heads=2, vocab_size=97, max_position_embeddings=128,
                                      tie_word_embeddings=True, attention_bias=False)
    m = transformers.AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    m.save_pretrained(f"{out}/model", safe_serialization=True)


def check(out):
    c = json.load(open(f"{out}/crucible.json"))
    o, steps = c["optim"], c["steps"]
    model = transformers.AutoModelForCausalLM.from_pretrained(f"{out}/model", dtype=torch.float64)
    trainer_args = transformers.TrainingArguments(output_dir=f"{out}/hf", warmup_steps=o["warmup"], report_to=[])
    warmup = trainer_args.get_warmup_steps(steps)
    # Trainer.get_decay_parameter_names without building a Trainer (it needs a dataset).
    decay_names = set(transformers.Trainer.get_decay_parameter_names(None, model))
    params = dict(model.named_parameters())
    groups = [{"params": [p for n, p in params.items() if n in decay_names], "weight_decay": o["weight_decay"]},
              {"params": [p for n, p in params.items() if n not in decay_names], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=o["lr"], betas=(o["beta1"], o["beta2"]), eps=o["eps"])
    if o["schedule"] == "cosine":
        sched = get_cosine_with_min_lr_schedule_with_warmup(opt, warmup, steps, min_lr_rate=o["min_lr_ratio"])
    elif o["schedule"] == "linear":
        sched = get_linear_schedule_with_warmup(opt, warmup, steps)
    else:
        sched = get_constant_schedule_with_warmup(opt, warmup)
    bad = []
    for s in range(steps):
        lr = sched.get_last_lr()[0]
        if abs(lr - c["lrs"][s]) > 1e-12 * max(1.0, abs(lr)):
            bad.append(f"step {s}: lr {c['lrs'][s]} vs transformers {lr}")
        for n, p in params.items():
            p.grad = grad(n, list(p.shape), s)
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(),
                                              o["max_grad_norm"] if o["max_grad_norm"] > 0 else float("inf")).item()
        if abs(norm - c["grad_norms"][s]) > 1e-9 * norm:
            bad.append(f"step {s}: grad_norm {c['grad_norms'][s]} vs torch {norm}")
        opt.step()
        sched.step()
        opt.zero_grad()
    final = load_file(f"{out}/crucible_final.safetensors")
    worst = 0.0
    for n, p in params.items():
        if n not in final:
            bad.append(f"{n}: missing from crucible's parameters")
            continue
        worst = max(worst, (final[n] - p.detach()).abs().max().item())
    start = load_file(f"{out}/model/model.safetensors")
    moved = max((p.detach() - start[n].double()).abs().max().item() for n, p in params.items() if n in start)
    print(f"max |param diff| after {steps} steps: {worst:.3g} (parameters moved by up to {moved:.3g}); "
          f"warmup {warmup}")
    if worst > 1e-9:
        bad.append(f"final parameters differ by {worst}")
    for b in bad:
        print("MISMATCH", b)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    {"make": make, "check": check}[sys.argv[1]](sys.argv[2])
