#!/usr/bin/env bash
# --shard's saving, measured: 2 ranks x 1 thread of `train sft`, without and with --shard, same data and steps. Each
# rank logs "rank R: optimizer state N bytes, peak RSS M MiB" at the end (trainer/optimizer.h, log_rank_memory).
#   benchmarks/trainer/bench_dist_shard.sh MODEL [TOKENIZER] [STEPS] [BATCH_TOKENS]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${CRUCIBLE_BIN:-$root/build/bin/crucible}
model=${1:?model}; tok=${2:-}; steps=${3:-2}; batch=${4:-512}
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
python3 - "$work/d.jsonl" <<'PY'
import json, sys
words = ["cat", "dog", "tree", "ball", "sun", "boat", "bird", "cake"]
with open(sys.argv[1], "w") as f:
    for i in range(64):
        c = "Lily saw a" + "".join(f" big {words[(i + k) % 8]}" for k in range(i % 23 + 1))
        f.write(json.dumps({"prompt": f"Once upon a time, there was a {words[i % 8]}.", "completion": c + "."}) + "\n")
PY
args=(--db "$work/c.db" train sft --model "$model" --data "$work/d.jsonl" --steps "$steps" --batch-tokens "$batch"
      --threads 1 --device cpu --max-seq-len 512 --nproc-per-node 2)
[ -n "$tok" ] && args+=(--tokenizer "$tok")
export OMP_NUM_THREADS=1
for shard in "" --shard; do
  echo "2 ranks ${shard:-(no --shard)}:"
  "$bin" "${args[@]}" --out "$work/out$shard" $shard 2>&1 >/dev/null | grep -o "rank [0-9]: optimizer state.*"
done
