#!/usr/bin/env python3
"""Differential run: crucible's math grader against math-verify (the Python oracle) on the same pairs.

Pairs, in four groups:
  corpus      the labelled cases: tests/verifiers/math/corpus.jsonl (the grader author's) and every
              tests/verifiers/math/corpus/*.jsonl (external, issue 11); each has its truth in `equal`
  suite       from ../shared/data, every math suite's gold against itself, against its reference solution's final
              answer, and (MATH-500, AIME24, Minerva, GSM8K) against the whole reference solution text graded as a
              response (truth: equal; the suite files stay in ../shared, nothing is copied)
  stored      with --db FILE: every completion stored by crucible's eval runs on a math suite, against its problem's
              gold (no label: a disagreement there is listed for a person to rule)
Prints every disagreement with the ruling (who matches the label), per-group accuracy and false positives of both
graders against the labels, and a summary; exits 1 when crucible is on the wrong side of a labelled disagreement.

usage: diff_math_verify.py CRUCIBLE_BINARY SOURCE_DIR [--markdown OUT.md] [--db STORE.db]... [--json OUT.json]
                          [--corpus-only] [--mv-cache FILE]
"""
import glob
import json
import os
import sqlite3
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


def corpus_pairs(source):
    pairs = []
    base = os.path.join(source, "tests/verifiers/math")
    files = [os.path.join(base, "corpus.jsonl")] + sorted(glob.glob(os.path.join(base, "corpus", "*.jsonl")))
    for path in files:
        name = os.path.relpath(path, base)
        for n, line in enumerate(open(path, encoding="utf-8"), 1):
            if not line.strip():
                continue
            c = json.loads(line)
            c["id"] = f"{name}:{n}"
            c["group"] = "corpus"
            c["file"] = name
            c.setdefault("kind", 0)
            pairs.append(c)
    return pairs


def suite_pairs(shared):
    d = os.path.join(shared, "data")
    pairs = []

    def rows(rel):
        p = os.path.join(d, rel)
        if not os.path.exists(p):
            return []
        return [json.loads(l) for l in open(p, encoding="utf-8") if l.strip()]

    def add(suite, rid, gold, sol, text=None, preset="math"):
        base = dict(group="suite", equal=True, kind=0, file=suite)
        pairs.append(dict(base, id=f"{suite}/{rid}/self", mode="answer", gold=gold, response=gold))
        if sol is not None:
            pairs.append(dict(base, id=f"{suite}/{rid}/solution", mode="answer", gold=gold, response=sol))
        if text is not None:
            pairs.append(dict(base, id=f"{suite}/{rid}/solution-text", mode="response", preset=preset, gold=gold,
                              response=text))

    for r in rows("math500/test.jsonl"):
        add("math500", r["unique_id"], r["answer"], boxed_of(r["solution"]), r["solution"])
    for r in rows("aime24/test.jsonl"):
        add("aime24", r["id"], str(r["answer"]), boxed_of(r["solution"]), r["solution"])
    for r in rows("aime25/test.jsonl"):
        add("aime25", r["id"], str(r["answer"]), None)
    for r in rows("amc23/test.jsonl"):
        add("amc23", r["id"], str(r["answer"]), None)
    for r in rows("minerva_math/test.jsonl"):
        add("minerva", r["idx"], boxed_of(r["solution"]) or "", None, r["solution"])
    for r in rows("olympiadbench/test.jsonl"):
        gold = ", ".join(x.replace("$", "") for x in python_list(r["final_answer"]))
        add("olympiadbench", r["id"], gold, None)
    for i, r in enumerate(rows("gsm8k/test.jsonl")):
        gold = r["answer"].rsplit("####", 1)[-1].strip()
        add("gsm8k", i, gold, None, r["answer"], preset="gsm8k")
    return pairs


MATH_SUITES = {"math500": "math", "aime24": "math", "aime25": "math", "amc23": "math", "minerva_math": "math",
               "olympiadbench": "math", "gsm8k": "gsm8k"}


def stored_pairs(db):
    """Completions crucible's eval runs stored, with their problem's gold: unlabelled."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    q = """SELECT r.name, d.suite, p.problem_key, s.sample_index, p.gold, s.completion, s.finish_reason
           FROM samples s JOIN problems p ON p.id = s.problem_id JOIN datasets d ON d.id = p.dataset_id
           JOIN runs r ON r.id = s.run_id ORDER BY s.id"""
    pairs = []
    for run, suite, key, k, gold, completion, finish in con.execute(q):
        if suite not in MATH_SUITES or gold is None:
            continue
        pairs.append(dict(group="stored", id=f"{run}/{suite}/{key}#{k}", mode="response", preset=MATH_SUITES[suite],
                          gold=gold, response=completion, equal=None, kind=0, file=f"db:{run}",
                          finish=finish))
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
    """Grades every pair with `crucible grade math`: bare answers with --rules whole, responses with their preset."""
    out = {}
    groups = {}
    for i, p in enumerate(pairs):
        key = "whole" if p["mode"] == "answer" else p.get("preset", "math")
        groups.setdefault(key, []).append(i)
    for key, idx in groups.items():
        args = [binary, "--log-level", "warn", "grade", "math"]
        args += ["--rules", "whole"] if key == "whole" else ["--preset", key]
        text = "".join(json.dumps({"response": pairs[i]["response"], "gold": pairs[i]["gold"]}) + "\n" for i in idx)
        res = subprocess.run(args, input=text.encode(), capture_output=True)
        if res.returncode != 0:
            sys.exit(f"{' '.join(args)} failed ({res.returncode}): {res.stderr.decode()[-2000:]}")
        for i, line in zip(idx, res.stdout.decode().splitlines()):
            out[i] = json.loads(line)
    return [out[i] for i in range(len(pairs))]


def short(s, n=90):
    s = s.replace("\n", " ")
    return s if len(s) <= n else s[:n] + "…"


def score(rows):
    """Accuracy and false positives of a verdict list against labels: rows of (verdict, label)."""
    n = len(rows)
    ok = sum(v == l for v, l in rows)
    neg = sum(1 for _, l in rows if not l)
    fp = sum(1 for v, l in rows if v and not l)
    return n, ok, neg, fp


def main():
    binary, source = sys.argv[1], sys.argv[2]
    opt = lambda flag: sys.argv[sys.argv.index(flag) + 1] if flag in sys.argv else None
    md_out, json_out = opt("--markdown"), opt("--json")
    dbs = [sys.argv[i + 1] for i, a in enumerate(sys.argv) if a == "--db"]
    pairs = corpus_pairs(source)
    if "--corpus-only" not in sys.argv:
        pairs += suite_pairs(os.path.join(source, "..", "shared"))
    for db in dbs:
        pairs += stored_pairs(db)
    t0 = time.time()
    ours = crucible_equal(binary, pairs)
    t_ours = time.time() - t0
    # math-verify's verdicts do not depend on crucible's build: --mv-cache keeps them between runs.
    cache_path = opt("--mv-cache")
    cache = json.load(open(cache_path)) if cache_path and os.path.exists(cache_path) else {}
    t0 = time.time()
    theirs = []
    for p in pairs:
        key = json.dumps([p["mode"], p["gold"], p["response"]])
        if key not in cache:
            try:
                cache[key] = math_verify_equal(p)
            except Exception:  # math-verify raising counts as "not equal" (what its callers see)
                cache[key] = False
        theirs.append(cache[key])
    t_theirs = time.time() - t0
    if cache_path:
        with open(cache_path, "w", encoding="utf-8") as f:
            json.dump(cache, f)

    rows, wrong = [], 0
    known_lost = []
    for p, o, t in zip(pairs, ours, theirs):
        if o["correct"] == t:
            continue
        if p["equal"] is None:
            right = "unlabelled"
        else:
            right = "crucible" if o["correct"] == p["equal"] else "math-verify"
        if right == "math-verify":
            if p["id"] in KNOWN_MISSES:
                known_lost.append(p["id"])
            else:
                wrong += 1
        # Suite texts stay in ../shared: a row names the problem, not its solution text.
        shown = "(the suite's reference solution)" if p["group"] == "suite" and p["mode"] == "response" else p["response"]
        rows.append(dict(id=p["id"], kind=p.get("kind", 0), gold=p["gold"], response=shown,
                         crucible=o["correct"], math_verify=t, right=right, label=p["equal"],
                         reason=o.get("reason", ""), extracted=o.get("extracted")))

    # Accuracy of both graders against the labels, per corpus file and per kind (corpus group only).
    acc_lines = ["| corpus slice | cases | negatives | crucible correct | crucible FP | math-verify correct | "
                 "math-verify FP |", "|---|---|---|---|---|---|---|"]
    slices = {}
    for p, o, t in zip(pairs, ours, theirs):
        if p["group"] != "corpus":
            continue
        for key in ("all", f"file {p['file']}", f"kind {p.get('kind', 0)}"):
            slices.setdefault(key, []).append((o["correct"], t, p["equal"]))
    for key in sorted(slices, key=lambda k: (k != "all", k)):
        v = slices[key]
        n, ok_c, neg, fp_c = score([(c, l) for c, _, l in v])
        _, ok_m, _, fp_m = score([(m, l) for _, m, l in v])
        acc_lines.append(f"| {key} | {n} | {neg} | {ok_c} ({100 * ok_c / n:.1f}%) | {fp_c} | "
                         f"{ok_m} ({100 * ok_m / n:.1f}%) | {fp_m} |")

    lines = ["| pair | kind | gold | answer | crucible | math-verify | right |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        cell = lambda s: short(str(s)).replace("|", "\\|").replace("`", "'")
        lines.append(f"| {r['id']} | {r['kind']} | `{cell(r['gold'])}` | `{cell(r['response'])}` | {r['crucible']} | "
                     f"{r['math_verify']} | {r['right']} |")
    count = lambda g: sum(1 for p in pairs if p["group"] == g)
    n_unl = sum(1 for r in rows if r["right"] == "unlabelled")
    summary = (f"{len(pairs)} pairs ({count('corpus')} corpus, {count('suite')} suite golds/solutions, "
               f"{count('stored')} stored completions); {len(rows)} disagreements; crucible right on "
               f"{len(rows) - wrong - n_unl}, math-verify right on {wrong}, unlabelled {n_unl}; "
               f"crucible CLI {t_ours:.1f} s, math-verify {t_theirs:.1f} s")
    print("\n".join(acc_lines))
    print()
    print("\n".join(lines))
    print(summary)
    print(f"known crucible misses (ruled in math_verify_disagreements.md, not counted as failures): "
          f"{len(known_lost)} {known_lost}; new losses: {wrong}")
    if md_out:
        with open(md_out, "w", encoding="utf-8") as f:
            f.write(summary + "\n\n" + "\n".join(acc_lines) + "\n\n" + "\n".join(lines) + "\n")
    if json_out:
        with open(json_out, "w", encoding="utf-8") as f:
            json.dump(rows, f, ensure_ascii=False, indent=1)
    return 1 if wrong else 0


# Disagreements math-verify wins that are ruled in math_verify_disagreements.md as known crucible misses. Any other
# lost disagreement fails the ctest; when a listed miss is fixed, remove it here (the run prints which are lost).
KNOWN_MISSES = {
    "corpus/math_verify_tests.jsonl:16",  # malformed `Answer $ \frac{1}{2} \$ = \frac{10}{9} $`: stops at the \$
    "corpus/peer_graders.jsonl:125",      # `(a)` for the choice letter A
    "aime24/60/solution-text",            # the reference solution ends on the author's signature "-sepehr2010"
}


if __name__ == "__main__":
    sys.exit(main())
