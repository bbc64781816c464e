#!/usr/bin/env bash
# Benchmark-only environment for the wearable peers (actipy, acti-motus, mobgap). Never part of
# spinestab's dependencies: actipy is non-commercial-licensed and pulls a Java runtime step.
# Usage: bash benchmarks/wearable_setup.sh   (idempotent; safe to re-run)
set -u
cd "$(dirname "$0")"
VENV=.venv-peers
PY=${PYTHON:-python3}
if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV" || { echo "could not create $VENV"; exit 1; }
fi
"$VENV/bin/pip" install --quiet actipy acti-motus mobgap psutil pyarrow \
    || echo "warning: some peer packages could not be installed; the benchmark reports which"
"$VENV/bin/python" -c "import actipy" 2>/dev/null && echo "actipy ok" || echo "actipy missing"
"$VENV/bin/python" -c "import actimotus" 2>/dev/null && echo "acti-motus ok" || echo "acti-motus missing"
# mobgap (Apache-2.0): its gait-sequence detectors are the peers of wearable_gait_bench.py
"$VENV/bin/python" -c "import mobgap" 2>/dev/null && echo "mobgap ok" || echo "mobgap missing"
