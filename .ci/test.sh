#!/usr/bin/env bash
# test.sh - README's second command: install, the demo (README's first command), layering and
# export checks, format check, -Werror build, the ctest suite on PoCL
# and on Mesa rusticl (llvmpipe), the cross-device end-to-end check, an ASan+UBSan build
# running the host-side (reference and file-parsing) tests, the fault-injection sweeps under
# ASan/LSan on both devices, and a 30 s smoke run of every fuzz target (docs/reliability.md).
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/deps.sh
jobs=$(nproc)

# README's two commands run in order on one clone: the demo first (it configures build/ without
# tests), then this script, which must still build and run every test in build/.
if [ "${CLSEG_SKIP_DEMO:-0}" != 1 ]; then
    echo "== README's first command (.ci/demo.sh), before the tests"
    bash .ci/demo.sh
fi

echo "== format check (clang-format)"
git ls-files -- '*.c' '*.h' '*.cl' | xargs clang-format --dry-run -Werror

echo "== layering: includes follow docs/architecture.md's order; the CLI sees only public headers"
python3 .ci/check-layers.py

echo "== shared library: libclseg.so exports the public API and nothing else"
bash .ci/check-exports.sh build-shared

echo "== build (warnings are errors)"
# CLSEG_BUILD_TESTS=ON explicitly: .ci/demo.sh (README's first command) configures the same build
# directory without tests, and a cached OFF would otherwise leave ctest nothing to run.
# CLSEG_ONNX=ON: CI always builds (and so tests) the ONNX importer; a missing protobuf-c fails.
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCLSEG_WERROR=ON -DCLSEG_BUILD_TESTS=ON -DCLSEG_ONNX=ON >/dev/null
cmake --build build -j"$jobs"

echo "== devices"
RUSTICL_ENABLE=llvmpipe clinfo -l || true

echo "== test suite on PoCL"
CLSEG_DEVICE=pocl ctest --no-tests=error --test-dir build --output-on-failure

echo "== test suite on Mesa rusticl (llvmpipe); its end-to-end run is the next step's"
RUSTICL_ENABLE=llvmpipe CLSEG_DEVICE=rusticl ctest --no-tests=error --test-dir build --output-on-failure \
    -E '^test_e2e_seednet$'

echo "== end to end on every device at once: each vs the C reference, PoCL vs rusticl labels"
RUSTICL_ENABLE=llvmpipe ctest --no-tests=error --test-dir build --output-on-failure -R '^test_e2e_seednet$'

echo "== AddressSanitizer + UndefinedBehaviorSanitizer: host-side tests"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCLSEG_SANITIZE=ON -DCLSEG_WERROR=ON \
    -DCLSEG_BUILD_TESTS=ON >/dev/null
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1 ctest --no-tests=error --test-dir build-asan --output-on-failure -L host

echo "== ThreadSanitizer: threads sharing a net, and a context each (PoCL)"
# PoCL only: Mesa rusticl's Rust worker threads synchronise in ways TSan cannot see (memcpy
# between its threads and ours after clFinish is reported as a race; docs/reliability.md).
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DCLSEG_TSAN=ON -DCLSEG_WERROR=ON \
    -DCLSEG_BUILD_TESTS=ON >/dev/null
cmake --build build-tsan -j"$jobs" --target test_net_shapes
CLSEG_DEVICE=pocl ctest --no-tests=error --test-dir build-tsan --output-on-failure -R '^test_net_shapes$'

echo "== fault injection (ASan/LSan): every OpenCL call, then every allocation, of a forward pass fails in turn;"
echo "   every public call misused (test_api_misuse); fuzz_exec's corpus replayed"
# Only the ICD under test is loaded: Mesa's clover, which has no device here, unloads its gallium
# driver after probing and LSan cannot name the module of what it keeps (docs/reliability.md).
cmake -S . -B build-fault -DCMAKE_BUILD_TYPE=Debug -DCLSEG_SANITIZE=ON -DCLSEG_FAULT_INJECTION=ON \
    -DCLSEG_WERROR=ON -DCLSEG_BUILD_TESTS=ON >/dev/null
cmake --build build-fault -j"$jobs"
for dev in pocl rusticl; do
    RUSTICL_ENABLE=llvmpipe CLSEG_DEVICE=$dev OCL_ICD_VENDORS=/etc/OpenCL/vendors/$dev.icd \
        ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$PWD/.ci/lsan.supp \
        ctest --no-tests=error --test-dir build-fault --output-on-failure \
        -R '^(test_fault_|test_api_misuse$)'
done

echo "== fuzz smoke: every libFuzzer target for 30 s from its seed corpus, zero findings"
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCLSEG_FUZZ=ON \
    -DCLSEG_BUILD_TESTS=OFF >/dev/null
cmake --build build-fuzz -j"$jobs"
bash tests/fuzz/run.sh build-fuzz 30
