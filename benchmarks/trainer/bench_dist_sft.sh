#!/usr/bin/env bash
# Data-parallel SFT throughput on this CPU: 1 rank x 1 thread vs 2 ranks x 1 thread (--nproc-per-node 2, Gloo),
# same global batches. Prints tokens/s of each and the ratio. The machine is shared: say so with the numbers.
#   benchmarks/trainer/bench_dist_sft.sh MODEL [TOKENIZER] [STEPS] [BATCH_TOKENS]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${CRUCIBLE_BIN:-$root/build/bin/crucible}
model=${1:?model}; tok=${2:-}; steps=${3:-6}; batch=${4:-1024}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
python3 - "$work/d.jsonl" <<'PY'
import json, sys
words = ["cat", "dog", "tree", "ball", "sun", "boat", "bird", "cake"]
with open(sys.argv[1], "w") as f:
    for i in range(256):
        c = "Lily saw a" + "".join(f" big {words[(i + k) % 8]}" for k in range(i % 23 + 1))
        f.write(json.dumps({"prompt": f"Once upon a time, there was a {words[i % 8]}.", "completion": c + "."}) + "\n")
PY
args=(--json --db "$work/c.db" train sft --model "$model" --data "$work/d.jsonl" --steps "$steps" --batch-tokens "$batch"
      --threads 1 --device cpu --max-seq-len 512)
[ -n "$tok" ] && args+=(--tokenizer "$tok")
export OMP_NUM_THREADS=1
one=$("$bin" "${args[@]}" --out "$work/one" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["tokens_per_second"])')
two=$("$bin" "${args[@]}" --out "$work/two" --nproc-per-node 2 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["tokens_per_second"])')
python3 -c "print(f'1 rank x 1 thread: {float($one):.0f} tok/s; 2 ranks x 1 thread: {float($two):.0f} tok/s; ratio {float($two)/float($one):.2f}')"
