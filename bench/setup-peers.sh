#!/bin/sh
# Install what the detection benchmark's peers need (bench/detect_bench.py):
# PyPI eql + pySigma's SQLite backend into the project venv, Debian sec and GNU time.
# Run from the repository root, as root (apt); idempotent.
set -eu
cd "$(dirname "$0")/.."
. .venv/bin/activate
pip install -r bench/requirements-peers.txt
python -c "import sigma, importlib.metadata as m; print('pysigma', m.version('pysigma'))"
if ! command -v sec >/dev/null 2>&1 || [ ! -x /usr/bin/time ]; then
    apt-get update
    apt-get install -y sec time
fi
sec --version | head -1
