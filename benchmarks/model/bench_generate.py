"""Decode throughput of `crucible generate` vs transformers `generate`, same model (SmolLM2-135M-Instruct Q4_1 GGUF),
same machine, same sampling (temperature 0.7, top-p 0.95), one run each. transformers dequantises the file to float32
tensors; crucible keeps its integer blocks as int groups (the same float32 weight values, formed on the fly:
model/README.md); `--also-dequantized` adds a crucible run with float32 weights (`generate --dequantize`).

  (a) 8 samples of one chat prompt, 256 new tokens each
  (b) 32 chat prompts x 4 samples, 256 new tokens each
Both sides generate exactly 256 tokens per sample (crucible --ignore-eos; transformers min_new_tokens=256).
Prints decode tokens/s, prefill tokens/s, wall time and peak RSS for each, and the ratios crucible / transformers.

  python benchmarks/model/bench_generate.py [--crucible build/bin/crucible] [--gguf PATH] [--threads N] [--only a|b]
                                             [--also-dequantized]
"""
import argparse
import json
import os
import subprocess
import sys
import time

DEFAULT_GGUF = os.path.expanduser("~/.cache/crucible/models/SmolLM2-135M-Instruct.Q4_1.gguf")
TOPICS = ["the moon", "volcanoes", "bread", "bicycles", "rain", "chess", "bees", "glass", "music", "rivers",
          "maps", "clocks", "salt", "trains", "owls", "paper", "coffee", "tides", "bridges", "snow", "ink", "kites",
          "caves", "wool", "lighthouses", "honey", "magnets", "deserts", "violins", "coral", "lanterns", "comets"]
NEW_TOKENS = 256


def prompts_for(case):
    if case == "a":
        return ["Tell me a short story about a lighthouse keeper."], 8
    return [f"Write a paragraph about {t}." for t in TOPICS], 4


def run_transformers(gguf, case, threads):
    """Runs in a child process so its peak RSS is its own."""
    import torch
    import transformers
    torch.set_num_threads(threads)
    d, f = os.path.split(gguf)
    tok = transformers.AutoTokenizer.from_pretrained(d, gguf_file=f)
    tok.padding_side = "left"
    model = transformers.AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32).eval()
    prompts, k = prompts_for(case)
    texts = [tok.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True)
             for p in prompts]
    enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    n_prompt_tokens = int(enc.attention_mask.sum())
    with torch.no_grad():
        t0 = time.perf_counter()
        model(**enc)  # prefill alone, for prefill tokens/s
        prefill_s = time.perf_counter() - t0
        torch.manual_seed(0)
        t0 = time.perf_counter()
        out = model.generate(**enc, do_sample=True, temperature=0.7, top_p=0.95, top_k=0, max_new_tokens=NEW_TOKENS,
                             min_new_tokens=NEW_TOKENS, num_return_sequences=k, pad_token_id=tok.eos_token_id)
        total_s = time.perf_counter() - t0
    new = (out.shape[1] - enc.input_ids.shape[1]) * out.shape[0]
    # generate() prefills each of the k copies of a prompt: its prefill share is k x the single prefill.
    decode_s = max(total_s - k * prefill_s, 1e-9)
    return {"decode_tokens": new, "decode_s": decode_s, "prefill_tokens": n_prompt_tokens, "prefill_s": prefill_s,
            "wall_s": total_s}


def run_crucible(binary, gguf, case, threads, extra=()):
    prompts, k = prompts_for(case)
    cmd = [binary, "--json", "--log-level", "warn", "generate", "--model", gguf, "--samples", str(k),
           "--max-tokens", str(NEW_TOKENS), "--temperature", "0.7", "--top-p", "0.95", "--seed", "1", "--ignore-eos",
           "--max-batch", str(len(prompts) * k), *extra]
    for p in prompts:
        cmd += ["--chat", p]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    t0 = time.perf_counter()
    out, err, code, peak = run_measured(cmd, env)
    wall = time.perf_counter() - t0
    if code != 0:
        sys.exit(f"crucible failed ({code}): {err}")
    st = json.loads(out)["stats"]
    return {"decode_tokens": st["decode_tokens"] + len(prompts) * k,  # + the first token of each sample (from prefill)
            "decode_s": st["decode_seconds"], "prefill_tokens": st["prefill_tokens"], "prefill_s": st["prefill_seconds"],
            "wall_s": wall, "peak_rss_mb": peak / 1024}


def run_measured(cmd, env=None):
    """Runs cmd; returns stdout, stderr, exit code and that child's own peak RSS (KiB, from wait4)."""
    import tempfile
    with tempfile.TemporaryFile("w+") as fo, tempfile.TemporaryFile("w+") as fe:
        p = subprocess.Popen(cmd, stdout=fo, stderr=fe, stdin=subprocess.DEVNULL, env=env, text=True)
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        fo.seek(0)
        fe.seek(0)
        return fo.read(), fe.read(), p.returncode, usage.ru_maxrss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--crucible", default="build/bin/crucible")
    ap.add_argument("--gguf", default=DEFAULT_GGUF)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--only", choices=["a", "b"])
    ap.add_argument("--also-dequantized", action="store_true",
                    help="also run crucible with --dequantize (float32 weights, as transformers holds them)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(run_transformers(args.gguf, args.child, args.threads)))
        return
    for case in ["a", "b"]:
        if args.only and case != args.only:
            continue
        prompts, k = prompts_for(case)
        c = run_crucible(args.crucible, args.gguf, case, args.threads)
        rows = [("crucible", c)]
        if args.also_dequantized:
            rows.append(("crucible fp32", run_crucible(args.crucible, args.gguf, case, args.threads, ["--dequantize"])))
        out, err, code, peak = run_measured([sys.executable, __file__, "--child", case, "--gguf", args.gguf,
                                             "--threads", str(args.threads)])
        if code != 0:
            sys.exit(f"transformers failed: {err[-2000:]}")
        t = json.loads(out.strip().splitlines()[-1])
        t["peak_rss_mb"] = peak / 1024
        label = f"({case}) {len(prompts)} prompt(s) x {k} samples x {NEW_TOKENS} tokens"
        print(label)
        for name, m in rows + [("transformers", t)]:
            print(f"  {name:13s} decode {m['decode_tokens'] / m['decode_s']:8.1f} tok/s   prefill "
                  f"{m['prefill_tokens'] / max(m['prefill_s'], 1e-9):8.1f} tok/s   wall {m['wall_s']:7.1f} s   "
                  f"peak RSS {m['peak_rss_mb']:7.0f} MB")
        ratio = (c["decode_tokens"] / c["decode_s"]) / (t["decode_tokens"] / t["decode_s"])
        prefill = (c["prefill_tokens"] / max(c["prefill_s"], 1e-9)) / (t["prefill_tokens"] / max(t["prefill_s"], 1e-9))
        print(f"  crucible/transformers: decode {ratio:.2f}x   prefill {prefill:.2f}x   wall "
              f"{t['wall_s'] / c['wall_s']:.2f}x (speed-ups, higher is better)   peak RSS "
              f"{c['peak_rss_mb'] / t['peak_rss_mb']:.2f}x (lower is better)")
        for name, m in rows[1:]:
            print(f"  {name}/transformers: decode "
                  f"{(m['decode_tokens'] / m['decode_s']) / (t['decode_tokens'] / t['decode_s']):.2f}x")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
