"""model_runs.jsonl: completions stored by `crucible eval` runs of the demo models, labelled by hand.

usage: python3 gen/model_runs.py STORE.db [MORE.db|SAMPLES.jsonl ...]          write model_runs.jsonl
       python3 gen/model_runs.py STORE.db ... --show [--tail N]   print the unlabelled samples (gold, finish, the end)

The labels live in model_run_labels.json, keyed "<run name>/<suite>/<problem key>#<sample>": {"equal", "kind", "note"}.
Each was given by reading the completion: what is its final answer, does it equal the gold, did it finish? A completion
cut by the length limit, or one that never states a final answer, is labelled false (unfinished), whatever numbers it
mentions on the way.
"""
import json
import os
import sqlite3
import sys

from common import HERE, record, write

SUITE_PRESET = {"math500": "math", "minerva_math": "math", "olympiadbench": "math", "gsm8k": "gsm8k", "amc23": "math",
                "aime24": "math", "aime25": "math"}


def samples(db):
    if db.endswith(".jsonl"):  # completions sampled outside crucible: {run, model, suite, key, k, gold, text, finish, ntok}
        for line in open(db, encoding="utf-8"):
            s = json.loads(line)
            s["id"] = f"{s['run']}/{s['suite']}/{s['key']}#{s['k']}"
            s["how"] = "sampled with transformers 5.23 from the demo GGUF (chat template, R1 math suffix)"
            yield s
        return
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    q = """SELECT r.name, m.path, d.suite, p.problem_key, s.sample_index, p.gold, s.completion, s.finish_reason,
                  s.completion_tokens
           FROM samples s JOIN problems p ON p.id = s.problem_id JOIN datasets d ON d.id = p.dataset_id
           JOIN runs r ON r.id = s.run_id LEFT JOIN models m ON m.id = r.model_id ORDER BY s.id"""
    for run, model, suite, key, k, gold, text, finish, ntok in con.execute(q):
        if suite in SUITE_PRESET and gold is not None:
            yield dict(id=f"{run}/{suite}/{key}#{k}", run=run, model=os.path.basename(model or "?"), suite=suite,
                       key=key, k=k, gold=gold, text=text, finish=finish, ntok=ntok)


def main():
    dbs = [a for a in sys.argv[1:] if not a.startswith("--") and not a.isdigit()]
    path = os.path.join(HERE, "model_run_labels.json")
    labels = json.load(open(path)) if os.path.exists(path) else {}
    if "--show" in sys.argv:
        tail = int(sys.argv[sys.argv.index("--tail") + 1]) if "--tail" in sys.argv else 400
        for s in (x for db in dbs for x in samples(db)):
            if s["id"] in labels:
                continue
            end = s["text"][-tail:].replace("\n", "⏎")
            print(f"=== {s['id']} | gold {s['gold']!r} | {s['finish']} {s['ntok']} tok\n…{end}\n")
        return
    out = []
    for s in (x for db in dbs for x in samples(db)):
        lab = labels.get(s["id"])
        if lab is None:
            continue
        how = s.get("how", "crucible eval run")
        src = (f"{how} '{s['run']}' ({s['model']}), {s['suite']} {s['key']} sample {s['k']}, "
               f"finish_reason {s['finish']}; labelled by hand: {lab.get('note', '')}")
        out.append(record("response", s["gold"], s["text"], lab["equal"], src, lab.get("kind", 0),
                          SUITE_PRESET[s["suite"]]))
    write("model_runs.jsonl", out)


if __name__ == "__main__":
    main()
