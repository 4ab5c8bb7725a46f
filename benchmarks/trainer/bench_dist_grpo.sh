#!/usr/bin/env bash
# Data-parallel GRPO step time on this CPU: 1 rank x 1 thread vs 2 ranks x 1 thread (--nproc-per-node 2, Gloo), the
# same prompts, groups and seeds (2 ranks draw exactly the one-process rollouts: trainer/README.md, "Past one
# process"). Prints seconds per step of each and the ratio. The machine is shared: say so with the numbers.
#   benchmarks/trainer/bench_dist_grpo.sh MODEL [TOKENIZER] [STEPS] [MAX_TOKENS] [-- EXTRA TRAIN GRPO FLAGS]
# e.g. `-- --no-skip`: every sequence through forward and backward even where a group's rewards are all equal (a model
# that never answers gets flat groups, and then a step is the rollout plus the update's fixed costs).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${CRUCIBLE_BIN:-$root/build/bin/crucible}
model=${1:?model}; tok=${2:-}; steps=${3:-10}; max_tokens=${4:-32}
shift $(($# < 4 ? $# : 4)); [ "${1:-}" = -- ] && shift
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
python3 - "$work/p.jsonl" <<'PY'
import json, sys
who = ["Lily", "Tom", "Sue", "Ben", "Max", "Mia"]
with open(sys.argv[1], "w") as f:
    for i, w in enumerate(who):
        f.write(json.dumps({"id": f"p{i}", "prompt": f"{w} had {i + 2} toys. How many toys?", "answer": str(i + 2)}) + "\n")
PY
# 4 prompts x G 4 a step; DAPO's overlong shaping gives rewards that vary for a model that never answers.
args=(--json --db "$work/c.db" train grpo --model "$model" --prompts "$work/p.jsonl" --steps "$steps"
      --prompts-per-step 4 --group-size 4 --max-tokens "$max_tokens" --temperature 1.5 --overlong-shaping
      --overlong-buffer "$max_tokens" --assistant-prefix "" --beta 0 --lr 1e-3 --micro-batch 4 --seed 3 --threads 1
      --device cpu)
[ -n "$tok" ] && args+=(--tokenizer "$tok")
args+=("$@")
export OMP_NUM_THREADS=1
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
step_time() { python3 -c 'import json,sys; print(json.load(sys.stdin)["seconds_per_step"])'; }
one=$("$bin" "${args[@]}" --out "$work/one" 2>/dev/null | step_time)
two=$("$bin" "${args[@]}" --out "$work/two" --nproc-per-node 2 2>/dev/null | step_time)
python3 -c "print(f'1 rank x 1 thread: {float($one):.3f} s/step; 2 ranks x 1 thread: {float($two):.3f} s/step; speed-up {float($one)/float($two):.2f}')"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
