#!/usr/bin/env bash
# --shard's saving and the --dry-run plan, measured: `train sft` (1 thread a rank, same data and global batches) as
# 1 rank, 2 ranks, 2 ranks with --shard. For each: what each rank logs at the end (trainer/optimizer.h, log_rank_memory):
# "rank R: optimizer state N bytes, gradients G bytes at the last step, peak RSS M MiB (K MiB above the B MiB resident
# before loading)", and the --dry-run plan's gradients, optimizer and total per rank (from config.json: the HF
# folder's, else the one the run wrote). CRUCIBLE_BIN picks another build (e.g. one from before a change).
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
args=(--db "$work/c.db" train sft --data "$work/d.jsonl" --steps "$steps" --batch-tokens "$batch"
      --threads 1 --device cpu --max-seq-len 512)
[ -n "$tok" ] && args+=(--tokenizer "$tok")
export OMP_NUM_THREADS=1
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
n=0
for run in "1" "2" "2 --shard"; do
  read -r ranks shard <<<"$run"
  n=$((n + 1))
  echo "$ranks rank(s) ${shard:-(no --shard)}:"
  "$bin" "${args[@]}" --model "$model" --out "$work/out$n" --nproc-per-node "$ranks" $shard 2>&1 >/dev/null |
    grep -o "rank [0-9]: optimizer state.*"
  # The plan reads config.json: the model's own (an HF folder) or the one the run just wrote (same shapes).
  config=$model; [ -d "$model" ] || config=$work/out$n
  "$bin" "${args[@]}" --model "$config" --out "$work/plan" --nproc-per-node "$ranks" $shard --dry-run |
    grep -E "gradients|optimizer|total"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
