#!/usr/bin/env bash
# cli_segment.sh - the clseg command end to end: help texts, init, segment outputs, and a clear
# one-line error with a non-zero exit (and no output file) for every malformed input.
# usage: cli_segment.sh CLSEG_BINARY SOURCE_DIR
. "$(dirname "$0")/harness.sh" "$@"
fix=$src/tests/fixtures/cli

# expect_fail NAME OUTFILE CMD... : non-zero exit, not a signal, one stderr line, no OUTFILE
expect_fail() {
    local name=$1 out=$2
    shift 2
    "$@" >"$tmp/stdout" 2>"$tmp/stderr"
    local rc=$?
    local lines
    lines=$(grep -c . "$tmp/stderr")
    if [ $rc -eq 0 ]; then
        bad "$name: exit 0"
    elif [ $rc -ge 128 ]; then
        bad "$name: killed by signal $((rc - 128))"
    elif [ "$lines" -ne 1 ]; then
        bad "$name: expected one line on stderr, got $lines:"; cat "$tmp/stderr" >&2
    elif [ -n "$out" ] && ls "$out"* >/dev/null 2>&1; then
        bad "$name: left an output file"
    else
        ok
        echo "ok   $name: $(cat "$tmp/stderr")"
    fi
}

expect_ok() {
    local name=$1
    shift
    if "$@" >"$tmp/stdout" 2>"$tmp/stderr"; then ok; echo "ok   $name"; else
        bad "$name: exit $?"; cat "$tmp/stderr" >&2; fi
}

# --- help texts ---
expect_ok "clseg --help" "$clseg" --help
for sub in devices init segment; do
    "$clseg" $sub --help >"$tmp/help" 2>&1 && grep -q "usage: clseg $sub" "$tmp/help" && ok ||
        bad "$sub --help"
done
expect_fail "unknown command" "" "$clseg" frobnicate
expect_fail "unknown option" "" "$clseg" segment --bogus
expect_ok "devices" "$clseg" devices
expect_ok "devices --json" "$clseg" devices --json
if command -v python3 >/dev/null; then
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert isinstance(d,list) and d and "max_work_group_size" in d[0]' "$tmp/stdout" && ok || bad "devices --json parses"
fi

# --- init ---
expect_ok "init tiny" "$clseg" init --spec "$fix/tiny.cfg" --classes 12 --out "$tmp/tiny.clsm" --seed 7
cmp -s "$tmp/tiny.clsm" "$tmp/tiny.clsm" && ok
"$clseg" init --spec "$fix/tiny.cfg" --classes 12 --out "$tmp/tiny2.clsm" --seed 7 >/dev/null &&
    cmp -s "$tmp/tiny.clsm" "$tmp/tiny2.clsm" && ok || bad "init is not deterministic"
printf '[net]\nchannels = 3\n[conv]\nfilterz = 3\n' >"$tmp/bad.cfg"
expect_fail "init with bad spec" "$tmp/bad.clsm" "$clseg" init --spec "$tmp/bad.cfg" --classes 3 --out "$tmp/bad.clsm"
expect_fail "init bad --classes" "$tmp/bad.clsm" "$clseg" init --spec "$fix/tiny.cfg" --classes 0 --out "$tmp/bad.clsm"

# --- segment: success ---
sample=$src/models/samples/camvid_0016E5_08085.png
expect_ok "segment sample" "$clseg" segment --model "$tmp/tiny.clsm" -o "$tmp/seg.png" \
    --overlay "$tmp/ov.png" --labels "$tmp/lab.png" "$sample"
for f in seg ov lab; do
    if [ -s "$tmp/$f.png" ] && head -c 8 "$tmp/$f.png" | od -An -tx1 | grep -q '89 50 4e 47'; then ok; else bad "$f.png missing"; fi
done
mkdir "$tmp/outdir"
expect_ok "segment --out-dir" "$clseg" segment --model "$tmp/tiny.clsm" --out-dir "$tmp/outdir" \
    --with-labels "$sample" "$sample"
[ -s "$tmp/outdir/camvid_0016E5_08085_seg.png" ] && [ -s "$tmp/outdir/camvid_0016E5_08085_labels.png" ] && ok || bad "out-dir files"
python3 "$fix/make_png.py" "$tmp/odd.png" 33 17 && expect_ok "segment 33x17" "$clseg" segment --model "$tmp/tiny.clsm" -o "$tmp/odd_seg.png" "$tmp/odd.png"
python3 "$fix/make_png.py" "$tmp/one.png" 1 1 && expect_ok "segment 1x1" "$clseg" segment --model "$tmp/tiny.clsm" -o "$tmp/one_seg.png" "$tmp/one.png"

# --- segment: malformed inputs ---
o=$tmp/failed_output
expect_fail "missing PNG" "$o" "$clseg" segment --model "$tmp/tiny.clsm" -o "$o.png" "$tmp/nonexistent.png"
: >"$tmp/empty.png"
expect_fail "empty PNG" "$o" "$clseg" segment --model "$tmp/tiny.clsm" -o "$o.png" "$tmp/empty.png"
printf '\x89PNG\r\n\x1a\n' >"$tmp/sig.png"
expect_fail "signature-only PNG" "$o" "$clseg" segment --model "$tmp/tiny.clsm" -o "$o.png" "$tmp/sig.png"
{ printf '\x89PNG\r\n\x1a\n'; head -c 4096 /dev/urandom; } >"$tmp/random.png"
expect_fail "random bytes after signature" "$o" "$clseg" segment --model "$tmp/tiny.clsm" -o "$o.png" "$tmp/random.png"
head -c 20000 "$sample" >"$tmp/trunc.png"
expect_fail "truncated PNG" "$o" "$clseg" segment --model "$tmp/tiny.clsm" -o "$o.png" "$tmp/trunc.png"
echo "not an image" >"$tmp/text.png"
expect_fail "text file as PNG" "$o" "$clseg" segment --model "$tmp/tiny.clsm" -o "$o.png" "$tmp/text.png"
python3 "$fix/make_png.py" "$tmp/huge.png" 100000 100000
expect_fail "100000x100000 header" "$o" "$clseg" segment --model "$tmp/tiny.clsm" -o "$o.png" "$tmp/huge.png"
python3 "$fix/make_png.py" "$tmp/zero.png" 0 0
expect_fail "0x0 header" "$o" "$clseg" segment --model "$tmp/tiny.clsm" -o "$o.png" "$tmp/zero.png"
# Too large on every device (its activations alone are 256 GiB), so the refusal does not depend on
# how much memory this machine's driver reports.
"$clseg" init --spec "$fix/wide.cfg" --classes 12 --out "$tmp/wide.clsm" >/dev/null || bad "init wide"
python3 "$fix/make_png.py" "$tmp/big.png" 4096 4096
expect_fail "too large for any device" "$o" "$clseg" segment --model "$tmp/wide.clsm" -o "$o.png" "$tmp/big.png"
expect_fail "unknown device" "$o" "$clseg" segment --model "$tmp/tiny.clsm" --device no-such-device -o "$o.png" "$sample"
expect_fail "missing model" "$o" "$clseg" segment --model "$tmp/none.clsm" -o "$o.png" "$sample"
head -c 1000 "$tmp/tiny.clsm" >"$tmp/trunc.clsm"
expect_fail "truncated model" "$o" "$clseg" segment --model "$tmp/trunc.clsm" -o "$o.png" "$sample"
cp "$sample" "$tmp/png-as-model.clsm"
expect_fail "PNG as model" "$o" "$clseg" segment --model "$tmp/png-as-model.clsm" -o "$o.png" "$sample"
cp "$tmp/tiny.clsm" "$tmp/flip.clsm"
printf '\xff' | dd of="$tmp/flip.clsm" bs=1 seek=300 conv=notrunc 2>/dev/null
expect_fail "bit-flipped model" "$o" "$clseg" segment --model "$tmp/flip.clsm" -o "$o.png" "$sample"
expect_fail "output into missing dir" "" "$clseg" segment --model "$tmp/tiny.clsm" -o "$tmp/no/such/dir/x.png" "$sample"

finish
