#!/usr/bin/env python3
"""Differential run: crucible's math grader against math-verify (the Python oracle) on the same pairs.

Pairs: the correctness corpus (labelled) and, from ../shared/data, every math suite's gold against itself and against
its reference solution's final answer (truth: equal). Prints every disagreement with the ruling (who matches the
label) and a summary; exits 1 when crucible is on the wrong side of a labelled disagreement.

usage: diff_math_verify.py CRUCIBLE_BINARY SOURCE_DIR [--markdown OUT.md]
"""
import json
import os
import subprocess
import sys
import time

from math_verify import LatexExtractionConfig, ExprExtractionConfig, parse, verify


def boxed_of(text):
    pos = text.rfind("\\boxed")
    while pos != -1:
        i = pos + len("\\boxed")
        if i < len(text) and text[i] == "{":
            depth, j = 0, i
            while j < len(text):
                c = text[j]
                if c == "\\":
                    j += 2
                    continue
                if c == "{":
                    depth += 1
                elif c == "}":
                    depth -= 1
                    if depth == 0:
                        inner = text[i + 1:j].strip()
                        if inner:
                            return inner
                        break
                j += 1
        pos = text.rfind("\\boxed", 0, pos)
    return None


def python_list(s):
    """OlympiadBench's final_answer: a list of strings (or its Python repr)."""
    import ast
    if isinstance(s, list):
        return [str(x) for x in s]
    try:
        v = ast.literal_eval(s)
        if isinstance(v, list):
            return [str(x) for x in v]
    except Exception:
        pass
    return [s]


def suite_pairs(shared):
    d = os.path.join(shared, "data")
    pairs = []

    def rows(rel):
        p = os.path.join(d, rel)
        if not os.path.exists(p):
            return []
        return [json.loads(l) for l in open(p, encoding="utf-8") if l.strip()]

    def add(suite, rid, gold, sol):
        pairs.append(dict(id=f"{suite}/{rid}/self", mode="answer", gold=gold, response=gold, equal=True))
        if sol is not None:
            pairs.append(dict(id=f"{suite}/{rid}/solution", mode="answer", gold=gold, response=sol, equal=True))

    for r in rows("math500/test.jsonl"):
        add("math500", r["unique_id"], r["answer"], boxed_of(r["solution"]))
    for r in rows("aime24/test.jsonl"):
        add("aime24", r["id"], str(r["answer"]), boxed_of(r["solution"]))
    for r in rows("aime25/test.jsonl"):
        add("aime25", r["id"], str(r["answer"]), None)
    for r in rows("amc23/test.jsonl"):
        add("amc23", r["id"], str(r["answer"]), None)
    for r in rows("minerva_math/test.jsonl"):
        add("minerva", r["idx"], boxed_of(r["solution"]) or "", None)
    for r in rows("olympiadbench/test.jsonl"):
        gold = ", ".join(x.replace("$", "") for x in python_list(r["final_answer"]))
        add("olympiadbench", r["id"], gold, None)
    for i, r in enumerate(rows("gsm8k/test.jsonl")):
        gold = r["answer"].rsplit("####", 1)[-1].strip()
        pairs.append(dict(id=f"gsm8k/{i}/self", mode="answer", gold=gold, response=gold, equal=True))
        pairs.append(dict(id=f"gsm8k/{i}/solution", mode="response", preset="gsm8k", gold=gold,
                          response=r["answer"], equal=True))
    return pairs


def math_verify_equal(p):
    # math-verify's documented use: parse the gold and the prediction, then verify(gold, prediction). Bare answers are
    # given to it boxed, as graders do with MATH golds; full responses as they are.
    cfg = [LatexExtractionConfig(), ExprExtractionConfig()]
    gold = parse("\\boxed{" + p["gold"] + "}", extraction_config=cfg)
    pred_text = p["response"] if p["mode"] == "response" else "\\boxed{" + p["response"] + "}"
    pred = parse(pred_text, extraction_config=cfg)
    return bool(verify(gold, pred))


def crucible_equal(binary, pairs):
    """Grades every pair with `crucible grade math` (bare answers with --rules whole)."""
    out = {}
    groups = {}
    for i, p in enumerate(pairs):
        key = "whole" if p["mode"] == "answer" else p.get("preset", "math")
        groups.setdefault(key, []).append(i)
    for key, idx in groups.items():
        args = [binary, "--log-level", "warn", "grade", "math"]
        args += ["--rules", "whole"] if key == "whole" else ["--preset", key]
        text = "".join(json.dumps({"response": pairs[i]["response"], "gold": pairs[i]["gold"]}) + "\n" for i in idx)
        res = subprocess.run(args, input=text.encode(), capture_output=True, check=True)
        for i, line in zip(idx, res.stdout.decode().splitlines()):
            out[i] = json.loads(line)
    return [out[i] for i in range(len(pairs))]


def short(s, n=90):
    s = s.replace("\n", " ")
    return s if len(s) <= n else s[:n] + "…"


def main():
    binary, source = sys.argv[1], sys.argv[2]
    md_out = sys.argv[sys.argv.index("--markdown") + 1] if "--markdown" in sys.argv else None
    corpus = [json.loads(l) for l in open(os.path.join(source, "tests/verifiers/math/corpus.jsonl"), encoding="utf-8")]
    for i, c in enumerate(corpus):
        c["id"] = f"corpus/{i + 1}"
    pairs = corpus + suite_pairs(os.path.join(source, "..", "shared"))
    t0 = time.time()
    ours = crucible_equal(binary, pairs)
    t_ours = time.time() - t0
    t0 = time.time()
    theirs = []
    for p in pairs:
        try:
            theirs.append(math_verify_equal(p))
        except Exception:  # math-verify raising counts as "not equal" (what its callers see)
            theirs.append(False)
    t_theirs = time.time() - t0
    rows, wrong = [], 0
    for p, o, t in zip(pairs, ours, theirs):
        if o["correct"] == t:
            continue
        right = "crucible" if o["correct"] == p["equal"] else "math-verify"
        if right != "crucible":
            wrong += 1
        rows.append((p["id"], p["gold"], p["response"], o["correct"], t, right, o.get("detail", "")))
    lines = [f"| pair | gold | answer | crucible | math-verify | right |", "|---|---|---|---|---|---|"]
    for pid, g, r, o, t, right, detail in rows:
        cell = lambda s: short(s).replace("|", "\\|")
        lines.append(f"| {pid} | `{cell(g)}` | `{cell(r)}` | {o} | {t} | {right} |")
    n_c = sum(1 for p in pairs if p["id"].startswith("corpus/"))
    summary = (f"{len(pairs)} pairs ({n_c} corpus, {len(pairs) - n_c} suite golds/solutions); "
               f"{len(rows)} disagreements; crucible right on {len(rows) - wrong}, math-verify right on {wrong}; "
               f"crucible CLI {t_ours:.1f} s, math-verify {t_theirs:.1f} s")
    print("\n".join(lines))
    print(summary)
    if md_out:
        with open(md_out, "w", encoding="utf-8") as f:
            f.write(summary + "\n\n" + "\n".join(lines) + "\n")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
