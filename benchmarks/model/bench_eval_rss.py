"""Peak RSS of `crucible eval` on a GGUF against the model's float32 weight bytes (issue 12 target: <= 1.3x), and
against a baseline binary (e.g. the build before the weights were held once) and transformers holding the same
float32 weights, all run the same way, one after the other.

  crucible: `crucible eval --model GGUF --suite gsm8k --limit N --preset greedy --max-tokens M` into a scratch store
  transformers (the peer): load the same GGUF dequantised to float32 and greedily generate M tokens for N prompts
Peak RSS is each child's own (wait4 ru_maxrss). The fp32 weight bytes are 4 x the GGUF's tensor elements (gguf-py),
counting a tied embedding once.

  python benchmarks/model/bench_eval_rss.py [--crucible build/bin/crucible] [--baseline OTHER/bin/crucible]
         [--gguf PATH] [--limit 5] [--max-tokens 64] [--threads 1] [--data-dir ../shared/data]
         [--skip-transformers] [--show-stages]
--show-stages prints crucible's own memory log at each stage of the load (VmHWM/VmRSS/RssAnon/RssFile, debug level).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

DEFAULT_GGUF = os.path.expanduser("~/.cache/crucible/models/SmolLM2-135M-Instruct.Q4_1.gguf")


def run_measured(cmd, env=None):
    """Runs cmd; returns stdout, stderr, exit code, that child's own peak RSS (bytes) and wall seconds."""
    with tempfile.TemporaryFile("w+") as fo, tempfile.TemporaryFile("w+") as fe:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=fo, stderr=fe, stdin=subprocess.DEVNULL, env=env, text=True)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        fo.seek(0)
        fe.seek(0)
        return fo.read(), fe.read(), os.waitstatus_to_exitcode(status), usage.ru_maxrss * 1024, wall


def fp32_weight_bytes(gguf_path):
    import gguf
    r = gguf.GGUFReader(gguf_path)
    return 4 * sum(int(t.n_elements) for t in r.tensors)


def run_crucible(binary, args):
    with tempfile.TemporaryDirectory() as d:
        level = "debug" if args.show_stages else "warn"
        cmd = [binary, "--db", os.path.join(d, "rss.db"), "--log-level", level, "--json", "eval", "--model", args.gguf,
               "--suite", "gsm8k", "--limit", str(args.limit), "--preset", "greedy", "--max-tokens",
               str(args.max_tokens), "--data-dir", args.data_dir]
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
        out, err, code, peak, wall = run_measured(cmd, env)
        if code != 0:
            sys.exit(f"{binary} eval failed ({code}): {err[-2000:]}")
        if args.show_stages:
            for line in err.splitlines():
                if "memory," in line:
                    print(f"  [{os.path.basename(os.path.dirname(os.path.dirname(os.path.abspath(binary))))}] {line}")
        summary = json.loads(out)
        print(f"  [{binary}] eval: {summary['samples_generated']} samples, {summary['tokens_per_s']:.2f} tok/s "
              f"(completion tokens / eval wall {summary['wall_s']:.1f} s, model load excluded)")
        return peak, wall


def run_transformers(args):
    import torch
    import transformers
    torch.set_num_threads(args.threads)
    d, f = os.path.split(os.path.abspath(args.gguf))
    tok = transformers.AutoTokenizer.from_pretrained(d, gguf_file=f)
    model = transformers.AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32).eval()
    with open(os.path.join(args.data_dir, "gsm8k", "test.jsonl")) as fh:
        questions = [json.loads(line)["question"] for _, line in zip(range(args.limit), fh)]
    for q in questions:
        text = tok.apply_chat_template([{"role": "user", "content": q}], tokenize=False, add_generation_prompt=True)
        ids = tok(text, add_special_tokens=False, return_tensors="pt").input_ids
        with torch.no_grad():
            model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=args.max_tokens, do_sample=False,
                           pad_token_id=tok.eos_token_id)
    print("ok")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--crucible", default="build/bin/crucible")
    ap.add_argument("--baseline", help="another crucible binary to measure the same way")
    ap.add_argument("--gguf", default=DEFAULT_GGUF)
    ap.add_argument("--limit", type=int, default=5)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data-dir", default="../shared/data")
    ap.add_argument("--skip-transformers", action="store_true", help="measure crucible (and --baseline) only")
    ap.add_argument("--show-stages", action="store_true", help="print crucible's memory at each load stage")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        run_transformers(args)
        return
    weights = fp32_weight_bytes(args.gguf)
    print(f"model {os.path.basename(args.gguf)}: fp32 weights {weights / 2**20:.0f} MiB; gsm8k x {args.limit}, "
          f"greedy, {args.max_tokens} new tokens, {args.threads} thread(s)")
    rows = [("crucible", *run_crucible(args.crucible, args))]
    if args.baseline:
        rows.append(("baseline", *run_crucible(args.baseline, args)))
    if not args.skip_transformers:
        _, err, code, peak, wall = run_measured([sys.executable, __file__, "--child", "--gguf", args.gguf, "--limit",
                                                 str(args.limit), "--max-tokens", str(args.max_tokens), "--threads",
                                                 str(args.threads), "--data-dir", args.data_dir])
        if code != 0:
            sys.exit(f"transformers failed: {err[-2000:]}")
        rows.append(("transformers", peak, wall))
    for name, peak, wall in rows:
        print(f"  {name:13s} peak RSS {peak / 2**20:7.0f} MiB = {peak / weights:5.2f}x the fp32 weights   "
              f"(wall {wall:6.1f} s)")


if __name__ == "__main__":
    main()
