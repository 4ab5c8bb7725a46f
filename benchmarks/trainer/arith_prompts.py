"""Short arithmetic word problems with gold answers, for `crucible train grpo --prompts` (the "it learns" check) and
the GRPO step benchmark. Deterministic: the same seed writes the same file.

  python benchmarks/trainer/arith_prompts.py OUT.jsonl [--n 200] [--seed 0] [--kind word|sum] [--sft]

--sft writes `crucible train sft` records instead: the user turn exactly as `crucible train grpo --prompts` builds
it (the question, a newline, R1's math suffix) and a short worked answer ending in \boxed{} — what teaches a small
instruct model the format before GRPO (benchmarks/trainer/it_learns.sh uses another seed than the GRPO prompts).

word: "Ann has 7 pens and gets 5 more. How many pens does Ann have now?"; sum: "What is 7 + 5?" (what a 135M model
answers right often enough, ~30% at temperature 1, for GRPO to have a signal to climb from in minutes on a CPU).
"""
import argparse
import json
import random

NAMES = ["Ann", "Ben", "Cleo", "Dev", "Eli", "Fay", "Gus", "Hana"]
SUFFIX = "Please reason step by step, and put your final answer within \\boxed{}."  # harness/protocol.cpp kMathSuffix
THINGS = ["apples", "pens", "coins", "cards", "books", "stamps"]


def problem(rng):
    name, thing = rng.choice(NAMES), rng.choice(THINGS)
    a, b = rng.randint(2, 9), rng.randint(2, 9)
    if rng.random() < 0.5:
        return f"{name} has {a} {thing} and gets {b} more. How many {thing} does {name} have now?", a + b
    a = a + b
    return f"{name} has {a} {thing} and gives away {b}. How many {thing} does {name} have left?", a - b


def bare_sum(rng):
    a, b = rng.randint(2, 19), rng.randint(2, 19)
    return f"What is {a} + {b}?", a + b


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--kind", choices=["word", "sum"], default="word")
    ap.add_argument("--sft", action="store_true")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    with open(args.out, "w") as f:
        for i in range(args.n):
            q, a = problem(rng) if args.kind == "word" else bare_sum(rng)
            if args.sft:
                worked = (q[len("What is "):-1] + f" = {a}. " if args.kind == "sum" else "") + f"The answer is \\boxed{{{a}}}."
                rec = {"messages": [{"role": "user", "content": q + "\n" + SUFFIX}, {"role": "assistant", "content": worked}]}
            else:
                rec = {"id": f"arith-{i}", "prompt": q, "answer": str(a)}
            f.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main()
