#!/usr/bin/env bash
# run.sh - runs every libFuzzer target of a CLSEG_FUZZ build from its seed corpus and dictionary;
# exits non-zero on the first finding (crash, leak, timeout, out-of-memory).
# usage: tests/fuzz/run.sh BUILD_DIR SECONDS [TARGET...] [-- LIBFUZZER_FLAGS...]
#   tests/fuzz/run.sh build-fuzz 30                        CI smoke: 30 s per target
#   tests/fuzz/run.sh build-fuzz 0 png -- -runs=1000000    a long run of one target
# New corpus entries and findings go to $FUZZ_WORK (default: a temporary directory, removed
# unless something was found); the seed corpus in tests/fuzz/corpus is only read.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$1
seconds=$2
shift 2
targets=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do targets+=("$1"); shift; done
[ $# -gt 0 ] && shift
if [ ${#targets[@]} -eq 0 ]; then
    for t in "$build"/tests/fuzz/fuzz_*; do [ -x "$t" ] && targets+=("${t##*/fuzz_}"); done
fi
work=${FUZZ_WORK:-$(mktemp -d)}
# fuzz_exec runs on an OpenCL device: load only its driver's ICD (Mesa's clover, which has no
# device here, leaves allocations LSan cannot attribute) and suppress the drivers' own
# process-lifetime caches, never clseg's leaks (docs/reliability.md).
device=${CLSEG_DEVICE:-pocl}
if [ -z "${OCL_ICD_VENDORS:-}" ] && [ -f "/etc/OpenCL/vendors/$device.icd" ]; then
    export OCL_ICD_VENDORS=/etc/OpenCL/vendors/$device.icd
fi
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$here/../../.ci/lsan.supp}
status=0
for t in "${targets[@]}"; do
    mkdir -p "$work/$t"
    # fuzz_exec compiles kernels for new shapes (seconds each on PoCL under ASan)
    timeout=10
    [ "$t" = exec ] && timeout=60
    flags=(-rss_limit_mb=2048 "-timeout=$timeout" -print_final_stats=1 "-artifact_prefix=$work/$t/")
    [ "$seconds" -gt 0 ] && flags+=("-max_total_time=$seconds")
    [ -f "$here/$t.dict" ] && flags+=("-dict=$here/$t.dict")
    echo "== fuzz_$t ${flags[*]} $*"
    if "$build/tests/fuzz/fuzz_$t" "${flags[@]}" "$@" "$work/$t" "$here/corpus/$t" \
        >"$work/$t.log" 2>&1; then
        grep -E '^stat::number_of_executed_units|^Done' "$work/$t.log" || true
    else
        status=1
        tail -n 60 "$work/$t.log"
        echo "fuzz_$t: FINDING (inputs and log in $work)" >&2
    fi
done
[ -n "${FUZZ_WORK:-}" ] || [ $status -ne 0 ] || rm -rf "$work"
exit $status
