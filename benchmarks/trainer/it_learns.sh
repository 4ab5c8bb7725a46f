#!/usr/bin/env bash
# "It learns": SFT teaches SmolLM2-135M-Instruct the answer format, GRPO then raises its accuracy on sums, and both
# checkpoints (and the start) are evaluated by `crucible eval` on sums it never trained on (operands 20-49; SFT saw
# word problems with operands 2-18, GRPO bare sums with operands 2-19). Everything runs on the CPU; the curves are in
# `crucible report` (reward, accuracy, length, KL, entropy, clip, per step).
#
#   benchmarks/trainer/it_learns.sh [WORKDIR] [GRPO_STEPS]
#   env: CRUCIBLE (default build/bin/crucible), GGUF (default the demo model), OMP_NUM_THREADS
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=${1:-/tmp/crucible-it-learns}
steps=${2:-15}
crucible=${CRUCIBLE:-$root/build/bin/crucible}
gguf=${GGUF:-$HOME/.cache/crucible/models/SmolLM2-135M-Instruct.Q4_1.gguf}
mkdir -p "$work"
cd "$work"
rm -rf sft-out grpo-out heldout learns.db
db=(--db "$work/learns.db")

python3 "$here/arith_prompts.py" sft.jsonl --kind word --seed 1 --sft --n 200
python3 "$here/arith_prompts.py" prompts.jsonl --kind sum --seed 0 --n 200
# Held-out sums in GSM8K's file format, so `crucible eval --suite gsm8k --data-dir` grades them as it grades GSM8K.
mkdir -p heldout/gsm8k
python3 - <<'PY'
import json, random
rng = random.Random(2)
with open("heldout/gsm8k/test.jsonl", "w") as f:
    for _ in range(100):
        a, b = rng.randint(20, 49), rng.randint(20, 49)
        f.write(json.dumps({"question": f"What is {a} + {b}?", "answer": f"{a} + {b} = {a + b}\n#### {a + b}"}) + "\n")
PY

"$crucible" "${db[@]}" train sft --model "$gguf" --data sft.jsonl --out sft-out --steps 8 --batch-tokens 2048 \
  --max-seq-len 256 --packing --lr 3e-5 --schedule constant --name it-learns-sft
"$crucible" "${db[@]}" train grpo --model sft-out --prompts prompts.jsonl --assistant-prefix "" --format-weight 0 \
  --beta 0 --steps "$steps" --prompts-per-step 4 --group-size 8 --max-tokens 24 --lr 1e-5 --schedule constant \
  --out grpo-out --name it-learns-grpo
for m in start:"$gguf" sft:sft-out grpo:grpo-out; do
  "$crucible" "${db[@]}" eval --model "${m#*:}" --suite gsm8k --data-dir heldout --name "it-learns-eval-${m%%:*}" \
    --assistant-prefix "" --max-tokens 24 --samples 4 --seed 0
done
"$crucible" "${db[@]}" report it-learns-grpo -o report-grpo.md
"$crucible" "${db[@]}" runs list
