#!/usr/bin/env bash
# Set up Kizuki in ./.venv (once) and run its main job on the bundled sample data.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/kizuki ]; then
  python3 -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e '.[dev]'
fi
exec .venv/bin/kizuki hunt samples/ "$@"
