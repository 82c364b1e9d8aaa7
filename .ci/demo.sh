#!/usr/bin/env bash
# demo.sh - README's first command: install, build, and segment the bundled sample frame with the
# bundled model on the default device. Writes out/sample_seg.png and out/sample_overlay.png.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCLSEG_BUILD_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)"
mkdir -p out
model=models/seednet-camvid.clsm
if [ ! -f "$model" ]; then
    # No trained model in this checkout yet: a deterministic He-initialised one shows the pipeline.
    model=out/seednet-init.clsm
    ./build/clseg init --spec models/seednet.cfg --classes 12 --seed 1 --out "$model"
fi
./build/clseg devices
./build/clseg segment --timing --model "$model" -o out/sample_seg.png \
    --overlay out/sample_overlay.png models/samples/camvid_0016E5_08085.png
echo "wrote out/sample_seg.png and out/sample_overlay.png"
