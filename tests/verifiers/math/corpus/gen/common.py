"""Shared writer for the corpus generators: one JSON object a line, fields in a fixed order."""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.dirname(HERE)


def record(mode, gold, response, equal, source, kind, preset=None):
    r = {"mode": mode, "gold": gold, "response": response, "equal": bool(equal), "source": source}
    if mode == "response":
        r["preset"] = preset or "math"
    r["kind"] = int(kind)
    r["author"] = "external"
    return r


def old_corpus_keys():
    """Pairs already in the hand-written tests/verifiers/math/corpus.jsonl: not counted again as new."""
    keys = set()
    with open(os.path.join(os.path.dirname(CORPUS), "corpus.jsonl"), encoding="utf-8") as f:
        for line in f:
            c = json.loads(line)
            keys.add((c["gold"].strip(), c["response"].strip()))
    return keys


def write(name, records):
    old = old_corpus_keys()
    seen, out = set(), []
    for r in records:
        key = (r["mode"], r["gold"], r["response"])
        if key in seen or (r["gold"].strip(), r["response"].strip()) in old:
            continue
        seen.add(key)
        out.append(r)
    with open(os.path.join(CORPUS, name), "w", encoding="utf-8") as f:
        for r in out:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"{name}: {len(out)} cases, {sum(not r['equal'] for r in out)} negatives")
