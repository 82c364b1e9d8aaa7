#!/usr/bin/env bash
# perf-bar.sh - issue 12's performance bar in one run: tune the shipped model, then clseg with
# that database and with none, and ONNX Runtime (CPU, all cores) on the same network exported
# from PyTorch with BatchNorm, alternating rounds; prints the ratios and writes OUT/bar.json.
#
# usage: bench/perf-bar.sh [--device SEL] [--size WxH] [--budget SEC] [--rounds N] [--iters N]
#                          [--model FILE] [--clseg BINARY] [--out DIR]
# Bars (medians over the rounds): tuned / ORT <= 0.85, untuned / tuned <= 1.2, cold start-up
# (empty caches) <= 15,000 ms, peak_gflops measured. Exit status 0 whether or not they are met
# (a benchmark, not a test); 1 when something could not be measured. Environment: ORT_PYTHON as
# for bench/peers/run.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
device=pocl size=480x352 budget=300 rounds=3 iters=10
model=$root/models/seednet-camvid.clsm clseg=${CLSEG:-$root/build/clseg} out=perf-bar-out
while [ $# -gt 0 ]; do
    case $1 in
    --device) device=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --budget) budget=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --iters) iters=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --clseg) clseg=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h | --help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "perf-bar.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
mkdir -p "$out"
out=$(cd "$out" && pwd)
log() { echo "perf-bar: $*" >&2; }
py=/usr/bin/python3
[ -x "$py" ] || py=python3

ort_py=${ORT_PYTHON:-}
if [ -z "$ort_py" ]; then
    if "$py" -c 'import onnxruntime' 2>/dev/null; then
        ort_py=$py
    else
        venv=/tmp/clseg-peers-venv
        if ! "$venv/bin/python" -c 'import onnxruntime' 2>/dev/null; then
            log "installing onnxruntime into $venv (pip) ..."
            "$py" -m venv "$venv" >&2 && "$venv/bin/pip" install -q onnxruntime numpy >&2
        fi
        ort_py=$venv/bin/python
    fi
fi
"$ort_py" -c 'import onnxruntime' || { log "no onnxruntime"; exit 1; }

log "$(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; tuning $model at $size for ${budget} s"
"$clseg" tune --model "$model" --size "$size" --budget "$budget" --device "$device" \
    --db "$out/tuned.db" > "$out/tune.log" 2>&1
: > "$out/empty.db"
"$py" "$here/peers/peers.py" export --spec "$root/models/seednet.cfg" --size "$size" \
    --batchnorm --onnx "$out/seednet-bn.onnx" 2> "$out/export.log"

for r in $(seq 1 "$rounds"); do
    log "round $r of $rounds"
    "$clseg" bench --model "$model" --size "$size" --device "$device" --iters "$iters" \
        --db "$out/tuned.db" --json "$out/tuned-$r.json" > /dev/null 2>&1
    "$clseg" bench --model "$model" --size "$size" --device "$device" --iters "$iters" \
        --db "$out/empty.db" --json "$out/untuned-$r.json" > /dev/null 2>&1
    "$ort_py" "$here/peers/peers.py" time --runtime onnxruntime --spec "$root/models/seednet.cfg" \
        --size "$size" --batchnorm --onnx "$out/seednet-bn.onnx" --iters "$iters" \
        --json "$out/ort-$r.json" 2> /dev/null
done

"$py" - "$out" "$rounds" <<'EOF'
import json, statistics, subprocess, sys
out, rounds = sys.argv[1], int(sys.argv[2])
load = lambda n, r: json.load(open(f"{out}/{n}-{r}.json"))
med = lambda xs: statistics.median(xs)
tuned = [load("tuned", r) for r in range(1, rounds + 1)]
untuned = [load("untuned", r) for r in range(1, rounds + 1)]
ort = [load("ort", r) for r in range(1, rounds + 1)]
t = med([j["forward_ms"]["median"] for j in tuned])
u = med([j["forward_ms"]["median"] for j in untuned])
o = med([j["forward_ms"]["median"] for j in ort])
cold = med([j["startup_ms"]["cold"] for j in tuned + untuned])
peak = tuned[0].get("peak_gflops")
cpu = subprocess.run(["sh", "-c", "lscpu | sed -n 's/^Model name: *//p'"], capture_output=True,
                     text=True).stdout.strip()
res = {"cpu": cpu, "device": tuned[0]["device"], "tuned_ms": t, "untuned_ms": u, "ort_ms": o,
       "tuned_over_ort": t / o, "untuned_over_tuned": u / t, "cold_startup_ms": cold,
       "peak_gflops": peak,
       "bars": {"tuned_over_ort<=0.85": t / o <= 0.85, "untuned_over_tuned<=1.2": u / t <= 1.2,
                "cold<=15000": cold <= 15000, "peak_gflops measured": bool(peak)}}
json.dump(res, open(f"{out}/bar.json", "w"), indent=1)
print(f"{cpu}; {res['device']}")
print(f"clseg tuned {t:.1f} ms, untuned {u:.1f} ms, ONNX Runtime {o:.1f} ms (medians of {rounds})")
for k, v in res["bars"].items():
    print(f"  {'met ' if v else 'MISSED'} {k}: " + {
        "tuned_over_ort<=0.85": f"{t / o:.3f}", "untuned_over_tuned<=1.2": f"{u / t:.3f}",
        "cold<=15000": f"{cold:.0f} ms", "peak_gflops measured": f"{peak}"}[k])
EOF
