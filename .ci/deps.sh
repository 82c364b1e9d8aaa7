#!/usr/bin/env bash
# deps.sh - installs the Debian packages clseg builds, tests and runs with (needs root or sudo).
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
pkgs=(build-essential cmake pkg-config git python3 clang-format
      ocl-icd-opencl-dev opencl-headers pocl-opencl-icd mesa-opencl-icd clinfo
      libclblast-dev libpng-dev clang libclang-rt-14-dev
      libprotobuf-c-dev protobuf-c-compiler libonnx-testdata
      python3-torch python3-torchvision python3-venv)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    echo "== installing: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
