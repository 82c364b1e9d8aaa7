#!/usr/bin/env bash
# onnx_torchvision.sh - runs tests/onnx_torchvision.py with a Python that has torch and
# torchvision (Debian's python3-torch / python3-torchvision: /usr/bin/python3 first, since a
# python3 earlier on PATH may lack them); exit 77 (ctest: skipped) with a message when none does.
set -u
here=$(cd "$(dirname "$0")" && pwd)
for py in /usr/bin/python3 python3; do
    if "$py" -c "import torch, torchvision, numpy" >/dev/null 2>&1; then
        exec "$py" "$here/onnx_torchvision.py" "$@"
    fi
done
echo "onnx_torchvision: SKIP: no python3 with torch and torchvision (apt-get install python3-torch python3-torchvision)"
exit 77
