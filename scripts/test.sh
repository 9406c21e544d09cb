#!/usr/bin/env bash
# Run the test suite in the project's virtual environment (created if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VIRTUAL_ENV:-.venv}
if [ ! -x "$VENV/bin/pytest" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -e '.[dev]'
fi
exec "$VENV/bin/python" -m pytest -q "$@"
