"""SFT training throughput of `crucible train sft` vs TRL 1.16 `SFTTrainer`: same model (SmolLM2-135M-Instruct Q4_1
GGUF, dequantised once by crucible to a float32 HF folder both start from), same data, same optimizer settings, same thread count, on the CPU.

Data: synthetic conversational prompt-completion records (TRL's format: message lists), arithmetic word problems with
a worked answer, 60-200 tokens each. Both sides learn the completion tokens only (TRL completion_only_loss).
  TRL:      per_device_train_batch_size=B (padded batches, no packing: padding-free packing needs FlashAttention),
            gradient_accumulation_steps=1, AdamW lr 1e-5, constant schedule, max_grad_norm 1.0, fp32.
  crucible: --batch-tokens = the mean tokens of B examples (so a step sees about as many real tokens), packing on
            (its default: block-diagonal attention, no padding), same optimizer settings, --micro-batch-tokens = the
            most positions one of TRL's padded batches held (the same activation memory per pass; before 2026-12-07
            crucible's passes were capped at --max-seq-len 512, three or four per step).
Activation checkpointing: the same on both sides, off unless --grad-checkpointing (TRL 1.16's SFTConfig turns it on
by default; crucible's train sft does not: before 2026-12-07 this script left TRL at its default, so TRL recomputed
every layer and crucible did not).
tokens/s counts real tokens (prompt + completion, no padding) per second of training steps, the first step (warm-up)
excluded on both sides. Prints both figures and the ratio crucible / TRL.

  python benchmarks/trainer/bench_sft.py [--crucible build/bin/crucible] [--gguf PATH] [--threads 2] [--steps 8]
                                        [--grad-checkpointing]
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

DEFAULT_GGUF = os.path.expanduser("~/.cache/crucible/models/SmolLM2-135M-Instruct.Q4_1.gguf")
NAMES = ["Ana", "Ben", "Chen", "Dara", "Eli", "Fatima", "Gus", "Hana", "Ivan", "Jo", "Kemal", "Lea"]
THINGS = ["apples", "marbles", "stamps", "books", "shells", "coins", "pencils", "cards"]


def make_records(n, seed=0):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        name, thing = rng.choice(NAMES), rng.choice(THINGS)
        a, b, c = rng.randint(3, 90), rng.randint(2, 40), rng.randint(2, 9)
        q = (f"{name} has {a} {thing}. A friend gives {name} {b} more, and then {name} shares them equally among "
             f"{c} boxes, keeping the remainder. How many {thing} go in each box, and how many are kept?")
        total = a + b
        steps = [f"First, {name} starts with {a} {thing}.", f"After the gift there are {a} + {b} = {total} {thing}.",
                 f"Dividing {total} by {c} gives {total // c} with remainder {total % c}."]
        if rng.random() < 0.5:
            steps.append(f"Check: {c} x {total // c} + {total % c} = {c * (total // c) + total % c}, which matches.")
        ans = " ".join(steps) + f" So each box gets {total // c} {thing}, and {total % c} are kept."
        out.append({"prompt": [{"role": "user", "content": q}], "completion": [{"role": "assistant", "content": ans}]})
    return out


def export_hf(exe, gguf, data_path, hf_dir, db):
    """The GGUF dequantised once into a float32 HF folder both sides start from (transformers refuses to fine-tune, or
    save, a model it loaded from GGUF: it counts as quantised). Written by crucible's own checkpoint writer through a
    one-step run at lr 0, which leaves the weights as they were."""
    cmd = [exe, "--db", db, "train", "sft", "--model", gguf, "--data", data_path, "--out", hf_dir, "--steps", "1",
           "--lr", "0", "--batch-tokens", "1"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"export failed ({p.returncode}):\n{p.stderr[-4000:]}")


def run_trl(hf_dir, data_path, threads, batch, steps, out_dir, checkpointing):
    import datasets
    import torch
    import transformers
    from trl import SFTConfig, SFTTrainer
    torch.set_num_threads(threads)
    tok = transformers.AutoTokenizer.from_pretrained(hf_dir)
    model = transformers.AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32)
    ds = datasets.load_dataset("json", data_files=data_path, split="train")
    args = SFTConfig(output_dir=out_dir, max_length=512, completion_only_loss=True, packing=False,
                     per_device_train_batch_size=batch, gradient_accumulation_steps=1, max_steps=steps,
                     learning_rate=1e-5, lr_scheduler_type="constant", warmup_steps=0, weight_decay=0.0,
                     max_grad_norm=1.0, logging_steps=1, save_strategy="no", report_to=[], use_cpu=True,
                     bf16=False, fp16=False, dataloader_num_workers=0, seed=0,
                     gradient_checkpointing=checkpointing)
    times, tokens, positions = [], [], []

    class Timer(transformers.TrainerCallback):
        def on_step_begin(self, args, state, control, **kw):
            self.t0 = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            times.append(time.perf_counter() - self.t0)

    trainer = SFTTrainer(model=model, args=args, train_dataset=ds, processing_class=tok, callbacks=[Timer()])
    # Real tokens per step: count what the dataloader hands over (attention mask = real tokens).
    orig = trainer.training_step

    def counting_step(model, inputs, *a, **k):
        tokens.append(int(inputs["attention_mask"].sum()) if "attention_mask" in inputs else inputs["input_ids"].numel())
        positions.append(inputs["input_ids"].numel())  # padded: what one forward/backward pass holds
        return orig(model, inputs, *a, **k)

    trainer.training_step = counting_step
    trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    return {"steps": len(times), "tokens": tokens, "times": times, "losses": losses, "positions": positions}


def run_crucible(exe, model, data_path, threads, batch_tokens, micro_batch_tokens, steps, out_dir, db, checkpointing):
    cmd = [exe, "--json", "--db", db, "train", "sft", "--model", model, "--data", data_path, "--out", out_dir,
           "--steps", str(steps), "--batch-tokens", str(batch_tokens), "--max-seq-len", "512",
           "--micro-batch-tokens", str(micro_batch_tokens), "--lr", "1e-5",
           "--schedule", "constant", "--warmup", "0", "--max-grad-norm", "1.0", "--threads", str(threads)]
    if checkpointing:
        cmd.append("--grad-checkpointing")
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"crucible failed ({p.returncode}):\n{p.stderr[-4000:]}")
    import sqlite3
    res = json.loads(p.stdout)
    con = sqlite3.connect(db)
    rows = con.execute("SELECT metrics_json FROM train_steps WHERE run_id = ? ORDER BY step", (res["run_id"],))
    m = [json.loads(r[0]) for r in rows]
    return {"steps": len(m), "tokens": [x["tokens"] for x in m], "times": [x["seconds"] for x in m],
            "losses": [x["loss"] for x in m]}


def rate(r):
    # first step excluded (allocator and thread-pool warm-up on both sides)
    return sum(r["tokens"][1:]) / sum(r["times"][1:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--crucible", default="build/bin/crucible")
    ap.add_argument("--gguf", default=DEFAULT_GGUF)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--only", choices=["trl", "crucible"])
    ap.add_argument("--grad-checkpointing", action="store_true", help="activation checkpointing on both sides")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="bench_sft_")
    try:
        bench(a, work)
    finally:  # the start folder, both sides' outputs and checkpoints: ~1.1 GB a run
        shutil.rmtree(work, ignore_errors=True)


def bench(a, work):
    data = os.path.join(work, "data.jsonl")
    with open(data, "w") as f:
        for r in make_records(a.batch * a.steps + 8):
            f.write(json.dumps(r) + "\n")
    hf_dir = os.path.join(work, "start")
    export_hf(a.crucible, a.gguf, data, hf_dir, os.path.join(work, "export.db"))
    print(f"load average before: {os.getloadavg()}; activation checkpointing on both sides: {a.grad_checkpointing}",
          flush=True)
    res = {}
    if a.only != "crucible":
        res["trl"] = run_trl(hf_dir, data, a.threads, a.batch, a.steps, os.path.join(work, "trl"),
                             a.grad_checkpointing)
        print(f"TRL SFTTrainer: {rate(res['trl']):.1f} tokens/s ({res['trl']['steps']} steps, "
              f"{sum(res['trl']['tokens'])} tokens, mean {sum(res['trl']['times']) / res['trl']['steps']:.2f} s/step, "
              f"losses {[round(x, 3) for x in res['trl']['losses']]})", flush=True)
    if a.only != "trl":
        mean_tokens = sum(res["trl"]["tokens"]) / len(res["trl"]["tokens"]) if "trl" in res else 150 * a.batch
        # One forward/backward pass holds at most what TRL's largest padded batch held (same activation memory).
        micro = max(res["trl"]["positions"]) if "trl" in res else 200 * a.batch
        print(f"crucible --batch-tokens {int(mean_tokens)} --micro-batch-tokens {micro}", flush=True)
        res["crucible"] = run_crucible(a.crucible, hf_dir, data, a.threads, int(mean_tokens), micro, a.steps,
                                       os.path.join(work, "crucible"), os.path.join(work, "c.db"), a.grad_checkpointing)
        print(f"crucible train sft: {rate(res['crucible']):.1f} tokens/s ({res['crucible']['steps']} steps, "
              f"{sum(res['crucible']['tokens'])} tokens, "
              f"mean {sum(res['crucible']['times']) / res['crucible']['steps']:.2f} s/step, "
              f"losses {[round(x, 3) for x in res['crucible']['losses']]})", flush=True)
    if len(res) == 2:
        print(f"ratio crucible / TRL: {rate(res['crucible']) / rate(res['trl']):.2f}x")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
