#!/usr/bin/env bash
# Makes the Python venv the anchors need (PyPI): onnxruntime's quantizer and transformers optimizer, torch 2.x,
# transformers. Not needed by `npm test` or by tdeploy itself. Prints the venv's python on stdout.
#   bash bench/anchors/venv.sh [requirements file]   (default: requirements.txt beside this script)
# The venv lives in bench/anchors/.venv-<requirements name> (git-ignored) unless TDEPLOY_ANCHORS_VENV names
# a folder; it is reused while the requirements file is unchanged. PYTHON picks the interpreter (python3).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
requirements="$(realpath "${1:-$here/requirements.txt}")"
name="$(basename "$requirements" .txt)"
venv="${TDEPLOY_ANCHORS_VENV:-$here/.venv-$name}"
stamp="$venv/requirements.sha256"
want="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  rm -rf "$venv"
  "${PYTHON:-python3}" -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements" >&2
  echo "$want" > "$stamp"
fi
echo "$venv/bin/python"
