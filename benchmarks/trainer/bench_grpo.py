"""GRPO step time: `crucible train grpo` vs TRL 1.16 GRPOTrainer, same model, P, G, max tokens, loss, on this CPU.

  python benchmarks/trainer/bench_grpo.py [--steps 4] [--prompts-per-step 4] [--group-size 4] [--max-tokens 32]
                                          [--micro-batch 8] [--source arith|gsm8k]
                                          [--bench build/bin/bench_grpo_step] [--only crucible|trl]

Both sides start from one HF folder (SmolLM2-135M-Instruct, dequantised from ~/.cache/crucible/models' GGUF by
transformers and saved once under /tmp), train on the same prompts (--source arith: arith_prompts.py's short word
problems; gsm8k: the first 64 GSM8K test questions, real ~90-100-token math prompts) with loss dapo, beta 0, mu 1, temperature 1, and generate exactly --max-tokens tokens per completion (min_new_tokens
= max: the end token is masked until then on both sides), so both do the same work per step. A step is rollout +
rewards + logprobs + backward + AdamW. The first step (warm-up: allocation, oneDNN packing, first-call overheads) is
left out of the mean on both sides. TRL runs with use_vllm=False (transformers' generate), fp32, on the CPU.

crucible runs twice: as shipped (sequences of advantage 0 skip the backward: exact, trainer/grpo_update.h) and with
--no-skip (every sequence through forward and backward, as TRL runs them: crucible's time when every group's rewards
differ). Each step's skipped / trained sequence counts are printed: the first ratio depends on how many groups the
model solves all-or-nothing, the second does not.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
GGUF = os.path.expanduser("~/.cache/crucible/models/SmolLM2-135M-Instruct.Q4_1.gguf")
HF_DIR = "/tmp/crucible-bench/smollm2-135m-instruct-hf"
SUFFIX = "\nPlease reason step by step, and put your final answer within \\boxed{}."


def hf_folder():
    if os.path.exists(os.path.join(HF_DIR, "config.json")):
        return HF_DIR
    from transformers import AutoModelForCausalLM, AutoTokenizer
    d, f = os.path.dirname(GGUF), os.path.basename(GGUF)
    tok = AutoTokenizer.from_pretrained(d, gguf_file=f)
    model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, torch_dtype="float32")
    # transformers dequantises GGUF to float32 on load; the quantizer marker only blocks saving those floats.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    os.makedirs(HF_DIR, exist_ok=True)
    model.save_pretrained(HF_DIR, safe_serialization=True)
    tok.save_pretrained(HF_DIR)
    return HF_DIR


def run_crucible(a, model, prompts, work, skip=True):
    cmd = [a.bench, model, prompts, "--skip-zero-advantage", "1" if skip else "0", "--steps", str(a.steps), "--prompts-per-step", str(a.prompts_per_step),
           "--group-size", str(a.group_size), "--max-tokens", str(a.max_tokens), "--micro-batch", str(a.micro_batch)]
    t = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"bench_grpo_step failed:\n{r.stdout}\n{r.stderr}")
    out = json.loads(r.stdout)
    out["wall"] = time.time() - t
    out["step_seconds"] = [s["seconds"] for s in out["steps"]]
    return out


def run_trl(a, model, prompts, work):
    import torch
    from datasets import Dataset
    from transformers import AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    recs = [json.loads(l) for l in open(prompts)]
    ds = Dataset.from_list([{"prompt": [{"role": "user", "content": r["prompt"] + SUFFIX}], "answer": r["answer"]}
                            for r in recs])

    def accuracy(completions, answer, **kw):  # the reward's cost is negligible next to a step on either side
        out = []
        for c, gold in zip(completions, answer):
            text = c[0]["content"] if isinstance(c, list) else c
            out.append(1.0 if f"\\boxed{{{gold}}}" in text else 0.0)
        return out

    total = a.prompts_per_step * a.group_size
    assert total % a.micro_batch == 0
    ga = total // a.micro_batch
    cfg = GRPOConfig(output_dir=os.path.join(work, "trl-out"), per_device_train_batch_size=a.micro_batch,
                     gradient_accumulation_steps=ga, steps_per_generation=ga, num_generations=a.group_size,
                     max_completion_length=a.max_tokens, temperature=1.0, top_p=1.0, loss_type="dapo", beta=0.0,
                     learning_rate=1e-6, lr_scheduler_type="constant", max_steps=a.steps, logging_steps=1,
                     report_to=[], use_cpu=True, bf16=False, save_strategy="no", seed=0, shuffle_dataset=True,
                     generation_kwargs={"min_new_tokens": a.max_tokens}, dataloader_num_workers=0,
                     gradient_checkpointing=False)  # crucible does not recompute activations either
    times = []

    class Timer(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw):
            self.t = time.time()

        def on_step_end(self, args, state, control, **kw):
            times.append(time.time() - self.t)

    # Generation (+ rewards) vs the rest of the step: _generate_and_score_completions runs inside the step's first
    # training_step, once per optimizer step (steps_per_generation = gradient_accumulation_steps).
    import trl.trainer.grpo_trainer as grpo_mod
    gen_seconds = []
    orig = grpo_mod.GRPOTrainer._generate_and_score_completions

    def timed(self, *args, **kw):
        t0 = time.time()
        out = orig(self, *args, **kw)
        gen_seconds.append(time.time() - t0)
        return out

    grpo_mod.GRPOTrainer._generate_and_score_completions = timed
    tok = AutoTokenizer.from_pretrained(model)
    trainer = GRPOTrainer(model=model, reward_funcs=[accuracy], args=cfg, train_dataset=ds, processing_class=tok,
                          callbacks=[Timer()])
    t = time.time()
    trainer.train()
    grpo_mod.GRPOTrainer._generate_and_score_completions = orig
    return {"step_seconds": times, "generate_seconds": gen_seconds, "wall": time.time() - t,
            "threads": torch.get_num_threads()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--prompts-per-step", type=int, default=4)
    ap.add_argument("--group-size", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--micro-batch", type=int, default=8)
    ap.add_argument("--source", choices=["arith", "gsm8k"], default="arith",
                    help="arith: the short synthetic word problems (~50-token prompts with the chat template); gsm8k: "
                         "the first 64 GSM8K test questions from ../shared/data (~100-250 tokens: real math prompts)")
    ap.add_argument("--bench", default=os.path.join(ROOT, "build/bin/bench_grpo_step"))
    ap.add_argument("--only", choices=["crucible", "trl"])
    ap.add_argument("--skip-only", action="store_true", help="crucible as shipped only (no --no-skip run)")
    ap.add_argument("--out", help="also write the result JSON here (TRL's logger prints dicts on stdout)")
    a = ap.parse_args()
    model = hf_folder()
    work = tempfile.mkdtemp(prefix="bench-grpo-")
    prompts = os.path.join(work, "prompts.jsonl")
    if a.source == "arith":
        subprocess.run([sys.executable, os.path.join(HERE, "arith_prompts.py"), prompts, "--n", "64"], check=True)
    else:
        src = os.path.join(ROOT, "..", "shared", "data", "gsm8k", "test.jsonl")
        with open(src) as f, open(prompts, "w") as out:
            for line in list(f)[:64]:
                r = json.loads(line)
                out.write(json.dumps({"prompt": r["question"], "answer": r["answer"].split("####")[-1].strip()}) + "\n")
    res = {"config": vars(a), "model": model}
    if a.only != "trl":
        res["crucible"] = run_crucible(a, model, prompts, work)
        if not a.skip_only:
            res["crucible_no_skip"] = run_crucible(a, model, prompts, work, skip=False)
    if a.only != "crucible":
        res["trl"] = run_trl(a, model, prompts, work)

    def mean_after_first(xs):
        xs = xs[1:] if len(xs) > 1 else xs
        return sum(xs) / len(xs)

    for side in ("crucible", "crucible_no_skip", "trl"):
        if side in res:
            res[side]["mean_step_s"] = mean_after_first(res[side]["step_seconds"])
    if "crucible" in res and "trl" in res:
        res["speedup"] = res["trl"]["mean_step_s"] / res["crucible"]["mean_step_s"]
        if "crucible_no_skip" in res:
            res["speedup_no_skip"] = res["trl"]["mean_step_s"] / res["crucible_no_skip"]["mean_step_s"]
        skipped = sum(s["sequences_skipped"] for s in res["crucible"]["steps"])
        total = skipped + sum(s["sequences_backward"] for s in res["crucible"]["steps"])
        res["skipped_fraction"] = skipped / total if total else 0.0
    shutil.rmtree(work, ignore_errors=True)  # the prompts file and TRL's output folder
    text = json.dumps(res, indent=2)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
