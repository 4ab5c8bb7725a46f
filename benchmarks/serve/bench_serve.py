"""crucible serve under 8 concurrent clients vs the same requests through the engine in-process.

Workload: 32 chat prompts, one sample each, temperature 0.8, seed 7, max_tokens 64, on the demo SmolLM2 GGUF.
  native: `crucible --json generate --chat p1 .. --chat p32 --max-batch 8` (one process, continuous batching over 8
          slots); time = its prefill + decode seconds (model load excluded).
  serve:  `crucible serve --max-batch 8`, 8 client threads each posting /v1/chat/completions one request at a time
          until the 32 are done; time = first request sent -> last response read (model load excluded).
Both draw sample 0 of seed 7 for each prompt, so the completions (and their token counts) should be identical; the
script checks that and prints completion tokens/s for each and the ratio serve / native.

On a shared machine the wall-clock ratio moves with everyone else's load, so the script also prints tokens per CPU
second of the crucible process (model load included on both sides, the same loader): serve's own overhead (HTTP,
JSON, threads, the scheduler) shows there. Both run with --threads intra-op threads (default 1: on an oversubscribed
machine OpenMP threads spin at barriers while their partner is descheduled, which inflates CPU time at random), and
--rounds alternates native and serve to expose drift in the machine's load.

usage: python benchmarks/serve/bench_serve.py [--crucible build/bin/crucible] [--model GGUF] [--clients 8]
"""
import argparse
import concurrent.futures as cf
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.request

TOPICS = ["a lighthouse", "a lost key", "the first snow", "a robot gardener", "a quiet library", "a river crossing",
          "an old map", "a broken clock", "a night train", "a paper boat", "a mountain village", "a chess game",
          "a forgotten song", "a desert well", "a city at dawn", "a stray cat", "a kite festival", "a winter market",
          "a ship in a bottle", "a painter's last canvas", "a bakery at midnight", "a secret garden", "a thunderstorm",
          "a violin maker", "a bridge builder", "an empty stadium", "a beekeeper", "a moonlit lake", "a tiny dragon",
          "a clockwork bird", "a letter never sent", "a field of sunflowers"]
PROMPTS = [f"Write a short story about {t}." for t in TOPICS]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url: str, body: dict) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.loads(r.read())


def cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def child_env(args) -> dict:
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(args.threads)
    return env


def run_native(args) -> tuple[float, int, list[str], float]:
    cmd = [args.crucible, "--json", "--log-level", "warn", "generate", "--model", args.model, "--max-tokens",
           str(args.max_tokens), "--temperature", "0.8", "--seed", "7", "--max-batch", str(args.clients)]
    for p in PROMPTS:
        cmd += ["--chat", p]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True, env=child_env(args)).stdout)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    seconds = out["stats"]["prefill_seconds"] + out["stats"]["decode_seconds"]
    texts = [s["text"] for s in sorted(out["samples"], key=lambda s: s["prompt"])]
    return seconds, sum(s["completion_tokens"] for s in out["samples"]), texts, cpu


def start_serve(args, max_batch: int) -> tuple[subprocess.Popen, str]:
    """`crucible serve --model args.model` on a free loopback port, once /health answers: (process, base URL)."""
    port = free_port()
    proc = subprocess.Popen([args.crucible, "serve", "--model", args.model, "--port", str(port), "--max-batch",
                             str(max_batch)], stderr=subprocess.PIPE, text=True, env=child_env(args))
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            urllib.request.urlopen(base + "/health", timeout=1).read()
            return proc, base
        except OSError:
            if proc.poll() is not None:
                sys.exit("crucible serve exited: " + proc.stderr.read())
            time.sleep(0.1)
    proc.kill()
    sys.exit(f"crucible serve did not answer {base}/health in 60 s")


def run_serve(args) -> tuple[float, int, list[str], int, float]:
    proc, base = start_serve(args, args.clients)
    try:
        body = lambda p: {"model": "default", "messages": [{"role": "user", "content": p}],
                          "max_tokens": args.max_tokens, "temperature": 0.8, "seed": 7}
        t0 = time.perf_counter()
        with cf.ThreadPoolExecutor(args.clients) as pool:
            replies = list(pool.map(lambda p: post(base + "/v1/chat/completions", body(p)), PROMPTS))
        seconds = time.perf_counter() - t0
        cpu = cpu_seconds(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=60)
    tokens = sum(r["usage"]["completion_tokens"] for r in replies)
    return seconds, tokens, [r["choices"][0]["message"]["content"] for r in replies], rc, cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--crucible", default="build/bin/crucible")
    ap.add_argument("--model", default=os.path.expanduser("~/.cache/crucible/models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()
    print(f"model {os.path.basename(args.model)}, {len(PROMPTS)} chat requests, max_tokens {args.max_tokens}, "
          f"temperature 0.8, seed 7, max-batch {args.clients}, {args.threads} intra-op thread(s), {os.cpu_count()} CPUs")
    for _ in range(args.rounds):
        one_round(args)


def one_round(args) -> None:
    print(f"load average at the start: {os.getloadavg()[0]:.1f}")
    n_sec, n_tok, n_texts, n_cpu = run_native(args)
    s_sec, s_tok, s_texts, rc, s_cpu = run_serve(args)
    same = sum(a == b for a, b in zip(n_texts, s_texts))
    print(f"native (crucible generate, in-process): {n_tok} completion tokens in {n_sec:.2f} s = {n_tok / n_sec:.1f} tok/s; "
          f"process CPU {n_cpu:.1f} s = {n_tok / n_cpu:.2f} tok/CPU-s")
    print(f"serve  ({args.clients} concurrent HTTP clients):     {s_tok} completion tokens in {s_sec:.2f} s = "
          f"{s_tok / s_sec:.1f} tok/s; process CPU {s_cpu:.1f} s = {s_tok / s_cpu:.2f} tok/CPU-s")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    print(f"identical completions: {same}/{len(PROMPTS)}; serve exit code after SIGTERM: {rc}")
    print(f"ratio serve / native throughput: {(s_tok / s_sec) / (n_tok / n_sec):.3f} (wall clock), "
          f"{(s_tok / s_cpu) / (n_tok / n_cpu):.3f} (per CPU second)")


if __name__ == "__main__":
    main()
