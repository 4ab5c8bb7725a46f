"""Trace throughput of `crucible distill traces` with the teacher in-process (--teacher) vs behind `crucible serve`
(--endpoint), same model, same prompts, same sampling (issue 15: "trace throughput with a teacher behind crucible
serve vs in-process").

Each side is one `distill traces` command on a fresh store: K samples of each of the prompts, --max-tokens T, seed 7,
the funnel off (--filters correct --no-decontam: the judging is the same on both sides and not what is measured). The
figure is the command's own `tokens_per_s` (completion tokens over the wall clock of generation and grading, from
after the teacher is loaded: neither the in-process load nor the server's start counts), and the ratio
endpoint / in-process. The whole command's wall clock is printed beside it. --rounds alternates the two sides to expose drift in the machine's load; run it on an idle
machine for a figure worth quoting.

usage: python benchmarks/distill/bench_traces.py [--crucible build/bin/crucible] [--model GGUF] [--samples 4]
                                                 [--max-tokens 64] [--concurrency 8] [--rounds 2] [--threads 2]
"""
import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "serve"))
from bench_serve import PROMPTS, child_env, start_serve  # noqa: E402  the serve benchmark's prompts and helpers


def completion_tokens(db: str) -> int:
    with sqlite3.connect(db) as c:
        return c.execute("SELECT coalesce(sum(completion_tokens), 0) FROM samples").fetchone()[0]


def traces(args, db: str, prompts: str, teacher: list[str]) -> tuple[float, int]:
    cmd = [args.crucible, "--json", "--log-level", "warn", "--db", db, "distill", "traces", *teacher, "--prompts",
           prompts, "--samples", str(args.samples), "--max-tokens", str(args.max_tokens), "--temperature", "0.8",
           "--seed", "7", "--filters", "correct", "--no-decontam"]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=child_env(args))
    seconds = time.perf_counter() - t0
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)}\nexit {out.returncode}: {out.stderr}")
    result = json.loads(out.stdout)
    assert result["samples_generated"] == args.samples * args.prompts, out.stdout
    tokens = completion_tokens(db)
    assert abs(result["tokens_per_s"] * result["wall_s"] - tokens) <= 1e-6 * tokens + 1, out.stdout
    return result["wall_s"], seconds, tokens


def in_process(args, tmp: str, prompts: str, n: int) -> tuple[float, float, int]:
    return traces(args, f"{tmp}/native-{n}.db", prompts, ["--teacher", args.model, "--max-batch", str(args.concurrency)])


def endpoint(args, tmp: str, prompts: str, n: int) -> tuple[float, float, int]:
    proc, base = start_serve(args, args.concurrency)
    try:
        return traces(args, f"{tmp}/endpoint-{n}.db", prompts,
                      ["--endpoint", base, "--api-model", "default", "--concurrency", str(args.concurrency)])
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--crucible", default="build/bin/crucible")
    ap.add_argument("--model", default=os.path.expanduser("~/.cache/crucible/models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--prompts", type=int, default=8, help="the first N of the serve benchmark's 32 prompts")
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--concurrency", type=int, default=8, help="--max-batch of both engines; requests in flight")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        prompts = f"{tmp}/prompts.jsonl"
        with open(prompts, "w") as f:
            for i, p in enumerate(PROMPTS[: args.prompts]):
                f.write(json.dumps({"id": f"p{i}", "prompt": p, "answer": "0"}) + "\n")
        ratios = []
        for n in range(args.rounds):
            sides = [("in-process", in_process), ("endpoint", endpoint)]
            if n % 2:
                sides.reverse()
            rate = {}
            for name, run in sides:
                seconds, command_seconds, tokens = run(args, tmp, prompts, n)
                rate[name] = tokens / seconds
                print(f"round {n + 1} {name:10}: {tokens} completion tokens in {seconds:.2f} s = {rate[name]:.1f} tok/s "
                      f"(whole command {command_seconds:.2f} s)", flush=True)
            ratios.append(rate["endpoint"] / rate["in-process"])
            print(f"round {n + 1} ratio endpoint / in-process: {ratios[-1]:.3f}", flush=True)
        print(f"load average after: {os.getloadavg()[0]:.2f}; ratios: {', '.join(f'{r:.3f}' for r in ratios)}")


if __name__ == "__main__":
    main()
