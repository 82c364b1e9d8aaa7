#!/usr/bin/env bash
# cli_crash_safety.sh - kill -9 in the middle of writing a model or a PNG leaves the previous file
# (byte for byte) or the complete new one, never a torn file: clseg_write_file_atomic writes a
# temporary file, fsyncs it and renames it over the target (docs/reliability.md).
# usage: cli_crash_safety.sh CLSEG_BINARY SOURCE_DIR
. "$(dirname "$0")/harness.sh" "$@"

# Every file the library writes goes through clseg_write_file_atomic (the training loss log,
# appended line by line, is the one exception).
writers=$(grep -rnE 'fopen\([^)]*"[wa]|O_CREAT|creat\(' "$src/host" --include='*.c' |
    grep -v 'host/core/common.c' | grep -v 'loss_log')
if [ -z "$writers" ]; then ok; else bad "files written without clseg_write_file_atomic: $writers"; fi

# kill_during OUT WRITER... : runs WRITER in the background and kills it with SIGKILL, at a random
# moment when $mode is "random", or as soon as OUT's temporary file exists ("window"). Sets
# $hit when the kill landed between the temporary file's creation and the rename.
kill_during() {
    local out=$1
    shift
    "$@" >/dev/null 2>&1 &
    local pid=$!
    if [ "$mode" = window ]; then
        while ! compgen -G "$out.tmp.*" >/dev/null && kill -0 "$pid" 2>/dev/null; do :; done
    else
        sleep "0.$(printf '%03d' $((RANDOM % random_ms)))"
    fi
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    hit=0
    if compgen -G "$out.tmp.*" >/dev/null; then
        hit=1
        rm -f "$out".tmp.* # what a SIGKILL cannot clean up (docs/reliability.md)
    fi
}

# check_survives NAME OUT OLD NEW ROUNDS WRITER... : OUT starts as OLD; WRITER would replace it
# with NEW. After each kill OUT must be identical to OLD or to NEW.
check_survives() {
    local name=$1 out=$2 old=$3 new=$4 rounds=$5
    shift 5
    local i torn=0 replaced=0 windows=0
    for ((i = 0; i < rounds; i++)); do
        cp "$old" "$out"
        if ((i % 2)); then mode=window; else mode=random; fi
        kill_during "$out" "$@"
        windows=$((windows + hit))
        if cmp -s "$out" "$old"; then :
        elif cmp -s "$out" "$new"; then replaced=$((replaced + 1))
        else torn=$((torn + 1)); fi
    done
    if [ $torn -eq 0 ]; then ok; else bad "$name: $torn of $rounds kills left a torn file"; fi
    # The poll must have caught the writer inside its write at least once, or nothing was shown.
    if [ $windows -gt 0 ]; then ok; else bad "$name: no kill landed inside the write"; fi
    echo "ok   $name: $rounds kills ($windows inside the write, $replaced after the rename), no torn file"
}

# --- model files (clseg init, a 21 MB seednet model) ---
spec=$src/models/seednet.cfg
"$clseg" init --spec "$spec" --classes 12 --seed 1 --out "$tmp/old.clsm" >/dev/null || bad "init old"
"$clseg" init --spec "$spec" --classes 12 --seed 2 --out "$tmp/new.clsm" >/dev/null || bad "init new"
start=$(date +%s%N)
"$clseg" init --spec "$spec" --classes 12 --seed 2 --out "$tmp/timing.clsm" >/dev/null
random_ms=$(( ($(date +%s%N) - start) / 1000000 ))
random_ms=$(( random_ms < 10 ? 10 : (random_ms > 999 ? 999 : random_ms) ))
check_survives "model" "$tmp/model.clsm" "$tmp/old.clsm" "$tmp/new.clsm" 16 \
    "$clseg" init --spec "$spec" --classes 12 --seed 2 --out "$tmp/model.clsm"

# Both versions load and run (the device is the one the suite runs on).
python3 "$src/tests/fixtures/cli/make_png.py" "$tmp/small.png" 24 16
for m in old new; do
    if "$clseg" segment --model "$tmp/$m.clsm" -o "$tmp/$m-seg.png" "$tmp/small.png" >/dev/null 2>&1
    then ok; else bad "the $m model does not load"; fi
done

# --- PNG output (clseg segment --overlay of noise, so that the PNG is large: ~0.9 MB) ---
"$clseg" init --spec "$src/tests/fixtures/cli/tiny.cfg" --classes 12 --out "$tmp/tiny.clsm" >/dev/null
python3 - "$tmp/big.png" <<'EOF'
import random, struct, sys, zlib
w, h = 640, 480
noise = random.Random(1).randbytes(3 * w * h)
rows = b"".join(b"\x00" + noise[3 * w * y:3 * w * (y + 1)] for y in range(h))
def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
                              + chunk(b"IDAT", zlib.compress(rows, 1)) + chunk(b"IEND", b""))
EOF
cp "$tmp/small.png" "$tmp/old.png"
if "$clseg" segment --model "$tmp/tiny.clsm" --overlay "$tmp/new.png" -o "$tmp/seg.png" "$tmp/big.png" >/dev/null; then
    ok
    start=$(date +%s%N)
    "$clseg" segment --model "$tmp/tiny.clsm" --overlay "$tmp/timing.png" -o "$tmp/seg.png" "$tmp/big.png" >/dev/null
    random_ms=$(( ($(date +%s%N) - start) / 1000000 ))
    random_ms=$(( random_ms < 10 ? 10 : (random_ms > 999 ? 999 : random_ms) ))
    check_survives "PNG" "$tmp/out.png" "$tmp/old.png" "$tmp/new.png" 6 \
        "$clseg" segment --model "$tmp/tiny.clsm" --overlay "$tmp/out.png" -o "$tmp/seg.png" "$tmp/big.png"
else
    bad "segment of the 640x480 image"
fi

finish
