#!/usr/bin/env bash
# Set up Kizuki in ./.venv (once) and run its main job on the embedded defaults: the
# built-in rule and scenario library over the bundled samples and a generated demo week
# (one S7 attack among decoys), printing the alerts and their evidence as a timeline.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/kizuki ]; then
  python3 -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e '.[dev]'
fi
[ -f demo-week/ground_truth.json ] || .venv/bin/kizuki demo generate demo-week
exec .venv/bin/kizuki hunt samples/ demo-week/ "$@"
