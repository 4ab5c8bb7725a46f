"""Start-up time of the CLI: the torch-free front (`crucible`) against the torch-linked CLI (`crucible-torch`, what
every command loaded before the split), side by side, interleaved, on commands that run no model.

    python benchmarks/startup/bench_startup.py [--build build] [--runs 30]

Each figure is the median (and the 10th-90th percentile) wall time of `runs` process starts, from fork to exit, with
an empty store (`runs list` on a missing file: nothing is created). The first run of each is discarded (page cache).
Prints a Markdown table for benchmarks/RESULTS.md.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


def time_command(argv, runs):
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)  # warm the page cache
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        p = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        out.append(time.perf_counter() - t0)
        if p.returncode != 0:
            sys.exit(f"{' '.join(argv)} exited {p.returncode}")
    return out


def summary(ts):
    ts = sorted(ts)
    q = statistics.quantiles(ts, n=10)
    return statistics.median(ts) * 1000, q[0] * 1000, q[-1] * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--runs", type=int, default=30)
    a = ap.parse_args()
    front = os.path.join(a.build, "bin", "crucible")
    torch = os.path.join(a.build, "bin", "crucible-torch")
    for exe in (front, torch):
        if not os.access(exe, os.X_OK):
            sys.exit(f"{exe} not built")
    with tempfile.TemporaryDirectory() as d:
        db = os.path.join(d, "empty.db")
        cases = [("--help", ["--help"]), ("runs list (empty store)", ["--db", db, "runs", "list"]),
                 ("--version", ["--version"])]
        print("| command | crucible-torch (before) | crucible (front, after) | ratio |")
        print("|---|---|---|---|")
        for name, args in cases:
            before, after = [], []
            for _ in range(3):  # interleaved thirds: load changes hit both sides alike
                before += time_command([torch] + args, a.runs // 3)
                after += time_command([front] + args, a.runs // 3)
            b, a_ = summary(before), summary(after)
            print(f"| `{name}` | {b[0]:.1f} ms ({b[1]:.1f}–{b[2]:.1f}) | {a_[0]:.1f} ms ({a_[1]:.1f}–{a_[2]:.1f}) "
                  f"| {b[0] / a_[0]:.1f}x faster |")


if __name__ == "__main__":
    main()
