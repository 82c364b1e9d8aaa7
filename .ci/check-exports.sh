#!/usr/bin/env bash
# check-exports.sh - builds libclseg.so (-DBUILD_SHARED_LIBS=ON) and the clseg command against it,
# and fails if the library's dynamic symbol table defines anything but clseg_* symbols, or lacks
# a function a public header declares.
# usage: check-exports.sh BUILD_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build-shared}
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON -DCLSEG_BUILD_TESTS=OFF >/dev/null
# the command links only the library's exports: it builds only if they are enough
cmake --build "$dir" -j"$(nproc)" --target clseg clseg_cli >/dev/null
lib=$(find "$dir" -maxdepth 1 -name 'libclseg.so.*.*' | head -n 1)
defined=$(nm -D --defined-only "$lib" | awk '{print $3}' | sort -u)
foreign=$(grep -v '^clseg_' <<<"$defined" || true)
declared=$(grep -ho 'CLSEG_API [^(]*\bclseg_[a-z0-9_]*(' include/clseg*.h | grep -o 'clseg_[a-z0-9_]*(' |
    tr -d '(' | sort -u)
missing=$(comm -23 <(echo "$declared") <(echo "$defined"))
status=0
if [ -n "$foreign" ]; then echo "libclseg.so exports non-clseg_ symbols:"; echo "$foreign"; status=1; fi
if [ -n "$missing" ]; then echo "declared CLSEG_API but not exported:"; echo "$missing"; status=1; fi
echo "check-exports: $(wc -l <<<"$defined") clseg_* symbols exported from $lib"
exit $status
