#!/usr/bin/env bash
# test.sh - README's second command: install, format check, -Werror build, the ctest suite on PoCL
# and on Mesa rusticl (llvmpipe), the cross-device end-to-end check, and an ASan+UBSan build
# running the host-side (reference and file-parsing) tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/deps.sh
jobs=$(nproc)

echo "== format check (clang-format)"
git ls-files -- '*.c' '*.h' '*.cl' | xargs clang-format --dry-run -Werror

echo "== build (warnings are errors)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCLSEG_WERROR=ON >/dev/null
cmake --build build -j"$jobs"

echo "== devices"
RUSTICL_ENABLE=llvmpipe clinfo -l || true

echo "== test suite on PoCL"
CLSEG_DEVICE=pocl ctest --test-dir build --output-on-failure

echo "== test suite on Mesa rusticl (llvmpipe); its end-to-end run is the next step's"
RUSTICL_ENABLE=llvmpipe CLSEG_DEVICE=rusticl ctest --test-dir build --output-on-failure \
    -E '^test_e2e_seednet$'

echo "== end to end on every device at once: each vs the C reference, PoCL vs rusticl labels"
RUSTICL_ENABLE=llvmpipe ctest --test-dir build --output-on-failure -R '^test_e2e_seednet$'

echo "== AddressSanitizer + UndefinedBehaviorSanitizer: host-side tests"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCLSEG_SANITIZE=ON -DCLSEG_WERROR=ON >/dev/null
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1 ctest --test-dir build-asan --output-on-failure -L host
