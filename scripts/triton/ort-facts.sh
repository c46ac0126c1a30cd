#!/usr/bin/env bash
# Measures what each onnxruntime version loads (scripts/triton/ort_facts.py: max IR version, max opset
# per domain, com.microsoft ops) in a venv of its own, writing data/triton/onnxruntime/<version>.json,
# which src/triton/releases.ts reads. Needs PyPI and a Python that the version has wheels for:
# onnxruntime publishes cp311 wheels from 1.15 on, cp39 ones up to 1.16 (PYTHON=python3.9).
# Not part of `npm test`; rerun it when a tritonserver release brings a new onnxruntime.
#   bash scripts/triton/ort-facts.sh 1.28.0 1.27.0 ...
# Wheels of 1.14 and older have no schema API: give them the op names to probe, one model per op:
#   jq -r '.contribOps[]' data/triton/onnxruntime/1.*.json | sort -u > ops.txt
#   CONTRIB_CANDIDATES=ops.txt PYTHON=python3.9 bash scripts/triton/ort-facts.sh 1.14.1 1.10.0
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/../../data/triton/onnxruntime"
mkdir -p "$out"
for version in "$@"; do
  venv="$(mktemp -d)/venv"
  "${PYTHON:-python3}" -m venv "$venv"
  # onnxruntime before 1.19 was built against NumPy 1.x
  numpy=$(printf '%s\n1.19.0\n' "$version" | sort -V | head -1 | grep -qx "$version" && [ "$version" != 1.19.0 ] && echo 'numpy<2' || echo numpy)
  "$venv/bin/pip" install --quiet --disable-pip-version-check "onnxruntime==$version" "$numpy"
  "$venv/bin/python" "$here/ort_facts.py" > "$out/$version.json"
  rm -rf "$(dirname "$venv")"
  echo "onnxruntime $version measured"
done
