#!/usr/bin/env python3
"""Tokeniser encode throughput, crucible vs HF `tokenizers` (Rust), one thread each, same texts, same run.

  /root/.cache/crucible/venv-torch-2.11.0/bin/python benchmarks/text/bench_tokenize.py [build/benchmarks/text/bench_tokenize]

Corpus: the problem/solution/prompt/code fields of MATH-500, GSM8K, HumanEval, MBPP and LiveCodeBench (never GPQA) from
../shared/data, i.e. what eval tokenises. Prints tokens/s for each side and the ratio crucible / HF; checks that both
produce the same ids first."""
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ["RAYON_NUM_THREADS"] = "1"  # HF tokenizers' batch encode would otherwise use every core
os.environ["TOKENIZERS_PARALLELISM"] = "false"
from tokenizers import Tokenizer  # noqa: E402

DATA = "../shared/data"
FILES = [("math500/test.jsonl", ["problem", "solution"]), ("gsm8k/test.jsonl", ["question", "answer"]),
         ("humaneval/HumanEval.jsonl", ["prompt", "canonical_solution"]), ("mbpp/mbpp.jsonl", ["text", "code"]),
         ("livecodebench/qwq_livecodebench_v5.jsonl", ["prompt"])]
TOKENIZERS = ["qwen3", "llama3", "deepseek_v3"]
REPEAT = 3


def corpus():
    texts = []
    for f, fields in FILES:
        with open(os.path.join(DATA, f), encoding="utf-8") as fh:
            for line in fh:
                r = json.loads(line)
                texts += [r[k] for k in fields if isinstance(r.get(k), str)]
    return texts


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "build/benchmarks/text/bench_tokenize"
    texts = corpus()
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as tmp:
        for t in texts:
            tmp.write(json.dumps({"text": t}) + "\n")
    n_bytes = sum(len(t.encode()) for t in texts)
    print(f"corpus: {len(texts)} texts, {n_bytes / 1e6:.2f} MB; best of {REPEAT}; one thread each")
    print(f"{'tokenizer':<12} {'tokens':>9} {'crucible tok/s':>15} {'HF tok/s':>12} {'HF batch tok/s':>15} "
          f"{'ratio':>6} {'ratio batch':>11}")
    for name in TOKENIZERS:
        path = f"../shared/models/tokenizers/{name}/tokenizer.json"
        tok = Tokenizer.from_file(path)
        best = best_batch = 1e300
        for _ in range(REPEAT):
            t0 = time.perf_counter()
            ids = [tok.encode(t, add_special_tokens=False).ids for t in texts]
            best = min(best, time.perf_counter() - t0)
            t0 = time.perf_counter()
            tok.encode_batch(texts, add_special_tokens=False)
            best_batch = min(best_batch, time.perf_counter() - t0)
        n_tokens = sum(len(x) for x in ids)
        out = subprocess.run([binary, path, tmp.name, str(REPEAT)], check=True, capture_output=True, text=True)
        ours = json.loads(out.stdout)
        if ours["tokens"] != n_tokens:
            sys.exit(f"{name}: token counts differ (crucible {ours['tokens']}, HF {n_tokens}): fix correctness first")
        hf, hf_batch = n_tokens / best, n_tokens / best_batch
        print(f"{name:<12} {n_tokens:>9} {ours['tokens_per_s']:>15,.0f} {hf:>12,.0f} {hf_batch:>15,.0f} "
              f"{ours['tokens_per_s'] / hf:>6.2f} {ours['tokens_per_s'] / hf_batch:>11.2f}")
    os.unlink(tmp.name)


if __name__ == "__main__":
    main()
