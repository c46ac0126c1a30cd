#!/usr/bin/env bash
# Opt-in part of the real-model corpus: Hugging Face architectures built from their configs (random
# weights, nothing downloaded) by bench/anchors/models.py and exported by `tdeploy convert` itself,
# into $TDEPLOY_CORPUS_DIR/hf/NAME.onnx (default .corpus/hf/), for bench/real-models.ts:
#   npm run build && TDEPLOY_ANCHORS_PYTHON=bench/anchors/.venv-requirements/bin/python scripts/corpus/export_hf.sh [bert-base ...]
# The Python is bench/anchors/venv.sh's (torch and transformers, several GB: the tests do not need it).
# Each model is exported with the inputs and output names models.py's MODELS gives it, at batch 2 and
# sequence 128, and checked against torch's outputs by convert. Idempotent: a model that is there is kept.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
dir="${TDEPLOY_CORPUS_DIR:-$repo/.corpus}/hf"
python="${TDEPLOY_ANCHORS_PYTHON:?TDEPLOY_ANCHORS_PYTHON: the Python of bench/anchors/venv.sh}"
[ -f "$repo/dist/commands/cli.js" ] || { echo "export_hf.sh: run npm run build first" >&2; exit 2; }
mkdir -p "$dir"
[ "$#" -gt 0 ] || set -- bert-base

for name in "$@"; do
  [ -s "$dir/$name.onnx" ] && continue
  # factory, output names, then one --input spec a line, as MODELS gives them
  mapfile -t spec < <(PYTHONPATH="$repo/bench/anchors" "$python" -c '
import sys
from models import MODELS
spec = MODELS.get(sys.argv[1])
if spec is None:
    sys.exit("export_hf.sh: " + sys.argv[1] + " is not in bench/anchors/models.py, which has " + " ".join(MODELS))
print(spec["factory"], ",".join(spec["outputs"]), *spec["inputs"], sep="\n")' "$name")
  [ "${#spec[@]}" -ge 3 ] || exit 2
  flags=()
  for input in "${spec[@]:2}"; do flags+=(--input "$input"); done
  # convert writes beside the destination and renames into place: an interrupted export leaves nothing
  node "$repo/bin/tdeploy.js" convert "models:${spec[0]}" --python-path "$repo/bench/anchors" --python "$python" \
    -o "$dir/$name.onnx" "${flags[@]}" --output-names "${spec[1]}" --example-dim batch=2 --example-dim seq=128
  echo "exported $name"
done
