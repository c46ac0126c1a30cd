#!/usr/bin/env bash
# The opt-in anchors suites (npm run test:anchors): makes the venvs if needed, then runs the built tests.
# Extra arguments go to node --test (e.g. --test-name-pattern distilbert).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
TDEPLOY_ANCHORS_PYTHON="$(bash "$here/venv.sh")"
TDEPLOY_PYTRITON_PYTHON="$(bash "$here/venv.sh" "$here/requirements-pytriton.txt")"
# perf-analyzer.test.js makes its own (bench/anchors/requirements-perf.txt) through perf-analyzer.ts
export TDEPLOY_ANCHORS_PYTHON TDEPLOY_PYTRITON_PYTHON
cd "$here/../.."
exec node --test --test-concurrency=1 "$@" dist/bench/anchors/test/
