#!/bin/sh
# Install PyTorch's CPU build with the Python given as $1, then say which build it is and its size.
#
# PyTorch's CPU wheel index comes first, with a short timeout and no retries, so that a machine
# that cannot reach it falls through in seconds; then the pinned version from the default
# index. On a stock PyPI that pin is the CUDA build (about 3 GB with its nvidia packages): the
# line printed at the end says which build was installed.
set -u
PY=$1
VERSION=${TORCH_VERSION:-2.13.0}
CPU_INDEX=https://download.pytorch.org/whl/cpu

if "$PY" -c "import torch" 2>/dev/null; then
    echo "torch is already installed"
elif "$PY" -m pip install -q --timeout 10 --retries 0 --index-url "$CPU_INDEX" "torch==$VERSION"; then
    echo "installed torch $VERSION from PyTorch's CPU index"
else
    echo "PyTorch's CPU index was not reachable; installing torch==$VERSION from the default index"
    "$PY" -m pip install -q "torch==$VERSION" || exit 1
fi
exec "$PY" - <<'PYTHON'
import pathlib

import torch

site = pathlib.Path(torch.__file__).resolve().parent.parent
parts = [site / "torch", *site.glob("nvidia*"), *site.glob("triton*"), *site.glob("cusparselt*")]
size = sum(f.stat().st_size for part in parts for f in part.rglob("*") if f.is_file())
build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU"
print(f"torch {torch.__version__}: the {build} build, {size / 1e6:,.0f} MB installed")
PYTHON
