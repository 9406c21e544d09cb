#!/usr/bin/env bash
# Run Kizuki's own rules and scenarios over the labelled public data in ../shared/data and
# write the figures of docs/detection.md (issue 4): one report for the labelled EVTX sets
# (the 80% target), one for OTRF Security-Datasets, both with the benign background logs.
set -euo pipefail
cd "$(dirname "$0")/.."
D=${SHARED_DATA:-../shared/data}
[ -d "$D" ] || { echo "no labelled data at $D (set SHARED_DATA)"; exit 2; }
K=${KIZUKI:-.venv/bin/kizuki}
mkdir -p docs/detection
"$K" eval "$D/evtx-attack-samples" "$D/evtx-to-mitre-attack" "$D/hayabusa-sample-evtx" \
  "$D/sigma/regression_data" "$D/evtx-rs-samples" \
  --labels "$D/MANIFEST.csv" --explanations docs/detection-explanations.yml \
  --report docs/detection/evtx.md -j 2 "$@"
"$K" eval "$D/security-datasets" "$D/evtx-rs-samples" \
  --labels "$D/MANIFEST.csv" --labels "$D/security-datasets/datasets/atomic/_metadata" \
  --explanations docs/detection-explanations.yml \
  --report docs/detection/security-datasets.md \
  -j 2 "$@"
