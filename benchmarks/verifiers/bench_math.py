#!/usr/bin/env python3
"""Benchmark: `crucible grade math` against math-verify on the same pairs, single thread, same machine, one run.

Pairs: every MATH-500 gold (../shared/data/math500/test.jsonl) against mechanical rewrites of itself, each wrapped in
an R1-style response (<think>…</think> … \\boxed{…}): \\dfrac for \\frac, a/b and a decimal for simple fractions,
n.0 and "n units" for integers, \\left/\\right for tuples, an "x = " prefix, and wrong variants (n+1, swapped
fractions). Never the gold as written: identical text would be a trivial match.
Prints pairs/s for both, the ratio, p50/p99 latency per pair, and the agreement between the two graders.

usage: bench_math.py CRUCIBLE_BINARY SHARED_DIR [--repeat-crucible K] [--unmarked]
--unmarked: the same answers without a box, as the last display math of an unmarked response (the fallback chain).
"""
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

from math_verify import ExprExtractionConfig, LatexExtractionConfig, parse, verify

FRAC = re.compile(r"\\frac\{(-?\d+)\}\{(\d+)\}")


def variants(gold):
    """Rewrites of a gold answer (never the gold as written: identical text is a trivial match)."""
    g = gold.strip()
    out = []
    if "\\frac" in g:
        out.append((g.replace("\\frac", "\\dfrac"), True))
    m = FRAC.fullmatch(g)
    if m:
        a, b = m.groups()
        out.append((f"{a}/{b}", True))
        den = int(b)
        while den % 2 == 0:
            den //= 2
        while den % 5 == 0:
            den //= 5
        if den == 1:
            out.append((repr(int(a) / int(b)), True))
        if a != b:
            out.append((f"\\frac{{{b}}}{{{a}}}", False))
    if re.fullmatch(r"-?\d+", g):
        n = int(g)
        out.append((f"{n}.0", True))
        out.append((f"{n} \\text{{ units}}", True))
        out.append((str(n + 1), False))
    if g.startswith("(") and g.endswith(")"):
        out.append(("\\left" + g[:-1] + "\\right)", True))
    if "=" not in g and "," not in g and "\\text" not in g and "x" not in g:
        out.append(("x = " + g, True))
    return out


def response(ans, unmarked=False):
    if unmarked:
        # No marker at all: the answer is the last display math of the working (crucible's display_math fallback;
        # math-verify takes the last LaTeX expression).
        return f"<think>\nLet me work this out carefully.\n</think>\n\nWorking it out, 2 + 2 = 4 and then\n$$\n{ans}\n$$"
    return f"<think>\nLet me work this out carefully.\n</think>\n\nThe final answer is $\\boxed{{{ans}}}$."


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def main():
    binary, shared = sys.argv[1], sys.argv[2]
    repeat = int(sys.argv[sys.argv.index("--repeat-crucible") + 1]) if "--repeat-crucible" in sys.argv else 20
    unmarked = "--unmarked" in sys.argv
    golds = [json.loads(l)["answer"] for l in open(os.path.join(shared, "data/math500/test.jsonl"), encoding="utf-8")]
    pairs = [(g, response(v, unmarked), eq) for g in golds for v, eq in variants(g)]

    # math-verify: the documented call, in process, timed per pair.
    cfg = [LatexExtractionConfig(), ExprExtractionConfig()]
    mv_lat, mv_ok = [], []
    t0 = time.perf_counter()
    for g, r, _ in pairs:
        s = time.perf_counter()
        try:
            ok = bool(verify(parse("\\boxed{" + g + "}", extraction_config=cfg), parse(r, extraction_config=cfg)))
        except Exception:
            ok = False
        mv_lat.append(time.perf_counter() - s)
        mv_ok.append(ok)
    mv_total = time.perf_counter() - t0

    # crucible: the CLI on one thread over the same pairs (repeated to amortise the process start), timed per record.
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "pairs.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            for _ in range(repeat):
                for g, r, _ in pairs:
                    f.write(json.dumps({"response": r, "gold": g}) + "\n")
        start = time.perf_counter()
        subprocess.run([binary, "--log-level", "warn", "grade", "math", "--workers", "1", "--input", os.devnull],
                       check=True, capture_output=True)
        startup = time.perf_counter() - start
        start = time.perf_counter()
        res = subprocess.run([binary, "--log-level", "warn", "grade", "math", "--workers", "1", "--timing",
                              "--input", path], check=True, capture_output=True)
        cr_total = time.perf_counter() - start
    recs = [json.loads(l) for l in res.stdout.decode().splitlines()]
    cr_lat = [r["grade_us"] / 1e6 for r in recs]
    cr_ok = [r["correct"] for r in recs[: len(pairs)]]

    n = len(pairs)
    mv_rate = n / mv_total
    cr_rate = len(recs) / cr_total
    cr_rate_grading = len(recs) / sum(cr_lat)
    agree = sum(a == b for a, b in zip(cr_ok, mv_ok))
    right_cr = sum(a == eq for a, (_, _, eq) in zip(cr_ok, pairs))
    right_mv = sum(a == eq for a, (_, _, eq) in zip(mv_ok, pairs))
    print(f"pairs: {n} (MATH-500 golds x rewritten variants; {sum(e for *_, e in pairs)} equal, "
          f"{sum(not e for *_, e in pairs)} different); crucible graded them {repeat}x")
    print(f"math-verify {mv_rate:10.1f} pairs/s   p50 {pct(mv_lat, 50) * 1e3:7.3f} ms   p99 {pct(mv_lat, 99) * 1e3:7.3f} ms")
    print(f"crucible    {cr_rate:10.1f} pairs/s   p50 {pct(cr_lat, 50) * 1e3:7.3f} ms   p99 {pct(cr_lat, 99) * 1e3:7.3f} ms"
          f"   (CLI end to end incl. JSON and a {startup:.2f} s process start; grading alone {cr_rate_grading:.0f} pairs/s)")
    print(f"ratio crucible/math-verify: {cr_rate / mv_rate:.1f}x end to end, {cr_rate_grading / mv_rate:.1f}x grading alone")
    print(f"verdicts: crucible right on {right_cr}/{n}, math-verify right on {right_mv}/{n}, they agree on {agree}/{n}")
    for (g, r, eq), a, b in zip(pairs, cr_ok, mv_ok):
        if a != b:
            shown = r.split('boxed{', 1)[1][:-3] if 'boxed{' in r else r.rsplit('$$', 2)[-2].strip()
            print(f"  differ: gold={g!r} answer={shown!r} expected={eq} crucible={a} math-verify={b}")


if __name__ == "__main__":
    main()
