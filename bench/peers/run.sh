#!/usr/bin/env bash
# run.sh - the seed network in clseg on every OpenCL device and, in the same run, in the runtimes
# a user would otherwise pick (OpenCV DNN, ONNX Runtime, PyTorch on the CPU), all timed the same
# way (warm-up, then median / min / max of N forward passes); prints one table and writes the
# JSON, markdown and chart (bench/report) into the output directory. docs/bench.md explains it.
#
# usage: bench/peers/run.sh [--size WxH] [--iters N] [--warmup N] [--device SEL|all]
#                           [--max-time SEC] [--threads T] [--spec FILE] [--clseg BINARY]
#                           [--out DIR] [--skip-clseg] [--skip-peers]
# Environment: ORT_PYTHON = a python with onnxruntime (default: Debian's python3 if it has it,
# else a venv under /tmp made with `pip install onnxruntime`); RUSTICL_ENABLE (default llvmpipe).
set -euo pipefail
cmdline="bench/peers/run.sh $*"
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
size=480x352 iters=10 warmup=2 device=all max_time=120 threads=$(nproc)
spec=$root/models/seednet.cfg clseg=${CLSEG:-$root/build/clseg} out=peers-out
skip_clseg=0 skip_peers=0
while [ $# -gt 0 ]; do
    case $1 in
    --size) size=$2; shift 2 ;;
    --iters) iters=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --device) device=$2; shift 2 ;;
    --max-time) max_time=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --spec) spec=$2; shift 2 ;;
    --clseg) clseg=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --skip-clseg) skip_clseg=1; shift ;;
    --skip-peers) skip_peers=1; shift ;;
    -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
py=/usr/bin/python3 # Debian's: python3-opencv, python3-torch, python3-matplotlib
[ -x "$py" ] || py=python3
peers="$py $here/peers.py"
mkdir -p "$out"
export RUSTICL_ENABLE=${RUSTICL_ENABLE-llvmpipe}
results=()
common=(--spec "$spec" --size "$size" --classes 12)
log() { echo "run.sh: $*" >&2; }

# The peers first, so that the slowest clseg devices come last and OpenCV runs right next to
# clseg's first device.
peer_results=()
if [ $skip_peers -eq 0 ]; then
    ort_py=${ORT_PYTHON:-}
    if [ -z "$ort_py" ]; then
        if "$py" -c 'import onnxruntime' 2>/dev/null; then
            ort_py=$py
        else
            venv=/tmp/clseg-peers-venv
            if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import onnxruntime' 2>/dev/null; then
                log "installing onnxruntime into $venv (pip) ..."
                { "$py" -m venv "$venv" && "$venv/bin/pip" install -q onnxruntime; } >&2 || true
            fi
            "$venv/bin/python" -c 'import onnxruntime' 2>/dev/null && ort_py=$venv/bin/python
        fi
    fi
    have_torch=0
    "$py" -c 'import torch' 2>/dev/null && have_torch=1
    if [ $have_torch -eq 1 ]; then
        $peers export "${common[@]}" --onnx "$out/net.onnx"
    else
        log "PyTorch missing (Debian: python3-torch): no ONNX export, so no OpenCV / ONNX Runtime / PyTorch"
    fi
    outputs=()
    run_peer() { # NAME PYTHON EXTRA...
        local name=$1 python=$2
        shift 2
        log "$name ..."
        if $python "$here/peers.py" time --runtime "$name" "${common[@]}" --iters "$iters" \
            --warmup "$warmup" --threads "$threads" --json "$out/$name.json" \
            --save-output "$out/$name.npy" "$@"; then
            peer_results+=("$out/$name.json")
            outputs+=("$out/$name.npy")
        else
            log "$name failed"
        fi
    }
    if [ -s "$out/net.onnx" ]; then
        if "$py" -c 'import cv2' 2>/dev/null; then
            run_peer opencv "$py" --onnx "$out/net.onnx"
        else
            log "OpenCV missing (Debian: python3-opencv): skipped"
        fi
        if [ -n "$ort_py" ]; then
            run_peer onnxruntime "$ort_py" --onnx "$out/net.onnx"
        else
            log "ONNX Runtime did not install: skipped"
        fi
        run_peer torch "$py"
        # The peers share the exported weights: their outputs must agree.
        if [ ${#outputs[@]} -ge 2 ]; then $peers compare "${outputs[@]}" || log "outputs differ"; fi
    fi
fi

if [ $skip_clseg -eq 0 ]; then
    [ -x "$clseg" ] || { log "no clseg binary at $clseg (build it, or pass --clseg)"; exit 1; }
    "$clseg" init --spec "$spec" --classes 12 --out "$out/net.clsm" >/dev/null
    log "clseg on $device ..."
    if "$clseg" bench --model "$out/net.clsm" --size "$size" --device "$device" --iters "$iters" \
        --warmup "$warmup" --max-time "$max_time" --json "$out/clseg.json" >"$out/clseg.txt"; then
        :
    else
        log "clseg bench failed on some device (see $out/clseg.txt)"
    fi
    if [ -s "$out/clseg.json" ]; then results+=("$out/clseg.json"); fi
fi
results+=(${peer_results[@]+"${peer_results[@]}"})

[ ${#results[@]} -gt 0 ] || { log "nothing ran"; exit 1; }
"$py" - "$out/all.json" "$cmdline" "${results[@]}" <<'PY'
import json, socket, sys, time
merged = []
for p in sys.argv[3:]:
    d = json.load(open(p))
    merged += d if isinstance(d, list) else d.get("results", [d])
for r in merged:
    r.setdefault("host", socket.gethostname())
    r.setdefault("date", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
json.dump({"schema": "clseg-bench/1", "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "host": socket.gethostname(), "command": sys.argv[2], "results": merged},
          open(sys.argv[1], "w"), indent=2)
PY
cat "$out/clseg.txt" 2>/dev/null || true
"$py" "$here/../report" -o "$out/report" "$out/all.json"
