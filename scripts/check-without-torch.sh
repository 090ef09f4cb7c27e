#!/bin/sh
# archc as `pip install archc` gives it, without torch: a fresh venv (Python: $1, default
# python3), then check, summary --json and diagram over every spec in architectures/.
# Fails if torch is importable there or if any verb fails.
set -eu
PY=${1:-python3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
"$PY" -m venv "$WORK/venv"
"$WORK/venv/bin/python" -m pip install -q "$ROOT"
if "$WORK/venv/bin/python" -c "import torch" 2>/dev/null; then
    echo "error: torch is importable in the venv of a plain 'pip install archc'" >&2
    exit 1
fi
SIZE=$(du -sm "$WORK/venv" | cut -f1)
echo "pip install archc: ${SIZE} MB venv, torch not installed"
for spec in "$ROOT"/architectures/*.yaml; do
    name=$(basename "$spec" .yaml)
    "$WORK/venv/bin/archc" check "$spec"
    "$WORK/venv/bin/archc" summary --json "$spec" >"$WORK/$name.json"
    "$WORK/venv/bin/python" -c "import json, sys; json.load(open(sys.argv[1]))" "$WORK/$name.json"
    "$WORK/venv/bin/archc" diagram "$spec" -o "$WORK/$name.svg" >/dev/null
done
set +e
"$WORK/venv/bin/archc" build "$ROOT/architectures/lenet5.yaml" -o "$WORK/build" 2>"$WORK/build.err"
code=$?
set -e
if [ "$code" != 2 ] || ! grep -q "archc\[torch\]" "$WORK/build.err"; then
    echo "error: without torch, 'archc build' should exit 2 naming the torch extra; it exited $code:" >&2
    cat "$WORK/build.err" >&2
    exit 1
fi
echo "without torch: check, summary --json and diagram passed for every zoo spec; build exits 2 with: $(cat "$WORK/build.err")"
